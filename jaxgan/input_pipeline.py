"""Data sets as uint8 arrays resident on the device, and batches drawn inside the jit.

Sources: 'idx' reads a folder of IDX files; 'tfds' prepares a TensorFlow
Datasets split once (TensorFlow is imported only then) and caches it as a
uint8 `.npz`, so later runs, and machines without TensorFlow, start from the
cache; 'folder' decodes a folder of pictures (jaxgan.image_files); 'npz' reads
uint8 images (and labels) saved with NumPy. When tfds cannot get MNIST, the
real MNIST test digits bundled with the package are used (unless
`data.fallback_to_bundled` is off).

The data decide the image shape: `data.image_size` (> 0) scales every image's
shorter side to it and crops the centre square, `data.grayscale` converts
colour to one channel; `with_data_shape` writes the result, and the number of
classes, into the config the models are built from.
"""
import dataclasses
import logging
import os
import pathlib
import re
import socket

import zipfile
import zlib

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import defaults
from jaxgan import idx
from jaxgan import image_files
from jaxgan.errors import ConfigError, JaxganError

log = logging.getLogger(__name__)

IMAGE_SHAPE = defaults.TUTORIAL_SHAPE
SOURCES = ('tfds', 'idx', 'folder', 'npz')
# data.feed='auto' keeps the training images on each device when they take at most
# this share of its memory, and streams them from the host otherwise.
DEVICE_MEMORY_SHARE = 0.25
BUNDLED_MNIST_DIR = defaults.BUNDLED_MNIST_DIR
_SPLIT_ALIASES = {'test': 't10k'}
_HELDOUT_SEED = 4321


@dataclasses.dataclass(frozen=True)
class Dataset:
  images: np.ndarray   # uint8, (N, H, W, C), C 1 or 3
  labels: np.ndarray   # int32, (N,); zeros when unlabelled
  description: str
  num_classes: int = -1   # 0: unlabelled; -1: the labels' maximum + 1

  def __post_init__(self):
    if self.num_classes < 0:
      count = int(self.labels.max()) + 1 if len(self.labels) else 0
      object.__setattr__(self, 'num_classes', count)

  @property
  def image_shape(self):
    return tuple(int(d) for d in self.images.shape[1:])


def load_dataset(data_config):
  """Loads the configured split as uint8 images and int32 labels on the host, at its shape."""
  source = data_config.source
  if source == 'idx':
    ds = load_idx(data_config.path, data_config.split)
  elif source == 'tfds':
    ds = load_tfds(data_config)
  elif source == 'folder':
    ds = load_folder(data_config)
  elif source == 'npz':
    ds = load_npz(data_config.path)
  else:
    raise ConfigError(f'data.source must be one of {", ".join(map(repr, SOURCES))}, '
                      f'not {source!r}')
  return reshape(ds, data_config)


def reshape(ds, data_config):
  """The data set at the configured size and channels; refuses shapes no model can take."""
  size, images = data_config.get('image_size', 0), ds.images
  if size < 0:
    raise ConfigError(f'data.image_size must be 0 (as stored) or a side in pixels, not {size}')
  if images.ndim == 3:
    images = images[..., None]
  if images.ndim != 4 or images.shape[-1] not in (1, 3, 4) or images.dtype != np.uint8:
    raise JaxganError(f'{ds.description}: images must be uint8 (N, H, W[, 1, 3 or 4 (alpha, '
                      f'dropped)]), not {images.dtype} {images.shape}')
  if images.shape[-1] == 4:
    images = images[..., :3]
  if data_config.get('grayscale', False) and images.shape[-1] == 3:
    images = image_files.to_grayscale(images)
  if size:
    images = image_files.resize_all(images, size)
  elif images.shape[1] != images.shape[2]:
    raise JaxganError(f'{ds.description}: images are {images.shape[2]}x{images.shape[1]}; the '
                      'models make square images: set --config.data.image_size to resize and '
                      'crop them')
  if images is ds.images:
    return ds
  return dataclasses.replace(ds, images=images)


def with_data_shape(config, dataset):
  """The config with model.image_shape (and a conditional model's classes) taken from the data."""
  m = config.model
  stated = tuple(m.get('image_shape', ()) or ())
  if stated and stated != dataset.image_shape:
    raise ConfigError(f'model.image_shape {stated} differs from the data\'s {dataset.image_shape} '
                      f'({dataset.description}); leave it empty (the data decide it)')
  if m.conditional and dataset.num_classes < 2:
    raise ConfigError(f'a conditional model needs labelled data; {dataset.description} has '
                      f'{dataset.num_classes} classes (set data.label_key, or use class '
                      'sub-folders)')
  config = config.copy_and_resolve_references()
  with config.unlocked():
    config.model.image_shape = dataset.image_shape
    if m.conditional:
      config.model.num_classes = dataset.num_classes
  return config


