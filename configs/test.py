"""A CPU-sized DCGAN that trains in seconds: for tests and CI."""
import pathlib

from jaxgan import defaults


def get_config():
  config = defaults.get_config()
  config.data.source = 'idx'
  config.data.path = str(pathlib.Path(__file__).parent.parent / 'tests' / 'data' / 'mnist_sample')
  config.data.split = 't10k'
  config.model.latent_dim = 16
  config.model.g_features = (32, 16, 8)
  config.model.d_features = (8, 16)
  config.model.mlp_g_features = (32, 64)
  config.model.mlp_d_features = (64, 32)
  config.train.batch_size = 32
  config.train.num_steps = 8
  config.train.steps_per_jit = 2
  config.train.log_every = 2
  config.train.eval_every = 4
  config.train.checkpoint_every = 4
  config.train.num_samples = 16
  config.train.progress_bar = False
  config.eval.enabled = False
  config.eval.num_samples = 128
  config.eval.holdout = 100
  config.eval.kid_subset_size = 64
  config.eval.classifier_epochs = 2
  return config
