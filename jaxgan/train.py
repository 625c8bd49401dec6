"""The GAN training state, the jitted update step and the training loop."""
import contextlib
import dataclasses
import functools
import math
import pathlib
import tempfile
import time
from typing import Any

from absl import logging
import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan import checkpointing
from jaxgan import distributed
from jaxgan import evaluation
from jaxgan import fingerprint
from jaxgan import input_pipeline
from jaxgan import losses
from jaxgan import metric_writers
from jaxgan import models
from jaxgan import optimizers
from jaxgan import timing
from jaxgan import visualize
from jaxgan.errors import JaxganError, NonFiniteLossError

METRIC_NAMES = ('d_loss', 'g_loss', 'd_real', 'd_fake', 'critic_gap', 'penalty')


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
  n_critic: int = 1
  gradient_penalty: float = 0.0
  r1_gamma: float = 0.0
  weight_clip: float = 0.0
  ema_decay: float = 0.0


def _validate_gan(g):
  if g.n_critic < 1:
    raise JaxganError(f'gan.n_critic must be at least 1, not {g.n_critic}')
  for key in ('gradient_penalty', 'r1_gamma', 'weight_clip'):
    if g[key] < 0:
      raise JaxganError(f'gan.{key} must be >= 0 (0 = off), not {g[key]}')
  if not 0.0 <= g.ema_decay < 1.0:
    raise JaxganError(f'gan.ema_decay must be in [0, 1) (0 = off), not {g.ema_decay}')


def make_gan(config, total_steps=1):
  """The run's GAN; `total_steps` (G updates) sizes learning-rate schedules."""
  o, g = config.optimizer, config.gan
  _validate_gan(g)
  d_loss_fn, g_loss_fn = losses.get_losses(config.loss, g.real_label)
  return GAN(
      generator=models.make_generator(config),
      discriminator=models.make_discriminator(config),
      g_tx=optimizers.make_optimizer(o, o.g_learning_rate, total_steps),
      d_tx=optimizers.make_optimizer(o, o.d_learning_rate, total_steps * g.n_critic),
      d_loss_fn=d_loss_fn, g_loss_fn=g_loss_fn, latent_dim=config.model.latent_dim,
      num_classes=config.model.num_classes if config.model.conditional else 0,
      n_critic=g.n_critic, gradient_penalty=g.gradient_penalty, r1_gamma=g.r1_gamma,
      weight_clip=g.weight_clip, ema_decay=g.ema_decay)


def rngs(seed):
  """Independent streams derived from the seed: nothing random lives in the state."""
  root = jax.random.PRNGKey(seed)
  return {name: jax.random.fold_in(root, i)
          for i, name in enumerate(('init', 'data', 'step', 'sample', 'eval'))}


def _dummy_labels(gan, n):
  return jnp.zeros((n,), jnp.int32) if gan.num_classes else None


def init_state(gan, rng):
  g_rng, d_rng = jax.random.split(rng)
  g_vars = gan.generator.init(g_rng, jnp.zeros((1, gan.latent_dim)), train=False,
                              labels=_dummy_labels(gan, 1))
  d_vars = gan.discriminator.init(d_rng, jnp.zeros((1,) + input_pipeline.IMAGE_SHAPE),
                                  train=False, labels=_dummy_labels(gan, 1))
  return TrainState(
      step=jnp.zeros((), jnp.int32),
      g_params=g_vars['params'], g_batch_stats=g_vars['batch_stats'],
      d_params=d_vars['params'], d_batch_stats=d_vars.get('batch_stats', {}),
      g_opt_state=gan.g_tx.init(g_vars['params']),
      d_opt_state=gan.d_tx.init(d_vars['params']),
      # A copy: the step donates the state, and one buffer cannot be donated twice.
      ema_g_params=(jax.tree_util.tree_map(jnp.copy, g_vars['params'])
                    if gan.ema_decay > 0 else None))


def sample_params(state):
  """G's weights for samples and evaluation: the EMA when it is kept."""
  return state.g_params if state.ema_g_params is None else state.ema_g_params


def _scan(body, carry, xs, length=None):
  # XLA:CPU runs convolutions inside a while loop about 17x slower than
  # straight-line code (measured at batch 64: 4.6 s vs 0.27 s a step), so on
  # CPU loops are unrolled.
  return jax.lax.scan(body, carry, xs, length=length, unroll=jax.default_backend() == 'cpu')


