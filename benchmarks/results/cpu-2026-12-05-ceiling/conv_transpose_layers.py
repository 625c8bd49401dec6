import json, statistics, sys, time
import flax.linen as nn, jax, jax.numpy as jnp
from jaxgan import layers  # importing jaxgan applies its CPU defaults (XLA flag)
def med(fn, *a, repeats=7):
  jax.block_until_ready(fn(*a)); t=[]
  for _ in range(repeats):
    s=time.perf_counter(); jax.block_until_ready(fn(*a)); t.append(time.perf_counter()-s)
  return statistics.median(t)
for batch, side, cin, cout in [(int(x) for x in s.split(',')) for s in sys.argv[1:]]:
  x = jax.random.normal(jax.random.key(0), (batch, side, side, cin))
  for r in range(2):
    for way in ('pixel_shuffle', 'subpixel'):
      m = layers.SubpixelConvTranspose(cout, (5, 5), (2, 2), nn.initializers.lecun_normal(), jnp.float32, way=way)
      p = m.init(jax.random.key(1), x)
      fwd = jax.jit(m.apply)
      grad = jax.jit(jax.grad(lambda p, x: jnp.sum(m.apply(p, x) ** 2), argnums=(0, 1)))
      print(json.dumps(dict(batch=batch, side=side, cin=cin, cout=cout, way=way, round=r,
            fwd_ms=round(1e3*med(fwd, p, x), 2), grad_ms=round(1e3*med(grad, p, x), 2))), flush=True)
