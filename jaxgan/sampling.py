"""Exploring a trained run: load it, sample, walk the latent space, find nearest real digits."""
import dataclasses
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import checkpointing
from jaxgan import evaluation
from jaxgan import input_pipeline
from jaxgan import train
from jaxgan.errors import JaxganError


@dataclasses.dataclass
class Run:
  config: Any
  gan: Any
  state: Any
  workdir: pathlib.Path

  @property
  def conditional(self):
    return self.gan.num_classes > 0


def load_run(workdir, checkpoint='latest'):
  """A run's config and the state of its `checkpoint` ('best', 'latest' or a step)."""
  workdir = pathlib.Path(workdir)
  config = checkpointing.load_saved_config(workdir)
  if config is None:
    raise JaxganError(f'{workdir} holds no run (no config.json)')
  if config.train.get('num_seeds', 1) > 1:
    raise JaxganError(f'{workdir} holds a population; load one member, e.g. {workdir}/seed_0')
  gan = train.make_gan(config)
  template = train.init_state(gan, train.rngs(config.seed)['init'])
  return Run(config, gan, checkpointing.restore_for_reading(workdir, template, str(checkpoint)),
             workdir)


def generate_from(run, z, labels=None):
  """Images in [-1, 1] for latents z (and labels, for a conditional model), G in inference mode.

  A conditional model given no labels is asked for every class in turn.
  """
  z = jnp.asarray(z)
  if run.conditional and labels is None:
    labels = evaluation.cycled_labels(run.gan, len(z))
  if labels is not None:
    labels = jnp.broadcast_to(jnp.asarray(labels, jnp.int32), (len(z),))
  return train.make_sampler(run.gan)(train.sample_params(run.state), run.state.g_batch_stats, z,
                                     labels)


def latents(run, num, seed=0):
  return jax.random.normal(jax.random.PRNGKey(seed), (num, run.gan.latent_dim))


def sample(run, num=64, seed=0, label=None):
  """`num` samples; `label` only for conditional models."""
  check_label(run, label)
  return generate_from(run, latents(run, num, seed), label)


def check_label(run, label):
  if label is None:
    return
  if not run.conditional:
    raise JaxganError(f'{run.workdir} holds an unconditional model: it cannot draw a requested '
                      'label')
  if not 0 <= label < run.gan.num_classes:
    raise JaxganError(f'--label must be in 0..{run.gan.num_classes - 1}, not {label}')


def class_grid(run, per_class=8, seed=0):
  """(images, columns): one row per class of a conditional model, the same latents in each row."""
  z, labels = train.class_grid_inputs(run.gan, latents(run, per_class, seed))
  return generate_from(run, z, labels), per_class


def slerp(z0, z1, t):
  """Spherical interpolation: stays on the shell where Gaussian latents live."""
  n0, n1 = jnp.linalg.norm(z0), jnp.linalg.norm(z1)
  omega = jnp.arccos(jnp.clip(jnp.dot(z0 / n0, z1 / n1), -1.0, 1.0))
  so = jnp.sin(omega)
  t = jnp.asarray(t)[:, None]
  linear = (1 - t) * z0 + t * z1
  spherical = (jnp.sin((1 - t) * omega) * z0 + jnp.sin(t * omega) * z1) / jnp.where(so == 0, 1, so)
  return jnp.where(so < 1e-6, linear, spherical)


def latent_walk(run, steps=16, seed=0, waypoints=4):
  """Latents along great circles through `waypoints` random points, closing the loop."""
  points = latents(run, waypoints, seed)
  t = jnp.linspace(0.0, 1.0, steps, endpoint=False)
  return jnp.concatenate([slerp(points[i], points[(i + 1) % waypoints], t)
                          for i in range(waypoints)])


@jax.jit
def _nearest(query, reference):
  q = query.reshape(query.shape[0], -1)
  r = reference.reshape(reference.shape[0], -1)
  d = jnp.sum(q * q, 1)[:, None] + jnp.sum(r * r, 1)[None, :] - 2 * q @ r.T
  idx = jnp.argmin(d, axis=1)
  return idx, jnp.sqrt(jnp.maximum(jnp.take_along_axis(d, idx[:, None], 1)[:, 0], 0.0))


def nearest_real(images, real_uint8, chunk=2000):
  """For each image in [-1, 1], the index of and pixel L2 distance to its nearest real image."""
  idx, dist = [], []
  for start in range(0, len(real_uint8), chunk):
    ref = input_pipeline.to_pixels(jnp.asarray(real_uint8[start:start + chunk]))
    i, d = _nearest(jnp.asarray(images), ref)
    idx.append(np.asarray(i) + start)
    dist.append(np.asarray(d))
  idx, dist = np.stack(idx, 1), np.stack(dist, 1)
  best = np.argmin(dist, axis=1)
  rows = np.arange(len(best))
  return idx[rows, best], dist[rows, best]
