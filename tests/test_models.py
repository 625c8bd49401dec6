import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import gan as gan_lib
from jaxgan import layers
from jaxgan import models
from jaxgan import train
from jaxgan.errors import JaxganError
from helpers import load_config


def _init(config):
  gan = gan_lib.make_gan(config)
  return gan, gan_lib.init_state(gan, jax.random.PRNGKey(0))


@pytest.mark.parametrize('name, g_params, g_stats, d_params', [
    # Keras' summary of the tutorial model: G 2,330,944 total of which 2,305,472
    # trainable (BN moving mean/var are the 25,472 others); D 212,865.
    ('dcgan', 2_305_472, 25_472, 212_865),
    # G: 100*256+256 + 256*512+512 + 512*1024+1024 + 1024*784+784 dense,
    #    2*(256+512+1024) BN scale/bias; stats 2*(256+512+1024).
    # D: 784*1024+1024 + 1024*512+512 + 512*256+256 + 256+1.
    ('mlp', 1_489_936, 3_584, 1_460_225),
])
def test_parameter_counts_of_the_full_size_models(name, g_params, g_stats, d_params):
  config = load_config('mnist')
  config.model.name = name
  _, state = _init(config)
  assert gan_lib.num_params(state.g_params) == g_params
  assert gan_lib.num_params(state.g_batch_stats) == g_stats
  assert gan_lib.num_params(state.d_params) == d_params


@pytest.mark.parametrize('name', ['dcgan', 'mlp'])
def test_shapes_and_ranges(config, name):
  config.model.name = name
  gan, state = _init(config)
  z = jax.random.normal(jax.random.PRNGKey(1), (5, config.model.latent_dim))
  images = gan.generator.apply({'params': state.g_params, 'batch_stats': state.g_batch_stats},
                               z, train=False)
  assert images.shape == (5, 28, 28, 1)
  assert float(jnp.max(jnp.abs(images))) <= 1.0
  logits = gan.discriminator.apply({'params': state.d_params}, images, train=False)
  assert logits.shape == (5,)


def test_keras_defaults_are_used():
  config = load_config('mnist')
  gen = models.make_generator(config)
  assert (gen.bn_momentum, gen.bn_epsilon, gen.leaky_relu_slope) == (0.99, 1e-3, 0.3)
  # glorot_uniform bounds the dense kernel by sqrt(6 / (fan_in + fan_out)).
  _, state = _init(config)
  kernel = np.asarray(state.g_params['Dense_0']['kernel'])
  limit = np.sqrt(6 / (100 + 7 * 7 * 256))
  assert np.abs(kernel).max() <= limit
  assert np.abs(kernel).max() > 0.9 * limit


def _dtypes(config):
  """For G, then D: the dtypes of the parameters, of the output, and of each
  layer's output in a training-mode forward pass (flax's captured
  intermediates). Traced only (jax.eval_shape): dtypes need no arithmetic."""
  def forward():
    gan, state = _init(config)
    z = jnp.ones((2, config.model.latent_dim))
    images, g_vars = gan.generator.apply(
        {'params': state.g_params, 'batch_stats': state.g_batch_stats}, z, train=True,
        mutable=['batch_stats', 'intermediates'], capture_intermediates=True)
    logits, d_vars = gan.discriminator.apply(
        {'params': state.d_params}, images, train=True, rngs={'dropout': jax.random.PRNGKey(0)},
        mutable=['intermediates'], capture_intermediates=True)
    return ((state.g_params, images, g_vars['intermediates']),
            (state.d_params, logits, d_vars['intermediates']))

  out = []
  for params, output, captured in jax.eval_shape(forward):
    # Every submodule's output; the top-level '__call__' is the network's own.
    layer_dtypes = {f'{name}.{method}': value[0].dtype for name, group in captured.items()
                    if name != '__call__' for method, value in group.items()}
    out.append(({x.dtype for x in jax.tree_util.tree_leaves(params)}, output.dtype,
                 layer_dtypes))
  return out


@pytest.mark.parametrize('compute_dtype', ['bfloat16', 'float32'])
@pytest.mark.parametrize('name, conv_transpose', [('dcgan', 'dilated'), ('dcgan', 'subpixel'),
                                                  ('dcgan', 'pixel_shuffle'), ('dcgan', 'auto'),
                                                  ('mlp', 'auto')])
