"""Any image data: folders, .npz, colour tfds sets, and models built for their shape."""
import importlib.util
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from helpers import ROOT, load_config
from jaxgan import defaults
from jaxgan import gan as gan_lib
from jaxgan import image_files
from jaxgan import input_pipeline
from jaxgan import sampling
from jaxgan import train
from jaxgan.errors import ConfigError, JaxganError
from jaxgan.quality import evaluator as evaluator_lib
from jaxgan.quality import features

FASHION_MNIST = pathlib.Path('/usr/share/datasets/fashion-mnist')
RED, BLUE = (220, 30, 30), (30, 30, 220)


def _load_shapes_module():
  spec = importlib.util.spec_from_file_location(
      'synthetic_shapes', ROOT / 'benchmarks' / 'synthetic_shapes.py')
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


synthetic_shapes = _load_shapes_module()


def _write_folder(root, labelled=True, per_class=40):
  """Red discs and blue squares, 40x48 (resized and cropped by the loader)."""
  return synthetic_shapes.write_folder(
      root, {'red_discs': ('disc', RED), 'blue_squares': ('square', BLUE)}, per_class,
      labelled=labelled)


@pytest.fixture(scope='module')
def shapes_folder(tmp_path_factory):
  return _write_folder(tmp_path_factory.mktemp('shapes'))


def _folder_config(config, path, size, **data):
  config.data.source = 'folder'
  config.data.path = str(path)
  config.data.image_size = size
  for key, value in data.items():
    config.data[key] = value
  # G doubles 4x4 once per width: three for 32x32, four for 64x64.
  config.model.g_features = (32, 16, 8) if size == 32 else (32, 16, 8, 8)
  return config


def _channel_means(images):
  return images.reshape(-1, images.shape[-1]).astype(np.float64).mean(0)


def test_a_folder_s_sub_folders_are_its_classes(config, shapes_folder):
  ds = input_pipeline.load_dataset(_folder_config(config, shapes_folder, 32).data)
  assert ds.images.shape == (80, 32, 32, 3) and ds.images.dtype == np.uint8
  assert ds.num_classes == 2
  # Sorted class names: 'blue_squares' is 0, 'red_discs' is 1.
  np.testing.assert_array_equal(ds.labels, [0] * 40 + [1] * 40)
  blue, red = _channel_means(ds.images[:40]), _channel_means(ds.images[40:])
  assert blue[2] > 1.5 * blue[0] and red[0] > 1.5 * red[2]
  # The models are built for the data: its shape, and a conditional model its 2 classes.
  config.model.conditional = True
  built = input_pipeline.with_data_shape(config, ds)
  assert tuple(built.model.image_shape) == (32, 32, 3) and built.model.num_classes == 2
  assert config.model.num_classes == 10   # the caller's config is left as it was
  grey = input_pipeline.load_dataset(_folder_config(config, shapes_folder, 32,
                                                    grayscale=True).data)
  assert grey.images.shape == (80, 32, 32, 1)
  # Pillow's luma of the noisy red picture, within rounding of the RGB read.
  expected = image_files.to_grayscale(ds.images[40:41])
  assert np.abs(grey.images[40:41].astype(int) - expected).mean() < 1.0


def test_a_folder_without_sub_folders_is_unlabelled(config, tmp_path):
  folder = _write_folder(tmp_path / 'flat', labelled=False, per_class=5)
  ds = input_pipeline.load_dataset(_folder_config(config, folder, 32).data)
  assert ds.images.shape == (10, 32, 32, 3) and ds.num_classes == 0
  assert not ds.labels.any()
  config.model.conditional = True
  with pytest.raises(ConfigError, match='conditional model needs labelled data'):
    input_pipeline.with_data_shape(config, ds)


