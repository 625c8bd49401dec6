"""Conditional GAN, WGAN(-GP), and the stabilisers: each behaves as its definition says."""
import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from PIL import Image

from helpers import load_config
from helpers import resume_from_step_2
from jaxgan import checkpointing
from jaxgan import fingerprint
from jaxgan import gan as gan_lib
from jaxgan import input_pipeline
from jaxgan import optimizers
from jaxgan import sampling
from jaxgan import train
from jaxgan import update
from jaxgan.errors import JaxganError

def _small(config, **changes):
  """The test config (tiny networks) with `changes` ('gan.n_critic': 3, ...) applied."""
  for key, value in changes.items():
    group, name = key.split('.')
    config[group][name] = value
  return config


def _batch(config, n_critic=1, offset=0):
  data = input_pipeline.load_dataset(config.data)
  b = config.train.batch_size
  idx = np.arange(offset, offset + n_critic * b).reshape(n_critic, b)
  return {'image': input_pipeline.to_pixels(jnp.asarray(data.images[idx])),
          'label': jnp.asarray(data.labels[idx])}


def _step(gan, state, batch, seed=0):
  return jax.jit(lambda s, b: update.train_step(gan, s, b, jax.random.PRNGKey(seed)))(state, batch)


def _count(opt_state):
  return int(optax.tree_utils.tree_get(opt_state, 'count'))


@pytest.mark.parametrize('name', ['mnist', 'mnist_cpu', 'mnist_best', 'mnist_cgan', 'mnist_wgan',
                                  'mnist_wgan_gp', 'mnist_mlp', 'fashion_mnist'])
