"""Sample grids (PNG), their animation (GIF) and loss curves (PNG).

Each file is written under a temporary name and renamed, so a crash or a full
disk leaves the previous file or none, never a torn one.
"""
import logging
import math
import pathlib

import numpy as np
from PIL import Image

from jaxgan import files

log = logging.getLogger(__name__)


def image_grid(images_uint8, ncols=None, pad=2):
  """(N, H, W[, 1]) or (N, H, W, 3) uint8 -> one grey (R, C) or colour (R, C, 3) uint8 image,
  R = rows*(H+pad)+pad, C = cols*(W+pad)+pad."""
  images = np.asarray(images_uint8)
  if images.ndim == 4 and images.shape[-1] == 1:
    images = images[..., 0]
  n, h, w = images.shape[:3]
  ncols = ncols or math.ceil(math.sqrt(n))
  nrows = math.ceil(n / ncols)
  grid = np.zeros((nrows * (h + pad) + pad, ncols * (w + pad) + pad) + images.shape[3:], np.uint8)
  for i, img in enumerate(images):
    r, c = divmod(i, ncols)
    grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = img
  return grid


def upscale(image_uint8, scale=4):
  img = Image.fromarray(np.asarray(image_uint8))
  return img.resize((img.width * scale, img.height * scale), Image.NEAREST)


def save_png(path, grid_uint8, scale=4):
  with files.replaced_atomically(path) as tmp:
    upscale(grid_uint8, scale).save(tmp, format='PNG')


def save_frames_gif(frames, out_path, duration_ms=200):
  if frames:
    with files.replaced_atomically(out_path) as tmp:
      frames[0].save(tmp, format='GIF', save_all=True, append_images=frames[1:],
                     duration=duration_ms, loop=0)


def _readable(path):
  try:
    with Image.open(path) as image:
      image.load()
      return image.copy()
  except (OSError, ValueError) as e:
    log.warning('%s left out of the GIF: %s', path, e)
    return None


def save_gif(frame_paths, out_path, duration_ms=200):
  """The frames as an animation; a frame that cannot be read (a torn file) is left out."""
  frames = [f for f in map(_readable, frame_paths) if f is not None]
  save_frames_gif(frames, out_path, duration_ms)


def plot_losses(records, out_path):
  # A Figure without pyplot: no backend is chosen or changed, so a notebook that
  # trains keeps drawing its own plots inline afterwards.
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  records = [r for r in records if 'd_loss' in r]
  fig = Figure(figsize=(10, 3.5))
  ax1, ax2 = fig.subplots(1, 2)
  steps = [r['step'] for r in records]
  for key in ('d_loss', 'g_loss'):
    ax1.plot(steps, [r[key] for r in records], label=key)
  for key in ('d_real', 'd_fake'):
    ax2.plot(steps, [r[key] for r in records], label=key)
  ax1.set(xlabel='step', ylabel='loss', title='losses')
  ax2.set(xlabel='step', ylabel='mean D output', title='D(x) and D(G(z))', ylim=(0, 1))
  for ax in (ax1, ax2):
    ax.legend()
    ax.grid(alpha=0.3)
  fig.tight_layout()
  with files.replaced_atomically(out_path) as tmp:
    fig.savefig(tmp, dpi=100, format='png')


def sample_paths(workdir):
  return sorted((pathlib.Path(workdir) / 'samples').glob('step_*.png'))


def plot_sweep(curves, heat, out_path):
  """FID over steps of each member ({label: [(step, fid)]}); beside it, for a grid
  of two keys, `heat` = (keys, (values of key 0, values of key 1), mean final FID).
  """
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  fig = Figure(figsize=(12 if heat else 7, 4.5))
  axes = fig.subplots(1, 2 if heat else 1)
  ax = axes[0] if heat else axes
  # One colour per grid point, one line style per seed.
  points = sorted({label.rsplit('/', 1)[0] for label in curves})
  seeds = sorted({label.rsplit('/', 1)[-1] for label in curves})
  colours = [f'C{i % 10}' if len(points) <= 10 else f'#{i * 0x9e3779 % 0xffffff:06x}'
             for i in range(len(points))]
  for label, curve in curves.items():
    point, seed = label.rsplit('/', 1) if '/' in label else (label, '')
    if curve:
      ax.plot(*zip(*curve), marker='o', markersize=3, label=label,
              color=colours[points.index(point)],
              linestyle=('-', '--', ':', '-.')[seeds.index(seed) % 4])
  ax.set(xlabel='step', ylabel='FID', title='FID of each member', yscale='log')
  ax.grid(alpha=0.3)
  if any(curves.values()):
    ax.legend(fontsize=6)
  if heat:
    keys, (rows, cols), values = heat
    image = axes[1].imshow(values, cmap='viridis_r')
    axes[1].set(xticks=range(len(cols)), xticklabels=[f'{v:g}' for v in cols], xlabel=keys[1],
                yticks=range(len(rows)), yticklabels=[f'{v:g}' for v in rows], ylabel=keys[0],
                title='final FID, mean over seeds')
    middle = np.nanmean(values) if np.isfinite(values).any() else 0.0
    for (i, j), v in np.ndenumerate(values):
      if not math.isnan(v):
        # Dark text on the light (low FID) end of the colour map.
        axes[1].text(j, i, f'{v:.1f}', ha='center', va='center',
                     color='black' if v < middle else 'white')
    fig.colorbar(image, ax=axes[1])
  fig.tight_layout()
  with files.replaced_atomically(out_path) as tmp:
    fig.savefig(tmp, dpi=100, format='png')