def test_compute_dtype_reaches_every_layer_and_parameters_stay_float32(
    config, name, conv_transpose, compute_dtype):
  """train.compute_dtype is what every layer of G and D (Dense, Conv, each way
  of the transposed Conv, BatchNorm, Dropout) computes in, while the weights and
  the networks' outputs (images, logits) stay float32."""
  config.model.name = name
  config.train.conv_transpose = conv_transpose
  config.train.compute_dtype = compute_dtype
  f32, compute = jnp.dtype('float32'), jnp.dtype(compute_dtype)
  for params, output, layer_dtypes in _dtypes(config):
    assert params == {f32} and output == f32
    assert len(layer_dtypes) >= 5
    assert set(layer_dtypes.values()) == {compute}, layer_dtypes


@pytest.mark.parametrize('key, value', [('model.name', 'resnet'), ('model.kernel_init', 'zeros'),
                                        ('train.compute_dtype', 'float8'),
                                        ('train.conv_transpose', 'fft'),
                                        ('train.pad_channels', -1)])
def test_unknown_choices_are_rejected(config, key, value):
  section, name = key.split('.')
  config[section][name] = value
  with pytest.raises(JaxganError, match=name):
    gan_lib.make_gan(config)


@pytest.mark.parametrize('kernel_size, size', [(5, 7), (5, 14), (4, 5), (3, 6)])
def test_subpixel_transposed_convolution_equals_flax(kernel_size, size):
  layer = nn.ConvTranspose(3, (kernel_size, kernel_size), strides=(2, 2), padding='SAME',
                           use_bias=False)
  x = jax.random.normal(jax.random.PRNGKey(1), (2, size, size, 4))
  params = layer.init(jax.random.PRNGKey(0), x)
  expected = layer.apply(params, x)
  for way in (layers.subpixel_conv_transpose, layers.pixel_shuffle_conv_transpose):
    got = way(x, params['params']['kernel'], 2)
    assert got.shape == expected.shape == (2, 2 * size, 2 * size, 3)
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize('image_shape', [(28, 28, 1), (32, 32, 3)])
def test_subpixel_generator_is_the_same_function_with_the_same_parameters(
    config, image_shape, monkeypatch):
  """train.conv_transpose, and train.pad_channels with the sub-pixel ways, change how G is
  computed, not what: one checkpoint serves every way, and a way for each layer."""
  monkeypatch.setattr(jax, 'default_backend', lambda: 'cpu')   # where 'auto' mixes them
  config.model.image_shape = image_shape
  states, outputs, grads = [], [], []
  z = jax.random.normal(jax.random.PRNGKey(1), (6, config.model.latent_dim))
  ways = [(c, 0) for c in layers.CONV_TRANSPOSE] + [('subpixel', 8), ('pixel_shuffle', 8),
                                                    ('auto', 0), ('auto', 8)]
  for choice, pad in ways:
    config.train.conv_transpose = choice
    config.train.pad_channels = pad
    gan, state = _init(config)
    way = ('subpixel', 'subpixel', 'pixel_shuffle') if choice == 'auto' else choice
    assert (gan.generator.conv_transpose, gan.generator.pad_channels) == (way, pad)
    variables = {'params': state.g_params, 'batch_stats': state.g_batch_stats}
    out, _ = gan.generator.apply(variables, z, train=True, mutable=['batch_stats'])
    loss = lambda p: jnp.sum(gan.generator.apply({**variables, 'params': p}, z, train=True,
                                                 mutable=['batch_stats'])[0] ** 2)
    states.append(state.g_params)
    outputs.append(out)
    grads.append(jax.grad(loss)(state.g_params))
  for i in range(1, len(ways)):
    assert jax.tree_util.tree_all(jax.tree_util.tree_map(np.array_equal, states[0], states[i]))
    np.testing.assert_allclose(outputs[0], outputs[i], atol=1e-5)
    for a, b in zip(jax.tree_util.tree_leaves(grads[0]), jax.tree_util.tree_leaves(grads[i])):
      # To 1e-5 of the largest value: a colour G's gradients reach 10.
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * max(float(jnp.abs(b).max()), 1))


@pytest.mark.parametrize('backend, way', [
    ('cpu', ('subpixel', 'subpixel', 'pixel_shuffle')),   # the output layer's own way
    ('gpu', 'pixel_shuffle'), ('tpu', 'pixel_shuffle')])
