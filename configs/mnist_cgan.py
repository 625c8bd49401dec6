"""Conditional DCGAN on MNIST: G gets a label embedding, D is conditioned by projection.

Grids show one row per digit 0-9; `python -m jaxgan.sample --label 7` draws sevens.
Adam 2e-4, beta1 0.5 and batch 64 (the DCGAN paper's settings), which reach
clean digits in far fewer steps than the tutorial's Adam 1e-4 at batch 256.
"""
from jaxgan import defaults


def get_config():
  config = defaults.get_config()
  config.model.conditional = True
  config.model.conditioning = 'projection'   # or 'concat'
  config.optimizer.g_learning_rate = 2e-4
  config.optimizer.d_learning_rate = 2e-4
  config.optimizer.b1 = 0.5
  config.train.batch_size = 64
  config.train.num_epochs = 10
  config.train.num_samples = 100   # a 10 x 10 grid: one row per digit
  return config
