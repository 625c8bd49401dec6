"""Every config key and its default: the DCGAN of the TensorFlow tutorial on MNIST.

Config files (configs/*.py) start from `get_config()`, change what differs and
return the result. Keys are fixed here so that a mistyped `--config.x.y=...`
override is rejected.
"""
import pathlib

import ml_collections

# The 10,000 real MNIST test digits shipped inside the package, for runs without internet.
BUNDLED_MNIST_DIR = pathlib.Path(__file__).parent / 'data' / 'mnist'
# The tutorial's image shape: what models are built for when model.image_shape is empty.
TUTORIAL_SHAPE = (28, 28, 1)


def get_config():
  config = ml_collections.ConfigDict()
  config.seed = 0

  # A grid of in-program hyperparameters trained as one program beside
  # train.num_seeds: 'optimizer.g_learning_rate=1e-4,2e-4;gan.ema_decay=0,0.999'
  # (';' between keys, ',' between values); each member in workdir/POINT/seed_S.
  config.sweep = ''

  config.data = ml_collections.ConfigDict()
  config.data.source = 'tfds'      # 'tfds' | 'idx' | 'folder' | 'npz'
  config.data.name = 'mnist'       # tfds data set name
  # IDX folder; folder of images (class sub-folders optional); .npz file with uint8
  # 'images' (N, H, W[, C]) and optional 'labels'; or tfds manual_dir with the official files.
  config.data.path = ''
  config.data.split = 'train'      # tfds split, or IDX prefix ('train', 't10k')
  config.data.image_key = 'image'  # tfds image feature
  config.data.label_key = 'label'  # tfds label feature; '' = unlabelled
  # Square side the images are resized to (shorter side scaled, centre cropped); 0 = as stored.
  config.data.image_size = 0
  config.data.grayscale = False    # colour images read as one channel
  # A folder's unreadable images, or ones of another colour mode or size, are an
  # error naming the file; True leaves them out with a count.
  config.data.skip_bad_files = False
  # Where the training images live: 'resident' (uint8 on each device, batches drawn
  # inside the jit), 'stream' (host memory; each dispatch's batches gathered there and
  # put on the devices one dispatch ahead; one GAN only), or 'auto': resident when
  # they take at most a quarter of the device's memory (always on a CPU).
  config.data.feed = 'auto'
  config.data.data_dir = ''        # tfds data_dir ('' = tfds default)
  config.data.cache_dir = ''       # uint8 array cache ('' = ~/.cache/jaxgan)
  # When tfds cannot get MNIST (offline, nothing prepared, no local files),
  # train on the real MNIST test digits that ship with the package.
  config.data.fallback_to_bundled = True
  # Real images withheld from training; D's mean output on them is logged beside
  # its output on as many training images (d_heldout, d_train): the overfitting signal.
  config.data.heldout = 0

  config.model = ml_collections.ConfigDict()
  config.model.name = 'dcgan'      # 'dcgan' | 'mlp'
  config.model.latent_dim = 100
  # (H, W, C) of the images: set from the data by the trainer; () builds the tutorial's 28x28x1.
  config.model.image_shape = ()
  # DCGAN widths: G's dense projection and transposed convs, D's convs. At 28x28
  # G is the tutorial's (7x7, then strides 1, 2, 2); at 2**k pixels G starts at 4x4
  # and doubles once per width, so it needs k - 2 of them (3 for 32x32, 4 for 64x64).
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
  # Conditional GAN: G gets a label embedding, D is conditioned by projection
  # (logit + <embed(y), features>) or by a label map concatenated as a channel.
  config.model.conditional = False
  config.model.num_classes = 10   # a conditional model takes the data set's count
  config.model.label_embedding_dim = 50
  config.model.conditioning = 'projection'   # 'projection' | 'concat'
  # Self-conditioning (Liu et al. 2020): > 0 conditions an otherwise unconditional G
  # and D, as a conditional model's labels would, on this many clusters of the
  # training images (k-means on pixels, drawn once from the seed); G draws each
  # cluster as often as the data hold it. Needs no labels. 0 = off.
  config.model.clusters = 0
  config.model.spectral_norm = False         # spectral normalisation of D's layers

  # 'non_saturating' | 'minimax' | 'hinge' | 'wasserstein' | 'least_squares'
  config.loss = 'non_saturating'

  # Training dynamics and stabilisers; every one runs inside the jitted step.
  config.gan = ml_collections.ConfigDict()
  config.gan.real_label = 1.0       # 0.9 = one-sided label smoothing (BCE and LS losses)
  config.gan.n_critic = 1           # D updates per G update
  # 'alternating': G steps against D after D's update (D runs again on the fakes);
  # 'simultaneous': both step on the gradients of one forward pass, as the TensorFlow
  # tutorial's train_step does (one D pass on the fakes fewer; no codes).
  config.gan.update_order = 'alternating'
  config.gan.gradient_penalty = 0.0  # WGAN-GP lambda (10 in the paper); 0 = off
  config.gan.r1_gamma = 0.0         # R1 penalty on real data, gamma / 2 * E||grad D||^2; 0 = off
  config.gan.weight_clip = 0.0      # WGAN: clip D's parameters to [-c, c] after each update
  config.gan.ema_decay = 0.0        # EMA of G's weights for samples and evaluation; 0 = off
  # Top-k training (Sinha et al. 2020): the share of each batch's fakes, those D
  # scores lowest, left out of G's loss once annealed in; 0 = off (0.5 in the paper).
  config.gan.drop_worst = 0.0
  # G's images over which the share grows from 0, linearly: the paper shrinks the kept
  # count per epoch instead, which ties the anneal to the data set's size.
  config.gan.drop_worst_images = 300_000
  # Differentiable augmentation of D's real and fake inputs (DiffAugment):
  # comma-separated ops from 'translation', 'cutout', 'color'; '' = off.
  config.gan.augment = ''
  # ADA: > 0 starts the ops' probability at 0 and moves it so that E[sign(D(real))]
  # stays near this target (0.6 in Karras et al. 2020); 0 applies them always.
  config.gan.augment_target = 0.0
  config.gan.augment_speed = 100_000   # images for ADA's probability to go from 0 to 1
  # InfoGAN's categorical code (Chen et al. 2016): an unconditional G also takes a
  # code drawn uniformly from this many values, and a Q head on D's features
  # predicts it from G's samples; G and D both minimise Q's cross-entropy times
  # code_weight. 0 = off. A continuous latent must map somewhere between two
  # digits; codes let G put separate digits on separate codes.
  config.gan.latent_codes = 0
  config.gan.code_weight = 1.0
  # InfoGAN's continuous codes: the first this-many entries of G's latent z are
  # also codes that Q regresses from G's samples (a unit-variance Gaussian's
  # negative log-likelihood, times continuous_weight). Codes that Q must read back
  # from the image make G spend them on visible variation (slant, width); they were
  # meant to counter the sameness within a categorical code (measured: they do not
  # raise recall, docs/quality.md#continuous-codes). 0 = off; any model.
  config.gan.continuous_codes = 0
  config.gan.continuous_weight = 1.0
  # Mode seeking (MSGAN, Mao et al. 2019): G also minimises this weight times
  # 1 / (mean |G(z1) - G(z2)| / mean |z1 - z2|) over pairs of its batch that share
  # their class or code, so distant latents of one class or code draw different
  # images; with codes, each pair is drawn in one code. 0 = off (1 in the paper).
  config.gan.mode_seeking = 0.0

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.name = 'adam'   # 'adam' | 'rmsprop'
  # Separate rates for G and D (TTUR, Heusel et al. 2017).
  config.optimizer.g_learning_rate = 1e-4
  config.optimizer.d_learning_rate = 1e-4
  config.optimizer.b1 = 0.9
  config.optimizer.b2 = 0.999
  config.optimizer.eps = 1e-7      # Keras Adam's default
  config.optimizer.rmsprop_decay = 0.99   # PyTorch RMSprop's alpha
  config.optimizer.grad_clip_norm = 0.0   # clip each network's gradients by global norm; 0 = off
  # Learning-rate schedule over the run: 'constant' | 'exponential' | 'cosine'.
  # Both decays reach final_lr_fraction * rate at decay_fraction of the run (the
  # last step by default) and hold it after, following a linear warmup from 0
  # over warmup_steps.
  config.optimizer.schedule = 'constant'
  config.optimizer.warmup_steps = 0
  config.optimizer.final_lr_fraction = 0.1
  config.optimizer.decay_fraction = 1.0

  config.train = ml_collections.ConfigDict()
  config.train.batch_size = 256
  config.train.num_epochs = 50
  config.train.num_steps = 0       # > 0 wins over num_epochs
  config.train.steps_per_jit = 0   # steps per dispatch (lax.scan); 0 = auto: 50 on GPU, 1 on CPU
  config.train.log_every = 50
  config.train.eval_every = 500    # sample grid of the fixed noise
  config.train.checkpoint_every = 1000
  config.train.checkpoint_steps = ()   # extra steps to checkpoint at
  # Also checkpoint when this long has passed since the last save, so a crash
  # or preemption loses at most this much training; 0 = off.
  config.train.checkpoint_minutes = 10.0
  # Resuming with another seed, data set (source, name, split, heldout), loss or
  # batch_size is refused unless True (the change is recorded in config_history.jsonl).
  config.train.allow_config_change = False
  config.train.max_checkpoints = 3
  config.train.num_samples = 16    # fixed noise vectors of the grid
  config.train.num_seeds = 1      # > 1 trains seeds seed..seed+N-1 at once (one program)
  # How one program trains several members (seeds, sweep points): 'vmap' batches
  # them (fills a GPU), 'loop' runs them one after another; 'auto': loop on CPU.
  config.train.members_as = 'auto'
  config.train.compute_dtype = 'float32'  # or 'bfloat16'; parameters stay float32
  # How G's transposed convolutions are computed (the same function and parameters):
  # 'dilated' (XLA's dilated-input convolution), 'subpixel' (stride**2 ordinary
  # convolutions, interleaved), 'pixel_shuffle' (one convolution to stride**2 x
  # the channels, moved into space); 'auto' = layers.AUTO_CONV_TRANSPOSE for the backend.
  config.train.conv_transpose = 'auto'
  # How the input gradients of D's strided convolutions are computed (the same
  # gradient): 'dilated' (XLA's), 'pixel_shuffle' (as G's 'pixel_shuffle' layer);
  # 'auto' = layers.AUTO_CONV_INPUT_GRAD for the backend.
  config.train.conv_input_grad = 'auto'
  # D's input channels and G's output channels rounded up to a multiple of this
  # with zero channels (one channel for grey images runs off GPU tensor cores):
  # the same function and parameters; 0 = as they are. G's only with a sub-pixel way.
  config.train.pad_channels = 0
  config.train.progress_bar = True
  # Said once, with the expected time, when a run trains on a CPU ('' = nothing).
  config.train.cpu_hint = ''

  # Sample quality in the features of a classifier trained on the data set
  # itself (cached after its first training), every train.eval_every steps.
  config.eval = ml_collections.ConfigDict()
  config.eval.enabled = True
  config.eval.num_samples = 2000      # samples scored; capped at half the data set
  # How G normalises when it draws grids, evaluation samples and `jaxgan.sample`'s
  # images: 'recomputed' (BatchNorm statistics measured afresh over 4,096 latents
  # with the weights that draw, the EMA when kept), 'running' (the running
  # averages kept while training, the tutorial's way: they belong to G's raw
  # weights, not to its EMA) or 'batch' (each batch's own statistics).
  config.eval.batch_norm = 'recomputed'
  config.eval.holdout = 2000          # images the classifier never trains on
  config.eval.kid_subset_size = 1000
  config.eval.classifier_epochs = 5
  config.eval.classifier_batch_size = 128
  return config
