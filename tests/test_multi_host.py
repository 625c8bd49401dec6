"""Several processes (hosts) train one model: same result as one process, files written once."""
import os
import signal
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from helpers import ROOT, load_config
from jaxgan import checkpointing
from jaxgan import fingerprint
from jaxgan import gan as gan_lib
from jaxgan import metric_writers

ARGS = ['--config', 'configs/test.py', '--config.eval.enabled=True', '--config.train.num_steps=8']


def _env(devices):
  return dict(os.environ, JAX_PLATFORMS='cpu', PYTHONFAULTHANDLER='1',
              XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}')


def _free_port():
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def _two_processes(workdir, cache, *extra):
  """Two processes of two CPU devices each, joined through jax.distributed."""
  port = _free_port()
  procs = [subprocess.Popen(
      [sys.executable, '-m', 'jaxgan.main', '--workdir', str(workdir), *ARGS,
       f'--config.data.cache_dir={cache}', f'--coordinator_address=localhost:{port}',
       '--num_processes=2', f'--process_id={i}', *extra],
      cwd=ROOT, env=_env(2), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
      for i in range(2)]
  try:
    outs = [p.communicate(timeout=300) for p in procs]
  except subprocess.TimeoutExpired:
    # A hang: SIGABRT makes each process's faulthandler print every thread's stack.
    for p in procs:
      p.send_signal(signal.SIGABRT)
    stacks = [p.communicate()[1][-6000:] for p in procs]
    pytest.fail('the two processes hung; their stacks:\n' + '\n----\n'.join(stacks))
  for p, (_, err) in zip(procs, outs):
    assert p.returncode == 0, err[-3000:]
  return [out for out, _ in outs]


def _final_state(workdir):
  config = load_config('test')
  gan = gan_lib.make_gan(config)
  manager = checkpointing.make_manager(workdir, None)
  return checkpointing.restore(manager, gan_lib.init_state(gan, jax.random.PRNGKey(0)))


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  """The same run as 2 processes x 2 devices and as 1 process x 4 devices."""
  root = tmp_path_factory.mktemp('multi_host')
  outs = _two_processes(root / 'two', root / 'cache')
  ref = subprocess.run([sys.executable, '-m', 'jaxgan.main', '--workdir', str(root / 'one'), *ARGS,
                        f'--config.data.cache_dir={root / "cache"}'],
                       cwd=ROOT, env=_env(4), capture_output=True, text=True, timeout=600)
  assert ref.returncode == 0, ref.stderr[-3000:]
  return root, outs


def test_two_processes_train_what_one_process_trains(runs):
  """Tolerance 1e-5 after 8 steps: gloo's all-reduce across processes sums in its own order."""
  root, outs = runs
  assert 'training 1 GAN on' in outs[0] and '4 cpu devices' in outs[0]
  two, one = _final_state(root / 'two'), _final_state(root / 'one')
  assert int(two.step) == int(one.step) == 8
  diffs = [np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)))
           for a, b in zip(jax.tree_util.tree_leaves(two), jax.tree_util.tree_leaves(one))]
  assert max(diffs) < 1e-5
  moved = jax.tree_util.tree_leaves(jax.tree_util.tree_map(
      lambda a, b: np.max(np.abs(a - b)), two.g_params,
      gan_lib.init_state(gan_lib.make_gan(load_config('test')), jax.random.PRNGKey(0)).g_params))
  assert max(moved) > 1e-4


def test_only_process_zero_writes_and_prints(runs):
  root, outs = runs
  records = metric_writers.read_metrics(root / 'two')
  train_steps = [r['step'] for r in records if 'd_loss' in r]
  assert train_steps == [2, 4, 6, 8]                  # each logged once, not once per process
  assert [r['step'] for r in records if 'fid' in r] == [4, 8]
  assert [r['step'] for r in fingerprint.read(root / 'two')] == [4, 8]
  assert sorted(p.name for p in (root / 'two' / 'samples').iterdir()) == [
      'step_0000000.png', 'step_0000004.png', 'step_0000008.png']
  assert (root / 'two' / 'checkpoints_best').is_dir()
  assert 'jaxgan:' in outs[0] and 'jaxgan:' not in outs[1]


def test_two_processes_resume_together(runs):
  root, _ = runs
  outs = _two_processes(root / 'two', root / 'cache', '--config.train.num_steps=12')
  assert 'resuming from the checkpoint at step 8' in outs[0]
  assert int(_final_state(root / 'two').step) == 12
  steps = [r['step'] for r in metric_writers.read_metrics(root / 'two') if 'd_loss' in r]
  assert steps == [2, 4, 6, 8, 10, 12]


def test_distributed_without_a_cluster_is_one_clear_error(tmp_path):
  proc = subprocess.run([sys.executable, '-m', 'jaxgan.main', '--workdir', str(tmp_path / 'w'),
                         '--config', 'configs/test.py', '--distributed'],
                        cwd=ROOT, env=_env(1), capture_output=True, text=True, timeout=120)
  assert proc.returncode == 1
  lines = proc.stderr.strip().splitlines()
  assert lines[-1].startswith('jaxgan: error: could not join the distributed run')
  assert 'pass --coordinator_address' in lines[-1]
  assert not (tmp_path / 'w').exists()
