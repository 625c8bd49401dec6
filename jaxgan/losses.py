"""GAN losses from discriminator logits.

Each loss is a pair (d_loss(real_logits, fake_logits), g_loss(fake_logits)),
batch means as Keras' BinaryCrossentropy(from_logits=True) takes them.
"""
import jax.numpy as jnp
import optax

from jaxgan.errors import JaxganError


def _bce(logits, label):
  return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, jnp.full_like(logits, label)))


def d_loss_bce(real_logits, fake_logits):
  """-log D(x) - log(1 - D(G(z))): real labelled 1, fake labelled 0."""
  return _bce(real_logits, 1.0) + _bce(fake_logits, 0.0)


def g_loss_non_saturating(fake_logits):
  """-log D(G(z)): the generator labels its fakes real (strong gradients early on)."""
  return _bce(fake_logits, 1.0)


def g_loss_minimax(fake_logits):
  """log(1 - D(G(z))): the original minimax objective, minimised by G."""
  return -_bce(fake_logits, 0.0)


LOSSES = {
    'non_saturating': (d_loss_bce, g_loss_non_saturating),
    'minimax': (d_loss_bce, g_loss_minimax),
}


def get_losses(name):
  if name not in LOSSES:
    raise JaxganError(f'loss must be one of {sorted(LOSSES)}, not {name!r}')
  return LOSSES[name]
