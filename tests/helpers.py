"""Paths, config loading and the reproducibility command, shared by the tests."""
import os
import pathlib
import runpy
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED_MNIST = ROOT.parent / 'shared' / 'data' / 'mnist'


def load_config(name='test'):
  return runpy.run_path(str(ROOT / 'configs' / f'{name}.py'))['get_config']()


def repro(*args):
  """`python -m jaxgan.repro ARGS` on the CPU, its output captured."""
  return subprocess.run([sys.executable, '-m', 'jaxgan.repro', *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=900,
                        env=dict(os.environ, JAX_PLATFORMS='cpu'))


def resume_from_step_2(config, workdir, num_steps=8):
  """Trains `config` 2 steps in workdir/resumed, then resumes it to `num_steps`: the final state.

  Its last fingerprint must equal the uninterrupted run's in `workdir`.
  """
  from jaxgan import train   # imported here: helpers stay importable without JAX
  resumed = pathlib.Path(workdir) / 'resumed'
  config.train.num_steps = 2
  train.train_and_evaluate(config, resumed)
  config.train.num_steps = num_steps
  return resumed, train.train_and_evaluate(config, resumed)


def set_keys(config, changes):
  """Sets {'section.name': value, ...} in config."""
  for key, value in changes.items():
    section, name = key.split('.')
    config[section][name] = value
