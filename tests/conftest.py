import pathlib
import runpy

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED_MNIST = ROOT.parent / 'shared' / 'data' / 'mnist'


def load_config(name='test'):
  return runpy.run_path(str(ROOT / 'configs' / f'{name}.py'))['get_config']()


@pytest.fixture
def config():
  return load_config('test')


@pytest.fixture
def shared_mnist():
  if not (SHARED_MNIST / 't10k-images-idx3-ubyte.gz').is_file():
    pytest.skip(f'real MNIST test files not present at {SHARED_MNIST}')
  return SHARED_MNIST
