"""Latent codes (InfoGAN): G takes a categorical code, D's Q head predicts it, both descend
Q's cross-entropy times gan.code_weight; sampling, grids and resume treat codes as classes.
Continuous codes are z's first entries, which Q regresses (gan.continuous_codes)."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from PIL import Image

from helpers import resume_from_step_2, set_keys
from jaxgan import checkpointing
from jaxgan import fingerprint
from jaxgan import gan as gan_lib
from jaxgan import input_pipeline
from jaxgan import models
from jaxgan import sample
from jaxgan import sampling
from jaxgan import train
from jaxgan import update
from jaxgan.errors import JaxganError

K = 4


def _mlp_code_config(config, weight=0.5, codes=K, continuous=0, continuous_weight=1.0):
  """Tiny MLP GAN without dropout (deterministic D), `codes` codes, `continuous` continuous."""
  config.model.name = 'mlp'
  config.model.mlp_g_features = (16,)
  config.model.mlp_d_features = (16,)
  config.model.dropout_rate = 0.0
  config.train.batch_size = 8
  config.gan.latent_codes = codes
  config.gan.code_weight = weight if codes else 1.0
  config.gan.continuous_codes = continuous
  config.gan.continuous_weight = continuous_weight
  return config


def _real(config):
  data = input_pipeline.load_dataset(config.data)
  return input_pipeline.to_pixels(jnp.asarray(data.images[:config.train.batch_size]))


def _d_out(gan, params, x):
  """(D's logits, Q's code logits) on x, written with flax's intermediates capture."""
  logits, out = gan.discriminator.apply({'params': params}, x, train=False,
                                        mutable=['intermediates'])
  return logits, out['intermediates'][models.CODE_LOGITS][0]


def _cross_entropy(q, codes):
  """-mean log softmax(q)[code], written out."""
  log_p = q - jax.scipy.special.logsumexp(q, axis=1, keepdims=True)
  return -jnp.mean(jnp.take_along_axis(log_p, codes[:, None], axis=1))


def _assert_trees_close(a, b, **tol):
  for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree_util.tree_leaves(b)):
    np.testing.assert_allclose(x, y, err_msg=jax.tree_util.keystr(path), **tol)


