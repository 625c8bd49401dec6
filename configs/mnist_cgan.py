"""Conditional DCGAN on MNIST: configs/mnist_cpu.py with G given a label and D conditioned on it.

G gets a learned label embedding beside the latent; D is conditioned by projection.
Grids show one row per digit 0-9, each column one latent; `python -m jaxgan.sample
--label 7` draws sevens. The training settings are the CPU recipe's, for the reasons
given there (spectrally normalised hinge D without dropout, an EMA of G drawn with
recomputed BatchNorm statistics), except its optimizer: Adam 5e-4 with beta1 0.5 and
beta2 0.999, the settings this config was measured with (the CPU recipe's later 1e-3 and
beta2 0.99 are not yet measured here). With the tutorial's D (dropout,
no spectral norm), Adam 2e-4 and running statistics each row held nearly one digit
drawn again and again (recall 0.11); with these the rows vary in slant, width and
stroke (docs/quality.md#the-conditional-gan).
"""
import pathlib
import runpy

_cpu = runpy.run_path(str(pathlib.Path(__file__).with_name('mnist_cpu.py')))


def get_config():
  config = _cpu['get_config']()
  config.model.conditional = True
  config.model.conditioning = 'projection'   # or 'concat'
  config.optimizer.g_learning_rate = 5e-4
  config.optimizer.d_learning_rate = 5e-4
  config.optimizer.b2 = 0.999
  config.train.num_steps = 2000
  config.train.num_samples = 100   # a 10 x 10 grid: one row per digit
  return config
