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
  with pytest.raises(JaxganError, match='hinge'):
    losses.get_losses('hinge')