def test_resize_scales_the_shorter_side_and_crops_the_centre():
  # 64 wide, 32 high: the left and right eighths green, the middle red. Scaled
  # to 32x16, the centre 16x16 square is the original's columns 16..48: all red.
  image = np.zeros((32, 64, 3), np.uint8)
  image[:, 8:56, 0] = 255
  image[:, :8, 1] = image[:, 56:, 1] = 255
  fitted = image_files.resize_all(image[None], 16)
  assert fitted.shape == (1, 16, 16, 3)
  assert fitted[..., 1].max() < 3 and fitted[..., 0].min() > 252


def test_bad_files_are_named_or_skipped_with_a_count(config, tmp_path, caplog):
  folder = _write_folder(tmp_path / 'data', per_class=3)
  broken = folder / 'red_discs' / 'broken.png'
  broken.write_bytes(b'\x89PNG\r\n\x1a\n' + b'\x00' * 20)
  _folder_config(config, folder, 32)
  with pytest.raises(JaxganError, match=r'broken.png cannot be read.*skip_bad_files=True'):
    input_pipeline.load_dataset(config.data)
  config.data.skip_bad_files = True
  ds = input_pipeline.load_dataset(config.data)
  assert len(ds.images) == 6
  assert any('1 of 7 image files' in r.getMessage() for r in caplog.records)
  broken.unlink()
  Image.new('L', (40, 48), 128).save(folder / 'red_discs' / 'grey.png')
  config.data.skip_bad_files = False
  with pytest.raises(JaxganError, match='grey.png is greyscale but .* is colour'):
    input_pipeline.load_dataset(config.data)
  config.data.grayscale = True
  assert input_pipeline.load_dataset(config.data).images.shape == (7, 32, 32, 1)
  config.data.grayscale = False
  config.data.image_size = 0
  (folder / 'red_discs' / 'grey.png').unlink()
  Image.new('RGB', (20, 20)).save(folder / 'red_discs' / 'small.png')
  with pytest.raises(JaxganError, match='small.png is 20x20 but .* is 40x48.*image_size'):
    input_pipeline.load_dataset(config.data)


def test_sixteen_bit_pictures_are_scaled_and_hidden_files_ignored(config, tmp_path):
  folder = tmp_path / 'deep'
  folder.mkdir()
  ramp = (np.arange(32 * 32).reshape(32, 32) * 64).astype(np.uint16)   # 0 .. 65472
  Image.fromarray(ramp).save(folder / 'ramp.png')
  (folder / '._ramp.png').write_bytes(b'\x00\x05\x16\x07 AppleDouble')
  (folder / '__MACOSX').mkdir()
  Image.fromarray(ramp).save(folder / '__MACOSX' / 'ramp.png')
  ds = input_pipeline.load_dataset(_folder_config(config, folder, 0).data)
  assert ds.images.shape == (1, 32, 32, 1) and ds.num_classes == 0
  np.testing.assert_array_equal(ds.images[0, ..., 0], np.round(ramp / 257.0).astype(np.uint8))


def test_an_empty_class_folder_is_named(config, tmp_path):
  folder = _write_folder(tmp_path / 'data', per_class=2)
  (folder / 'green_rings').mkdir()
  with pytest.raises(JaxganError, match='class folder .*green_rings holds no images'):
    input_pipeline.load_dataset(_folder_config(config, folder, 32).data)


def test_an_empty_folder_and_a_missing_one_are_one_line(config, tmp_path):
  (tmp_path / 'empty').mkdir()
  with pytest.raises(JaxganError, match='holds no images'):
    input_pipeline.load_dataset(_folder_config(config, tmp_path / 'empty', 32).data)
  config.data.path = str(tmp_path / 'nowhere')
  with pytest.raises(JaxganError, match='is not a folder'):
    input_pipeline.load_dataset(config.data)