def _latents(gan, key, n):
  return jax.random.normal(key, (n, gan.latent_dim))


def _generate(gan, g_params, g_batch_stats, z, labels):
  """G(z) in training mode: the images and G's updated batch statistics."""
  fake, updates = gan.generator.apply({'params': g_params, 'batch_stats': g_batch_stats}, z,
                                      train=True, labels=labels, mutable=['batch_stats'])
  return fake, updates['batch_stats']


def _critic_fn(gan, d_params, d_batch_stats, labels, dropout_key):
  """x -> D(x) with the given weights, spectral-norm vectors left as they are."""
  def critic(x):
    return gan.discriminator.apply({'params': d_params, 'batch_stats': d_batch_stats}, x,
                                   train=True, labels=labels, update_stats=False,
                                   rngs={'dropout': dropout_key})
  return critic


def d_update(gan, state, real, labels, fake, key):
  """One D update on a real batch and G's fakes (which carry the real batch's labels)."""
  drop_key, eps_key = jax.random.split(key)
  fake = jax.lax.stop_gradient(fake)

  def objective(d_params):
    # One call on real and fake together; D has no batch statistics to mix.
    both_labels = None if labels is None else jnp.concatenate([labels, labels])
    logits, updates = gan.discriminator.apply(
        {'params': d_params, 'batch_stats': state.d_batch_stats},
        jnp.concatenate([real, fake]), train=True, labels=both_labels,
        rngs={'dropout': drop_key}, mutable=['batch_stats'])
    real_logits, fake_logits = jnp.split(logits, 2)
    loss = gan.d_loss_fn(real_logits, fake_logits)
    penalty = jnp.zeros(())
    critic = _critic_fn(gan, d_params, state.d_batch_stats, labels, drop_key)
    if gan.gradient_penalty > 0:
      eps = jax.random.uniform(eps_key, (real.shape[0],))
      penalty += gan.gradient_penalty * losses.gradient_penalty(critic, real, fake, eps)
    if gan.r1_gamma > 0:
      penalty += 0.5 * gan.r1_gamma * losses.r1_penalty(critic, real)
    aux = (updates.get('batch_stats', {}), real_logits, fake_logits, loss, penalty)
    return loss + penalty, aux

  (_, (d_batch_stats, real_logits, fake_logits, loss, penalty)), grads = jax.value_and_grad(
      objective, has_aux=True)(state.d_params)
  updates, d_opt_state = gan.d_tx.update(grads, state.d_opt_state, state.d_params)
  d_params = optax.apply_updates(state.d_params, updates)
  if gan.weight_clip > 0:
    d_params = jax.tree_util.tree_map(
        lambda p: jnp.clip(p, -gan.weight_clip, gan.weight_clip), d_params)
  metrics = {'d_loss': loss, 'penalty': penalty,
             'd_real': jnp.mean(jax.nn.sigmoid(real_logits)),
             'd_fake': jnp.mean(jax.nn.sigmoid(fake_logits)),
             'critic_gap': jnp.mean(real_logits) - jnp.mean(fake_logits)}
  return state.replace(d_params=d_params, d_batch_stats=d_batch_stats,
                       d_opt_state=d_opt_state), metrics


