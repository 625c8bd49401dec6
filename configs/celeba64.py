"""A DCGAN at 64x64x3 on CelebA's aligned faces (tfds `celeb_a`, 162,770 training images).

The 218x178 faces are scaled so the shorter side is 64 and the centre 64x64
square is kept (as torchvision's Resize(64) + CenterCrop(64) in the PyTorch
DCGAN example). tfds's CelebA download comes from Google Drive and often fails;
the same faces unpacked into one folder train with
  --config.data.source=folder --config.data.path=.../img_align_celeba
G: Dense to 4x4x512, four stride-2 transposed convolutions to 64x64x3 (the
DCGAN paper's generator); D: four stride-2 convolutions 64-128-256-512. The
faces have no class labels here, so quality is measured in the code of an
autoencoder trained once on the faces (jaxgan.quality.features).
"""
from jaxgan import defaults


def get_config():
  config = defaults.get_config()
  config.data.source = 'tfds'
  config.data.name = 'celeb_a'
  config.data.split = 'train'
  config.data.label_key = ''
  config.data.image_size = 64
  config.data.fallback_to_bundled = False
  config.model.g_features = (512, 256, 128, 64)
  config.model.d_features = (64, 128, 256, 512)
  config.model.dropout_rate = 0.0
  config.model.leaky_relu_slope = 0.2
  config.model.spectral_norm = True
  config.loss = 'hinge'
  config.optimizer.g_learning_rate = 2e-4
  config.optimizer.d_learning_rate = 4e-4
  config.optimizer.b1 = 0.5
  config.optimizer.b2 = 0.999
  config.gan.ema_decay = 0.999
  config.eval.batch_norm = 'recomputed'
  config.train.batch_size = 64
  config.train.num_steps = 50_000
  config.train.eval_every = 2500
  config.train.checkpoint_every = 2500
  config.train.log_every = 250
  return config
