"""Time one of G's transposed convolutions alone, computed each way, forward and backward.

  python benchmarks/conv_transpose_layer.py [--batch 256] [--repeats 5]

G's 128->64 stride-2 layer (7x7 -> 14x14, 5x5 kernel) as jaxgan's
`train.conv_transpose` computes it: XLA's dilated-input convolution, four
sub-pixel convolutions, or one convolution and a pixel shuffle. Prints one JSON
line per way: median seconds of the forward pass and of the gradients with
respect to both the input and the kernel (what training computes).
"""
import argparse
import json
import statistics
import time

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan import layers
from jaxgan import train


def layer(way):
  if way == 'dilated':
    return nn.ConvTranspose(64, (5, 5), strides=(2, 2), padding='SAME', use_bias=False)
  return layers.SubpixelConvTranspose(64, (5, 5), (2, 2), nn.initializers.lecun_normal(),
                                      jnp.float32, way=way)


def median_seconds(fn, *args, repeats):
  jax.block_until_ready(fn(*args))   # compile
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--batch', type=int, default=256)
  parser.add_argument('--repeats', type=int, default=5)
  args = parser.parse_args()
  x = jax.random.normal(jax.random.PRNGKey(0), (args.batch, 7, 7, 128))
  for way in layers.CONV_TRANSPOSE:
    module = layer(way)
    params = module.init(jax.random.PRNGKey(1), x)
    forward = jax.jit(module.apply)
    backward = jax.jit(jax.grad(lambda p, x: jnp.sum(module.apply(p, x) ** 2), argnums=(0, 1)))
    print(json.dumps({
        'device': jax.devices()[0].platform, 'way': way, 'batch': args.batch,
        'forward_s': median_seconds(forward, params, x, repeats=args.repeats),
        'gradients_s': median_seconds(backward, params, x, repeats=args.repeats)}), flush=True)


if __name__ == '__main__':
  main()
