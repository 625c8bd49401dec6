"""Layers the models share: G's transposed convolution, computed one of three equal ways,
and D's strided convolution, whose input gradient is computed one of two equal ways.
Either may round a channel count up with zero channels (`pad_channels`): the same
function, in a shape GPU tensor cores take (cuDNN runs a one-channel convolution on a
generic kernel, and XLA declines to pad one channel to eight itself).

'dilated' is flax's nn.ConvTranspose (XLA's dilated-input convolution);
'subpixel' and 'pixel_shuffle' compute the same function from the same
parameter with ordinary convolutions. The input gradient of a strided
convolution is itself a transposed convolution: 'dilated' leaves it to XLA,
'pixel_shuffle' computes it as G's 'pixel_shuffle' layer does.
"""
import functools
import math
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


CONV_TRANSPOSE = ('dilated', 'subpixel', 'pixel_shuffle')
# What train.conv_transpose 'auto' computes, by backend, as (G's hidden layers, its output
# layer): the fastest way measured there for each (docs/performance.md). A CPU's XLA
# kernels take 'subpixel''s four smaller convolutions faster than one with the padding
# taps, but not where each of the four has only the image's few output channels; the
# GPU's fastest, 'pixel_shuffle', everywhere else.
AUTO_CONV_TRANSPOSE = {'cpu': ('subpixel', 'pixel_shuffle')}
AUTO_CONV_TRANSPOSE_ELSEWHERE = ('pixel_shuffle', 'pixel_shuffle')
CONV_INPUT_GRAD = ('dilated', 'pixel_shuffle')
# What train.conv_input_grad 'auto' computes, by backend: measured on CPU only so far
# (docs/performance.md); elsewhere XLA's own until measured.
AUTO_CONV_INPUT_GRAD = {'cpu': 'pixel_shuffle'}



def zero_pad(a, axis, size):
  """`a` with zeros appended along `axis` up to `size` entries (as it is when already as wide)."""
  extra = size - a.shape[axis]
  if extra <= 0:
    return a
  widths = [(0, 0)] * a.ndim
  widths[axis] = (0, extra)
  return jnp.pad(a, widths)


