"""WGAN with weight clipping (Arjovsky et al. 2017) on MNIST, the DCGAN networks.

The paper's settings: RMSProp 5e-5, 5 critic updates per G update, critic
weights clipped to [-0.01, 0.01], batch 64. The critic has no dropout (its
output is a distance estimate, not a probability).
"""
from jaxgan import defaults


def get_config():
  config = defaults.get_config()
  config.model.dropout_rate = 0.0
  config.loss = 'wasserstein'
  config.gan.n_critic = 5
  config.gan.weight_clip = 0.01
  config.optimizer.name = 'rmsprop'
  config.optimizer.g_learning_rate = 5e-5
  config.optimizer.d_learning_rate = 5e-5
  config.optimizer.eps = 1e-8            # PyTorch RMSprop's default
  config.train.batch_size = 64
  config.train.num_epochs = 50           # of critic batches: 50 * 937 / 5 G updates on MNIST
  return config
