"""The benchmark's PyTorch port computes jaxgan's model and update, so its speed is comparable."""
import importlib.util

import jax
import numpy as np
import pytest

from helpers import ROOT, load_config
from jaxgan import gan as gan_lib
from jaxgan import update

torch = pytest.importorskip('torch', reason='PyTorch is not installed (pip install torch)')


def _port():
  spec = importlib.util.spec_from_file_location('torch_port', ROOT / 'benchmarks' / 'torch_port.py')
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.fixture
def setup(config):
  """jaxgan's small test model without dropout, its init state, and the port holding its weights."""
  tp = _port()
  config.model.dropout_rate = 0.0
  gan = gan_lib.make_gan(config)
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  m = config.model
  generator = tp.Generator(latent_dim=m.latent_dim, features=tuple(m.g_features))
  discriminator = tp.Discriminator(features=tuple(m.d_features), dropout=0.0)
  tp.load_jaxgan(generator, discriminator, state.g_params, state.g_batch_stats, state.d_params)
  return tp, config, gan, state, generator, discriminator


def _nchw(x):
  return torch.tensor(np.asarray(x)).permute(0, 3, 1, 2)


def test_parameter_counts_match_the_flax_models(setup):
  tp, config, gan, state, generator, discriminator = setup
  count = lambda module: sum(p.numel() for p in module.parameters())
  assert count(generator) == gan_lib.num_params(state.g_params)
  assert count(discriminator) == gan_lib.num_params(state.d_params)
  full = load_config('default')
  assert count(tp.Generator()) == gan_lib.num_params(
      gan_lib.init_state(gan_lib.make_gan(full), jax.random.PRNGKey(0)).g_params) == 2_305_472
  assert count(tp.Discriminator()) == 212_865


def test_same_padding_matches_xla():
  tp = _port()
  # 28 -> 14 and 14 -> 7 with a 5x5 stride-2 window: XLA pads 1 before, 2 after.
  assert tp.same_padding(28, 5, 2) == (1, 2)
  assert tp.same_padding(14, 5, 2) == (1, 2)
  assert tp.same_padding(7, 5, 1) == (2, 2)


def test_forward_passes_equal_jaxgan(setup):
  _, config, gan, state, generator, discriminator = setup
  # Non-trivial running statistics, so that inference-mode BN is exercised.
  bstats = jax.tree_util.tree_map(lambda x: x + 0.5 * np.random.RandomState(3).rand(*x.shape),
                                  state.g_batch_stats)
  _port().load_jaxgan(generator, discriminator, state.g_params, bstats, state.d_params)
  z = np.random.RandomState(0).randn(4, config.model.latent_dim).astype(np.float32)
  expected = gan.generator.apply({'params': state.g_params, 'batch_stats': bstats}, z, train=False)
  with torch.no_grad():
    got = generator.eval()(torch.tensor(z))
  np.testing.assert_allclose(got.permute(0, 2, 3, 1).numpy(), expected, atol=1e-5)
  assert float(np.abs(np.asarray(expected)).mean()) > 1e-3   # not a trivially-zero image

  x = np.random.RandomState(1).uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
  logits = gan.discriminator.apply({'params': state.d_params}, x, train=False)
  with torch.no_grad():
    np.testing.assert_allclose(discriminator.eval()(_nchw(x)).numpy(), logits, atol=1e-5)


def test_training_steps_equal_jaxgan(setup):
  """Three D-then-G updates from the same weights, latents and real batches agree."""
  tp, config, gan, state, generator, discriminator = setup
  batch_size, rng = 8, jax.random.PRNGKey(7)
  trainer = tp.Trainer(generator.train(), discriminator.train(), lr=config.optimizer.d_learning_rate,
                       betas=(config.optimizer.b1, config.optimizer.b2), eps=config.optimizer.eps)
  step = jax.jit(lambda s, b: update.train_step(gan, s, b, rng))
  initial = np.asarray(state.d_params['Dense_0']['kernel']).copy()
  images = np.random.RandomState(2).uniform(-1, 1, (3, batch_size, 28, 28, 1)).astype(np.float32)
  for i in range(3):
    # train_step's latents: the first of split(fold_in(rng, step), 3), as it documents.
    z_key = jax.random.split(jax.random.fold_in(rng, i), 3)[0]
    z = np.asarray(jax.random.normal(z_key, (batch_size, config.model.latent_dim)))
    state, metrics = step(state, {'image': images[i][None],
                                  'label': np.zeros((1, batch_size), np.int32)})
    d_loss, g_loss = trainer.step(_nchw(images[i]), torch.tensor(z))
    np.testing.assert_allclose(float(d_loss), metrics['d_loss'], rtol=1e-5)
    np.testing.assert_allclose(float(g_loss), metrics['g_loss'], rtol=1e-5)

  assert np.abs(np.asarray(state.d_params['Dense_0']['kernel']) - initial).max() > 1e-4
  # Adam's first steps move each weight by about lr = 1e-4, so a wrong gradient
  # sign anywhere would show as a 2e-4 difference.
  reference = tp.Generator(latent_dim=config.model.latent_dim, features=tuple(config.model.g_features))
  ref_d = tp.Discriminator(features=tuple(config.model.d_features), dropout=0.0)
  tp.load_jaxgan(reference, ref_d, state.g_params, state.g_batch_stats, state.d_params)
  for ours, theirs in ((generator, reference), (discriminator, ref_d)):
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
      np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), atol=2e-5, err_msg=name)
  # Running means follow the same update; PyTorch's running variance takes the
  # unbiased batch variance where Flax (and Keras) take the biased one.
  for bn, ref in ((generator.bn0, reference.bn0), (generator.bn2, reference.bn2)):
    np.testing.assert_allclose(bn.running_mean.numpy(), ref.running_mean.numpy(), atol=1e-6)


def test_measure_runs_the_configured_model(config):
  tp = _port()
  config.train.batch_size = 8
  stats = tp.measure(config, steps=2, num_examples=64, device='cpu')
  assert stats['steps'] == 2 and stats['finite_losses'] and not stats['bf16_autocast']
  assert stats['images_per_sec'] == pytest.approx(stats['steps_per_sec'] * 8)
  trainer = tp.make_trainer(config, 'cpu')
  assert trainer.g.f0 == config.model.g_features[0]
  assert trainer.g.bn0.momentum == pytest.approx(1 - config.model.bn_momentum)


def test_configs_the_port_cannot_run_are_named(config):
  tp = _port()
  assert tp.unsupported(config) is None
  config.gan.n_critic = 5
  config.loss = 'hinge'
  assert tp.unsupported(config) == 'the port has no equivalent of loss, gan.*'
