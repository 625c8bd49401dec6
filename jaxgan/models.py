"""Generators and discriminators, built from the config by pure factory functions.

DCGAN (the TensorFlow tutorial's model, with the tutorial's Keras defaults:
glorot-uniform kernels, BatchNorm momentum 0.99 / epsilon 1e-3, LeakyReLU 0.3):

  G: Dense(7*7*256, no bias) BN LReLU -> 7x7x256 -> ConvT(128, 5x5, s1) BN LReLU
     -> ConvT(64, 5x5, s2) BN LReLU -> ConvT(1, 5x5, s2) tanh -> 28x28x1
     2,305,472 parameters + 25,472 batch statistics (latent 100).
  D: Conv(64, 5x5, s2) LReLU Dropout(0.3) -> Conv(128, 5x5, s2) LReLU Dropout(0.3)
     -> Dense(1) logit.  212,865 parameters.

MLP GAN (Goodfellow et al.'s fully-connected GAN, BN in G as in later ports):

  G: Dense 256-512-1024, each BN LReLU, -> Dense(784) tanh.  1,489,936 parameters
     (latent 100) + 3,584 batch statistics.
  D: Dense 1024-512-256, each LReLU Dropout -> Dense(1).  1,460,225 parameters.

At other resolutions (model.image_shape, from the data) G follows the DCGAN
paper: Dense to 4x4, then a stride-2 transposed convolution per width, BN and
LReLU between, to 1 or 3 channels; D's stride-2 convolutions take any size;
the MLP GAN's last layer has H*W*C outputs.

Conditional models (model.conditional) feed G the latent concatenated with a
learned label embedding, and condition D by projection (Miyato & Koyama 2018:
logit + <embed(y), features>) or by concatenation (a learned H x W label map as
an extra input channel). model.spectral_norm wraps each of D's convolutions and
dense layers in flax's SpectralNorm (one power iteration per training call).

With categorical latent codes (gan.latent_codes, InfoGAN: Chen et al. 2016) G
takes a code as a conditional G takes a label, and D has a second head, Q, a
Dense layer on the features its logit reads. With continuous codes
(gan.continuous_codes) Q has that many more outputs, its estimates of them, after
the categorical logits. D records Q's whole output as the intermediate CODE_LOGITS
(collection 'intermediates') for the update to read.
"""
import math
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan import layers
from jaxgan.defaults import TUTORIAL_SHAPE
from jaxgan.errors import ConfigError

# Where D records Q's output, code logits then continuous estimates (flax's intermediates).
CODE_LOGITS = 'code_logits'

_INITS = {
    'glorot_uniform': nn.initializers.glorot_uniform(),
    'lecun_normal': nn.initializers.lecun_normal(),
}


class _Layers(nn.Module):
  """Shared hyper-parameters of one network."""
  kernel_init: Any
  leaky_relu_slope: float
  bn_momentum: float
  bn_epsilon: float
  dtype: Any
  num_classes: int = 0          # > 0: conditional on an integer label
  label_embedding_dim: int = 50

  def act(self, x):
    return nn.leaky_relu(x, self.leaky_relu_slope)

  def bn(self, train):
    return nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum,
                        epsilon=self.bn_epsilon, dtype=self.dtype)

  def dense(self, features, use_bias=True):
    return nn.Dense(features, use_bias=use_bias, kernel_init=self.kernel_init, dtype=self.dtype)

  def check_labels(self, x, labels):
    if (labels is None) != (self.num_classes == 0):
      raise ValueError('a conditional model needs labels; an unconditional one takes none')
    if labels is not None and labels.shape != x.shape[:1]:
      raise ValueError(f'labels of shape {labels.shape} for a batch of {x.shape[0]}')

  def condition_latent(self, z, labels):
    """G's input: the latent, and for a conditional model its label's embedding."""
    self.check_labels(z, labels)
    if labels is None:
      return z
    return jnp.concatenate([z, nn.Embed(self.num_classes, self.label_embedding_dim)(labels)], -1)


