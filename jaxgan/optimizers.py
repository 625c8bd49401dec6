"""G's and D's optimizers from the config: Adam or RMSProp, gradient clipping, schedules."""
import jax.numpy as jnp
import optax

from jaxgan.errors import ConfigError

SCHEDULES = ('constant', 'exponential', 'cosine')
OPTIMIZERS = ('adam', 'rmsprop')


def decay_fraction(o):
  """The share of the run a decay spans: a config saved before the key existed decays
  over the whole run."""
  return o.get('decay_fraction', 1.0)


def validate(o):
  if o.name not in OPTIMIZERS:
    raise ConfigError(f'optimizer.name must be one of {list(OPTIMIZERS)}, not {o.name!r}')
  if o.schedule not in SCHEDULES:
    raise ConfigError(f'optimizer.schedule must be one of {list(SCHEDULES)}, not {o.schedule!r}')
  if o.warmup_steps < 0:
    raise ConfigError(f'optimizer.warmup_steps must be >= 0, not {o.warmup_steps}')
  if not 0.0 < o.final_lr_fraction <= 1.0:
    raise ConfigError(f'optimizer.final_lr_fraction must be in (0, 1], not {o.final_lr_fraction}')
  if not 0.0 < decay_fraction(o) <= 1.0:
    raise ConfigError(f'optimizer.decay_fraction must be in (0, 1], not {o.decay_fraction}')
  if o.grad_clip_norm < 0:
    raise ConfigError(f'optimizer.grad_clip_norm must be >= 0 (0 = off), not {o.grad_clip_norm}')
  for key in ('g_learning_rate', 'd_learning_rate'):
    if o[key] <= 0:
      raise ConfigError(f'optimizer.{key} must be positive, not {o[key]}')
  for key in ('b1', 'b2'):
    if not 0.0 <= o[key] < 1.0:
      raise ConfigError(f'optimizer.{key} must be in [0, 1), not {o[key]}')


def learning_rate(o, peak, num_updates):
  """A float for a constant rate, else an optax schedule over `num_updates` updates.

  The decay ends at `decay_fraction` of the updates and holds its final rate after
  (optax's decays do); a config saved before the key existed decays over the whole run.
  """
  decay_end = round(num_updates * decay_fraction(o))
  if o.schedule != 'constant' and o.warmup_steps and decay_end <= o.warmup_steps:
    # The rate would climb to its peak and drop to its final value in one update.
    raise ConfigError(f'optimizer.decay_fraction {o.decay_fraction} ends the decay at update '
                      f'{decay_end}, within the warmup of {o.warmup_steps} updates')
  decay_steps = max(decay_end - o.warmup_steps, 1)
  if o.schedule == 'exponential':
    decay = optax.exponential_decay(peak, decay_steps, o.final_lr_fraction,
                                    end_value=peak * o.final_lr_fraction)
  elif o.schedule == 'cosine':
    decay = optax.cosine_decay_schedule(peak, decay_steps, alpha=o.final_lr_fraction)
  else:
    decay = optax.constant_schedule(peak)
  if o.warmup_steps == 0:
    return peak if o.schedule == 'constant' else decay
  return optax.join_schedules([optax.linear_schedule(0.0, peak, o.warmup_steps), decay],
                              [o.warmup_steps])


def make_optimizer(o, peak, num_updates, values=None):
  """The optimizer of one network; `num_updates` sizes the schedule (its structure never).

  `o` is checked by `validate` (gan.make_gan does it once for both networks).
  `values` ({'b1': ..., 'grad_clip_norm': ...}, traced numbers of a sweep
  member, see hyper.py) replaces o's numbers; `peak` may be traced too. The
  chain's structure still follows `o`: a member whose clipping norm is 0 then
  clips at infinity, which leaves its gradients as they are.
  """
  v = {k: o[k] for k in ('b1', 'b2', 'rmsprop_decay', 'grad_clip_norm')}
  v.update(values or {})
  lr = learning_rate(o, peak, num_updates)
  if o.name == 'adam':
    tx = optax.adam(lr, b1=v['b1'], b2=v['b2'], eps=o.eps)
  else:
    # eps outside the square root, as PyTorch's RMSprop (the WGAN reference) has it.
    tx = optax.rmsprop(lr, decay=v['rmsprop_decay'], eps=o.eps, eps_in_sqrt=False)
  if o.grad_clip_norm > 0:
    norm = v['grad_clip_norm']
    if values is not None and 'grad_clip_norm' in values:
      norm = jnp.where(norm > 0, norm, jnp.inf)
    tx = optax.chain(optax.clip_by_global_norm(norm), tx)
  return tx
