"""Trains the test config on 8 (fake CPU) devices and on 1, prints the largest difference.

Run with XLA_FLAGS=--xla_force_host_platform_device_count=8; prints one JSON line.
"""
import json
import pathlib
import runpy
import sys

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import gan as gan_lib
from jaxgan import input_pipeline
from jaxgan import parallel
from jaxgan import update

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _setup(devices):
  config = runpy.run_path(str(ROOT / 'configs' / 'test.py'))['get_config']()
  gan = gan_lib.make_gan(config)
  return (config, gan, gan_lib.rngs(config.seed), input_pipeline.load_dataset(config.data),
          parallel.make_mesh(devices))


def run(devices, steps):
  config, gan, keys, dataset, mesh = _setup(devices)
  state, data = jax.device_put(
      (gan_lib.init_state(gan, keys['init']), {'image': dataset.images, 'label': dataset.labels}),
      parallel.replicated(mesh))
  multi = update.make_train_chunk(gan, config.train.batch_size, mesh)
  hlo = multi.lower(state, data, keys['data'], keys['step'], 2).compile().as_text()
  for _ in range(steps // 2):
    state, _ = multi(state, data, keys['data'], keys['step'], 2)
  # Split batches need their gradients and batch statistics summed across devices.
  return jax.device_get(state), state, 'all-reduce' in hlo


def orders_match(devices, dispatches=3):
  """Whether orders drawn beforehand (input_pipeline.EpochOrders) train exactly as orders drawn
  in the step on this mesh: 96 examples, 3 batches an epoch, 2-step dispatches (one crosses)."""
  config, gan, keys, dataset, mesh = _setup(devices)
  b = config.train.batch_size
  state, data, data_rng = jax.device_put(
      (gan_lib.init_state(gan, keys['init']),
       {'image': dataset.images[:3 * b], 'label': dataset.labels[:3 * b]}, keys['data']),
      parallel.replicated(mesh))
  orders = input_pipeline.EpochOrders(data_rng, 3 * b, b, gan.n_critic, parallel.replicated(mesh))
  multi = update.make_train_chunk(gan, b, mesh)
  given, drawn = state, jax.tree_util.tree_map(jnp.copy, state)
  for i in range(dispatches):
    given, _ = multi(given, data, data_rng, keys['step'], 2, None, orders(2 * i, 2))
    drawn, _ = multi(drawn, data, data_rng, keys['step'], 2)
  return all(np.array_equal(x, y) for x, y in zip(jax.tree_util.tree_leaves(jax.device_get(given)),
                                                  jax.tree_util.tree_leaves(jax.device_get(drawn))))


def main():
  steps = int(sys.argv[1]) if len(sys.argv) > 1 else 4
  many, many_device_state, many_reduce = run(jax.devices(), steps)
  one, _, one_reduce = run(jax.devices()[:1], steps)
  diffs = [float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
           for a, b in zip(jax.tree_util.tree_leaves(many), jax.tree_util.tree_leaves(one))
           if jnp.issubdtype(np.asarray(a).dtype, jnp.floating)]
  leaf = jax.tree_util.tree_leaves(many_device_state.g_params)[0]
  print(json.dumps({'devices': len(jax.devices()), 'steps': steps, 'max_abs_diff': max(diffs),
                    'state_devices': len(leaf.sharding.device_set),
                    'state_replicated': leaf.sharding.is_fully_replicated,
                    'same_step': int(many.step) == int(one.step) == steps,
                    'all_reduce': [many_reduce, one_reduce],
                    'orders_bitwise': orders_match(jax.devices())}))


if __name__ == '__main__':
  main()