class _Critic(_Layers):
  """A discriminator: optional spectral norm, label map input, projection head."""
  spectral_norm: bool = False
  conditioning: str = 'projection'   # 'projection' | 'concat'
  num_codes: int = 0                 # > 0: a Q head predicting G's categorical code
  num_continuous: int = 0            # > 0: Q also regresses G's continuous codes

  def layer(self, module, x, update_stats):
    if self.spectral_norm:
      return nn.SpectralNorm(module)(x, update_stats=update_stats)
    return module(x)

  def label_channel(self, x, labels):
    """Concatenation conditioning: a learned (H, W) map per label as one more channel."""
    self.check_labels(x, labels)
    if labels is None or self.conditioning != 'concat':
      return x
    label_map = nn.Embed(self.num_classes, x.shape[1] * x.shape[2])(labels)
    return jnp.concatenate([x, label_map.reshape(x.shape[:3] + (1,)).astype(x.dtype)], -1)

  def head(self, h, labels, update_stats):
    """Logit from features h (B, F); projection adds <embed(y), h>."""
    logit = self.layer(self.dense(1), h, update_stats)[:, 0]
    if self.num_codes or self.num_continuous:
      # Q stays outside spectral norm: it is a classifier, not the critic whose
      # Lipschitz constant the norm bounds. It keeps flax's default initialiser:
      # model.kernel_init is the tutorial layers' Keras default, and Q is not one of them.
      q = nn.Dense(self.num_codes + self.num_continuous, dtype=self.dtype, name='q_head')(h)
      self.sow('intermediates', CODE_LOGITS, q.astype(jnp.float32))
    if labels is not None and self.conditioning == 'projection':
      logit = logit + jnp.sum(nn.Embed(self.num_classes, h.shape[-1])(labels) * h, -1)
    return logit.astype(jnp.float32)


def dcgan_plan(image_shape, features):
  """(start side, strides) of G's transposed convolutions for square `image_shape`.

  28 pixels: the tutorial's 7x7 start and strides 1, 2, 2. 2**k pixels: the
  DCGAN paper's 4x4 start, doubled by each of len(features) convolutions.
  """
  size, width, _ = image_shape
  n = len(features)
  if size == width == 28 and n == 3:
    return 7, (1, 2, 2)
  if size == width and size >= 8 and size & (size - 1) == 0:
    if 4 * 2 ** n == size:
      return 4, (2,) * n
    need = size.bit_length() - 3
    raise ConfigError(f'model.g_features {tuple(features)} has {n} widths; {size}x{size} images '
                      f'need {need} (4x4 doubled {need} times), e.g. '
                      f'{tuple(64 * 2 ** i for i in reversed(range(need)))}')
  raise ConfigError(f'the DCGAN makes 28x28 images (3 g_features) or square powers of two from '
                    f'8 (32, 64, 128, ...), not {size}x{width}; set --config.data.image_size')


def per_layer(way, count):
  """`way` (one for every layer, or one for each) as a way for each of `count` layers."""
  ways = (way,) * count if isinstance(way, str) else tuple(way)
  if len(ways) != count:
    raise ValueError(f'{len(ways)} ways for {count} transposed convolutions')
  return ways


class DCGANGenerator(_Layers):
  features: Sequence[int] = (256, 128, 64)
  kernel_size: int = 5
  # How transposed convolutions are computed (the same function): one way for every layer,
  # or a way for each.
  conv_transpose: Any = 'dilated'
  image_shape: Sequence[int] = TUTORIAL_SHAPE
  pad_channels: int = 0   # sub-pixel ways only: output channels rounded up (same function)

  @nn.compact
  def __call__(self, z, train: bool, labels=None):
    z = self.condition_latent(z, labels)
    start, strides = dcgan_plan(self.image_shape, self.features)
    widths = tuple(self.features[1:]) + (self.image_shape[-1],)
    k = (self.kernel_size, self.kernel_size)
    ways = per_layer(self.conv_transpose, len(widths))

    def conv_t(i, f, s):
      # Named as nn.ConvTranspose names itself, so every way shares one parameter tree.
      if ways[i] == 'dilated':
        return nn.ConvTranspose(f, k, strides=(s, s), padding='SAME', use_bias=False,
                                kernel_init=self.kernel_init, dtype=self.dtype,
                                name=f'ConvTranspose_{i}')
      return layers.SubpixelConvTranspose(f, k, (s, s), self.kernel_init, self.dtype,
                                          way=ways[i], pad_channels=self.pad_channels,
                                          name=f'ConvTranspose_{i}')

    f0 = self.features[0]
    x = self.act(self.bn(train)(self.dense(start * start * f0, use_bias=False)(z)))
    x = x.reshape(x.shape[0], start, start, f0)
    for i, (f, stride) in enumerate(zip(widths, strides)):
      x = conv_t(i, f, stride)(x)
      if i < len(widths) - 1:
        x = self.act(self.bn(train)(x))
    return jnp.tanh(x.astype(jnp.float32))


