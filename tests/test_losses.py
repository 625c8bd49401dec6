import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import losses
from jaxgan.errors import JaxganError

REAL = jnp.array([2.0, -1.0, 0.0])
FAKE = jnp.array([0.5, -3.0, 4.0])


def sigmoid(x):
  return 1 / (1 + math.exp(-x))


def test_discriminator_bce_matches_formula():
  # -mean(log D(x)) - mean(log(1 - D(G(z)))), D = sigmoid(logit).
  expected = (-np.mean([math.log(sigmoid(x)) for x in [2.0, -1.0, 0.0]])
              - np.mean([math.log(1 - sigmoid(x)) for x in [0.5, -3.0, 4.0]]))
  assert float(losses.d_loss_bce(REAL, FAKE)) == pytest.approx(expected, rel=1e-6)
  # All-zero logits: D = 1/2 everywhere, loss = 2 log 2.
  assert float(losses.d_loss_bce(jnp.zeros(4), jnp.zeros(4))) == pytest.approx(2 * math.log(2))


def test_non_saturating_generator_loss_matches_formula():
  expected = -np.mean([math.log(sigmoid(x)) for x in [0.5, -3.0, 4.0]])
  assert float(losses.g_loss_non_saturating(FAKE)) == pytest.approx(expected, rel=1e-6)


def test_minimax_generator_loss_matches_formula():
  expected = np.mean([math.log(1 - sigmoid(x)) for x in [0.5, -3.0, 4.0]])
  assert float(losses.g_loss_minimax(FAKE)) == pytest.approx(expected, rel=1e-6)


def test_minimax_saturates_where_non_saturating_does_not():
  # A confident D (logit -10 on a fake): the minimax gradient vanishes (~sigmoid(-10)),
  # the non-saturating one stays near -1 (per example, averaged over 1).
  logit = jnp.array([-10.0])
  g_mm = float(jax.grad(losses.g_loss_minimax)(logit)[0])
  g_ns = float(jax.grad(losses.g_loss_non_saturating)(logit)[0])
  assert abs(g_mm) == pytest.approx(sigmoid(-10.0), rel=1e-4)
  assert g_ns == pytest.approx(-(1 - sigmoid(-10.0)), rel=1e-4)


def test_extreme_logits_stay_finite():
  big = jnp.array([1e4, -1e4])
  for value in (losses.d_loss_bce(big, big), losses.g_loss_non_saturating(big),
                losses.g_loss_minimax(big)):
    assert np.isfinite(float(value))


def test_unknown_loss_is_rejected():
  with pytest.raises(JaxganError, match='least_squares'):
    losses.get_losses('wgan')


def test_one_sided_label_smoothing_labels_real_0_9_and_fake_0():
  d_loss, _ = losses.get_losses('non_saturating', real_label=0.9)
  # -(0.9 log s(x) + 0.1 log(1 - s(x))) on reals; -log(1 - s(x)) on fakes.
  expected = (np.mean([-(0.9 * math.log(sigmoid(x)) + 0.1 * math.log(1 - sigmoid(x)))
                       for x in [2.0, -1.0, 0.0]])
              - np.mean([math.log(1 - sigmoid(x)) for x in [0.5, -3.0, 4.0]]))
  assert float(d_loss(REAL, FAKE)) == pytest.approx(expected, rel=1e-6)
  # Smoothing moves D's optimum on reals from +inf to logit(0.9).
  grad = jax.grad(lambda r: d_loss(r, FAKE))(jnp.full(3, math.log(9.0)))
  np.testing.assert_allclose(grad, 0.0, atol=1e-6)


def test_hinge_losses_match_formula():
  # mean(max(0, 1 - [2, -1, 0])) + mean(max(0, 1 + [0.5, -3, 4])) = 3/3 + 6.5/3
  d_loss, g_loss = losses.get_losses('hinge')
  assert float(d_loss(REAL, FAKE)) == pytest.approx((0 + 2 + 1) / 3 + (1.5 + 0 + 5) / 3)
  assert float(g_loss(FAKE)) == pytest.approx(-(0.5 - 3.0 + 4.0) / 3)


def test_wasserstein_losses_match_formula():
  d_loss, g_loss = losses.get_losses('wasserstein')
  assert float(d_loss(REAL, FAKE)) == pytest.approx((0.5 - 3.0 + 4.0) / 3 - (2.0 - 1.0 + 0.0) / 3)
  assert float(g_loss(FAKE)) == pytest.approx(-0.5)


def test_least_squares_losses_match_formula():
  d_loss, g_loss = losses.get_losses('least_squares')
  want_d = 0.5 * np.mean([(2 - 1) ** 2, (-1 - 1) ** 2, (0 - 1) ** 2]) + 0.5 * np.mean(
      [0.25, 9.0, 16.0])
  assert float(d_loss(REAL, FAKE)) == pytest.approx(want_d)
  assert float(g_loss(FAKE)) == pytest.approx(0.5 * np.mean([0.25, 16.0, 9.0]))
  smoothed, _ = losses.get_losses('least_squares', real_label=0.9)
  assert float(smoothed(jnp.full(3, 0.9), jnp.zeros(3))) == pytest.approx(0.0)


@pytest.mark.parametrize('name', ['hinge', 'wasserstein'])
def test_label_smoothing_is_refused_where_it_has_no_meaning(name):
  with pytest.raises(JaxganError, match='real_label'):
    losses.get_losses(name, real_label=0.9)