def train_step(gan, state, batch, rng):
  """`gan.n_critic` D updates, then one G update against the updated D.

  `batch` is {'image': (n_critic, B, 28, 28, 1) in [-1, 1], 'label': (n_critic, B)}:
  one real batch per D update; 'label' conditions a conditional GAN's D and its
  fakes. The extra D updates run in a lax.scan. G runs forward once for the last
  D update and the G update: its VJP is kept and pulled back through the G
  loss, which equals recomputing G(z) (same z, same batch statistics) without
  the second forward pass. Randomness is fold_in(rng, step), so a resumed run
  draws exactly what an uninterrupted one would.
  """
  images = batch['image']
  labels = batch['label'] if gan.num_classes else jnp.zeros(images.shape[:2], jnp.int32)
  batch_size = images.shape[1]
  keys = jax.random.split(jax.random.fold_in(rng, state.step), 2 * gan.n_critic + 1)
  z_keys, d_keys, g_drop_key = keys[:gan.n_critic], keys[gan.n_critic:-1], keys[-1]
  as_labels = lambda y: y if gan.num_classes else None

  def critic_only(state, xs):
    real, y, z_key, d_key = xs
    fake, g_batch_stats = _generate(gan, state.g_params, state.g_batch_stats,
                                    _latents(gan, z_key, batch_size), as_labels(y))
    return d_update(gan, state.replace(g_batch_stats=g_batch_stats), real, as_labels(y), fake,
                    d_key)

  d_metrics = []
  if gan.n_critic > 1:
    state, m = _scan(critic_only, state, (images[:-1], labels[:-1], z_keys[:-1], d_keys[:-1]))
    d_metrics.append(m)

  y = as_labels(labels[-1])
  z = _latents(gan, z_keys[-1], batch_size)
  fake, g_vjp, g_batch_stats = jax.vjp(
      lambda p: _generate(gan, p, state.g_batch_stats, z, y), state.g_params, has_aux=True)
  state, m = d_update(gan, state, images[-1], y, fake, d_keys[-1])
  d_metrics.append(jax.tree_util.tree_map(lambda x: x[None], m))

  critic = _critic_fn(gan, state.d_params, state.d_batch_stats, y, g_drop_key)
  g_loss, d_fake_grad = jax.value_and_grad(lambda f: gan.g_loss_fn(critic(f)))(fake)
  (g_grads,) = g_vjp(d_fake_grad)
  g_updates, g_opt_state = gan.g_tx.update(g_grads, state.g_opt_state, state.g_params)
  g_params = optax.apply_updates(state.g_params, g_updates)
  ema = state.ema_g_params
  if ema is not None:
    ema = optax.incremental_update(g_params, ema, step_size=1.0 - gan.ema_decay)

  new_state = state.replace(step=state.step + 1, g_params=g_params, g_batch_stats=g_batch_stats,
                            g_opt_state=g_opt_state, ema_g_params=ema)
  # D's metrics averaged over its n_critic updates.
  metrics = jax.tree_util.tree_map(lambda *x: jnp.mean(jnp.concatenate(x)), *d_metrics)
  return new_state, {**metrics, 'g_loss': g_loss}


def make_train_step(gan):
  """`train_step(state, batch, rng) -> (state, metrics)`, jitted, state donated."""
  return jax.jit(functools.partial(train_step, gan), donate_argnums=0)


def draw_batch(gan, images, labels, perms, first_epoch, step, batch_size):
  """The real batches of step `step`, one per D update, gathered on the device.

  Batches are numbered by D update, so an epoch is one pass of D over the data;
  `perms` holds the orders of the epochs from `first_epoch` on (input_pipeline.dispatch_orders).
  """
  def one(i):
    idx = input_pipeline.batch_from(perms, first_epoch, step * gan.n_critic + i, batch_size)
    return input_pipeline.to_pixels(images[idx]), labels[idx]
  pixels, y = zip(*(one(i) for i in range(gan.n_critic)))
  return {'image': jnp.stack(pixels), 'label': jnp.stack(y)}


def make_mesh(devices=None):
  """A 1-D data-parallel mesh over `devices` (default: every device, on every host)."""
  return jax.sharding.Mesh(np.asarray(devices if devices is not None else jax.devices()),
                           ('data',))


def replicated(mesh):
  return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())


def check_batch_divides(batch_size, mesh):
  if batch_size % mesh.size:
    raise JaxganError(f'train.batch_size {batch_size} must be a multiple of the {mesh.size} '
                      'devices it is split over')


def train_steps(gan, batch_size, mesh, state, data, data_rng, step_rng, num_steps):
  """`num_steps` steps in one lax.scan, each drawing its batches on the device.

  `data` is {'image': uint8 (N, 28, 28, 1), 'label': int32 (N,)}, replicated on
  every device of `mesh`, as is the state. Each batch is split over the mesh's
  'data' axis; XLA partitions the step accordingly, all-reducing gradients and
  batch statistics, so 1 and N devices compute the same update.
  """
  batch_sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(None, 'data'))
  perms, first_epoch = input_pipeline.dispatch_orders(
      data_rng, state.step * gan.n_critic, num_steps * gan.n_critic, data['image'].shape[0],
      batch_size)

  def body(state, _):
    batch = draw_batch(gan, data['image'], data['label'], perms, first_epoch, state.step,
                       batch_size)
    batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
    return train_step(gan, state, batch, step_rng)

  # A single step, which a scan would still wrap in a loop, is called directly.
  if num_steps == 1:
    state, metrics = body(state, None)
    return state, jax.tree_util.tree_map(lambda m: m[None], metrics)
  return _scan(body, state, None, length=num_steps)


