"""The GAN: its static parts (modules, optimizers, losses, switches) and its training state.

`make_gan(config)` is the one place a config becomes a GAN, and validates the
settings it reads; `init_state` makes the state that the update steps advance
and Orbax saves. Nothing random lives in the state: every stream is derived
from the seed (`rngs`).
"""
import dataclasses
import functools
import math
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

from jaxgan import augment
from jaxgan import cpu_threefry
from jaxgan import hyper
from jaxgan import losses
from jaxgan import models
from jaxgan import optimizers
from jaxgan import xla_defaults
from jaxgan.errors import ConfigError

# Here, not on import of the package: it needs JAX imported, which the package's fast
# paths (a bad samples file reported at once) do without. Every path that trains,
# samples or scores builds its GAN here first.
if xla_defaults.enabled():
  cpu_threefry.apply()


@flax.struct.dataclass
class TrainState:
  """Everything that changes while training, as one pytree Orbax saves directly.

  d_batch_stats holds spectral norm's power-iteration vectors ({} without it);
  ema_g_params is the moving average of G's weights (None when gan.ema_decay is 0).
  """
  step: jax.Array
  g_params: Any
  g_batch_stats: Any
  d_params: Any
  d_batch_stats: Any
  g_opt_state: Any
  d_opt_state: Any
  ema_g_params: Any = None


@flax.struct.dataclass
class AdaptiveTrainState(TrainState):
  """TrainState and ADA's augmentation probability, for runs with gan.augment_target > 0.

  A subclass, not a field of TrainState, so that every other run keeps the
  checkpoint structure it always had.
  """
  augment_p: Any = None


# A config saved before top-k training existed trains without it; this is the
# anneal's length it reads then (unused while gan.drop_worst is 0).
DROP_WORST_IMAGES = 300_000


@dataclasses.dataclass(frozen=True)
class GAN:
  """The static parts of a run: modules, optimizers, losses and the update's switches."""
  generator: Any
  discriminator: Any
  g_tx: optax.GradientTransformation
  d_tx: optax.GradientTransformation
  d_loss_fn: Any
  g_loss_fn: Any
  latent_dim: int
  num_classes: int = 0          # > 0: conditional
  # A self-conditioned model's (model.clusters) training images per cluster: G draws its
  # clusters in these proportions, and they are not classes a classifier could check.
  cluster_counts: tuple = ()
  num_codes: int = 0            # > 0: G also takes a categorical code, D's Q head predicts it
  num_continuous: int = 0       # > 0: z's first entries are codes D's Q head regresses
  image_shape: tuple = (28, 28, 1)   # (H, W, C) of G's output and D's input
  n_critic: int = 1
  update_order: str = 'alternating'   # or 'simultaneous' (update.simultaneous_update)
  gradient_penalty: float = 0.0
  r1_gamma: float = 0.0
  weight_clip: float = 0.0
  ema_decay: float = 0.0
  augment: tuple = ()            # DiffAugment ops applied to D's inputs (augment.OPS)
  augment_target: float = 0.0   # > 0: ADA adapts the ops' probability towards this r_t
  augment_speed: int = 100_000  # images for ADA's probability to cross [0, 1]
  drop_worst: float = 0.0       # > 0: top-k training of G (losses.top_k_g_loss)
  drop_worst_images: int = DROP_WORST_IMAGES   # G's images over which the dropped share grows
  mode_seeking: float = 0.0     # > 0: MSGAN's diversity term in G's loss (update._mode_seeking)
  # The numbers the step uses ({name: value}, hyper.py): the fields above keep
  # the switches (> 0: the part is on); a sweep member's traced values replace these.
  hyper: Any = None
  make_txs: Any = None      # {name: value} -> (g_tx, d_tx)
  d_loss_at: Any = None     # real label -> d_loss_fn

  def with_values(self, values):
    """This GAN with a sweep member's numbers (traced, {name: value}) in place of its own."""
    merged = {**self.hyper, **values}
    g_tx, d_tx = self.make_txs(merged)
    return dataclasses.replace(self, hyper=merged, g_tx=g_tx, d_tx=d_tx,
                               d_loss_fn=self.d_loss_at(merged['real_label']))


