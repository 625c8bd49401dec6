"""GAN losses from discriminator logits (critic values), and gradient penalties.

Each loss is a pair (d_loss(real_logits, fake_logits), g_loss(fake_logits)) of
batch means; the cross-entropy ones are Keras' BinaryCrossentropy(from_logits=True).
"""
import functools

import jax
import jax.numpy as jnp
import optax

from jaxgan.errors import ConfigError


def _bce(logits, label):
  return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, jnp.full_like(logits, label)))


def d_loss_bce(real_logits, fake_logits, real_label=1.0):
  """-y log D(x) - (1 - y) log(1 - D(x)) - log(1 - D(G(z))), y the real label.

  y < 1 is one-sided label smoothing: fakes keep the label 0.
  """
  return _bce(real_logits, real_label) + _bce(fake_logits, 0.0)


def g_loss_non_saturating(fake_logits):
  """-log D(G(z)): the generator labels its fakes real (strong gradients early on)."""
  return _bce(fake_logits, 1.0)


def g_loss_minimax(fake_logits):
  """log(1 - D(G(z))): the original minimax objective, minimised by G."""
  return -_bce(fake_logits, 0.0)


def d_loss_hinge(real_logits, fake_logits):
  """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]."""
  return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))


def g_loss_critic(fake_logits):
  """-E[D(G(z))]: the generator's side of the hinge and Wasserstein losses."""
  return -jnp.mean(fake_logits)


def d_loss_wasserstein(real_logits, fake_logits):
  """E[D(G(z))] - E[D(x)]: minus the critic's estimate of the Wasserstein-1 distance."""
  return jnp.mean(fake_logits) - jnp.mean(real_logits)


def d_loss_least_squares(real_logits, fake_logits, real_label=1.0):
  """LSGAN: 1/2 E[(D(x) - y)^2] + 1/2 E[D(G(z))^2], y the real target."""
  return 0.5 * jnp.mean((real_logits - real_label) ** 2) + 0.5 * jnp.mean(fake_logits ** 2)


def g_loss_least_squares(fake_logits):
  """LSGAN: 1/2 E[(D(G(z)) - 1)^2]."""
  return 0.5 * jnp.mean((fake_logits - 1.0) ** 2)


# name -> (d_loss, g_loss, whether d_loss takes a real label)
LOSSES = {
    'non_saturating': (d_loss_bce, g_loss_non_saturating, True),
    'minimax': (d_loss_bce, g_loss_minimax, True),
    'hinge': (d_loss_hinge, g_loss_critic, False),
    'wasserstein': (d_loss_wasserstein, g_loss_critic, False),
    'least_squares': (d_loss_least_squares, g_loss_least_squares, True),
}


def get_losses(name, real_label=1.0):
  """(d_loss(real_logits, fake_logits), g_loss(fake_logits)) of the named loss."""
  if name not in LOSSES:
    raise ConfigError(f'loss must be one of {sorted(LOSSES)}, not {name!r}')
  d_loss, g_loss, takes_label = LOSSES[name]
  if not 0.0 < real_label <= 1.0:
    raise ConfigError(f'gan.real_label must be in (0, 1], not {real_label}')
  if takes_label:
    return functools.partial(d_loss, real_label=real_label), g_loss
  if real_label != 1.0:
    raise ConfigError(f'gan.real_label (label smoothing) has no meaning for the {name} loss; '
                      'leave it at 1.0')
  return d_loss, g_loss


def drop_share(step, batch_size, final, images):
  """The share of G's fakes left out at `step`: growing linearly from 0 to `final` over
  `images` generated images, then kept (top-k training's anneal)."""
  # In floats: step * batch_size outgrows int32 in long runs at large batches.
  return final * jnp.minimum(1.0, jnp.asarray(step, jnp.float32) * (batch_size / images))


