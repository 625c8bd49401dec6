"""Sample-quality metrics on classifier features (N, D) and class probabilities (N, C).

Nearest-neighbour and probability metrics run jitted on the device; FID and KID
reduce the features to small matrices that are finished in float64 on the host.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np


def _sqrtm_psd(a):
  w, v = np.linalg.eigh(a)
  return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def gaussian_stats(features):
  """Mean and covariance, in float64 on the host: FID and KID are differences of
  large sums, which float32 cancels into noise (KID of one distribution came out
  at -2.7 in float32)."""
  features = np.asarray(features, np.float64)
  return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1, cov1, mu2, cov2):
  """|mu1 - mu2|^2 + tr(C1 + C2 - 2 (C1 C2)^(1/2)).

  tr((C1 C2)^(1/2)) is the sum of square roots of the eigenvalues of the
  symmetric PSD matrix C1^(1/2) C2 C1^(1/2), which avoids a general sqrtm.
  """
  s1 = _sqrtm_psd(cov1)
  middle = s1 @ cov2 @ s1
  tr_sqrt = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)))
  return float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2 * tr_sqrt)


def fid(features_a, features_b):
  return frechet_distance(*gaussian_stats(features_a), *gaussian_stats(features_b))


def _poly_kernel(x, y):
  return (x @ y.T / x.shape[1] + 1.0) ** 3


def kid(features_a, features_b, seed=0, num_subsets=10, subset_size=1000):
  """Kernel Inception Distance: unbiased MMD^2, cubic polynomial kernel, mean over subsets.

  The kernel (x.y/d + 1)^3 assumes features of order one (as Inception's are);
  a classifier's ReLU features are far larger, which made the kernel ~1e5 and
  the estimate noise. Both sets are therefore divided by one scale taken from
  `features_a` (the reference), making its mean squared entry 1.
  """
  a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
  scale = np.sqrt(np.mean(a * a)) or 1.0
  a, b = a / scale, b / scale
  m = min(subset_size, len(a), len(b))
  rng = np.random.default_rng(seed)
  values = []
  for _ in range(num_subsets):
    x = a[rng.choice(len(a), m, replace=False)]
    y = b[rng.choice(len(b), m, replace=False)]
    kxx, kyy, kxy = _poly_kernel(x, x), _poly_kernel(y, y), _poly_kernel(x, y)
    off = lambda k: (k.sum() - np.trace(k)) / (m * (m - 1))
    values.append(off(kxx) + off(kyy) - 2 * kxy.mean())
  return float(np.mean(values))


@jax.jit
def classifier_score(probs):
  """exp(E_x KL(p(y|x) || p(y))): the Inception Score with the data set's classifier."""
  probs = jnp.clip(probs, 1e-12, 1.0)
  marginal = jnp.mean(probs, axis=0, keepdims=True)
  return jnp.exp(jnp.mean(jnp.sum(probs * (jnp.log(probs) - jnp.log(marginal)), axis=1)))


def _pairwise_sq_dist(x, y):
  return jnp.maximum(jnp.sum(x * x, 1)[:, None] + jnp.sum(y * y, 1)[None, :] - 2 * x @ y.T, 0.0)


def _knn_radii(x, k):
  d = _pairwise_sq_dist(x, x)
  return jnp.sort(d, axis=1)[:, k]   # column 0 is the point itself


@functools.partial(jax.jit, static_argnames='k')
def precision_recall(real, fake, k=3):
  """k-NN manifold precision and recall (Kynkäänniemi et al., 2019).

  Precision: the share of fakes inside some real point's k-NN ball; recall: the
  share of reals inside some fake point's k-NN ball.
  """
  real_r, fake_r = _knn_radii(real, k), _knn_radii(fake, k)
  d = _pairwise_sq_dist(fake, real)   # (fake, real)
  precision = jnp.mean(jnp.any(d <= real_r[None, :], axis=1))
  recall = jnp.mean(jnp.any(d.T <= fake_r[None, :], axis=1))
  return precision, recall


@jax.jit
def class_histogram(probs):
  """Predicted-class counts and their total-variation distance from uniform."""
  num_classes = probs.shape[1]
  counts = jnp.bincount(jnp.argmax(probs, axis=1), length=num_classes)
  freq = counts / probs.shape[0]
  return counts, 0.5 * jnp.sum(jnp.abs(freq - 1.0 / num_classes))


@jax.jit
def label_accuracy(asked_labels, probs):
  """For conditional models: the share of samples classified as the label they were asked for."""
  return jnp.mean(jnp.argmax(probs, axis=1) == asked_labels)
