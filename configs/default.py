"""Defaults shared by every config: the DCGAN of the TensorFlow tutorial on MNIST.

Variants load this file, change what differs and return the result. Keys are
fixed here so that a mistyped `--config.x.y=...` override is rejected.
"""
import ml_collections


def get_config():
  config = ml_collections.ConfigDict()
  config.seed = 0

  config.data = ml_collections.ConfigDict()
  config.data.source = 'tfds'      # 'tfds' | 'idx'
  config.data.name = 'mnist'       # tfds data set name
  config.data.path = ''            # IDX folder, or tfds manual_dir with the official files
  config.data.split = 'train'      # tfds split, or IDX prefix ('train', 't10k')
  config.data.data_dir = ''        # tfds data_dir ('' = tfds default)
  config.data.cache_dir = ''       # uint8 array cache ('' = ~/.cache/jaxgan)
  # When tfds cannot get MNIST (offline, nothing prepared, no local files),
  # train on the real MNIST test digits that ship with the package.
  config.data.fallback_to_bundled = True

  config.model = ml_collections.ConfigDict()
  config.model.name = 'dcgan'      # 'dcgan' | 'mlp'
  config.model.latent_dim = 100
  # DCGAN widths: G's dense projection and transposed convs, D's convs.
  config.model.g_features = (256, 128, 64)
  config.model.d_features = (64, 128)
  # MLP GAN widths (the fully-connected GAN of Goodfellow et al.).
  config.model.mlp_g_features = (256, 512, 1024)
  config.model.mlp_d_features = (1024, 512, 256)
  config.model.kernel_size = 5
  config.model.dropout_rate = 0.3
  # Keras defaults of the tutorial, which Flax does not share.
  config.model.kernel_init = 'glorot_uniform'   # or 'lecun_normal' (Flax default)
  config.model.leaky_relu_slope = 0.3
  config.model.bn_momentum = 0.99
  config.model.bn_epsilon = 1e-3

  config.loss = 'non_saturating'   # 'non_saturating' | 'minimax'

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.g_learning_rate = 1e-4
  config.optimizer.d_learning_rate = 1e-4
  config.optimizer.b1 = 0.9
  config.optimizer.b2 = 0.999
  config.optimizer.eps = 1e-7      # Keras Adam's default

  config.train = ml_collections.ConfigDict()
  config.train.batch_size = 256
  config.train.num_epochs = 50
  config.train.num_steps = 0       # > 0 wins over num_epochs
  config.train.steps_per_jit = 0   # steps per dispatch (lax.scan); 0 = auto: 50 on GPU, 1 on CPU
  config.train.log_every = 50
  config.train.eval_every = 500    # sample grid of the fixed noise
  config.train.checkpoint_every = 1000
  config.train.checkpoint_steps = ()   # extra steps to checkpoint at
  config.train.max_checkpoints = 3
  config.train.num_samples = 16    # fixed noise vectors of the grid
  config.train.num_seeds = 1      # > 1 trains seeds seed..seed+N-1 at once (jax.vmap)
  config.train.compute_dtype = 'float32'  # or 'bfloat16'; parameters stay float32
  config.train.progress_bar = True

  # Sample quality in the features of a classifier trained on the data set
  # itself (cached after its first training), every train.eval_every steps.
  config.eval = ml_collections.ConfigDict()
  config.eval.enabled = True
  config.eval.num_samples = 2000      # samples scored; capped at half the data set
  config.eval.holdout = 2000          # images the classifier never trains on
  config.eval.kid_subset_size = 1000
  config.eval.classifier_epochs = 5
  config.eval.classifier_batch_size = 128
  return config