UPDATE_ORDERS = ('alternating', 'simultaneous')


def _validate_gan(g):
  if g.n_critic < 1:
    raise ConfigError(f'gan.n_critic must be at least 1, not {g.n_critic}')
  order = g.get('update_order', 'alternating')
  if order not in UPDATE_ORDERS:
    raise ConfigError(f'gan.update_order must be one of {list(UPDATE_ORDERS)}, not {order!r}')
  codes = [k for k in ('latent_codes', 'continuous_codes') if g.get(k, 0)]
  if order == 'simultaneous' and codes:
    raise ConfigError(f'gan.update_order simultaneous has no Q head update: it cannot train '
                      f'gan.{" or gan.".join(codes)} (use alternating)')
  for key in ('gradient_penalty', 'r1_gamma', 'weight_clip'):
    if g[key] < 0:
      raise ConfigError(f'gan.{key} must be >= 0 (0 = off), not {g[key]}')
  if not 0.0 <= g.ema_decay < 1.0:
    raise ConfigError(f'gan.ema_decay must be in [0, 1) (0 = off), not {g.ema_decay}')
  target = g.get('augment_target', 0.0)
  if not 0.0 <= target < 1.0:
    raise ConfigError(f'gan.augment_target must be in [0, 1) (0 = off), not {target}')
  if target > 0 and not g.get('augment', ''):
    raise ConfigError('gan.augment_target adapts the probability of gan.augment\'s ops: '
                      "name them (e.g. --config.gan.augment='translation,cutout')")
  if g.get('augment_speed', 100_000) < 1:
    raise ConfigError(f'gan.augment_speed must be at least 1, not {g.augment_speed}')
  if not 0.0 <= g.get('drop_worst', 0.0) < 1.0:
    raise ConfigError(f'gan.drop_worst must be in [0, 1) (0 = off), not {g.drop_worst}')
  for key, (setting, what) in hyper.NEEDS.items():
    weight = key.split('.')[1]
    if not g.get(weight, 0.0) >= 0:   # NaN too
      raise ConfigError(f'gan.{weight} must be >= 0, not {g[weight]}')
    # The default weight is kept in every config; another one asks for codes.
    if g.get(weight, 1.0) != 1.0 and not g.get(setting, 0):
      raise ConfigError(f'gan.{weight} has no effect without {what} (set gan.{setting})')
  if not g.get('mode_seeking', 0.0) >= 0:   # NaN too
    raise ConfigError(f'gan.mode_seeking must be >= 0 (0 = off), not {g.mode_seeking}')
  if g.get('drop_worst_images', DROP_WORST_IMAGES) < 1:
    raise ConfigError(f'gan.drop_worst_images must be at least 1, not {g.drop_worst_images}')


def _cluster_counts(config):
  """A self-conditioned model's training images per cluster (model.cluster_counts, which
  the trainer sets); equal counts before it has; () without clusters."""
  k = models.clusters(config)
  if not k:
    return ()
  counts = tuple(int(c) for c in (config.model.get('cluster_counts', ()) or ()))
  if not counts:
    return (1,) * k
  if len(counts) != k or min(counts) < 0 or not sum(counts):
    raise ConfigError(f'model.cluster_counts {counts} does not fit model.clusters={k}: it is '
                      'the trainer\'s record of the clusters\' sizes, not a setting')
  return counts


def validate(config):
  """Checks the gan.*, optimizer.* and loss settings; returns the loss pair."""
  _validate_gan(config.gan)
  optimizers.validate(config.optimizer)
  return losses.get_losses(config.loss, config.gan.real_label)