FEEDS = ('auto', 'resident', 'stream')


def feed_of(data_config, dataset, device=None):
  """'resident' or 'stream': data.feed, 'auto' resolved by the device's memory.

  'auto' keeps the uint8 images on each device when they take at most
  DEVICE_MEMORY_SHARE of its memory (always on a CPU, whose memory is the
  host's), and streams them from the host otherwise.
  """
  feed = data_config.get('feed', 'auto')
  if feed not in FEEDS:
    raise ConfigError(f'data.feed must be one of {", ".join(map(repr, FEEDS))}, not {feed!r}')
  if feed != 'auto':
    return feed
  device = device or jax.local_devices()[0]
  stats = device.memory_stats() if device.platform != 'cpu' else None
  limit = (stats or {}).get('bytes_limit')
  if limit and dataset.images.nbytes > DEVICE_MEMORY_SHARE * limit:
    log.info('%s: %.1f GiB of images exceed %.0f%% of the %.1f GiB of %s memory: streaming '
             'batches from the host', dataset.description, dataset.images.nbytes / 2**30,
             100 * DEVICE_MEMORY_SHARE, limit / 2**30, device.device_kind)
    return 'stream'
  return 'resident'


def split_heldout(dataset, num):
  """(training set, `num` images the GAN never trains on), split by a fixed permutation."""
  if num <= 0:
    return dataset, None
  if num >= len(dataset.images) // 2:
    raise ConfigError(f'data.heldout {num} must be under half of the {len(dataset.images)} images')
  perm = np.asarray(jax.random.permutation(jax.random.PRNGKey(_HELDOUT_SEED), len(dataset.images)))
  part = lambda idx, what: Dataset(dataset.images[np.sort(idx)], dataset.labels[np.sort(idx)],
                                   f'{dataset.description} ({what})', dataset.num_classes)
  return part(perm[num:], f'{num} held out'), part(perm[:num], 'held out')


def _find_idx_file(folder, stem):
  for name in (stem + '.gz', stem):
    if (folder / name).is_file():
      return folder / name
  raise JaxganError(f'IDX file {folder / (stem + ".gz")} not found (nor without .gz)')


def load_idx(path, split):
  """Reads `{split}-images-idx3-ubyte[.gz]` and its labels file from a folder."""
  if not path:
    raise JaxganError('data.source=idx needs data.path, the folder holding the IDX files')
  folder = pathlib.Path(path).expanduser()
  if not folder.is_dir():
    raise JaxganError(f'data.path {folder} is not a folder')
  prefix = _SPLIT_ALIASES.get(split, split)
  images = idx.read_idx(_find_idx_file(folder, f'{prefix}-images-idx3-ubyte'), expected_ndim=3)
  labels = idx.read_idx(_find_idx_file(folder, f'{prefix}-labels-idx1-ubyte'), expected_ndim=1)
  if len(labels) != len(images):
    raise JaxganError(f'{folder}: {len(images)} images but {len(labels)} labels in split {prefix}')
  return Dataset(images[..., None], labels.astype(np.int32), f'IDX {folder} split {prefix}')


def load_folder(data_config):
  """A folder of PNG/JPEG files, labelled by its sub-folders when it has them."""
  if not data_config.path:
    raise JaxganError('data.source=folder needs data.path, the folder of images')
  found = image_files.read_folder(data_config.path, data_config.get('image_size', 0),
                                  data_config.get('grayscale', False),
                                  data_config.get('skip_bad_files', False))
  what = f'{len(found.classes)} classes' if found.classes else 'unlabelled'
  return Dataset(found.images, found.labels, f'folder {data_config.path} ({what})',
                 len(found.classes))


def load_npz(path):
  """A NumPy .npz with uint8 'images' (N, H, W[, C]) and, optionally, int 'labels' (N,)."""
  if not path:
    raise JaxganError("data.source=npz needs data.path, a .npz file with an 'images' array")
  file = pathlib.Path(path).expanduser()
  try:
    with np.load(file, allow_pickle=False) as f:
      if 'images' not in f:
        raise JaxganError(f"{file} has no 'images' array (it has {', '.join(f.files) or 'none'})")
      images = f['images']
      labels = f['labels'] if 'labels' in f else None
  except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as e:
    raise JaxganError(f'{file} is not a readable .npz file: {e}') from None
  if labels is not None and (labels.shape != images.shape[:1] or labels.dtype.kind not in 'iu'
                             or (len(labels) and labels.min() < 0)):
    raise JaxganError(f"{file}: 'labels' must be {len(images)} integers >= 0, not "
                      f'{labels.dtype} {labels.shape}')
  num_classes = -1 if labels is not None else 0
  labels = np.zeros(len(images), np.int32) if labels is None else labels.astype(np.int32)
  return Dataset(images, labels, f'npz {file}', num_classes)