def test_npz_source(config, tmp_path):
  rng = np.random.default_rng(1)
  images = rng.integers(0, 256, (12, 16, 16, 3), dtype=np.uint8)
  np.savez(tmp_path / 'set.npz', images=images, labels=np.arange(12) % 3)
  config.data.source, config.data.path = 'npz', str(tmp_path / 'set.npz')
  ds = input_pipeline.load_dataset(config.data)
  np.testing.assert_array_equal(ds.images, images)
  assert ds.num_classes == 3 and ds.labels.tolist() == [0, 1, 2] * 4
  np.savez(tmp_path / 'set.npz', images=images[..., 0])
  ds = input_pipeline.load_dataset(config.data)
  assert ds.images.shape == (12, 16, 16, 1) and ds.num_classes == 0
  np.savez(tmp_path / 'set.npz', pictures=images)
  with pytest.raises(JaxganError, match="no 'images' array .*pictures"):
    input_pipeline.load_dataset(config.data)
  np.savez(tmp_path / 'set.npz', images=images, labels=-np.ones(12, int))
  with pytest.raises(JaxganError, match="'labels' must be 12 integers >= 0"):
    input_pipeline.load_dataset(config.data)
  (tmp_path / 'set.npz').write_bytes(b'PK\x03\x04 cut')
  with pytest.raises(JaxganError, match='not a readable .npz'):
    input_pipeline.load_dataset(config.data)


# The tutorial DCGAN's tree: old workdirs resume only if it stays exactly this.
TUTORIAL_G = {
    'Dense_0': {'kernel': (100, 12544)},
    'BatchNorm_0': {'bias': (12544,), 'scale': (12544,)},
    'ConvTranspose_0': {'kernel': (5, 5, 256, 128)},
    'BatchNorm_1': {'bias': (128,), 'scale': (128,)},
    'ConvTranspose_1': {'kernel': (5, 5, 128, 64)},
    'BatchNorm_2': {'bias': (64,), 'scale': (64,)},
    'ConvTranspose_2': {'kernel': (5, 5, 64, 1)},
}
TUTORIAL_D = {
    'Conv_0': {'bias': (64,), 'kernel': (5, 5, 1, 64)},
    'Conv_1': {'bias': (128,), 'kernel': (5, 5, 64, 128)},
    'Dense_0': {'bias': (1,), 'kernel': (6272, 1)},
}


def _tree_shapes(tree):
  return jax.tree_util.tree_map(lambda x: tuple(x.shape), jax.device_get(tree))


def test_the_tutorial_dcgan_tree_is_unchanged():
  config = defaults.get_config()
  plain = gan_lib.init_state(gan_lib.make_gan(config), jax.random.PRNGKey(0))
  config.model.image_shape = (28, 28, 1)
  stated = gan_lib.init_state(gan_lib.make_gan(config), jax.random.PRNGKey(0))
  for state in (plain, stated):
    assert _tree_shapes(state.g_params) == TUTORIAL_G
    assert _tree_shapes(state.d_params) == TUTORIAL_D


@pytest.mark.parametrize('name', ['dcgan', 'mlp'])
@pytest.mark.parametrize('shape, g_features, d_features', [
    ((28, 28, 1), (32, 16, 8), (8, 16)),
    ((32, 32, 1), (32, 16, 8), (8, 16)),
    ((32, 32, 3), (32, 16, 8), (8, 16, 32)),
    ((64, 64, 3), (32, 16, 8, 8), (8, 16, 32, 64)),
])
@pytest.mark.parametrize('conditional', [False, True])
def test_models_follow_the_image_shape(name, shape, g_features, d_features, conditional):
  config = defaults.get_config()
  config.model.update(name=name, image_shape=shape, g_features=g_features,
                      d_features=d_features, mlp_g_features=(16, 32), mlp_d_features=(32, 16),
                      latent_dim=8, conditional=conditional, num_classes=3)
  gan = gan_lib.make_gan(config)
  state = gan_lib.init_state(gan, jax.random.PRNGKey(0))
  labels = jnp.array([0, 1, 2, 1]) if conditional else None
  images = gan.generator.apply({'params': state.g_params, 'batch_stats': state.g_batch_stats},
                               jnp.ones((4, 8)), train=False, labels=labels)
  assert images.shape == (4,) + shape
  logits = gan.discriminator.apply({'params': state.d_params}, images, train=False, labels=labels)
  assert logits.shape == (4,)
  if name == 'dcgan' and shape[0] != 28:
    # 4x4 start, one doubling per width: the dense layer projects to 4*4*f0.
    assert state.g_params['Dense_0']['kernel'].shape[-1] == 16 * g_features[0]


