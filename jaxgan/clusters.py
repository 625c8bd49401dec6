"""Self-conditioning: clusters of the training images as the classes of a conditional GAN.

Liu et al. 2020 ("Diverse image generation via self-conditioned GANs") condition
G and D on clusters of the data: D then judges each fake against the real images
of its cluster, so G can neither draw a blend between clusters nor leave one out,
which an unconditional G does (and a categorical code, which D never sees, does
not stop). The paper clusters D's features and re-clusters as D learns; here the
clusters are drawn once, by k-means on the pixels, which needs no D, keeps every
step's labels fixed for resume, and on small images already splits the data
along the lines G blends across (on the bundled digits, docs/quality.md).

k-means is written out here (a few lines of JAX): the libraries that have it
(scikit-learn) are not dependencies, and these few lines run where the training
runs, with JAX's keys.
"""
import dataclasses
import functools
import hashlib
import logging

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import gan as gan_lib
from jaxgan import input_pipeline
from jaxgan import models
from jaxgan.errors import ConfigError

log = logging.getLogger(__name__)

# k-means fits on at most this many training images (all images are then assigned).
FIT_IMAGES = 20_000
ITERATIONS = 30
_CHUNK = 4096


# Full float32 products: TF32 or bfloat16 passes (GPUs, TPUs) would move points across
# cluster borders, and a run must find the same clusters wherever it resumes.
_dot = functools.partial(jnp.matmul, precision=jax.lax.Precision.HIGHEST)


def _sq_distances(x, centroids):
  """(N, K) squared Euclidean distances, as |x|^2 - 2 x.c + |c|^2 (clipped at 0)."""
  return jnp.maximum(jnp.sum(x * x, 1)[:, None] - 2.0 * _dot(x, centroids.T)
                     + jnp.sum(centroids * centroids, 1)[None], 0.0)


@functools.partial(jax.jit, static_argnums=(1, 3))
def kmeans(x, k, key, iterations=ITERATIONS):
  """Centroids (k, D) of Lloyd's k-means on the rows of x (N, D), seeded by k-means++.

  k-means++ (Arthur and Vassilvitskii 2007) picks each next seed with probability
  proportional to its squared distance from the seeds so far. A cluster that
  loses all its points keeps its centroid.
  """
  keys = jax.random.split(key, k)
  first = x[jax.random.randint(keys[0], (), 0, x.shape[0])]
  centroids = jnp.zeros((k, x.shape[1]), x.dtype).at[0].set(first)
  nearest = _sq_distances(x, first[None])[:, 0]

  def seed(i, carry):
    centroids, nearest = carry
    # Points already chosen are at distance 0: log 0 = -inf, never drawn again.
    c = x[jax.random.categorical(keys[i], jnp.log(nearest))]
    return centroids.at[i].set(c), jnp.minimum(nearest, _sq_distances(x, c[None])[:, 0])

  centroids, _ = jax.lax.fori_loop(1, k, seed, (centroids, nearest))

  def lloyd(_, centroids):
    member = jax.nn.one_hot(jnp.argmin(_sq_distances(x, centroids), 1), k, dtype=x.dtype)
    counts = member.sum(0)[:, None]
    return jnp.where(counts > 0, _dot(member.T, x) / jnp.maximum(counts, 1.0), centroids)

  return jax.lax.fori_loop(0, iterations, lloyd, centroids)


_nearest = jax.jit(lambda x, centroids: jnp.argmin(_sq_distances(x, centroids), 1))


def _flat_pixels(images):
  """uint8 (N, H, W, C) -> float32 (N, H*W*C) in [-1, 1], the values G draws."""
  return jnp.reshape(input_pipeline.to_pixels(jnp.asarray(images)), (len(images), -1))


def assign(images, centroids):
  """The nearest centroid of each uint8 image's pixels, int32 (N,), a chunk at a time (the
  whole set as float32 may not fit where its uint8 does)."""
  return np.concatenate([np.asarray(_nearest(_flat_pixels(images[i:i + _CHUNK]), centroids))
                         for i in range(0, len(images), _CHUNK)]).astype(np.int32)


def fit(images, k, key):
  """(centroids, cluster of each image) of k-means on the images' pixels.

  Fits on at most FIT_IMAGES of them (drawn with `key`), then assigns every one.
  """
  fit_key, pick_key = jax.random.split(key)
  n = len(images)
  pick = (np.sort(np.asarray(jax.random.permutation(pick_key, n)[:FIT_IMAGES]))
          if n > FIT_IMAGES else np.arange(n))
  centroids = kmeans(_flat_pixels(images[pick]), k, fit_key)
  return centroids, assign(images, centroids)


def self_condition(config, dataset, heldout):
  """(dataset, heldout, config): with model.clusters = K, the images' clusters as labels.

  The training images are clustered (key: the seed's 'clusters' stream); held-out
  images get their nearest cluster. The config records each cluster's size as
  model.cluster_counts, with which G draws the clusters when it samples, and a digest of
  the assignment as model.cluster_digest (a resumed run refuses other clusters: they would
  not be the ones it trained on). A population's members share the clusters of
  config.seed, the first member's.
  Without clusters, all three come back as they were.
  """
  k = models.clusters(config)
  if not k:
    return dataset, heldout, config
  if k > len(dataset.images):
    raise ConfigError(f'model.clusters={k} is more than the {len(dataset.images)} training '
                      'images')
  centroids, labels = fit(dataset.images, k, gan_lib.rngs(config.seed)['clusters'])
  counts = np.bincount(labels, minlength=k)
  log.info('self-conditioning on %d clusters of the %d training images (k-means on pixels); '
           'sizes %d to %d', k, len(labels), counts.min(), counts.max())
  if not counts.min():
    log.warning('%d of the %d clusters hold no image (fewer distinct images than clusters?): '
                'G never draws them; fewer model.clusters would do', (counts == 0).sum(), k)
  relabel = lambda ds, y: dataclasses.replace(ds, labels=y, num_classes=k,
                                              description=f'{ds.description}, {k} clusters')
  dataset = relabel(dataset, labels)
  if heldout is not None:
    heldout = relabel(heldout, assign(heldout.images, centroids))
  config = config.copy_and_resolve_references()
  with config.unlocked():
    config.model.cluster_counts = tuple(int(c) for c in counts)
    # Which image is in which cluster, in a few characters: a resume compares it.
    config.model.cluster_digest = hashlib.sha256(labels.tobytes()).hexdigest()[:16]
  return dataset, heldout, config
