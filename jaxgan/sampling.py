"""G in inference mode: the sampler, latents, grids, class grids, latent walks, nearest real images.

Everything that turns a generator into images lives here, for the training
loop's grids and evaluation as for exploring a trained run (`load_run`). It
knows the GAN and its checkpoints, never the trainer.
"""
import dataclasses
import functools
import itertools
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import checkpointing
from jaxgan import defaults
from jaxgan import gan as gan_lib
from jaxgan import hyper
from jaxgan import input_pipeline
from jaxgan.errors import JaxganError


# How G normalises when it draws: 'running' uses the BatchNorm running averages
# kept while training (the tutorial's way); 'recomputed' measures each BatchNorm
# layer's mean and variance afresh with the weights that draw (the EMA when kept)
# over RECOMPUTE_LATENTS latents; 'batch' uses the statistics of each batch drawn.
BATCH_NORM = ('running', 'recomputed', 'batch')
DEFAULT_BATCH_NORM = defaults.get_config().eval.batch_norm   # one source: defaults.py
RECOMPUTE_LATENTS = 4096


def check_batch_norm(way):
  if way not in BATCH_NORM:
    raise JaxganError(f'eval.batch_norm must be one of {list(BATCH_NORM)}, not {way!r}')
  return way


def make_sampler(gan, batch_norm='running'):
  """Jitted G in inference mode: (g_params, g_batch_stats, z, labels) -> images in [-1, 1].

  labels is None for unconditional models. With batch_norm 'batch' each call
  normalises with its own batch's statistics, and g_batch_stats is not used.
  """
  def sample(g_params, g_batch_stats, z, labels=None):
    variables = {'params': g_params, 'batch_stats': g_batch_stats}
    if batch_norm == 'batch':
      images, _ = gan.generator.apply(variables, z, train=True, labels=labels,
                                      mutable=['batch_stats'])
      return images
    return gan.generator.apply(variables, z, train=False, labels=labels)
  return jax.jit(sample)


def make_stats_recomputer(gan, num=RECOMPUTE_LATENTS):
  """Jitted (g_params, g_batch_stats, key) -> G's BatchNorm statistics measured over `num` latents.

  One pass in training mode with momentum 0, so each layer's stored mean and
  variance are exactly those of its inputs over the batch of latents (labels
  cycled through every class for a conditional model).
  """
  measuring = gan.generator.clone(bn_momentum=0.0)

  def recompute(g_params, g_batch_stats, key):
    z = jax.random.normal(key, (num, gan.latent_dim))
    labels = cycled_labels(gan, num) if gan_lib.g_choices(gan) else None
    _, updates = measuring.apply({'params': g_params, 'batch_stats': g_batch_stats}, z,
                                 train=True, labels=labels, mutable=['batch_stats'])
    return updates['batch_stats']
  return jax.jit(recompute)


class Drawer:
  """G as it draws samples from a state: the weights (EMA when kept) and the batch_norm way.

  One Drawer (its jitted functions compiled once) serves every member of a population.
  """

  def __init__(self, gan, batch_norm):
    self.batch_norm = check_batch_norm(batch_norm)
    self._sample = make_sampler(gan, batch_norm)
    self._recompute = make_stats_recomputer(gan) if batch_norm == 'recomputed' else None

  def bind(self, state, seed):
    """(z, labels=None) -> images, for this state of the run with this seed."""
    params, stats = gan_lib.sample_params(state), state.g_batch_stats
    if self._recompute is not None:
      stats = self._recompute(params, stats, jax.random.fold_in(gan_lib.rngs(seed)['sample'], 1))
    return lambda z, labels=None: self._sample(params, stats, z, labels)


def fixed_noise(gan, seed, num):
  """The latents of a run's fixed-noise grids."""
  return jax.random.normal(gan_lib.rngs(seed)['sample'], (num, gan.latent_dim))


