"""The DCGAN of the TensorFlow tutorial on MNIST: batch 256, 50 epochs, Adam 1e-4."""
import pathlib
import runpy

_default = runpy.run_path(str(pathlib.Path(__file__).with_name('default.py')))


def get_config():
  config = _default['get_config']()
  config.data.source = 'tfds'
  config.data.name = 'mnist'
  config.data.split = 'train'
  return config
