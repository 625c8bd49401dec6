"""The XLA settings jaxgan starts JAX with, wherever the user's XLA_FLAGS leave them open.

XLA reads XLA_FLAGS once, when JAX first starts a backend, so these are set on import
of the package (jaxgan/__init__.py): the command-line tools, the notebooks and the API
then train alike. A flag that the user's XLA_FLAGS already names stays as the user set
it; JAXGAN_XLA_DEFAULTS=0 (or false, off, no) leaves XLA_FLAGS exactly as given, and so
does an XLA_FLAGS that names a flags file. Nothing is set where a JAX backend started
before jaxgan was imported (too late to take effect, and JAX's compilation cache keys on
XLA_FLAGS), nor under a jaxlib these flags were not verified with: XLA aborts the process
on a flag it does not know.
"""
import logging
import os
import re
import sys

log = logging.getLogger(__name__)

# XLA:CPU hands convolutions to YNNPACK by default; for the convolutions of jaxgan's
# models XLA's own kernels were much faster where timed, so only the dots stay with
# YNNPACK (docs/performance.md#on-an-intel-xeon-xlas-own-convolutions-now-jaxgans-default).
# CPU flags leave the programs of a GPU alone.
DEFAULTS = (('xla_cpu_experimental_ynn_fusion_type', 'individual_dot'),)
# [first, last) jaxlib releases to set them under: verified at the first, and its patch
# releases are taken to keep the flags (an experimental flag may go in a minor release).
VERIFIED_JAXLIB = ((0, 10, 2), (0, 11, 0))
SWITCH = 'JAXGAN_XLA_DEFAULTS'
_OFF = ('0', 'false', 'off', 'no')


def _named(xla_flags):
  """The flag names in an XLA_FLAGS string: '--a=1 --b' -> {'a', 'b'}."""
  return {item.lstrip('-').split('=', 1)[0] for item in xla_flags.split()}


def _missing(xla_flags, defaults=DEFAULTS):
  """The defaults whose flag xla_flags does not name, as '--name=value' items."""
  named = _named(xla_flags)
  return [f'--{name}={value}' for name, value in defaults if name not in named]


def with_defaults(xla_flags, defaults=DEFAULTS):
  """xla_flags with each default whose flag it does not name appended."""
  return ' '.join([xla_flags.strip(), *_missing(xla_flags, defaults)]).strip()


def _version(text):
  """'0.10.2' -> (0, 10, 2); () for a string that does not start with one."""
  match = re.match(r'(\d+)\.(\d+)(?:\.(\d+))?', text)
  return tuple(int(g or 0) for g in match.groups()) if match else ()


def jaxlib_verified(version=None):
  """Whether the installed jaxlib (or `version`) is one the defaults were verified with."""
  if version is None:
    try:
      from importlib import metadata  # pylint: disable=g-import-not-at-top
      version = metadata.version('jaxlib')
    except Exception:  # pylint: disable=broad-except
      return False
  first, last = VERIFIED_JAXLIB
  return first <= _version(version) < last


def _backend_started():
  if 'jax' not in sys.modules:
    return False
  try:
    from jax._src import xla_bridge  # pylint: disable=g-import-not-at-top
    return bool(xla_bridge.backends_are_initialized())
  except Exception:  # pylint: disable=broad-except
    return False


def enabled(environ=None):
  """Whether jaxgan's defaults are on: JAXGAN_XLA_DEFAULTS (in environ, os.environ) is not off."""
  environ = os.environ if environ is None else environ
  return environ.get(SWITCH, '1').strip().lower() not in _OFF


def apply(environ=None, jaxlib_version=None, backend_started=None):
  """Sets XLA_FLAGS in environ (os.environ) to with_defaults of it, where it may.

  Returns the flags it added (a string, '' for none). jaxlib_version and
  backend_started stand in for the installed jaxlib's and JAX's state in tests.
  """
  environ = os.environ if environ is None else environ
  given = environ.get('XLA_FLAGS', '')
  if not enabled(environ):
    return ''
  if given.strip() and not given.strip().startswith('-'):
    return ''   # XLA reads such a value as the name of a file of flags
  if not jaxlib_verified(jaxlib_version):
    log.debug('XLA defaults not set: jaxlib outside %s', VERIFIED_JAXLIB)
    return ''
  added = ' '.join(_missing(given))
  if not added:
    return ''
  if _backend_started() if backend_started is None else backend_started:
    log.warning(
        'JAX started before jaxgan was imported: XLA_FLAGS left without %s', added)
    return ''
  environ['XLA_FLAGS'] = with_defaults(given)
  log.info('XLA_FLAGS: added %s', added)
  return added