def test_dcgan_widths_must_fit_the_resolution():
  config = defaults.get_config()
  config.model.image_shape = (64, 64, 3)
  with pytest.raises(ConfigError, match=r'64x64 images need 4 .*\(512, 256, 128, 64\)'):
    gan_lib.make_gan(config)
  config.model.image_shape = (48, 48, 3)
  with pytest.raises(ConfigError, match='not 48x48; set --config.data.image_size'):
    gan_lib.make_gan(config)


def _grid_mode(path):
  with Image.open(path) as image:
    return image.mode


@pytest.mark.parametrize('size', [32, 64])
def test_a_folder_of_colour_images_trains_resumes_and_draws_in_colour(config, shapes_folder,
                                                                       tmp_path, size):
  _folder_config(config, shapes_folder, size)
  config.train.num_steps = 4
  first = train.train_and_evaluate(config, tmp_path / 'run')
  assert (tmp_path / 'run' / 'checkpoints' / '4').is_dir()
  grid = tmp_path / 'run' / 'samples' / 'step_0000004.png'
  assert _grid_mode(grid) == 'RGB'
  assert int(first.step) == 4
  run = sampling.load_run(tmp_path / 'run')
  assert run.gan.image_shape == (size, size, 3)
  assert sampling.sample(run, num=3).shape == (3, size, size, 3)
  config.train.num_steps = 8
  resumed = train.train_and_evaluate(config, tmp_path / 'run')
  whole = train.train_and_evaluate(config, tmp_path / 'whole')
  for a, b in zip(jax.tree_util.tree_leaves(resumed), jax.tree_util.tree_leaves(whole)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_resuming_with_another_image_size_is_refused(config, shapes_folder, tmp_path):
  _folder_config(config, shapes_folder, 32)
  config.train.num_steps = 2
  train.train_and_evaluate(config, tmp_path / 'run')
  _folder_config(config, shapes_folder, 64)
  with pytest.raises(JaxganError, match='different architecture.*image_shape'):
    train.train_and_evaluate(config, tmp_path / 'run')


def test_colour_quality_against_a_classifier_and_label_free(config, shapes_folder, tmp_path):
  """Real images score near the floor, noise far above it, with either feature network."""
  config.eval.update(num_samples=30, holdout=16, kid_subset_size=20, classifier_epochs=5,
                     classifier_batch_size=16)
  config.data.cache_dir = str(tmp_path / 'cache')
  for folder, network in ((shapes_folder, 'convnet'),
                          (_write_folder(tmp_path / 'flat', labelled=False), 'autoencoder')):
    ds = input_pipeline.load_dataset(_folder_config(config, folder, 32).data)
    evaluator = evaluator_lib.Evaluator(config, ds, reference_seed=3)
    assert evaluator.classifier_info['network'] == network
    # Both classes, as in the reference draw (the flat folder holds its images in the same order).
    mixed = ds.images[np.r_[0:15, 40:55]]
    real = evaluator.score(input_pipeline.to_pixels(jnp.asarray(mixed)))
    noise = evaluator.score(jax.random.uniform(jax.random.PRNGKey(0), (30, 32, 32, 3), minval=-1))
    assert noise['fid'] > 5 * max(real['fid'], real['fid_floor'])
    assert ('classifier_score' in real) == (network == 'convnet')
    if network == 'convnet':
      assert evaluator.classifier_info['heldout_accuracy'] >= 0.9
    with pytest.raises(JaxganError, match=r'shape \(32, 32, 1\)'):
      evaluator.score(jnp.zeros((30, 32, 32, 1)))


@pytest.mark.parametrize('shape', [(28, 28, 1), (20, 36, 3)])
def test_the_label_free_network_takes_any_size(shape):
  kind, model = features.network_for(shape, 0)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((1,) + shape))['params']
  code, rebuilt = model.apply({'params': params}, jnp.zeros((2,) + shape))
  assert kind == 'autoencoder' and code.shape == (2, features.FEATURE_DIM)
  assert rebuilt.shape == (2,) + shape


