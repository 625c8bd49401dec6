"""Threefry on a CPU as straight-line code: the same random bits, drawn several times faster.

JAX lowers its Threefry-2x32 hash for XLA:CPU as a loop of five iterations (for a smaller
program), and XLA:CPU runs each iteration as separate passes over the whole array of
counters. On accelerators JAX emits the same hash unrolled, which XLA compiles into one
elementwise kernel. jaxgan registers that unrolled form for the CPU too: the same
integer arithmetic in the same order, so every bit JAX draws is unchanged (Dropout's
masks, latents, data orders), only faster (docs/performance.md#dropouts-random-bits-threefry-unrolled-on-the-cpu).

Applied on import of the package beside jaxgan's XLA defaults and switched off with them
(JAXGAN_XLA_DEFAULTS=0). A JAX without the expected lowering function keeps its own.
"""
import functools
import logging

log = logging.getLogger(__name__)


def _jax_threefry():
  """JAX's threefry module (its primitive and its lowering function), or None."""
  try:
    from jax._src.random import threefry2x32  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  if not (hasattr(threefry2x32, 'threefry2x32_p')
          and hasattr(threefry2x32, '_threefry2x32_lowering')):
    return None
  return threefry2x32


def unrolled_rule():
  """JAX's accelerator lowering of threefry2x32 (the rounds unrolled), or None."""
  module = _jax_threefry()
  if module is None:
    return None
  from jax.interpreters import mlir  # pylint: disable=g-import-not-at-top
  return mlir.lower_fun(functools.partial(module._threefry2x32_lowering,  # pylint: disable=protected-access
                                          use_rolled_loops=False),
                        multiple_results=True)


def apply():
  """Registers the unrolled lowering of threefry2x32 for the CPU. Returns whether it did."""
  module, rule = _jax_threefry(), unrolled_rule()
  if module is None or rule is None:
    log.debug('threefry left as JAX lowers it: no jax._src.random.threefry2x32 lowering here')
    return False
  from jax.interpreters import mlir  # pylint: disable=g-import-not-at-top
  mlir.register_lowering(module.threefry2x32_p, rule, platform='cpu')
  return True
