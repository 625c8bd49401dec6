import gzip
import struct

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import input_pipeline
from jaxgan.errors import JaxganError

# The first ten labels of the real MNIST test set.
MNIST_T10K_FIRST_LABELS = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_idx_sample_holds_real_digits(config):
  ds = input_pipeline.load_dataset(config.data)
  assert ds.images.shape == (512, 28, 28, 1) and ds.images.dtype == np.uint8
  assert list(ds.labels[:10]) == MNIST_T10K_FIRST_LABELS
  # Real digits: mostly black background, some full-white strokes.
  assert 0.7 < np.mean(ds.images == 0) < 0.9 and ds.images.max() == 255


def test_shared_mnist_test_split(config, shared_mnist):
  config.data.path = str(shared_mnist)
  config.data.split = 'test'   # alias of the IDX prefix t10k
  ds = input_pipeline.load_dataset(config.data)
  assert ds.images.shape == (10_000, 28, 28, 1)
  assert list(ds.labels[:10]) == MNIST_T10K_FIRST_LABELS


def test_bundled_mnist_is_the_official_test_set():
  ds = input_pipeline.load_bundled_mnist()
  assert ds.images.shape == (10_000, 28, 28, 1)
  assert list(ds.labels[:10]) == MNIST_T10K_FIRST_LABELS
  assert np.bincount(ds.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _write_idx(path, array):
  header = bytes([0, 0, 8, array.ndim]) + struct.pack(f'>{array.ndim}I', *array.shape)
  path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def test_idx_errors(config, tmp_path):
  config.data.path = str(tmp_path)
  with pytest.raises(JaxganError, match='t10k-images-idx3-ubyte.gz not found'):
    input_pipeline.load_dataset(config.data)
  _write_idx(tmp_path / 't10k-images-idx3-ubyte.gz', np.zeros((3, 28, 28)))
  _write_idx(tmp_path / 't10k-labels-idx1-ubyte.gz', np.zeros((2,)))
  with pytest.raises(JaxganError, match='3 images but 2 labels'):
    input_pipeline.load_dataset(config.data)
  _write_idx(tmp_path / 't10k-images-idx3-ubyte.gz', np.zeros((2, 32, 24)))
  with pytest.raises(JaxganError, match='images are 24x32.*data.image_size'):
    input_pipeline.load_dataset(config.data)
  config.data.path = str(tmp_path / 'nowhere')
  with pytest.raises(JaxganError, match='not a folder'):
    input_pipeline.load_dataset(config.data)
  config.data.source = 'csv'
  with pytest.raises(JaxganError, match="'tfds', 'idx', 'folder', 'npz', not 'csv'"):
    input_pipeline.load_dataset(config.data)


def test_batches_cover_each_epoch_once_in_a_new_order():
  rng = jax.random.PRNGKey(3)
  n, b = 100, 8   # 12 batches per epoch, 4 examples dropped
  epoch0 = np.concatenate([input_pipeline.batch_indices(rng, s, n, b) for s in range(12)])
  epoch1 = np.concatenate([input_pipeline.batch_indices(rng, s, n, b) for s in range(12, 24)])
  for epoch in (epoch0, epoch1):
    assert len(set(epoch.tolist())) == 96 and epoch.min() >= 0 and epoch.max() < n
  assert not np.array_equal(epoch0, epoch1)
  # A pure function of (rng, step): a resumed run draws the same batch.
  np.testing.assert_array_equal(input_pipeline.batch_indices(rng, 13, n, b), epoch1[8:16])


def test_a_dispatch_draws_its_batches_from_the_epochs_it_spans():
  """Permutations drawn once per dispatch give each step the batch it would draw alone."""
  rng = jax.random.PRNGKey(5)
  n, b = 50, 8   # 6 batches per epoch
  alone = np.stack([input_pipeline.batch_indices(rng, s, n, b) for s in range(40)])
  for num_batches in (1, 5, 6, 7, 13):
    for start in range(0, 40 - num_batches, 3):
      perms, first = input_pipeline.dispatch_orders(rng, start, num_batches, n, b)
      drawn = [input_pipeline.batch_from(perms, first, s, b)
               for s in range(start, start + num_batches)]
      np.testing.assert_array_equal(np.stack(drawn), alone[start:start + num_batches])


def test_batch_larger_than_data_is_rejected():
  with pytest.raises(JaxganError, match='exceeds'):
    input_pipeline.steps_per_epoch(10, 16)


def test_pixel_scaling():
  pixels = input_pipeline.to_pixels(jnp.array([0, 127, 255], jnp.uint8))
  np.testing.assert_allclose(pixels, [-1.0, -0.5 / 127.5, 1.0], rtol=1e-6)
  np.testing.assert_array_equal(input_pipeline.to_uint8(pixels), [0, 127, 255])


def _tfds_config(config, tmp_path, name='mnist'):
  config.data.source = 'tfds'
  config.data.name = name
  config.data.split = 'train'
  config.data.path = ''
  config.data.data_dir = str(tmp_path / 'tfds')
  config.data.cache_dir = str(tmp_path / 'cache')
  return config


def test_tfds_mock_data_is_cached_as_uint8(config, tmp_path, monkeypatch):
  tfds = pytest.importorskip('tensorflow_datasets')
  monkeypatch.setattr(input_pipeline, 'internet_reachable', lambda: True)
  _tfds_config(config, tmp_path)
  with tfds.testing.mock_data(num_examples=40):
    ds = input_pipeline.load_dataset(config.data)
  assert ds.images.shape == (40, 28, 28, 1) and ds.images.dtype == np.uint8
  cache = tmp_path / 'cache' / 'mnist-train.npz'
  assert cache.is_file()
  # A second load reads the cache: no tfds, no TensorFlow.
  monkeypatch.setattr(input_pipeline, '_prepare_with_tfds', None)
  again = input_pipeline.load_dataset(config.data)
  np.testing.assert_array_equal(again.images, ds.images)


def test_tfds_offline_fails_fast_with_the_fix(config, tmp_path, monkeypatch):
  pytest.importorskip('tensorflow_datasets')
  monkeypatch.setattr(input_pipeline, 'internet_reachable', lambda: False)
  _tfds_config(config, tmp_path, 'fashion_mnist')
  config.data.fallback_to_bundled = True   # only MNIST falls back
  with pytest.raises(JaxganError, match='no internet connection.*data.path'):
    input_pipeline.load_dataset(config.data)
  (tmp_path / 'manual').mkdir()
  config.data.path = str(tmp_path / 'manual')
  with pytest.raises(JaxganError, match='lacks train-images-idx3-ubyte.gz'):
    input_pipeline.load_dataset(config.data)
  assert not (tmp_path / 'cache').exists()


def test_mnist_offline_falls_back_to_the_bundled_digits(config, tmp_path, monkeypatch, caplog):
  pytest.importorskip('tensorflow_datasets')
  monkeypatch.setattr(input_pipeline, 'internet_reachable', lambda: False)
  _tfds_config(config, tmp_path)
  ds = input_pipeline.load_dataset(config.data)
  assert ds.images.shape == (10_000, 28, 28, 1)
  warnings = [r for r in caplog.records
              if r.levelname == 'WARNING' and r.name.startswith('jaxgan')]
  assert len(warnings) == 1
  assert 'no internet connection' in warnings[0].getMessage()
  assert 'fallback_to_bundled' in warnings[0].getMessage()
  config.data.fallback_to_bundled = False
  with pytest.raises(JaxganError, match='no internet connection'):
    input_pipeline.load_dataset(config.data)
