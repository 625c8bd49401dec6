"""Mode seeking (MSGAN): G also minimises w / (mean |G(z1) - G(z2)| / mean |z1 - z2| + 1e-5)
over pairs of its batch that share their class or code (gan.mode_seeking)."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import gan as gan_lib
from jaxgan import input_pipeline
from jaxgan import losses
from jaxgan import train
from jaxgan import update
from jaxgan.errors import ConfigError

B = 8


def _mlp_config(config, weight=2.0, codes=0, conditional=False):
  """Tiny MLP GAN without dropout (a deterministic D) and batch B."""
  config.model.name = 'mlp'
  config.model.mlp_g_features = (16,)
  config.model.mlp_d_features = (16,)
  config.model.dropout_rate = 0.0
  config.model.conditional = conditional
  config.train.batch_size = B
  config.gan.latent_codes = codes
  config.gan.mode_seeking = weight
  return config


def test_the_ratio_pairs_the_halves_and_counts_only_pairs_of_one_class():
  # Batch of 4: pairs (0, 2) and (1, 3); images of 2 pixels, latents of 2 entries.
  images = jnp.array([[0.0, 0.0], [1.0, 1.0], [0.5, -0.5], [1.0, 0.0]])[:, :, None, None]
  z = jnp.array([[0.0, 0.0], [0.0, 0.0], [1.0, 3.0], [2.0, 2.0]])
  # |dx| means 0.5 and 0.5, |dz| means 2 and 2.
  both = losses.diversity_ratio(images, z, jnp.array([True, True]))
  assert float(both) == pytest.approx((0.5 + 0.5) / (2 + 2))
  images = images.at[1].set(jnp.array([3.0, 3.0])[:, None, None])   # pair (1, 3): |dx| 2.5
  assert float(losses.diversity_ratio(images, z, jnp.array([True, True]))) == pytest.approx(
      (0.5 + 2.5) / 4)
  assert float(losses.diversity_ratio(images, z, jnp.array([False, True]))) == pytest.approx(
      2.5 / 2)
  assert float(losses.diversity_ratio(images, z, jnp.array([False, False]))) == 0.0


def test_an_odd_batch_pairs_around_its_middle_example():
  x = jnp.arange(5.0)
  first, second = losses.pair_halves(x)
  assert first.tolist() == [0.0, 1.0] and second.tolist() == [3.0, 4.0]


def test_the_loss_is_one_over_the_ratio_and_zero_without_a_pair():
  assert float(losses.mode_seeking_loss(jnp.float32(0.25), True)) == pytest.approx(
      1 / (0.25 + 1e-5))
  assert float(losses.mode_seeking_loss(jnp.float32(0.0), False)) == 0.0


@pytest.mark.parametrize('batch', [8, 7])
def test_codes_are_drawn_for_the_first_half_and_repeated(config, batch):
  key = jax.random.PRNGKey(3)
  gan = gan_lib.make_gan(_mlp_config(config, codes=5))
  codes = update._codes(gan, key, (2, batch))
  assert codes.shape == (2, batch)
  head = batch - batch // 2
  np.testing.assert_array_equal(codes[:, head:], codes[:, :batch // 2])
  first, second = losses.pair_halves(codes[0])
  assert bool(jnp.all(first == second)) and len(set(codes[0].tolist())) > 1
  # Without mode seeking the codes are drawn as they always were: one per fake.
  plain = gan_lib.make_gan(_mlp_config(config, weight=0.0, codes=5))
  np.testing.assert_array_equal(
      update._codes(plain, key, (2, batch)),
      jax.random.randint(jax.random.fold_in(key, 77), (2, batch), 0, 5))


def _g_step(config, labels=None):
  """One train_step with G at SGD rate 1 and D frozen by a zero rate:
  (the GAN, the state before and after, the metrics, z and G's discrete input)."""
  gan = gan_lib.make_gan(config)
  gan = dataclasses.replace(gan, d_tx=optax.sgd(0.0), g_tx=optax.sgd(1.0))
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  rng = jax.random.PRNGKey(5)
  data = input_pipeline.load_dataset(config.data)
  real = input_pipeline.to_pixels(jnp.asarray(data.images[:B]))
  labels = jnp.zeros(B, jnp.int32) if labels is None else labels
  batch = {'image': real[None], 'label': labels[None]}
  new, metrics = jax.jit(lambda s: update.train_step(gan, s, batch, rng))(
      jax.tree_util.tree_map(jnp.copy, state))
  keys = jax.random.split(jax.random.fold_in(rng, 0), 3)
  z = jax.random.normal(keys[0], (B, gan.latent_dim))
  g_input = labels if gan.num_classes else None
  if gan.num_codes:
    g_input = update._codes(gan, keys[-1], (1, B))[0]
  return gan, state, new, metrics, z, g_input


def _written(gan, state, z, g_input, pairs):
  """G's loss written out: softplus(-D(G(z))) (+ Q's cross-entropy for codes) + w / (ratio +
  1e-5), the ratio's means over the pairs (i, i + B/2) listed in `pairs`."""
  labels_for_d = g_input if gan.num_classes else None

  def loss(g_params, weight):
    fake, _ = gan.generator.apply({'params': g_params, 'batch_stats': state.g_batch_stats}, z,
                                  train=True, labels=g_input, mutable=['batch_stats'])
    logits, out = gan.discriminator.apply({'params': state.d_params}, fake, train=False,
                                          labels=labels_for_d, mutable=['intermediates'])
    total = jnp.mean(jax.nn.softplus(-logits))
    if gan.num_codes:
      q = out['intermediates']['code_logits'][0]
      total += jnp.mean(optax.softmax_cross_entropy_with_integer_labels(q, g_input))
    if pairs:
      d_image = sum(jnp.mean(jnp.abs(fake[i] - fake[i + B // 2])) for i in pairs)
      d_z = sum(jnp.mean(jnp.abs(z[i] - z[i + B // 2])) for i in pairs)
      total += weight / (d_image / d_z + 1e-5)
    return total, d_image / d_z if pairs else 0.0
  return loss


def _check_g_update(gan, state, new, metrics, z, g_input, pairs, weight=2.0):
  loss = _written(gan, state, z, g_input, pairs)
  grads, ratio = jax.grad(loss, has_aux=True)(state.g_params, weight)
  want = jax.tree_util.tree_map(lambda p, g: p - g, state.g_params, grads)
  for x, y in zip(jax.tree_util.tree_leaves(new.g_params), jax.tree_util.tree_leaves(want)):
    np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-6)
  if pairs:
    assert float(metrics['diversity']) == pytest.approx(float(ratio), rel=1e-5)
    # The term is a real part of the update.
    without, _ = jax.grad(loss, has_aux=True)(state.g_params, 0.0)
    assert max(float(jnp.abs(a - b).max()) for a, b in zip(
        jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(without))) > 1e-3


def test_an_unconditional_g_update_descends_the_mode_seeking_term_over_all_pairs(config):
  gan, state, new, metrics, z, g_input = _g_step(_mlp_config(config))
  assert set(metrics) == set(update.logged_metrics(gan)) and 'diversity' in metrics
  _check_g_update(gan, state, new, metrics, z, g_input, pairs=range(B // 2))


def test_a_code_model_compares_two_latents_of_each_code(config):
  gan, state, new, metrics, z, codes = _g_step(_mlp_config(config, codes=4))
  first, second = losses.pair_halves(codes)
  assert bool(jnp.all(first == second))
  _check_g_update(gan, state, new, metrics, z, codes, pairs=range(B // 2))


def test_a_conditional_model_compares_only_pairs_of_one_label(config):
  labels = jnp.array([0, 1, 2, 3, 0, 5, 2, 7], jnp.int32)   # pairs 0 and 2 share a label
  gan, state, new, metrics, z, y = _g_step(_mlp_config(config, conditional=True), labels)
  _check_g_update(gan, state, new, metrics, z, y, pairs=(0, 2))


def test_a_batch_without_a_pair_of_one_label_is_left_as_without_the_term(config):
  labels = jnp.arange(B, dtype=jnp.int32)
  gan, state, new, metrics, z, y = _g_step(_mlp_config(config, conditional=True), labels)
  _check_g_update(gan, state, new, metrics, z, y, pairs=())
  assert float(metrics['diversity']) == 0.0


def test_off_logs_no_diversity(config):
  gan, _, _, metrics, _, _ = _g_step(_mlp_config(config, weight=0.0))
  assert 'diversity' not in metrics and 'diversity' not in update.logged_metrics(gan)


@pytest.mark.parametrize('value', [-1.0, float('nan')])
def test_a_negative_weight_is_one_clear_error(config, value):
  with pytest.raises(ConfigError, match='gan.mode_seeking must be >= 0'):
    gan_lib.make_gan(_mlp_config(config, weight=value))


def test_a_bad_weight_is_refused_before_the_workdir_is_made(config, tmp_path):
  config.gan.mode_seeking = -1.0
  with pytest.raises(ConfigError, match='gan.mode_seeking must be >= 0'):
    train.train_and_evaluate(config, tmp_path / 'run')
  assert not (tmp_path / 'run').exists()
