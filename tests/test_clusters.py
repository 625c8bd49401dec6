"""Self-conditioning (model.clusters): k-means clusters of the training images condition G and
D as labels would; G draws the clusters as often as the data hold them."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from helpers import resume_from_step_2, set_keys
from jaxgan import clusters
from jaxgan import fingerprint
from jaxgan import gan as gan_lib
from jaxgan import input_pipeline
from jaxgan import sample
from jaxgan import sampling
from jaxgan import train
from jaxgan.errors import ConfigError, JaxganError


def _nearest(x, centroids):
  """Each row's nearest centroid, by NumPy."""
  return ((x[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)


def _blobs():
  """Three tight, far-apart blobs in 2-D: (points, blob of each point)."""
  rng = np.random.default_rng(0)
  centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
  truth = np.repeat(np.arange(3), [20, 30, 50])
  return (centres[truth] + rng.normal(0, 0.3, (100, 2))).astype(np.float32), truth


def test_kmeans_finds_separated_blobs_and_their_means():
  x, truth = _blobs()
  centroids = np.asarray(clusters.kmeans(jnp.asarray(x), 3, jax.random.PRNGKey(1)))
  found = _nearest(x, centroids)
  # The same partition up to the clusters' names...
  assert len({(int(t), int(f)) for t, f in zip(truth, found)}) == 3 and len(set(found)) == 3
  # ...and each centroid the mean of its points.
  for j in range(3):
    np.testing.assert_allclose(centroids[j], x[found == j].mean(0), atol=1e-5)


def test_kmeans_ends_at_a_fixed_point_of_lloyds_steps_and_is_deterministic():
  x = np.random.default_rng(1).normal(size=(300, 5)).astype(np.float32)
  key = jax.random.PRNGKey(2)
  centroids = np.asarray(clusters.kmeans(jnp.asarray(x), 4, key, iterations=100))
  found = _nearest(x, centroids)
  for j in range(4):
    np.testing.assert_allclose(centroids[j], x[found == j].mean(0), atol=1e-5)
  np.testing.assert_array_equal(centroids, clusters.kmeans(jnp.asarray(x), 4, key, 100))


def _dataset(config):
  return input_pipeline.load_dataset(config.data)


def test_self_condition_labels_the_images_by_cluster_and_records_the_sizes(config):
  config.model.clusters = 3
  full = _dataset(config)
  dataset, heldout = input_pipeline.split_heldout(full, 50)
  out, held, derived = clusters.self_condition(config, dataset, heldout)
  np.testing.assert_array_equal(out.images, dataset.images)
  assert out.num_classes == 3 and set(np.unique(out.labels)) == {0, 1, 2}
  assert list(derived.model.cluster_counts) == np.bincount(out.labels, minlength=3).tolist()
  assert min(derived.model.cluster_counts) > 0
  assert sum(derived.model.cluster_counts) == len(dataset.images)
  # Each image is in the cluster of its nearest centroid, those of k-means on the training
  # images with the seed's stream; held-out images too.
  centroids, _ = clusters.fit(dataset.images, 3, gan_lib.rngs(config.seed)['clusters'])
  pixels = lambda ds: np.asarray(input_pipeline.to_pixels(jnp.asarray(ds.images))).reshape(
      len(ds.images), -1)
  np.testing.assert_array_equal(out.labels, _nearest(pixels(dataset), np.asarray(centroids)))
  np.testing.assert_array_equal(held.labels, _nearest(pixels(heldout), np.asarray(centroids)))
  # Without clusters nothing changes.
  config.model.clusters = 0
  assert clusters.self_condition(config, dataset, heldout) == (dataset, heldout, config)


def test_a_self_conditioned_gan_draws_clusters_as_often_as_the_data_hold_them(config):
  config.model.clusters = 3
  config.model.cluster_counts = (100, 300, 600)
  gan = gan_lib.make_gan(config)
  assert gan.num_classes == 3
  labels = np.asarray(sampling.cycled_labels(gan, 1000))
  assert np.abs(np.bincount(labels, minlength=3) - [100, 300, 600]).max() <= 2
  assert len(set(labels[:5].tolist())) >= 2   # interleaved, not in blocks
  # They are clusters, not classes: no label accuracy is asked for.
  draw = lambda z, y: jnp.zeros((len(z), 28, 28, 1))
  _, asked = sampling.generate(draw, gan, 20, jax.random.PRNGKey(0), batch_size=10)
  assert asked is None
  # A conditional model is still asked for every class in turn.
  config.model.clusters = 0
  config.model.conditional = True
  assert sampling.cycled_labels(gan_lib.make_gan(config), 5).tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize('changes, message', [
    ({'model.clusters': 1}, 'model.clusters must be 0 .off. or at least 2'),
    ({'model.clusters': 3, 'model.conditional': True}, 'in place of labels'),
    ({'model.clusters': 3, 'gan.latent_codes': 4}, 'choose one'),
])
def test_bad_cluster_settings_are_one_clear_error(config, changes, message):
  set_keys(config, changes)
  with pytest.raises(ConfigError, match=message):
    gan_lib.make_gan(config)


def test_more_clusters_than_images_is_one_clear_error(config):
  config.model.clusters = 10_000
  with pytest.raises(ConfigError, match='more than the'):
    clusters.self_condition(config, _dataset(config), None)


def test_a_self_conditioned_run_trains_on_its_clusters_resumes_bit_exactly_and_samples(
    config, tmp_path):
  config.model.clusters = 3
  config.train.num_samples = 6
  config.train.checkpoint_steps = (2,)
  train.train_and_evaluate(config, tmp_path)
  saved = json.loads((tmp_path / 'config.json').read_text())
  assert saved['model']['clusters'] == 3 and sum(saved['model']['cluster_counts']) == len(
      _dataset(config).images)
  # One grid row per cluster, 2 latents each.
  grid = np.asarray(Image.open(tmp_path / 'samples' / 'step_0000008.png'))
  assert grid.shape[:2] == ((3 * 30 + 2) * 4, (2 * 30 + 2) * 4)
  resumed, final = resume_from_step_2(config, tmp_path)
  assert fingerprint.read(resumed)[-1] == fingerprint.read(tmp_path)[-1]
  assert int(final.step) == 8
  run = sampling.load_run(tmp_path)
  assert run.conditional and run.gan.cluster_counts == tuple(saved['model']['cluster_counts'])
  assert sample.produce(tmp_path, 'latest', 6, 2, 0, None, tmp_path / 'two.png') == (6, 28, 28, 1)
  with pytest.raises(JaxganError, match=r"--label must be in 0..2 \(the model's clusters\)"):
    sample.produce(tmp_path, 'latest', 6, 3, 0, None, tmp_path / 'x.png')
  # A resume on clusters other than the run's is refused: as k-means would find them on
  # other arithmetic (the record differs), or another number of them.
  config.train.num_steps = 10
  path = tmp_path / 'config.json'
  record = json.loads(path.read_text())
  record['model']['cluster_digest'] = '0' * 16
  path.write_text(json.dumps(record))
  with pytest.raises(JaxganError, match='trained on other clusters than k-means finds now'):
    train.train_and_evaluate(config, tmp_path)
  config.model.clusters = 4
  with pytest.raises(JaxganError, match=r'different architecture \(model.cluster_counts'):
    train.train_and_evaluate(config, tmp_path)


def test_a_run_saved_before_clusters_existed_resumes(config, tmp_path):
  config.train.num_steps = 2
  train.train_and_evaluate(config, tmp_path)
  path = tmp_path / 'config.json'
  record = json.loads(path.read_text())
  del record['model']['clusters']
  path.write_text(json.dumps(record))
  config.train.num_steps = 4
  assert int(train.train_and_evaluate(config, tmp_path).step) == 4


def test_cluster_sizes_that_do_not_fit_the_clusters_are_one_clear_error(config):
  config.model.clusters = 3
  assert gan_lib.make_gan(config).cluster_counts == (1, 1, 1)   # before the trainer set them
  config.model.cluster_counts = (5, 5)
  with pytest.raises(ConfigError, match='does not fit model.clusters=3'):
    gan_lib.make_gan(config)


def test_bad_cluster_settings_are_refused_before_the_workdir_is_made(config, tmp_path):
  config.model.clusters = 1
  with pytest.raises(ConfigError, match='model.clusters must be 0'):
    train.train_and_evaluate(config, tmp_path / 'run')
  assert not (tmp_path / 'run').exists()


def test_a_run_trained_without_clusters_is_told_the_flag_that_resumes_it(config, tmp_path):
  """A recipe file that took clusters after a run started: the refusal names the way back."""
  config.train.num_steps = 2
  train.train_and_evaluate(config, tmp_path)
  config.train.num_steps = 4
  config.model.clusters = 3
  with pytest.raises(JaxganError, match=r'model.clusters: 0 -> 3\); resume it with its own '
                                        r'settings \(--config.model.clusters=0\)'):
    train.train_and_evaluate(config, tmp_path)
  config.model.clusters = 0
  assert int(train.train_and_evaluate(config, tmp_path).step) == 4


def test_a_population_trains_every_member_on_the_clusters_of_its_seed(config, tmp_path):
  """Member 0 is the solo run of the population's seed bit for bit; member 1 trains on those
  clusters, not on its own seed's, so resuming it alone as seed 1 is refused with the reason."""
  config.model.clusters = 5
  config.train.num_steps = 4
  config.train.members_as = 'loop'
  solo = train.train_and_evaluate(config, tmp_path / 'solo')
  config.train.num_seeds = 2
  population = train.train_and_evaluate(config, tmp_path / 'pop')
  leaves = lambda state, i=None: [np.asarray(x if i is None else x[i])
                                  for x in jax.tree_util.tree_leaves(state.g_params)]
  assert all(np.array_equal(a, b) for a, b in zip(leaves(population, 0), leaves(solo)))
  assert not all(np.array_equal(a, b) for a, b in zip(leaves(population, 1), leaves(solo)))
  record = lambda path: json.loads((path / 'config.json').read_text())['model']
  members = [record(tmp_path / 'pop' / f'seed_{i}') for i in range(2)]
  assert members[1]['cluster_digest'] == members[0]['cluster_digest'] == record(
      tmp_path / 'solo')['cluster_digest']
  # Seed 1's own k-means finds other clusters on these images.
  alone = config.copy_and_resolve_references()
  alone.train.num_seeds, alone.seed, alone.train.num_steps = 1, 1, 6
  _, _, own = clusters.self_condition(alone, _dataset(alone), None)
  assert own.model.cluster_digest != members[1]['cluster_digest']
  with pytest.raises(JaxganError, match='a member of a population resumed alone'):
    train.train_and_evaluate(alone, tmp_path / 'pop' / 'seed_1')