def test_tfds_colour_data_set_through_mock_data(config, tmp_path, monkeypatch):
  tfds = pytest.importorskip('tensorflow_datasets')
  monkeypatch.setattr(input_pipeline, 'internet_reachable', lambda: True)
  config.data.update(source='tfds', name='cifar10', split='train', path='',
                     data_dir=str(tmp_path / 'tfds'), cache_dir=str(tmp_path / 'cache'))
  config.model.g_features = (32, 16, 8)
  config.train.num_steps = 1
  config.train.steps_per_jit = 1
  with tfds.testing.mock_data(num_examples=64):
    ds = input_pipeline.load_dataset(config.data)
    state = train.train_and_evaluate(config, tmp_path / 'run')
  assert ds.images.shape == (64, 32, 32, 3) and ds.images.dtype == np.uint8
  assert ds.num_classes == 10 and 0 <= ds.labels.min() and ds.labels.max() < 10
  assert int(state.step) == 1
  assert sampling.load_run(tmp_path / 'run').gan.image_shape == (32, 32, 3)
  config.data.label_key = 'species'
  with pytest.raises(JaxganError, match="no feature 'species'.*image, label"):
    input_pipeline.load_dataset(config.data)
  config.data.label_key = 'id'
  with pytest.raises(JaxganError, match="'id' is not a class label .*Text"):
    input_pipeline.load_dataset(config.data)
  # Resized, unlabelled: prepared one example at a time, and cached apart.
  config.data.update(label_key='', image_size=16, cache_dir=str(tmp_path / 'cache2'))
  with tfds.testing.mock_data(num_examples=10):
    small = input_pipeline.load_dataset(config.data)
  assert small.images.shape == (10, 16, 16, 3) and small.num_classes == 0
  # A cache of the split as stored serves any size without tfds.
  config.data.update(label_key='label', image_size=8, cache_dir=str(tmp_path / 'cache'))
  monkeypatch.setattr(input_pipeline, '_prepare_with_tfds', None)
  resized = input_pipeline.load_dataset(config.data)
  assert resized.images.shape == (64, 8, 8, 3) and resized.num_classes == 10


@pytest.mark.skipif(not (FASHION_MNIST / 'train-images-idx3-ubyte.gz').is_file(),
                    reason=f"Debian's dataset-fashion-mnist is not installed ({FASHION_MNIST})")
def test_fashion_mnist_from_debian_trains_through_the_idx_source(config, tmp_path):
  config.data.update(path=str(FASHION_MNIST), split='train')
  ds = input_pipeline.load_dataset(config.data)
  assert ds.images.shape == (60_000, 28, 28, 1) and ds.num_classes == 10
  assert np.bincount(ds.labels).tolist() == [6000] * 10
  config.train.num_steps = 2
  state = train.train_and_evaluate(config, tmp_path / 'run')
  assert int(state.step) == 2


@pytest.mark.parametrize('name, shape', [('cifar10', (32, 32, 3)), ('celeba64', (64, 64, 3)),
                                         ('folder', (32, 32, 3))])
def test_the_colour_configs_build_for_their_data(name, shape):
  config = load_config(name)
  config.model.image_shape = shape
  gan = gan_lib.make_gan(config)
  state = jax.eval_shape(lambda: gan_lib.init_state(gan, jax.random.PRNGKey(0)))
  images = jax.eval_shape(lambda s: gan.generator.apply(
      {'params': s.g_params, 'batch_stats': s.g_batch_stats}, jnp.zeros((2, 100)), train=False),
      state)
  assert images.shape == (2,) + shape
