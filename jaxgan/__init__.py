"""jaxgan: fast, reproducible GAN training in JAX."""
from jaxgan import xla_defaults as _xla_defaults

__version__ = '0.1.0'

# Before any JAX backend starts: XLA reads its flags only then.
_xla_defaults.apply()
