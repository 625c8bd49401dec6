"""WGAN-GP (Gulrajani et al. 2017) on MNIST: configs/mnist_wgan.py with a penalty, not clipping.

The paper's settings: gradient penalty lambda 10 (the norm over each image's
pixels and channels), 5 critic updates per G update, Adam 1e-4 with betas
(0, 0.9), batch 64. The critic has neither dropout nor batch normalisation.
"""
import pathlib
import runpy

_wgan = runpy.run_path(str(pathlib.Path(__file__).with_name('mnist_wgan.py')))


def get_config():
  config = _wgan['get_config']()
  config.gan.weight_clip = 0.0
  config.gan.gradient_penalty = 10.0
  config.optimizer.name = 'adam'
  config.optimizer.g_learning_rate = 1e-4
  config.optimizer.d_learning_rate = 1e-4
  config.optimizer.b1 = 0.0
  config.optimizer.b2 = 0.9
  return config
