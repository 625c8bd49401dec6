import gzip
import struct

import numpy as np
import pytest

from jaxgan import idx
from jaxgan.errors import JaxganError


def _idx_bytes(array, magic_type=0x08):
  header = bytes([0, 0, magic_type, array.ndim]) + struct.pack(f'>{array.ndim}I', *array.shape)
  return header + array.astype(np.uint8).tobytes()


def test_round_trip_gzip_and_raw(tmp_path):
  array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
  (tmp_path / 'a.gz').write_bytes(gzip.compress(_idx_bytes(array)))
  (tmp_path / 'a').write_bytes(_idx_bytes(array))
  np.testing.assert_array_equal(idx.read_idx(tmp_path / 'a.gz'), array)
  np.testing.assert_array_equal(idx.read_idx(tmp_path / 'a', expected_ndim=3), array)


@pytest.mark.parametrize('raw, message', [
    (b'\x08\x03\x00\x00' + bytes(20), 'bad magic'),
    (bytes([0, 0, 0x0D, 1]) + struct.pack('>I', 1) + bytes(4), 'not unsigned byte'),
    (bytes([0, 0, 8, 3]) + struct.pack('>I', 2), 'header is truncated'),
    (bytes([0, 0, 8, 1]) + struct.pack('>I', 10) + bytes(7), 'holds 7 bytes'),
    (bytes([0, 0, 8, 1]) + struct.pack('>I', 2) + bytes(2), 'expected 3'),
])
def test_malformed_files_are_explained(tmp_path, raw, message):
  (tmp_path / 'bad').write_bytes(raw)
  with pytest.raises(JaxganError, match=message):
    idx.read_idx(tmp_path / 'bad', expected_ndim=3 if 'expected' in message else None)


def test_corrupt_gzip_and_missing_file(tmp_path):
  good = gzip.compress(_idx_bytes(np.zeros((4, 2, 2))))
  (tmp_path / 'cut.gz').write_bytes(good[:len(good) // 2])
  with pytest.raises(JaxganError, match='not valid gzip'):
    idx.read_idx(tmp_path / 'cut.gz')
  with pytest.raises(JaxganError, match='not found'):
    idx.read_idx(tmp_path / 'absent.gz')
