"""Threefry as straight-line code on a CPU (jaxgan.cpu_threefry): JAX's hash, unrolled.

That the bits equal those of JAX's own CPU lowering, drawn in a process with jaxgan's
defaults off, is tested in test_xla_defaults.py (two processes, one training step).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import cpu_threefry
from jaxgan import xla_defaults

needs_cpu = pytest.mark.skipif(jax.default_backend() != 'cpu', reason='a CPU lowering')


def test_this_jax_has_the_lowering_it_replaces():
  # The project's pinned JAX: if a release moves the function, this says so.
  if not xla_defaults.jaxlib_verified():
    pytest.skip('not the JAX release this was verified with')
  assert cpu_threefry.unrolled_rule() is not None
  assert cpu_threefry.apply()


@needs_cpu
@pytest.mark.parametrize('key,count,expected', [
    # Random123's known answers for Threefry-2x32 with 20 rounds (Salmon et al. 2011).
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6b200159, 0x99ba4efe)),
    ((0xffffffff, 0xffffffff), (0xffffffff, 0xffffffff), (0x1cb996fc, 0xbb002be7)),
    ((0x13198a2e, 0x03707344), (0x243f6a88, 0x85a308d3), (0xc4923a9c, 0x483df7a0)),
])
def test_the_hash_gives_threefrys_known_answers(key, count, expected):
  from jax.extend import random as jex_random  # pylint: disable=g-import-not-at-top
  out = jax.jit(jex_random.threefry_2x32)(np.uint32(key), np.uint32(count))
  assert [int(v) for v in np.asarray(out)] == list(expected)


@needs_cpu
def test_random_bits_compile_without_a_loop_when_on():
  if not xla_defaults.enabled():
    pytest.skip('jaxgan defaults switched off in this environment')
  assert cpu_threefry.apply()
  key = jax.random.key(3)
  hlo = jax.jit(lambda k: jax.random.normal(k, (4, 100))).lower(key).compile().as_text()
  assert ' while(' not in hlo
  # Still a random draw: the shape's values differ and look standard normal.
  z = np.asarray(jax.random.normal(key, (20000,)))
  assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05
  assert not np.array_equal(jax.random.bits(jax.random.fold_in(key, 1), (8,)),
                            jax.random.bits(key, (8,)))
