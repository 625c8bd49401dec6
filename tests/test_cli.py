"""The command line as a user runs it: exit codes and one-line errors."""
import os
import pathlib
import subprocess
import sys

import pytest


ROOT = pathlib.Path(__file__).resolve().parent.parent


def run(*args, cwd=ROOT):
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  return subprocess.run([sys.executable, '-m', 'jaxgan.main', '--config', str(ROOT / 'configs/test.py'),
                         *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def assert_one_error_line(proc, code, pattern):
  assert proc.returncode == code, proc.stderr
  assert 'Traceback' not in proc.stderr
  errors = [l for l in proc.stderr.splitlines() if l.startswith('jaxgan: error:')]
  assert len(errors) == 1 and pattern in errors[0], proc.stderr


def test_trains_resumes_and_says_so(tmp_path):
  first = run('--workdir', str(tmp_path), '--config.train.num_steps=4')
  assert first.returncode == 0, first.stderr
  assert (tmp_path / 'checkpoints' / '4').is_dir()
  assert (tmp_path / 'samples' / 'step_0000004.png').is_file()
  # The last line says where the wall time went, and the parts add up to the total.
  done = [l for l in first.stdout.splitlines() if 'done at step 4' in l]
  total, parts = done[0].split('; ')[-1].split(' s: ')
  seconds = {name: float(value) for name, value in
             (part.rsplit(' ', 2)[:2] for part in parts.split(', '))}
  assert set(seconds) == {'start-up', 'compilation', 'grids', 'checkpoints', 'closing', 'training'}
  assert all(v >= 0 for v in seconds.values())
  assert abs(sum(seconds.values()) - float(total)) <= 0.35   # six figures rounded to 0.1
  second = run('--workdir', str(tmp_path), '--config.train.num_steps=6')
  assert second.returncode == 0, second.stderr
  assert 'resuming from the checkpoint at step 4' in second.stdout
  assert (tmp_path / 'checkpoints' / '6').is_dir()


def test_mistyped_override(tmp_path):
  proc = run('--workdir', str(tmp_path), '--config.train.batch_sise=8')
  assert_one_error_line(proc, 2, "unknown config key 'train.batch_sise' "
                                 "(did you mean 'train.batch_size'?)")
  assert not tmp_path.joinpath('config.json').exists()


@pytest.mark.parametrize('override', ['--config.train.batch_size=abc', '--config.seed=1.5',
                                      '--config.train.progress_bar=maybe'])
def test_mistyped_value(tmp_path, override):
  proc = run('--workdir', str(tmp_path), override)
  assert_one_error_line(proc, 2, override.split('=')[0][2:])
  assert not tmp_path.joinpath('config.json').exists()


@pytest.mark.parametrize('override', ['--config.train.batch_size=0', '--config.train.batch_size=-5',
                                      '--config.optimizer.b1=1.5'])
def test_value_out_of_range_exits_2(tmp_path, override):
  # A value of the right type that the key does not accept is a mistyped value too.
  proc = run('--workdir', str(tmp_path), override)
  assert_one_error_line(proc, 2, override.split('=')[0][len('--config.'):])
  assert not tmp_path.joinpath('config.json').exists()


def test_missing_config_file(tmp_path):
  proc = subprocess.run([sys.executable, '-m', 'jaxgan.main', '--config', 'configs/nope.py',
                         '--workdir', str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
  assert_one_error_line(proc, 2, 'configs/nope.py')


def test_missing_idx_files(tmp_path):
  (tmp_path / 'empty').mkdir()
  proc = run('--workdir', str(tmp_path / 'run'), f'--config.data.path={tmp_path / "empty"}')
  assert_one_error_line(proc, 1, 't10k-images-idx3-ubyte.gz not found')


def test_corrupt_idx_file(tmp_path):
  data = tmp_path / 'data'
  data.mkdir()
  (data / 't10k-images-idx3-ubyte.gz').write_bytes(b'\x1f\x8b\x08garbage')
  proc = run('--workdir', str(tmp_path / 'run'), f'--config.data.path={data}')
  assert_one_error_line(proc, 1, 'not valid gzip')


def test_workdir_not_writable(tmp_path):
  blocker = tmp_path / 'file'
  blocker.write_text('keep me')
  proc = run('--workdir', str(blocker / 'run'))
  assert_one_error_line(proc, 1, 'is not writable')
  assert blocker.read_text() == 'keep me'


_ABANDONED_TASK = r'''
import asyncio, gc, sys
from jaxgan import cli

async def read_array():
  raise ValueError(sys.argv[1])

async def restore():
  pending = asyncio.gather(read_array())  # failed, and nobody awaits it
  await asyncio.sleep(0.01)
  del pending

cli.quiet_logging()
asyncio.run(restore())
gc.collect()
'''


@pytest.mark.parametrize('failure, reported', [
    # Orbax's words when TensorStore cannot read one array of a damaged checkpoint.
    ('Encountered error while reading array index: (slice(0, 16, 1), slice(0, 1568, 1)). '
     'See full TensorStore details: <TensorStore>', False),
    # TensorStore's own, raised from C++ with no traceback to name it (a truncated array file).
    ('OUT_OF_RANGE: Error reading "d_opt_state.0.nu.Conv_1.kernel/0.0.0.0" in OCDBT database '
     'at local file "/tmp/run/checkpoints/120/default/": Requested byte range [357632, 369231) '
     'is not valid for value of size 124837', False),
    ('orbax: a failure of Orbax itself, not of an array read', True),
    ('a failure of some other asyncio work', True)])
def test_an_unobserved_failure_of_checkpoint_io_is_not_reported_again(failure, reported):
  """asyncio logs a gathered failure nobody awaited when it is collected: for a
  checkpoint read the command has already said so in one line; other work's stays."""
  proc = subprocess.run([sys.executable, '-c', _ABANDONED_TASK, failure],
                        capture_output=True, text=True, cwd=ROOT, check=True)
  assert ('exception was never retrieved' in proc.stderr) == reported, proc.stderr
  assert (failure in proc.stderr) == reported, proc.stderr


def test_the_progress_bars_eta_counts_an_evaluations_pause_once(monkeypatch):
  """Ten steps of 0.1 s, a 10 s evaluation, one more step: the ETA is the run's average pace
  (11 steps in 11 s) for the 89 left, not the last interval's 10 s a step."""
  import io
  import tqdm
  from jaxgan import cli
  clock = [0.0]
  monkeypatch.setattr(tqdm.std, 'time', lambda: clock[0])
  bar = cli.ProgressBar()
  bar.start(0, 100)
  bar._bar.fp = io.StringIO()
  for _ in range(10):
    clock[0] += 0.1
    bar.advance(1)
  clock[0] += 10.0
  bar.advance(1)
  meter = bar._bar.format_dict
  rate = meter['rate'] or meter['n'] / meter['elapsed']
  assert meter['n'] == 11 and meter['elapsed'] == pytest.approx(11.0)
  assert (100 - 11) / rate == pytest.approx(89 * 11.0 / 11, rel=1e-6)
  bar.close()
