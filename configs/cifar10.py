"""A DCGAN at 32x32x3 on CIFAR-10 (tfds `cifar10`, 50,000 training images, 10 classes).

Online, tfds downloads CIFAR-10 once and jaxgan caches it as a uint8 array.
G follows the DCGAN paper at this size: Dense to 4x4x256, then stride-2
transposed convolutions to 8x8x128, 16x16x64 and 32x32x3; D has three stride-2
convolutions (64-128-256). The training recipe follows what the CPU digits
recipe (configs/mnist_cpu.py) measured, at the DCGAN paper's rate: hinge
loss with a spectrally normalised D without dropout, D at twice G's rate, an
EMA of G drawn with recomputed BatchNorm statistics; Adam's beta1 stays the
paper's 0.5 here, as beta1 0 (the digits recipe's later change) is not
measured on colour images.
Sample quality is measured in the features of a CNN classifier trained on
CIFAR-10 itself (its held-out accuracy is logged and cached with it).
"""
from jaxgan import defaults


def get_config():
  config = defaults.get_config()
  config.data.source = 'tfds'
  config.data.name = 'cifar10'
  config.data.split = 'train'
  config.data.fallback_to_bundled = False
  config.model.g_features = (256, 128, 64)
  config.model.d_features = (64, 128, 256)
  config.model.dropout_rate = 0.0
  config.model.leaky_relu_slope = 0.2
  config.model.spectral_norm = True
  config.loss = 'hinge'
  config.optimizer.g_learning_rate = 2e-4
  config.optimizer.d_learning_rate = 4e-4
  config.optimizer.b1 = 0.5
  config.optimizer.b2 = 0.999
  config.gan.ema_decay = 0.999
  config.eval.batch_norm = 'recomputed'
  config.eval.classifier_epochs = 10
  config.train.batch_size = 64
  config.train.num_steps = 50_000
  config.train.eval_every = 2500
  config.train.checkpoint_every = 2500
  config.train.log_every = 250
  return config
