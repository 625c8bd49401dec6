"""Differentiable augmentation of D's inputs (Zhao et al. 2020, DiffAugment), inside the jitted step.

The same random transformation family is applied to real and fake images
before D sees them, in D's update and in G's: every op is a differentiable
function of the pixels, so G's gradient flows through it. D then cannot
memorise the few thousand real images it is shown hundreds of times, and G is
not asked to reproduce the augmentations (they hit the fakes too).

Policy ops (`gan.augment`, comma-separated; '' = off):
  translation  shift by up to 1/8 of the side in each direction, background filled in
  cutout       blank one square of half the side at a random place
  color        brightness (+U[-0.5, 0.5)) and contrast (x U[0.5, 1.5) about the mean);
               saturation too when the images have colour channels
Pixels are in [-1, 1] (the background of the digits is -1) and stay there.
Each op applies to each example with probability p: 1 for a fixed policy, or
adapted while training (ADA, Karras et al. 2020) when gan.augment_target > 0.
"""
import jax
import jax.numpy as jnp

from jaxgan.errors import ConfigError

BACKGROUND = -1.0
TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def translation(key, x, ratio=TRANSLATION_RATIO):
  """Each image shifted by integers in [-s, s] rows and columns, s = round(side * ratio)."""
  n, h, w, _ = x.shape
  sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
  ky, kx = jax.random.split(key)
  dy = jax.random.randint(ky, (n,), -sh, sh + 1)
  dx = jax.random.randint(kx, (n,), -sw, sw + 1)
  return shift(x, dy, dx)


def shift(x, dy, dx):
  """out[i, r, c] = x[i, r - dy[i], c - dx[i]], background where that falls outside."""
  _, h, w, _ = x.shape
  rows = jnp.arange(h)[None, :] - dy[:, None]           # (n, h) source row of each output row
  cols = jnp.arange(w)[None, :] - dx[:, None]
  inside = (((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :])
  gathered = jax.vmap(lambda img, r, c: img[jnp.clip(r, 0, h - 1)][:, jnp.clip(c, 0, w - 1)])(
      x, rows, cols)
  return jnp.where(inside[..., None], gathered, jnp.asarray(BACKGROUND, x.dtype))


def cutout(key, x, ratio=CUTOUT_RATIO):
  """One square of side round(side * ratio) per image blanked to the background."""
  n, h, w, _ = x.shape
  size = (int(h * ratio + 0.5), int(w * ratio + 0.5))
  ky, kx = jax.random.split(key)
  # Top-left corners as DiffAugment draws them: the square may hang over the edge.
  top = jax.random.randint(ky, (n,), 0, h + (1 - size[0] % 2)) - size[0] // 2
  left = jax.random.randint(kx, (n,), 0, w + (1 - size[1] % 2)) - size[1] // 2
  return blank(x, top, left, size)


def blank(x, top, left, size):
  """x with rows [top, top + size[0]) x cols [left, left + size[1]) of each image set to background."""
  _, h, w, _ = x.shape
  r = jnp.arange(h)[None, :]
  c = jnp.arange(w)[None, :]
  in_r = (r >= top[:, None]) & (r < top[:, None] + size[0])
  in_c = (c >= left[:, None]) & (c < left[:, None] + size[1])
  mask = in_r[:, :, None] & in_c[:, None, :]
  return jnp.where(mask[..., None], jnp.asarray(BACKGROUND, x.dtype), x)


def brightness(key, x):
  return x + (jax.random.uniform(key, (x.shape[0], 1, 1, 1), x.dtype) - 0.5)


def saturation(key, x):
  if x.shape[-1] == 1:
    return x
  mean = jnp.mean(x, axis=-1, keepdims=True)
  return (x - mean) * (2 * jax.random.uniform(key, (x.shape[0], 1, 1, 1), x.dtype)) + mean


def contrast(key, x):
  mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
  return (x - mean) * (jax.random.uniform(key, (x.shape[0], 1, 1, 1), x.dtype) + 0.5) + mean


def color(key, x):
  kb, ks, kc = jax.random.split(key, 3)
  return contrast(kc, saturation(ks, brightness(kb, x)))


OPS = {'translation': translation, 'cutout': cutout, 'color': color}


def parse_policy(policy):
  """'translation,cutout' -> ('translation', 'cutout'); '' -> (); an unknown op is an error."""
  ops = tuple(p.strip() for p in policy.split(',') if p.strip())
  unknown = [p for p in ops if p not in OPS]
  if unknown:
    raise ConfigError(f'gan.augment: unknown op(s) {unknown}; choose from {sorted(OPS)} '
                      "(comma-separated, '' = off)")
  return ops


def augment(key, x, ops, p=1.0):
  """`ops` applied in order, each to each example with probability p; pixels kept in [-1, 1]."""
  if not ops:
    return x
  for i, name in enumerate(ops):
    op_key, apply_key = jax.random.split(jax.random.fold_in(key, i))
    changed = OPS[name](op_key, x)
    keep = jax.random.uniform(apply_key, (x.shape[0], 1, 1, 1)) >= p
    x = jnp.where(keep, x, changed)
  return jnp.clip(x, -1.0, 1.0)



def adapt_probability(p, overfitting, target, num_images, speed_images):
  """ADA's update: p rises while D is surer of the reals than `target`, else falls.

  `overfitting` is r_t = E[sign(D(x_real))] over the step's real batches;
  p moves by num_images / speed_images in the direction of r_t - target (so it
  can cross [0, 1] in `speed_images` images) and stays in [0, 1].
  """
  return jnp.clip(p + jnp.sign(overfitting - target) * (num_images / speed_images), 0.0, 1.0)
