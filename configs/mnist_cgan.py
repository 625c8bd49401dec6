"""Conditional DCGAN on MNIST: configs/mnist_best.py with G given a label and D conditioned on it.

G gets a learned label embedding beside the latent; D is conditioned by projection.
Grids show one row per digit 0-9, each column one latent; `python -m jaxgan.sample
--label 7` draws sevens. Every training setting is the best unconditional recipe's, for
the reasons given there and in configs/mnist_cpu.py (a spectrally normalised hinge D
without dropout, Adam 1e-3 for G and 2e-3 for D with beta1 0 and beta2 0.99, an EMA of G
drawn with recomputed BatchNorm statistics, a cosine decay of both rates to a tenth)
except its length, 9,000 steps, over all of which its rates decay (the unconditional
recipe holds its last quarter), and so is its scoring (5,000 samples); its clusters are not: the
label takes their place. Over 2,000 steps at constant rates
the same model stopped far short of the longer, decaying run. With the tutorial's D (dropout, no
spectral norm), Adam 2e-4 and running statistics each row held nearly one digit drawn
again and again (recall 0.11); docs/quality.md#the-conditional-gan has the figures of
each version.
"""
import pathlib
import runpy

_best = runpy.run_path(str(pathlib.Path(__file__).with_name('mnist_best.py')))


def get_config():
  config = _best['get_config']()
  config.model.conditional = True
  config.model.clusters = 0   # the label does what the unconditional recipe's clusters do
  config.model.conditioning = 'projection'   # or 'concat'
  config.train.num_samples = 100   # a 10 x 10 grid: one row per digit
  # Measured, and meeting its targets, at 9,000 steps; the unconditional recipe trains
  # longer to reach the FID the label gives this model sooner.
  config.train.num_steps = 9000
  # Measured with its decay over the whole run, before the unconditional recipe's hold.
  config.optimizer.decay_fraction = 1.0
  return config
