"""What clusters and disks do to a run: kills, preemption, corrupted checkpoints, a full disk,
a second run in the same workdir, torn files. Each loses nothing that was committed, and a
resumed run ends where the uninterrupted one does, bit for bit."""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
from PIL import Image
import pytest

from jaxgan import files
from jaxgan import fingerprint
from jaxgan import metric_writers
from jaxgan import preemption
from jaxgan.errors import JaxganError

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


def _run(workdir, *extra):
  return subprocess.run(_command(workdir) + list(extra), cwd=ROOT, env=_env(),
                        capture_output=True, text=True, timeout=600)


def _checkpoints(workdir):
  return sorted(int(p.name) for p in (workdir / 'checkpoints').iterdir() if p.name.isdigit())


def _signal_past_the_first_checkpoint(workdir, sig):
  """Sends `sig` once the first checkpoint has committed and a log line past it is on disk."""
  proc = subprocess.Popen(_command(workdir), cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  deadline = time.monotonic() + 300
  while time.monotonic() < deadline and proc.poll() is None:
    steps = _logged_steps(workdir)
    committed = (workdir / 'checkpoints' / str(EVERY)).is_dir()   # Orbax renames on commit
    if committed and steps and steps[-1] > EVERY and steps[-1] % EVERY:
      proc.send_signal(sig)
      break
    time.sleep(0.01)
  stdout, stderr = proc.communicate(timeout=120)
  return proc.returncode, stdout, stderr


def _fingerprints(workdir):
  return {r['step']: r for r in fingerprint.read(workdir)}


def _losses(workdir):
  return [(r['step'], r['d_loss'], r['g_loss']) for r in metric_writers.read_metrics(workdir)]


@pytest.fixture(scope='module')
def whole(tmp_path_factory):
  """The uninterrupted run that every interrupted one must end equal to."""
  workdir = tmp_path_factory.mktemp('faults') / 'whole'
  proc = _run(workdir)
  assert proc.returncode == 0, proc.stderr
  assert _checkpoints(workdir) == list(range(EVERY, STEPS + 1, EVERY))
  return workdir


def _assert_ends_as(workdir, whole):
  """Every state fingerprinted in both runs, and the whole loss record, are the same."""
  a, b = _fingerprints(workdir), _fingerprints(whole)
  assert STEPS in a and all(a[s] == b[s] for s in set(a) & set(b))
  assert _losses(workdir) == _losses(whole)


def test_sigkill_between_checkpoints_loses_nothing_committed(tmp_path, whole):
  killed = tmp_path / 'killed'
  code, _, stderr = _signal_past_the_first_checkpoint(killed, signal.SIGKILL)
  assert code == -signal.SIGKILL, f'the run was not killed mid-way: {stderr}'
  checkpoints = _checkpoints(killed)
  # What the kill left: records past the last committed checkpoint, which resuming must drop.
  assert checkpoints and _logged_steps(killed)[-1] > checkpoints[-1]

  resumed = _run(killed)
  assert resumed.returncode == 0, resumed.stderr
  assert f'resuming from the checkpoint at step {checkpoints[-1]}' in resumed.stdout
  assert _logged_steps(killed) == list(range(2, STEPS + 1, 2))
  assert [r['step'] for r in fingerprint.read(killed)] == list(range(EVERY, STEPS + 1, EVERY))
  # Every fingerprinted state (parameters, statistics, optimizer states) is the uninterrupted run's.
  assert fingerprint.read(killed) == fingerprint.read(whole)
  _assert_ends_as(killed, whole)


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_saves_at_the_next_step_and_exits_for_requeue(tmp_path, whole, sig):
  stopped = tmp_path / 'stopped'
  code, stdout, stderr = _signal_past_the_first_checkpoint(stopped, sig)
  assert code == preemption.EXIT_CODE == 75, stderr
  line = stderr.strip().splitlines()[-1]
  assert line.startswith('jaxgan: preempted at step ') and 'Traceback' not in stderr, stderr
  step = int(line.split('preempted at step ')[1].split()[0])
  assert line == f'jaxgan: preempted at step {step} by {sig.name}; checkpoint saved'
  assert f'{sig.name} received: saving the checkpoint at step {step}' in stdout
  # A checkpoint where the signal came, between the regular ones, fingerprinted once committed.
  assert step % EVERY and _checkpoints(stopped)[-1] == step
  assert max(_fingerprints(stopped)) == step
  # The closing outputs are whole files.
  for name in ('samples.gif', 'losses.png'):
    with Image.open(stopped / name) as image:
      image.load()

  resumed = _run(stopped)
  assert resumed.returncode == 0, resumed.stderr
  assert f'resuming from the checkpoint at step {step}' in resumed.stdout
  _assert_ends_as(stopped, whole)


def _truncate_largest_data_file(step_dir):
  data = max((p for p in step_dir.rglob('*') if p.is_file() and p.parent.name == 'd'),
             key=lambda p: p.stat().st_size)
  with open(data, 'r+b') as f:
    f.truncate(data.stat().st_size // 3)


def _delete_metadata(step_dir):
  (step_dir / 'default' / '_METADATA').unlink()


def _replace_by_older(step_dir):
  # Readable, with the model's structure, but not the state that was saved at this step.
  shutil.rmtree(step_dir / 'default')
  shutil.copytree(step_dir.parent / str(STEPS - EVERY) / 'default', step_dir / 'default')


@pytest.mark.parametrize('damage, reason', [
    (_truncate_largest_data_file, ''),
    (_delete_metadata, 'the record of its arrays (_METADATA) is missing or damaged'),
    (_replace_by_older, 'its arrays differ from the fingerprint recorded when it was saved')])
def test_a_damaged_newest_checkpoint_is_set_aside_and_the_one_before_resumes(
    tmp_path, whole, damage, reason):
  workdir = tmp_path / 'damaged'
  shutil.copytree(whole, workdir)
  damage(workdir / 'checkpoints' / str(STEPS))
  proc = _run(workdir)
  assert proc.returncode == 0, proc.stderr
  warnings = [l for l in proc.stdout.splitlines() if 'WARNING' in l]
  assert len(warnings) == 1, proc.stdout
  assert f'checkpoint {STEPS} cannot be read: {reason}' in warnings[0]
  assert not proc.stderr, proc.stderr
  assert f'set aside as {workdir / "checkpoints" / f"{STEPS}.corrupt"}' in warnings[0]
  assert 'another --workdir' not in proc.stdout + proc.stderr
  assert f'resuming from the checkpoint at step {STEPS - EVERY}' in proc.stdout
  assert (workdir / 'checkpoints' / f'{STEPS}.corrupt').is_dir()
  _assert_ends_as(workdir, whole)


def test_when_no_checkpoint_can_be_read_nothing_is_set_aside(tmp_path, whole):
  # A fault that spares no checkpoint (permissions, a broken mount) is not damage to one.
  workdir = tmp_path / 'unreadable'
  shutil.copytree(whole, workdir)
  for step in _checkpoints(workdir):
    _delete_metadata(workdir / 'checkpoints' / str(step))
  proc = _run(workdir)
  assert proc.returncode == 1
  assert proc.stderr.strip().startswith(f'jaxgan: error: no checkpoint in {workdir} can be read')
  assert proc.stderr.strip().endswith('nothing was changed') and 'Traceback' not in proc.stderr
  assert _checkpoints(workdir) == [EVERY, 2 * EVERY, STEPS]
  assert not list((workdir / 'checkpoints').glob('*.corrupt'))
  assert _losses(workdir) == _losses(whole)


def test_a_damaged_member_of_a_population_takes_the_population_back_in_step(config, tmp_path):
  from jaxgan import train
  config.train.num_seeds = 2
  train.train_and_evaluate(config, tmp_path)
  whole = {s: _fingerprints(tmp_path / f'seed_{s}') for s in (0, 1)}
  _delete_metadata(tmp_path / 'seed_1' / 'checkpoints' / '8')
  train.train_and_evaluate(config, tmp_path)
  # The damaged member's checkpoint is set aside, the other's later one too; both train step 8
  # again, to the states they had.
  assert (tmp_path / 'seed_1' / 'checkpoints' / '8.corrupt').is_dir()
  assert (tmp_path / 'seed_0' / 'checkpoints' / '8.superseded').is_dir()
  for s in (0, 1):
    assert _checkpoints(tmp_path / f'seed_{s}') == [4, 8]
    assert _fingerprints(tmp_path / f'seed_{s}') == whole[s]


def test_a_checkpoint_of_another_model_is_refused_not_set_aside(config, tmp_path):
  import jax
  from jaxgan import checkpointing, gan as gan_lib, train
  train.train_and_evaluate(config, tmp_path)
  config.model.latent_dim = 8
  template = gan_lib.init_state(gan_lib.make_gan(config, 8), jax.random.key(0))
  with pytest.raises(JaxganError, match='does not fit this config') as caught:
    checkpointing.restore(checkpointing.make_manager(tmp_path, 3), template, 8)
  assert not isinstance(caught.value, checkpointing.CorruptCheckpoint)


def _mount_tmpfs(path, size):
  if os.geteuid() != 0:
    pytest.skip('mounting a small tmpfs needs root')
  path.mkdir()
  mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', str(path)],
                           capture_output=True, text=True)
  if mounted.returncode:
    pytest.skip(f'cannot mount a tmpfs here: {mounted.stderr.strip()}')


def test_a_full_disk_is_one_line_and_loses_no_committed_checkpoint(tmp_path, whole):
  disk = tmp_path / 'disk'
  _mount_tmpfs(disk, '2m')
  try:
    proc = _run(disk / 'run')
    committed = _checkpoints(disk / 'run')
    copy = tmp_path / 'space_again'
    shutil.copytree(disk / 'run', copy)
  finally:
    subprocess.run(['umount', '-l', str(disk)], check=True)
  assert proc.returncode == 1, proc.stderr
  assert proc.stderr.count('\n') == 1 and 'Traceback' not in proc.stderr, proc.stderr
  line = proc.stderr.strip()
  assert line.startswith('jaxgan: error: cannot write ') and 'No space left on device' in line
  assert committed and line.endswith(
      f'checkpoint{"s" if len(committed) > 1 else ""} {", ".join(map(str, committed))} intact')
  # Once there is space again, the run resumes from what was committed and ends as if never stopped.
  resumed = _run(copy)
  assert resumed.returncode == 0, resumed.stderr
  assert f'resuming from the checkpoint at step {committed[-1]}' in resumed.stdout
  _assert_ends_as(copy, whole)


def test_a_second_run_in_a_workdir_in_use_is_refused_at_once(tmp_path):
  workdir = tmp_path / 'busy'
  first = subprocess.Popen(_command(workdir) + ['--config.train.num_steps=100000'], cwd=ROOT,
                           env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not _logged_steps(workdir):
      time.sleep(0.05)
    assert _logged_steps(workdir), 'the first run did not start training'
    second = _run(workdir)
    assert second.returncode == 1
    assert second.stderr.strip() == (f'jaxgan: error: workdir {workdir} in use by pid {first.pid} '
                                     '(one run per workdir; wait for it to end, or use another '
                                     '--workdir)')
  finally:
    first.kill()
    first.wait()
  # The refused run wrote nothing beside the first one's records (no step twice)...
  steps = _logged_steps(workdir)
  fingerprinted = [r['step'] for r in fingerprint.read(workdir)]
  assert steps == sorted(set(steps)) and fingerprinted == sorted(set(fingerprinted))
  # ...and a killed run's lock does not block the next one.
  with files.WorkdirLock(workdir):
    pass



# In-process: torn files, config provenance, timed checkpoints, stop requests.

def test_a_torn_last_line_is_dropped_and_the_run_resumes(config, tmp_path):
  from jaxgan import train
  train.train_and_evaluate(config, tmp_path)
  for name in (metric_writers.METRICS_FILE, fingerprint.FINGERPRINT_FILE):
    with open(tmp_path / name, 'a', encoding='utf-8') as f:
      f.write('{"step": 9, "d_lo')          # what a kill mid-write leaves
  assert [r['step'] for r in metric_writers.read_metrics(tmp_path)] == [2, 4, 6, 8]
  config.train.num_steps = 12
  train.train_and_evaluate(config, tmp_path)
  assert [r['step'] for r in metric_writers.read_metrics(tmp_path)] == [2, 4, 6, 8, 10, 12]
  assert [r['step'] for r in fingerprint.read(tmp_path)] == [4, 8, 12]
  assert files.parse_jsonl(tmp_path / metric_writers.METRICS_FILE)[1] is False


def test_an_append_after_a_torn_line_starts_a_line_of_its_own(tmp_path):
  path = tmp_path / 'config_history.jsonl'
  path.write_text('{"step": 4}\n{"step": 8, "chan')
  files.append_line(path, '{"step": 12}')
  assert files.parse_jsonl(path) == ([{'step': 4}, {'step': 12}], False)
  path.write_text('{"step": 4}')                  # whole, but its newline never written
  files.append_line(path, '{"step": 12}')
  assert files.parse_jsonl(path) == ([{'step': 4}, {'step': 12}], False)


def test_a_bad_line_before_the_last_is_damage_not_a_crash(tmp_path):
  path = tmp_path / 'm.jsonl'
  path.write_text('{"step": 1}\n{"st\n{"step": 3}\n')
  with pytest.raises(JaxganError, match=r'm.jsonl: line 2 is not JSON'):
    files.read_jsonl(path)


def test_an_atomic_write_that_fails_leaves_the_old_file(tmp_path):
  path = tmp_path / 'grid.png'
  path.write_bytes(b'old')
  with pytest.raises(RuntimeError):
    with files.replaced_atomically(path) as tmp:
      tmp.write_bytes(b'half')
      raise RuntimeError('the disk filled')
  assert path.read_bytes() == b'old' and sorted(p.name for p in tmp_path.iterdir()) == ['grid.png']


def test_the_gif_leaves_out_an_unreadable_frame(tmp_path):
  from jaxgan import visualize
  frames = []
  for i in range(3):
    frames.append(tmp_path / f'step_{i:07d}.png')
    visualize.save_png(frames[-1], np.full((4, 4), 80 * i, np.uint8), scale=1)
  frames[1].write_bytes(frames[1].read_bytes()[:20])     # torn
  visualize.save_gif(frames, tmp_path / 'samples.gif')
  with Image.open(tmp_path / 'samples.gif') as gif:
    assert gif.n_frames == 2


def test_changed_training_settings_on_resume_are_refused_then_recorded(config, tmp_path):
  from jaxgan import checkpointing, train
  train.train_and_evaluate(config, tmp_path)
  first = json.loads((tmp_path / 'config.json').read_text())
  config.seed, config.train.num_steps = 1, 12
  with pytest.raises(JaxganError, match=r'other settings \(seed: 0 -> 1\).*allow_config_change'):
    train.train_and_evaluate(config, tmp_path)
  assert not (tmp_path / 'checkpoints' / '12').exists()
  config.train.allow_config_change = True
  train.train_and_evaluate(config, tmp_path)
  # config.json stays the config the run started with; the history holds what changed, and when.
  assert json.loads((tmp_path / 'config.json').read_text()) == first
  history = files.read_jsonl(tmp_path / checkpointing.HISTORY_FILE)
  assert [(r['step'], r['changes']) for r in history] == [
      (8, {'seed': [0, 1], 'train.num_steps': [8, 12]})]
  saved = checkpointing.load_saved_config(tmp_path)
  assert (saved.seed, saved.train.num_steps) == (1, 12)


def test_moved_data_and_keys_of_a_later_version_are_not_a_change_of_settings(config, tmp_path):
  from jaxgan import checkpointing
  checkpointing.save_config(config, tmp_path)
  saved = checkpointing.load_saved_config(tmp_path)
  del saved.data['heldout']                       # a config from before the key existed
  config.data.path = str(tmp_path / 'copied_to_local_disk')
  checkpointing.check_training_settings(saved, config, tmp_path)
  config.data.split = 'train'
  with pytest.raises(JaxganError, match=r"data.split: 't10k' -> 'train'"):
    checkpointing.check_training_settings(saved, config, tmp_path)


def test_a_fresh_start_replaces_the_config_of_a_run_that_never_checkpointed(config, tmp_path):
  from jaxgan import checkpointing
  from jaxgan import train
  checkpointing.save_config(config, tmp_path)     # a run that stopped before its first checkpoint
  config.seed = 5
  train.train_and_evaluate(config, tmp_path)
  assert checkpointing.load_saved_config(tmp_path).seed == 5
  assert not (tmp_path / checkpointing.HISTORY_FILE).exists()


def test_timed_checkpoints_bound_what_a_crash_loses(config, tmp_path):
  from jaxgan import train
  config.train.checkpoint_every = 1000
  config.train.max_checkpoints = 10
  config.train.checkpoint_minutes = 1e-9     # due at every dispatch boundary
  train.train_and_evaluate(config, tmp_path)
  # steps_per_jit=2 in configs/test.py: a boundary every second step.
  assert _checkpoints(tmp_path) == [2, 4, 6, 8]
  assert [r['step'] for r in fingerprint.read(tmp_path)] == [2, 4, 6, 8]


def test_a_shorter_run_than_the_workdir_holds_says_there_is_nothing_to_train(
    config, tmp_path, caplog):
  from jaxgan import train
  train.train_and_evaluate(config, tmp_path)
  config.train.num_steps = 4
  with caplog.at_level('INFO', logger='jaxgan'):
    train.train_and_evaluate(config, tmp_path)
  assert any('is at step 8, not before its last step 4: nothing to train' in r.getMessage()
             for r in caplog.records)
  assert _checkpoints(tmp_path) == [4, 8]


def test_stop_signals_set_a_flag_and_a_second_ctrl_c_interrupts():
  with pytest.raises(KeyboardInterrupt):
    with preemption.StopSignals() as stop:
      assert stop.requested is None
      os.kill(os.getpid(), signal.SIGINT)
      assert stop.requested == 'SIGINT'
      os.kill(os.getpid(), signal.SIGINT)      # Ctrl-C again: at once


def test_stop_signals_keep_the_first_request_and_restore_the_handlers():
  before = signal.getsignal(signal.SIGTERM)
  with preemption.StopSignals() as stop:
    os.kill(os.getpid(), signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGUSR1)
    assert stop.requested == 'SIGTERM'
  assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize('content, reason', [
    (b'', 'the file is empty'),
    (b'PK\x03\x04' + bytes(40), 'not an .npz archive (truncated, or another format)'),
    ('npy', 'it is a single .npy array; save samples with np.savez')])
def test_a_bad_samples_file_is_one_line_before_anything_loads(tmp_path, content, reason):
  path = tmp_path / 'samples.npz'
  if content == 'npy':
    with open(path, 'wb') as f:
      np.save(f, np.zeros((4, 28, 28), np.uint8))
  else:
    path.write_bytes(content)
  start = time.monotonic()
  proc = subprocess.run([sys.executable, '-m', 'jaxgan.evaluate', '--samples', str(path),
                         '--config', str(ROOT / 'configs' / 'mnist_cpu.py')],
                        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
  elapsed = time.monotonic() - start
  assert proc.returncode == 1
  assert proc.stderr.strip() == f'jaxgan: error: cannot read samples from {path}: {reason}'
  # Before the data set and the classifier load (they take 10 s and more): at once.
  assert elapsed < 2.0, elapsed