def test_every_config_trains_a_few_steps_with_finite_losses(name, tmp_path):
  """The config's own networks, optimizer and losses, on the sample digits."""
  config = load_config(name)
  test = load_config('test')
  config.data = test.data
  config.train.num_steps = 2
  config.train.batch_size = 16
  config.train.steps_per_jit = 1
  config.train.progress_bar = False
  config.eval.enabled = False
  train.train_and_evaluate(config, tmp_path)
  records = [json.loads(line) for line in (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  assert records[-1]['step'] == 2
  for name in update.METRIC_NAMES:
    assert all(np.isfinite(r[name]) for r in records if name in r), name
  assert {k for k in update.METRIC_NAMES if k in records[-1]} == set(
      update.logged_metrics(gan_lib.make_gan(config)))
  assert (tmp_path / 'checkpoints' / '2').is_dir()


_EVERYTHING = {'gan.augment': 'translation', 'gan.augment_target': 0.6, 'gan.r1_gamma': 1.0,
               'gan.continuous_codes': 2}


@pytest.mark.parametrize('name,overrides,parts', [
    ('mnist', {}, ()), ('mnist_wgan_gp', {}, ('penalty',)), ('mnist_best', {}, ()),
    ('mnist_best', {'model.clusters': 0, 'gan.latent_codes': 10}, ('code_loss',)),
    ('mnist_cgan', {'gan.continuous_codes': 2}, ('continuous_loss',)),
    ('mnist_best', {**_EVERYTHING, 'model.clusters': 0, 'gan.latent_codes': 10},
     ('penalty', 'augment_p', 'code_loss', 'continuous_loss'))])
def test_a_run_logs_the_metrics_of_the_parts_it_has(name, overrides, parts):
  """A penalty, augmentation or Q's losses are logged by runs that have them, not as constant 0."""
  config = load_config(name)
  for key, value in overrides.items():
    section, leaf = key.split('.')
    config[section][leaf] = value
  assert update.logged_metrics(gan_lib.make_gan(config)) == (
      'd_loss', 'g_loss', 'd_real', 'd_fake', 'critic_gap') + parts


def test_cgan_generator_output_depends_on_the_label(config):
  gan = gan_lib.make_gan(_small(config, **{'model.conditional': True}))
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  z = jnp.tile(jax.random.normal(jax.random.PRNGKey(1), (1, gan.latent_dim)), (10, 1))
  images = np.asarray(sampling.make_sampler(gan)(state.g_params, state.g_batch_stats, z,
                                              jnp.arange(10)))
  # The same latent, ten labels: ten different images; the same label twice: equal, to
  # float32 rounding (XLA:CPU may compute two rows of a batch along different vector paths).
  assert all(np.abs(images[i] - images[j]).max() > 1e-3
             for i in range(10) for j in range(i + 1, 10))
  again = sampling.make_sampler(gan)(state.g_params, state.g_batch_stats, z[:2], jnp.array([3, 3]))
  np.testing.assert_allclose(again[0], again[1], rtol=0, atol=1e-6)


@pytest.mark.parametrize('conditioning', ['projection', 'concat'])
def test_conditional_discriminator_depends_on_the_label(config, conditioning):
  gan = gan_lib.make_gan(_small(config, **{'model.conditional': True,
                                          'model.conditioning': conditioning}))
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  x = jnp.tile(_batch(config)['image'][0, :1], (10, 1, 1, 1))
  logits = gan.discriminator.apply({'params': state.d_params, 'batch_stats': {}}, x, train=False,
                                   labels=jnp.arange(10))
  assert len(np.unique(np.round(np.asarray(logits), 6))) == 10
  with pytest.raises(ValueError, match='needs labels'):
    gan.discriminator.apply({'params': state.d_params}, x, train=False)


def test_spectral_norm_keeps_the_top_singular_value_near_one(config):
  config.model.spectral_norm = True
  config.model.d_features = (32, 64)
  gan = gan_lib.make_gan(config)
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  # Weights three times their initial scale: far from unit spectral norm.
  d_params = jax.tree_util.tree_map(lambda p: 3.0 * p, state.d_params)
  x = _batch(config)['image'][0]
  variables = {'params': d_params, 'batch_stats': state.d_batch_stats}
  apply = jax.jit(lambda v: gan.discriminator.apply(v, x, train=True, mutable=['batch_stats'],
                                                    rngs={'dropout': jax.random.PRNGKey(0)})[1])
  for _ in range(30):   # power iteration, one step per training call
    variables = {'params': d_params, **apply(variables)}
  stats = variables['batch_stats']
  checked = 0
  for group in stats.values():   # {'Conv_0/kernel/sigma': ..., 'Conv_0/kernel/u': ...}
    name = next(k for k in group if k.endswith('/kernel/sigma'))
    layer = name.split('/')[0]
    sigma = float(group[name])
    kernel = np.asarray(d_params[layer]['kernel'])
    matrix = kernel.reshape(-1, kernel.shape[-1])
    raw_top = np.linalg.svd(matrix, compute_uv=False)[0]
    assert raw_top > 1.5                      # the unnormalised weight is far from 1
    normalised_top = np.linalg.svd(matrix / sigma, compute_uv=False)[0]
    assert normalised_top == pytest.approx(1.0, abs=0.05), layer
    checked += 1
  assert checked == 3   # two convolutions and the output layer


def test_spectral_norm_state_advances_inside_the_train_step(config):
  gan = gan_lib.make_gan(_small(config, **{'model.spectral_norm': True}))
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  # The power iteration's vectors of the two convolutions (the output layer's is 1 x 1).
  vectors = lambda stats: {k: np.asarray(v) for group in stats.values() for k, v in group.items()
                           if k.startswith('Conv') and k.endswith('/u')}
  before = vectors(state.d_batch_stats)
  new, _ = _step(gan, state, _batch(config))
  after = vectors(new.d_batch_stats)
  assert len(before) == 2 and all(not np.allclose(after[k], before[k]) for k in before)


@pytest.mark.parametrize('step, decay', [(0, 0.1), (5, 0.4), (1000, 0.9)])
def test_ema_follows_its_formula_with_warmup(config, step, decay):
  # decay_t = min(gan.ema_decay, (1 + t) / (10 + t)): at step 0 the average mostly follows G.
  gan = gan_lib.make_gan(_small(config, **{'gan.ema_decay': 0.9}))
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  np.testing.assert_array_equal(jax.tree_util.tree_leaves(state.ema_g_params)[0],
                                jax.tree_util.tree_leaves(state.g_params)[0])
  state = state.replace(step=jnp.asarray(step, jnp.int32), ema_g_params=jax.tree_util.tree_map(
      lambda p: p + 0.5, state.ema_g_params))
  old_ema = jax.tree_util.tree_map(np.array, state.ema_g_params)
  new, _ = _step(gan, state, _batch(config))
  for ema, old, g in zip(*(jax.tree_util.tree_leaves(t)
                           for t in (new.ema_g_params, old_ema, new.g_params))):
    np.testing.assert_allclose(ema, decay * old + (1 - decay) * np.asarray(g), rtol=1e-5,
                               atol=1e-6)
  assert gan_lib.sample_params(new) is new.ema_g_params


def test_without_ema_the_state_keeps_no_copy(config):
  state = gan_lib.init_state(gan_lib.make_gan(config), jax.random.PRNGKey(0))
  assert state.ema_g_params is None and gan_lib.sample_params(state) is state.g_params


@pytest.mark.parametrize('n_critic', [1, 3])
def test_n_critic_makes_n_discriminator_updates_per_generator_update(config, n_critic):
  gan = gan_lib.make_gan(_small(config, **{'gan.n_critic': n_critic}))
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  batch = _batch(config, n_critic)
  for _ in range(2):
    state, metrics = _step(gan, state, batch)
  assert _count(state.d_opt_state) == 2 * n_critic
  assert _count(state.g_opt_state) == 2 and int(state.step) == 2
  assert np.isfinite(float(metrics['d_loss']))


def _assert_trees_close(a, b, **tol):
  for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree_util.tree_leaves(b)):
    np.testing.assert_allclose(x, y, err_msg=jax.tree_util.keystr(path), **tol)


def test_critic_steps_use_one_real_batch_each(config):
  """An n_critic = 3 step is three D updates, the i-th on real batch i and fakes
  of G in training mode (advancing its batch statistics) from the step's i-th
  latent key, then one G update: redone here by hand with the same keys. (The
  plumbing does not depend on the model: a one-layer MLP GAN keeps the compiles
  short.)"""
  config.train.batch_size = 8
  gan = gan_lib.make_gan(_small(config, **{'gan.n_critic': 3, 'model.name': 'mlp',
                                          'model.mlp_g_features': (16,),
                                          'model.mlp_d_features': (16,)}))
  init = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  batch = _batch(config, 3)
  rng = jax.random.PRNGKey(0)
  step = jax.jit(lambda b: update.train_step(gan, init, b, rng)[0])
  stepped = step(batch)

  @jax.jit
  def by_hand(state, images):
    keys = jax.random.split(jax.random.fold_in(rng, state.step), 2 * 3 + 1)
    for i in range(3):   # z_keys = keys[:3], d_keys = keys[3:6]
      z = jax.random.normal(keys[i], (images.shape[1], gan.latent_dim))
      fake, g_stats = update._generate(gan, state.g_params, state.g_batch_stats, z, None)
      state, _ = update.d_update(gan, state.replace(g_batch_stats=g_stats), images[i], None,
                                 fake, keys[3 + i])
    return state

  hand = by_hand(init, batch['image'])
  assert _count(hand.d_opt_state) == _count(stepped.d_opt_state) == 3
  _assert_trees_close(stepped.d_params, hand.d_params, rtol=1e-5, atol=1e-6)
  _assert_trees_close(stepped.g_batch_stats, hand.g_batch_stats, rtol=1e-5, atol=1e-6)
  # The tolerance is far below what one batch does: changing only the last batch
  # (the one a loop reusing batch 0 would never read) moves D's weights.
  other = {'image': batch['image'].at[2].set(_batch(config, 1, offset=64)['image'][0]),
           'label': batch['label']}
  changed = step(other)
  _assert_trees_close(changed.d_params, by_hand(init, other['image']).d_params, rtol=1e-5,
                      atol=1e-6)
  moved = max(float(jnp.abs(x - y).max()) for x, y in zip(
      jax.tree_util.tree_leaves(changed.d_params), jax.tree_util.tree_leaves(stepped.d_params)))
  assert moved > 2e-5   # 1.5e-4; the hand-made updates agree to 1e-8


def test_weight_clipping_bounds_every_critic_weight(config):
  config.loss = 'wasserstein'
  gan = gan_lib.make_gan(_small(config, **{'gan.weight_clip': 0.01, 'gan.n_critic': 5,
                                          'optimizer.name': 'rmsprop'}))
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  assert max(float(jnp.abs(p).max()) for p in jax.tree_util.tree_leaves(state.d_params)) > 0.01
  new, _ = _step(gan, state, _batch(config, 5))
  leaves = jax.tree_util.tree_leaves(new.d_params)
  assert max(float(jnp.abs(p).max()) for p in leaves) <= 0.01
  assert any(float(jnp.abs(p).max()) == pytest.approx(0.01) for p in leaves)


def test_wgan_gp_step_reports_the_penalty(config):
  config.loss = 'wasserstein'
  config.gan.gradient_penalty = 10.0
  config.gan.n_critic = 2
  gan = gan_lib.make_gan(config)
  _, metrics = _step(gan, gan_lib.init_state(gan, jax.random.PRNGKey(0)), _batch(config, 2))
  # An untrained critic's input gradients are far from norm 1: a clearly positive penalty.
  assert float(metrics['penalty']) > 0.1
  assert float(metrics['critic_gap']) == pytest.approx(-float(metrics['d_loss']), rel=1e-5)


@pytest.mark.parametrize('penalty', ['gradient_penalty', 'r1_gamma'])
def test_penalised_d_update_follows_the_written_objective(config, penalty):
  """D descends loss + lambda * E[(||grad_x D(x_hat)||_2 - 1)^2], x_hat = eps x + (1 - eps) G(z)
  (WGAN-GP), or loss + gamma / 2 * E[||grad_x D(x)||^2] on real x (R1): written out
  here per example, with d_update's eps, on a one-layer critic without dropout.
  With SGD at rate 1 D's new weights are its old ones minus that gradient."""
  config.loss = 'wasserstein' if penalty == 'gradient_penalty' else 'non_saturating'
  config.train.batch_size = 8
  gan = gan_lib.make_gan(_small(config, **{f'gan.{penalty}': 10.0, 'model.name': 'mlp',
                                          'model.mlp_g_features': (16,),
                                          'model.mlp_d_features': (16,),
                                          'model.dropout_rate': 0.0}))
  gan = dataclasses.replace(gan, d_tx=optax.sgd(1.0))
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  real = _batch(config)['image'][0]
  fake = jnp.tanh(jax.random.normal(jax.random.PRNGKey(1), real.shape))
  key = jax.random.PRNGKey(2)
  new, metrics = jax.jit(lambda s: update.d_update(gan, s, real, None, fake, key))(state)

  eps = jax.random.uniform(jax.random.split(key)[1], (8,))   # d_update's eps key
  critic = lambda p, x: gan.discriminator.apply({'params': p}, x, train=False)

  def input_grads(p, x):   # grad_x D(x) of each example on its own, flattened
    one = jax.grad(lambda xi: critic(p, xi[None])[0])
    return jax.vmap(one)(x).reshape(x.shape[0], -1)

  def written(p):
    r, f = critic(p, real), critic(p, fake)
    if penalty == 'gradient_penalty':
      loss = jnp.mean(f) - jnp.mean(r)
      e = eps[:, None, None, None]
      norms = jnp.linalg.norm(input_grads(p, e * real + (1 - e) * fake), axis=1)
      term = 10.0 * jnp.mean((norms - 1.0) ** 2)
    else:
      loss = jnp.mean(jax.nn.softplus(-r)) + jnp.mean(jax.nn.softplus(f))
      term = 10.0 / 2 * jnp.mean(jnp.sum(input_grads(p, real) ** 2, axis=1))
    return loss + term, (loss, term)

  grads, (loss, term) = jax.jit(jax.grad(written, has_aux=True))(state.d_params)
  plain = jax.jit(jax.grad(lambda p: written(p)[1][0]))(state.d_params)
  assert float(metrics['d_loss']) == pytest.approx(float(loss), rel=1e-5)
  assert float(metrics['penalty']) == pytest.approx(float(term), rel=1e-4)
  want = jax.tree_util.tree_map(lambda p, g: p - g, state.d_params, grads)
  _assert_trees_close(new.d_params, want, rtol=1e-5, atol=1e-6)
  # ...and the penalty is a real part of that gradient, far above the tolerance.
  assert max(float(jnp.abs(g - q).max()) for g, q in zip(
      jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(plain))) > 0.1


def _two_steps(config):
  gan = gan_lib.make_gan(config)
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  for _ in range(2):   # Adam's first update is sign-like: the second shows the gradient
    state, metrics = _step(gan, state, _batch(config))
  return state, metrics


def test_r1_penalty_changes_the_discriminator_update(config):
  plain, plain_metrics = _two_steps(config)
  config.gan.r1_gamma = 10.0
  r1, metrics = _two_steps(config)
  assert 'penalty' not in plain_metrics and float(metrics['penalty']) > 0
  assert not np.allclose(jax.tree_util.tree_leaves(plain.d_params)[1],
                         jax.tree_util.tree_leaves(r1.d_params)[1], rtol=1e-4)


def test_gradient_clipping_clips_by_global_norm(config):
  o = config.optimizer
  o.grad_clip_norm = 1.0
  params = {'a': jnp.zeros(3), 'b': jnp.zeros(2)}
  tx = optimizers.make_optimizer(o, 1e-3, 10)
  big = {'a': jnp.array([30.0, 0.0, 40.0]), 'b': jnp.array([0.0, 0.0])}   # norm 50
  small = {'a': jnp.array([0.3, 0.0, 0.4]), 'b': jnp.array([0.0, 0.0])}  # norm 0.5
  # Clipped, the big gradient enters Adam as norm 1: the second update (after
  # the small one) then follows the small gradient's direction far more.
  state = tx.init(params)
  _, state = tx.update(big, state, params)
  clipped, _ = tx.update(small, state, params)
  reference = optax.adam(1e-3, b1=o.b1, b2=o.b2, eps=o.eps)
  ref_state = reference.init(params)
  _, ref_state = reference.update(jax.tree_util.tree_map(lambda g: g / 50.0, big), ref_state)
  want, _ = reference.update(small, ref_state)
  np.testing.assert_allclose(clipped['a'], want['a'], rtol=1e-6)
  o.grad_clip_norm = 0.0
  unclipped_tx = optimizers.make_optimizer(o, 1e-3, 10)
  state = unclipped_tx.init(params)
  _, state = unclipped_tx.update(big, state, params)
  unclipped, _ = unclipped_tx.update(small, state, params)
  assert not np.allclose(unclipped['a'], want['a'], rtol=1e-3)


@pytest.mark.parametrize('schedule, at_end', [('constant', 1.0), ('exponential', 0.1),
                                              ('cosine', 0.1)])
def test_learning_rate_schedules_with_warmup(config, schedule, at_end):
  o = config.optimizer
  o.schedule, o.warmup_steps, o.final_lr_fraction = schedule, 10, 0.1
  lr = optimizers.learning_rate(o, 2e-4, 110)
  assert float(lr(0)) == 0.0
  assert float(lr(5)) == pytest.approx(1e-4)
  assert float(lr(10)) == pytest.approx(2e-4)
  assert float(lr(110)) == pytest.approx(2e-4 * at_end, rel=1e-4)
  if schedule == 'exponential':   # geometric: half way, sqrt(0.1)
    assert float(lr(60)) == pytest.approx(2e-4 * 0.1 ** 0.5, rel=1e-4)
  if schedule == 'cosine':        # half way, the middle of the range
    assert float(lr(60)) == pytest.approx(2e-4 * (0.1 + 0.9 * 0.5), rel=1e-4)


@pytest.mark.parametrize('schedule', ['exponential', 'cosine'])
def test_a_decay_ending_early_holds_its_final_rate(config, schedule):
  o = config.optimizer
  o.schedule, o.warmup_steps, o.final_lr_fraction, o.decay_fraction = schedule, 10, 0.1, 0.5
  lr = optimizers.learning_rate(o, 2e-4, 220)
  # Warmup over 10 updates, the decay over the next 100 (to half of 220), then held.
  assert float(lr(5)) == pytest.approx(1e-4)
  middle = 0.1 ** 0.5 if schedule == 'exponential' else 0.1 + 0.9 * 0.5
  assert float(lr(60)) == pytest.approx(2e-4 * middle, rel=1e-4)
  for step in (110, 160, 220):
    assert float(lr(step)) == pytest.approx(2e-5, rel=1e-4)
  assert float(lr(100)) > 2e-5 * 1.001


def test_a_decay_ending_within_the_warmup_is_one_clear_error(config):
  o = config.optimizer
  o.schedule, o.warmup_steps, o.decay_fraction = 'cosine', 100, 0.5
  with pytest.raises(JaxganError, match='decay_fraction'):
    optimizers.learning_rate(o, 1e-3, 200)
  assert callable(optimizers.learning_rate(o, 1e-3, 202))


@pytest.mark.parametrize('warmup', [0, 10])
def test_the_exponential_decays_as_before_within_a_run(config, warmup):
  # The clamp at the end value leaves every update's rate (counts 0..n-1) as optax's own
  # exponential decay, bit for bit.
  o = config.optimizer
  o.schedule, o.warmup_steps, o.final_lr_fraction = 'exponential', warmup, 0.37
  n, peak = 1200, 2e-3
  decay = optax.exponential_decay(peak, n - warmup, 0.37)
  before = decay if not warmup else optax.join_schedules(
      [optax.linear_schedule(0.0, peak, warmup), decay], [warmup])
  counts = jnp.arange(n)
  now = jax.vmap(optimizers.learning_rate(o, peak, n))(counts)
  np.testing.assert_array_equal(np.asarray(now), np.asarray(jax.vmap(before)(counts)))


def test_a_config_saved_before_decay_fraction_decays_over_the_whole_run(config):
  o = config.optimizer
  o.schedule, o.final_lr_fraction = 'cosine', 0.1
  del o['decay_fraction']
  lr = optimizers.learning_rate(o, 2e-4, 100)
  assert float(lr(50)) == pytest.approx(2e-4 * 0.55, rel=1e-4)
  assert float(lr(100)) == pytest.approx(2e-5, rel=1e-4)


def test_schedule_counts_updates_of_each_network(config):
  """D's schedule spans n_critic times as many updates as G's."""
  config.gan.n_critic = 5
  constant = gan_lib.make_gan(config, total_steps=100)
  config.optimizer.schedule = 'cosine'
  config.optimizer.final_lr_fraction = 0.1
  gan = gan_lib.make_gan(config, total_steps=100)
  params = grads = {'w': jnp.ones(2)}

  def step_size(tx, count):
    state = optax.tree_utils.tree_set(tx.init(params), count=jnp.asarray(count, jnp.int32))
    return abs(float(tx.update(grads, state, params)[0]['w'][0]))
  # Each halfway through its own number of updates (G: 100, D: 5 x 100): the
  # cosine's midpoint, 0.55 of the peak, against a constant rate.
  for tx, const_tx, half in ((gan.g_tx, constant.g_tx, 50), (gan.d_tx, constant.d_tx, 250)):
    assert step_size(tx, half) / step_size(const_tx, half) == pytest.approx(0.55, rel=1e-4)


def test_ttur_gives_each_network_its_own_rate(config):
  config.optimizer.g_learning_rate = 2e-4
  config.optimizer.d_learning_rate = 2e-5
  gan = gan_lib.make_gan(config)
  grads = params = {'w': jnp.ones(3)}
  g_update, _ = gan.g_tx.update(grads, gan.g_tx.init(params), params)
  d_update, _ = gan.d_tx.update(grads, gan.d_tx.init(params), params)
  assert float(g_update['w'][0]) / float(d_update['w'][0]) == pytest.approx(10.0, rel=1e-5)


@pytest.mark.parametrize('key, value, message', [
    ('gan.n_critic', 0, 'n_critic'),
    ('gan.ema_decay', 1.0, 'ema_decay'),
    ('gan.gradient_penalty', -1.0, 'gradient_penalty'),
    ('gan.drop_worst', 1.0, 'drop_worst'),
    ('gan.drop_worst_images', 0, 'drop_worst_images'),
    ('optimizer.name', 'sgd', 'optimizer.name'),
    ('optimizer.schedule', 'linear', 'optimizer.schedule'),
    ('optimizer.final_lr_fraction', 0.0, 'final_lr_fraction'),
    ('optimizer.decay_fraction', 0.0, 'decay_fraction'),
    ('optimizer.decay_fraction', 1.5, 'decay_fraction'),
    ('model.conditioning', 'film', 'conditioning'),
])
def test_bad_settings_are_one_clear_error(config, key, value, message):
  group, name = key.split('.')
  config[group][name] = value
  with pytest.raises(JaxganError, match=message):
    gan_lib.make_gan(config)


def test_resuming_with_another_optimizer_is_refused(config, tmp_path):
  checkpointing.save_config(config, tmp_path)
  saved = checkpointing.load_saved_config(tmp_path)
  config.optimizer.name = 'rmsprop'
  with pytest.raises(JaxganError, match="optimizer.name: 'adam' -> 'rmsprop'"):
    checkpointing.check_compatible(saved, config, tmp_path)
  config.optimizer.name = 'adam'
  config.optimizer.g_learning_rate = 3e-4   # a rate is not part of the state's structure
  checkpointing.check_compatible(saved, config, tmp_path)


def test_conditional_run_draws_one_row_per_digit_and_resumes(config, tmp_path):
  config.model.conditional = True
  config.gan.ema_decay = 0.5
  config.model.spectral_norm = True
  config.train.num_samples = 30
  config.train.checkpoint_steps = (2,)
  train.train_and_evaluate(config, tmp_path)
  grid = np.asarray(Image.open(tmp_path / 'samples' / 'step_0000008.png'))
  # 10 rows x 3 columns of 28-pixel digits with 2-pixel gaps, upscaled 4x.
  assert grid.shape[:2] == ((10 * 30 + 2) * 4, (3 * 30 + 2) * 4)
  # EMA weights and spectral-norm vectors are saved with the rest of the state...
  saved = checkpointing.restore(
      checkpointing.make_manager(tmp_path, None),
      gan_lib.init_state(gan_lib.make_gan(config), gan_lib.rngs(0)['init']), 8)
  assert saved.ema_g_params is not None and saved.d_batch_stats
  # ...so a run interrupted after step 2 and resumed ends where this one did.
  resumed, final = resume_from_step_2(config, tmp_path)
  assert fingerprint.read(resumed)[-1] == fingerprint.read(tmp_path)[-1]
  assert int(final.step) == 8


def test_a_run_from_before_the_gan_settings_is_refused_clearly(config, tmp_path):
  checkpointing.save_config(config, tmp_path)
  saved = json.loads((tmp_path / 'config.json').read_text())
  del saved['gan']
  (tmp_path / 'config.json').write_text(json.dumps(saved))
  before = (tmp_path / 'config.json').read_bytes()
  with pytest.raises(JaxganError, match='written by an older jaxgan'):
    train.train_and_evaluate(config, tmp_path)
  assert (tmp_path / 'config.json').read_bytes() == before


def test_top_k_training_updates_g_with_the_loss_of_the_fakes_d_scores_highest(config):
  """G's update under gan.drop_worst equals the update of a GAN whose G loss is written
  as the plain loss of the best-scored half (sorted by hand), and differs from the
  update over the whole batch."""
  config.gan.drop_worst = 0.5
  config.gan.drop_worst_images = 1      # fully annealed from the first step
  gan = dataclasses.replace(gan_lib.make_gan(config), g_tx=optax.sgd(1.0))
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  state = state.replace(step=jnp.asarray(1, state.step.dtype))
  half = config.train.batch_size // 2
  written = dataclasses.replace(
      gan, drop_worst=0.0, g_loss_fn=lambda logits: gan.g_loss_fn(jnp.sort(logits)[::-1][:half]))
  top_k, _ = _step(gan, state, _batch(config))
  want, _ = _step(written, state, _batch(config))
  whole, _ = _step(dataclasses.replace(gan, drop_worst=0.0), state, _batch(config))
  _assert_trees_close(top_k.g_params, want.g_params, rtol=1e-5, atol=1e-7)
  assert max(float(jnp.abs(a - b).max()) for a, b in zip(
      jax.tree_util.tree_leaves(top_k.g_params), jax.tree_util.tree_leaves(whole.g_params))) > 1e-4
