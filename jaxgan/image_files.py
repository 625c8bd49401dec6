"""Image arrays from a user's folder of pictures, and the resizing every source shares.

Decoding is Pillow's. A folder whose sub-folders hold images is labelled by
them (the layout of Keras' `image_dataset_from_directory` and torchvision's
ImageFolder, classes in sorted order); otherwise its own files are one
unlabelled set.
"""
import dataclasses
import logging
import pathlib

import numpy as np
from PIL import Image

from jaxgan.errors import JaxganError

log = logging.getLogger(__name__)

EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.gif', '.webp')
# Modes Pillow decodes to one channel; every other mode is read as RGB.
_GRAY_MODES = ('1', 'L', 'LA', 'I', 'I;16', 'I;16B', 'I;16L', 'I;16N', 'F')
# One channel of more than 8 bits (16-bit PNGs, TIFF): scaled to 0..255, not clipped.
_DEEP_MODES = ('I', 'I;16', 'I;16B', 'I;16L', 'I;16N', 'F')
# ITU-R 601-2 luma, the weights of Pillow's own convert('L').
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclasses.dataclass(frozen=True)
class FolderImages:
  images: np.ndarray    # uint8 (N, H, W, C)
  labels: np.ndarray    # int32 (N,), zeros when unlabelled
  classes: tuple        # sub-folder names, () when unlabelled


def _hidden(path):
  # Dot-files and folders, and macOS archives' __MACOSX copies, are not pictures of the set.
  return path.name.startswith('.') or path.name == '__MACOSX'


def _is_image(path):
  return path.is_file() and path.suffix.lower() in EXTENSIONS and not _hidden(path)


def _image_files(folder):
  return sorted(p for p in folder.rglob('*')
                if _is_image(p) and not any(_hidden(d) for d in p.relative_to(folder).parents
                                            if d.name))


def list_folder(path):
  """([(file, label)], classes) of a folder: sub-folders with images are the classes."""
  folder = pathlib.Path(path).expanduser()
  if not folder.is_dir():
    raise JaxganError(f'data.path {folder} is not a folder')
  subdirs = sorted(d for d in folder.iterdir() if d.is_dir() and not _hidden(d))
  class_files = [_image_files(d) for d in subdirs]
  if any(class_files):
    empty = [d.name for d, files in zip(subdirs, class_files) if not files]
    if empty:
      raise JaxganError(f'class folder {folder / empty[0]} holds no images ({len(empty)} such); '
                        'each sub-folder of data.path is a class: remove the empty ones')
    loose = [p for p in folder.iterdir() if _is_image(p)]
    if loose:
      log.warning('%d image files directly in %s are not used: its sub-folders name the '
                  'classes, so every image must be in one of them', len(loose), folder)
    entries = [(f, label) for label, files in enumerate(class_files) for f in files]
    return entries, tuple(d.name for d in subdirs)
  entries = [(f, 0) for f in sorted(folder.iterdir()) if _is_image(f)]
  if not entries:
    raise JaxganError(f'{folder} holds no images ({", ".join(EXTENSIONS)}), directly or in '
                      'class sub-folders')
  return entries, ()


def fit_image(image, size):
  """A Pillow image scaled so its shorter side is `size`, then cropped to the centre square."""
  w, h = image.size
  scale = size / min(w, h)
  new = (max(size, round(w * scale)), max(size, round(h * scale)))
  if new != (w, h):
    image = image.resize(new, Image.BICUBIC)
  left, top = (new[0] - size) // 2, (new[1] - size) // 2
  return image.crop((left, top, left + size, top + size))


def _decode(path, grayscale, size):
  """(uint8 (H, W, C) array, whether the file is colour)."""
  with Image.open(path) as image:
    image.load()
    colour = image.mode not in _GRAY_MODES
    if image.mode in _DEEP_MODES:
      image = Image.fromarray(_to_8_bits(np.asarray(image)))
    image = image.convert('L' if grayscale or not colour else 'RGB')
  if size:
    image = fit_image(image, size)
  array = np.asarray(image, np.uint8)
  return (array[..., None] if array.ndim == 2 else array), colour


def read_folder(path, image_size=0, grayscale=False, skip_bad_files=False):
  """Every image of the folder as one uint8 array, resized and cropped to `image_size` if > 0.

  A file Pillow cannot read, one whose colour differs from the first image's
  (grey among colour or the reverse; `grayscale` converts all), or, with
  `image_size` 0, one whose size differs, is an error naming the file; with
  `skip_bad_files` it is left out and counted instead.
  """
  entries, classes = list_folder(path)
  images, labels, skipped, first = [], [], [], None
  for file, label in entries:
    try:
      array, colour = _decode(file, grayscale, image_size)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
      problem = f'image file {file} cannot be read ({type(e).__name__}: {e})'
    else:
      if first is None:
        first = (file, array.shape, colour)
      problem = None
      if not grayscale and colour != first[2]:
        problem = (f'image file {file} is {"colour" if colour else "greyscale"} but {first[0]} '
                   f'is {"colour" if first[2] else "greyscale"}; set --config.data.grayscale=True '
                   'to read every image as greyscale')
      elif array.shape != first[1]:
        problem = (f'image file {file} is {array.shape[1]}x{array.shape[0]} but {first[0]} is '
                   f'{first[1][1]}x{first[1][0]}; set --config.data.image_size to resize all')
    if problem is None:
      images.append(array)
      labels.append(label)
    elif skip_bad_files:
      skipped.append(problem)
    else:
      raise JaxganError(f'{problem} (or --config.data.skip_bad_files=True leaves such files out)')
  if skipped:
    log.warning('%d of %d image files in %s left out (data.skip_bad_files); the first: %s',
                len(skipped), len(entries), path, skipped[0])
  if not images:
    raise JaxganError(f'no readable images in {path}')
  return FolderImages(np.stack(images), np.asarray(labels, np.int32), classes)


def _to_8_bits(values):
  """One channel of 16-bit (or wider) values as uint8: 0..65535 scaled to 0..255."""
  values = values.astype(np.float64)
  top = 255.0 if values.max(initial=0) <= 255 else 65535.0 if values.max() <= 65535 else values.max()
  return np.round(np.clip(values, 0, None) * (255.0 / top)).astype(np.uint8)


def to_grayscale(images):
  """uint8 (N, H, W, 3) -> (N, H, W, 1) with Pillow's luma weights."""
  return np.round(images.astype(np.float32) @ _LUMA)[..., None].clip(0, 255).astype(np.uint8)


def resize_all(images, size):
  """uint8 (N, H, W, C) -> (N, size, size, C): shorter side to `size`, centre crop."""
  if images.shape[1:3] == (size, size):
    return images
  channels = images.shape[-1]
  out = np.empty((len(images), size, size, channels), np.uint8)
  for i, array in enumerate(images):
    image = Image.fromarray(array[..., 0] if channels == 1 else array)
    fitted = np.asarray(fit_image(image, size), np.uint8)
    out[i] = fitted[..., None] if fitted.ndim == 2 else fitted
  return out
