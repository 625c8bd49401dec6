"""Files of samples from any system (.npz), read and checked with NumPy alone.

`jaxgan.evaluate --samples` reads the file before the data set and the
classifier load, so a bad file is one line at once, not after the set-up.
"""
import pathlib
import zipfile

import numpy as np

from jaxgan.errors import JaxganError

_NPY_MAGIC = b'\x93NUMPY'


def read(path):
  """The images of an .npz ('images', else its first array): uint8 0..255 or float in [-1, 1].

  (N, H, W) gains a channel axis; whether H x W x C fits a data set is the
  caller's to check.
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise JaxganError(f'samples file {path} not found')
  if path.stat().st_size == 0:
    raise JaxganError(f'cannot read samples from {path}: the file is empty')
  if not zipfile.is_zipfile(path):
    with open(path, 'rb') as f:
      npy = f.read(len(_NPY_MAGIC)) == _NPY_MAGIC
    raise JaxganError(f'cannot read samples from {path}: ' + (
        'it is a single .npy array; save samples with np.savez' if npy else
        'not an .npz archive (truncated, or another format)'))
  try:
    with np.load(path, allow_pickle=False) as f:
      if not f.files:
        raise JaxganError(f'{path} holds no array')
      array = f['images'] if 'images' in f.files else f[f.files[0]]
  except JaxganError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    # A damaged archive fails in zipfile, zlib or NumPy's header parser, each its own way.
    raise JaxganError(f'cannot read samples from {path}: {type(e).__name__}: '
                      f'{" ".join(str(e).split())}') from None
  if array.ndim == 3:
    array = array[..., None]
  if array.ndim != 4 or not len(array):
    raise JaxganError(f'{path}: samples have shape {array.shape}; expected (N, H, W[, C]), N > 0')
  if array.dtype == np.uint8:
    return array
  if np.issubdtype(array.dtype, np.floating):
    if not np.all(np.isfinite(array)) or array.min() < -1.0 or array.max() > 1.0:
      raise JaxganError(f'{path}: float samples must lie in [-1, 1] '
                        f'(found {np.nanmin(array):.3g} to {np.nanmax(array):.3g})')
    return array.astype(np.float32)
  raise JaxganError(f'{path}: samples must be uint8 (0..255) or float in [-1, 1], not {array.dtype}')
