import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import gan as gan_lib
from jaxgan import input_pipeline
from jaxgan import train
from jaxgan import update


def _leaves_equal(a, b):
  return all(np.array_equal(x, y) for x, y in
             zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


@pytest.fixture
def setup(config):
  gan = gan_lib.make_gan(config)
  keys = gan_lib.rngs(config.seed)
  dataset = input_pipeline.load_dataset(config.data)
  data = {'image': jnp.asarray(dataset.images), 'label': jnp.asarray(dataset.labels)}
  b = config.train.batch_size
  batch = {'image': input_pipeline.to_pixels(data['image'][None, :b]),
           'label': data['label'][None, :b]}
  return gan, keys, data, batch


def test_one_step_is_finite_and_changes_both_networks(setup):
  gan, keys, _, batch = setup
  state = gan_lib.init_state(gan, keys['init'])
  before = jax.tree_util.tree_map(np.array, state)   # the step donates `state`
  new, metrics = update.make_train_step(gan)(state, batch, keys['step'])
  assert int(new.step) == 1
  assert set(metrics) == set(update.logged_metrics(gan))
  for name in metrics:
    assert np.isfinite(float(metrics[name]))
  assert 0 < float(metrics['d_real']) < 1 and 0 < float(metrics['d_fake']) < 1
  for part in ('g_params', 'd_params', 'g_batch_stats'):
    assert not _leaves_equal(getattr(before, part), getattr(new, part)), part


def test_step_equals_the_textbook_two_pass_update(setup):
  """The reused G forward (VJP) gives what a second G forward would."""
  gan, keys, _, batch = setup
  state = gan_lib.init_state(gan, keys['init'])
  new, _ = jax.jit(functools.partial(update.train_step, gan))(state, batch, keys['step'])

  # Reference: D step, then G step recomputing G(z) against the updated D.
  z_rng, d_key, g_drop = jax.random.split(jax.random.fold_in(keys['step'], 0), 3)
  d_drop, _ = jax.random.split(d_key)
  batch = batch['image'][0]
  z = jax.random.normal(z_rng, (batch.shape[0], gan.latent_dim))
  g_vars = {'params': state.g_params, 'batch_stats': state.g_batch_stats}
  fake, _ = gan.generator.apply(g_vars, z, train=True, mutable=['batch_stats'])

  def d_loss(d_params):
    logits = gan.discriminator.apply({'params': d_params}, jnp.concatenate([batch, fake]),
                                     train=True, rngs={'dropout': d_drop})
    return gan.d_loss_fn(*jnp.split(logits, 2))
  d_grads = jax.grad(d_loss)(state.d_params)
  d_updates, _ = gan.d_tx.update(d_grads, state.d_opt_state, state.d_params)
  d_params = optax.apply_updates(state.d_params, d_updates)

  def g_loss(g_params):
    fake, _ = gan.generator.apply({'params': g_params, 'batch_stats': state.g_batch_stats}, z,
                                  train=True, mutable=['batch_stats'])
    logits = gan.discriminator.apply({'params': d_params}, fake, train=True,
                                     rngs={'dropout': g_drop})
    return gan.g_loss_fn(logits)
  g_grads = jax.grad(g_loss)(state.g_params)
  g_updates, _ = gan.g_tx.update(g_grads, state.g_opt_state, state.g_params)
  g_params = optax.apply_updates(state.g_params, g_updates)

  for got, want in ((new.d_params, d_params), (new.g_params, g_params)):
    for x, y in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
      np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def _train(gan, keys, data, batch_size, chunks):
  multi = update.make_train_chunk(gan, batch_size)
  state = gan_lib.init_state(gan, keys['init'])
  for n in chunks:
    state, metrics = multi(state, data, keys['data'], keys['step'], n)
  return state, metrics


def test_same_seed_gives_identical_parameters(setup, config):
  gan, keys, data, _ = setup
  a, _ = _train(gan, keys, data, config.train.batch_size, [3])
  b, _ = _train(gan, keys, data, config.train.batch_size, [3])
  assert _leaves_equal(a, b)
  other_keys = gan_lib.rngs(config.seed + 1)
  c, _ = _train(gan, other_keys, data, config.train.batch_size, [3])
  assert not _leaves_equal(a.g_params, c.g_params)


def test_chunking_changes_the_result_only_by_rounding(setup, config):
  """K steps per dispatch computes what K single-step dispatches do.

  XLA fuses differently across step boundaries, so agreement is to float32
  rounding (about 1e-7 measured), not bitwise; a resumed run is bitwise equal
  because it dispatches the same chunks (they end at every checkpoint).
  """
  gan, keys, data, _ = setup
  a, metrics = _train(gan, keys, data, config.train.batch_size, [4])
  b, _ = _train(gan, keys, data, config.train.batch_size, [1, 3])
  assert metrics['d_loss'].shape == (4,)
  for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
    np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def test_next_chunk_stops_at_every_boundary(config):
  config.train.steps_per_jit = 10
  config.train.log_every = 4
  config.train.eval_every = 6
  config.train.checkpoint_every = 100
  ends, step = [], 0
  while step < 13:
    step += train.next_chunk(step, 13, config)
    ends.append(step)
  assert ends == [4, 6, 8, 12, 13]


@pytest.mark.parametrize('n_critic, num_steps', [(1, 1), (2, 1), (1, 2)])
def test_epoch_orders_are_the_step_s_own_drawn_once_per_epoch(n_critic, num_steps):
  """EpochOrders gives every dispatch the orders it would draw itself, and draws anew only
  when the dispatch's epochs change (3 batches an epoch here)."""
  rng, num_examples, batch_size = jax.random.PRNGKey(3), 96, 32
  sharding = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  orders = input_pipeline.EpochOrders(rng, num_examples, batch_size, n_critic, sharding)
  seen = {}
  for step in range(0, 9, num_steps):
    got = orders(step, num_steps)
    want, first_epoch = input_pipeline.dispatch_orders(rng, step * n_critic, num_steps * n_critic,
                                                       num_examples, batch_size)
    np.testing.assert_array_equal(got, want)
    seen.setdefault(int(first_epoch), set()).add(id(got))
  assert len(seen) >= 3
  assert all(len(ids) == 1 for ids in seen.values())   # one draw per epoch, kept between


def _train_with_orders(gan, keys, data, batch_size, chunks, members=0, how='auto'):
  """_train with the orders drawn beforehand (input_pipeline.EpochOrders), as train.py does."""
  n = max(members, 1)
  multi = update.make_train_chunk(gan, batch_size, num_members=n, how=how)
  stack = lambda x: x if not members else jnp.stack([x] * members)
  state = jax.tree_util.tree_map(stack, gan_lib.init_state(gan, keys['init']))
  data_rng = jnp.stack([jax.random.fold_in(keys['data'], i) for i in range(members)]) \
      if members else keys['data']
  orders = input_pipeline.EpochOrders(data_rng, data['image'].shape[0], batch_size, gan.n_critic,
                                      jax.sharding.SingleDeviceSharding(jax.devices()[0]),
                                      members=bool(members))
  step, with_orders, without = 0, state, jax.tree_util.tree_map(jnp.copy, state)
  for k in chunks:
    with_orders, _ = multi(with_orders, data, data_rng, stack(keys['step']), k, None,
                           orders(step, k))
    without, _ = multi(without, data, data_rng, stack(keys['step']), k)
    step += k
  return with_orders, without


@pytest.mark.parametrize('members, how, n_critic', [(0, 'auto', 1), (2, 'vmap', 1),
                                                     (2, 'loop', 1), (0, 'auto', 2)])
def test_orders_drawn_beforehand_train_exactly_as_orders_drawn_in_the_step(setup, config,
                                                                          members, how, n_critic):
  # 96 examples, batch 32: the 7 steps cross two epoch boundaries, one inside a dispatch.
  _, keys, data, _ = setup
  config.gan.n_critic = n_critic
  gan = gan_lib.make_gan(config)
  data = jax.tree_util.tree_map(lambda x: x[:96], data)
  with_orders, without = _train_with_orders(gan, keys, data, config.train.batch_size,
                                            [1, 1, 2, 1, 1, 1], members, how)
  assert int(np.max(with_orders.step)) == 7
  assert _leaves_equal(with_orders, without)
  if members:   # each member its own order: the members differ
    assert not np.array_equal(*jax.tree_util.tree_leaves(with_orders.g_params)[0][:2])


def test_the_orders_given_are_the_orders_used(setup, config):
  gan, keys, data, _ = setup
  data = jax.tree_util.tree_map(lambda x: x[:96], data)
  multi = update.make_train_chunk(gan, config.train.batch_size)
  own, _ = input_pipeline.dispatch_orders(keys['data'], 0, 1, 96, config.train.batch_size)
  run = lambda orders: multi(gan_lib.init_state(gan, keys['init']), data, keys['data'],
                             keys['step'], 1, None, orders)[0]
  assert _leaves_equal(run(own), run(None))
  assert not _leaves_equal(run(jnp.flip(own, -1)).d_params, run(None).d_params)
  # A 2-step dispatch can reach a second epoch: one epoch's order is too few.
  with pytest.raises(ValueError, match=r'need \(2, 96\)'):
    multi(gan_lib.init_state(gan, keys['init']), data, keys['data'], keys['step'], 2, None, own)
