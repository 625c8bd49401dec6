"""The data set's own feature network: a LeNet-like classifier, trained once and cached.

Inception features were never trained on digits (and cannot be downloaded on
offline machines), so quality is measured in the 128-d penultimate features
of a small CNN trained, with a fixed seed, on the data set being modelled.
A fixed part of the data (`eval.holdout` images) is held out to report its
accuracy.
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
  num_classes: int = 10

  @nn.compact
  def __call__(self, x):
    """Pixels in [-1, 1] (B, 28, 28, 1) -> (features (B, 128), logits (B, classes))."""
    for features in (32, 64):
      x = nn.max_pool(nn.relu(nn.Conv(features, (5, 5))(x)), (2, 2), (2, 2))
    features = nn.relu(nn.Dense(FEATURE_DIM)(x.reshape(x.shape[0], -1)))
    return features, nn.Dense(self.num_classes)(features)


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


def _train(images, labels, epochs, batch_size):
  model = LeNet()
  rng = jax.random.PRNGKey(_TRAIN_SEED)
  params = model.init(rng, jnp.zeros((1,) + input_pipeline.IMAGE_SHAPE))['params']
  tx = optax.adam(1e-3)
  opt_state = tx.init(params)
  images, labels = jnp.asarray(images), jnp.asarray(labels)

  @jax.jit
  def step(params, opt_state, idx):
    def loss_fn(p):
      _, logits = model.apply({'params': p}, input_pipeline.to_pixels(images[idx]))
      return optax.softmax_cross_entropy_with_integer_labels(logits, labels[idx]).mean()
    grads = jax.grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  per_epoch = len(images) // batch_size
  for epoch in range(epochs):
    perm = jax.random.permutation(jax.random.fold_in(rng, epoch), len(images))
    for i in range(per_epoch):
      params, opt_state = step(params, opt_state, perm[i * batch_size:(i + 1) * batch_size])
  return params


def make_apply(params):
  """Jitted pixels -> (features, class probabilities)."""
  model = LeNet()

  @jax.jit
  def apply(pixels):
    features, logits = model.apply({'params': params}, pixels)
    return features, jax.nn.softmax(logits)
  return apply


def embed(apply, pixels, batch_size=500):
  """Features and probabilities of many images, in fixed-size jitted batches."""
  feats, probs = [], []
  for i in range(0, len(pixels), batch_size):
    f, p = apply(jnp.asarray(pixels[i:i + batch_size]))
    feats.append(f)
    probs.append(p)
  return jnp.concatenate(feats), jnp.concatenate(probs)


def accuracy(apply, images, labels):
  _, probs = embed(apply, input_pipeline.to_pixels(jnp.asarray(images)))
  return float(jnp.mean(jnp.argmax(probs, axis=1) == jnp.asarray(labels)))


def load_or_train(dataset, eval_config, cache_dir):
  """The cached classifier of this exact data set, training it on first use.

  Returns (apply, info) where info holds the held-out accuracy.
  """
  root = pathlib.Path(cache_dir or '~/.cache/jaxgan').expanduser() / 'classifiers'
  folder = root / (f'{_dataset_key(dataset.images, dataset.labels)}-h{eval_config.holdout}'
                   f'-e{eval_config.classifier_epochs}')
  info_path = folder / 'info.json'
  template = LeNet().init(jax.random.PRNGKey(0),
                          jnp.zeros((1,) + input_pipeline.IMAGE_SHAPE))['params']
  if info_path.is_file():
    # Host (numpy) arrays: Orbax refuses process-local jax.Arrays in a multi-process run.
    params = checkpointing.process_local_checkpointer().restore(
        (folder / 'params').absolute(), jax.device_get(template))
    return make_apply(params), json.loads(info_path.read_text())
  train_idx, held_idx = holdout_split(len(dataset.images), eval_config.holdout)
  log.info('training the %s feature classifier on %d images (cached in %s)',
           dataset.description, len(train_idx), folder)
  params = _train(dataset.images[train_idx], dataset.labels[train_idx],
                  eval_config.classifier_epochs, eval_config.classifier_batch_size)
  apply = make_apply(params)
  info = {'data': dataset.description, 'train_images': int(len(train_idx)),
          'heldout_images': int(len(held_idx)), 'epochs': eval_config.classifier_epochs,
          'heldout_accuracy': accuracy(apply, dataset.images[held_idx], dataset.labels[held_idx])}
  try:
    folder.mkdir(parents=True, exist_ok=True)
    checkpointer = checkpointing.process_local_checkpointer()
    checkpointer.save((folder / 'params').absolute(), jax.device_get(params), force=True)
    checkpointer.wait_until_finished()
    info_path.write_text(json.dumps(info, indent=2))
  except OSError as e:
    log.warning('could not cache the classifier in %s: %s', folder, e)
  log.info('classifier held-out accuracy %.4f', info['heldout_accuracy'])
  return apply, info
