"""Command line: draw from a trained run.

  python -m jaxgan.sample --workdir W [--checkpoint best|latest|STEP] [--num 64] [--label 7]
      [--seed S] [--interpolate STEPS] --out FILE.png|FILE.npz|FILE.gif

.png: a grid of the samples (or of the walk's frames with --interpolate); for a
conditional model without --label, one row per class (--num // classes columns);
.npz: the samples as uint8 (N, 28, 28, 1) under 'images', the format that
`jaxgan.evaluate --samples` reads; .gif: a latent walk by spherical
interpolation (STEPS frames between each of 4 waypoints, 16 by default), of
--label (class 0 by default) for a conditional model. .npz from a conditional
model without --label cycles through the classes.
"""
import os
import pathlib
import tempfile

from absl import app
from absl import flags
import numpy as np

from jaxgan import cli
from jaxgan import input_pipeline
from jaxgan import sampling
from jaxgan import visualize
from jaxgan.errors import JaxganError

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'A trained run.')
flags.DEFINE_string('checkpoint', 'latest', 'best, latest, or a step number.')
flags.DEFINE_integer('num', 64, 'Number of samples.')
flags.DEFINE_integer('label', None, 'Digit to draw (conditional models only).')
flags.DEFINE_integer('seed', 0, 'Seed of the latents.')
flags.DEFINE_integer('interpolate', None, 'Frames between waypoints of a latent walk.')
flags.DEFINE_string('out', None, 'Output file: .png, .npz or .gif.')
flags.DEFINE_string('batch_norm', None, "How G normalises: 'running', 'recomputed' or 'batch' "
                    "(default: the run's eval.batch_norm).")
flags.mark_flags_as_required(['workdir', 'out'])


def _write_atomically(out, write):
  """Writes via a temporary file, so a failure leaves an existing file as it was."""
  fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=out.suffix)
  os.close(fd)
  try:
    write(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)   # mkstemp's 0600 would hide the file from other users
    os.replace(tmp, out)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def produce(workdir, checkpoint, num, label, seed, interpolate, out, batch_norm=None):
  out = pathlib.Path(out)
  kind = out.suffix.lower()
  if kind not in ('.png', '.npz', '.gif'):
    raise JaxganError(f'--out must end in .png, .npz or .gif, not {out.name!r}')
  if not out.parent.is_dir():
    raise JaxganError(f'folder {out.parent} does not exist')
  if num < 1:
    raise JaxganError('--num must be at least 1')
  run = sampling.load_run(workdir, checkpoint, batch_norm)
  sampling.check_label(run, label)
  cols = None
  if kind == '.gif' or interpolate:
    z = sampling.latent_walk(run, steps=interpolate or 16, seed=seed)
    label = 0 if run.conditional and label is None else label
    images = input_pipeline.to_uint8(sampling.generate_from(run, z, label))
  elif kind == '.png' and run.conditional and label is None:
    pixels, cols = sampling.class_grid(run, max(1, num // run.gan.num_classes), seed)
    images = input_pipeline.to_uint8(pixels)
  else:
    images = input_pipeline.to_uint8(sampling.sample(run, num, seed, label))
  if kind == '.npz':
    _write_atomically(out, lambda p: np.savez(p, images=images))
  elif kind == '.png':
    _write_atomically(out, lambda p: visualize.save_png(p, visualize.image_grid(images, cols)))
  else:
    frames = [visualize.upscale(img[..., 0]) for img in images]
    _write_atomically(out, lambda p: visualize.save_frames_gif(frames, p, duration_ms=80))
  return images.shape


def main(argv):
  if len(argv) > 1:
    cli.fail(f'unexpected arguments: {" ".join(argv[1:])}', 2)
  cli.quiet_logging()
  try:
    shape = produce(FLAGS.workdir, FLAGS.checkpoint, FLAGS.num, FLAGS.label, FLAGS.seed,
                    FLAGS.interpolate, FLAGS.out, FLAGS.batch_norm)
  except JaxganError as e:
    cli.fail(str(e))
  print(f'jaxgan: wrote {shape[0]} images to {FLAGS.out}')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
