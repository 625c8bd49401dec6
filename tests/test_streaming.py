"""Batches streamed from the host: the same batches, so the same training, as resident data."""
import threading
import types

import jax
import numpy as np
import pytest

from jaxgan import input_pipeline
from jaxgan import streaming
from jaxgan import train
from jaxgan.errors import ConfigError


def _leaves(state):
  return [np.asarray(x) for x in jax.tree_util.tree_leaves(state)]


def test_dispatch_indices_are_the_batches_drawn_one_by_one():
  rng = jax.random.PRNGKey(5)
  n, b = 100, 8   # 12 batches an epoch: batches 10..29 span three epochs
  got = np.asarray(input_pipeline.dispatch_indices(rng, 10, 20, n, b))
  want = np.stack([input_pipeline.batch_indices(rng, s, n, b) for s in range(10, 30)])
  np.testing.assert_array_equal(got, want)


def test_a_streamed_run_equals_a_resident_one_and_resumes(config, tmp_path):
  config.gan.n_critic = 2     # two batches a step: the stream's order of D updates
  config.train.log_every = 4
  config.train.steps_per_jit = 3   # dispatches of 3 and 1 steps (log boundaries)
  config.data.feed = 'resident'
  resident = train.train_and_evaluate(config, tmp_path / 'resident')
  config.data.feed = 'stream'
  streamed = train.train_and_evaluate(config, tmp_path / 'stream')
  assert int(streamed.step) == int(resident.step) == 8
  for a, b in zip(_leaves(resident), _leaves(streamed)):
    np.testing.assert_array_equal(a, b)
  config.train.num_steps = 4
  train.train_and_evaluate(config, tmp_path / 'resumed')
  config.train.num_steps = 8
  resumed = train.train_and_evaluate(config, tmp_path / 'resumed')
  for a, b in zip(_leaves(streamed), _leaves(resumed)):
    np.testing.assert_array_equal(a, b)


def _device(platform, limit):
  return types.SimpleNamespace(platform=platform, device_kind='test device',
                               memory_stats=lambda: {'bytes_limit': limit})


def test_auto_streams_what_takes_over_a_quarter_of_the_device(config):
  ds = input_pipeline.load_dataset(config.data)   # 512 x 784 bytes
  nbytes = ds.images.nbytes
  assert input_pipeline.feed_of(config.data, ds, _device('gpu', 4 * nbytes)) == 'resident'
  assert input_pipeline.feed_of(config.data, ds, _device('gpu', 4 * nbytes - 1)) == 'stream'
  # A CPU's memory is the host's: the data stay where they are.
  assert input_pipeline.feed_of(config.data, ds, _device('cpu', 1)) == 'resident'
  config.data.feed = 'stream'
  assert input_pipeline.feed_of(config.data, ds, _device('gpu', 10 * nbytes)) == 'stream'
  config.data.feed = 'disk'
  with pytest.raises(ConfigError, match="data.feed must be one of 'auto', 'resident', 'stream'"):
    input_pipeline.feed_of(config.data, ds)


def test_a_population_is_not_streamed(config, tmp_path, monkeypatch, caplog):
  config.data.feed = 'stream'
  config.train.num_seeds = 2
  with pytest.raises(ConfigError, match='2 GANs .* train them one at a time'):
    train.train_and_evaluate(config, tmp_path / 'run')
  # 'auto' finding the data too large keeps it on the device for a population, and says so.
  config.data.feed = 'auto'
  config.train.num_steps = 2
  monkeypatch.setattr(input_pipeline, 'feed_of', lambda *_: 'stream')
  state = train.train_and_evaluate(config, tmp_path / 'run')
  assert state.step.shape == (2,)
  assert any('2 GANs share the data set' in r.getMessage() for r in caplog.records)


def test_the_next_dispatch_is_prepared_on_the_stream_s_thread(config, monkeypatch):
  ds = input_pipeline.load_dataset(config.data)
  sharding = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  stream = streaming.Stream(ds, jax.random.PRNGKey(0), 32, 1, sharding)
  threads = []
  gather = stream._gather
  def recording(step, num_steps):
    threads.append((step, num_steps, threading.current_thread().name))
    return gather(step, num_steps)
  monkeypatch.setattr(stream, '_gather', recording)
  first = stream.batches(0, 2, next_steps=3)
  second = stream.batches(2, 3)
  stream.close()
  assert [t[:2] for t in threads] == [(0, 2), (2, 3)]
  assert not threads[0][2].startswith('jaxgan-stream') and threads[1][2].startswith('jaxgan-stream')
  idx = np.asarray(input_pipeline.dispatch_indices(jax.random.PRNGKey(0), 2, 3, 512, 32))
  np.testing.assert_array_equal(np.asarray(second['image']), ds.images[idx.reshape(-1)])
  assert first['image'].shape == (64, 28, 28, 1)
