"""The evaluator: scores samples against the data set's own classifier.

FID, KID, classifier score, precision, recall and the class histogram of the
samples, each beside the same metric between two disjoint real sets of the
same size (the floor), so that a number means something.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import input_pipeline
from jaxgan import sample_files
from jaxgan.errors import JaxganError
from jaxgan.quality import features
from jaxgan.quality import metrics

_KID_SEED = 7


class Evaluator:
  """Scores batches of samples against a fixed real reference set."""

  def __init__(self, config, dataset, reference_seed=None):
    """`reference_seed` draws another real reference set and floor set (default: the fixed ones)."""
    e = config.eval
    self.apply, self.classifier_info = features.load_or_train(dataset, e, config.data.cache_dir)
    n = len(dataset.images)
    self.image_shape = dataset.image_shape
    self.num_samples = min(e.num_samples, n // 2)
    perm = (features.fixed_permutation(n) if reference_seed is None else
            np.asarray(jax.random.permutation(jax.random.PRNGKey(reference_seed), n)))
    reference = input_pipeline.to_pixels(jnp.asarray(dataset.images[perm[:self.num_samples]]))
    other = input_pipeline.to_pixels(
        jnp.asarray(dataset.images[perm[self.num_samples:2 * self.num_samples]]))
    self._ref_feats, _ = features.embed(self.apply, reference)
    self._ref_stats = metrics.gaussian_stats(self._ref_feats)
    self._kid_subset = e.kid_subset_size
    self.floor = self._metrics(*features.embed(self.apply, other))

  def _metrics(self, feats, probs):
    """FID, KID, precision, recall; with a classifier (probs), its score and class histogram."""
    precision, recall = metrics.precision_recall(self._ref_feats, feats, k=3)
    result = {
        'fid': metrics.frechet_distance(*metrics.gaussian_stats(feats), *self._ref_stats),
        'kid': metrics.kid(self._ref_feats, feats, _KID_SEED, subset_size=self._kid_subset),
        'precision': float(precision), 'recall': float(recall),
    }
    if probs is not None:
      counts, tv = metrics.class_histogram(probs)
      result.update({'classifier_score': float(metrics.classifier_score(probs)),
                     'class_histogram': [int(c) for c in counts],
                     'class_tv_from_uniform': float(tv)})
    return result

  def score(self, pixels, labels=None):
    """Metrics of `pixels` (N, H, W, C) in [-1, 1], N >= num_samples (the rest unused).

    `labels`, the classes a conditional model was asked for, adds label_accuracy.
    """
    if len(pixels) < self.num_samples:
      raise JaxganError(f'{len(pixels)} samples given; scoring needs at least {self.num_samples} '
                        '(eval.num_samples, capped at half the data set)')
    if tuple(pixels.shape[1:]) != self.image_shape:
      raise JaxganError(f'samples of shape {tuple(pixels.shape[1:])} scored against real images '
                        f'of shape {self.image_shape}')
    feats, probs = features.embed(self.apply, pixels[:self.num_samples])
    result = self._metrics(feats, probs)
    if labels is not None and probs is not None:
      result['label_accuracy'] = float(
          metrics.label_accuracy(jnp.asarray(labels[:self.num_samples]), probs))
    result.update({f'{k}_floor': v for k, v in self.floor.items() if k != 'class_histogram'})
    result['num_samples'] = self.num_samples
    return result


def load_samples(path, image_shape=input_pipeline.IMAGE_SHAPE):
  """uint8 0..255 or float in [-1, 1], (N, H, W[, C]) -> pixels in [-1, 1]."""
  return to_pixels(sample_files.read(path), path, image_shape)


def to_pixels(array, path, image_shape=input_pipeline.IMAGE_SHAPE):
  """sample_files.read's array, checked against the data set's image shape, as pixels."""
  image_shape = tuple(image_shape)
  if array.shape[1:] != image_shape:
    h, w, c = image_shape
    raise JaxganError(f'{path}: samples have shape {array.shape}; expected (N, {h}, {w}'
                      f'{"[, 1]" if c == 1 else ", 3"})')
  if array.dtype == np.uint8:
    return input_pipeline.to_pixels(jnp.asarray(array))
  return jnp.asarray(array, jnp.float32)
