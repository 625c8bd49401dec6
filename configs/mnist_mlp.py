"""The fully-connected GAN (Goodfellow et al. 2014) on MNIST.

G: 256-512-1024 with batch norm, D: 1024-512-256 with dropout; Adam 2e-4,
beta1 0.5, batch 64, as the common PyTorch ports train it.
"""
from jaxgan import defaults


def get_config():
  config = defaults.get_config()
  config.model.name = 'mlp'
  config.optimizer.g_learning_rate = 2e-4
  config.optimizer.d_learning_rate = 2e-4
  config.optimizer.b1 = 0.5
  config.train.batch_size = 64
  config.train.num_epochs = 50
  return config