def _subpixel_taps(phase, kernel_size, stride):
  """Kernel taps that reach output phase `phase`, and the input padding they need."""
  before = (stride + kernel_size - 1) // 2   # 'SAME' padding of the dilated input
  taps = [t for t in range(kernel_size) if (phase + t - before) % stride == 0]
  offsets = [(phase + t - before) // stride for t in taps]
  return taps, (-offsets[0], offsets[-1])


def round_up(count, multiple):
  """The least multiple of `multiple` (0: none) that is at least `count`."""
  return -(-count // multiple) * multiple if multiple else count


def subpixel_conv_transpose(x, kernel, stride, channels=None):
  """Flax's 'SAME' transposed convolution (NHWC, HWIO kernel) as stride**2 stride-1 convolutions.

  Output pixel (s*i + a, s*j + b) only meets the kernel taps whose parity
  matches (a, b), so each of the s*s output phases is an ordinary convolution of
  the undilated input with a sub-kernel; the phases are then interleaved. Same
  products, summed in another order: equal to rounding. `channels`: the kernel's
  first output channels kept (the rest are zero padding).
  """
  n, h, w, _ = x.shape
  c = channels or kernel.shape[-1]
  rows = []
  for a in range(stride):
    taps_a, pad_a = _subpixel_taps(a, kernel.shape[0], stride)
    cols = []
    for b in range(stride):
      taps_b, pad_b = _subpixel_taps(b, kernel.shape[1], stride)
      cols.append(jax.lax.conv_general_dilated(
          x, kernel[np.ix_(taps_a, taps_b)], (1, 1), (pad_a, pad_b),
          dimension_numbers=('NHWC', 'HWIO', 'NHWC'))[..., :c])
    rows.append(jnp.stack(cols, 3))             # (n, h, w, b, c)
  return jnp.stack(rows, 2).reshape(n, h * stride, w * stride, c)


def pixel_shuffle_conv_transpose(x, kernel, stride, channels=None):
  """The same transposed convolution as one stride-1 convolution and a pixel shuffle.

  The s*s phases' sub-kernels, zero-padded to one common window, become the
  s*s*C output channels of a single convolution (larger matrix products and one
  launch instead of s*s), whose channels are then moved into space. `channels`: the
  kernel's first output channels kept (the rest are zero padding, dropped before the move).
  """
  n, h, w, _ = x.shape
  taps = [_subpixel_taps(a, kernel.shape[0], stride) for a in range(stride)]
  lo = max(pad[0] for _, pad in taps)
  hi = max(pad[1] for _, pad in taps)
  phases = []
  for taps_a, pad_a in taps:
    for taps_b, pad_b in taps:
      sub = kernel[np.ix_(taps_a, taps_b)]
      phases.append(jnp.pad(sub, ((lo - pad_a[0], hi - pad_a[1]), (lo - pad_b[0], hi - pad_b[1]),
                                  (0, 0), (0, 0))))
  y = jax.lax.conv_general_dilated(x, jnp.concatenate(phases, -1), (1, 1), ((lo, hi), (lo, hi)),
                                   dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  c = channels or kernel.shape[-1]
  y = y.reshape(n, h, w, stride, stride, kernel.shape[-1])[..., :c].transpose(0, 1, 3, 2, 4, 5)
  return y.reshape(n, h * stride, w * stride, c)


_SUBPIXEL_WAYS = {'subpixel': subpixel_conv_transpose,
                  'pixel_shuffle': pixel_shuffle_conv_transpose}


class SubpixelConvTranspose(nn.Module):
  """nn.ConvTranspose(padding='SAME', use_bias=False) with the same parameter, computed sub-pixel.

  XLA takes a slow path for the kernel gradient of a dilated-input convolution
  on CPU, and a large share of a GPU step too; benchmarks/conv_transpose_layer.py
  and docs/performance.md have the figures.
  """
  features: int
  kernel_size: Sequence[int]
  strides: Sequence[int]
  kernel_init: Any
  dtype: Any
  way: str = 'subpixel'   # or 'pixel_shuffle': one convolution and a shuffle, not stride**2
  # Each convolution's output channels rounded up to a multiple of this (0: as they are),
  # with zero kernels dropped after it: G's one-channel output is otherwise off tensor cores.
  pad_channels: int = 0

  @nn.compact
  def __call__(self, x):
    kernel = self.param('kernel', self.kernel_init,
                        tuple(self.kernel_size) + (x.shape[-1], self.features), jnp.float32)
    x, kernel = nn.dtypes.promote_dtype(x, kernel, dtype=self.dtype)
    stride = self.strides[0]
    if stride != self.strides[1]:
      raise ValueError('sub-pixel transposed convolutions need equal strides')
    # A pixel shuffle's one convolution computes stride**2 channels for each of the kernel's.
    per = stride * stride if self.way == 'pixel_shuffle' and stride > 1 else 1
    if self.pad_channels:
      step = self.pad_channels // math.gcd(self.pad_channels, per)
      kernel = zero_pad(kernel, 3, round_up(self.features, step))
    if stride == 1:
      y = jax.lax.conv_general_dilated(
          x, kernel, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
      return y[..., :self.features]
    return _SUBPIXEL_WAYS[self.way](x, kernel, stride, self.features)


def _strided_conv(x, kernel, stride):
  return jax.lax.conv_general_dilated(x, kernel, (stride, stride), 'SAME',
                                      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def shuffled_grad_conv(x, kernel, stride):
  """A 'SAME' strided convolution whose input gradient is a pixel-shuffle transposed convolution.

  The input gradient of y = conv(x, K, stride) is K's transposed convolution
  of dy with K flipped in space and its channel axes swapped; where the input
  divides by the stride and the kernel is at least the stride wide, Flax's
  'SAME' placement lines up exactly, so pixel_shuffle_conv_transpose computes
  it from ordinary convolutions instead of XLA's dilated-input one. The same
  products summed in another order: equal to rounding. The kernel gradient is
  XLA's own. Differentiable again (the backward pass is plain JAX), as R1 and
  gradient penalties need.
  """
  return _strided_conv(x, kernel, stride)


def _shuffled_grad_conv_fwd(x, kernel, stride):
  return _strided_conv(x, kernel, stride), (x, kernel)


def _shuffled_grad_conv_bwd(stride, residuals, dy):
  x, kernel = residuals
  flipped = jnp.flip(kernel, (0, 1)).swapaxes(2, 3)
  dx = pixel_shuffle_conv_transpose(dy, flipped, stride)
  dkernel = jax.vjp(lambda k: _strided_conv(x, k, stride), kernel)[1](dy)[0]
  return dx.astype(x.dtype), dkernel


shuffled_grad_conv.defvjp(_shuffled_grad_conv_fwd, _shuffled_grad_conv_bwd)


def shuffles_exactly(shape, kernel_size, stride):
  """Whether shuffled_grad_conv's gradient is the exact one for inputs of `shape` (N, H, W, C)."""
  return (stride > 1 and kernel_size >= stride
          and shape[1] % stride == 0 and shape[2] % stride == 0)


class StridedConv(nn.Module):
  """nn.Conv(padding='SAME') with the same parameters; `input_grad` says how its input
  gradient is computed ('dilated': XLA's; 'pixel_shuffle': shuffled_grad_conv, where
  that is exact, else XLA's)."""
  features: int
  kernel_size: Sequence[int]
  strides: Sequence[int]
  kernel_init: Any
  dtype: Any
  input_grad: str = 'dilated'
  # Input channels rounded up to a multiple of this (0: as they are) with zero channels of
  # input and kernel: D's one-channel input is otherwise off tensor cores.
  pad_channels: int = 0

  @nn.compact
  def __call__(self, x):
    kernel = self.param('kernel', self.kernel_init,
                        tuple(self.kernel_size) + (x.shape[-1], self.features), jnp.float32)
    bias = self.param('bias', nn.initializers.zeros_init(), (self.features,), jnp.float32)
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    width = round_up(x.shape[-1], self.pad_channels)
    x, kernel = zero_pad(x, 3, width), zero_pad(kernel, 2, width)
    stride = self.strides[0]
    if (self.input_grad == 'pixel_shuffle' and self.strides[0] == self.strides[1]
        and self.kernel_size[0] == self.kernel_size[1]
        and shuffles_exactly(x.shape, self.kernel_size[0], stride)):
      y = shuffled_grad_conv(x, kernel, stride)
    else:
      y = jax.lax.conv_general_dilated(x, kernel, tuple(self.strides), 'SAME',
                                       dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    return y + bias.reshape((1, 1, 1, -1))