def _max_diff(a, b):
  return max(float(jnp.abs(x - y).max())
             for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def test_q_head_reads_d_features_and_records_one_logit_per_code(config):
  gan = gan_lib.make_gan(_mlp_code_config(config))
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  assert state.d_params['q_head']['kernel'].shape == (16, K)
  logits, q = _d_out(gan, state.d_params, _real(config))
  assert logits.shape == (8,) and q.shape == (8, K)
  # G embeds the code as a conditional G embeds its label; D takes no label.
  assert state.g_params['Embed_0']['embedding'].shape == (K, config.model.label_embedding_dim)
  config.gan.latent_codes, config.gan.code_weight = 0, 1.0
  plain = gan_lib.init_state(gan_lib.make_gan(config), jax.random.PRNGKey(0))
  assert 'q_head' not in plain.d_params and 'Embed_0' not in plain.g_params


def test_d_update_descends_gan_loss_plus_weighted_q_cross_entropy(config):
  """With SGD at rate 1 D's new weights are its old ones minus the gradient of
  softplus(-D(real)) + softplus(D(fake)) + w * CE(Q(fake), codes), written here."""
  gan = gan_lib.make_gan(_mlp_code_config(config, weight=0.5))
  gan = dataclasses.replace(gan, d_tx=optax.sgd(1.0))
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  real = _real(config)
  fake = jnp.tanh(jax.random.normal(jax.random.PRNGKey(1), real.shape))
  codes = jnp.array([0, 1, 2, 3, 3, 2, 1, 0], jnp.int32)
  new, metrics = jax.jit(lambda s: update.d_update(gan, s, real, None, fake,
                                                   jax.random.PRNGKey(2), codes))(state)

  def written(p):
    r, _ = _d_out(gan, p, real)
    f, q = _d_out(gan, p, fake)
    loss = jnp.mean(jax.nn.softplus(-r)) + jnp.mean(jax.nn.softplus(f))
    ce = _cross_entropy(q, codes)
    return loss + 0.5 * ce, (loss, ce)

  grads, (loss, ce) = jax.grad(written, has_aux=True)(state.d_params)
  assert float(metrics['d_loss']) == pytest.approx(float(loss), rel=1e-5)
  assert float(metrics['code_loss']) == pytest.approx(float(ce), rel=1e-5)
  want = jax.tree_util.tree_map(lambda p, g: p - g, state.d_params, grads)
  _assert_trees_close(new.d_params, want, rtol=1e-5, atol=1e-6)
  # Q learns only from the code term: without it its weights would not move.
  assert _max_diff(new.d_params['q_head'], state.d_params['q_head']) > 1e-3


def _codes_and_latents(gan, rng, step, batch_size):
  """The latents and codes train_step draws at `step` (n_critic 1), derived here."""
  keys = jax.random.split(jax.random.fold_in(rng, step), 3)
  z = jax.random.normal(keys[0], (batch_size, gan.latent_dim))
  codes = jax.random.randint(jax.random.fold_in(keys[-1], 77), (1, batch_size), 0, K)[0]
  return z, codes


def _gaussian_nll(q, z, c):
  """Q's last c outputs against z's first c entries: mean over the batch of 0.5 * squared error."""
  return 0.5 * jnp.mean(jnp.sum((q[:, -c:] - z[:, :c]) ** 2, axis=1))


@pytest.mark.parametrize('codes', [K, 0])
def test_q_regresses_continuous_codes_after_the_code_logits(config, codes):
  gan = gan_lib.make_gan(_mlp_code_config(config, codes=codes, continuous=2))
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  assert state.d_params['q_head']['kernel'].shape == (16, codes + 2)
  # Continuous codes are z's first entries: G's input is as without them.
  assert ('Embed_0' in state.g_params) == bool(codes)
  _, q = _d_out(gan, state.d_params, _real(config))
  assert q.shape == (8, codes + 2)


@pytest.mark.parametrize('codes', [K, 0])
def test_d_update_descends_the_weighted_continuous_codes_error(config, codes):
  """SGD at rate 1: D's new weights are its old ones minus the gradient of the GAN loss +
  w_code * CE(Q's logits, codes) + w_cont * 0.5 * |Q's means - z[:, :2]|^2, written here."""
  gan = gan_lib.make_gan(_mlp_code_config(config, weight=0.5, codes=codes, continuous=2,
                                          continuous_weight=0.25))
  gan = dataclasses.replace(gan, d_tx=optax.sgd(1.0))
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  real = _real(config)
  fake = jnp.tanh(jax.random.normal(jax.random.PRNGKey(1), real.shape))
  z = 2.0 * jax.random.normal(jax.random.PRNGKey(4), (8, gan.latent_dim))
  codes_drawn = jnp.array([0, 1, 2, 3, 3, 2, 1, 0], jnp.int32) if codes else None
  new, metrics = jax.jit(lambda s: update.d_update(gan, s, real, None, fake,
                                                   jax.random.PRNGKey(2), codes_drawn, z))(state)

  def written(p):
    r, _ = _d_out(gan, p, real)
    f, q = _d_out(gan, p, fake)
    loss = jnp.mean(jax.nn.softplus(-r)) + jnp.mean(jax.nn.softplus(f))
    ce = _cross_entropy(q[:, :codes], codes_drawn) if codes else 0.0
    nll = _gaussian_nll(q, z, 2)
    return loss + 0.5 * ce + 0.25 * nll, (ce, nll)

  grads, (ce, nll) = jax.grad(written, has_aux=True)(state.d_params)
  assert float(metrics['continuous_loss']) == pytest.approx(float(nll), rel=1e-5)
  assert float(metrics['code_loss']) == pytest.approx(float(ce), rel=1e-5, abs=1e-7)
  want = jax.tree_util.tree_map(lambda p, g: p - g, state.d_params, grads)
  _assert_trees_close(new.d_params, want, rtol=1e-5, atol=1e-6)


def _g_step(config, labels=None):
  """One train_step of `config` (its batch's labels `labels`, zeros if None) with G at SGD
  rate 1 and D frozen by a zero rate: (its GAN, the state before, the state after, the rng)."""
  gan = gan_lib.make_gan(config)
  gan = dataclasses.replace(gan, d_tx=optax.sgd(0.0), g_tx=optax.sgd(1.0))
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  rng = jax.random.PRNGKey(5)
  labels = jnp.zeros(8, jnp.int32) if labels is None else labels
  batch = {'image': _real(config)[None], 'label': labels[None]}
  new, _ = jax.jit(lambda s: update.train_step(gan, s, batch, rng))(
      jax.tree_util.tree_map(jnp.copy, state))
  return gan, state, new, rng


def test_g_update_descends_g_loss_plus_weighted_q_cross_entropy(config):
  """G's new weights (SGD at rate 1; D frozen by a zero rate) are its old ones minus the
  gradient of softplus(-D(G(z, c))) + w * CE(Q(G(z, c)), c), with train_step's z and c."""
  gan, state, new, rng = _g_step(_mlp_code_config(config, weight=2.0))
  z, codes = _codes_and_latents(gan, rng, 0, 8)
  assert len(set(np.asarray(codes).tolist())) > 1

  def written(g_params, weight):
    fake, _ = gan.generator.apply({'params': g_params, 'batch_stats': state.g_batch_stats}, z,
                                  train=True, labels=codes, mutable=['batch_stats'])
    logits, q = _d_out(gan, state.d_params, fake)
    return jnp.mean(jax.nn.softplus(-logits)) + weight * _cross_entropy(q, codes)

  grads = jax.grad(written)(state.g_params, 2.0)
  want = jax.tree_util.tree_map(lambda p, g: p - g, state.g_params, grads)
  _assert_trees_close(new.g_params, want, rtol=1e-4, atol=1e-6)
  # ...and the code term is a real part of that update.
  without = jax.grad(written)(state.g_params, 0.0)
  assert _max_diff(grads, without) > 1e-3


@pytest.mark.parametrize('codes', [K, 0])
def test_g_update_descends_the_weighted_continuous_codes_error(config, codes):
  """G's new weights (SGD at rate 1, D frozen) are its old ones minus the gradient of
  softplus(-D(G(z, c))) + w_code * CE + w_cont * 0.5 * |Q's means - z[:, :2]|^2."""
  gan, state, new, rng = _g_step(_mlp_code_config(config, weight=2.0, codes=codes,
                                                  continuous=2, continuous_weight=3.0))
  z, drawn = _codes_and_latents(gan, rng, 0, 8)
  drawn = drawn if codes else None

  def written(g_params, weight):
    fake, _ = gan.generator.apply({'params': g_params, 'batch_stats': state.g_batch_stats}, z,
                                  train=True, labels=drawn, mutable=['batch_stats'])
    logits, q = _d_out(gan, state.d_params, fake)
    ce = 2.0 * _cross_entropy(q[:, :codes], drawn) if codes else 0.0
    return jnp.mean(jax.nn.softplus(-logits)) + ce + weight * _gaussian_nll(q, z, 2)

  grads = jax.grad(written)(state.g_params, 3.0)
  want = jax.tree_util.tree_map(lambda p, g: p - g, state.g_params, grads)
  _assert_trees_close(new.g_params, want, rtol=1e-4, atol=1e-6)
  without = jax.grad(written)(state.g_params, 0.0)
  assert _max_diff(grads, without) > 1e-3


def test_a_conditional_g_update_descends_the_continuous_codes_error_of_labelled_fakes(config):
  """A conditional model with continuous codes: G's update is the gradient of
  softplus(-D(G(z, y), y)) + w * 0.5 * |Q(G(z, y), y)'s means - z[:, :2]|^2, D and Q given
  the labels y (a projection D without them would drop its label term)."""
  config = _mlp_code_config(config, codes=0, continuous=2, continuous_weight=3.0)
  config.model.conditional = True
  labels = jnp.array([0, 1, 2, 3, 4, 5, 6, 7], jnp.int32)
  gan, state, new, rng = _g_step(config, labels)
  assert state.d_params['q_head']['kernel'].shape[-1] == 2
  z, _ = _codes_and_latents(gan, rng, 0, 8)

  def written(g_params, given):
    fake, _ = gan.generator.apply({'params': g_params, 'batch_stats': state.g_batch_stats}, z,
                                  train=True, labels=labels, mutable=['batch_stats'])
    logits, out = gan.discriminator.apply({'params': state.d_params}, fake, train=False,
                                          labels=given, mutable=['intermediates'])
    q = out['intermediates'][models.CODE_LOGITS][0]
    return jnp.mean(jax.nn.softplus(-logits)) + 3.0 * _gaussian_nll(q, z, 2)

  grads = jax.grad(written)(state.g_params, labels)
  want = jax.tree_util.tree_map(lambda p, g: p - g, state.g_params, grads)
  _assert_trees_close(new.g_params, want, rtol=1e-4, atol=1e-6)
  # D's labels are a real part of that update.
  assert _max_diff(grads, jax.grad(written)(state.g_params, jnp.zeros(8, jnp.int32))) > 1e-3


def test_a_code_model_samples_every_code_and_reports_no_labels(config):
  gan = gan_lib.make_gan(_mlp_code_config(config))
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  asked = []

  def draw(z, labels):
    asked.append(np.asarray(labels))
    return jnp.zeros((len(z), 28, 28, 1))

  pixels, labels = sampling.generate(draw, gan, 10, jax.random.PRNGKey(0), batch_size=6)
  assert pixels.shape == (10, 28, 28, 1) and labels is None   # codes are not classes
  np.testing.assert_array_equal(np.concatenate(asked), np.arange(12) % K)
  z, grid_codes = sampling.class_grid_inputs(gan, jnp.ones((3, gan.latent_dim)))
  np.testing.assert_array_equal(grid_codes, np.repeat(np.arange(K), 3))
  run = sampling.Run(config, gan, state, None)
  sampling.check_label(run, K - 1)
  with pytest.raises(JaxganError, match=rf"in 0..{K - 1} \(the model's codes\), not {K}"):
    sampling.check_label(run, K)


@pytest.mark.parametrize('changes, message', [
    ({'gan.latent_codes': 1}, 'latent_codes must be 0 .off. or at least 2, not 1'),
    ({'gan.latent_codes': 10, 'model.conditional': True}, 'is for an unconditional model'),
    ({'gan.latent_codes': 10, 'gan.code_weight': -1.0}, 'code_weight must be >= 0'),
    ({'gan.latent_codes': 10, 'gan.code_weight': float('nan')}, 'code_weight must be >= 0'),
    ({'gan.code_weight': 0.5}, 'code_weight has no effect without codes'),
    ({'gan.continuous_codes': -1}, r'continuous_codes must be between 0 .off. and model.latent_dim'),
    ({'gan.continuous_codes': 17}, r'model.latent_dim \(16\), not 17'),
    ({'gan.continuous_codes': 2, 'gan.continuous_weight': float('nan')},
     'continuous_weight must be >= 0'),
    ({'gan.continuous_weight': 0.5}, 'continuous_weight has no effect without continuous codes'),
])
def test_bad_code_settings_are_one_clear_error(config, changes, message):
  set_keys(config, changes)
  with pytest.raises(JaxganError, match=message):
    gan_lib.make_gan(config)


@pytest.mark.parametrize('continuous', [2, 0])
def test_code_run_draws_one_row_per_code_and_resumes_bit_exactly(config, tmp_path, continuous):
  config.gan.latent_codes = K
  config.gan.continuous_codes = continuous
  config.train.num_samples = 12
  config.train.checkpoint_steps = (2,)
  train.train_and_evaluate(config, tmp_path)
  grid = np.asarray(Image.open(tmp_path / 'samples' / 'step_0000008.png'))
  # K rows x 3 columns of 28-pixel digits with 2-pixel gaps, upscaled 4x.
  assert grid.shape[:2] == ((K * 30 + 2) * 4, (3 * 30 + 2) * 4)
  resumed, final = resume_from_step_2(config, tmp_path)
  assert fingerprint.read(resumed)[-1] == fingerprint.read(tmp_path)[-1]
  assert int(final.step) == 8
  out = tmp_path / 'vary.png'
  if not continuous:
    with pytest.raises(JaxganError, match='without continuous codes'):
      sample.produce(tmp_path, 'latest', 12, None, 0, None, out, vary=0)
    return
  # The continuous codes' traversal: one row per categorical code, 12 // K columns.
  assert sample.produce(tmp_path, 'latest', 12, None, 0, None, out, vary=1) == (12, 28, 28, 1)
  assert np.asarray(Image.open(out)).shape[:2] == ((K * 30 + 2) * 4, (3 * 30 + 2) * 4)
  with pytest.raises(JaxganError, match=r"--vary must be in 0..1 \(the model's continuous"):
    sample.produce(tmp_path, 'latest', 12, None, 0, None, out, vary=2)
  with pytest.raises(JaxganError, match='not a latent walk'):
    sample.produce(tmp_path, 'latest', 12, None, 0, None, tmp_path / 'walk.gif', vary=0)


def test_traversal_inputs_move_one_entry_from_minus_to_plus_two():
  rows = jnp.arange(2 * 5, dtype=jnp.float32).reshape(2, 5)
  z, labels = sampling.traversal_inputs(rows, 3, 5, labels=[7, 1])
  assert z.shape == (10, 5)
  np.testing.assert_array_equal(labels, [7] * 5 + [1] * 5)
  for r in range(2):
    block = np.asarray(z[5 * r:5 * r + 5])
    np.testing.assert_array_equal(block[:, 3], [-2.0, -1.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(np.delete(block, 3, axis=1),
                                  np.repeat(np.delete(np.asarray(rows[r:r + 1]), 3, axis=1), 5,
                                            axis=0))


@pytest.mark.parametrize('codes', [K, 0])
def test_traversal_draws_g_on_the_moved_latents(config, codes):
  """One row per categorical code sharing one latent, or 8 latents; G draws exactly those."""
  config = _mlp_code_config(config, codes=codes, continuous=2)
  gan = gan_lib.make_gan(config)
  run = sampling.Run(config, gan, gan_lib.init_state(gan, jax.random.PRNGKey(0)), None)
  images, cols = sampling.traversal(run, 1, num=24, seed=3)
  rows = codes or 8
  assert cols == 24 // rows and images.shape == (rows * cols, 28, 28, 1)
  base = sampling.latents(run, 1 if codes else rows, 3)
  z, labels = sampling.traversal_inputs(jnp.tile(base, (rows // len(base), 1)), 1, cols,
                                        jnp.arange(rows) if codes else None)
  np.testing.assert_array_equal(images, sampling.generate_from(run, z, labels))
  # The code changes what G draws along a row.
  assert float(jnp.abs(images[0] - images[cols - 1]).max()) > 1e-3
  if codes:   # --label: 8 latents of that code, one per row
    one, cols = sampling.traversal(run, 0, num=16, seed=3, label=2)
    z, labels = sampling.traversal_inputs(sampling.latents(run, 8, 3), 0, 2, jnp.full(8, 2))
    np.testing.assert_array_equal(one, sampling.generate_from(run, z, labels))


def test_traversal_needs_continuous_codes(config):
  gan = gan_lib.make_gan(_mlp_code_config(config))
  run = sampling.Run(config, gan, gan_lib.init_state(gan, jax.random.PRNGKey(0)), 'W')
  with pytest.raises(JaxganError, match=r'W holds a model without continuous codes'):
    sampling.traversal(run, 0)


def test_resuming_with_other_codes_is_refused_and_a_run_from_before_codes_resumes(config,
                                                                                  tmp_path):
  checkpointing.save_config(config, tmp_path)
  saved = checkpointing.load_saved_config(tmp_path)
  config.gan.latent_codes = K
  with pytest.raises(JaxganError, match=f'gan.latent_codes: 0 -> {K}'):
    checkpointing.check_compatible(saved, config, tmp_path)
  config.gan.latent_codes, config.gan.continuous_codes = 0, 2
  with pytest.raises(JaxganError, match='gan.continuous_codes: 0 -> 2'):
    checkpointing.check_compatible(saved, config, tmp_path)
  config.gan.continuous_codes = 0
  with saved.unlocked():
    del saved.gan['latent_codes']
    del saved.gan['continuous_codes']
  checkpointing.check_compatible(saved, config, tmp_path)


def test_each_critic_update_of_a_step_takes_its_own_codes(config):
  """n_critic 2: D's weights after the step equal two d_updates written here in turn, the
  i-th on real batch i and fakes G drew from z_i and codes[i] (train_step's draws)."""
  config = _mlp_code_config(config)
  config.gan.n_critic = 2
  gan = dataclasses.replace(gan_lib.make_gan(config), d_tx=optax.sgd(1.0), g_tx=optax.sgd(0.0))
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  real = _real(config)
  batch = {'image': jnp.stack([real, real[::-1]]), 'label': jnp.zeros((2, 8), jnp.int32)}
  rng = jax.random.PRNGKey(3)
  new, _ = jax.jit(lambda s: update.train_step(gan, s, batch, rng))(
      jax.tree_util.tree_map(jnp.copy, state))

  keys = jax.random.split(jax.random.fold_in(rng, 0), 5)
  codes = jax.random.randint(jax.random.fold_in(keys[-1], 77), (2, 8), 0, K)
  assert not np.array_equal(codes[0], codes[1])

  def two_updates(order):
    s = state
    for i, c in zip(range(2), order):
      z = jax.random.normal(keys[i], (8, gan.latent_dim))
      fake, stats = gan.generator.apply(
          {'params': s.g_params, 'batch_stats': s.g_batch_stats}, z, train=True,
          labels=codes[c], mutable=['batch_stats'])
      s, _ = update.d_update(gan, s.replace(g_batch_stats=stats['batch_stats']),
                             batch['image'][i], None, fake, keys[2 + i], codes[c])
    return s.d_params

  want = two_updates((0, 1))
  _assert_trees_close(new.d_params, want, rtol=1e-5, atol=1e-6)
  # ...and the codes matter: the two updates' codes swapped give another Q.
  assert _max_diff(two_updates((1, 0))['q_head'], want['q_head']) > 1e-4


@pytest.mark.parametrize('codes, continuous, missing', [(K, 0, 'the codes'), (0, 2, 'the latents z')])
def test_d_update_without_what_q_reads_is_a_clear_error(config, codes, continuous, missing):
  gan = gan_lib.make_gan(_mlp_code_config(config, codes=codes, continuous=continuous))
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  real = _real(config)
  with pytest.raises(ValueError, match=f'needs {missing}'):
    update.d_update(gan, state, real, None, real, jax.random.PRNGKey(1))
