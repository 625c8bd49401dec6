"""Throughput of the trainer's own multi-step update on synthetic uint8 data.

  python benchmarks/throughput.py [--config configs/mnist.py] [--steps 200] [--config.x=...]

Trains the config's model for a fixed number of steps on random uint8 images
resident on the device (so no input pipeline is measured), timing after a
warm-up dispatch with block_until_ready, and prints one JSON line: device,
batch, steps/s, images/s, compile seconds, peak device memory, overrides.
"""
import json
import pathlib
import sys
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
from ml_collections import config_flags

from jaxgan import cli
from jaxgan import train

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file(
    'config', str(pathlib.Path(__file__).parent.parent / 'configs' / 'mnist.py'),
    'Training configuration file.', lock_config=True)
flags.DEFINE_integer('steps', 200, 'Timed steps (after one warm-up dispatch).')


def main(argv):
  del argv
  cli.quiet_logging()
  config = FLAGS.config
  gan = train.make_gan(config)
  keys = train.rngs(config.seed)
  per_dispatch = train.steps_per_jit(config)
  data = {'image': jax.random.randint(keys['data'], (10_000, 28, 28, 1), 0, 256).astype(jnp.uint8),
          'label': jax.random.randint(keys['data'], (10_000,), 0, 10)}
  mesh = train.make_mesh()
  multi_step = train.make_train_steps(gan, config.train.batch_size, mesh)
  state, data = jax.device_put((train.init_state(gan, keys['init']), data), train.replicated(mesh))

  t0 = time.perf_counter()
  state, _ = multi_step(state, data, keys['data'], keys['step'], per_dispatch)
  jax.block_until_ready(state)
  compile_s = time.perf_counter() - t0

  dispatches = max(1, FLAGS.steps // per_dispatch)
  t0 = time.perf_counter()
  for _ in range(dispatches):
    state, _ = multi_step(state, data, keys['data'], keys['step'], per_dispatch)
  jax.block_until_ready(state)
  elapsed = time.perf_counter() - t0

  steps = dispatches * per_dispatch
  device = jax.devices()[0]
  stats = device.memory_stats() or {}
  print(json.dumps({
      'device': f'{device.platform}:{device.device_kind}', 'devices': mesh.size,
      'jax': jax.__version__,
      'batch': config.train.batch_size, 'steps': steps, 'steps_per_jit': per_dispatch,
      'steps_per_sec': steps / elapsed, 'images_per_sec': steps * config.train.batch_size / elapsed,
      'compile_and_first_dispatch_s': compile_s,
      'peak_device_memory_bytes': stats.get('peak_bytes_in_use'),
      'compute_dtype': config.train.compute_dtype,
      'overrides': [a for a in sys.argv if a.startswith('--config.')],
  }))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
