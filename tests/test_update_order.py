"""gan.update_order 'simultaneous': both networks step on the gradients of one forward pass.

The TensorFlow tutorial's train_step takes G's and D's gradients from the same
forward pass, with D's weights before either update; the alternating default
takes G's against D after D's update. The reference below is that definition
written out with jax.grad, independently of update.py's VJPs.
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import augment
from jaxgan import gan as gan_lib
from jaxgan import losses
from jaxgan import update
from jaxgan.errors import ConfigError

RNG = jax.random.PRNGKey(7)
BATCH = 8


def _make(config, order, **settings):
  config.model.dropout_rate = settings.pop('dropout', 0.0)
  config.model.spectral_norm = settings.pop('spectral_norm', False)
  config.loss = settings.pop('loss', config.loss)
  for key in ('conditional', 'conditioning'):
    if key in settings:
      config.model[key] = settings.pop(key)
  config.gan.update_order = order
  for key, value in settings.items():
    config.gan[key] = value
  gan = gan_lib.make_gan(config)
  return gan, gan_lib.init_state(gan, jax.random.PRNGKey(0))


def _keys(gan, step):
  """The step's draws as train_step documents them: z's keys and the D updates' keys."""
  n = gan.n_critic
  keys = jax.random.split(jax.random.fold_in(RNG, step), 2 * n + 1)
  return keys[:n], keys[n:-1]


def _view(gan, key, x, p):
  """D's view of a batch at ADA's probability p (the ops are augment.py's, tested there)."""
  return augment.augment(jax.random.fold_in(key, update._AUGMENT_STREAM), x, gan.augment, p)


