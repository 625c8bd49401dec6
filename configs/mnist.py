"""The DCGAN of the TensorFlow tutorial on MNIST: batch 256, 50 epochs, Adam 1e-4."""
from jaxgan import defaults


def get_config():
  config = defaults.get_config()
  config.data.source = 'tfds'
  config.data.name = 'mnist'
  config.data.split = 'train'
  return config
