"""Your own pictures: a folder of PNG/JPEG files, trained at 32x32 in colour.

  python -m jaxgan.main --config configs/folder.py --config.data.path=~/pictures \
      --workdir runs/pictures

Sub-folders of data.path name the classes (cat/, dog/, ...; then
--config.model.conditional=True trains a conditional GAN); without them the
pictures are one unlabelled set. Every picture is scaled so its shorter side is
data.image_size and its centre square kept. For 64x64 the generator needs one
more width: --config.data.image_size=64 --config.model.g_features='(512, 256, 128, 64)'.
Greyscale pictures: --config.data.grayscale=True. The model and recipe are
configs/cifar10.py's, with fewer steps (a folder is often small).
"""
import runpy
import pathlib


def get_config():
  config = runpy.run_path(str(pathlib.Path(__file__).with_name('cifar10.py')))['get_config']()
  config.data.source = 'folder'
  config.data.name = ''
  config.data.path = ''
  config.data.image_size = 32
  config.train.num_steps = 10_000
  config.train.eval_every = 1000
  config.train.checkpoint_every = 1000
  config.train.log_every = 100
  return config