def class_grid_inputs(gan, column_latents):
  """(z, labels) of a conditional grid: one row per class (or code), each column one latent."""
  rows = gan_lib.g_choices(gan)
  z = jnp.tile(column_latents, (rows, 1))
  labels = jnp.repeat(jnp.arange(rows, dtype=jnp.int32), len(column_latents))
  return z, labels


# The golden ratio's fractional part: its multiples mod 1 spread evenly over [0, 1) in any prefix.
_GOLDEN = 0.6180339887498949


def cycled_labels(gan, n):
  """n labels (or codes) asking for every class in turn, so frequencies are as equal as n allows.

  A self-conditioned model's clusters come as often as the training images hold them
  (to within a few draws for any n), interleaved: the i-th is where (i * golden ratio) mod 1
  falls among the clusters' cumulative shares.
  """
  if gan.cluster_counts:
    counts = np.asarray(gan.cluster_counts, np.float64)
    edges = np.cumsum(counts) / counts.sum()
    where = np.searchsorted(edges, (np.arange(n) * _GOLDEN) % 1.0, side='right')
    return jnp.asarray(np.minimum(where, len(counts) - 1), jnp.int32)
  return jnp.arange(n, dtype=jnp.int32) % gan_lib.g_choices(gan)


def generate(draw, gan, num, rng, batch_size=500):
  """(`num` samples from G in inference mode, the labels they were asked for or None).

  A conditional model is asked for every class in turn, so the classes are
  balanced; a code model draws every code in turn, as often as uniform codes
  would on average, and a self-conditioned one its clusters as often as the data
  hold them (codes and clusters are not labels: None is returned for them).
  """
  out = []
  labels = None
  if gan_lib.g_choices(gan):
    labels = cycled_labels(gan, -(-num // batch_size) * batch_size)
  for i in range(0, num, batch_size):
    z = jax.random.normal(jax.random.fold_in(rng, i), (batch_size, gan.latent_dim))
    out.append(draw(z, None if labels is None else labels[i:i + batch_size]))
  asked = labels[:num] if gan.num_classes and not gan.cluster_counts else None
  return jnp.concatenate(out)[:num], asked


@dataclasses.dataclass
class Run:
  config: Any
  gan: Any
  state: Any
  workdir: pathlib.Path
  batch_norm: str = DEFAULT_BATCH_NORM

  @property
  def conditional(self):
    """Whether G takes a discrete input: a conditional model's label or a code model's code."""
    return gan_lib.g_choices(self.gan) > 0

  @functools.cached_property
  def draw(self):
    """(z, labels=None) -> images, G drawing the `batch_norm` way."""
    return Drawer(self.gan, self.batch_norm).bind(self.state, self.config.seed)


def batch_norm_of(config):
  """eval.batch_norm; a config saved before the setting existed draws the default way."""
  return config.eval.get('batch_norm', DEFAULT_BATCH_NORM)


def _restore_run(config, gan, workdir, checkpoint):
  """The run's state at `checkpoint`, in the structure its config gives.

  A sweep member whose EMA decay or clipping norm is 0 trained beside members
  with one: its checkpoint keeps the part too (an EMA equal to G's weights,
  which is what it draws with; a clipping step's empty state), so the
  structures with those parts on are tried after its own.
  """
  key = gan_lib.rngs(config.seed)['init']
  off = [k for k, v in hyper.SWITCHES_KEPT.items() if not hyper.values(config)[v] > 0]
  first = None
  for on in itertools.product((False, True), repeat=len(off)):
    changed = gan_lib.make_gan(hyper.apply(config, {k: 0.5 for k, o in zip(off, on) if o}))
    try:
      return checkpointing.restore_for_reading(workdir, gan_lib.init_state(changed, key),
                                               checkpoint)
    except checkpointing.OtherStructure as e:
      first = first or e
  raise first


def load_run(workdir, checkpoint='latest', batch_norm=None):
  """A run's config and the state of its `checkpoint` ('best', 'latest' or a step).

  G draws as `batch_norm` says (BATCH_NORM), by default as the run's eval.batch_norm.
  """
  workdir = pathlib.Path(workdir)
  config = checkpointing.load_saved_config(workdir)
  if config is None:
    raise JaxganError(f'{workdir} holds no run (no config.json)')
  if config.get('sweep', ''):
    example = next(iter(sorted(workdir.glob('*/seed_*'))), workdir / 'POINT' / 'seed_0')
    raise JaxganError(f'{workdir} holds a sweep; load one member, e.g. {example}')
  if config.train.get('num_seeds', 1) > 1:
    raise JaxganError(f'{workdir} holds a population; load one member, e.g. {workdir}/seed_0')
  gan = gan_lib.make_gan(config)
  batch_norm = check_batch_norm(batch_norm or batch_norm_of(config))
  return Run(config, gan, _restore_run(config, gan, workdir, str(checkpoint)),
             workdir, batch_norm)


def generate_from(run, z, labels=None):
  """Images in [-1, 1] for latents z (and labels, for a conditional model), G in inference mode.

  A conditional model given no labels is asked for every class in turn.
  """
  z = jnp.asarray(z)
  if run.conditional and labels is None:
    labels = cycled_labels(run.gan, len(z))
  if labels is not None:
    labels = jnp.broadcast_to(jnp.asarray(labels, jnp.int32), (len(z),))
  return run.draw(z, labels)


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
  count = gan_lib.g_choices(run.gan)
  if not 0 <= label < count:
    what = (' (the model\'s codes)' if run.gan.num_codes else
            ' (the model\'s clusters)' if run.gan.cluster_counts else '')
    raise JaxganError(f'--label must be in 0..{count - 1}{what}, not {label}')


def class_grid(run, per_class=8, seed=0):
  """(images, columns): one row per class of a conditional model, the same latents in each row."""
  z, labels = class_grid_inputs(run.gan, latents(run, per_class, seed))
  return generate_from(run, z, labels), per_class


# How far a traversal takes a continuous code: its values are z's entries, N(0, 1),
# so +-2 spans about 95 % of what G trained on.
TRAVERSAL_SPAN = 2.0


def traversal_inputs(row_latents, code, steps, labels=None):
  """(z, labels) of a grid whose columns take continuous code `code` from -2 to 2.

  Each row keeps one latent from `row_latents` and changes only entry `code` of it;
  `labels` (one per row, or None) is each row's class or categorical code.
  """
  values = jnp.linspace(-TRAVERSAL_SPAN, TRAVERSAL_SPAN, steps)
  z = jnp.repeat(row_latents, steps, axis=0).at[:, code].set(jnp.tile(values, len(row_latents)))
  return z, None if labels is None else jnp.repeat(jnp.asarray(labels, jnp.int32), steps)


def check_code(run, code):
  """`code` names one of the run's continuous codes (gan.continuous_codes)."""
  count = run.gan.num_continuous
  if not count:
    raise JaxganError(f'{run.workdir} holds a model without continuous codes '
                      '(gan.continuous_codes): there is no code to vary')
  if not 0 <= code < count:
    raise JaxganError(f'--vary must be in 0..{count - 1} (the model\'s continuous codes), '
                      f'not {code}')


def traversal(run, code, num=64, seed=0, label=None):
  """(images, columns): continuous code `code` from -2 to 2 along each row, the rest fixed.

  Rows: one per class or categorical code, all with the same latent (InfoGAN's
  figures), or with `label` (or an unconditional model) 8 latents, each its own row;
  num // rows columns, at least 2 (the ends).
  """
  check_code(run, code)
  check_label(run, label)
  choices = gan_lib.g_choices(run.gan)
  if choices and label is None:
    rows = choices
    row_latents, labels = class_grid_inputs(run.gan, latents(run, 1, seed))
  else:
    rows = 8
    row_latents = latents(run, rows, seed)
    labels = None if label is None else jnp.full(rows, label)
  steps = max(2, num // rows)
  z, labels = traversal_inputs(row_latents, code, steps, labels)
  return generate_from(run, z, labels), steps


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