def load_bundled_mnist():
  """The 10,000 real MNIST test digits shipped inside the package."""
  ds = load_idx(str(BUNDLED_MNIST_DIR), 't10k')
  return dataclasses.replace(ds, description='bundled MNIST test digits (10,000)')


def _keys(data_config):
  """(image feature, label feature or '') of a tfds data set."""
  return data_config.get('image_key', 'image'), data_config.get('label_key', 'label')


def _cache_path(data_config, size=None):
  """The uint8 cache of a tfds split, resized to `size` (default data.image_size; 0 = as stored)."""
  root = pathlib.Path(data_config.cache_dir or '~/.cache/jaxgan').expanduser()
  # The default features keep the name caches had before the keys existed.
  keys = '' if _keys(data_config) == ('image', 'label') else '-'.join(('',) + _keys(data_config))
  size = data_config.get('image_size', 0) if size is None else size
  key = re.sub(r'[^A-Za-z0-9_.-]+', '_', f'{data_config.name}-{data_config.split}{keys}'
               f'{f"-{size}px" if size else ""}')
  return root / f'{key}.npz'


def load_tfds(data_config):
  """A tfds split via its uint8 cache, preparing it (TensorFlow needed) on a miss."""
  cache = _cache_path(data_config)
  if not cache.is_file() and _cache_path(data_config, 0).is_file():
    # The split as stored serves any size: load_dataset resizes it.
    cache = _cache_path(data_config, 0)
  if cache.is_file():
    with np.load(cache) as f:
      # Caches written before 'num_classes' was stored hold MNIST-like labelled sets.
      num_classes = int(f['num_classes']) if 'num_classes' in f else -1
      return Dataset(f['images'], f['labels'],
                     f'tfds {data_config.name}:{data_config.split} ({cache})', num_classes)
  try:
    images, labels, num_classes = _prepare_with_tfds(data_config)
  except JaxganError as e:
    if data_config.name == 'mnist' and data_config.fallback_to_bundled:
      log.warning('%s -- training on the 10,000 real MNIST test digits bundled with jaxgan '
                  'instead. For the full 60,000 training set, run on a machine with internet or '
                  'set --config.data.path to a folder with the four official MNIST gzip files; '
                  '--config.data.fallback_to_bundled=False makes this an error.', e)
      return load_bundled_mnist()
    raise
  _save_cache(cache, images, labels, num_classes)
  return Dataset(images, labels, f'tfds {data_config.name}:{data_config.split}', num_classes)


def _save_cache(cache, images, labels, num_classes):
  try:
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f'.tmp{os.getpid()}.npz')
    np.savez(tmp, images=images, labels=labels, num_classes=num_classes)
    os.replace(tmp, cache)
  except OSError as e:
    log.warning('could not cache the prepared data set at %s: %s', cache, e)


# Official file names, so a partial manual_dir is reported instead of downloaded around.
_OFFICIAL_FILES = {
    name: [f'{p}-{kind}-ubyte.gz' for p in ('train', 't10k')
           for kind in ('images-idx3', 'labels-idx1')]
    for name in ('mnist', 'fashion_mnist')
}
# tfds retries an unreachable host for minutes; one quick connection attempt says
# whether a download can work at all.
_PROBE_HOST = ('storage.googleapis.com', 443)


def internet_reachable(timeout=3.0):
  try:
    socket.create_connection(_PROBE_HOST, timeout=timeout).close()
    return True
  except OSError:
    return False


def _manual_dir(data_config):
  if not data_config.path:
    return None
  manual_dir = pathlib.Path(data_config.path).expanduser()
  if not manual_dir.is_dir():
    raise JaxganError(f'data.path {manual_dir} is not a folder')
  return manual_dir