def make_gan(config, total_steps=1, sweep=()):
  """The run's GAN; `total_steps` (G updates) sizes learning-rate schedules.

  `sweep` (hyper.points of config.sweep) makes the GAN of one program for all
  its points: what any point switches on (an EMA, a penalty, clipping) is kept
  for all, and each point's numbers come with `GAN.with_values`.
  """
  for point in sweep:
    validate(hyper.apply(config, point))
  if sweep:
    config = hyper.apply(config, {k: max(p[k] for p in sweep) for k in sweep[0]})
  o, g = config.optimizer, config.gan
  d_loss_fn, g_loss_fn = validate(config)
  n_critic = g.n_critic
  make_txs = lambda v: (
      optimizers.make_optimizer(o, v['g_learning_rate'], total_steps, v),
      optimizers.make_optimizer(o, v['d_learning_rate'], total_steps * n_critic, v))
  return GAN(
      generator=models.make_generator(config),
      discriminator=models.make_discriminator(config),
      g_tx=optimizers.make_optimizer(o, o.g_learning_rate, total_steps),
      d_tx=optimizers.make_optimizer(o, o.d_learning_rate, total_steps * g.n_critic),
      d_loss_fn=d_loss_fn, g_loss_fn=g_loss_fn, latent_dim=config.model.latent_dim,
      image_shape=models.image_shape(config),
      num_classes=models.conditioning_classes(config),
      cluster_counts=_cluster_counts(config),
      num_codes=models.latent_codes(config),
      num_continuous=models.continuous_codes(config),
      n_critic=g.n_critic, update_order=g.get('update_order', 'alternating'),
      gradient_penalty=g.gradient_penalty, r1_gamma=g.r1_gamma,
      weight_clip=g.weight_clip, ema_decay=g.ema_decay,
      # Configs saved before gan.augment existed train without it.
      augment=augment.parse_policy(g.get('augment', '')),
      augment_target=g.get('augment_target', 0.0), augment_speed=g.get('augment_speed', 100_000),
      # Configs saved before top-k training existed train without it.
      drop_worst=g.get('drop_worst', 0.0),
      drop_worst_images=g.get('drop_worst_images', DROP_WORST_IMAGES),
      mode_seeking=g.get('mode_seeking', 0.0),
      hyper=hyper.values(config), make_txs=make_txs,
      d_loss_at=functools.partial(losses.d_loss_with_label, config.loss))


def rngs(seed):
  """Independent streams derived from the seed: nothing random lives in the state."""
  root = jax.random.PRNGKey(seed)
  return {name: jax.random.fold_in(root, i)
          for i, name in enumerate(('init', 'data', 'step', 'sample', 'eval', 'clusters'))}


def g_choices(gan):
  """How many values G's discrete input takes: a conditional G's classes or a code model's codes."""
  return gan.num_classes or gan.num_codes


def _dummy_labels(count, n):
  return jnp.zeros((n,), jnp.int32) if count else None


def init_state(gan, rng):
  g_rng, d_rng = jax.random.split(rng)
  g_vars = gan.generator.init(g_rng, jnp.zeros((1, gan.latent_dim)), train=False,
                              labels=_dummy_labels(g_choices(gan), 1))
  d_vars = gan.discriminator.init(d_rng, jnp.zeros((1,) + gan.image_shape),
                                  train=False, labels=_dummy_labels(gan.num_classes, 1))
  adaptive = gan.augment_target > 0
  return (AdaptiveTrainState if adaptive else TrainState)(
      step=jnp.zeros((), jnp.int32),
      g_params=g_vars['params'], g_batch_stats=g_vars['batch_stats'],
      d_params=d_vars['params'], d_batch_stats=d_vars.get('batch_stats', {}),
      g_opt_state=gan.g_tx.init(g_vars['params']),
      d_opt_state=gan.d_tx.init(d_vars['params']),
      # A copy: the step donates the state, and one buffer cannot be donated twice.
      ema_g_params=(jax.tree_util.tree_map(jnp.copy, g_vars['params'])
                    if gan.ema_decay > 0 else None),
      **({'augment_p': jnp.zeros(())} if adaptive else {}))


def sample_params(state):
  """G's weights for samples and evaluation: the EMA when it is kept."""
  return state.g_params if state.ema_g_params is None else state.ema_g_params


def num_params(tree):
  return sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(tree))
