"""jaxgan.sample and the exploration API the notebooks use."""
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
from PIL import Image

from helpers import ROOT
from helpers import load_config
from jaxgan import gan as gan_lib
from jaxgan import input_pipeline
from jaxgan import sampling
from jaxgan import train
from jaxgan.quality import evaluator as evaluator_lib


def _trained_config():
  config = load_config('test')
  # G's weight average on, and a learning rate at which 8 steps move G visibly: samples from
  # the raw weights, or from an older checkpoint, differ from the right ones by several levels.
  config.gan.ema_decay = 0.5
  config.optimizer.g_learning_rate = 5e-3
  # Drawn with the saved running statistics, so G applied by hand to the checkpoint is the
  # reference (tests/test_inference_modes.py checks the other ways).
  config.eval.batch_norm = 'running'
  return config


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('run')
  train.train_and_evaluate(_trained_config(), workdir)
  return workdir


def _sample(*args):
  return subprocess.run([sys.executable, '-m', 'jaxgan.sample', *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=600,
                        env=dict(os.environ, JAX_PLATFORMS='cpu'))


def test_png_npz_and_gif(trained, tmp_path):
  for name, extra in (('g.png', ['--num', '16']), ('s.npz', ['--num', '10']),
                      ('walk.gif', ['--interpolate', '5'])):
    proc = _sample('--workdir', str(trained), '--out', str(tmp_path / name), *extra)
    assert proc.returncode == 0, proc.stderr
  grid = Image.open(tmp_path / 'g.png')
  assert grid.size == ((4 * 30 + 2) * 4, (4 * 30 + 2) * 4)   # 4x4 tiles of 28+2 px, scaled 4x
  with np.load(tmp_path / 's.npz') as f:
    images = f['images']
  assert images.shape == (10, 28, 28, 1) and images.dtype == np.uint8
  assert evaluator_lib.load_samples(tmp_path / 's.npz').shape == (10, 28, 28, 1)
  gif = Image.open(tmp_path / 'walk.gif')
  assert gif.n_frames == 4 * 5


def _latest_checkpoint(workdir):
  """(step, saved state as a dict) of the newest checkpoint, read by Orbax without a template:
  independent of load_run and of the TrainState it restores into."""
  step = max(int(p.name) for p in (workdir / 'checkpoints').iterdir() if p.name.isdigit())
  path = (workdir / 'checkpoints' / str(step) / 'default').absolute()
  return step, ocp.StandardCheckpointer().restore(path)


def test_samples_are_the_checkpoints_generator(trained, tmp_path):
  run = sampling.load_run(trained, 'latest')
  a = sampling.sample(run, num=4, seed=3)
  b = sampling.sample(run, num=4, seed=3)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, sampling.sample(run, num=4, seed=4))

  # G applied by hand to the newest checkpoint's weight average and running statistics.
  step, saved = _latest_checkpoint(trained)
  assert step == 8 and int(saved['step']) == 8
  z = jax.random.normal(jax.random.PRNGKey(3), (4, run.gan.latent_dim))
  np.testing.assert_array_equal(sampling.latents(run, 4, seed=3), z)
  generator = gan_lib.make_gan(_trained_config()).generator
  apply = lambda params: np.asarray(generator.apply(
      {'params': params, 'batch_stats': saved['g_batch_stats']}, z, train=False))
  expected = apply(saved['ema_g_params'])
  # The raw weights draw visibly different images, so the comparisons below tell them apart.
  assert np.abs(apply(saved['g_params']) - expected).max() > 0.03
  np.testing.assert_allclose(a, expected, rtol=1e-5, atol=1e-5)

  proc = _sample('--workdir', str(trained), '--out', str(tmp_path / 's.npz'), '--num', '4',
                 '--seed', '3')
  assert proc.returncode == 0, proc.stderr
  with np.load(tmp_path / 's.npz') as f:
    written = f['images'].astype(int)
  # uint8 rounding of values computed by a differently compiled G may differ by one level.
  want = input_pipeline.to_uint8(jnp.asarray(expected)).astype(int)
  assert np.abs(written - want).max() <= 1 and np.mean(written == want) > 0.99
  assert int(run.state.step) == 8