def _reference_step(gan, state, images, labels, step):
  """One step of the tutorial's order: every gradient at the old weights, one D pass per batch.

  With n_critic > 1 the D updates before the last are the alternating order's (D on the
  real and fake batches in one call), written out here too. Returns the state after the
  step and the metrics train_step logs.
  """
  z_keys, d_keys = _keys(gan, step)
  batch = images.shape[1]
  p = state.augment_p if gan.augment_target > 0 else 1.0
  signs, d_losses = [], []

  def pick(i):
    # A conditional model's G draws, and D reads, the real batch's labels.
    return (labels[i], labels[i]) if gan.num_classes else (None, None)

  def generate(gp, g_batch_stats, z, c):
    fake, updates = gan.generator.apply({'params': gp, 'batch_stats': g_batch_stats}, z,
                                        train=True, labels=c, mutable=['batch_stats'])
    return fake, updates['batch_stats']

  def d(dp, x, y, key):
    """A training pass: D's logits and its statistics (spectral norm's vectors step first)."""
    logits, updates = gan.discriminator.apply(
        {'params': dp, 'batch_stats': state.d_batch_stats}, x, train=True, labels=y,
        rngs={'dropout': key}, mutable=['batch_stats'])
    return logits, updates.get('batch_stats', {})

  def penalty_of(dp, y, drop_key, eps_key, real, fake):
    critic = lambda x: gan.discriminator.apply(
        {'params': dp, 'batch_stats': state.d_batch_stats}, x, train=True, labels=y,
        update_stats=False, rngs={'dropout': drop_key})
    penalty = 0.0
    if gan.gradient_penalty:
      eps = jax.random.uniform(eps_key, (batch,))
      penalty += gan.gradient_penalty * losses.gradient_penalty(critic, real, fake, eps)
    if gan.r1_gamma:
      penalty += 0.5 * gan.r1_gamma * losses.r1_penalty(critic, real)
    return penalty

  def d_apply_step(grads, d_batch_stats):
    d_updates, d_opt_state = gan.d_tx.update(grads, state.d_opt_state, state.d_params)
    d_params = optax.apply_updates(state.d_params, d_updates)
    if gan.weight_clip:
      d_params = jax.tree_util.tree_map(
          lambda w: jnp.clip(w, -gan.weight_clip, gan.weight_clip), d_params)
    return state.replace(d_params=d_params, d_opt_state=d_opt_state, d_batch_stats=d_batch_stats)

  for i in range(gan.n_critic - 1):
    # The alternating order's D update.
    y, c = pick(i)
    z = jax.random.normal(z_keys[i], (batch, gan.latent_dim))
    fake, g_batch_stats = generate(state.g_params, state.g_batch_stats, z, c)
    state = state.replace(g_batch_stats=g_batch_stats)
    drop_key, eps_key = jax.random.split(d_keys[i])
    real = _view(gan, jax.random.fold_in(d_keys[i], 0), images[i], p)
    fake = _view(gan, jax.random.fold_in(d_keys[i], 1), fake, p)

    def d_only(dp):
      both = None if y is None else jnp.concatenate([y, y])
      logits, d_batch_stats = d(dp, jnp.concatenate([real, fake]), both, drop_key)
      loss = gan.d_loss_fn(logits[:batch], logits[batch:])
      return (loss + penalty_of(dp, y, drop_key, eps_key, real, fake),
              (loss, logits[:batch], d_batch_stats))

    (_, (loss, real_logits, d_batch_stats)), grads = jax.value_and_grad(
        d_only, has_aux=True)(state.d_params)
    state = d_apply_step(grads, d_batch_stats)
    signs.append(jnp.mean(jnp.sign(real_logits)))
    d_losses.append(loss)

  y, c = pick(-1)
  z = jax.random.normal(z_keys[-1], (batch, gan.latent_dim))
  drop_key, eps_key = jax.random.split(d_keys[-1])
  real = _view(gan, jax.random.fold_in(d_keys[-1], 0), images[-1], p)
  fake_view = lambda f: _view(gan, jax.random.fold_in(d_keys[-1], 1), f, p)

  def d_objective(dp):
    fake = fake_view(jax.lax.stop_gradient(generate(state.g_params, state.g_batch_stats, z, c)[0]))
    real_logits, d_batch_stats = d(dp, real, y, jax.random.fold_in(drop_key, 0))
    loss = gan.d_loss_fn(real_logits, d(dp, fake, y, jax.random.fold_in(drop_key, 1))[0])
    # The logged loss is D's loss without its penalty.
    return (loss + penalty_of(dp, y, drop_key, eps_key, real, fake),
            (loss, real_logits, d_batch_stats))

  def g_objective(gp):
    fake, batch_stats = generate(gp, state.g_batch_stats, z, c)
    # The same weights, view and Dropout mask as D's fake pass: one forward pass.
    logits = d(state.d_params, fake_view(fake), y, jax.random.fold_in(drop_key, 1))[0]
    if gan.drop_worst:
      loss = losses.top_k_g_loss(gan.g_loss_fn, logits, losses.drop_share(
          step, batch, gan.drop_worst, gan.drop_worst_images))
    else:
      loss = gan.g_loss_fn(logits)
    total, ratio = loss, jnp.zeros(())
    if gan.mode_seeking:
      # MSGAN's term on G's images, pairs of one class (any pair when unconditional).
      same = (np.ones(batch // 2, bool) if c is None
              else np.equal(*losses.pair_halves(np.asarray(c))))
      assert same.any()   # else the term is 0 and this case tests nothing
      ratio = losses.diversity_ratio(fake, z, same)
      total += gan.mode_seeking * losses.mode_seeking_loss(ratio, True)
    return total, (loss, ratio, batch_stats)

  (_, (d_loss, real_logits, d_batch_stats)), d_grads = jax.value_and_grad(
      d_objective, has_aux=True)(state.d_params)
  (_, (g_loss, diversity, g_batch_stats)), g_grads = jax.value_and_grad(
      g_objective, has_aux=True)(state.g_params)
  signs.append(jnp.mean(jnp.sign(real_logits)))
  d_losses.append(d_loss)
  state = d_apply_step(d_grads, d_batch_stats)
  g_updates, g_opt_state = gan.g_tx.update(g_grads, state.g_opt_state, state.g_params)
  g_params = optax.apply_updates(state.g_params, g_updates)
  extra = {}
  if gan.augment_target > 0:
    extra['augment_p'] = augment.adapt_probability(
        p, jnp.mean(jnp.stack(signs)), gan.augment_target, batch * gan.n_critic,
        gan.augment_speed)
  if gan.ema_decay:
    # TensorFlow's ExponentialMovingAverage(num_updates) warm-up.
    decay = min(gan.ema_decay, (1.0 + step) / (10.0 + step))
    extra['ema_g_params'] = jax.tree_util.tree_map(
        lambda e, w: decay * e + (1.0 - decay) * w, state.ema_g_params, g_params)
  metrics = {'d_loss': jnp.mean(jnp.stack(d_losses)), 'g_loss': g_loss, 'augment_p': p,
             'diversity': diversity}
  return state.replace(step=state.step + 1, g_params=g_params, g_opt_state=g_opt_state,
                       g_batch_stats=g_batch_stats, **extra), metrics


def _batches(gan, steps):
  """Each step's real batches, one per D update, and their labels (two classes, so that
  some of mode seeking's pairs share theirs)."""
  rs = np.random.RandomState(2)
  images = rs.uniform(-1, 1, (steps, gan.n_critic, BATCH, 28, 28, 1)).astype(np.float32)
  return images, rs.randint(0, 2, (steps, gan.n_critic, BATCH)).astype(np.int32)


def _run(gan, state, batches):
  """The state after one train_step per batch, and each step's logged metrics."""
  step = jax.jit(lambda s, b: update.train_step(gan, s, b, RNG))
  logged = []
  for image, label in zip(*batches):
    state, metrics = step(state, {'image': image, 'label': label})
    logged.append({k: float(v) for k, v in metrics.items()})
  return state, logged


def _max_gap(a, b):
  assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
  return max((float(np.abs(np.asarray(x) - np.asarray(y)).max())
              for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))),
             default=0.0)


