"""train_and_evaluate on the real 512-digit IDX sample and on tfds mock data."""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from helpers import ROOT
from jaxgan import checkpointing
from jaxgan import fingerprint
from jaxgan import gan as gan_lib
from jaxgan import losses
from jaxgan import sampling
from jaxgan import train
from jaxgan import xla_defaults
from jaxgan.errors import JaxganError, NonFiniteLossError


# A workdir written by jaxgan before its modules were split (commit 5f3f6f2):
# configs/test.py trained 6 steps with checkpoint_every=3, then its checkpoint at
# step 6 kept with config.json, metrics.jsonl and fingerprints.jsonl.
OLD_WORKDIR = pathlib.Path(__file__).parent / 'data' / 'workdir_v0_1'


def _leaves(tree):
  return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def _ckpt_steps(workdir):
  return sorted(int(p.name) for p in (workdir / 'checkpoints').iterdir() if p.name.isdigit())


def test_trains_and_writes_every_output(config, tmp_path):
  state = train.train_and_evaluate(config, tmp_path)
  assert int(state.step) == 8
  assert _ckpt_steps(tmp_path) == [4, 8]
  records = [json.loads(l) for l in (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  assert [r['step'] for r in records] == [2, 4, 6, 8]
  assert all(np.isfinite(r['d_loss']) and np.isfinite(r['g_loss']) for r in records)
  assert sorted(p.name for p in (tmp_path / 'samples').iterdir()) == [
      'step_0000000.png', 'step_0000004.png', 'step_0000008.png']
  for name in ('samples.gif', 'losses.png', 'config.json'):
    assert (tmp_path / name).stat().st_size > 0
  assert list((tmp_path / 'tensorboard').glob('events.out.tfevents.*'))
  saved = json.loads((tmp_path / 'config.json').read_text())
  assert saved['train']['batch_size'] == 32


class _Recorder:
  """A progress display that records what the loop tells it."""
  poll_seconds = 0.0

  def __init__(self):
    self.calls = []

  def start(self, step, total):
    self.calls.append(('start', step, total))

  def advance(self, steps):
    self.calls.append(('advance', steps))

  def scalars(self, scalars):
    self.calls.append(('scalars', sorted(scalars)))

  def close(self):
    self.calls.append(('close',))


def test_progress_moves_with_each_dispatch_not_only_at_log_lines(config, tmp_path):
  # One step per dispatch and one log line at the end: the display hears of every
  # step as it finishes, then of the losses once.
  config.train.steps_per_jit = 1
  config.train.num_steps = config.train.log_every = 6
  config.train.eval_every = config.train.checkpoint_every = 6
  progress = _Recorder()
  train.train_and_evaluate(config, tmp_path, progress=progress)
  scalars = ('scalars', ['d_loss', 'g_loss', 'steps_per_sec'])
  assert progress.calls == [('start', 0, 6)] + [('advance', 1)] * 6 + [scalars, ('close',)]


def test_resume_equals_uninterrupted_bitwise(config, tmp_path, caplog):
  whole = train.train_and_evaluate(config, tmp_path / 'whole')
  config.train.num_steps = 4
  train.train_and_evaluate(config, tmp_path / 'split')
  config.train.num_steps = 8
  caplog.clear()
  with caplog.at_level('INFO', logger='jaxgan'):
    resumed = train.train_and_evaluate(config, tmp_path / 'split')
  assert 'resuming from the checkpoint at step 4' in caplog.text
  for a, b in zip(_leaves(whole), _leaves(resumed)):
    np.testing.assert_array_equal(a, b)
  lines = lambda w: (tmp_path / w / 'metrics.jsonl').read_text().splitlines()
  assert [json.loads(l)['d_loss'] for l in lines('whole')] == \
      [json.loads(l)['d_loss'] for l in lines('split')]


def test_restored_checkpoint_holds_the_final_state(config, tmp_path):
  state = train.train_and_evaluate(config, tmp_path)
  gan = gan_lib.make_gan(config)
  template = gan_lib.init_state(gan, gan_lib.rngs(0)['init'])
  manager = checkpointing.make_manager(tmp_path, 3)
  restored = checkpointing.restore(manager, template)
  for a, b in zip(_leaves(state), _leaves(restored)):
    np.testing.assert_array_equal(a, b)


def test_mlp_gan_trains(config, tmp_path):
  config.model.name = 'mlp'
  config.train.num_steps = 4
  state = train.train_and_evaluate(config, tmp_path)
  assert int(state.step) == 4 and 'Dense_2' in state.g_params
  assert not any(k.startswith('ConvTranspose') for k in state.g_params)


def test_tfds_source_with_mock_data(config, tmp_path, monkeypatch):
  tfds = pytest.importorskip('tensorflow_datasets')
  from jaxgan import input_pipeline
  monkeypatch.setattr(input_pipeline, 'internet_reachable', lambda: True)
  config.data.source = 'tfds'
  config.data.name = 'mnist'
  config.data.split = 'train'
  config.data.data_dir = str(tmp_path / 'tfds')
  config.data.cache_dir = str(tmp_path / 'cache')
  config.train.num_steps = 4
  with tfds.testing.mock_data(num_examples=64):
    state = train.train_and_evaluate(config, tmp_path / 'run')
  assert int(state.step) == 4
  assert _ckpt_steps(tmp_path / 'run') == [4]


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(config, tmp_path, monkeypatch):
  config.train.num_steps = 4
  train.train_and_evaluate(config, tmp_path)
  before = sorted(p.name for p in (tmp_path / 'checkpoints' / '4').rglob('*'))
  nan_d_loss = lambda real, fake, real_label: losses.d_loss_bce(real, fake, real_label) * np.nan
  monkeypatch.setitem(losses.LOSSES, 'non_saturating',
                      (nan_d_loss, losses.g_loss_non_saturating, True))
  config.train.num_steps = 8
  with pytest.raises(NonFiniteLossError, match='d_loss became nan at step 5'):
    train.train_and_evaluate(config, tmp_path)
  assert _ckpt_steps(tmp_path) == [4]
  assert sorted(p.name for p in (tmp_path / 'checkpoints' / '4').rglob('*')) == before


def test_incompatible_resume_is_refused_and_touches_nothing(config, tmp_path):
  config.train.num_steps = 4
  train.train_and_evaluate(config, tmp_path)
  snapshot = {p: p.read_bytes() for p in tmp_path.rglob('*') if p.is_file()}
  config.model.g_features = (64, 16, 8)
  with pytest.raises(JaxganError, match=r'different architecture \(model.g_features'):
    train.train_and_evaluate(config, tmp_path)
  assert {p: p.read_bytes() for p in tmp_path.rglob('*') if p.is_file()} == snapshot


def test_unwritable_workdir_is_explained(config, tmp_path):
  (tmp_path / 'file').write_text('not a folder')
  with pytest.raises(JaxganError, match='is not writable'):
    train.train_and_evaluate(config, tmp_path / 'file' / 'run')
  assert (tmp_path / 'file').read_text() == 'not a folder'


@pytest.mark.parametrize('key, value', [('batch_size', 0), ('log_every', 0)])
def test_invalid_training_settings(config, tmp_path, key, value):
  config.train[key] = value
  with pytest.raises(JaxganError, match=f'train.{key} must be at least 1'):
    train.train_and_evaluate(config, tmp_path)


def _train_with_xlas_own_kernels(workdir):
  """configs/test.py from the command line, jaxgan's XLA defaults off; its final state."""
  env = {k: v for k, v in os.environ.items() if k not in ('XLA_FLAGS', xla_defaults.SWITCH)}
  env.update({'JAX_PLATFORMS': 'cpu', xla_defaults.SWITCH: '0'})
  proc = subprocess.run([sys.executable, '-m', 'jaxgan.main', '--config', 'configs/test.py',
                         '--workdir', str(workdir)], cwd=ROOT, capture_output=True, text=True,
                        timeout=600, env=env)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return sampling.load_run(workdir, 'latest').state


def test_a_workdir_written_before_the_module_split_resumes(tmp_path):
  workdir = tmp_path / 'old'
  shutil.copytree(OLD_WORKDIR, workdir)
  recorded = {r['step']: r for r in fingerprint.read(workdir)}
  restored = sampling.load_run(workdir, '6').state
  assert {**fingerprint.state_fingerprint(restored), 'step': 6} == recorded[6]

  # Resumed, and the uninterrupted run it is compared with, with XLA's own convolution
  # kernels, which the old run was written with: jaxgan's XLA default computes the same
  # steps to rounding, but this tiny G's BatchNorm gradients cancel to near zero in places,
  # where rounding flips an Adam step's sign.
  resumed = _train_with_xlas_own_kernels(workdir)
  assert int(resumed.step) == 8
  records = [json.loads(l) for l in (workdir / 'metrics.jsonl').read_text().splitlines()]
  assert [r['step'] for r in records] == [2, 4, 6, 8]
  assert [r['step'] for r in fingerprint.read(workdir)] == [3, 6, 8]
  # The old run's first 6 steps are today's: an uninterrupted run ends in the same state.
  # To rounding: those steps ran on another machine, and XLA:CPU's kernels differ in the
  # last bits between CPU models, which Adam (eps 1e-7) magnifies where a gradient is ~1e-8
  # (measured 3e-6 on an AMD EPYC).
  whole = _train_with_xlas_own_kernels(tmp_path / 'whole')
  for a, b in zip(_leaves(whole), _leaves(resumed)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-5)


def test_a_cpu_run_says_how_long_it_will_take_and_names_the_hint(config, tmp_path, caplog):
  config.train.cpu_hint = 'try configs/mnist_cpu.py'
  with caplog.at_level('INFO', logger='jaxgan'):
    train.train_and_evaluate(config, tmp_path)
  said = [r.getMessage() for r in caplog.records if 'on this CPU' in r.getMessage()]
  assert len(said) == 1   # once, at the second log line (step 4 of 8)
  assert said[0].startswith('on this CPU the 4 steps left take about ')
  assert said[0].endswith('steps/s); try configs/mnist_cpu.py')


def test_the_loss_plot_leaves_matplotlib_s_backend_alone(tmp_path):
  # A notebook that trains must still show its own plots afterwards.
  import matplotlib  # pylint: disable=g-import-not-at-top
  from jaxgan import visualize  # pylint: disable=g-import-not-at-top
  before = matplotlib.get_backend()
  matplotlib.use('svg')   # stands for the notebook's inline backend
  try:
    visualize.plot_losses([{'step': s, 'd_loss': 1.0, 'g_loss': 0.5, 'd_real': 0.6,
                            'd_fake': 0.4} for s in (1, 2)], tmp_path / 'losses.png')
    assert matplotlib.get_backend() == 'svg'
  finally:
    matplotlib.use(before)
  assert (tmp_path / 'losses.png').stat().st_size > 0
