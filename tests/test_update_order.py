"""gan.update_order 'simultaneous': both networks step on the gradients of one forward pass.

The TensorFlow tutorial's train_step takes G's and D's gradients from the same
forward pass, with D's weights before either update; the alternating default
takes G's against D after D's update. The reference below is that definition
written out with jax.grad, independently of update.py's VJPs.
"""
import jax
import numpy as np
import optax
import pytest

from jaxgan import gan as gan_lib
from jaxgan import losses
from jaxgan import update
from jaxgan.errors import ConfigError

RNG = jax.random.PRNGKey(7)
BATCH = 8


def _make(config, order, **settings):
  config.model.dropout_rate = settings.pop('dropout', 0.0)
  config.model.spectral_norm = settings.pop('spectral_norm', False)
  config.gan.update_order = order
  for key, value in settings.items():
    config.gan[key] = value
  gan = gan_lib.make_gan(config)
  return gan, gan_lib.init_state(gan, jax.random.PRNGKey(0))


def _keys(step):
  """The step's draws as train_step documents them: z's key and the D update's key."""
  z_key, d_key, _ = jax.random.split(jax.random.fold_in(RNG, step), 3)
  return z_key, d_key


def _reference_step(gan, state, real, step):
  """One step of the tutorial's order: every gradient at the old weights, one D pass per batch."""
  z_key, d_key = _keys(step)
  drop_key, _ = jax.random.split(d_key)
  z = jax.random.normal(z_key, (BATCH, gan.latent_dim))
  # D's views of its inputs (the augmentation ops themselves are augment.py's, tested there).
  real = update._augment(gan, jax.random.fold_in(d_key, 0), real, 1.0)
  fake_view = lambda f: update._augment(gan, jax.random.fold_in(d_key, 1), f, 1.0)

  def generate(gp):
    fake, updates = gan.generator.apply({'params': gp, 'batch_stats': state.g_batch_stats}, z,
                                        train=True, mutable=['batch_stats'])
    return fake, updates['batch_stats']

  def d(dp, x, key):
    # A training pass: spectral normalisation's vectors take their step first.
    return gan.discriminator.apply({'params': dp, 'batch_stats': state.d_batch_stats}, x,
                                   train=True, rngs={'dropout': key}, mutable=['batch_stats'])[0]

  def d_objective(dp):
    fake = fake_view(jax.lax.stop_gradient(generate(state.g_params)[0]))
    loss = gan.d_loss_fn(d(dp, real, jax.random.fold_in(drop_key, 0)),
                         d(dp, fake, jax.random.fold_in(drop_key, 1)))
    penalty = 0.0
    if gan.r1_gamma:
      critic = lambda x: gan.discriminator.apply(
          {'params': dp, 'batch_stats': state.d_batch_stats}, x, train=True, update_stats=False,
          rngs={'dropout': drop_key})
      penalty = 0.5 * gan.r1_gamma * losses.r1_penalty(critic, real)
    return loss + penalty, loss   # the logged loss is D's loss without its penalty

  def g_objective(gp):
    fake, batch_stats = generate(gp)
    # The same weights, view and Dropout mask as D's fake pass: one forward pass.
    return gan.g_loss_fn(d(state.d_params, fake_view(fake), jax.random.fold_in(drop_key, 1))), (
        batch_stats)

  (_, d_loss), d_grads = jax.value_and_grad(d_objective, has_aux=True)(state.d_params)
  (g_loss, g_batch_stats), g_grads = jax.value_and_grad(g_objective, has_aux=True)(state.g_params)
  d_updates, d_opt_state = gan.d_tx.update(d_grads, state.d_opt_state, state.d_params)
  g_updates, g_opt_state = gan.g_tx.update(g_grads, state.g_opt_state, state.g_params)
  d_batch_stats = gan.discriminator.apply(
      {'params': state.d_params, 'batch_stats': state.d_batch_stats}, real, train=True,
      rngs={'dropout': drop_key}, mutable=['batch_stats'])[1].get('batch_stats', {})
  return state.replace(step=state.step + 1,
                       d_params=optax.apply_updates(state.d_params, d_updates),
                       g_params=optax.apply_updates(state.g_params, g_updates),
                       d_opt_state=d_opt_state, g_opt_state=g_opt_state,
                       g_batch_stats=g_batch_stats, d_batch_stats=d_batch_stats), d_loss, g_loss


def _images(steps):
  return np.random.RandomState(2).uniform(-1, 1, (steps, BATCH, 28, 28, 1)).astype(np.float32)


def _run(gan, state, images):
  step = jax.jit(lambda s, b: update.train_step(gan, s, b, RNG))
  out = []
  for image in images:
    state, metrics = step(state, {'image': image[None], 'label': np.zeros((1, BATCH), np.int32)})
    out.append((float(metrics['d_loss']), float(metrics['g_loss'])))
  return state, out


def _max_gap(a, b):
  assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
  return max((float(np.abs(np.asarray(x) - np.asarray(y)).max())
              for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))),
             default=0.0)


@pytest.mark.parametrize('settings', [
    {}, {'dropout': 0.3, 'r1_gamma': 1.0}, {'augment': 'translation,cutout'},
    {'spectral_norm': True}], ids=['plain', 'dropout_r1', 'augment', 'spectral_norm'])
def test_simultaneous_steps_equal_the_tutorials_order_written_out(config, settings):
  images = _images(3)
  gan, state = _make(config, 'simultaneous', **dict(settings))
  got, losses_got = _run(gan, state, images)
  expected = state
  for i, image in enumerate(images):
    expected, d_loss, g_loss = _reference_step(gan, expected, image, i)
    np.testing.assert_allclose(losses_got[i], (float(d_loss), float(g_loss)), rtol=1e-5)
  # Adam moves each weight by about its rate (1e-4) a step: a gradient taken against
  # other weights, another view or another mask shows as a gap of that size.
  for part in ('g_params', 'd_params', 'g_batch_stats', 'd_batch_stats'):
    assert _max_gap(getattr(got, part), getattr(expected, part)) < 2e-6, part
  if not settings:
    # The alternating order from the same start is a different update, which this
    # comparison tells apart: G steps against D after D's update.
    alternating, _ = _run(*_make(config, 'alternating'), images)
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
