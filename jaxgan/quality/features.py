"""The data set's own feature network, trained once and cached.

Inception features were never trained on digits (and cannot be downloaded on
offline machines), so quality is measured in the 128-d features of a small
network trained, with a fixed seed, on the data set being modelled: a LeNet
classifier at 28x28x1, a deeper CNN classifier for labelled data of other
shapes, and for unlabelled data (a folder without classes, CelebA) an
autoencoder's code. A fixed part of the data (`eval.holdout` images) is held
out to report the network's accuracy (or reconstruction error).
"""
import hashlib
import json
import pathlib

import logging

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan import checkpointing
from jaxgan import input_pipeline

log = logging.getLogger(__name__)

FEATURE_DIM = 128
_SPLIT_SEED = 1234
_TRAIN_SEED = 0


class LeNet(nn.Module):
  """The 28x28x1 classifier (its parameters and cached copies predate other shapes)."""
  num_classes: int = 10

  @nn.compact
  def __call__(self, x):
    """Pixels in [-1, 1] (B, 28, 28, 1) -> (features (B, 128), logits (B, classes))."""
    for features in (32, 64):
      x = nn.max_pool(nn.relu(nn.Conv(features, (5, 5))(x)), (2, 2), (2, 2))
    features = nn.relu(nn.Dense(FEATURE_DIM)(x.reshape(x.shape[0], -1)))
    return features, nn.Dense(self.num_classes)(features)


def _encode(x, widths):
  """Two 3x3 convolutions and a 2x2 max-pool per width, then a FEATURE_DIM projection."""
  for width in widths:
    for _ in range(2):
      x = nn.relu(nn.Conv(width, (3, 3))(x))
    x = nn.max_pool(x, (2, 2), (2, 2))
  return nn.Dense(FEATURE_DIM)(x.reshape(x.shape[0], -1))


# Two 3x3 convolutions per width, VGG-like: small enough to train on a CPU in minutes.
WIDTHS = (32, 64, 128)


class ConvNet(nn.Module):
  """The classifier of labelled data at any other shape (CIFAR-10-like colour images)."""
  num_classes: int
  widths: tuple = WIDTHS

  @nn.compact
  def __call__(self, x):
    features = nn.relu(_encode(x, self.widths))
    return features, nn.Dense(self.num_classes)(features)


class AutoEncoder(nn.Module):
  """Label-free features: the code of a convolutional autoencoder trained to rebuild the data.

  Chosen over a contrastive encoder because it needs no augmentations, large
  batches or negatives: it trains as quickly and deterministically as the
  classifier, and its code must keep what distinguishes one image from another.
  """
  image_shape: tuple
  widths: tuple = WIDTHS

  @nn.compact
  def __call__(self, x):
    """Pixels (B, H, W, C) -> (features (B, 128), reconstruction (B, H, W, C))."""
    h, w, c = self.image_shape
    depth = len(self.widths)
    # Sides padded (with black) to a multiple of 2**depth, so any size halves evenly.
    ph, pw = -h % 2 ** depth, -w % 2 ** depth
    code = _encode(jnp.pad(x, ((0, 0), (0, ph), (0, pw), (0, 0)), constant_values=-1.0),
                   self.widths)
    sh, sw = (h + ph) >> depth, (w + pw) >> depth
    y = nn.relu(nn.Dense(sh * sw * self.widths[-1])(code))
    y = y.reshape(x.shape[0], sh, sw, self.widths[-1])
    for width in reversed(self.widths[:-1]):
      y = nn.relu(nn.ConvTranspose(width, (3, 3), strides=(2, 2))(y))
    y = nn.ConvTranspose(c, (3, 3), strides=(2, 2))(y)
    return code, jnp.tanh(y[:, :h, :w])


def network_for(image_shape, num_classes):
  """(kind, module) of the feature network for data of this shape and class count."""
  image_shape = tuple(image_shape)
  if num_classes >= 2 and image_shape == input_pipeline.IMAGE_SHAPE:
    return 'lenet', LeNet(num_classes)
  if num_classes >= 2:
    return 'convnet', ConvNet(num_classes)
  return 'autoencoder', AutoEncoder(image_shape)


def fixed_permutation(num_examples):
  """The one order that decides held-out and reference images, for every run."""
  return np.asarray(jax.random.permutation(jax.random.PRNGKey(_SPLIT_SEED), num_examples))


