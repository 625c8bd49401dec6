"""Threefry as straight-line code on a CPU (jaxgan.cpu_threefry): JAX's hash, unrolled.

That whole draws (random bits, a Dropout mask) equal those of JAX's own CPU rule, drawn in
a process with jaxgan's defaults off, is tested in test_xla_defaults.py (two processes).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import cpu_threefry
from jaxgan import xla_defaults

needs_switch_on = pytest.mark.skipif(not xla_defaults.enabled(),
                                     reason='jaxgan defaults switched off here')


@needs_switch_on
def test_the_verified_jax_has_the_rolled_rule_and_draws_without_a_loop():
  # The project's pinned JAX: if a release moves or drops the rule, this says so.
  if not xla_defaults.jaxlib_verified():
    pytest.skip('not the JAX release this was verified with')
  assert cpu_threefry._replaceable() is not None  # pylint: disable=protected-access
  assert cpu_threefry.apply()
  assert cpu_threefry.unrolled_on_cpu()


def _hash_rule(rolled):
  """JAX's threefry2x32 lowering, rolled (its CPU rule) or unrolled (what apply() registers),
  jitted as (key words, count words) -> hash words."""
  module = cpu_threefry._replaceable()  # pylint: disable=protected-access
  if module is None or not hasattr(module, '_threefry2x32_lowering'):
    pytest.skip('this JAX has no rolled CPU rule')
  lowering = module._threefry2x32_lowering  # pylint: disable=protected-access
  return jax.jit(lambda k1, k2, x1, x2: jnp.stack(
      lowering(k1, k2, x1, x2, use_rolled_loops=rolled)))


def test_the_rolled_and_unrolled_hash_agree_bit_for_bit():
  words = np.random.default_rng(0).integers(0, 2**32, (4, 5003), dtype=np.uint32)
  k1, k2 = words[0, :1], words[1, :1]
  hashes = [np.asarray(_hash_rule(rolled)(k1, k2, words[2], words[3]))
            for rolled in (True, False)]
  np.testing.assert_array_equal(hashes[0], hashes[1])
  assert len(np.unique(hashes[0])) > 9990   # a hash, not a constant


@pytest.mark.parametrize('key,count,expected', [
    # Random123's known answers for Threefry-2x32 with 20 rounds (Salmon et al. 2011).
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6b200159, 0x99ba4efe)),
    ((0xffffffff, 0xffffffff), (0xffffffff, 0xffffffff), (0x1cb996fc, 0xbb002be7)),
    ((0x13198a2e, 0x03707344), (0x243f6a88, 0x85a308d3), (0xc4923a9c, 0x483df7a0)),
])
def test_the_hash_gives_threefrys_known_answers(key, count, expected):
  from jax.extend import random as jex_random  # pylint: disable=g-import-not-at-top
  # Whichever rule this process has registered, then each of the two explicitly.
  out = jax.jit(jex_random.threefry_2x32)(np.uint32(key), np.uint32(count))
  assert [int(v) for v in np.asarray(out)] == list(expected)
  if cpu_threefry._replaceable() is None:  # pylint: disable=protected-access
    return   # this JAX's own rule, checked above, is the only one
  k, x = np.uint32(key), np.uint32(count)
  for rolled in (True, False):
    out = _hash_rule(rolled)(k[:1], k[1:], x[:1], x[1:])
    assert [int(v) for v in np.asarray(out).ravel()] == list(expected), rolled