def make_train_steps(gan, batch_size, mesh=None):
  """Jitted multi-step update: (state, data, data_rng, step_rng, num_steps) -> (state, metrics).

  Data-parallel over `mesh` (default: all devices); state and metrics come back replicated.
  """
  mesh = mesh if mesh is not None else make_mesh()
  check_batch_divides(batch_size, mesh)
  return jax.jit(functools.partial(train_steps, gan, batch_size, mesh), static_argnums=4,
                 donate_argnums=0, out_shardings=replicated(mesh))


def make_sampler(gan):
  """Jitted G in inference mode (running batch statistics), as the tutorial draws its grids.

  (g_params, g_batch_stats, z, labels) -> images; labels is None for unconditional models.
  """
  def sample(g_params, g_batch_stats, z, labels=None):
    return gan.generator.apply({'params': g_params, 'batch_stats': g_batch_stats}, z,
                               train=False, labels=labels)
  return jax.jit(sample)


def fixed_noise(gan, seed, num):
  return jax.random.normal(rngs(seed)['sample'], (num, gan.latent_dim))


def class_grid_inputs(gan, column_latents):
  """(z, labels) of a conditional grid: one row per class, each column one latent."""
  z = jnp.tile(column_latents, (gan.num_classes, 1))
  labels = jnp.repeat(jnp.arange(gan.num_classes, dtype=jnp.int32), len(column_latents))
  return z, labels


def prepare_workdir(workdir):
  path = pathlib.Path(workdir).expanduser()
  try:
    path.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path):
      pass
  except OSError as e:
    raise JaxganError(f'workdir {path} is not writable: {e.strerror or e}') from None
  return path


def _validate(config):
  t = config.train
  if t.num_seeds < 1:
    raise JaxganError(f'train.num_seeds must be at least 1, not {t.num_seeds}')
  if t.steps_per_jit < 0:
    raise JaxganError(f'train.steps_per_jit must be >= 0 (0 = auto), not {t.steps_per_jit}')
  for key in ('batch_size', 'log_every', 'eval_every', 'checkpoint_every',
              'max_checkpoints', 'num_samples'):
    if t[key] < 1:
      raise JaxganError(f'train.{key} must be at least 1, not {t[key]}')
  if t.num_steps < 0 or (t.num_steps == 0 and t.num_epochs < 1):
    raise JaxganError('set train.num_steps > 0 or train.num_epochs >= 1')


