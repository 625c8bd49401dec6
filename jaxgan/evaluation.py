"""Sample quality against the data set's own classifier.

FID, KID, classifier score, precision, recall and the class histogram of the
samples, each beside the same metric between two disjoint real sets of the
same size (the floor), so that a number means something.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import classifier
from jaxgan import input_pipeline
from jaxgan import quality
from jaxgan.errors import JaxganError

_KID_SEED = 7


class Evaluator:
  """Scores batches of samples against a fixed real reference set."""

  def __init__(self, config, dataset):
    e = config.eval
    self.apply, self.classifier_info = classifier.load_or_train(dataset, e, config.data.cache_dir)
    n = len(dataset.images)
    self.num_samples = min(e.num_samples, n // 2)
    perm = classifier.fixed_permutation(n)
    reference = input_pipeline.to_pixels(jnp.asarray(dataset.images[perm[:self.num_samples]]))
    other = input_pipeline.to_pixels(
        jnp.asarray(dataset.images[perm[self.num_samples:2 * self.num_samples]]))
    self._ref_feats, _ = classifier.embed(self.apply, reference)
    self._ref_stats = quality.gaussian_stats(self._ref_feats)
    self._kid_subset = e.kid_subset_size
    self.floor = self._metrics(*classifier.embed(self.apply, other))

  def _metrics(self, feats, probs):
    precision, recall = quality.precision_recall(self._ref_feats, feats, k=3)
    counts, tv = quality.class_histogram(probs)
    return {
        'fid': quality.frechet_distance(*quality.gaussian_stats(feats), *self._ref_stats),
        'kid': quality.kid(self._ref_feats, feats, _KID_SEED, subset_size=self._kid_subset),
        'classifier_score': float(quality.classifier_score(probs)),
        'precision': float(precision), 'recall': float(recall),
        'class_histogram': [int(c) for c in counts], 'class_tv_from_uniform': float(tv),
    }

  def score(self, pixels, labels=None):
    """Metrics of `pixels` (N, 28, 28, 1) in [-1, 1], N >= num_samples (the rest unused).

    `labels`, the classes a conditional model was asked for, adds label_accuracy.
    """
    if len(pixels) < self.num_samples:
      raise JaxganError(f'{len(pixels)} samples given; scoring needs at least {self.num_samples} '
                        '(eval.num_samples, capped at half the data set)')
    feats, probs = classifier.embed(self.apply, pixels[:self.num_samples])
    metrics = self._metrics(feats, probs)
    if labels is not None:
      metrics['label_accuracy'] = float(
          quality.label_accuracy(jnp.asarray(labels[:self.num_samples]), probs))
    metrics.update({f'{k}_floor': v for k, v in self.floor.items() if k != 'class_histogram'})
    metrics['num_samples'] = self.num_samples
    return metrics


def cycled_labels(gan, n):
  """n labels asking for every class in turn, so class frequencies are as equal as n allows."""
  return jnp.arange(n, dtype=jnp.int32) % gan.num_classes


def generate(sampler, g_params, g_batch_stats, gan, num, rng, batch_size=500):
  """(`num` samples from G in inference mode, the labels they were asked for or None).

  A conditional model is asked for every class in turn, so the classes are balanced.
  """
  out = []
  labels = None
  if gan.num_classes:
    labels = cycled_labels(gan, -(-num // batch_size) * batch_size)
  for i in range(0, num, batch_size):
    z = jax.random.normal(jax.random.fold_in(rng, i), (batch_size, gan.latent_dim))
    out.append(sampler(g_params, g_batch_stats, z,
                       None if labels is None else labels[i:i + batch_size]))
  return jnp.concatenate(out)[:num], None if labels is None else labels[:num]


def load_samples(path):
  """uint8 0..255 or float in [-1, 1], (N, 28, 28) or (N, 28, 28, 1) -> pixels in [-1, 1]."""
  try:
    with np.load(path) as f:
      if not f.files:
        raise JaxganError(f'{path} holds no array')
      array = f['images'] if 'images' in f.files else f[f.files[0]]
  except (OSError, ValueError) as e:
    raise JaxganError(f'cannot read samples from {path}: {e}') from None
  if array.ndim == 3:
    array = array[..., None]
  if array.shape[1:] != input_pipeline.IMAGE_SHAPE:
    raise JaxganError(f'{path}: samples have shape {array.shape}; expected (N, 28, 28[, 1])')
  if array.dtype == np.uint8:
    return input_pipeline.to_pixels(jnp.asarray(array))
  if np.issubdtype(array.dtype, np.floating):
    if not np.all(np.isfinite(array)) or array.min() < -1.0 or array.max() > 1.0:
      raise JaxganError(f'{path}: float samples must lie in [-1, 1] '
                        f'(found {np.nanmin(array):.3g} to {np.nanmax(array):.3g})')
    return jnp.asarray(array, jnp.float32)
  raise JaxganError(f'{path}: samples must be uint8 (0..255) or float in [-1, 1], not {array.dtype}')


def evaluate_workdir(workdir, which='best'):
  """Scores a trained run: its config, its best/latest/numbered checkpoint."""
  from jaxgan import sampling, train  # pylint: disable=g-import-not-at-top
  run = sampling.load_run(workdir, which)
  evaluator = Evaluator(run.config, input_pipeline.load_dataset(run.config.data))
  pixels, labels = generate(train.make_sampler(run.gan), train.sample_params(run.state),
                            run.state.g_batch_stats, run.gan, evaluator.num_samples,
                            train.rngs(run.config.seed)['eval'])
  return {'workdir': str(workdir), 'checkpoint': which, 'step': int(run.state.step),
          **evaluator.score(pixels, labels)}


def evaluate_samples(path, config):
  evaluator = Evaluator(config, input_pipeline.load_dataset(config.data))
  return {'samples': str(path), **evaluator.score(load_samples(path))}
