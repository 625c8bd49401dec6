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


def _make(config, order, dropout=0.0, r1_gamma=0.0):
  config.model.dropout_rate = dropout
  config.gan.update_order = order
  config.gan.r1_gamma = r1_gamma
  gan = gan_lib.make_gan(config)
  return gan, gan_lib.init_state(gan, jax.random.PRNGKey(0))


def _keys(step):
  """The step's draws as train_step documents them: (z, D's real-pass and fake-pass Dropout keys)."""
  z_key, d_key, _ = jax.random.split(jax.random.fold_in(RNG, step), 3)
  drop_key, _ = jax.random.split(d_key)
  return z_key, jax.random.fold_in(drop_key, 0), jax.random.fold_in(drop_key, 1)


def _reference_step(gan, state, real, step, r1_gamma):
  """One step of the tutorial's order: every gradient at the old weights, one D pass per batch."""
  z_key, real_key, fake_key = _keys(step)
  z = jax.random.normal(z_key, (BATCH, gan.latent_dim))

  def generate(gp):
    fake, updates = gan.generator.apply({'params': gp, 'batch_stats': state.g_batch_stats}, z,
                                        train=True, mutable=['batch_stats'])
    return fake, updates['batch_stats']

  def d(dp, x, key):
    return gan.discriminator.apply({'params': dp, 'batch_stats': state.d_batch_stats}, x,
                                   train=True, update_stats=False, rngs={'dropout': key})

  def d_objective(dp):
    fake = jax.lax.stop_gradient(generate(state.g_params)[0])
    loss = gan.d_loss_fn(d(dp, real, real_key), d(dp, fake, fake_key))
    penalty = 0.5 * r1_gamma * losses.r1_penalty(lambda x: d(dp, x, real_key), real)
    return loss + penalty, loss   # the logged loss is D's loss without its penalty

  def g_objective(gp):
    fake, batch_stats = generate(gp)
    # The same weights and the same Dropout mask as D's fake pass: one forward pass.
    return gan.g_loss_fn(d(state.d_params, fake, fake_key)), batch_stats

  (_, d_loss), d_grads = jax.value_and_grad(d_objective, has_aux=True)(state.d_params)
  (g_loss, g_batch_stats), g_grads = jax.value_and_grad(g_objective, has_aux=True)(state.g_params)
  d_updates, d_opt_state = gan.d_tx.update(d_grads, state.d_opt_state, state.d_params)
  g_updates, g_opt_state = gan.g_tx.update(g_grads, state.g_opt_state, state.g_params)
  return state.replace(step=state.step + 1,
                       d_params=optax.apply_updates(state.d_params, d_updates),
                       g_params=optax.apply_updates(state.g_params, g_updates),
                       d_opt_state=d_opt_state, g_opt_state=g_opt_state,
                       g_batch_stats=g_batch_stats), d_loss, g_loss


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
  return max(float(np.abs(np.asarray(x) - np.asarray(y)).max())
             for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


@pytest.mark.parametrize('dropout, r1_gamma', [(0.0, 0.0), (0.3, 0.0), (0.0, 1.0)],
                         ids=['plain', 'dropout', 'r1'])
def test_simultaneous_steps_equal_the_tutorials_order_written_out(config, dropout, r1_gamma):
  images = _images(3)
  gan, state = _make(config, 'simultaneous', dropout, r1_gamma)
  got, losses_got = _run(gan, state, images)
  expected = state
  for i, image in enumerate(images):
    expected, d_loss, g_loss = _reference_step(gan, expected, image, i, r1_gamma)
    np.testing.assert_allclose(losses_got[i], (float(d_loss), float(g_loss)), rtol=1e-5)
  # Adam moves each weight by about its rate (2e-4 here) a step: a gradient taken
  # against other weights or another mask shows as a gap of that size.
  for part in ('g_params', 'd_params', 'g_batch_stats'):
    assert _max_gap(getattr(got, part), getattr(expected, part)) < 2e-6, part

  # The alternating order from the same start is a different update, which this
  # comparison tells apart: G steps against D after D's update.
  alternating, _ = _run(*_make(config, 'alternating', dropout, r1_gamma), images)
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
