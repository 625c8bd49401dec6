import pytest

import jaxgan  # noqa: F401  (sets its XLA defaults before any test starts JAX)

from helpers import SHARED_MNIST, load_config


@pytest.fixture
def config():
  return load_config('test')


@pytest.fixture
def shared_mnist():
  if not (SHARED_MNIST / 't10k-images-idx3-ubyte.gz').is_file():
    pytest.skip(f'real MNIST test files not present at {SHARED_MNIST}')
  return SHARED_MNIST