def holdout_split(num_examples, holdout):
  perm = fixed_permutation(num_examples)
  holdout = min(holdout, num_examples // 5)
  return perm[holdout:], perm[:holdout]


def _dataset_key(images, labels):
  h = hashlib.sha256(np.ascontiguousarray(images).tobytes())
  h.update(np.ascontiguousarray(labels).tobytes())
  return h.hexdigest()[:16]


def _loss(kind, model):
  """Training loss of the feature network: cross-entropy, or an autoencoder's squared error."""
  def loss(params, pixels, labels):
    _, out = model.apply({'params': params}, pixels)
    if kind == 'autoencoder':
      return jnp.mean(jnp.square(out - pixels))
    return optax.softmax_cross_entropy_with_integer_labels(out, labels).mean()
  return loss


def _train(kind, model, images, labels, epochs, batch_size):
  rng = jax.random.PRNGKey(_TRAIN_SEED)
  params = model.init(rng, jnp.zeros((1,) + images.shape[1:]))['params']
  tx = optax.adam(1e-3)
  opt_state = tx.init(params)
  images, labels = jnp.asarray(images), jnp.asarray(labels)
  loss = _loss(kind, model)

  @jax.jit
  def step(params, opt_state, idx):
    grads = jax.grad(loss)(params, input_pipeline.to_pixels(images[idx]), labels[idx])
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  batch_size = min(batch_size, len(images))
  per_epoch = len(images) // batch_size
  for epoch in range(epochs):
    perm = jax.random.permutation(jax.random.fold_in(rng, epoch), len(images))
    for i in range(per_epoch):
      params, opt_state = step(params, opt_state, perm[i * batch_size:(i + 1) * batch_size])
  return params


def make_apply(params, model=None):
  """Jitted pixels -> (features, class probabilities, or None without classes)."""
  model = LeNet() if model is None else model
  classes = not isinstance(model, AutoEncoder)

  @jax.jit
  def apply(pixels):
    features, out = model.apply({'params': params}, pixels)
    return features, (jax.nn.softmax(out) if classes else None)
  return apply


def embed(apply, pixels, batch_size=500):
  """Features and probabilities (None without classes) of many images, in jitted batches."""
  feats, probs = [], []
  for i in range(0, len(pixels), batch_size):
    f, p = apply(jnp.asarray(pixels[i:i + batch_size]))
    feats.append(f)
    probs.append(p)
  return jnp.concatenate(feats), (None if probs[0] is None else jnp.concatenate(probs))


def accuracy(apply, images, labels):
  _, probs = embed(apply, input_pipeline.to_pixels(jnp.asarray(images)))
  return float(jnp.mean(jnp.argmax(probs, axis=1) == jnp.asarray(labels)))


def reconstruction_error(model, params, images):
  """Mean squared error, in [-1, 1] pixels, of an autoencoder on `images`."""
  pixels = input_pipeline.to_pixels(jnp.asarray(images))
  rebuilt = jax.jit(lambda x: model.apply({'params': params}, x)[1])
  errors = [jnp.mean(jnp.square(rebuilt(pixels[i:i + 500]) - pixels[i:i + 500]))
            * len(pixels[i:i + 500]) for i in range(0, len(pixels), 500)]
  return float(sum(errors) / len(pixels))


def load_or_train(dataset, eval_config, cache_dir):
  """The cached feature network of this exact data set, training it on first use.

  A classifier for labelled data; an autoencoder (network_for) for unlabelled.
  Returns (apply, info) where info holds the held-out accuracy (classifiers) or
  reconstruction error (autoencoders).
  """
  kind, model = network_for(dataset.image_shape, dataset.num_classes)
  root = pathlib.Path(cache_dir or '~/.cache/jaxgan').expanduser() / 'classifiers'
  # LeNet's caches of 10 classes keep the names they had before other networks existed.
  h, w, c = dataset.image_shape
  tag = ('' if kind == 'lenet' and dataset.num_classes == 10 else
         f'-{kind}{"-".join(map(str, getattr(model, "widths", ())))}-{h}x{w}x{c}'
         f'-c{dataset.num_classes}')
  folder = root / (f'{_dataset_key(dataset.images, dataset.labels)}-h{eval_config.holdout}'
                   f'-e{eval_config.classifier_epochs}{tag}')
  info_path = folder / 'info.json'
  template = model.init(jax.random.PRNGKey(0), jnp.zeros((1,) + dataset.image_shape))['params']
  if info_path.is_file():
    # Host (numpy) arrays: Orbax refuses process-local jax.Arrays in a multi-process run.
    params = checkpointing.process_local_checkpointer().restore(
        (folder / 'params').absolute(), jax.device_get(template))
    return make_apply(params, model), json.loads(info_path.read_text())
  train_idx, held_idx = holdout_split(len(dataset.images), eval_config.holdout)
  log.info('training the %s feature %s on %d images (cached in %s)', dataset.description,
           'autoencoder' if kind == 'autoencoder' else 'classifier', len(train_idx), folder)
  params = _train(kind, model, dataset.images[train_idx], dataset.labels[train_idx],
                  eval_config.classifier_epochs, eval_config.classifier_batch_size)
  apply = make_apply(params, model)
  info = {'data': dataset.description, 'network': kind, 'train_images': int(len(train_idx)),
          'heldout_images': int(len(held_idx)), 'epochs': eval_config.classifier_epochs}
  if kind == 'autoencoder':
    info['heldout_mse'] = reconstruction_error(model, params, dataset.images[held_idx])
  else:
    info['heldout_accuracy'] = accuracy(apply, dataset.images[held_idx], dataset.labels[held_idx])
  try:
    folder.mkdir(parents=True, exist_ok=True)
    checkpointer = checkpointing.process_local_checkpointer()
    checkpointer.save((folder / 'params').absolute(), jax.device_get(params), force=True)
    checkpointer.wait_until_finished()
    info_path.write_text(json.dumps(info, indent=2))
  except OSError as e:
    log.warning('could not cache the feature network in %s: %s', folder, e)
  log.info('feature network: %s', describe(info))
  return apply, info


def describe(info):
  """One phrase of a feature network's held-out quality, for logs and reports."""
  if 'heldout_mse' in info:
    return f'autoencoder, held-out reconstruction MSE {info["heldout_mse"]:.4f}'
  return f'classifier held-out accuracy {info["heldout_accuracy"]:.4f}'
