"""DiffAugment's ops against hand-computed results, and augmentation inside the training step."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import augment
from jaxgan import gan as gan_lib
from jaxgan import train
from jaxgan import update
from jaxgan.errors import JaxganError


def _ramp(n=2, side=4):
  """Images whose pixels are all distinct: value = (row * side + col) / side**2, in [0, 1)."""
  base = (np.arange(side * side, dtype=np.float32) / side ** 2).reshape(1, side, side, 1)
  return jnp.asarray(np.repeat(base, n, axis=0))


def test_shift_moves_pixels_and_fills_the_background():
  x = _ramp()
  out = np.asarray(augment.shift(x, jnp.array([1, 0]), jnp.array([0, -2])))
  img = np.asarray(x[0, ..., 0])
  want0 = np.full((4, 4), augment.BACKGROUND, np.float32)
  want0[1:, :] = img[:-1, :]             # one row down
  want1 = np.full((4, 4), augment.BACKGROUND, np.float32)
  want1[:, :2] = img[:, 2:]              # two columns left
  np.testing.assert_array_equal(out[0, ..., 0], want0)
  np.testing.assert_array_equal(out[1, ..., 0], want1)


def test_translation_shifts_by_at_most_an_eighth_of_the_side():
  x = jnp.ones((64, 16, 16, 1))
  x = x.at[:, 8, 8, 0].set(0.5)          # one marked pixel per image
  out = np.asarray(augment.translation(jax.random.PRNGKey(0), x))
  rows, cols = np.nonzero(out[..., 0] == 0.5)[1:]
  assert len(rows) == 64 and np.abs(rows - 8).max() == 2 and np.abs(cols - 8).max() == 2
  assert len(set(zip(rows - 8, cols - 8))) > 10   # the shifts vary between images


def test_blank_sets_the_stated_square_to_background():
  x = jnp.ones((1, 6, 6, 1))
  out = np.asarray(augment.blank(x, jnp.array([1]), jnp.array([2]), (3, 3)))[0, ..., 0]
  want = np.ones((6, 6), np.float32)
  want[1:4, 2:5] = augment.BACKGROUND
  np.testing.assert_array_equal(out, want)


def test_cutout_blanks_one_square_of_half_the_side():
  out = np.asarray(augment.cutout(jax.random.PRNGKey(1), jnp.ones((200, 8, 8, 1))))[..., 0]
  for img in out:
    r, c = np.nonzero(img == augment.BACKGROUND)
    # A filled rectangle, a 4x4 square where it lies inside the image.
    assert len(r) == (r.max() - r.min() + 1) * (c.max() - c.min() + 1)
    assert r.max() - r.min() + 1 <= 4 and c.max() - c.min() + 1 <= 4
  inside = [img for img in out if (img == augment.BACKGROUND).sum() == 16]
  assert len(inside) > 50


def test_brightness_adds_the_drawn_offset_and_contrast_scales_about_the_mean():
  key = jax.random.PRNGKey(2)
  x = _ramp(3) - 0.5
  offset = jax.random.uniform(key, (3, 1, 1, 1)) - 0.5
  np.testing.assert_allclose(augment.brightness(key, x), x + offset, rtol=0, atol=1e-7)
  factor = jax.random.uniform(key, (3, 1, 1, 1)) + 0.5
  mean = x.mean(axis=(1, 2, 3), keepdims=True)
  np.testing.assert_allclose(augment.contrast(key, x), (x - mean) * factor + mean, atol=1e-7)
  assert augment.saturation(key, x) is x    # one channel: nothing to saturate


def test_the_policy_keeps_shape_dtype_and_range_and_passes_gradients():
  ops = augment.parse_policy('translation, cutout,color')
  x = jax.random.uniform(jax.random.PRNGKey(3), (16, 28, 28, 1), minval=-1, maxval=1)
  out = augment.augment(jax.random.PRNGKey(4), x, ops)
  assert out.shape == x.shape and out.dtype == x.dtype
  assert float(out.min()) >= -1 and float(out.max()) <= 1
  assert not np.array_equal(out, x)
  w = jax.random.normal(jax.random.PRNGKey(5), x.shape)
  grad = jax.grad(lambda v: jnp.sum(augment.augment(jax.random.PRNGKey(4), v, ops) * w))(x)
  assert np.all(np.isfinite(grad)) and float(jnp.abs(grad).sum()) > 0


def test_off_is_the_identity_and_unknown_ops_are_refused():
  x = jnp.ones((2, 4, 4, 1))
  assert augment.augment(jax.random.PRNGKey(0), x, augment.parse_policy('')) is x
  with pytest.raises(JaxganError, match="unknown op\\(s\\) \\['flip'\\]"):
    augment.parse_policy('translation,flip')


def test_probability_zero_leaves_images_alone():
  x = jax.random.uniform(jax.random.PRNGKey(3), (8, 8, 8, 1), minval=-1, maxval=1)
  out = augment.augment(jax.random.PRNGKey(4), x, ('translation', 'color'), p=0.0)
  np.testing.assert_array_equal(out, x)


def test_augmented_training_resumes_bit_exactly(config, tmp_path):
  config.gan.augment = 'translation,cutout,color'
  whole = train.train_and_evaluate(config, tmp_path / 'whole')
  config.gan.augment = ''
  plain = train.train_and_evaluate(config, tmp_path / 'plain')
  config.gan.augment = 'translation,cutout,color'
  config.train.num_steps = 4
  train.train_and_evaluate(config, tmp_path / 'split')
  config.train.num_steps = 8
  resumed = train.train_and_evaluate(config, tmp_path / 'split')
  for a, b in zip(jax.tree_util.tree_leaves(whole), jax.tree_util.tree_leaves(resumed)):
    np.testing.assert_array_equal(a, b)
  # Augmentation changed what both networks learned.
  assert not np.array_equal(jax.tree_util.tree_leaves(whole.g_params)[0],
                            jax.tree_util.tree_leaves(plain.g_params)[0])


def test_ada_probability_moves_towards_the_target_and_stays_in_range():
  step = 64 / 1000
  assert float(augment.adapt_probability(0.5, 0.9, 0.6, 64, 1000)) == pytest.approx(0.5 + step)
  assert float(augment.adapt_probability(0.5, 0.2, 0.6, 64, 1000)) == pytest.approx(0.5 - step)
  assert float(augment.adapt_probability(0.0, -1.0, 0.6, 64, 1000)) == 0.0
  assert float(augment.adapt_probability(0.99, 1.0, 0.6, 64, 1000)) == 1.0


@pytest.mark.parametrize('bias, direction', [(20.0, 1), (-20.0, -1)])
def test_ada_in_the_step_follows_a_synthetic_overfitting_signal(config, bias, direction):
  # D's last bias pinned far from 0 makes r_t = E[sign(D(real))] +1 (sure of every
  # real: overfitting) or -1: p must rise, or fall, by one batch's worth per step.
  config.gan.augment = 'translation'
  config.gan.augment_target = 0.6
  config.gan.augment_speed = 3200
  gan = gan_lib.make_gan(config)
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  assert float(state.augment_p) == 0.0
  head = sorted(state.d_params)[-1]
  d_params = dict(state.d_params)
  d_params[head] = {**d_params[head], 'bias': jnp.full_like(d_params[head]['bias'], bias)}
  state = state.replace(d_params=d_params, augment_p=jnp.asarray(0.5))
  images = jax.random.uniform(jax.random.PRNGKey(1), (1, 32, 28, 28, 1), minval=-1, maxval=1)
  batch = {'image': images, 'label': jnp.zeros((1, 32), jnp.int32)}
  new, metrics = jax.jit(lambda s: update.train_step(gan, s, batch, jax.random.PRNGKey(2)))(state)
  assert float(metrics['augment_p']) == pytest.approx(0.5)
  assert float(new.augment_p) == pytest.approx(0.5 + direction * 32 / 3200)


def test_ada_without_ops_is_refused(config):
  config.gan.augment_target = 0.6
  with pytest.raises(JaxganError, match="gan.augment_target adapts"):
    gan_lib.make_gan(config)
