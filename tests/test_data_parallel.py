"""Data parallelism: the same code path on 8 devices and on 1 gives the same parameters."""
import json
import os
import subprocess
import sys

from helpers import ROOT


def test_eight_devices_match_one_device():
  """8 fake CPU devices (each a slice of the batch) against 1, same global batch and seed.

  Tolerance 1e-5 absolute after 8 steps: the all-reduce sums gradients and batch
  statistics in another order than one device does (1.2e-7 measured).
  """
  env = dict(os.environ, JAX_PLATFORMS='cpu', XLA_FLAGS='--xla_force_host_platform_device_count=8')
  proc = subprocess.run([sys.executable, 'tests/scripts/data_parallel.py', '8'], cwd=ROOT,
                        capture_output=True, text=True, timeout=900, env=env)
  assert proc.returncode == 0, proc.stderr
  report = json.loads(proc.stdout.strip().splitlines()[-1])
  assert report['devices'] == 8 and report['same_step']
  assert report['state_devices'] == 8 and report['state_replicated']
  assert report['all_reduce'] == [True, False]   # split over 8 devices; nothing to reduce on 1
  assert report['max_abs_diff'] < 1e-5
  assert report['orders_bitwise']   # each epoch's order drawn beforehand, on 8 devices


def test_batch_must_split_evenly_over_the_devices(tmp_path):
  env = dict(os.environ, JAX_PLATFORMS='cpu', XLA_FLAGS='--xla_force_host_platform_device_count=8')
  proc = subprocess.run([sys.executable, '-m', 'jaxgan.main', '--config', 'configs/test.py',
                         '--workdir', str(tmp_path / 'run'), '--config.train.batch_size=30'],
                        cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
  assert proc.returncode == 2    # a value its key does not accept here
  assert 'batch_size 30 must be a multiple of the 8 devices' in proc.stderr, proc.stderr
