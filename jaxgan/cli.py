"""What every command line shares: one-line errors, flag parsing, the library's log lines.

The library logs (Python's `logging`, under the 'jaxgan' logger); the command
lines show those records on stdout as `jaxgan: ...` lines, from process 0 only.
"""
import logging
import re
import sys

from absl import flags
from absl import logging as absl_logging

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


class _LineFormatter(logging.Formatter):

  def format(self, record):
    level = f'{record.levelname}: ' if record.levelno >= logging.WARNING else ''
    return f'jaxgan: {level}{record.getMessage()}'


class _PrimaryOnly(logging.Filter):

  def filter(self, record):
    from jaxgan import parallel  # pylint: disable=g-import-not-at-top
    return parallel.is_primary()


def quiet_logging():
  """jaxgan's INFO records as lines on stdout; other libraries' INFO records hidden."""
  if not FLAGS['verbosity'].present:
    # Orbax logs every stage of every save at INFO; --verbosity=0 brings that back.
    absl_logging.set_verbosity(absl_logging.WARNING)
  handler = logging.StreamHandler(sys.stdout)
  handler.setFormatter(_LineFormatter())
  handler.addFilter(_PrimaryOnly())
  logger = logging.getLogger('jaxgan')
  logger.handlers = [handler]
  logger.setLevel(logging.INFO)
  logger.propagate = False
