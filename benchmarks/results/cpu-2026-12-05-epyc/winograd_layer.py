# Winograd F(2x2, 5x5) for a 5x5 stride-1 SAME convolution, against XLA's own, forward and
# both gradients (through autodiff); run with jaxgan's XLA flag (see README.md here).
import time, sys, numpy as np, jax, jax.numpy as jnp
from fractions import Fraction as F
def matrices(points, m, r):
  a = len(points) + 1
  AT = np.zeros((m, a)); G = np.zeros((a, r))
  for j, p in enumerate(points):
    AT[:, j] = [p ** i for i in range(m)]
    f = np.prod([p - q for q in points if q != p])
    G[j] = [p ** k / f for k in range(r)]
  AT[m - 1, a - 1] = 1; G[a - 1, r - 1] = 1
  BT = np.zeros((a, a))
  for l in range(a):
    M = np.array([[AT[i, j] * G[j, k] for j in range(a)] for i in range(m) for k in range(r)])
    rhs = np.array([1.0 if l == i + k else 0.0 for i in range(m) for k in range(r)])
    sol, res, *_ = np.linalg.lstsq(M, rhs, rcond=None)
    assert np.allclose(M @ sol, rhs), (l, res)
    BT[:, l] = sol
  return AT, G, BT
PTS = [0, 1, -1, 0.5, -0.5]
AT, G, BT = matrices(PTS, 2, 5)
def wino(x, k):
  n, h, w, c = x.shape; co = k.shape[-1]
  t = -(-h // 2)
  xp = jnp.pad(x, ((0, 0), (2, 2 * t + 4 - h - 2), (2, 2 * t + 4 - w - 2), (0, 0)))
  rows = [sum(BT[a, i] * xp[:, i:i + 2 * t - 1:2] for i in range(6) if BT[a, i]) for a in range(6)]
  V = jnp.stack([sum(BT[b, j] * rows[a][:, :, j:j + 2 * t - 1:2] for j in range(6) if BT[b, j])
                 for a in range(6) for b in range(6)]).reshape(36, n * t * t, c)
  U = jnp.einsum('ak,bl,klio->abio', G, G, k).reshape(36, c, co)
  M = jnp.einsum('spc,sco->spo', V, U).reshape(6, 6, n, t, t, co)
  Y = jnp.stack([jnp.stack([sum(AT[u, a] * AT[v, b] * M[a, b] for a in range(6) for b in range(6)
                                if AT[u, a] * AT[v, b]) for v in range(2)], 3) for u in range(2)], 2)
  # Y: (n, t, 2, t, 2, co)
  Y = jnp.transpose(Y, (0, 1, 2, 3, 4, 5)).reshape(n, 2 * t, 2 * t, co)
  return Y[:, :h, :w]
def conv(x, k):
  return jax.lax.conv_general_dilated(x, k, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
def bench(f, *a, n=5):
  jax.block_until_ready(f(*a)); t = time.perf_counter()
  for _ in range(n): jax.block_until_ready(f(*a))
  return (time.perf_counter() - t) / n
for (n, h, ci, co) in [(256, 7, 256, 128), (64, 7, 256, 128), (256, 14, 64, 128)]:
  x = jax.random.normal(jax.random.key(0), (n, h, h, ci)); k = jax.random.normal(jax.random.key(1), (5, 5, ci, co)) * 0.05
  y0 = conv(x, k); y1 = jax.jit(wino)(x, k)
  print('err', float(jnp.max(jnp.abs(y0 - y1)) / jnp.max(jnp.abs(y0))))
  for name, f in [('xla', conv), ('wino', wino)]:
    fw = jax.jit(f); gr = jax.jit(jax.grad(lambda x, k: jnp.sum(f(x, k) ** 2), argnums=(0, 1)))
    print(n, h, ci, co, name, 'fwd %.1f ms' % (1e3 * bench(fw, x, k)), 'grad %.1f ms' % (1e3 * bench(gr, x, k)), flush=True)
