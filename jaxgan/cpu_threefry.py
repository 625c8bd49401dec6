"""Threefry on a CPU as straight-line code: the same random bits, drawn faster.

JAX releases up to at least 0.10 lower the Threefry-2x32 hash for XLA:CPU as a rolled
loop (a smaller program), which XLA:CPU runs as separate passes over the whole array of
counters for every iteration; for accelerators the same JAX emits the hash unrolled,
which XLA compiles into one elementwise kernel. Where a JAX still has the rolled CPU
rule, jaxgan registers JAX's own accelerator rule for the CPU in its place: the same
integer arithmetic in the same order, so every bit drawn (Dropout's masks, latents, data
orders) is unchanged (docs/performance.md#dropouts-random-bits-threefry-unrolled-on-the-cpu).

Applied on import of jaxgan.gan, before any of jaxgan's programs is traced, for the whole
process (other JAX code in it draws the same bits, compiled the same way), and
switched off with jaxgan's XLA defaults (JAXGAN_XLA_DEFAULTS=0). A JAX that already
unrolls it, or whose internals differ, keeps its own rule.
"""
import logging

log = logging.getLogger(__name__)


def _replaceable():
  """JAX's threefry module where it has a rolled CPU rule and the unrolled rule, else None."""
  try:
    from jax._src.random import threefry2x32  # pylint: disable=g-import-not-at-top
  except Exception:  # pylint: disable=broad-except
    return None
  names = ('threefry2x32_p', '_threefry2x32_lowering_rule', '_threefry2x32_cpu_lowering_rule')
  return threefry2x32 if all(hasattr(threefry2x32, n) for n in names) else None


def apply():
  """Registers JAX's unrolled threefry2x32 rule for the CPU. Returns whether it did."""
  module = _replaceable()
  if module is None:
    log.debug('threefry left as JAX lowers it: no rolled CPU rule to replace here')
    return False
  try:
    from jax.interpreters import mlir  # pylint: disable=g-import-not-at-top
    rule = module._threefry2x32_lowering_rule  # pylint: disable=protected-access
    # Out of line, as JAX registers it for accelerators: one function, many call sites.
    mlir.register_lowering(module.threefry2x32_p, rule, platform='cpu', inline=False)
  except Exception as e:  # pylint: disable=broad-except
    log.warning('threefry left as JAX lowers it: %s', e)
    return False
  return True


def unrolled_on_cpu():
  """Whether a Threefry draw lowered for the CPU has no loop (what apply() is for); None if
  this JAX cannot say.

  Lowers, without compiling, a draw from a threefry key of abstract data (whatever JAX's
  default generator) and looks for a while loop.
  """
  try:
    import jax  # pylint: disable=g-import-not-at-top
    import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
    draw = lambda data: jax.random.bits(jax.random.wrap_key_data(data, impl='threefry2x32'),
                                        (8,))
    lowered = jax.jit(draw).trace(jax.ShapeDtypeStruct((2,), jnp.uint32)).lower(
        lowering_platforms=('cpu',))
  except Exception as e:  # pylint: disable=broad-except
    # A report (benchmarks) must not fail on a JAX whose lowering API moved.
    log.debug('could not lower a draw for the CPU: %s', e)
    return None
  return 'stablehlo.while' not in lowered.as_text()
