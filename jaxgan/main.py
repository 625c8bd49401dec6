"""Command line: python -m jaxgan.main --config configs/mnist.py --workdir runs/mnist

Any config key can be overridden, e.g. --config.train.batch_size=128; a key
that does not exist is an error, with a suggestion.
"""
import re
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from jaxgan.errors import JaxganError

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Directory for checkpoints, samples and metrics.')
config_flags.DEFINE_config_file('config', None, 'Training configuration file.', lock_config=True)
flags.mark_flags_as_required(['config', 'workdir'])


def fail(message, code=1):
  """One error line on stderr and a non-zero exit."""
  print(f'jaxgan: error: {message}', file=sys.stderr, flush=True)
  sys.exit(code)


def parse_flags(argv):
  """absl's parser, with config-file and override errors as one line each."""
  try:
    argv = FLAGS(argv)
    if FLAGS['config'].present:
      FLAGS.config.to_dict()  # a config file that failed to load raises only when read
    return argv
  except flags.Error as e:
    fail(' '.join(str(e).split()), 2)
  except (AttributeError, KeyError, ValueError, TypeError, OSError, SyntaxError) as e:
    text = str(e)
    guess = re.search(r'Did you mean "([^"]+)" instead of "([^"]+)"', text)
    if guess:
      fail(f'unknown config key {guess.group(2)!r} (did you mean {guess.group(1)!r}?)', 2)
    fail(f'bad --config or override: {" ".join(text.replace(chr(92) + "n", " ").split())}', 2)


def quiet_logging():
  if not FLAGS['verbosity'].present:
    # Orbax logs every stage of every save at INFO; --verbosity=0 brings that back.
    logging.set_verbosity(logging.WARNING)


def main(argv):
  if len(argv) > 1:
    fail(f'unexpected arguments: {" ".join(argv[1:])}', 2)
  quiet_logging()
  from jaxgan import train  # pylint: disable=g-import-not-at-top
  try:
    train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  except JaxganError as e:
    fail(str(e))


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)
