"""The TensorFlow DCGAN tutorial's own training code, timed as a second CPU peer.

This is what a user who copies https://www.tensorflow.org/tutorials/generative/dcgan
runs: the two Keras Sequential models, `cross_entropy` losses, two Adam
optimizers and one `tf.function` step with two gradient tapes, fed by the
tutorial's `tf.data` pipeline (`from_tensor_slices(...).shuffle(...).batch(...)`).
Only the numbers it takes from the config differ from the page: widths, latent
size, kernel, LeakyReLU slope, dropout and the rates (the tutorial's values
are configs/mnist.py's). Its update is the tutorial's: both networks step on
the gradients of one forward pass, which jaxgan does with
`--config.gan.update_order=simultaneous`; jaxgan's default updates D first and G
against the updated D (torch_port.py ports that exactly). It is a peer in
speed, not a check of jaxgan's arithmetic (tests/test_update_order.py checks
jaxgan's simultaneous order against its definition). Nothing here is imported
by jaxgan itself.
"""
import time

import numpy as np


def unsupported(config):
  """Why the tutorial's code cannot stand for a jaxgan config, or None."""
  m, o = config.model, config.optimizer
  checks = {'model.name': m.name == 'dcgan', 'model.conditional': not m.conditional,
            'model.image_shape': tuple(m.get('image_shape', ()) or (28, 28, 1)) == (28, 28, 1),
            'model.g_features': len(m.g_features) == 3, 'model.d_features': len(m.d_features) == 2,
            'model.spectral_norm': not m.spectral_norm, 'loss': config.loss == 'non_saturating',
            'optimizer.name': o.name == 'adam', 'train.compute_dtype':
                config.train.compute_dtype == 'float32'}
  off = [k for k, ok in checks.items() if not ok]
  return f'the Keras tutorial has no equivalent of {", ".join(off)}' if off else None


def family_gap(config):
  """What takes `config` outside the tutorial DCGAN's family (one line), or None.

  A part of jaxgan's step timed against the tutorial's stands for the tutorial's step
  only where jaxgan's computes what the tutorial's does: a model this module can build,
  one D update a step, one GAN in the program, and none of the step's extra terms,
  inputs or optimizer transforms.
  """
  g, m, o = config.gan, config.model, config.optimizer
  extras = {'gan.n_critic': g.n_critic != 1, 'gan.real_label': g.real_label != 1.0,
            'gan.gradient_penalty': bool(g.gradient_penalty), 'gan.r1_gamma': bool(g.r1_gamma),
            'gan.weight_clip': bool(g.weight_clip), 'gan.ema_decay': bool(g.ema_decay),
            'gan.augment': bool(g.augment),
            'gan.drop_worst': bool(g.drop_worst), 'gan.mode_seeking': bool(g.mode_seeking),
            'gan.latent_codes': bool(g.latent_codes),
            'gan.continuous_codes': bool(g.continuous_codes), 'model.clusters': bool(m.clusters),
            'optimizer.grad_clip_norm': bool(o.grad_clip_norm),
            'optimizer.schedule': o.schedule != 'constant',
            'optimizer.warmup_steps': bool(o.warmup_steps),
            'train.num_seeds': config.train.num_seeds != 1, 'sweep': bool(config.sweep)}
  off = [k for k, on in extras.items() if on]
  why = unsupported(config)
  if off:
    why = '; '.join(filter(None, [why, f'jaxgan\'s step also has {", ".join(off)}']))
  return why


