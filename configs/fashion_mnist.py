"""The tutorial DCGAN on Fashion-MNIST (60,000 training images).

Offline, point the IDX source at Debian's copy:
  --config.data.source=idx --config.data.path=/usr/share/datasets/fashion-mnist
"""
from jaxgan import defaults


def get_config():
  config = defaults.get_config()
  config.data.source = 'tfds'
  config.data.name = 'fashion_mnist'
  config.data.split = 'train'
  # tfds verifies the official gzip checksums; without internet no copy passes.
  config.data.fallback_to_bundled = False
  return config