class DCGANDiscriminator(_Critic):
  features: Sequence[int] = (64, 128)
  kernel_size: int = 5
  dropout_rate: float = 0.3
  conv_input_grad: str = 'dilated'   # how its convolutions' input gradients are computed
  pad_channels: int = 0   # input channels rounded up (same function)

  @nn.compact
  def __call__(self, x, train: bool, labels=None, update_stats=None):
    """`update_stats` (default: train) advances spectral norm's power iteration."""
    update_stats = train if update_stats is None else update_stats
    x = self.label_channel(x, labels)
    k = (self.kernel_size, self.kernel_size)
    for i, f in enumerate(self.features):
      # Named as nn.Conv names itself, so every way shares one parameter tree.
      conv = layers.StridedConv(f, k, (2, 2), kernel_init=self.kernel_init, dtype=self.dtype,
                                input_grad=self.conv_input_grad, pad_channels=self.pad_channels,
                                name=f'Conv_{i}')
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(
          self.act(self.layer(conv, x, update_stats)))
    return self.head(x.reshape(x.shape[0], -1), labels, update_stats)


class MLPGenerator(_Layers):
  features: Sequence[int] = (256, 512, 1024)
  image_shape: Sequence[int] = TUTORIAL_SHAPE

  @nn.compact
  def __call__(self, z, train: bool, labels=None):
    x = self.condition_latent(z, labels)
    for f in self.features:
      x = self.act(self.bn(train)(self.dense(f)(x)))
    x = self.dense(math.prod(self.image_shape))(x)
    return jnp.tanh(x.astype(jnp.float32)).reshape((z.shape[0],) + tuple(self.image_shape))


class MLPDiscriminator(_Critic):
  features: Sequence[int] = (1024, 512, 256)
  dropout_rate: float = 0.3

  @nn.compact
  def __call__(self, x, train: bool, labels=None, update_stats=None):
    update_stats = train if update_stats is None else update_stats
    x = self.label_channel(x, labels)
    x = x.reshape(x.shape[0], -1)
    for f in self.features:
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(
          self.act(self.layer(self.dense(f), x, update_stats)))
    return self.head(x, labels, update_stats)


def _common(config):
  m = config.model
  if m.kernel_init not in _INITS:
    raise ConfigError(f'model.kernel_init must be one of {sorted(_INITS)}, not {m.kernel_init!r}')
  dtypes = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}
  if config.train.compute_dtype not in dtypes:
    raise ConfigError(f'train.compute_dtype must be one of {sorted(dtypes)}, '
                      f'not {config.train.compute_dtype!r}')
  if m.conditional and m.num_classes < 2:
    raise ConfigError(f'model.num_classes must be at least 2 for a conditional model, '
                      f'not {m.num_classes}')
  return dict(kernel_init=_INITS[m.kernel_init], leaky_relu_slope=m.leaky_relu_slope,
              bn_momentum=m.bn_momentum, bn_epsilon=m.bn_epsilon,
              dtype=dtypes[config.train.compute_dtype],
              num_classes=conditioning_classes(config),
              label_embedding_dim=m.label_embedding_dim)


def _discrete_input(config, key, conditional_error):
  """The count `key` ('section.name') names, checked: 0 (off) or at least 2, and only for an
  unconditional model (`conditional_error` otherwise)."""
  section, name = key.split('.')
  # Configs saved before the key existed train without it.
  k = config[section].get(name, 0)
  if k == 0:
    return 0
  if k < 2:
    raise ConfigError(f'{key} must be 0 (off) or at least 2, not {k}')
  if config.model.conditional:
    raise ConfigError(conditional_error)
  return k


def clusters(config):
  """model.clusters, checked: 0 (off) or how many clusters of the images condition an
  otherwise unconditional model (clusters.py)."""
  k = _discrete_input(config, 'model.clusters',
                      'model.clusters conditions the model on clusters of the images in place '
                      'of labels; set model.conditional=False (or model.clusters=0)')
  if k and config.gan.get('latent_codes', 0):
    raise ConfigError('model.clusters and gan.latent_codes both give G a discrete input; '
                      'choose one')
  return k


def conditioning_classes(config):
  """How many classes condition G and D: a conditional model's labels, or the clusters of a
  self-conditioned one (0: unconditional)."""
  return config.model.num_classes if config.model.conditional else clusters(config)


def latent_codes(config):
  """gan.latent_codes, checked: 0 (off) or the number (>= 2) of an unconditional G's codes."""
  return _discrete_input(config, 'gan.latent_codes',
                         'gan.latent_codes is for an unconditional model; a conditional one '
                         'already draws from a label (set model.conditional=False or '
                         'gan.latent_codes=0)')


def continuous_codes(config):
  """gan.continuous_codes, checked: 0 (off) or how many of z's first entries are codes."""
  c = config.gan.get('continuous_codes', 0)
  if not 0 <= c <= config.model.latent_dim:
    raise ConfigError(f'gan.continuous_codes must be between 0 (off) and model.latent_dim '
                      f'({config.model.latent_dim}), not {c}')
  return c


