"""The tutorial DCGAN on Fashion-MNIST (60,000 training images).

Offline, point the IDX source at Debian's copy:
  --config.data.source=idx --config.data.path=/usr/share/datasets/fashion-mnist
"""
import pathlib
import runpy

_default = runpy.run_path(str(pathlib.Path(__file__).with_name('default.py')))


def get_config():
  config = _default['get_config']()
  config.data.source = 'tfds'
  config.data.name = 'fashion_mnist'
  config.data.split = 'train'
  # tfds verifies the official gzip checksums; without internet no copy passes.
  config.data.fallback_to_bundled = False
  return config
