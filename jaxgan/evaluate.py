"""Command line for sample quality; prints one JSON object on stdout.

  python -m jaxgan.evaluate --workdir W [--checkpoint best|latest|STEP]
  python -m jaxgan.evaluate --samples S.npz --config configs/mnist.py [--config.x=...]

--samples reads uint8 (N, H, W[, C]) in 0..255 or float in [-1, 1], so
samples from any system are scored on the same scale.
"""
import json

from absl import app
from absl import flags
from ml_collections import config_flags

from jaxgan import cli
from jaxgan import sample_files
from jaxgan.errors import ConfigError, JaxganError

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'Config naming the data set (with --samples).',
                                lock_config=True)
flags.DEFINE_string('workdir', None, 'A trained run to score.')
flags.DEFINE_string('checkpoint', 'best', 'best, latest, or a step number (with --workdir).')
flags.DEFINE_string('samples', None, '.npz of samples to score (with --config).')
flags.DEFINE_string('batch_norm', None, "How G normalises (with --workdir): 'running', "
                    "'recomputed' or 'batch' (default: the run's eval.batch_norm).")


def main(argv):
  if len(argv) > 1:
    cli.fail(f'unexpected arguments: {" ".join(argv[1:])}', 2)
  cli.quiet_logging()
  if bool(FLAGS.workdir) == bool(FLAGS.samples):
    cli.fail('give either --workdir or --samples (with --config)', 2)
  if FLAGS.samples and FLAGS.config is None:
    cli.fail('--samples needs --config (it names the data set to compare with)', 2)
  try:
    # The file first, with NumPy alone: a bad one is reported before JAX, data and classifier load.
    samples = sample_files.read(FLAGS.samples) if FLAGS.samples else None
    from jaxgan import scoring  # pylint: disable=g-import-not-at-top
    if samples is not None:
      result = scoring.evaluate_samples(samples, FLAGS.samples, FLAGS.config)
    else:
      result = scoring.evaluate_workdir(FLAGS.workdir, FLAGS.checkpoint, FLAGS.batch_norm)
  except ConfigError as e:
    cli.fail(str(e), 2)
  except JaxganError as e:
    cli.fail(str(e))
  except OSError as e:
    cli.fail(cli.os_error_line(e))
  print(json.dumps(result))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