def _check_can_prepare(builder, data_config, manual_dir):
  """Fails fast, with the fix, where tfds would only time out downloading."""
  if builder.is_prepared() or internet_reachable():
    return
  where = f'no prepared copy in {builder.data_dir}'
  if manual_dir is None:
    raise JaxganError(f'no internet connection to download {data_config.name} and {where}; '
                      'set --config.data.path to a folder with the official gzip files '
                      '(tfds manual_dir) or use --config.data.source=idx')
  missing = [f for f in _OFFICIAL_FILES.get(data_config.name, []) if not (manual_dir / f).is_file()]
  if missing:
    raise JaxganError(f'no internet connection, {where}, and data.path {manual_dir} lacks '
                      f'{", ".join(missing)}; tfds needs all four official files (or use '
                      '--config.data.source=idx for a folder with one split)')


def _prepare_with_tfds(data_config):
  try:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise JaxganError(f'tensorflow-datasets is not importable ({e}); use data.source=idx') from None
  kwargs = {'data_dir': data_config.data_dir} if data_config.data_dir else {}
  try:
    builder = tfds.builder(data_config.name, **kwargs)
  except Exception as e:  # tfds raises several types for unknown names
    raise JaxganError(f'tfds has no data set {data_config.name!r}: {e}') from None
  image_key, label_key = _keys(data_config)
  features = builder.info.features
  if image_key not in features:
    raise JaxganError(f'tfds {data_config.name} has no feature {image_key!r} (data.image_key); '
                      f'its features: {", ".join(features.keys())}')
  if label_key and label_key not in features:
    raise JaxganError(f'tfds {data_config.name} has no feature {label_key!r} (data.label_key; '
                      f"'' trains without labels); its features: {', '.join(features.keys())}")
  if label_key and not isinstance(features[label_key], tfds.features.ClassLabel):
    raise JaxganError(f'tfds {data_config.name} feature {label_key!r} is not a class label '
                      f"({type(features[label_key]).__name__}); set data.label_key to one, or '' "
                      'to train without labels')
  num_classes = features[label_key].num_classes if label_key else 0
  shape = tuple(getattr(features[image_key], 'shape', ()) or ())
  if len(shape) != 3 or shape[-1] not in (1, 3, 4, None):
    raise JaxganError(f'tfds {data_config.name} feature {image_key!r} has shape {shape}, not an '
                      'image (H, W, 1 or 3)')
  if not data_config.get('image_size', 0) and (None in shape[:2] or shape[0] != shape[1]):
    raise JaxganError(f'tfds {data_config.name} images are {shape[1] or "any"}x{shape[0] or "any"}'
                      ' pixels; the models make square images of one size: set '
                      '--config.data.image_size to resize and crop them')
  manual_dir = _manual_dir(data_config)
  _check_can_prepare(builder, data_config, manual_dir)
  download_config = (tfds.download.DownloadConfig(manual_dir=str(manual_dir))
                     if manual_dir else None)
  try:
    builder.download_and_prepare(download_config=download_config)
    # Fixed-size batches: batch_size=-1 reserves memory for an unknown cardinality
    # as sys.maxsize elements and aborts inside TensorFlow.
    size = data_config.get('image_size', 0)
    if size:
      # One example at a time: stored sizes may differ, and large originals (CelebA's
      # 218x178) are resized before the whole split is held in memory.
      batches = [{image_key: image_files.resize_all(e[image_key][None], size),
                  **({label_key: np.asarray(e[label_key])[None]} if label_key else {})}
                 for e in tfds.as_numpy(builder.as_dataset(split=data_config.split))]
    else:
      batches = list(tfds.as_numpy(builder.as_dataset(split=data_config.split, batch_size=4096)))
  except Exception as e:  # network, checksum and split errors all end here
    first_line = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
    raise JaxganError(
        f'tfds could not prepare {data_config.name}:{data_config.split} ({type(e).__name__}: '
        f'{first_line}); without internet, set --config.data.path to a folder with the '
        'official gzip files (tfds manual_dir) or use --config.data.source=idx') from None
  images = np.concatenate([b[image_key] for b in batches])
  if images.dtype != np.uint8:
    raise JaxganError(f'tfds {data_config.name} images are {images.dtype}; jaxgan reads 8-bit '
                      'images (uint8)')
  labels = (np.concatenate([b[label_key] for b in batches]) if label_key
            else np.zeros(len(images)))
  if label_key and len(labels) and labels.min() < 0:
    raise JaxganError(f'tfds {data_config.name}:{data_config.split} has labels below 0 (an '
                      "unlabelled split?); set --config.data.label_key='' to train without them")
  return images, labels.astype(np.int32), num_classes


def steps_per_epoch(num_examples, batch_size):
  if batch_size > num_examples:
    raise ConfigError(f'train.batch_size {batch_size} exceeds the {num_examples} examples')
  return num_examples // batch_size


