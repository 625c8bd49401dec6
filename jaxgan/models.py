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
"""
import functools
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxgan.errors import JaxganError

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

  def act(self, x):
    return nn.leaky_relu(x, self.leaky_relu_slope)

  def bn(self, train):
    return nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum,
                        epsilon=self.bn_epsilon, dtype=self.dtype)

  def dense(self, features, use_bias=True):
    return nn.Dense(features, use_bias=use_bias, kernel_init=self.kernel_init, dtype=self.dtype)


class DCGANGenerator(_Layers):
  features: Sequence[int] = (256, 128, 64)
  kernel_size: int = 5

  @nn.compact
  def __call__(self, z, train: bool):
    f0, f1, f2 = self.features
    k = (self.kernel_size, self.kernel_size)
    conv_t = functools.partial(nn.ConvTranspose, kernel_size=k, padding='SAME', use_bias=False,
                               kernel_init=self.kernel_init, dtype=self.dtype)
    x = self.act(self.bn(train)(self.dense(7 * 7 * f0, use_bias=False)(z)))
    x = x.reshape(x.shape[0], 7, 7, f0)
    x = self.act(self.bn(train)(conv_t(f1, strides=(1, 1))(x)))
    x = self.act(self.bn(train)(conv_t(f2, strides=(2, 2))(x)))
    x = conv_t(1, strides=(2, 2))(x)
    return jnp.tanh(x.astype(jnp.float32))


class DCGANDiscriminator(_Layers):
  features: Sequence[int] = (64, 128)
  kernel_size: int = 5
  dropout_rate: float = 0.3

  @nn.compact
  def __call__(self, x, train: bool):
    k = (self.kernel_size, self.kernel_size)
    for f in self.features:
      x = nn.Conv(f, k, strides=(2, 2), padding='SAME', kernel_init=self.kernel_init,
                  dtype=self.dtype)(x)
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(self.act(x))
    x = x.reshape(x.shape[0], -1)
    return self.dense(1)(x)[:, 0].astype(jnp.float32)


class MLPGenerator(_Layers):
  features: Sequence[int] = (256, 512, 1024)

  @nn.compact
  def __call__(self, z, train: bool):
    x = z
    for f in self.features:
      x = self.act(self.bn(train)(self.dense(f)(x)))
    x = self.dense(28 * 28)(x)
    return jnp.tanh(x.astype(jnp.float32)).reshape(z.shape[0], 28, 28, 1)


class MLPDiscriminator(_Layers):
  features: Sequence[int] = (1024, 512, 256)
  dropout_rate: float = 0.3

  @nn.compact
  def __call__(self, x, train: bool):
    x = x.reshape(x.shape[0], -1)
    for f in self.features:
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(self.act(self.dense(f)(x)))
    return self.dense(1)(x)[:, 0].astype(jnp.float32)


def _common(config):
  m = config.model
  if m.kernel_init not in _INITS:
    raise JaxganError(f'model.kernel_init must be one of {sorted(_INITS)}, not {m.kernel_init!r}')
  dtypes = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}
  if config.train.compute_dtype not in dtypes:
    raise JaxganError(f'train.compute_dtype must be one of {sorted(dtypes)}, '
                      f'not {config.train.compute_dtype!r}')
  return dict(kernel_init=_INITS[m.kernel_init], leaky_relu_slope=m.leaky_relu_slope,
              bn_momentum=m.bn_momentum, bn_epsilon=m.bn_epsilon,
              dtype=dtypes[config.train.compute_dtype])


def _check_name(config):
  if config.model.name not in ('dcgan', 'mlp'):
    raise JaxganError(f"model.name must be 'dcgan' or 'mlp', not {config.model.name!r}")
  return config.model.name


def make_generator(config):
  """The generator module: latent (B, latent_dim) -> images (B, 28, 28, 1) in [-1, 1]."""
  m = config.model
  if _check_name(config) == 'dcgan':
    return DCGANGenerator(features=tuple(m.g_features), kernel_size=m.kernel_size, **_common(config))
  return MLPGenerator(features=tuple(m.mlp_g_features), **_common(config))


def make_discriminator(config):
  """The discriminator module: images (B, 28, 28, 1) -> logits (B,)."""
  m = config.model
  if _check_name(config) == 'dcgan':
    return DCGANDiscriminator(features=tuple(m.d_features), kernel_size=m.kernel_size,
                              dropout_rate=m.dropout_rate, **_common(config))
  return MLPDiscriminator(features=tuple(m.mlp_d_features), dropout_rate=m.dropout_rate,
                          **_common(config))
