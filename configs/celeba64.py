"""A DCGAN at 64x64x3 on CelebA's aligned faces (tfds `celeb_a`, 162,770 training images).

The 218x178 faces are scaled so the shorter side is 64 and the centre 64x64
square is kept (as torchvision's Resize(64) + CenterCrop(64) in the PyTorch
DCGAN example). The recipe is configs/cifar10.py's. tfds's CelebA download comes from Google Drive and often fails;
the same faces unpacked into one folder train with
  --config.data.source=folder --config.data.path=.../img_align_celeba
G: Dense to 4x4x512, four stride-2 transposed convolutions to 64x64x3 (the
DCGAN paper's generator); D: four stride-2 convolutions 64-128-256-512. The
faces have no class labels here, so quality is measured in the code of an
autoencoder trained once on the faces (jaxgan.quality.features).
"""
import pathlib
import runpy


def get_config():
  # configs/cifar10.py's recipe, at 64x64 faces without labels.
  config = runpy.run_path(str(pathlib.Path(__file__).with_name('cifar10.py')))['get_config']()
  config.data.name = 'celeb_a'
  config.data.label_key = ''
  config.data.image_size = 64
  config.model.g_features = (512, 256, 128, 64)
  config.model.d_features = (64, 128, 256, 512)
  return config
