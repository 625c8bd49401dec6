"""A built wheel carries the bundled digits and works outside the repository."""
import os
import subprocess
import sys


from helpers import ROOT



def test_wheel_contains_and_loads_the_bundled_digits(tmp_path):
  dist, site = tmp_path / 'dist', tmp_path / 'site'
  subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
                  '-q', '-w', str(dist), str(ROOT)], check=True)
  (wheel,) = dist.glob('jaxgan-*.whl')
  subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q', '--target', str(site),
                  str(wheel)], check=True)
  elsewhere = tmp_path / 'elsewhere'
  elsewhere.mkdir()
  script = ('import jaxgan, jaxgan.input_pipeline as ip, sys; '
            'ds = ip.load_bundled_mnist(); '
            'print(jaxgan.__file__); print(ds.images.shape, ds.labels[:3].tolist()); '
            "print('tensorflow' in sys.modules)")
  out = subprocess.run([sys.executable, '-c', script], cwd=elsewhere, check=True,
                       capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(site))).stdout.splitlines()
  assert out[0].startswith(str(site))
  assert out[1] == '(10000, 28, 28, 1) [7, 2, 1]'
  assert out[2] == 'False'   # the IDX path never imports TensorFlow


def test_training_path_does_not_import_tensorflow():
  script = ('import sys, jaxgan.train, jaxgan.main, jaxgan.input_pipeline as ip; '
            'ip.load_idx(sys.argv[1], "t10k"); '
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tensorflow_datasets')))")
  out = subprocess.run([sys.executable, '-c', script, str(ROOT / 'tests/data/mnist_sample')],
                       check=True, capture_output=True, text=True).stdout
  assert out.strip() == '[]'
