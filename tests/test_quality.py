"""Quality metrics against their definitions, and the evaluator on real digits."""
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from helpers import ROOT, load_config
from jaxgan import gan as gan_lib
from jaxgan import input_pipeline
from jaxgan import sampling
from jaxgan import train
from jaxgan.errors import JaxganError
from jaxgan.quality import evaluator as evaluator_lib
from jaxgan.quality import features
from jaxgan.quality import metrics


def _gaussian(rng, n, d, shift=0.0, scale=1.0):
  """n draws of one correlated Gaussian (the mixing matrix depends on d only)."""
  a = np.random.default_rng(d).normal(size=(d, d)) / np.sqrt(d)
  return rng.normal(size=(n, d)) @ a * scale + shift


def test_frechet_distance_matches_scipy_sqrtm():
  rng = np.random.default_rng(0)
  x, y = _gaussian(rng, 500, 16), _gaussian(rng, 400, 16, shift=0.5, scale=2.0)
  mu1, mu2 = x.mean(0), y.mean(0)
  c1, c2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
  covmean = scipy.linalg.sqrtm(c1 @ c2).real
  reference = np.sum((mu1 - mu2) ** 2) + np.trace(c1 + c2 - 2 * covmean)
  assert metrics.fid(x, y) == pytest.approx(reference, rel=1e-6)


def test_fid_is_zero_on_itself_and_symmetric():
  rng = np.random.default_rng(1)
  x, y = _gaussian(rng, 300, 8), _gaussian(rng, 300, 8, shift=1.0)
  assert abs(metrics.fid(x, x)) < 1e-8
  assert metrics.fid(x, y) == pytest.approx(metrics.fid(y, x), rel=1e-8)
  assert metrics.fid(x, y) > 1.0


def test_kid_is_near_zero_for_one_distribution_and_not_for_two():
  rng = np.random.default_rng(2)
  same = metrics.kid(_gaussian(rng, 1000, 32) * 30, _gaussian(rng, 1000, 32) * 30, subset_size=500)
  other = metrics.kid(_gaussian(rng, 1000, 32) * 30, _gaussian(rng, 1000, 32, shift=9.0) * 30,
                      subset_size=500)
  assert abs(same) < 0.01 and other > 0.1


def test_precision_and_recall():
  rng = np.random.default_rng(3)
  x = jnp.asarray(rng.normal(size=(200, 8)), jnp.float32)
  p, r = metrics.precision_recall(x, x)
  assert float(p) == 1.0 and float(r) == 1.0
  p, r = metrics.precision_recall(x, x + 100.0)
  assert float(p) == 0.0 and float(r) == 0.0
  # Fakes collapsed onto one real point: precise, but covering almost nothing.
  p, r = metrics.precision_recall(x, jnp.repeat(x[:1], 200, axis=0) + 1e-3)
  assert float(p) == 1.0 and float(r) < 0.1


