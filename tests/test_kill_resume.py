"""A run killed without warning between checkpoints resumes into the uninterrupted run, bit for bit."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

from jaxgan import fingerprint
from jaxgan import metric_writers

ROOT = pathlib.Path(__file__).resolve().parent.parent
STEPS, EVERY = 120, 40
ARGS = [f'--config.train.num_steps={STEPS}', f'--config.train.checkpoint_every={EVERY}',
        '--config.train.eval_every=1000', '--config.train.log_every=2']


def _command(workdir):
  return [sys.executable, '-m', 'jaxgan.main', '--config', str(ROOT / 'configs' / 'test.py'),
          '--workdir', str(workdir), *ARGS]


def _env():
  return dict(os.environ, JAX_PLATFORMS='cpu')


def _logged_steps(workdir):
  try:
    return [r['step'] for r in metric_writers.read_metrics(workdir)]
  except json.JSONDecodeError:   # a line being written as we read
    return []


def _kill_past_the_first_checkpoint(workdir):
  """SIGKILL once the first checkpoint has committed and a log line past it is on disk."""
  proc = subprocess.Popen(_command(workdir), cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
  deadline = time.monotonic() + 300
  while time.monotonic() < deadline and proc.poll() is None:
    steps = _logged_steps(workdir)
    committed = (workdir / 'checkpoints' / str(EVERY)).is_dir()   # Orbax renames on commit
    if committed and steps and steps[-1] > EVERY and steps[-1] % EVERY:
      proc.send_signal(signal.SIGKILL)
      break
    time.sleep(0.01)
  proc.wait(timeout=60)
  assert proc.returncode == -signal.SIGKILL, f'the run was not killed mid-way: {proc.stderr.read()}'


def test_sigkill_between_checkpoints_loses_nothing_committed(tmp_path):
  killed = tmp_path / 'killed'
  _kill_past_the_first_checkpoint(killed)
  checkpoints = sorted(int(p.name) for p in (killed / 'checkpoints').iterdir() if p.name.isdigit())
  # What the kill left: records past the last committed checkpoint, which resuming must drop.
  assert checkpoints and _logged_steps(killed)[-1] > checkpoints[-1]

  resumed = subprocess.run(_command(killed), cwd=ROOT, env=_env(), capture_output=True,
                           text=True, timeout=600)
  assert resumed.returncode == 0, resumed.stderr
  assert f'resuming from the checkpoint at step {checkpoints[-1]}' in resumed.stdout
  whole = subprocess.run(_command(tmp_path / 'whole'), cwd=ROOT, env=_env(), capture_output=True,
                         text=True, timeout=600)
  assert whole.returncode == 0, whole.stderr

  expected_logs = list(range(2, STEPS + 1, 2))
  assert _logged_steps(killed) == expected_logs == _logged_steps(tmp_path / 'whole')
  assert [r['step'] for r in fingerprint.read(killed)] == list(range(EVERY, STEPS + 1, EVERY))
  # Every fingerprinted state (parameters, statistics, optimizer states) is the uninterrupted run's.
  assert fingerprint.read(killed) == fingerprint.read(tmp_path / 'whole')
  losses = lambda w: [r['d_loss'] for r in metric_writers.read_metrics(w)]
  assert losses(killed) == losses(tmp_path / 'whole')
