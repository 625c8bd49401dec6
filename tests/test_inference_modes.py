"""How G draws: BatchNorm running averages, statistics recomputed over many latents, or the batch's own."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import gan as gan_lib
from jaxgan import sampling
from jaxgan import train
from jaxgan.errors import JaxganError


@pytest.fixture
def trained(config, tmp_path):
  config.gan.ema_decay = 0.5
  config.optimizer.g_learning_rate = 5e-3
  state = train.train_and_evaluate(config, tmp_path)
  return gan_lib.make_gan(config), state


def _first_bn_inputs(gan, params, stats, z):
  """The first BatchNorm layer's input: G's dense projection of z, as the model computes it."""
  _, inter = gan.generator.apply({'params': params, 'batch_stats': stats}, z, train=False,
                                 capture_intermediates=True, mutable=['intermediates'])
  return inter['intermediates']['Dense_0']['__call__'][0]


def test_recomputed_statistics_are_the_mean_and_variance_over_the_latents(trained):
  gan, state = trained
  params = gan_lib.sample_params(state)
  key = jax.random.PRNGKey(7)
  stats = sampling.make_stats_recomputer(gan, num=512)(params, state.g_batch_stats, key)
  x = np.asarray(_first_bn_inputs(gan, params, state.g_batch_stats,
                                  jax.random.normal(key, (512, gan.latent_dim))), np.float64)
  np.testing.assert_allclose(stats['BatchNorm_0']['mean'], x.mean(0), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(stats['BatchNorm_0']['var'], x.var(0), rtol=1e-3, atol=1e-5)
  # Not the running averages, which followed the raw weights with momentum.
  assert not np.allclose(stats['BatchNorm_0']['mean'], state.g_batch_stats['BatchNorm_0']['mean'],
                         atol=1e-4)


def test_each_way_draws_with_its_own_statistics(trained):
  gan, state = trained
  z = jax.random.normal(jax.random.PRNGKey(3), (64, gan.latent_dim))
  params = gan_lib.sample_params(state)
  running = sampling.Drawer(gan, 'running').bind(state, 0)(z)
  np.testing.assert_allclose(running, gan.generator.apply(
      {'params': params, 'batch_stats': state.g_batch_stats}, z, train=False), atol=1e-6)
  recomputed = sampling.Drawer(gan, 'recomputed').bind(state, 0)(z)
  stats = sampling.make_stats_recomputer(gan)(params, state.g_batch_stats,
                                              jax.random.fold_in(gan_lib.rngs(0)['sample'], 1))
  np.testing.assert_allclose(recomputed, gan.generator.apply(
      {'params': params, 'batch_stats': stats}, z, train=False), atol=1e-6)
  batch = sampling.Drawer(gan, 'batch').bind(state, 0)(z)
  # Batch statistics: an image depends on the rest of its batch.
  assert not np.allclose(batch[:8], sampling.Drawer(gan, 'batch').bind(state, 0)(z[:8]), atol=1e-4)
  assert not np.allclose(running, recomputed, atol=1e-3)


def test_an_unknown_way_is_one_clear_error(config, tmp_path):
  config.eval.batch_norm = 'precise'
  with pytest.raises(JaxganError, match="eval.batch_norm must be one of"):
    train.train_and_evaluate(config, tmp_path)
