"""A small DCGAN on the 10,000 real MNIST test digits bundled with jaxgan, for the notebooks.

JAXGAN_NOTEBOOK_STEPS sets the number of steps (CI runs the notebooks with a few).
"""
import os

from jaxgan import defaults


def get_config():
  config = defaults.get_config()
  steps = int(os.environ.get('JAXGAN_NOTEBOOK_STEPS', '800'))
  config.data.source = 'idx'
  config.data.path = str(defaults.BUNDLED_MNIST_DIR)
  config.data.split = 't10k'
  config.model.latent_dim = 32
  config.model.g_features = (64, 32, 16)
  config.model.d_features = (16, 32)
  config.train.batch_size = 64
  config.train.num_steps = steps
  config.train.log_every = max(1, steps // 40)
  config.train.eval_every = max(1, steps // 4)
  config.train.checkpoint_every = max(1, steps // 2)
  config.train.progress_bar = False
  config.eval.num_samples = 500
  config.eval.classifier_epochs = 2
  return config
