"""What every command line shares: one-line errors, flag parsing, the library's log lines,
the training progress bar.

The library logs (Python's `logging`, under the 'jaxgan' logger); the command
lines show those records on stdout as `jaxgan: ...` lines, from process 0 only.
"""
import logging
import os
import re
import sys
import traceback
import warnings

from absl import flags
from absl import logging as absl_logging

from jaxgan.errors import DISK_ERRNOS

FLAGS = flags.FLAGS


def fail(message, code=1):
  """One error line on stderr and a non-zero exit."""
  print(f'jaxgan: error: {message}', file=sys.stderr, flush=True)
  sys.exit(code)


def os_error_line(error):
  """An OSError (a full disk, a missing permission) in the words of one error line."""
  where = f'{error.filename}: ' if error.filename else ''
  return f'{where}{error.strerror or error}'


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
      good, bad = _dotted(argv, guess.group(1), guess.group(2))
      fail(f'unknown config key {bad!r} (did you mean {good!r}?)', 2)
    fail(f'bad --config or override: {" ".join(text.replace(chr(92) + "n", " ").split())}', 2)


def _dotted(argv, good, bad):
  """ml_collections names the last part of a mistyped key: the whole key, from the flag given."""
  for arg in argv:
    key = arg.split('=', 1)[0][len('--config.'):] if arg.startswith('--config.') else ''
    if key == bad or key.endswith('.' + bad):
      return key[:len(key) - len(bad)] + good, key
  return good, bad


class _LineFormatter(logging.Formatter):

  def format(self, record):
    level = f'{record.levelname}: ' if record.levelno >= logging.WARNING else ''
    return f'jaxgan: {level}{record.getMessage()}'


class _PrimaryOnly(logging.Filter):

  def filter(self, record):
    from jaxgan import parallel  # pylint: disable=g-import-not-at-top
    return parallel.is_primary()


def _record_text(record):
  text = record.getMessage()
  if record.exc_info:
    text += ''.join(traceback.format_exception(*record.exc_info))
  return text


class _DiskFaultNoise(logging.Filter):
  """Drops error records of a failed write: the command reports it as one line.

  Orbax and asyncio log each failed part of a save; the failure itself
  reaches the command as an exception.
  """

  def filter(self, record):
    if record.levelno < logging.ERROR:
      return True
    text = _record_text(record)
    return not any(os.strerror(code) in text for code in DISK_ERRNOS)


class _AbandonedCheckpointTasks(logging.Filter):
  """Drops asyncio's report of a checkpoint task whose failure nobody awaited.

  When one array of a checkpoint cannot be read or written, Orbax raises the
  first failure and leaves the gathered others unobserved; asyncio logs each
  of them when it is collected, whenever that happens to be. The command has
  already said what failed in one line (the checkpoint set aside, the save
  that failed). Only TensorStore's failures to read or write an array are
  dropped: any other unobserved failure, Orbax's own included, is still shown.
  TensorStore's errors name it, or, raised from its C++ without a traceback, the
  OCDBT database the array lives in.
  """

  def filter(self, record):
    if record.levelno < logging.ERROR or 'exception was never retrieved' not in record.getMessage():
      return True
    text = _record_text(record).lower()
    return not any(mark in text for mark in ('tensorstore', 'ocdbt database'))


def _drop_abandoned_async_work(previous):
  """sys.unraisablehook without the leftovers of an Orbax save or restore that failed.

  When one read or write of a checkpoint fails, Orbax's asyncio loop ends while
  TensorStore still completes the operation's other parts: each completion
  calls into the closed loop from C++, and the coroutines left behind are
  collected unfinished. Both are reported as unraisable; they say nothing the
  command's own line (the failed save, the checkpoint set aside) does not.
  """
  def hook(unraisable):
    value, obj = unraisable.exc_value, unraisable.object
    closed_loop = isinstance(value, RuntimeError) and str(value) == 'Event loop is closed'
    code = getattr(obj, 'cr_code', None)
    # Left behind by a checkpoint read or write: Orbax's coroutines and TensorStore's errors.
    where = (code.co_filename if code is not None else '') + ''.join(
        traceback.format_exception(unraisable.exc_type, value, unraisable.exc_traceback))
    if not (closed_loop or 'orbax' in where or 'tensorstore' in where.lower()):
      previous(unraisable)
  return hook


def quiet_logging():
  """jaxgan's INFO records as lines on stdout; other libraries' INFO records hidden."""
  for name in ('absl', 'asyncio'):
    logging.getLogger(name).addFilter(_DiskFaultNoise())
  logging.getLogger('asyncio').addFilter(_AbandonedCheckpointTasks())
  sys.unraisablehook = _drop_abandoned_async_work(sys.unraisablehook)
  warnings.filterwarnings('ignore', message="coroutine '.*' was never awaited",
                          category=RuntimeWarning)
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


class ProgressBar:
  """tqdm's bar over the run's steps: moves as steps finish; the latest losses at log lines."""

  # How often the loop looks, without waiting, for finished dispatches.
  poll_seconds = 0.5

  def start(self, step, total):
    from tqdm import tqdm  # pylint: disable=g-import-not-at-top
    # The rate is the run's average (smoothing 0), evaluations and saves included: a
    # moving average reads each evaluation's pause as slow steps and shows an ETA of hours.
    self._bar = tqdm(total=total, initial=step, unit='step', dynamic_ncols=True, smoothing=0)

  def advance(self, steps):
    self._bar.update(steps)

  def scalars(self, scalars):
    self._bar.set_postfix(d_loss=f'{scalars["d_loss"]:.3f}', g_loss=f'{scalars["g_loss"]:.3f}',
                          steps_s=f'{scalars["steps_per_sec"]:.1f}')

  def close(self):
    self._bar.close()
