"""The throughput benchmark runs and reports what it measured (its figures are not asserted)."""
import json
import os
import subprocess
import sys

import pytest

from helpers import ROOT


def test_throughput_prints_one_json_line():
  proc = subprocess.run([sys.executable, 'benchmarks/throughput.py', '--config', 'configs/test.py',
                         '--steps', '4', '--config.train.batch_size=16'],
                        cwd=ROOT, capture_output=True, text=True, timeout=600,
                        env=dict(os.environ, JAX_PLATFORMS='cpu'))
  assert proc.returncode == 0, proc.stderr
  report = json.loads(proc.stdout.strip().splitlines()[-1])
  assert report['batch'] == 16 and report['steps'] == 4 and report['steps_per_jit'] == 2
  assert report['steps_per_sec'] > 0
  assert report['images_per_sec'] == pytest.approx(report['steps_per_sec'] * 16)
  assert report['overrides'] == ['--config.train.batch_size=16']
