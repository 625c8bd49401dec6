"""What every command line shares: one-line errors and quiet library logging."""
import re
import sys

from absl import flags
from absl import logging

FLAGS = flags.FLAGS


def fail(message, code=1):
  """One error line on stderr and a non-zero exit."""
  print(f'jaxgan: error: {message}', file=sys.stderr, flush=True)
  sys.exit(code)


def parse_flags(argv):
  """absl's parser, with config-file and override errors as one line each."""
  try:
    argv = FLAGS(argv)
    if 'config' in FLAGS and FLAGS['config'].present:
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