def total_steps(config, num_examples):
  """G updates of the run: train.num_steps, or enough for D to see num_epochs epochs."""
  per_epoch = input_pipeline.steps_per_epoch(num_examples, config.train.batch_size)
  if config.train.num_steps > 0:
    return config.train.num_steps
  return max(1, config.train.num_epochs * per_epoch // config.gan.n_critic)


def steps_per_jit(config):
  """K steps per dispatch; 0 = auto: 50 on accelerators, 1 on CPU.

  On one H100 50 scanned steps ran 466-474 steps/s against 425 for one step per
  dispatch; on CPU a step takes ~1 s, so dispatch overhead does not matter and
  single steps compile fastest.
  """
  if config.train.steps_per_jit > 0:
    return config.train.steps_per_jit
  return 1 if jax.default_backend() == 'cpu' else 50


def next_chunk(step, total, config):
  """Steps until the next dispatch boundary: K steps, or an earlier log/eval/save/end."""
  t = config.train
  ends = [total, step + steps_per_jit(config)]
  ends += [(step // every + 1) * every for every in (t.log_every, t.eval_every, t.checkpoint_every)]
  ends += [s for s in t.checkpoint_steps if s > step]
  return min(ends) - step


def _is_boundary(step, every, total):
  return step % every == 0 or step == total


def _is_checkpoint(step, config, total):
  return _is_boundary(step, config.train.checkpoint_every, total) or step in config.train.checkpoint_steps


def _check_finite(records, step, workdir):
  for name in METRIC_NAMES:
    bad = ~np.isfinite(records[name])
    if bad.any():
      first = step - len(records[name]) + int(np.argmax(bad)) + 1
      raise NonFiniteLossError(
          f'{name} became {records[name][bad][0]} at step {first}; training stopped, the last '
          f'good checkpoint in {workdir}/checkpoints is kept (try a lower learning rate)')


class _Samples:
  """Fixed-noise grids: PNG per eval, TensorBoard image, GIF at the end."""

  def __init__(self, sampler, gan, config, workdir, writer):
    self._sample = sampler
    self._labels, self._cols = None, None
    if gan.num_classes:
      # One row per class; each column one latent, so a column shows one style.
      self._cols = max(1, config.train.num_samples // gan.num_classes)
      self._z, self._labels = class_grid_inputs(gan, fixed_noise(gan, config.seed, self._cols))
    else:
      self._z = fixed_noise(gan, config.seed, config.train.num_samples)
    self._dir = pathlib.Path(workdir) / 'samples'
    if distributed.is_primary():
      self._dir.mkdir(exist_ok=True)
    self._writer = writer

  def write(self, state):
    # Every process runs G (a computation on the global mesh); process 0 draws the grid.
    images = self._sample(sample_params(state), state.g_batch_stats, self._z, self._labels)
    path = self._dir / f'step_{int(state.step):07d}.png'
    if distributed.is_primary():
      grid = visualize.image_grid(input_pipeline.to_uint8(images), ncols=self._cols)
      visualize.save_png(path, grid)
      self._writer.write_image(int(state.step), 'samples', grid)
    return path


def _print(msg):
  logging.info('%s', msg)
  if distributed.is_primary():
    print(f'jaxgan: {msg}', flush=True)


class _Seed:
  """One member of the run: its config, workdir, checkpoints, metrics and grids.

  A population of N seeds keeps each member in `workdir/seed_S`, laid out as a
  solo run's workdir, so every tool that reads a workdir reads a member too.
  """

  def __init__(self, gan, sampler, config, workdir, evaluator):
    self.config, self.workdir = config, workdir
    self.keys = rngs(config.seed)
    self.manager = checkpointing.make_manager(workdir, config.train.max_checkpoints)
    self.best = checkpointing.make_best_manager(workdir) if evaluator else None
    self.writer = (metric_writers.MetricWriter(workdir) if distributed.is_primary()
                   else metric_writers.NullWriter())
    self.samples = _Samples(sampler, gan, config, workdir, self.writer)
    self._gan, self._sampler, self._evaluator = gan, sampler, evaluator

  def evaluate(self, state):
    """Scores the generator, logs the metrics, keeps the best checkpoint by FID."""
    pixels, labels = evaluation.generate(self._sampler, sample_params(state),
                                         state.g_batch_stats, self._gan,
                                         self._evaluator.num_samples, self.keys['eval'])
    metrics = self._evaluator.score(pixels, labels)
    self.writer.write_scalars(int(state.step),
                              {k: v for k, v in metrics.items() if isinstance(v, float)})
    checkpointing.save(self.best, state, metrics={'fid': metrics['fid']})
    return metrics

  def truncate(self, step):
    if not distributed.is_primary():
      return
    metric_writers.truncate_jsonl(self.workdir / metric_writers.METRICS_FILE, step)
    fingerprint.truncate(self.workdir, step)

  def save(self, state):
    checkpointing.save(self.manager, state)
    if distributed.is_primary():
      fingerprint.append(self.workdir, state)

  def close(self):
    self.writer.close()
    self.manager.wait_until_finished()
    if self.best is not None:
      self.best.wait_until_finished()
    if distributed.is_primary():
      _finish(self.workdir)


def _member_configs(config, workdir):
  if config.train.num_seeds == 1:
    return [(config, workdir)]
  members = []
  for i in range(config.train.num_seeds):
    member = config.copy_and_resolve_references()
    with member.unlocked():
      member.seed = config.seed + i
      member.train.num_seeds = 1
    members.append((member, prepare_workdir(workdir / f'seed_{member.seed}')))
  return members


def _restore(gan, seeds):
  """Each member's latest checkpoint, at the latest step that all of them have."""
  templates = [init_state(gan, s.keys['init']) for s in seeds]
  latest = [s.manager.latest_step() for s in seeds]
  if any(step is None for step in latest):
    return templates, 0
  step = min(latest)
  states = [checkpointing.restore(s.manager, t, step) for s, t in zip(seeds, templates)]
  return states, step


def _stack(trees):
  return trees[0] if len(trees) == 1 else jax.tree_util.tree_map(lambda *x: jnp.stack(x), *trees)


def _member(state, i, num_seeds):
  return state if num_seeds == 1 else jax.tree_util.tree_map(lambda x: x[i], state)


def make_population_steps(gan, batch_size, mesh=None):
  """make_train_steps vmapped over the state and the per-seed keys: one program for N GANs."""
  mesh = mesh if mesh is not None else make_mesh()
  check_batch_divides(batch_size, mesh)

  def steps(state, data, data_rngs, step_rngs, num_steps):
    one = lambda s, d, r: train_steps(gan, batch_size, mesh, s, data, d, r, num_steps)
    return jax.vmap(one)(state, data_rngs, step_rngs)
  return jax.jit(steps, static_argnums=4, donate_argnums=0, out_shardings=replicated(mesh))


def train_and_evaluate(config, workdir, on_checkpoint=None):
  """Trains the configured GAN (or `train.num_seeds` of them at once) in `workdir`.

  Resumes from the latest checkpoint. `on_checkpoint(step)` runs once each
  checkpoint is completely on disk.
  """
  watch = timing.Stopwatch()
  _validate(config)
  workdir = prepare_workdir(workdir)
  checkpointing.check_compatible(checkpointing.load_saved_config(workdir), config, workdir)
  _validate_gan(config.gan)
  optimizers.validate(config.optimizer)
  mesh = make_mesh()
  check_batch_divides(config.train.batch_size, mesh)
  # Process 0 prepares (and caches) the data set before the others read it.
  dataset = distributed.primary_first(lambda: input_pipeline.load_dataset(config.data),
                                      'data set ready')
  num_examples, t, num_seeds = len(dataset.images), config.train, config.train.num_seeds
  total = total_steps(config, num_examples)
  gan = make_gan(config, total)
  _check_labels(gan, dataset)
  members = _member_configs(config, workdir)
  for member_config, member_dir in members:
    checkpointing.check_compatible(checkpointing.load_saved_config(member_dir), member_config,
                                   member_dir)
  evaluator = (distributed.primary_first(lambda: evaluation.Evaluator(config, dataset),
                                         'evaluation classifier ready')
               if config.eval.enabled else None)
  if evaluator is not None:
    _print(f'sample quality: {evaluator.num_samples} samples against real digits; classifier '
           f'held-out accuracy {evaluator.classifier_info["heldout_accuracy"]:.4f}; real-vs-real '
           f'floor FID {evaluator.floor["fid"]:.3f}')
  sampler = make_sampler(gan)
  seeds = [_Seed(gan, sampler, c, w, evaluator) for c, w in members]
  states, step = _restore(gan, seeds)
  if step:
    _print(f'resuming from the checkpoint at step {step} in {workdir}')
  if distributed.is_primary():
    checkpointing.save_config(config, workdir)
  for seed, state in zip(seeds, states):
    if distributed.is_primary():
      checkpointing.save_config(seed.config, seed.workdir)
    seed.truncate(step)
    if step == 0:
      seed.samples.write(state)
  state = _stack(states)
  data_rngs, step_rngs = (_stack([s.keys[k] for s in seeds]) for k in ('data', 'step'))
  multi_step = (make_train_steps if num_seeds == 1 else make_population_steps)(
      gan, t.batch_size, mesh)
  _print(f'training {num_seeds} GAN{"s" if num_seeds > 1 else ""} on {dataset.description}: '
         f'{num_examples} images, {total} steps of batch {t.batch_size}, '
         f'{mesh.size} {jax.devices()[0].platform} device{"s" if mesh.size > 1 else ""}')

  # From host memory: a restored state sits on one local device, and several
  # processes build a global array only from the same host values on each.
  state, data_rngs, step_rngs, data = jax.device_put(
      jax.device_get((state, data_rngs, step_rngs,
                      {'image': dataset.images, 'label': dataset.labels})),
      replicated(mesh))
  progress = _progress_bar(config, step, total)
  watch.add('start-up', watch.elapsed())
  pending, t0, steps_since_log, compiled = [], time.perf_counter(), 0, set()
  try:
    while step < total:
      n = next_chunk(step, total, config)
      # The first call for each chunk length compiles; later ones only enqueue.
      with watch.part('compilation') if n not in compiled else contextlib.nullcontext():
        state, metrics = multi_step(state, data, data_rngs, step_rngs, n)
      compiled.add(n)
      pending.append(metrics)
      step += n
      steps_since_log += n
      log, save = _is_boundary(step, t.log_every, total), _is_checkpoint(step, config, total)
      draw = _is_boundary(step, t.eval_every, total)
      if log or save:
        # (num_seeds, steps) per metric; the host waits here only.
        records = {k: np.concatenate([np.asarray(m[k]).reshape(num_seeds, -1)
                                      for m in jax.device_get(pending)], axis=1)
                   for k in METRIC_NAMES}
        for i, seed in enumerate(seeds):
          _check_finite({k: v[i] for k, v in records.items()}, step, seed.workdir)
      if log:
        speed = steps_since_log / (time.perf_counter() - t0)
        for i, seed in enumerate(seeds):
          scalars = {k: float(np.mean(v[i])) for k, v in records.items()}
          epoch = step * gan.n_critic / (num_examples // t.batch_size)
          seed.writer.write_scalars(step, {**scalars, 'steps_per_sec': speed, 'epoch': epoch})
        if progress is not None:
          progress.update(steps_since_log)
          progress.set_postfix(d_loss=f'{np.mean(records["d_loss"]):.3f}',
                               g_loss=f'{np.mean(records["g_loss"]):.3f}', steps_s=f'{speed:.1f}')
        pending, steps_since_log = [], 0
      if draw or save:
        # The steps dispatched so far count as training, not as what waits for them.
        jax.block_until_ready(state)
      for i, seed in enumerate(seeds):
        if draw:
          with watch.part('grids'):
            seed.samples.write(_member(state, i, num_seeds))
          if evaluator is not None:
            with watch.part('evaluation'):
              m = seed.evaluate(_member(state, i, num_seeds))
            _print(f'step {step}{f" seed {seed.config.seed}" if num_seeds > 1 else ""}: '
                   f'FID {m["fid"]:.3f} (floor {m["fid_floor"]:.3f}), KID {m["kid"]:.4f}, '
                   f'precision {m["precision"]:.3f}, recall {m["recall"]:.3f}, '
                   f'classifier score {m["classifier_score"]:.2f}'
                   + (f', label accuracy {m["label_accuracy"]:.3f}' if 'label_accuracy' in m
                      else ''))
        if save:
          with watch.part('checkpoints'):
            seed.save(_member(state, i, num_seeds))
      if save and on_checkpoint is not None:
        with watch.part('checkpoints'):
          for seed in seeds:
            seed.manager.wait_until_finished()
        on_checkpoint(step)
      if log:
        # Steps/s counts training only: the clock restarts after grids, scores and saves.
        t0 = time.perf_counter()
  finally:
    if progress is not None:
      progress.close()
    with watch.part('closing'):   # the last checkpoint's writes, the GIF, the loss plot
      for seed in seeds:
        seed.close()
  if num_seeds > 1 and distributed.is_primary():
    _summarize_population(seeds)
  _print(f'done at step {step}; outputs in {workdir}; {watch.summary()}')
  return state


def _check_labels(gan, dataset):
  if not gan.num_classes:
    return
  labels = np.asarray(dataset.labels)
  if labels.min() < 0 or labels.max() >= gan.num_classes:
    raise JaxganError(f'{dataset.description} has labels {labels.min()}..{labels.max()}; a '
                      f'conditional model with model.num_classes={gan.num_classes} needs '
                      f'0..{gan.num_classes - 1}')


def _summarize_population(seeds):
  """Each member's last value of each metric, and their mean +/- standard deviation."""
  for name in ('fid', 'kid', 'precision', 'recall', 'd_loss', 'g_loss'):
    last = [[r[name] for r in metric_writers.read_metrics(s.workdir) if name in r] for s in seeds]
    if not all(last):
      continue
    values = np.array([v[-1] for v in last])
    per_seed = ', '.join(f'{s.config.seed}: {v:.4f}' for s, v in zip(seeds, values))
    _print(f'final {name} mean {values.mean():.4f} +/- {values.std(ddof=1):.4f} ({per_seed})')


def _progress_bar(config, step, total):
  if not config.train.progress_bar or not distributed.is_primary():
    return None
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  return tqdm(total=total, initial=step, unit='step', dynamic_ncols=True)


def _finish(workdir):
  workdir = pathlib.Path(workdir)
  visualize.save_gif(visualize.sample_paths(workdir), workdir / 'samples.gif')
  records = metric_writers.read_metrics(workdir)
  if records:
    visualize.plot_losses(records, workdir / 'losses.png')


def num_params(tree):
  return sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(tree))
