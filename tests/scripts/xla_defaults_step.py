"""Two training steps of the tutorial DCGAN (batch 16), under whatever defaults this process has.

  python tests/scripts/xla_defaults_step.py OUT.npz

Writes the state after the steps to OUT.npz (with `bits` and `dropout`: random bits and a
Dropout mask drawn by JAX) and prints one JSON line: the XLA_FLAGS JAX started with, each
step's metrics, how many YNNPACK fusions hold a convolution in the compiled step, how
many loops the compiled random-bits program has, and whether a Threefry draw lowered for
the CPU is loop-free (cpu_threefry.unrolled_on_cpu).
"""
import json
import os
import pathlib
import re
import runpy
import sys

import jax
import numpy as np

from jaxgan import cpu_threefry
from jaxgan import gan as gan_lib
from jaxgan import update

ROOT = pathlib.Path(__file__).resolve().parents[2]


def ynn_convolutions(hlo):
  """The YNNPACK fusion computations of compiled HLO text that contain a convolution."""
  blocks = re.split(r'\n(?=\S)', hlo)
  fused = {name for name in re.findall(r'calls=(%[\w.\-]+)', hlo)
           if any(b.startswith(name + ' ') and 'convolution(' in b for b in blocks)}
  return sum(1 for line in hlo.splitlines()
             if '__ynn_fusion' in line and any(f'calls={n}' in line for n in fused))


def main():
  config = runpy.run_path(str(ROOT / 'configs' / 'mnist.py'))['get_config']()
  config.train.batch_size = 16
  gan = gan_lib.make_gan(config)
  keys = gan_lib.rngs(config.seed)
  state = gan_lib.init_state(gan, keys['init'])
  images = jax.random.uniform(jax.random.PRNGKey(1), (gan.n_critic, 16, 28, 28, 1),
                              minval=-1.0, maxval=1.0)
  batch = {'image': images, 'label': np.zeros((gan.n_critic, 16), np.int32)}
  step = update.make_train_step(gan)
  hlo = step.lower(state, batch, keys['step']).compile().as_text()
  metrics = []
  for _ in range(2):
    state, m = step(state, batch, keys['step'])
    metrics.append({k: float(v) for k, v in m.items()})
  leaves = jax.tree_util.tree_leaves(jax.device_get(state))
  bits = jax.jit(lambda k: jax.random.bits(k, (3, 1001)))
  key = jax.random.key(7)
  dropout = jax.random.bernoulli(jax.random.fold_in(key, 1), 0.7, (16, 14, 14, 64))
  np.savez(sys.argv[1], *[np.asarray(l) for l in leaves], bits=np.asarray(bits(key)),
           dropout=np.asarray(dropout))
  print(json.dumps({'xla_flags': os.environ.get('XLA_FLAGS', ''), 'metrics': metrics,
                    'ynn_convolutions': ynn_convolutions(hlo),
                    'threefry_unrolled': cpu_threefry.unrolled_on_cpu(),
                    'threefry_loops': bits.lower(key).compile().as_text().count(' while(')}))


if __name__ == '__main__':
  main()