def test_auto_computes_the_fastest_way_measured_on_the_backend(config, monkeypatch, backend,
                                                               way):
  monkeypatch.setattr(jax, 'default_backend', lambda: backend)
  assert len(config.model.g_features) == 3
  assert config.train.conv_transpose == 'auto'
  assert models.make_generator(config).conv_transpose == way
  # A config saved before the setting existed builds the default.
  del config.train['conv_transpose']
  assert models.make_generator(config).conv_transpose == way
  # Chosen, a way holds on every backend.
  config.train.conv_transpose = 'dilated'
  assert models.make_generator(config).conv_transpose == 'dilated'


def test_a_way_for_every_layer_or_one_for_each():
  assert models.per_layer('subpixel', 3) == ('subpixel',) * 3
  assert models.per_layer(['subpixel', 'dilated'], 2) == ('subpixel', 'dilated')
  with pytest.raises(ValueError, match='2 ways for 3 transposed convolutions'):
    models.per_layer(('subpixel', 'dilated'), 3)


def test_a_kernel_narrower_than_the_stride_is_computed_dilated(config):
  config.model.kernel_size = 1
  assert models.make_generator(config).conv_transpose == 'dilated'
  config.train.conv_transpose = 'pixel_shuffle'
  with pytest.raises(JaxganError, match="needs model.kernel_size >= 2"):
    models.make_generator(config)


@pytest.mark.parametrize('kernel_size, stride, size', [(5, 2, 28), (5, 2, 14), (4, 2, 8),
                                                       (3, 2, 6), (2, 2, 4), (3, 3, 6)])
def test_shuffled_input_gradient_equals_xlas(kernel_size, stride, size):
  """The strided convolution's own output, and its gradients with respect to the input and
  the kernel, computed through a pixel shuffle, against XLA's (1e-5 of the largest value)."""
  assert layers.shuffles_exactly((2, size, size, 4), kernel_size, stride)
  x = jax.random.normal(jax.random.PRNGKey(1), (2, size, size, 4))
  kernel = jax.random.normal(jax.random.PRNGKey(2), (kernel_size, kernel_size, 4, 3))
  xla = lambda x, k: jax.lax.conv_general_dilated(x, k, (stride, stride), 'SAME',
                                                  dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  shuffled = lambda x, k: layers.shuffled_grad_conv(x, k, stride)
  np.testing.assert_allclose(shuffled(x, kernel), xla(x, kernel), atol=1e-5)
  dy = jax.random.normal(jax.random.PRNGKey(3), xla(x, kernel).shape)
  expected = jax.vjp(xla, x, kernel)[1](dy)
  got = jax.vjp(shuffled, x, kernel)[1](dy)
  for a, b in zip(got, expected):
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * float(jnp.abs(b).max()))
  # Second order, as R1 and gradient penalties take it: the gradient of a norm of dx.
  penalty = lambda f: jax.grad(lambda k: jnp.sum(jax.grad(
      lambda x: jnp.sum(f(x, k) * dy))(x) ** 2))(kernel)
  np.testing.assert_allclose(penalty(shuffled), penalty(xla), rtol=1e-4,
                             atol=1e-5 * float(jnp.abs(penalty(xla)).max()))


def test_shuffled_input_gradient_is_used_only_where_exact():
  assert not layers.shuffles_exactly((2, 7, 7, 4), 5, 2)     # odd size
  assert not layers.shuffles_exactly((2, 8, 8, 4), 1, 2)     # kernel narrower than the stride
  assert not layers.shuffles_exactly((2, 8, 8, 4), 5, 1)     # no stride
  # Where it is not exact the layer takes XLA's gradient: a 7x7 input still gets the right one.
  layer = layers.StridedConv(3, (5, 5), (2, 2), nn.initializers.lecun_normal(), jnp.float32,
                             input_grad='pixel_shuffle')
  x = jax.random.normal(jax.random.PRNGKey(1), (2, 7, 7, 4))
  params = layer.init(jax.random.PRNGKey(0), x)
  reference = nn.Conv(3, (5, 5), strides=(2, 2), padding='SAME')
  grad = lambda f: jax.grad(lambda x: jnp.sum(jnp.sin(f(x))))(x)
  np.testing.assert_allclose(grad(lambda x: layer.apply(params, x)),
                             grad(lambda x: reference.apply(params, x)), atol=1e-5)


