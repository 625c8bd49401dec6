"""A folder of synthetic colour pictures, for trying the folder source offline.

  python benchmarks/synthetic_shapes.py OUT [--per_class 1000] [--size 40x48] [--seed 0]

Writes OUT/disc/*.png, OUT/square/*.png and OUT/ring/*.png: one filled disc,
square or ring per picture, of a random bright colour, size and position, on a
dark noisy background. A GAN that learned them draws sharp single shapes of
clean colours; a person can judge its grid at a glance.
"""
import argparse
import pathlib

import numpy as np
from PIL import Image

SHAPES = ('disc', 'square', 'ring')


def _mask(shape, xx, yy, cx, cy, r):
  d2 = (xx - cx) ** 2 + (yy - cy) ** 2
  if shape == 'disc':
    return d2 <= r * r
  if shape == 'square':
    return (abs(xx - cx) <= r) & (abs(yy - cy) <= r)
  if shape == 'ring':
    return (d2 <= r * r) & (d2 >= (0.55 * r) ** 2)
  raise ValueError(f'unknown shape {shape!r}; one of {SHAPES}')


def pictures(rng, n, shape, colour=None, size=(40, 48)):
  """`n` Pillow RGB pictures (w x h = size) of `shape`, in `colour` or random bright ones."""
  w, h = size
  yy, xx = np.mgrid[:h, :w]
  out = []
  for _ in range(n):
    image = rng.integers(0, 40, (h, w, 3))
    r = rng.integers(min(w, h) // 7, min(w, h) // 4 + 1)
    cx, cy = rng.integers(r, w - r), rng.integers(r, h - r)
    paint = colour if colour is not None else rng.permutation([rng.integers(180, 256),
                                                               rng.integers(0, 256), 20])
    image[_mask(shape, xx, yy, cx, cy, r)] = paint
    out.append(Image.fromarray(image.astype(np.uint8)))
  return out


def write_folder(root, classes, per_class, size=(40, 48), seed=0, labelled=True):
  """PNGs of {class name: (shape, colour or None)} in root/NAME/ (or root/ unlabelled)."""
  root = pathlib.Path(root)
  rng = np.random.default_rng(seed)
  for name, (shape, colour) in classes.items():
    folder = root / name if labelled else root
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(pictures(rng, per_class, shape, colour, size)):
      image.save(folder / f'{name}_{i:05d}.png')
  return root


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('out')
  parser.add_argument('--per_class', type=int, default=1000)
  parser.add_argument('--size', default='40x48', help='W x H of each picture')
  parser.add_argument('--seed', type=int, default=0)
  args = parser.parse_args()
  size = tuple(int(v) for v in args.size.lower().split('x'))
  write_folder(args.out, {s: (s, None) for s in SHAPES}, args.per_class, size, args.seed)
  print(f'{args.per_class * len(SHAPES)} pictures in {args.out}')


if __name__ == '__main__':
  main()
