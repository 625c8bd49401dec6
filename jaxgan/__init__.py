"""jaxgan: fast, reproducible GAN training in JAX."""
from jaxgan import xla_defaults as _xla_defaults
from jaxgan import cpu_threefry as _cpu_threefry

__version__ = '0.1.0'

# Before any JAX backend starts: XLA reads its flags only then.
_xla_defaults.apply()
if _xla_defaults.enabled():
  _cpu_threefry.apply()