def _discriminator_jaxpr(config, choice):
  config.train.conv_input_grad = choice
  gan, state = _init(config)
  images = jnp.zeros((2, 28, 28, 1))
  # The forward program names the custom rule (a gradient's program inlines its backward pass).
  logits = lambda x: gan.discriminator.apply({'params': state.d_params}, x, train=False)
  return str(jax.make_jaxpr(logits)(images))


def test_the_shuffled_gradient_is_the_one_taken(config):
  """Where it applies (28 and 14 pixels, kernel 5, stride 2) D's gradient goes through the
  custom rule; with 'dilated' it does not."""
  assert _discriminator_jaxpr(config, 'pixel_shuffle').count('custom_vjp_call') == 2
  assert 'custom_vjp_call' not in _discriminator_jaxpr(config, 'dilated')


@pytest.mark.parametrize('spectral_norm', [False, True])
def test_strided_conv_initialises_as_flax_conv(spectral_norm):
  """The same names, shapes and initial values as nn.Conv, and spectral norm's vectors too:
  a checkpoint of either loads into the other."""
  x = jnp.ones((2, 28, 28, 1))
  init = nn.initializers.glorot_uniform()

  class Net(nn.Module):
    strided: bool

    @nn.compact
    def __call__(self, x):
      for i, f in enumerate((8, 16)):
        conv = (layers.StridedConv(f, (5, 5), (2, 2), init, jnp.float32, name=f'Conv_{i}')
                if self.strided else nn.Conv(f, (5, 5), strides=(2, 2), padding='SAME',
                                             kernel_init=init))
        x = nn.SpectralNorm(conv)(x, update_stats=True) if spectral_norm else conv(x)
      return x

  ours = Net(True).init(jax.random.PRNGKey(3), x)
  flax_conv = Net(False).init(jax.random.PRNGKey(3), x)
  assert jax.tree_util.tree_structure(ours) == jax.tree_util.tree_structure(flax_conv)
  for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(flax_conv)):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize('image_shape, spectral_norm', [
    ((28, 28, 1), False), ((28, 28, 1), True), ((32, 32, 3), False)])
def test_discriminator_input_gradient_way_is_the_same_function(config, image_shape,
                                                               spectral_norm):
  """train.conv_input_grad and train.pad_channels change how D's gradients are computed,
  not what: the same parameter tree, logits, and gradients for D's and G's updates (to 1e-5
  of the largest value, relative 1e-4)."""
  config.model.image_shape = image_shape
  config.model.spectral_norm = spectral_norm
  config.model.dropout_rate = 0.0
  images = jax.random.uniform(jax.random.PRNGKey(1), (4,) + image_shape, minval=-1, maxval=1)
  results = []
  for choice, pad in [(c, p) for c in layers.CONV_INPUT_GRAD for p in (0, 8)]:
    config.train.conv_input_grad = choice
    config.train.pad_channels = pad
    gan, state = _init(config)
    assert (gan.discriminator.conv_input_grad, gan.discriminator.pad_channels) == (choice, pad)
    variables = {'params': state.d_params, **({'batch_stats': state.d_batch_stats}
                                               if state.d_batch_stats else {})}
    logits = lambda p, x: gan.discriminator.apply({**variables, 'params': p}, x, train=False)
    # D's own update (its parameters), G's (the images), and a penalty's second order.
    d_grad = jax.grad(lambda p: jnp.sum(logits(p, images) ** 2))(state.d_params)
    x_grad = jax.grad(lambda x: jnp.sum(jnp.sin(logits(state.d_params, x))))(images)
    penalty = jax.grad(lambda p: jnp.sum(jax.grad(
        lambda x: jnp.sum(logits(p, x)))(images) ** 2))(state.d_params)
    results.append((state.d_params, logits(state.d_params, images), d_grad, x_grad, penalty))
  (params_a, *a), *others = results
  for params_b, *b in others:
    assert jax.tree_util.tree_all(jax.tree_util.tree_map(np.array_equal, params_a, params_b))
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
      np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5 * max(float(jnp.abs(y).max()), 1))


def _convs(jaxpr):
  """The convolutions of `jaxpr` in program order, also inside custom rules and nested calls."""
  found = []
  for e in jaxpr.eqns:
    for sub in e.params.values():
      sub = getattr(sub, 'jaxpr', sub)
      if hasattr(sub, 'eqns'):
        found += _convs(sub)
    if e.primitive.name == 'conv_general_dilated':
      found.append(e)
  return found


