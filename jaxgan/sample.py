"""Command line: draw from a trained run.

  python -m jaxgan.sample --workdir W [--checkpoint best|latest|STEP] [--num 64] [--label 7]
      [--seed S] [--interpolate STEPS | --vary I] --out FILE.png|FILE.npz|FILE.gif

.png: a grid of the samples (or of the walk's frames with --interpolate); for a
conditional model without --label, one row per class (--num // classes columns);
.npz: the samples as uint8 (N, H, W, C) under 'images', the format that
`jaxgan.evaluate --samples` reads; .gif: a latent walk by spherical
interpolation (STEPS frames between each of 4 waypoints, 16 by default), of
--label (class 0 by default) for a conditional model. .npz from a conditional
model without --label cycles through the classes. A model trained with
categorical codes (gan.latent_codes) draws as a conditional one, its codes in
place of classes: the .png grid has one row per code; so does a self-conditioned
one (model.clusters), one row per cluster, its .npz drawing the clusters as often as
the training images hold them. --vary I (a model trained
with gan.continuous_codes) draws continuous code I from -2 to 2 across each row,
all else fixed: one row per class or categorical code with the same latent, or 8
latents (unconditional, or with --label); --num // rows columns, at least 2 (.png
or .npz).
"""
import pathlib

from absl import app
from absl import flags
import numpy as np

from jaxgan import cli
from jaxgan import files
from jaxgan import gan as gan_lib
from jaxgan import input_pipeline
from jaxgan import sampling
from jaxgan import visualize
from jaxgan.errors import ConfigError, JaxganError

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'A trained run.')
flags.DEFINE_string('checkpoint', 'latest', 'best, latest, or a step number.')
flags.DEFINE_integer('num', 64, 'Number of samples.')
flags.DEFINE_integer('label', None, 'Class to draw (conditional models), code (models '
                     'trained with gan.latent_codes) or cluster (model.clusters).')
flags.DEFINE_integer('seed', 0, 'Seed of the latents.')
flags.DEFINE_integer('interpolate', None, 'Frames between waypoints of a latent walk.')
flags.DEFINE_integer('vary', None, 'Continuous code to draw from -2 to 2 across each row '
                     '(models trained with gan.continuous_codes).')
flags.DEFINE_string('out', None, 'Output file: .png, .npz or .gif.')
flags.DEFINE_string('batch_norm', None, "How G normalises: 'running', 'recomputed' or 'batch' "
                    "(default: the run's eval.batch_norm).")
flags.mark_flags_as_required(['workdir', 'out'])


def produce(workdir, checkpoint, num, label, seed, interpolate, out, batch_norm=None,
            vary=None):
  out = pathlib.Path(out)
  kind = out.suffix.lower()
  if kind not in ('.png', '.npz', '.gif'):
    raise JaxganError(f'--out must end in .png, .npz or .gif, not {out.name!r}')
  if not out.parent.is_dir():
    raise JaxganError(f'folder {out.parent} does not exist')
  if num < 1:
    raise JaxganError('--num must be at least 1')
  if vary is not None and (kind == '.gif' or interpolate):
    raise JaxganError('--vary draws a grid (.png or .npz), not a latent walk')
  run = sampling.load_run(workdir, checkpoint, batch_norm)
  sampling.check_label(run, label)
  cols = None
  if vary is not None:
    pixels, cols = sampling.traversal(run, vary, num, seed, label)
    images = input_pipeline.to_uint8(pixels)
  elif kind == '.gif' or interpolate:
    z = sampling.latent_walk(run, steps=interpolate or 16, seed=seed)
    label = 0 if run.conditional and label is None else label
    images = input_pipeline.to_uint8(sampling.generate_from(run, z, label))
  elif kind == '.png' and run.conditional and label is None:
    pixels, cols = sampling.class_grid(run, max(1, num // gan_lib.g_choices(run.gan)), seed)
    images = input_pipeline.to_uint8(pixels)
  else:
    images = input_pipeline.to_uint8(sampling.sample(run, num, seed, label))
  if kind == '.npz':
    # Each way writes a temporary file and renames it: a failure leaves an existing file as it was.
    with files.replaced_atomically(out) as tmp, open(tmp, 'wb') as f:
      np.savez(f, images=images)
  elif kind == '.png':
    visualize.save_png(out, visualize.image_grid(images, cols))
  else:
    frames = [visualize.upscale(img[..., 0] if img.shape[-1] == 1 else img) for img in images]
    visualize.save_frames_gif(frames, out, duration_ms=80)
  return images.shape


def main(argv):
  if len(argv) > 1:
    cli.fail(f'unexpected arguments: {" ".join(argv[1:])}', 2)
  cli.quiet_logging()
  try:
    shape = produce(FLAGS.workdir, FLAGS.checkpoint, FLAGS.num, FLAGS.label, FLAGS.seed,
                    FLAGS.interpolate, FLAGS.out, FLAGS.batch_norm, FLAGS.vary)
  except ConfigError as e:
    cli.fail(str(e), 2)
  except JaxganError as e:
    cli.fail(str(e))
  except OSError as e:
    cli.fail(cli.os_error_line(e))
  print(f'jaxgan: wrote {shape[0]} images to {FLAGS.out}')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