def _kid_reference(a, b):
  """Unbiased MMD^2 with k(x, y) = (x.y/d + 1)^3, summed pair by pair, after kid's documented
  scaling (both sets divided by the RMS entry of `a`)."""
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  scale = np.sqrt(np.mean(a * a))
  a, b = a / scale, b / scale
  n, d = len(a), a.shape[1]
  k = lambda x, y: (float(np.dot(x, y)) / d + 1.0) ** 3
  xx = sum(k(a[i], a[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
  yy = sum(k(b[i], b[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
  xy = sum(k(a[i], b[j]) for i in range(n) for j in range(n)) / (n * n)
  return xx + yy - 2 * xy


@pytest.mark.parametrize('shift', [0.0, 0.7])
def test_kid_matches_a_pairwise_unbiased_mmd(shift):
  # One subset of all n points: kid's draw is then a permutation, which MMD^2 ignores.
  rng = np.random.default_rng(7)
  a, b = _gaussian(rng, 20, 5) * 30, _gaussian(rng, 20, 5, shift=shift) * 30
  reference = _kid_reference(a, b)
  assert metrics.kid(a, b, seed=5, num_subsets=1, subset_size=20) == pytest.approx(
      reference, rel=1e-5, abs=1e-9)
  # More subsets of all n points average the same value.
  assert metrics.kid(a, b, seed=5, num_subsets=3, subset_size=50) == pytest.approx(
      reference, rel=1e-5, abs=1e-9)


def _precision_recall_reference(real, fake, k=3):
  """k-NN manifolds by sorting: a point's radius is the squared distance to its k-th nearest
  other point of its own set; a sample is covered when it lies within (<=) some ball."""
  real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
  sq = lambda x, y: float(np.sum((x - y) ** 2))
  def radii(x):
    return [sorted(sq(x[i], x[j]) for j in range(len(x)) if j != i)[k - 1]
            for i in range(len(x))]
  def coverage(samples, centres):
    r = radii(centres)
    return np.mean([any(sq(s, c) <= r[j] for j, c in enumerate(centres)) for s in samples])
  return coverage(fake, real), coverage(real, fake)


def test_precision_and_recall_match_sorted_neighbour_balls():
  # Small integer coordinates: float32 distances are exact, so points lying exactly on a
  # ball's edge (and duplicate points) are common, and <= vs < or the k-th vs the (k-1)-th
  # neighbour change the counts.
  # (These points were chosen so that k = 2, k = 4 and < each change both figures.)
  rng = np.random.default_rng(2)
  real = rng.integers(0, 4, size=(20, 3))
  fake = rng.integers(0, 4, size=(22, 3)) + np.array([2, 1, 0])
  expected = _precision_recall_reference(real, fake)
  assert 0 < expected[0] < 1 and 0 < expected[1] < 1
  p, r = metrics.precision_recall(jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32))
  assert (float(p), float(r)) == pytest.approx(expected, rel=1e-5)
  p, r = metrics.precision_recall(jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32),
                                  k=3)
  assert (float(p), float(r)) == pytest.approx(expected, rel=1e-5)
  # Continuous points, no ties.
  rng = np.random.default_rng(12)
  x, y = _gaussian(rng, 20, 4), _gaussian(rng, 21, 4, shift=1.2, scale=1.3)
  expected = _precision_recall_reference(x, y)
  assert 0 < expected[0] < 1 and 0 < expected[1] < 1
  p, r = metrics.precision_recall(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32))
  assert (float(p), float(r)) == pytest.approx(expected, rel=1e-5)


def test_classifier_score_and_class_histogram():
  uniform = jax.nn.one_hot(jnp.arange(100) % 10, 10)
  collapsed = jax.nn.one_hot(jnp.zeros(100, jnp.int32), 10)
  assert float(metrics.classifier_score(uniform)) == pytest.approx(10.0, rel=1e-4)
  assert float(metrics.classifier_score(collapsed)) == pytest.approx(1.0, rel=1e-4)
  counts, tv = metrics.class_histogram(uniform)
  assert counts.tolist() == [10] * 10 and float(tv) == pytest.approx(0.0, abs=1e-6)
  assert float(metrics.class_histogram(collapsed)[1]) == pytest.approx(0.9)


@pytest.fixture(scope='module')
def cache_dir(tmp_path_factory):
  return tmp_path_factory.mktemp('cache')


@pytest.fixture(scope='module')
def mnist_eval_config(cache_dir):
  config = load_config('mnist')
  config.data.source = 'idx'
  config.data.path = str(input_pipeline.BUNDLED_MNIST_DIR)
  config.data.split = 't10k'
  config.data.cache_dir = str(cache_dir)
  config.eval.num_samples = 1000
  return config


@pytest.fixture(scope='module')
def evaluator(mnist_eval_config):
  return evaluator_lib.Evaluator(mnist_eval_config, input_pipeline.load_dataset(mnist_eval_config.data))


def test_classifier_meets_the_accuracy_bar_on_held_out_real_digits(evaluator):
  info = evaluator.classifier_info
  assert info['heldout_images'] == 2000 and info['train_images'] == 8000
  assert info['heldout_accuracy'] >= 0.97


def test_real_digits_score_at_the_floor_and_noise_far_above(evaluator):
  images = input_pipeline.load_bundled_mnist().images
  perm = features.fixed_permutation(len(images))
  real = input_pipeline.to_pixels(jnp.asarray(images[perm[2000:3000]]))  # unused by reference/floor
  m = evaluator.score(real)
  assert m['fid'] < 2 * m['fid_floor'] + 1.0
  assert abs(m['kid']) < 0.01 and m['precision'] > 0.8 and m['recall'] > 0.8
  assert m['classifier_score'] > 8.5
  noise = jax.random.uniform(jax.random.PRNGKey(0), (1000, 28, 28, 1), minval=-1, maxval=1)
  n = evaluator.score(noise)
  # Noise covers none of the real digits. (Its precision is not near 0: a few real
  # outliers have k-NN balls wide enough to take in the noise cluster, a known
  # weakness of k-NN precision.)
  assert n['fid'] > 20 * m['fid_floor'] and n['recall'] < 0.05


def test_score_reports_label_accuracy_for_the_asked_labels(evaluator):
  """Real digits asked for as their own labels read back ~98%; asked for shifted labels, ~0%."""
  data = input_pipeline.load_bundled_mnist()
  perm = features.fixed_permutation(len(data.images))[2000:3000]
  real = input_pipeline.to_pixels(jnp.asarray(data.images[perm]))
  right = evaluator.score(real, data.labels[perm])
  wrong = evaluator.score(real, (data.labels[perm] + 1) % 10)
  assert right['label_accuracy'] > 0.95 and wrong['label_accuracy'] < 0.05
  assert 'label_accuracy' not in evaluator.score(real)


def test_untrained_generator_scores_far_above_the_floor(evaluator, mnist_eval_config):
  gan = gan_lib.make_gan(mnist_eval_config)
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  draw = sampling.Drawer(gan, 'running').bind(state, 0)
  pixels, labels = sampling.generate(draw, gan, 1000, jax.random.PRNGKey(1))
  assert labels is None and pixels.shape == (1000, 28, 28, 1)
  m = evaluator.score(pixels)
  assert m['fid'] > 20 * m['fid_floor']


def _evaluate_cli(*args):
  return subprocess.run([sys.executable, '-m', 'jaxgan.evaluate', *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=900,
                        env=dict(os.environ, JAX_PLATFORMS='cpu'))


def test_cli_scores_samples_from_any_system(evaluator, cache_dir, tmp_path):
  images = input_pipeline.load_bundled_mnist().images
  perm = features.fixed_permutation(len(images))
  np.savez(tmp_path / 'real.npz', images=images[perm[2000:3000], :, :, 0])   # uint8 N x 28 x 28
  np.savez(tmp_path / 'noise.npz', np.random.default_rng(0).uniform(-1, 1, (1000, 28, 28, 1)))
  np.savez(tmp_path / 'bad.npz', images=np.zeros((1000, 28, 28), np.int16))
  args = ['--config', 'configs/mnist.py', '--config.data.source=idx',
          f'--config.data.path={input_pipeline.BUNDLED_MNIST_DIR}', '--config.data.split=t10k',
          f'--config.data.cache_dir={cache_dir}', '--config.eval.num_samples=1000']
  real = _evaluate_cli('--samples', str(tmp_path / 'real.npz'), *args)
  noise = _evaluate_cli('--samples', str(tmp_path / 'noise.npz'), *args)
  assert real.returncode == 0 and noise.returncode == 0, real.stderr + noise.stderr
  real, noise = json.loads(real.stdout), json.loads(noise.stdout)
  assert real['fid'] < 2 * real['fid_floor'] + 1.0 < noise['fid'] / 10
  bad = _evaluate_cli('--samples', str(tmp_path / 'bad.npz'), *args)
  assert bad.returncode == 1
  assert bad.stderr.strip().splitlines()[-1].startswith('jaxgan: error:') and 'int16' in bad.stderr


def test_float_samples_outside_the_pixel_range_are_rejected(tmp_path):
  np.savez(tmp_path / 's.npz', np.full((4, 28, 28, 1), 3.0))
  with pytest.raises(JaxganError, match=r'\[-1, 1\]'):
    evaluator_lib.load_samples(tmp_path / 's.npz')


def test_training_logs_quality_and_keeps_the_best_checkpoint(config, tmp_path):
  config.eval.enabled = True
  config.data.cache_dir = str(tmp_path / 'cache')
  train.train_and_evaluate(config, tmp_path / 'run')
  records = [json.loads(l) for l in (tmp_path / 'run' / 'metrics.jsonl').read_text().splitlines()]
  evals = [r for r in records if 'fid' in r]
  assert [r['step'] for r in evals] == [4, 8]
  assert all(r['fid'] > r['fid_floor'] >= 0 for r in evals)
  best_step = min(evals, key=lambda r: r['fid'])['step']
  assert [p.name for p in (tmp_path / 'run' / 'checkpoints_best').iterdir()
          if p.name.isdigit()] == [str(best_step)]
  out = _evaluate_cli('--workdir', str(tmp_path / 'run'), '--checkpoint', 'best')
  assert out.returncode == 0, out.stderr
  result = json.loads(out.stdout)
  assert result['step'] == best_step and result['fid'] == pytest.approx(
      min(r['fid'] for r in evals), rel=1e-4)
  missing = _evaluate_cli('--workdir', str(tmp_path / 'run'), '--checkpoint', '3')
  assert missing.returncode == 1 and 'no checkpoint at step 3' in missing.stderr


def test_label_accuracy_counts_samples_read_as_the_asked_label():
  probs = jax.nn.one_hot(jnp.array([3, 1, 4, 1]), 10)
  assert float(metrics.label_accuracy(jnp.array([3, 1, 4, 1]), probs)) == 1.0
  assert float(metrics.label_accuracy(jnp.array([3, 0, 4, 0]), probs)) == 0.5