@pytest.mark.parametrize('settings', [
    {}, {'dropout': 0.3, 'r1_gamma': 1.0}, {'augment': 'translation,cutout'},
    {'spectral_norm': True},
    {'loss': 'wasserstein', 'gradient_penalty': 10.0, 'n_critic': 2, 'dropout': 0.3,
     'conditional': True},
    {'conditional': True, 'mode_seeking': 1.0, 'dropout': 0.3},
    {'conditional': True, 'conditioning': 'concat', 'drop_worst': 0.5, 'drop_worst_images': 16,
     'ema_decay': 0.9},
    {'loss': 'wasserstein', 'weight_clip': 0.05, 'n_critic': 2, 'augment': 'translation,color',
     'augment_target': 0.01, 'augment_speed': 64, 'spectral_norm': True}],
    ids=['plain', 'dropout_r1', 'augment', 'spectral_norm', 'conditional_wgan_gp_n_critic',
         'conditional_mode_seeking', 'concat_top_k_ema', 'ada_clip_spectral_norm_n_critic'])
def test_simultaneous_steps_equal_the_tutorials_order_written_out(config, settings):
  gan, state = _make(config, 'simultaneous', **dict(settings))
  batches = _batches(gan, 3)
  got, logged = _run(gan, state, batches)
  expected = state
  for i, (image, label) in enumerate(zip(*batches)):
    expected, metrics = _reference_step(gan, expected, image, label, i)
    for name, value in logged[i].items():
      if name in metrics:
        # A Wasserstein loss can sit near 0: absolute rounding then counts.
        np.testing.assert_allclose(value, float(metrics[name]), rtol=1e-5, atol=1e-6,
                                   err_msg=name)
  # Adam moves each weight by about its rate (1e-4) a step: a gradient taken against
  # other weights, another view or another mask shows as a gap of that size.
  for part in ('g_params', 'd_params', 'g_batch_stats', 'd_batch_stats', 'ema_g_params'):
    assert _max_gap(getattr(got, part), getattr(expected, part)) < 2e-6, part
  if gan.augment_target:
    # ADA's probability, from 0, moved by 2 * 8 / 64 a step: a later step's views were
    # drawn at a probability strictly between 0 and 1.
    assert any(0.0 < m['augment_p'] < 1.0 for m in logged[1:]), logged
    np.testing.assert_allclose(float(got.augment_p), float(expected.augment_p))
  if not settings:
    # The alternating order from the same start is a different update, which this
    # comparison tells apart: G steps against D after D's update.
    alternating, _ = _run(*_make(config, 'alternating'), batches)
    assert _max_gap(alternating.g_params, expected.g_params) > 2e-5


def test_the_update_order_is_checked(config):
  config.gan.update_order = 'interleaved'
  with pytest.raises(ConfigError, match="gan.update_order must be one of"):
    gan_lib.validate(config)
  config.gan.update_order = 'simultaneous'
  config.gan.latent_codes = 10
  with pytest.raises(ConfigError, match='cannot train gan.latent_codes'):
    gan_lib.validate(config)
  config.gan.latent_codes = 0
  gan_lib.validate(config)
