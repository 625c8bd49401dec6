"""jaxgan's XLA defaults: what they add to XLA_FLAGS and when, and that they change XLA:CPU's
kernels without changing what a training step computes beyond float32 rounding."""
import json
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from helpers import ROOT
from jaxgan import cpu_threefry
from jaxgan import xla_defaults

OURS = '--xla_cpu_experimental_ynn_fusion_type=individual_dot'
VERIFIED = '0.10.2'


def _applied(environ, version=VERIFIED, started=False):
  return xla_defaults.apply(environ, jaxlib_version=version, backend_started=started)


def test_the_defaults_are_added_to_what_the_user_set_and_never_over_it():
  assert xla_defaults.with_defaults('') == OURS
  assert xla_defaults.with_defaults(' --xla_dump_to=/tmp/d ') == f'--xla_dump_to=/tmp/d {OURS}'
  for mine in ('--xla_cpu_experimental_ynn_fusion_type=dot --xla_cpu_enable_fast_math=false',
               '--xla_cpu_experimental_ynn_fusion_type='):   # named, even empty: the user's
    assert xla_defaults.with_defaults(mine) == mine
  environ = {'XLA_FLAGS': '--xla_force_host_platform_device_count=8'}
  assert _applied(environ) == OURS
  assert environ['XLA_FLAGS'] == f'--xla_force_host_platform_device_count=8 {OURS}'
  assert _applied(environ) == ''   # a child process applies them again: nothing doubles
  assert environ['XLA_FLAGS'] == f'--xla_force_host_platform_device_count=8 {OURS}'
  fresh = {}
  assert _applied(fresh) == OURS and fresh == {'XLA_FLAGS': OURS}


@pytest.mark.parametrize('environ', [
    {'JAXGAN_XLA_DEFAULTS': '0', 'XLA_FLAGS': '--xla_dump_to=/tmp/d'},
    {'JAXGAN_XLA_DEFAULTS': 'off'}, {'JAXGAN_XLA_DEFAULTS': 'False'},
    {'XLA_FLAGS': '/home/me/xla_flags.txt'},   # XLA reads it as a file of flags
])
def test_switched_off_or_a_flags_file_leaves_xla_flags_as_given(environ):
  before = dict(environ)
  assert _applied(environ) == '' and environ == before


@pytest.mark.parametrize('version,verified', [
    ('0.10.2', True), ('0.10.3', True), ('0.10.2.dev20261201', True), ('0.10.1', False),
    ('0.4.30', False), ('0.11.0', False), ('1.0', False), ('', False)])
def test_only_a_verified_jaxlib_gets_them(version, verified):
  # XLA aborts on a flag its release does not know, so an unverified jaxlib gets none.
  assert xla_defaults.jaxlib_verified(version) is verified
  environ = {}
  assert _applied(environ, version=version) == (OURS if verified else '')
  assert environ == ({'XLA_FLAGS': OURS} if verified else {})


def test_a_backend_started_before_the_import_is_left_alone_with_a_warning(caplog):
  environ = {'XLA_FLAGS': '--xla_dump_to=/tmp/d'}
  with caplog.at_level('WARNING'):
    assert _applied(environ, started=True) == ''
  assert environ == {'XLA_FLAGS': '--xla_dump_to=/tmp/d'}
  assert 'JAX started before jaxgan was imported' in caplog.text and OURS in caplog.text


def _step(folder, name, **env):
  out = folder / f'{name}.npz'
  proc = subprocess.run([sys.executable, 'tests/scripts/xla_defaults_step.py', str(out)],
                        cwd=ROOT, capture_output=True, text=True, timeout=600,
                        env=dict({k: v for k, v in os.environ.items()
                                  if k not in ('XLA_FLAGS', 'JAXGAN_XLA_DEFAULTS')},
                                 JAX_PLATFORMS='cpu', **env))
  assert proc.returncode == 0, proc.stderr[-3000:]
  report = json.loads(proc.stdout.strip().splitlines()[-1])
  return report, np.load(out)


@pytest.fixture(scope='module')
def two_processes(tmp_path_factory):
  """The script's report and arrays with jaxgan's defaults (ours) and without (theirs)."""
  folder = tmp_path_factory.mktemp('xla_defaults')
  return _step(folder, 'ours'), _step(folder, 'theirs', JAXGAN_XLA_DEFAULTS='0')


@pytest.mark.skipif(not xla_defaults.jaxlib_verified() or platform.machine() != 'x86_64',
                    reason='the defaults are not set under this jaxlib, or XLA may not hand '
                    'convolutions to YNNPACK on this CPU')
def test_a_training_step_under_the_defaults_equals_xlas_own_to_rounding(two_processes):
  (ours, ours_state), (theirs, their_state) = two_processes
  # The defaults reach a process that imports jaxgan, and move every convolution of the
  # step off YNNPACK, where XLA's own defaults hand them to it.
  assert ours['xla_flags'] == OURS and theirs['xla_flags'] == ''
  assert ours['ynn_convolutions'] == 0 and theirs['ynn_convolutions'] > 0
  # Same losses and, after two Adam updates, the same state, to float32 rounding (the
  # tolerance the old-workdir test allows between two CPU models' kernels).
  for a, b in zip(ours['metrics'], theirs['metrics']):
    assert a.keys() == b.keys()
    for k in a:
      assert a[k] == pytest.approx(b[k], rel=1e-5, abs=1e-6), k
  assert ours_state.files == their_state.files
  for k in ours_state.files:
    np.testing.assert_allclose(ours_state[k], their_state[k], rtol=1e-5, atol=2e-5)


def test_threefry_unrolled_draws_the_same_bits_as_jaxs_loop(two_processes):
  (ours, ours_state), (theirs, their_state) = two_processes
  if cpu_threefry._replaceable() is None:  # pylint: disable=protected-access
    pytest.skip('this JAX keeps its own Threefry rule: both processes draw with it')
  # Straight-line code with jaxgan's defaults (cpu_threefry), JAX's loop without.
  assert ours['threefry_loops'] == 0 and theirs['threefry_loops'] > 0
  assert ours['threefry_unrolled'] is True and theirs['threefry_unrolled'] is False
  # Bit for bit the random bits and Dropout mask either way.
  for k in ('bits', 'dropout'):
    np.testing.assert_array_equal(ours_state[k], their_state[k])
  assert 0.65 < their_state['dropout'].mean() < 0.75