def make_models(config):
  """The tutorial's make_generator_model and make_discriminator_model, widths from the config."""
  from tensorflow.keras import layers  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  m = config.model
  f0, f1, f2 = m.g_features
  k, slope = (m.kernel_size, m.kernel_size), m.leaky_relu_slope
  bn = lambda: layers.BatchNormalization(momentum=m.bn_momentum, epsilon=m.bn_epsilon)
  generator = tf.keras.Sequential([
      layers.Input((m.latent_dim,)),
      layers.Dense(7 * 7 * f0, use_bias=False), bn(), layers.LeakyReLU(slope),
      layers.Reshape((7, 7, f0)),
      layers.Conv2DTranspose(f1, k, strides=(1, 1), padding='same', use_bias=False), bn(),
      layers.LeakyReLU(slope),
      layers.Conv2DTranspose(f2, k, strides=(2, 2), padding='same', use_bias=False), bn(),
      layers.LeakyReLU(slope),
      layers.Conv2DTranspose(1, k, strides=(2, 2), padding='same', use_bias=False,
                             activation='tanh')])
  d0, d1 = m.d_features
  discriminator = tf.keras.Sequential([
      layers.Input((28, 28, 1)),
      layers.Conv2D(d0, k, strides=(2, 2), padding='same'), layers.LeakyReLU(slope),
      layers.Dropout(m.dropout_rate),
      layers.Conv2D(d1, k, strides=(2, 2), padding='same'), layers.LeakyReLU(slope),
      layers.Dropout(m.dropout_rate),
      layers.Flatten(), layers.Dense(1)])
  return generator, discriminator


def make_train_step(config, generator, discriminator):
  """The tutorial's `train_step(images)`: one tf.function, two tapes, two Adam updates."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  o = config.optimizer
  cross_entropy = tf.keras.losses.BinaryCrossentropy(from_logits=True)
  adam = lambda lr: tf.keras.optimizers.Adam(lr, beta_1=o.b1, beta_2=o.b2, epsilon=o.eps)
  generator_optimizer = adam(o.g_learning_rate)
  discriminator_optimizer = adam(o.d_learning_rate)
  batch_size, latent_dim = config.train.batch_size, config.model.latent_dim

  @tf.function
  def train_step(images):
    noise = tf.random.normal([batch_size, latent_dim])
    with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
      generated_images = generator(noise, training=True)
      real_output = discriminator(images, training=True)
      fake_output = discriminator(generated_images, training=True)
      gen_loss = cross_entropy(tf.ones_like(fake_output), fake_output)
      disc_loss = (cross_entropy(tf.ones_like(real_output), real_output)
                   + cross_entropy(tf.zeros_like(fake_output), fake_output))
    gradients_of_generator = gen_tape.gradient(gen_loss, generator.trainable_variables)
    gradients_of_discriminator = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
    generator_optimizer.apply_gradients(zip(gradients_of_generator,
                                            generator.trainable_variables))
    discriminator_optimizer.apply_gradients(zip(gradients_of_discriminator,
                                                discriminator.trainable_variables))
    return disc_loss, gen_loss

  return train_step


def measure(config, steps, num_examples=60_000, seed=0, on_steps=None):
  """Steps/s of the tutorial's code on random digits-shaped images, as its page feeds them.

  `on_steps(done)` is called after each timed step (for a progress line).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.random.set_seed(seed)
  batch_size = config.train.batch_size
  rng = np.random.default_rng(seed)
  images = rng.integers(0, 256, (num_examples, 28, 28, 1), dtype=np.uint8)
  train_images = (images.astype('float32') - 127.5) / 127.5
  train_dataset = (tf.data.Dataset.from_tensor_slices(train_images)
                   .shuffle(num_examples, seed=seed).batch(batch_size, drop_remainder=True)
                   .repeat())
  generator, discriminator = make_models(config)
  train_step = make_train_step(config, generator, discriminator)
  batches = iter(train_dataset)
  t0 = time.perf_counter()
  for _ in range(2):   # the first call traces and compiles
    train_step(next(batches))
  warmup_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  for i in range(steps):
    d_loss, g_loss = train_step(next(batches))
    if on_steps is not None:
      on_steps(i + 1)
  d_loss, g_loss = float(d_loss), float(g_loss)
  elapsed = time.perf_counter() - t0
  return {'tensorflow': tf.__version__, 'device': 'cpu', 'steps': steps,
          'steps_per_sec': steps / elapsed, 'images_per_sec': steps * batch_size / elapsed,
          'warmup_s': warmup_s,
          'finite_losses': bool(np.isfinite(d_loss) and np.isfinite(g_loss))}
