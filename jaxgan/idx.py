"""Reading IDX files (the MNIST file format), gzip-compressed or not."""
import gzip
import pathlib
import zlib

import numpy as np

from jaxgan.errors import JaxganError

# The third magic byte names the element type; MNIST-style data is unsigned bytes.
_UBYTE = 0x08


def read_idx(path, expected_ndim=None):
  """Returns the array stored in an IDX file, validating header and size."""
  path = pathlib.Path(path)
  try:
    raw = path.read_bytes()
    if raw[:2] == b'\x1f\x8b':
      raw = gzip.decompress(raw)
  except FileNotFoundError:
    raise JaxganError(f'IDX file not found: {path}') from None
  except (OSError, EOFError, zlib.error) as e:
    raise JaxganError(f'IDX file {path} is not readable or not valid gzip: {e}') from None
  return parse_idx(raw, str(path), expected_ndim)


def parse_idx(raw, name='<bytes>', expected_ndim=None):
  """Parses IDX bytes: magic 0x0000TTNN, NN big-endian uint32 dims, then data."""
  if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
    raise JaxganError(f'{name} is not an IDX file (bad magic number {raw[:4].hex()!r})')
  dtype, ndim = raw[2], raw[3]
  if dtype != _UBYTE:
    raise JaxganError(f'{name}: IDX element type 0x{dtype:02x} is not unsigned byte (0x08)')
  if expected_ndim is not None and ndim != expected_ndim:
    raise JaxganError(f'{name}: IDX file has {ndim} dimensions, expected {expected_ndim}')
  header = 4 + 4 * ndim
  if len(raw) < header:
    raise JaxganError(f'{name}: IDX header is truncated')
  shape = tuple(int(d) for d in np.frombuffer(raw, '>u4', count=ndim, offset=4))
  size = int(np.prod(shape, dtype=np.int64))
  if len(raw) - header != size:
    raise JaxganError(
        f'{name}: IDX header says shape {shape} ({size} bytes) but the file holds '
        f'{len(raw) - header} bytes of data')
  return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)
