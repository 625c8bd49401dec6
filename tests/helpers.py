"""Paths and config loading shared by the tests."""
import pathlib
import runpy

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED_MNIST = ROOT.parent / 'shared' / 'data' / 'mnist'


def load_config(name='test'):
  return runpy.run_path(str(ROOT / 'configs' / f'{name}.py'))['get_config']()