def _conv_transpose(config):
  """train.conv_transpose, with 'auto' resolved for the backend JAX runs on."""
  # Configs saved before this setting existed build the default.
  choice = config.train.get('conv_transpose', 'auto')
  if choice not in layers.CONV_TRANSPOSE + ('auto',):
    raise ConfigError(f"train.conv_transpose must be 'auto', "
                      f"{', '.join(repr(c) for c in layers.CONV_TRANSPOSE)}, not {choice!r}")
  # A kernel narrower than the stride leaves some output phases without taps.
  narrow = config.model.kernel_size < 2
  if choice == 'auto':
    if narrow:
      return 'dilated'
    hidden, output = layers.AUTO_CONV_TRANSPOSE.get(jax.default_backend(),
                                                    layers.AUTO_CONV_TRANSPOSE_ELSEWHERE)
    if hidden == output:
      return hidden
    return (hidden,) * (len(config.model.g_features) - 1) + (output,)
  if narrow and choice != 'dilated':
    raise ConfigError(f'train.conv_transpose {choice!r} needs model.kernel_size >= 2 (the '
                      f"stride), not {config.model.kernel_size}; use 'dilated'")
  return choice


def _conv_input_grad(config):
  """train.conv_input_grad, with 'auto' resolved for the backend JAX runs on."""
  choice = config.train.get('conv_input_grad', 'auto')
  if choice not in layers.CONV_INPUT_GRAD + ('auto',):
    raise ConfigError(f"train.conv_input_grad must be 'auto', "
                      f"{', '.join(repr(c) for c in layers.CONV_INPUT_GRAD)}, not {choice!r}")
  if choice == 'auto':
    return layers.AUTO_CONV_INPUT_GRAD.get(jax.default_backend(), 'dilated')
  return choice


def _pad_channels(config):
  """train.pad_channels, checked: 0 (off) or the multiple channel counts are rounded up to."""
  pad = config.train.get('pad_channels', 0)   # configs saved before it existed had none
  if not isinstance(pad, int) or pad < 0:
    raise ConfigError(f'train.pad_channels must be 0 (off) or a channel count, not {pad!r}')
  return pad


def _critic(config):
  m = config.model
  if m.conditioning not in ('projection', 'concat'):
    raise ConfigError(f"model.conditioning must be 'projection' or 'concat', "
                      f"not {m.conditioning!r}")
  return dict(spectral_norm=m.spectral_norm, conditioning=m.conditioning,
              num_codes=latent_codes(config), num_continuous=continuous_codes(config),
              **_common(config))


def _g_common(config):
  """G's settings: a code model's G embeds its code as a conditional G embeds its label."""
  common = _common(config)
  common['num_classes'] = latent_codes(config) or common['num_classes']
  return common


def _check_name(config):
  if config.model.name not in ('dcgan', 'mlp'):
    raise ConfigError(f"model.name must be 'dcgan' or 'mlp', not {config.model.name!r}")
  return config.model.name


def image_shape(config):
  """(H, W, C) the models make and take: model.image_shape, set from the data by the trainer."""
  shape = tuple(int(d) for d in (config.model.get('image_shape', ()) or TUTORIAL_SHAPE))
  if len(shape) != 3 or shape[-1] not in (1, 3) or min(shape) < 1:
    raise ConfigError(f'model.image_shape must be (H, W, 1 or 3), not {shape}')
  return shape


def make_generator(config):
  """The generator: latent (B, latent_dim) [, labels (B,)] -> images (B, H, W, C) in [-1, 1]."""
  m = config.model
  if _check_name(config) == 'dcgan':
    dcgan_plan(image_shape(config), m.g_features)
    return DCGANGenerator(features=tuple(m.g_features), kernel_size=m.kernel_size,
                          conv_transpose=_conv_transpose(config), image_shape=image_shape(config),
                          pad_channels=_pad_channels(config), **_g_common(config))
  return MLPGenerator(features=tuple(m.mlp_g_features), image_shape=image_shape(config),
                      **_g_common(config))


def make_discriminator(config):
  """The discriminator: images (B, H, W, C) [, labels (B,)] -> logits (B,)."""
  m = config.model
  if _check_name(config) == 'dcgan':
    return DCGANDiscriminator(features=tuple(m.d_features), kernel_size=m.kernel_size,
                              dropout_rate=m.dropout_rate,
                              conv_input_grad=_conv_input_grad(config),
                              pad_channels=_pad_channels(config), **_critic(config))
  return MLPDiscriminator(features=tuple(m.mlp_d_features), dropout_rate=m.dropout_rate,
                          **_critic(config))
