"""Every config key and its default (jaxgan/defaults.py): the tutorial DCGAN on MNIST."""
from jaxgan import defaults


def get_config():
  return defaults.get_config()
