"""The XLA settings jaxgan starts JAX with, wherever the user's XLA_FLAGS leave them open.

XLA reads XLA_FLAGS once, when JAX first starts a backend, so these are set on import
of the package (jaxgan/__init__.py): the command-line tools, the notebooks and the API
then train alike. A flag that the user's XLA_FLAGS already names stays as the user set
it, and JAXGAN_XLA_DEFAULTS=0 leaves XLA_FLAGS exactly as given. In a process that
started a JAX backend before importing jaxgan they come too late and change nothing.
"""
import os

# XLA:CPU hands each dot and each convolution to YNNPACK by default; for the
# convolutions of jaxgan's models XLA's own kernels are faster on a CPU, and never
# slower where measured, so only the dots stay with YNNPACK
# (docs/performance.md#xla-cpus-switches). CPU flags leave a GPU's programs alone.
DEFAULTS = (('xla_cpu_experimental_ynn_fusion_type', 'individual_dot'),)
SWITCH = 'JAXGAN_XLA_DEFAULTS'


def _named(xla_flags):
  """The flag names in an XLA_FLAGS string: '--a=1 --b' -> {'a', 'b'}."""
  return {item.lstrip('-').split('=', 1)[0] for item in xla_flags.split()}


def with_defaults(xla_flags, defaults=DEFAULTS):
  """xla_flags with each default whose flag it does not name appended."""
  named = _named(xla_flags)
  added = [f'--{name}={value}' for name, value in defaults if name not in named]
  return ' '.join([xla_flags.strip(), *added]).strip()


def apply(environ=None):
  """Sets XLA_FLAGS in environ (os.environ) to with_defaults of it, unless SWITCH is '0'."""
  environ = os.environ if environ is None else environ
  if environ.get(SWITCH, '1').strip() == '0':
    return
  flags = with_defaults(environ.get('XLA_FLAGS', ''))
  if flags:
    environ['XLA_FLAGS'] = flags
