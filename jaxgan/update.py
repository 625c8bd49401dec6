"""The jitted update math: one D update, one training step, K steps in a scan, N seeds in a vmap.

Pure functions of (GAN, state, data, keys); the loop in train.py only calls
the jitted chunk. Randomness is fold_in(key, step), so a resumed run draws
exactly what an uninterrupted one would.
"""
import functools

import jax
import jax.numpy as jnp
import optax

from jaxgan import augment
from jaxgan import input_pipeline
from jaxgan import losses
from jaxgan import models
from jaxgan import parallel

METRIC_NAMES = ('d_loss', 'g_loss', 'd_real', 'd_fake', 'critic_gap', 'penalty', 'augment_p',
                'code_loss', 'continuous_loss', 'diversity')


def _has_penalty(gan):
  """Whether D's loss has a gradient penalty or R1."""
  return gan.gradient_penalty > 0 or gan.r1_gamma > 0


def logged_metrics(gan):
  """What train_step returns: METRIC_NAMES less those of parts this GAN does not have
  (they would log a constant)."""
  absent = {'penalty': not _has_penalty(gan),
            'augment_p': not gan.augment, 'code_loss': not gan.num_codes,
            'continuous_loss': not gan.num_continuous, 'diversity': not gan.mode_seeking}
  return tuple(name for name in METRIC_NAMES if not absent.get(name, False))


def _scan(body, carry, xs, length=None):
  # XLA:CPU runs convolutions inside a while loop many times slower than
  # straight-line code, so on CPU loops are unrolled.
  return jax.lax.scan(body, carry, xs, length=length, unroll=jax.default_backend() == 'cpu')


def _latents(gan, key, n):
  return jax.random.normal(key, (n, gan.latent_dim))


def _generate(gan, g_params, g_batch_stats, z, labels):
  """G(z) in training mode: the images and G's updated batch statistics."""
  fake, updates = gan.generator.apply({'params': g_params, 'batch_stats': g_batch_stats}, z,
                                      train=True, labels=labels, mutable=['batch_stats'])
  return fake, updates['batch_stats']


def _critic_fn(gan, d_params, d_batch_stats, labels, dropout_key, code_logits=False):
  """x -> D(x) with the given weights, spectral-norm vectors left as they are.

  With `code_logits`, x -> (D(x), Q's code logits on x).
  """
  def critic(x):
    out = gan.discriminator.apply({'params': d_params, 'batch_stats': d_batch_stats}, x,
                                  train=True, labels=labels, update_stats=False,
                                  rngs={'dropout': dropout_key},
                                  mutable=['intermediates'] if code_logits else False)
    if not code_logits:
      return out
    logits, variables_out = out
    return logits, _code_logits(variables_out)
  return critic


_AUGMENT_STREAM = 0x61756704
# Codes come from their own fold of the step's last key: the other draws stay as they were.
_CODE_STREAM = 77