def epochs_spanned(num_batches, num_examples, batch_size):
  """How many epochs `num_batches` consecutive batches can touch, wherever they start."""
  per_epoch = num_examples // batch_size
  return (num_batches + per_epoch - 2) // per_epoch + 1


def epoch_permutations(rng, first_epoch, count, num_examples):
  """The example orders of epochs first_epoch .. first_epoch + count - 1: (count, N) int32.

  Drawn when a dispatch's epochs change (EpochOrders; once per epoch where a dispatch
  spans one, as a CPU's single steps do) or in every dispatch, never once per batch: a
  permutation is a sort of N random keys, which at N = 60,000 costs more on a GPU than a
  small model's step.
  """
  return jnp.stack([jax.random.permutation(jax.random.fold_in(rng, first_epoch + i), num_examples)
                    for i in range(count)])


def epoch_of(batch, num_examples, batch_size):
  """The epoch batch `batch` belongs to (drop remainder); a Python int or traced."""
  return batch // (num_examples // batch_size)


def dispatch_orders(rng, first_batch, num_batches, num_examples, batch_size):
  """(orders, first epoch) for batches first_batch .. first_batch + num_batches - 1.

  `first_batch` may be traced; `num_batches` is static, so the count of epochs is
  the most such a run of batches can touch.
  """
  first_epoch = epoch_of(first_batch, num_examples, batch_size)
  count = epochs_spanned(num_batches, num_examples, batch_size)
  return epoch_permutations(rng, first_epoch, count, num_examples), first_epoch


class EpochOrders:
  """The orders a dispatch draws its batches from, drawn when its epochs change.

  `orders(step, num_steps)` equals dispatch_orders' orders for the batches of
  steps step .. step + num_steps - 1 (n_critic batches a step): the same
  function of the same keys, drawn in a program of its own and kept while the
  dispatches stay in the same epochs. A dispatch that draws them itself draws
  them every time, which on a CPU (one step a dispatch) is every step.
  `rngs`: the data key, or with `members` one per member (orders get that
  leading axis); `sharding`: where the orders are put, the training state's.
  """

  def __init__(self, rngs, num_examples, batch_size, n_critic, sharding, members=False):
    draw = lambda rng, first_epoch, count: epoch_permutations(rng, first_epoch, count,
                                                              num_examples)
    if members:
      draw = jax.vmap(draw, in_axes=(0, None, None))
    self._draw = jax.jit(draw, static_argnums=2, out_shardings=sharding)
    self._rngs, self._n_critic = rngs, n_critic
    self._num_examples, self._batch_size = num_examples, batch_size
    self._drawn, self._orders = None, None

  def __call__(self, step, num_steps):
    first_epoch = epoch_of(step * self._n_critic, self._num_examples, self._batch_size)
    count = epochs_spanned(num_steps * self._n_critic, self._num_examples, self._batch_size)
    if self._drawn != (first_epoch, count):
      self._orders = self._draw(self._rngs, np.int32(first_epoch), count)
      self._drawn = (first_epoch, count)
    return self._orders


def batch_from(perms, first_epoch, step, batch_size):
  """Indices of batch `step` from `epoch_permutations(rng, first_epoch, ...)` (drop remainder)."""
  per_epoch = perms.shape[1] // batch_size
  perm = perms[step // per_epoch - first_epoch]
  return jax.lax.dynamic_slice_in_dim(perm, (step % per_epoch) * batch_size, batch_size)


def dispatch_indices(rng, first_batch, num_batches, num_examples, batch_size):
  """(num_batches, batch_size) indices of batches first_batch .. first_batch + num_batches - 1.

  The batches a dispatch draws on the device, for a host that gathers them itself.
  """
  perms, first_epoch = dispatch_orders(rng, first_batch, num_batches, num_examples, batch_size)
  return jnp.stack([batch_from(perms, first_epoch, first_batch + i, batch_size)
                    for i in range(num_batches)])


def batch_indices(rng, step, num_examples, batch_size):
  """Indices of batch `step`: a slice of that epoch's permutation (drop remainder)."""
  return batch_from(*dispatch_orders(rng, step, 1, num_examples, batch_size), step, batch_size)


def to_pixels(images_uint8):
  """uint8 0..255 -> float32 in [-1, 1], as the tutorial's (x - 127.5) / 127.5."""
  return (images_uint8.astype(jnp.float32) - 127.5) / 127.5


def to_uint8(pixels):
  """float in [-1, 1] -> uint8 0..255 (host side, for images written to disk)."""
  return np.clip(np.round(np.asarray(pixels, np.float32) * 127.5 + 127.5), 0, 255).astype(np.uint8)
