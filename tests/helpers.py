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