def _codes(gan, key, shape):
  """G's categorical codes (n, B), uniform over gan.num_codes (None without codes).

  With mode seeking the first ceil(B / 2) codes are drawn and repeated, so that every
  pair of losses.pair_halves shares its code: the term then compares two latents of one
  code, which is where the codes make G's hand uniform.
  """
  if not gan.num_codes:
    return None
  key = jax.random.fold_in(key, _CODE_STREAM)
  if not gan.mode_seeking:
    return jax.random.randint(key, shape, 0, gan.num_codes)
  n, b = shape
  half = jax.random.randint(key, (n, b - b // 2), 0, gan.num_codes)
  return jnp.concatenate([half, half], axis=1)[:, :b]


def _mode_seeking(gan, fake, z, g_input):
  """(the mode-seeking term of G's loss, weighted; the diversity ratio it is made of)."""
  if g_input is None:
    same = jnp.ones((fake.shape[0] // 2,), bool)
  else:
    first, second = losses.pair_halves(g_input)
    same = first == second
  ratio = losses.diversity_ratio(fake, z, same)
  return gan.hyper['mode_seeking'] * losses.mode_seeking_loss(ratio, jnp.any(same)), ratio


def _code_logits(variables_out):
  """Q's output (code logits, then continuous estimates), as D recorded it in an apply."""
  return variables_out['intermediates'][models.CODE_LOGITS][0]


def _has_q(gan):
  """Whether D has a Q head: G draws categorical or continuous codes."""
  return bool(gan.num_codes or gan.num_continuous)


def _code_loss(q, codes):
  """Q's cross-entropy against the codes G drew from."""
  return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(q, codes))


def _info_losses(gan, q, codes, z):
  """(Q's cross-entropy on the categorical codes, Q's error on the continuous ones), 0 when off.

  Q's outputs are the categorical codes' logits, then the continuous codes' means; the
  continuous codes are z's first entries, scored by a unit-variance Gaussian's negative
  log-likelihood without its constant.
  """
  k, c = gan.num_codes, gan.num_continuous
  code_loss = _code_loss(q[:, :k], codes) if k else jnp.zeros(())
  continuous_loss = (0.5 * jnp.mean(jnp.sum(jnp.square(q[:, k:] - z[:, :c]), -1)) if c
                     else jnp.zeros(()))
  return code_loss, continuous_loss


def _info_total(gan, code_loss, continuous_loss):
  """The codes' terms of D's and G's losses, each times its weight."""
  total = jnp.zeros(())
  if gan.num_codes:
    total += gan.hyper['code_weight'] * code_loss
  if gan.num_continuous:
    total += gan.hyper['continuous_weight'] * continuous_loss
  return total


def _augment_p(state):
  """The probability of each augmentation op: ADA's, or 1."""
  p = getattr(state, 'augment_p', None)
  return jnp.ones(()) if p is None else p


def _augment(gan, key, x, p):
  """D's view of a batch: gan.augment's ops (DiffAugment), or x itself when off."""
  # fold_in leaves the keys of a run without augmentation exactly as they were.
  return augment.augment(jax.random.fold_in(key, _AUGMENT_STREAM), x, gan.augment, p)


def _d_penalty(gan, d_params, d_batch_stats, labels, drop_key, eps_key, real, fake):
  """D's gradient penalty and R1 terms, weighted (0 when both are off)."""
  penalty = jnp.zeros(())
  if _has_penalty(gan):
    critic = _critic_fn(gan, d_params, d_batch_stats, labels, drop_key)
    if gan.gradient_penalty > 0:
      eps = jax.random.uniform(eps_key, (real.shape[0],))
      penalty += gan.hyper['gradient_penalty'] * losses.gradient_penalty(critic, real, fake, eps)
    if gan.r1_gamma > 0:
      penalty += 0.5 * gan.hyper['r1_gamma'] * losses.r1_penalty(critic, real)
  return penalty


def _d_step(gan, state, grads, d_batch_stats):
  """The state after D's optimizer applies `grads` (and WGAN's clipping)."""
  updates, d_opt_state = gan.d_tx.update(grads, state.d_opt_state, state.d_params)
  d_params = optax.apply_updates(state.d_params, updates)
  if gan.weight_clip > 0:
    # A sweep member whose clip is 0 (off) clips at infinity.
    c = jnp.where(gan.hyper['weight_clip'] > 0, gan.hyper['weight_clip'], jnp.inf)
    d_params = jax.tree_util.tree_map(lambda p: jnp.clip(p, -c, c), d_params)
  return state.replace(d_params=d_params, d_batch_stats=d_batch_stats, d_opt_state=d_opt_state)


def _d_metrics(loss, penalty, real_logits, fake_logits, code_loss, continuous_loss):
  return {'d_loss': loss, 'penalty': penalty,
          'd_real': jnp.mean(jax.nn.sigmoid(real_logits)),
          'd_fake': jnp.mean(jax.nn.sigmoid(fake_logits)),
          'critic_gap': jnp.mean(real_logits) - jnp.mean(fake_logits),
          'real_sign': jnp.mean(jnp.sign(real_logits)), 'code_loss': code_loss,
          'continuous_loss': continuous_loss}


def d_update(gan, state, real, labels, fake, key, codes=None, z=None):
  """One D update on a real batch and G's fakes (which carry the real batch's labels).

  `codes`: the categorical codes G drew the fakes from, which D's Q head learns to tell;
  `z`: the latents they came from, whose first entries are its continuous codes.
  """
  if gan.num_codes and codes is None:
    raise ValueError('d_update: a GAN with categorical codes needs the codes its fakes came from')
  if gan.num_continuous and z is None:
    raise ValueError('d_update: a GAN with continuous codes needs the latents z its fakes came from')
  drop_key, eps_key = jax.random.split(key)
  fake = jax.lax.stop_gradient(fake)
  real = _augment(gan, jax.random.fold_in(key, 0), real, _augment_p(state))
  fake = _augment(gan, jax.random.fold_in(key, 1), fake, _augment_p(state))

  def objective(d_params):
    # One call on real and fake together; D has no batch statistics to mix.
    both_labels = None if labels is None else jnp.concatenate([labels, labels])
    logits, updates = gan.discriminator.apply(
        {'params': d_params, 'batch_stats': state.d_batch_stats},
        jnp.concatenate([real, fake]), train=True, labels=both_labels,
        rngs={'dropout': drop_key}, mutable=['batch_stats', 'intermediates'])
    real_logits, fake_logits = jnp.split(logits, 2)
    loss = gan.d_loss_fn(real_logits, fake_logits)
    code_loss = continuous_loss = jnp.zeros(())
    total = loss
    if _has_q(gan):
      code_loss, continuous_loss = _info_losses(gan, _code_logits(updates)[real.shape[0]:],
                                                codes, z)
      total = loss + _info_total(gan, code_loss, continuous_loss)
    penalty = _d_penalty(gan, d_params, state.d_batch_stats, labels, drop_key, eps_key, real,
                         fake)
    aux = (updates.get('batch_stats', {}), real_logits, fake_logits, loss, penalty, code_loss,
           continuous_loss)
    return total + penalty, aux

  (_, (d_batch_stats, real_logits, fake_logits, loss, penalty, code_loss,
       continuous_loss)), grads = (
      jax.value_and_grad(objective, has_aux=True)(state.d_params))
  return (_d_step(gan, state, grads, d_batch_stats),
          _d_metrics(loss, penalty, real_logits, fake_logits, code_loss, continuous_loss))


def _g_loss(gan, step, logits):
  """G's loss on D's logits of its fakes: top-k's share of them when gan.drop_worst is on."""
  if gan.drop_worst > 0:
    drop = losses.drop_share(step, logits.shape[0], gan.hyper['drop_worst'],
                             gan.drop_worst_images)
    return losses.top_k_g_loss(gan.g_loss_fn, logits, drop)
  return gan.g_loss_fn(logits)


def simultaneous_update(gan, state, real, labels, fake, key, z, g_input):
  """One D update, and G's loss and its gradient on `fake`, from one forward pass of D.

  The TensorFlow tutorial's order (gan.update_order 'simultaneous'): D runs once
  on the real batch and once on the fakes, and both networks' gradients come
  from those two passes, so G's gradient is taken against D before D's update.
  D's parameter gradient is d_update's arithmetic on the same batches (the real
  and fake halves in two calls, each with its own Dropout mask, as the tutorial
  makes them); G's loss is the one the alternating step takes. GANs with
  codes (a Q head) are refused by gan.validate. Returns (the state with D
  updated, D's metrics, dL_G/d fake, G's loss, the mode-seeking diversity).
  """
  drop_key, eps_key = jax.random.split(key)
  p = _augment_p(state)
  real = _augment(gan, jax.random.fold_in(key, 0), real, p)
  fake_view = lambda f: _augment(gan, jax.random.fold_in(key, 1), f, p)

  def apply(d_params, x, dropout_key):
    logits, updates = gan.discriminator.apply(
        {'params': d_params, 'batch_stats': state.d_batch_stats}, x, train=True, labels=labels,
        rngs={'dropout': dropout_key}, mutable=['batch_stats'])
    return logits, updates.get('batch_stats', {})

  # Spectral normalisation's vectors take the same step in both calls (it does not
  # depend on the input): the real call's are kept.
  real_logits, real_vjp, d_batch_stats = jax.vjp(
      lambda q: apply(q, real, jax.random.fold_in(drop_key, 0)), state.d_params, has_aux=True)
  fake_logits, fake_vjp, _ = jax.vjp(
      lambda q, f: apply(q, fake_view(f), jax.random.fold_in(drop_key, 1)),
      state.d_params, fake, has_aux=True)
  loss, (real_cot, fake_cot) = jax.value_and_grad(gan.d_loss_fn, argnums=(0, 1))(
      real_logits, fake_logits)
  grads = [real_vjp(real_cot)[0], fake_vjp(fake_cot)[0]]
  penalty = jnp.zeros(())
  if _has_penalty(gan):
    held = fake_view(jax.lax.stop_gradient(fake))
    penalty, penalty_grads = jax.value_and_grad(
        lambda q: _d_penalty(gan, q, state.d_batch_stats, labels, drop_key, eps_key, real,
                             held))(state.d_params)
    grads.append(penalty_grads)
  grads = jax.tree_util.tree_map(lambda *g: sum(g[1:], g[0]), *grads)

  g_loss, g_cot = jax.value_and_grad(lambda l: _g_loss(gan, state.step, l))(fake_logits)
  fake_grad = fake_vjp(g_cot)[1]
  diversity = jnp.zeros(())
  if gan.mode_seeking:
    (_, diversity), seeking_grad = jax.value_and_grad(
        lambda f: _mode_seeking(gan, f, z, g_input), has_aux=True)(fake)
    fake_grad = fake_grad + seeking_grad
  zero = jnp.zeros(())
  return (_d_step(gan, state, grads, d_batch_stats),
          _d_metrics(loss, penalty, real_logits, fake_logits, zero, zero), fake_grad, g_loss,
          diversity)


def _g_fake_grad(gan, state, fake, y, c, codes, z, g_drop_key):
  """G's loss against the updated D and its gradient on `fake`: (gradient, loss, diversity).

  `c`: G's discrete input (mode seeking pairs by it); `codes`: the categorical codes Q reads.
  """
  def critic(x):
    """D's logits on x and, for a code model, the codes' weighted terms of G's loss."""
    if not _has_q(gan):
      return _critic_fn(gan, state.d_params, state.d_batch_stats, y, g_drop_key)(x), 0.0
    logits, q = _critic_fn(gan, state.d_params, state.d_batch_stats, y, g_drop_key,
                           code_logits=True)(x)
    return logits, _info_total(gan, *_info_losses(gan, q, codes, z))

  def g_objective(f):
    logits, info = critic(_augment(gan, g_drop_key, f, _augment_p(state)))
    loss = _g_loss(gan, state.step, logits)
    total, diversity = loss + info, jnp.zeros(())
    if gan.mode_seeking:
      seeking, diversity = _mode_seeking(gan, f, z, c)
      total += seeking
    return total, (loss, diversity)

  (_, (g_loss, diversity)), d_fake_grad = jax.value_and_grad(g_objective, has_aux=True)(fake)
  return d_fake_grad, g_loss, diversity


def train_step(gan, state, batch, rng):
  """`gan.n_critic` D updates, then one G update against the updated D (or, with
  gan.update_order 'simultaneous', against D before its last update, from that
  update's forward pass: simultaneous_update).

  `batch` is {'image': (n_critic, B, H, W, C) in [-1, 1], 'label': (n_critic, B)}:
  one real batch per D update; 'label' conditions a conditional GAN's D and its
  fakes (a code model draws a code per fake instead). The extra D updates run
  in a lax.scan. G runs forward once for the last D update and the G update:
  its VJP is kept and pulled back through the G loss, which equals recomputing
  G(z) (same z, same batch statistics) without the second forward pass.
  Randomness is fold_in(rng, step), so a resumed run draws exactly what an
  uninterrupted one would. Returns the new state and the scalars named by
  logged_metrics(gan).
  """
  images = batch['image']
  labels = batch['label'] if gan.num_classes else jnp.zeros(images.shape[:2], jnp.int32)
  batch_size = images.shape[1]
  keys = jax.random.split(jax.random.fold_in(rng, state.step), 2 * gan.n_critic + 1)
  z_keys, d_keys, g_drop_key = keys[:gan.n_critic], keys[gan.n_critic:-1], keys[-1]
  as_labels = lambda y: y if gan.num_classes else None
  # G's discrete input per D update: the real batch's labels, or its codes.
  codes = _codes(gan, g_drop_key, labels.shape)
  g_inputs = labels if codes is None else codes
  as_g_input = lambda c: c if gan.num_classes or gan.num_codes else None
  as_codes = lambda c: c if gan.num_codes else None

  def critic_only(state, xs):
    real, y, c, z_key, d_key = xs
    z = _latents(gan, z_key, batch_size)
    fake, g_batch_stats = _generate(gan, state.g_params, state.g_batch_stats, z, as_g_input(c))
    return d_update(gan, state.replace(g_batch_stats=g_batch_stats), real, as_labels(y), fake,
                    d_key, as_codes(c), z)

  d_metrics = []
  if gan.n_critic > 1:
    state, m = _scan(critic_only, state, (images[:-1], labels[:-1], g_inputs[:-1], z_keys[:-1],
                                          d_keys[:-1]))
    d_metrics.append(m)

  y, c = as_labels(labels[-1]), as_g_input(g_inputs[-1])
  z = _latents(gan, z_keys[-1], batch_size)
  fake, g_vjp, g_batch_stats = jax.vjp(
      lambda p: _generate(gan, p, state.g_batch_stats, z, c), state.g_params, has_aux=True)
  if gan.update_order == 'simultaneous':
    state, m, d_fake_grad, g_loss, diversity = simultaneous_update(
        gan, state, images[-1], y, fake, d_keys[-1], z, c)
  else:
    state, m = d_update(gan, state, images[-1], y, fake, d_keys[-1], as_codes(c), z)
    d_fake_grad, g_loss, diversity = _g_fake_grad(gan, state, fake, y, c, as_codes(c), z,
                                                  g_drop_key)
  d_metrics.append(jax.tree_util.tree_map(lambda x: x[None], m))
  (g_grads,) = g_vjp(d_fake_grad)
  g_updates, g_opt_state = gan.g_tx.update(g_grads, state.g_opt_state, state.g_params)
  g_params = optax.apply_updates(state.g_params, g_updates)
  ema = state.ema_g_params
  if ema is not None:
    # Warmed up as TensorFlow's ExponentialMovingAverage(num_updates) does, so the
    # average does not keep the untrained weights for the first ~1/(1 - decay) steps.
    decay = jnp.minimum(gan.hyper['ema_decay'], (1.0 + state.step) / (10.0 + state.step))
    ema = optax.incremental_update(g_params, ema, step_size=1.0 - decay)

  # D's metrics averaged over its n_critic updates.
  metrics = jax.tree_util.tree_map(lambda *x: jnp.mean(jnp.concatenate(x)), *d_metrics)
  adaptive = {}
  if gan.augment_target > 0:
    adaptive['augment_p'] = augment.adapt_probability(
        state.augment_p, metrics['real_sign'], gan.hyper['augment_target'],
        batch_size * gan.n_critic,
        gan.augment_speed)
  new_state = state.replace(step=state.step + 1, g_params=g_params, g_batch_stats=g_batch_stats,
                            g_opt_state=g_opt_state, ema_g_params=ema, **adaptive)
  every = {**metrics, 'g_loss': g_loss, 'augment_p': _augment_p(state), 'diversity': diversity}
  return new_state, {name: every[name] for name in logged_metrics(gan)}


def make_train_step(gan):
  """`train_step(state, batch, rng) -> (state, metrics)`, jitted, state donated."""
  return jax.jit(functools.partial(train_step, gan), donate_argnums=0)


def _gather_batches(gan, images, labels, step, indices):
  """The real batches of step `step`, one per D update; `indices(b)`: the examples of D batch b.

  Batches are numbered by D update, so an epoch is one pass of D over the data.
  """
  def one(i):
    idx = indices(step * gan.n_critic + i)
    return input_pipeline.to_pixels(images[idx]), labels[idx]
  pixels, y = zip(*(one(i) for i in range(gan.n_critic)))
  return {'image': jnp.stack(pixels), 'label': jnp.stack(y)}


def draw_batch(gan, images, labels, perms, first_epoch, step, batch_size):
  """The real batches of step `step`, gathered on the device from the whole data set.

  `perms` holds the orders of the epochs from `first_epoch` on (input_pipeline.dispatch_orders,
  or EpochOrders).
  """
  return _gather_batches(gan, images, labels, step, lambda b: input_pipeline.batch_from(
      perms, first_epoch, b, batch_size))


def streamed_batch(gan, images, labels, first_step, step, batch_size):
  """The real batches of step `step` from a dispatch's own batches (streaming.Stream).

  `images` holds the dispatch's batches in order, one per D update, from step
  `first_step` on: the same images draw_batch would gather at those steps.
  """
  # A gather, as draw_batch's: the same operation lets XLA fuse the step the same way.
  first = first_step * gan.n_critic
  return _gather_batches(gan, images, labels, step,
                         lambda b: (b - first) * batch_size + jnp.arange(batch_size))


def train_chunk(gan, batch_size, mesh, state, data, data_rng, step_rng, num_steps,
                streamed=False, orders=None):
  """`num_steps` steps in one lax.scan, each drawing its batches on the device.

  `data` is {'image': uint8 (N, H, W, C), 'label': int32 (N,)}, replicated on
  every device of `mesh`, as is the state: the whole data set, or with
  `streamed` only this dispatch's batches in order (streaming.Stream; then
  `data_rng` is unused). `orders`: the epochs' orders these steps draw from
  (input_pipeline.EpochOrders), or None to draw them here from `data_rng`.
  Each batch is split over the mesh's 'data' axis; XLA partitions the step
  accordingly, all-reducing gradients and batch statistics, so 1 and N
  devices compute the same update.
  """
  batch_sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(None, 'data'))
  if streamed:
    first_step = state.step
    draw = lambda step: streamed_batch(gan, data['image'], data['label'], first_step, step,
                                       batch_size)
  else:
    first_batch, num_examples = state.step * gan.n_critic, data['image'].shape[0]
    if orders is None:
      perms, first_epoch = input_pipeline.dispatch_orders(
          data_rng, first_batch, num_steps * gan.n_critic, num_examples, batch_size)
    else:
      count = input_pipeline.epochs_spanned(num_steps * gan.n_critic, num_examples, batch_size)
      if orders.shape != (count, num_examples):
        # A gather past the orders' end would clamp: a wrong epoch's order, silently.
        raise ValueError(f'orders of shape {orders.shape} for {num_steps} steps over '
                         f'{num_examples} examples, which need {(count, num_examples)}')
      perms = orders
      first_epoch = input_pipeline.epoch_of(first_batch, num_examples, batch_size)
    draw = lambda step: draw_batch(gan, data['image'], data['label'], perms, first_epoch, step,
                                   batch_size)

  def body(state, _):
    batch = draw(state.step)
    batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
    return train_step(gan, state, batch, step_rng)

  # A single step, which a scan would still wrap in a loop, is called directly.
  if num_steps == 1:
    state, metrics = body(state, None)
    return state, jax.tree_util.tree_map(lambda m: m[None], metrics)
  return _scan(body, state, None, length=num_steps)


MEMBERS_AS = ('auto', 'vmap', 'loop')


def members_as(how):
  """'vmap' or 'loop' for train.members_as: auto is a loop on CPU, vmap elsewhere.

  vmap turns the members' convolutions into grouped ones, which fill an
  accelerator but which XLA:CPU runs far slower than the same convolutions
  one member at a time (docs/performance.md). A loop runs one member's
  program for each member in turn.
  """
  if how not in MEMBERS_AS:
    raise ValueError(f'train.members_as must be one of {list(MEMBERS_AS)}, not {how!r}')
  if how == 'auto':
    return 'loop' if jax.default_backend() == 'cpu' else 'vmap'
  return how


def make_train_chunk(gan, batch_size, mesh=None, num_members=1, how='auto', streamed=False):
  """Jitted multi-step update: (state, data, data_rng, step_rng, num_steps, hyper=None,
  orders=None) -> (state, metrics).

  Data-parallel over `mesh` (default: all devices); state and metrics come back
  replicated. With num_members > 1 the state and both keys carry a leading
  member axis: N GANs (seeds, or the points of a sweep) in one compiled program,
  which batches them (`how` = 'vmap') or runs for each in turn ('loop';
  members_as). `hyper` ({name: (N,) values}, hyper.py's
  names) gives each member its own numbers in place of the GAN's. `streamed`:
  `data` is each dispatch's own batches (streaming.Stream), for one member only.
  `orders`: the epochs' orders of these steps drawn beforehand
  (input_pipeline.EpochOrders, a leading member axis with members), or None to
  draw them in the step.
  """
  if streamed and num_members > 1:
    raise ValueError('streamed batches feed one GAN; populations and sweeps keep the data '
                     'on the device')
  mesh = mesh if mesh is not None else parallel.make_mesh()
  parallel.check_batch_divides(batch_size, mesh)
  how = members_as(how)

  def one(state, data, data_rng, step_rng, num_steps, hyper, orders):
    member = gan.with_values(hyper) if hyper else gan
    return train_chunk(member, batch_size, mesh, state, data, data_rng, step_rng, num_steps,
                       streamed, orders)

  def chunk(state, data, data_rng, step_rng, num_steps, hyper=None, orders=None):
    hyper = hyper or {}
    if num_members == 1 or how == 'loop':
      return one(state, data, data_rng, step_rng, num_steps, hyper, orders)
    return jax.vmap(lambda s, d, r, h, o: one(s, data, d, r, num_steps, h, o))(
        state, data_rng, step_rng, hyper, orders)
  jitted = jax.jit(chunk, static_argnums=4, donate_argnums=0,
                   out_shardings=parallel.replicated(mesh))
  if num_members == 1 or how == 'vmap':
    return jitted

  def looped(state, data, data_rng, step_rng, num_steps, hyper=None, orders=None):
    # One member's program, compiled once (the numbers of `hyper` are its
    # arguments) and run for each member in turn: a loop inside one program
    # would be compiled once per member, unrolled as XLA:CPU needs it.
    take = lambda tree, i: jax.tree_util.tree_map(lambda x: x[i], tree)
    outs = [jitted(take(state, i), data, data_rng[i], step_rng[i], num_steps, take(hyper or {}, i),
                   take(orders, i))
            for i in range(num_members)]
    return jax.tree_util.tree_map(lambda *x: jnp.stack(x), *outs)
  looped.member_program = jitted
  return looped


def make_d_probe(gan, num_members=1):
  """Jitted (state, uint8 images, labels) -> mean D(x) (a probability), D in inference mode.

  D's output on real images it trains on beside its output on real images it
  never sees is the overfitting signal of Karras et al. 2020.
  """
  def probe(state, images, labels):
    logits = gan.discriminator.apply(
        {'params': state.d_params, 'batch_stats': state.d_batch_stats},
        input_pipeline.to_pixels(images), train=False,
        labels=labels if gan.num_classes else None)
    return jnp.mean(jax.nn.sigmoid(logits))
  return jax.jit(probe if num_members == 1 else jax.vmap(probe, in_axes=(0, None, None)))
