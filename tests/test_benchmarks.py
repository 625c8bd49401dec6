"""The throughput benchmark runs and reports what it measured (its figures are not asserted)."""
import json
import os
import subprocess
import sys

import pytest

from helpers import ROOT


def _run(*extra, env=None):
  proc = subprocess.run([sys.executable, 'benchmarks/throughput.py', '--config', 'configs/test.py',
                         '--steps', '4', '--num_examples', '256', '--config.train.batch_size=16',
                         *extra],
                        cwd=ROOT, capture_output=True, text=True, timeout=600,
                        env=dict(os.environ, JAX_PLATFORMS='cpu', **(env or {})))
  assert proc.returncode == 0, proc.stderr
  return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_throughput_prints_one_json_line():
  report, _ = _run('--notorch')
  assert report['batch'] == 16 and report['steps'] == 4 and report['steps_per_jit'] == 2
  assert report['steps_per_sec'] > 0 and report['finite_losses']
  assert report['images_per_sec'] == pytest.approx(report['steps_per_sec'] * 16)
  # The step's convolutions alone are several MFLOP per image.
  assert report['gflop_per_step'] > 16 * 1e6 / 1e9
  assert report['tflop_per_sec'] == pytest.approx(
      report['gflop_per_step'] * report['steps_per_sec'] / 1e3)
  assert report['overrides'] == ['--config.train.batch_size=16']
  assert report['torch_port'] is None and report['speedup_vs_torch'] is None


def test_torch_port_runs_beside_and_reports_the_ratio():
  pytest.importorskip('torch', reason='PyTorch is not installed (pip install torch)')
  report, _ = _run()
  port = report['torch_port']
  assert port['device'] == 'cpu' and port['steps'] == 4 and port['finite_losses']
  assert report['speedup_vs_torch'] == pytest.approx(report['steps_per_sec']
                                                     / port['steps_per_sec'])


def test_without_torch_the_port_is_skipped_with_a_message(tmp_path):
  # A `torch` that fails to import stands in for a machine without PyTorch.
  (tmp_path / 'torch').mkdir()
  (tmp_path / 'torch' / '__init__.py').write_text('raise ImportError("no torch here")\n')
  report, stderr = _run(env={'PYTHONPATH': str(tmp_path)})
  assert report['torch_port'] is None
  assert 'PyTorch is not installed, so the port is skipped' in stderr


def test_a_config_the_port_cannot_run_is_skipped_with_its_reason():
  pytest.importorskip('torch', reason='PyTorch is not installed (pip install torch)')
  report, stderr = _run('--config.loss=hinge')
  assert report['torch_port'] is None
  assert 'the port has no equivalent of loss, so it is skipped' in stderr


def test_profile_writes_a_trace(tmp_path):
  _run('--notorch', '--profile', str(tmp_path / 'trace'))
  assert list((tmp_path / 'trace').rglob('*.xplane.pb'))
