"""jaxgan: fast, reproducible GAN training in JAX."""

__version__ = '0.1.0'