def _g_jaxpr(config, gan, state):
  z = jnp.zeros((2, config.model.latent_dim))
  return jax.make_jaxpr(lambda z: gan.generator.apply(
      {'params': state.g_params, 'batch_stats': state.g_batch_stats}, z, train=False))(z)


def _g_conv_outputs(config):
  g = _g_jaxpr(config, *_init(config))
  return [e.outvars[0].aval.shape[-1] for e in _convs(g.jaxpr)]


# G's convolutions' output channels under 'auto', layer by layer: a stride-1 layer is one
# convolution either way; a stride-2 one four of its width 'subpixel', one of 4x its width
# 'pixel_shuffle'.
@pytest.mark.parametrize('backend, shape, g_features, outputs', [
    ('cpu', (28, 28, 1), (32, 16, 8), [16] + [8] * 4 + [4]),
    ('cpu', (32, 32, 3), (32, 16, 8), [16] * 4 + [8] * 4 + [12]),
    ('cpu', (64, 64, 3), (32, 16, 8, 8), [16] * 4 + [8] * 4 + [8] * 4 + [12]),
    ('gpu', (28, 28, 1), (32, 16, 8), [16, 32, 4]),
    ('gpu', (32, 32, 3), (32, 16, 8), [64, 32, 12])])
def test_auto_computes_each_layer_its_own_way(config, monkeypatch, backend, shape, g_features,
                                               outputs):
  monkeypatch.setattr(jax, 'default_backend', lambda: backend)
  config.model.image_shape = shape
  config.model.g_features = g_features
  assert config.train.conv_transpose == 'auto'
  assert _g_conv_outputs(config) == outputs


@pytest.mark.parametrize('way, channels, pad, d_input, g_outputs', [
    ('pixel_shuffle', 1, 0, 1, [4]), ('pixel_shuffle', 1, 8, 8, [8]),
    ('pixel_shuffle', 3, 8, 8, [16]), ('pixel_shuffle', 1, 3, 3, [12]),
    ('subpixel', 1, 0, 1, [1] * 4), ('subpixel', 1, 8, 8, [8] * 4),
    ('subpixel', 3, 8, 8, [8] * 4)])
def test_pad_channels_rounds_the_narrow_convolutions_up(config, way, channels, pad, d_input,
                                                        g_outputs):
  """D's first convolution takes `d_input` channels and G's last layer's convolutions make
  `g_outputs` each (a pixel shuffle computes 4 per image channel: 1 -> 4, 8 with pad 8, 12
  with pad 3; sub-pixel computes 4 convolutions of one each); the images keep theirs."""
  size = 28 if channels == 1 else 32
  config.model.image_shape = (size, size, channels)
  config.train.conv_transpose = way
  config.train.pad_channels = pad
  gan, state = _init(config)
  images = jnp.zeros((2, size, size, channels))
  d = jax.make_jaxpr(lambda x: gan.discriminator.apply(
      {'params': state.d_params}, x, train=False))(images)
  g = _g_jaxpr(config, gan, state)
  d_convs, g_convs = _convs(d.jaxpr), _convs(g.jaxpr)
  # A wide layer stays as it is where its width is a multiple already (8 of 8), else rounds.
  wide = layers.round_up(config.model.d_features[0], pad)
  assert [e.invars[0].aval.shape[-1] for e in d_convs] == [d_input, wide]
  last = g_convs[-len(g_outputs):]
  assert [e.outvars[0].aval.shape[-1] for e in last] == g_outputs
  assert all(e.invars[0].aval.shape[-1] == config.model.g_features[-1] for e in last)
  assert g.out_avals[0].shape == (2, size, size, channels)


def test_conv_input_grad_auto_follows_the_backend(config):
  assert config.train.conv_input_grad == 'auto'
  assert models.make_discriminator(config).conv_input_grad == (
      layers.AUTO_CONV_INPUT_GRAD.get(jax.default_backend(), 'dilated'))
  del config.train['conv_input_grad']    # a config saved before the setting existed
  assert models.make_discriminator(config).conv_input_grad == (
      layers.AUTO_CONV_INPUT_GRAD.get(jax.default_backend(), 'dilated'))
  config.train.conv_input_grad = 'fft'
  with pytest.raises(JaxganError, match='conv_input_grad'):
    models.make_discriminator(config)
