"""The DCGAN of the TensorFlow tutorial on MNIST: batch 256, 50 epochs, Adam 1e-4."""
from jaxgan import defaults


def get_config():
  config = defaults.get_config()
  config.data.source = 'tfds'
  config.data.name = 'mnist'
  config.data.split = 'train'
  config.train.cpu_hint = ('for digits on a CPU in minutes: python -m jaxgan.main '
                           '--config configs/mnist_cpu.py --workdir runs/mnist_cpu')
  return config
