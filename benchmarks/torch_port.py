"""The tutorial DCGAN and jaxgan's update step, ported to PyTorch for side-by-side timing.

The same function as jaxgan's `configs/mnist.py` model, not merely the same
layer list: Keras defaults (glorot-uniform kernels, zero biases, BatchNorm
momentum 0.99 = PyTorch's 0.01, epsilon 1e-3, LeakyReLU 0.3, Adam epsilon
1e-7), and 'SAME' padding as XLA/Keras place it, which pads a 5x5 stride-2
convolution 1 before and 2 after, where PyTorch's symmetric padding=2 would
shift every window by one pixel. `load_jaxgan` copies a jaxgan state in, and
the tests check that both compute the same outputs and the same update.

The step is jaxgan's: D updates on a real batch and G's fakes, then G updates
against the updated D, G running forward once. The port is a strong eager
baseline: data resident on the device as uint8, batches gathered there, fused
Adam on CUDA, cudnn.benchmark, TF32, D's weights frozen during G's backward,
optional bfloat16 autocast. Nothing here is imported by jaxgan itself.
"""
import math
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F


def same_padding(size, kernel, stride):
  """(before, after) padding of XLA/Keras 'SAME' along one spatial axis."""
  out = -(-size // stride)
  total = max((out - 1) * stride + kernel - size, 0)
  return total // 2, total - total // 2


class SameConvTranspose2d(nn.ConvTranspose2d):
  """Flax's 'SAME' transposed convolution: output size x stride, cropped as Flax crops.

  Of the full transposed output ((n - 1) * s + k), Flax keeps n * s values
  starting at (k - s) // 2 (1 for 5x5 stride 2, where PyTorch's padding=2,
  output_padding=1 would start at 2).
  """

  def __init__(self, in_channels, out_channels, kernel, stride):
    super().__init__(in_channels, out_channels, kernel, stride=stride,
                     padding=(kernel - stride) // 2, bias=False)

  def forward(self, x):
    n = x.shape[-1] * self.stride[0]
    return super().forward(x)[..., :n, :n]


class Generator(nn.Module):
  """Dense(7*7*f0) BN LReLU -> (f0, 7, 7) -> ConvT f1 s1 -> ConvT f2 s2 -> ConvT 1 s2, tanh."""

  def __init__(self, latent_dim=100, features=(256, 128, 64), kernel=5, slope=0.3,
               momentum=0.01, eps=1e-3):
    super().__init__()
    f0, f1, f2 = features
    self.f0, self.slope = f0, slope
    bn1d = lambda n: nn.BatchNorm1d(n, momentum=momentum, eps=eps)
    bn2d = lambda n: nn.BatchNorm2d(n, momentum=momentum, eps=eps)
    conv_t = lambda i, o, s: SameConvTranspose2d(i, o, kernel, s)
    self.dense = nn.Linear(latent_dim, 7 * 7 * f0, bias=False)
    self.bn0 = bn1d(7 * 7 * f0)
    self.up1, self.bn1 = conv_t(f0, f1, 1), bn2d(f1)
    self.up2, self.bn2 = conv_t(f1, f2, 2), bn2d(f2)
    self.up3 = conv_t(f2, 1, 2)
    _keras_init(self)

  def forward(self, z):
    act = lambda x: F.leaky_relu(x, self.slope)
    x = act(self.bn0(self.dense(z))).view(-1, self.f0, 7, 7)
    x = act(self.bn1(self.up1(x)))
    x = act(self.bn2(self.up2(x)))
    return torch.tanh(self.up3(x))


class Discriminator(nn.Module):
  """Conv f0 s2 LReLU Dropout -> Conv f1 s2 LReLU Dropout -> Dense(1) logit."""

  def __init__(self, features=(64, 128), kernel=5, slope=0.3, dropout=0.3, size=28):
    super().__init__()
    self.slope, self.dropout, self.kernel = slope, dropout, kernel
    channels = (1,) + tuple(features)
    self.convs = nn.ModuleList(nn.Conv2d(i, o, kernel, stride=2)
                               for i, o in zip(channels[:-1], channels[1:]))
    self.pads = []
    for _ in features:
      before, after = same_padding(size, kernel, 2)
      self.pads.append((before, after, before, after))
      size = -(-size // 2)
    self.dense = nn.Linear(size * size * features[-1], 1)
    _keras_init(self)

  def forward(self, x):
    for conv, pad in zip(self.convs, self.pads):
      x = F.dropout(F.leaky_relu(conv(F.pad(x, pad)), self.slope), self.dropout, self.training)
    return self.dense(x.flatten(1))[:, 0]


def _keras_init(module):
  for m in module.modules():
    if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
      nn.init.xavier_uniform_(m.weight)
      if m.bias is not None:
        nn.init.zeros_(m.bias)


def _nhwc_to_nchw_features(n, h, w, c):
  """Index map of a flattened (h, w, c) feature vector into (c, h, w) order."""
  return np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).reshape(-1)[:n]


@torch.no_grad()
def load_jaxgan(generator, discriminator, g_params, g_batch_stats, d_params):
  """Copies jaxgan's (Flax, NHWC) DCGAN weights into the port (NCHW)."""
  t = lambda a: torch.tensor(np.asarray(a, np.float32))
  f0 = generator.f0
  order = _nhwc_to_nchw_features(49 * f0, 7, 7, f0)
  generator.dense.weight.copy_(t(g_params['Dense_0']['kernel']).T[order])

  def copy_bn(bn, name, index=slice(None)):
    for ours, theirs in ((bn.weight, g_params[name]['scale']), (bn.bias, g_params[name]['bias']),
                         (bn.running_mean, g_batch_stats[name]['mean']),
                         (bn.running_var, g_batch_stats[name]['var'])):
      ours.copy_(t(theirs)[index])

  copy_bn(generator.bn0, 'BatchNorm_0', order)
  for i, (up, bn) in enumerate([(generator.up1, generator.bn1), (generator.up2, generator.bn2),
                                (generator.up3, None)]):
    # Flax's transposed convolution correlates the dilated input with its
    # (kh, kw, in, out) kernel; PyTorch's is the adjoint of a correlation, so
    # it applies the kernel flipped in space.
    up.weight.copy_(t(g_params[f'ConvTranspose_{i}']['kernel']).flip(0, 1).permute(2, 3, 0, 1))
    if bn is not None:
      copy_bn(bn, f'BatchNorm_{i + 1}')
  for i, conv in enumerate(discriminator.convs):
    conv.weight.copy_(t(d_params[f'Conv_{i}']['kernel']).permute(3, 2, 0, 1))
    conv.bias.copy_(t(d_params[f'Conv_{i}']['bias']))
  kernel = t(d_params['Dense_0']['kernel'])
  c = discriminator.convs[-1].out_channels
  side = math.isqrt(kernel.shape[0] // c)
  discriminator.dense.weight.copy_(kernel.T[:, _nhwc_to_nchw_features(kernel.shape[0], side,
                                                                       side, c)])
  discriminator.dense.bias.copy_(t(d_params['Dense_0']['bias']))


class Trainer:
  """jaxgan's step in eager PyTorch: D on real + detached fakes, then G against the new D."""

  def __init__(self, generator, discriminator, lr=1e-4, betas=(0.9, 0.999), eps=1e-7,
               bf16=False):
    self.g, self.d = generator, discriminator
    fused = next(generator.parameters()).is_cuda
    self.g_opt = torch.optim.Adam(generator.parameters(), lr, betas=betas, eps=eps, fused=fused)
    self.d_opt = torch.optim.Adam(discriminator.parameters(), lr, betas=betas, eps=eps,
                                  fused=fused)
    self.device_type = next(generator.parameters()).device.type
    self.bf16 = bf16

  def _autocast(self):
    return torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16)

  def step(self, real, z):
    """One update on pixels `real` (B, 1, 28, 28) in [-1, 1] and latents `z`; the two losses."""
    bce = F.binary_cross_entropy_with_logits
    with self._autocast():
      fake = self.g(z)
      logits = self.d(torch.cat([real, fake.detach()])).float()
    real_logits, fake_logits = logits.chunk(2)
    d_loss = (bce(real_logits, torch.ones_like(real_logits))
              + bce(fake_logits, torch.zeros_like(fake_logits)))
    self.d_opt.zero_grad(set_to_none=True)
    d_loss.backward()
    self.d_opt.step()

    self.d.requires_grad_(False)
    with self._autocast():
      g_logits = self.d(fake).float()
    g_loss = bce(g_logits, torch.ones_like(g_logits))
    self.g_opt.zero_grad(set_to_none=True)
    g_loss.backward()
    self.g_opt.step()
    self.d.requires_grad_(True)
    return d_loss.detach(), g_loss.detach()


def to_pixels(images_uint8):
  return (images_uint8.float() - 127.5) / 127.5


def unsupported(config):
  """Why the port cannot run a jaxgan config, or None: it ports the tutorial DCGAN's step only."""
  m, g, o = config.model, config.gan, config.optimizer
  checks = {'model.name': m.name == 'dcgan', 'model.conditional': not m.conditional,
            'model.image_shape': tuple(m.get('image_shape', ()) or (28, 28, 1)) == (28, 28, 1),
            'model.spectral_norm': not m.spectral_norm,
            'model.kernel_init': m.kernel_init == 'glorot_uniform',
            'loss': config.loss == 'non_saturating', 'optimizer.name': o.name == 'adam',
            'optimizer.schedule': o.schedule == 'constant' and o.warmup_steps == 0,
            'optimizer.grad_clip_norm': not o.grad_clip_norm,
            'gan.*': (g.n_critic == 1 and g.real_label == 1.0 and not g.gradient_penalty
                      and not g.r1_gamma and not g.weight_clip and not g.ema_decay),
            'gan.update_order': g.get('update_order', 'alternating') == 'alternating'}
  off = [k for k, ok in checks.items() if not ok]
  return f'the port has no equivalent of {", ".join(off)}' if off else None


def make_trainer(config, device):
  """The port of a jaxgan DCGAN config (see `unsupported`) on `device`."""
  m, o = config.model, config.optimizer
  layers = dict(kernel=m.kernel_size, slope=m.leaky_relu_slope)
  generator = Generator(latent_dim=m.latent_dim, features=tuple(m.g_features),
                        momentum=1.0 - m.bn_momentum, eps=m.bn_epsilon, **layers)
  discriminator = Discriminator(features=tuple(m.d_features), dropout=m.dropout_rate, **layers)
  if o.g_learning_rate != o.d_learning_rate:
    raise ValueError('the port uses one learning rate for both networks')
  return Trainer(generator.to(device).train(), discriminator.to(device).train(),
                 lr=o.g_learning_rate, betas=(o.b1, o.b2), eps=o.eps,
                 bf16=config.train.compute_dtype == 'bfloat16')


def measure(config, steps, num_examples=60_000, device=None, seed=0, on_steps=None):
  """Steps/s of the port on random uint8 images resident on `device` (default: cuda if present).

  `on_steps(done)` is called after each timed step (for a progress line).
  """
  device = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
  if device.type == 'cuda':
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
  torch.manual_seed(seed)
  trainer = make_trainer(config, device)
  batch_size, latent_dim = config.train.batch_size, config.model.latent_dim
  images = torch.randint(0, 256, (num_examples, 1, 28, 28), dtype=torch.uint8, device=device)
  per_epoch = num_examples // batch_size
  sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)

  def run(first, count, on_steps=None):
    perm = None
    for i in range(first, first + count):
      if perm is None or i % per_epoch == 0:
        perm = torch.randperm(num_examples, device=device)
      idx = perm[(i % per_epoch) * batch_size:(i % per_epoch + 1) * batch_size]
      losses = trainer.step(to_pixels(images[idx]),
                            torch.randn(batch_size, latent_dim, device=device))
      if on_steps is not None:
        on_steps(i - first + 1)
    sync()
    return losses

  t0 = time.perf_counter()
  run(0, 10)   # cudnn.benchmark autotunes during these
  warmup_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  d_loss, g_loss = run(10, steps, on_steps)
  elapsed = time.perf_counter() - t0
  stats = {'torch': torch.__version__, 'device': str(device), 'steps': steps,
           'steps_per_sec': steps / elapsed, 'images_per_sec': steps * batch_size / elapsed,
           'warmup_s': warmup_s, 'bf16_autocast': trainer.bf16,
           'finite_losses': bool(torch.isfinite(d_loss) and torch.isfinite(g_loss))}
  if device.type == 'cuda':
    stats['peak_device_memory_bytes'] = torch.cuda.max_memory_allocated(device)
  return stats