def test_gradient_penalty_takes_the_norm_over_all_non_batch_axes():
  """A linear critic D(x) = sum(w * x) has gradient w at every x_hat.

  w is 1 on one pixel of channel 0 and 1 on another pixel of channel 1, so
  its norm over H, W and C is sqrt(2): penalty (sqrt(2) - 1)^2. Taken over the
  channel axis only (the known bug), each pixel's norm would be 0 or 1 and
  the penalty would differ.
  """
  w = np.zeros((4, 4, 2), np.float32)
  w[0, 0, 0] = 1.0
  w[2, 3, 1] = 1.0
  critic = lambda x: jnp.sum(x * w, axis=(1, 2, 3))
  real, fake = jnp.ones((3, 4, 4, 2)), jnp.zeros((3, 4, 4, 2))
  gp = float(losses.gradient_penalty(critic, real, fake, jnp.array([0.0, 0.3, 1.0])))
  assert gp == pytest.approx((math.sqrt(2) - 1) ** 2, rel=1e-5)
  channels_only = np.mean((np.sqrt(np.sum(w ** 2, axis=-1)) - 1) ** 2)
  assert abs(gp - channels_only) > 0.1


def test_gradient_penalty_interpolates_between_real_and_fake():
  """D(x) = 0.5 * sum(x^2) has gradient x_hat = eps real + (1 - eps) fake."""
  critic = lambda x: 0.5 * jnp.sum(x ** 2, axis=(1, 2, 3))
  real, fake = jnp.full((2, 2, 2, 1), 1.0), jnp.full((2, 2, 2, 1), -1.0)
  eps = jnp.array([1.0, 0.25])
  # x_hat = 1 everywhere (norm 2) for eps 1; -0.5 everywhere (norm 1) for eps 0.25.
  want = np.mean([(2.0 - 1.0) ** 2, (1.0 - 1.0) ** 2])
  assert float(losses.gradient_penalty(critic, real, fake, eps)) == pytest.approx(want, rel=1e-5)


def test_r1_penalty_is_the_mean_squared_gradient_norm_on_reals():
  critic = lambda x: jnp.sum(3.0 * x, axis=(1, 2, 3))   # gradient 3 at each of 8 entries
  real = jnp.zeros((5, 2, 2, 2))
  assert float(losses.r1_penalty(critic, real)) == pytest.approx(9.0 * 8)


@pytest.mark.parametrize('name', sorted(losses.LOSSES))
def test_top_k_g_loss_is_the_loss_over_the_fakes_d_scores_highest(name):
  g_loss = losses.LOSSES[name][1]
  logits = jnp.array([0.5, -3.0, 4.0, 1.0, -0.5])
  # Dropping 0.4 of 5 keeps the 3 highest: 4.0, 1.0, 0.5.
  assert float(losses.top_k_g_loss(g_loss, logits, 0.4)) == pytest.approx(
      float(g_loss(jnp.array([4.0, 1.0, 0.5]))), rel=1e-6)
  # Nothing dropped: the plain batch mean.
  assert float(losses.top_k_g_loss(g_loss, logits, 0.0)) == pytest.approx(
      float(g_loss(logits)), rel=1e-6)
  # A share that is not a whole number of fakes keeps ceil((1 - drop) * B): 0.5 of 5 keeps 3.
  assert float(losses.top_k_g_loss(g_loss, logits, 0.5)) == pytest.approx(
      float(g_loss(jnp.array([4.0, 1.0, 0.5]))), rel=1e-6)


def test_top_k_g_loss_keeps_the_count_a_float32_share_names_and_breaks_ties_by_order():
  logits = jnp.zeros(100)
  # float32 0.4 * 100 is 40.000002: still 40 dropped, 60 kept, the first 60 of equal scores.
  grads = jax.grad(lambda x: losses.top_k_g_loss(losses.g_loss_critic, x, jnp.float32(0.4)))(
      logits)
  np.testing.assert_allclose(np.asarray(grads), [-1 / 60] * 60 + [0.0] * 40, rtol=1e-6)
  grads = jax.grad(lambda x: losses.top_k_g_loss(losses.g_loss_critic, x, jnp.float32(0.7)))(
      jnp.zeros(50))
  assert int((grads != 0).sum()) == 15


def test_top_k_g_loss_gives_the_dropped_fakes_no_gradient():
  logits = jnp.array([0.5, -3.0, 4.0, 1.0, -0.5])
  grads = jax.grad(lambda x: losses.top_k_g_loss(losses.g_loss_non_saturating, x, 0.4))(logits)
  # d/dx of mean over the kept 3 of -log sigmoid(x) is -(1 - sigmoid(x)) / 3.
  want = [-(1 - sigmoid(x)) / 3 if x in (0.5, 4.0, 1.0) else 0.0 for x in logits.tolist()]
  np.testing.assert_allclose(np.asarray(grads), want, rtol=1e-5, atol=0)
  assert float(grads[1]) == 0.0 and float(grads[4]) == 0.0


def test_the_dropped_share_grows_linearly_then_stays():
  share = lambda step: float(losses.drop_share(step, 64, 0.5, 64_000))
  assert share(0) == 0.0
  assert share(250) == pytest.approx(0.125)       # a quarter of the images: a quarter of 0.5
  assert share(1000) == pytest.approx(0.5)
  assert share(5000) == pytest.approx(0.5)
