"""Reproducibility: the harness, its failure on a non-deterministic run, fingerprints, populations."""
import json

import jax
import numpy as np

from helpers import ROOT, repro
from jaxgan import fingerprint
from jaxgan import metric_writers
from jaxgan import train


def test_harness_passes_on_the_test_config(tmp_path):
  proc = repro('--config', 'configs/test.py', '--interrupt-at', '5', '--workdir', str(tmp_path))
  assert proc.returncode == 0, proc.stderr
  report = json.loads(proc.stdout.strip().splitlines()[-1])
  assert report['identical'] and report['interrupt_at'] == 5 and report['steps'] == 8
  assert 'g_opt_state' in proc.stdout and ' NO' not in proc.stdout
  # Run c really was killed at step 5 and resumed: its fingerprints include step 5.
  assert [r['step'] for r in fingerprint.read(tmp_path / 'c')] == [4, 5, 8]
  # --compare agrees.
  same = repro('--compare', str(tmp_path / 'a'), str(tmp_path / 'c'))
  assert same.returncode == 0 and json.loads(same.stdout)['first_divergence'] is None


def test_harness_fails_on_a_seed_taken_from_the_clock(tmp_path):
  clocked = tmp_path / 'clock_seed.py'
  clocked.write_text(
      'import runpy, time\n'
      f'_test = runpy.run_path({str(ROOT / "configs/test.py")!r})\n'
      'def get_config():\n'
      '  config = _test["get_config"]()\n'
      '  config.seed = time.time_ns() % 1_000_003\n'
      '  return config\n')
  proc = repro('--config', str(clocked), '--interrupt-at', '4', '--workdir', str(tmp_path / 'runs'))
  assert proc.returncode == 1
  assert json.loads(proc.stdout.strip().splitlines()[-1])['identical'] is False
  assert ' NO' in proc.stdout
  diff = repro('--compare', str(tmp_path / 'runs' / 'a'), str(tmp_path / 'runs' / 'b'))
  assert diff.returncode == 1
  assert json.loads(diff.stdout)['first_divergence'] == 4


def test_bad_interrupt_step_is_one_error_line(tmp_path):
  proc = repro('--config', 'configs/test.py', '--interrupt-at', '8', '--workdir', str(tmp_path))
  assert proc.returncode == 1 and 'Traceback' not in proc.stderr
  assert proc.stderr.strip().splitlines()[-1].startswith('jaxgan: error: --interrupt-at must lie')


def test_harness_refuses_a_sweep_in_one_line(tmp_path):
  proc = repro('--config', 'configs/test.py', '--config.sweep=optimizer.b1=0.5,0.9',
               '--workdir', str(tmp_path))
  assert proc.returncode == 1 and 'Traceback' not in proc.stderr
  assert proc.stderr.strip().splitlines() == [
      'jaxgan: error: the harness checks one run: leave train.num_seeds at 1 and sweep empty '
      '(compare two members with --compare RUN_A RUN_B)']


def test_fingerprint_hash_sees_every_bit():
  tree = {'a': np.zeros(3, np.float32), 'b': np.ones((2, 2), np.float32)}
  flipped = {'a': np.array([0.0, -0.0, 0.0], np.float32), 'b': tree['b']}
  assert fingerprint.hash_tree(tree) == fingerprint.hash_tree(dict(tree))
  assert fingerprint.hash_tree(tree) != fingerprint.hash_tree(flipped)


def test_population_of_two_matches_two_solo_runs(config, tmp_path, caplog):
  """On CPU the members run one after another in the program: each is its seed's solo run,
  bit for bit. (Batched with vmap they agree to rounding: tests/test_sweep.py.)
  """
  config.train.num_seeds = 2
  with caplog.at_level('INFO', logger='jaxgan'):
    population = train.train_and_evaluate(config, tmp_path / 'pop')
  # The closing summary: each member's last value, then mean +/- sample standard deviation.
  last = [metric_writers.read_metrics(tmp_path / 'pop' / f'seed_{i}')[-1]['g_loss'] for i in (0, 1)]
  mean, std = np.mean(last), np.std(last, ddof=1)
  assert (f'final g_loss mean {mean:.4f} +/- {std:.4f} (0: {last[0]:.4f}, 1: {last[1]:.4f})'
          in caplog.text)
  config.train.num_seeds = 1
  worst = 0.0
  for i in range(2):
    config.seed = i
    solo = train.train_and_evaluate(config, tmp_path / f'solo{i}')
    member = jax.tree_util.tree_map(lambda x: x[i], population)
    for a, b in zip(jax.tree_util.tree_leaves(member), jax.tree_util.tree_leaves(solo)):
      worst = max(worst, float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b)))))
    saved = json.loads((tmp_path / 'pop' / f'seed_{i}' / 'config.json').read_text())
    assert saved['seed'] == i and saved['train']['num_seeds'] == 1
    assert (tmp_path / 'pop' / f'seed_{i}' / 'checkpoints' / '8').is_dir()
    assert (tmp_path / 'pop' / f'seed_{i}' / 'samples' / 'step_0000008.png').is_file()
  assert worst == 0.0
  # The two members are different GANs.
  g0, g1 = (jax.tree_util.tree_leaves(population.g_params)[0][i] for i in (0, 1))
  assert not np.array_equal(g0, g1)