def top_k_g_loss(g_loss, fake_logits, drop):
  """`g_loss` over the fakes D scores highest, the share `drop` it scores lowest left out.

  Top-k training (Sinha et al. 2020): the fakes D finds least real pull G
  towards the average of the modes; G learns from the others only. Every
  loss here is a batch mean of per-example terms, so it is taken per example
  and averaged over those kept: B - floor(drop * B) of them, and among equal
  scores the earlier fake ranks higher.
  """
  n = fake_logits.shape[0]
  rank = jnp.argsort(jnp.argsort(-fake_logits, stable=True))
  # A float32 share times B lands just off whole numbers (0.4 * 100 = 40.000002):
  # the tolerance keeps the count the share names.
  kept = (rank < n - jnp.floor(drop * n + 1e-3)).astype(fake_logits.dtype)
  per_example = jax.vmap(lambda x: g_loss(x[None]))(fake_logits)
  return jnp.sum(per_example * kept) / jnp.sum(kept)


def d_loss_with_label(name, real_label):
  """The named loss's d_loss with `real_label` (a number, or a traced sweep value)."""
  d_loss, _, takes_label = LOSSES[name]
  return functools.partial(d_loss, real_label=real_label) if takes_label else d_loss


def _per_example_sq_norm(grads):
  """Squared L2 norm of each example's gradient over every non-batch axis (H, W and C)."""
  return jnp.sum(jnp.square(grads), axis=tuple(range(1, grads.ndim)))


def gradient_penalty(critic, real, fake, eps):
  """WGAN-GP: E[(||grad_x D(x_hat)||_2 - 1)^2], x_hat = eps x + (1 - eps) G(z).

  `critic` maps a batch to one value per example; `eps` is (B,) uniform in [0, 1].
  The norm runs over all of an example's pixels and channels, not channels only.
  """
  eps = eps.reshape((-1,) + (1,) * (real.ndim - 1))
  x_hat = eps * real + (1.0 - eps) * fake
  grads = jax.grad(lambda x: jnp.sum(critic(x)))(x_hat)
  norms = jnp.sqrt(_per_example_sq_norm(grads) + 1e-12)
  return jnp.mean((norms - 1.0) ** 2)


def r1_penalty(critic, real):
  """R1 (Mescheder et al. 2018): E[||grad_x D(x)||^2] on real data; weight it by gamma / 2."""
  grads = jax.grad(lambda x: jnp.sum(critic(x)))(real)
  return jnp.mean(_per_example_sq_norm(grads))


def pair_halves(x):
  """(first, second): the batch's pairs (i, i + ceil(B / 2)), i < floor(B / 2).

  Pairs that skip the middle example of an odd batch, so that codes drawn for
  the first ceil(B / 2) fakes and repeated (update._codes) pair up equal.
  """
  n = x.shape[0] // 2
  return x[:n], x[x.shape[0] - n:]


def diversity_ratio(images, z, same):
  """MSGAN's ratio (Mao et al. 2019): mean |G(z1) - G(z2)| / mean |z1 - z2| over the pairs
  of `pair_halves` whose discrete input (class or code) is the same, `same` (B // 2,) bool.

  0 when no pair counts. The means run over all of a pair's pixels and latent entries, as
  the paper's code takes them.
  """
  (x1, x2), (z1, z2) = pair_halves(images), pair_halves(z)
  w = same.astype(images.dtype)
  d_image = jnp.mean(jnp.abs(x1 - x2), axis=tuple(range(1, images.ndim)))
  d_z = jnp.mean(jnp.abs(z1 - z2), axis=-1)
  return jnp.sum(w * d_image) / jnp.maximum(jnp.sum(w * d_z), 1e-12)


def mode_seeking_loss(ratio, any_pair, eps=1e-5):
  """1 / (ratio + eps), which G minimises: samples of one class or code drawn from
  distant latents are pushed apart, against the collapse of a mode to one image.
  0 without a pair to compare (`any_pair` false)."""
  return jnp.where(any_pair, 1.0 / (ratio + eps), 0.0)