def test_errors_leave_existing_files_alone(trained, tmp_path):
  out = tmp_path / 'keep.png'
  out.write_bytes(b'precious')
  for args, message in ((['--label', '7'], 'unconditional model'),
                        (['--checkpoint', '5'], 'no checkpoint at step 5'),
                        (['--checkpoint', 'best'], 'no best checkpoint')):
    proc = _sample('--workdir', str(trained), '--out', str(out), *args)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
  assert out.read_bytes() == b'precious'
  proc = _sample('--workdir', str(trained), '--out', str(tmp_path / 'x.jpg'))
  assert proc.returncode == 1 and '.png, .npz or .gif' in proc.stderr
  proc = _sample('--workdir', str(tmp_path / 'nothing'), '--out', str(tmp_path / 'x.png'))
  assert proc.returncode == 1 and 'holds no run' in proc.stderr


@pytest.fixture(scope='module')
def trained_cgan(tmp_path_factory):
  config = load_config('test')
  config.model.conditional = True
  workdir = tmp_path_factory.mktemp('cgan')
  train.train_and_evaluate(config, workdir)
  return workdir


def test_conditional_model_draws_the_requested_digit(trained_cgan, tmp_path):
  run = sampling.load_run(trained_cgan)
  assert run.conditional
  z = sampling.latents(run, 3)
  for label in (0, 7):
    # sample(label=L) is G(z, L) for every latent.
    np.testing.assert_array_equal(sampling.sample(run, 3, label=label),
                                  sampling.generate_from(run, z, jnp.full(3, label)))
  assert not np.allclose(sampling.sample(run, 3, label=0), sampling.sample(run, 3, label=7))
  proc = _sample('--workdir', str(trained_cgan), '--out', str(tmp_path / 's.npz'), '--num', '5',
                 '--label', '7')
  assert proc.returncode == 0, proc.stderr
  with np.load(tmp_path / 's.npz') as f:
    np.testing.assert_array_equal(
        f['images'], input_pipeline.to_uint8(sampling.sample(run, 5, label=7)))


def test_conditional_png_has_one_row_per_digit(trained_cgan, tmp_path):
  proc = _sample('--workdir', str(trained_cgan), '--out', str(tmp_path / 'g.png'), '--num', '30')
  assert proc.returncode == 0, proc.stderr
  assert Image.open(tmp_path / 'g.png').size == ((3 * 30 + 2) * 4, (10 * 30 + 2) * 4)
  images, cols = sampling.class_grid(sampling.load_run(trained_cgan), per_class=3)
  assert cols == 3 and images.shape == (30, 28, 28, 1)


def test_out_of_range_label_is_an_error(trained_cgan, tmp_path):
  out = tmp_path / 'keep.png'
  out.write_bytes(b'precious')
  proc = _sample('--workdir', str(trained_cgan), '--out', str(out), '--label', '10')
  assert proc.returncode == 1 and 'label must be in 0..9' in proc.stderr, proc.stderr
  assert out.read_bytes() == b'precious'


def test_slerp_stays_on_the_sphere():
  z0, z1 = jnp.array([3.0, 0.0]), jnp.array([0.0, 3.0])
  path = sampling.slerp(z0, z1, jnp.linspace(0, 1, 5))
  np.testing.assert_allclose(path[0], z0, atol=1e-6)
  np.testing.assert_allclose(path[-1], z1, atol=1e-6)
  np.testing.assert_allclose(jnp.linalg.norm(path, axis=1), 3.0, rtol=1e-6)
  # Parallel endpoints fall back to the straight line.
  np.testing.assert_allclose(sampling.slerp(z0, 2 * z0, jnp.array([0.5]))[0], 1.5 * z0, rtol=1e-6)


def test_nearest_real_finds_the_image_itself():
  real = input_pipeline.load_idx(str(ROOT / 'tests/data/mnist_sample'), 't10k').images
  query = input_pipeline.to_pixels(jnp.asarray(real[[5, 300, 17]]))
  idx, dist = sampling.nearest_real(query, real, chunk=100)
  assert idx.tolist() == [5, 300, 17]
  np.testing.assert_allclose(dist, 0.0, atol=0.05)   # float32 |q|^2+|r|^2-2qr; real gaps are ~10
