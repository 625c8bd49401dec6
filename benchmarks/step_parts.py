"""Where a training step's time goes: its parts timed alone, in jaxgan and in the Keras tutorial.

  python benchmarks/step_parts.py [--config configs/mnist.py] [--batch 256] [--repeats 8]
      [--nokeras] [--config.x=...]

Times, each as its own jitted (or tf.function) program on the same random inputs: G's
forward pass in training mode; G's forward and backward pass to its parameters; D's
forward pass on one batch; D's forward and backward pass to its parameters on two
batches (real and fake, as D's update); D's forward and backward pass to its input on
one batch (as G's update); and the whole training step. For the tutorial's DCGAN family
(keras_tutorial.family_gap: a model keras_tutorial.py can build, one D update a step, one
GAN, none of the step's extra terms or optimizer transforms); another config is refused
with one line. jaxgan's parts are its own
modules (the config's layers, Dropout, BatchNorm); the Keras tutorial's are its own
Sequential models (keras_tutorial.py), when TensorFlow is importable. Prints one JSON
line: milliseconds per part for each, and their ratio. A part's time alone is not its
share of the step (a whole step fuses and overlaps them); the table says which part is
slower where, not by how much the step would gain. CPU figures are what it was made for;
it runs anywhere JAX does.
"""
import json
import os
import pathlib
import sys
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np
from ml_collections import config_flags

from jaxgan import cpu_threefry
from jaxgan import gan as gan_lib
from jaxgan import update

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import keras_tutorial  # pylint: disable=g-import-not-at-top,wrong-import-position

ROOT = pathlib.Path(__file__).resolve().parent.parent
config_flags.DEFINE_config_file('config', str(ROOT / 'configs' / 'mnist.py'),
                                'Training configuration file.')
flags.DEFINE_integer('batch', 256, 'Batch size (train.batch_size).')
flags.DEFINE_integer('repeats', 8, 'Timed calls of each part, after one untimed call.')
flags.DEFINE_bool('keras', True, 'Also time the Keras tutorial, when TensorFlow is importable.')
FLAGS = flags.FLAGS

PARTS = ('g_forward', 'g_forward_backward', 'd_forward', 'd_params_grad_2_batches',
         'd_input_grad', 'step')


def _ms(run, repeats):
  """Milliseconds per call of run() (which returns what to wait for), after one warm-up call."""
  jax.block_until_ready(run())
  start = time.perf_counter()
  for _ in range(repeats):
    out = run()
  jax.block_until_ready(out)
  return (time.perf_counter() - start) / repeats * 1e3


def jaxgan_parts(gan, config, z, x, repeats):
  """{part: ms} for jaxgan's modules and training step."""
  keys = gan_lib.rngs(config.seed)
  state = gan_lib.init_state(gan, keys['init'])
  g_stats, d_stats = state.g_batch_stats, state.d_batch_stats

  def g(params, z):
    return gan.generator.apply({'params': params, 'batch_stats': g_stats}, z, train=True,
                               mutable=['batch_stats'])[0]

  def d(params, x, key):
    # The dropout key an argument, as in the step: a constant one would be folded in.
    return gan.discriminator.apply({'params': params, 'batch_stats': d_stats}, x, train=True,
                                   rngs={'dropout': key})

  square = lambda f: lambda *a: jnp.sum(jnp.square(f(*a)))
  g_fwd, d_fwd = jax.jit(g), jax.jit(d)
  g_grad = jax.jit(jax.grad(square(g)))
  d_grad = jax.jit(jax.grad(square(d)))
  d_input = jax.jit(jax.grad(square(lambda x, p, key: d(p, x, key))))
  xx, key = jnp.concatenate([x, x]), keys['step']
  times = {'g_forward': _ms(lambda: g_fwd(state.g_params, z), repeats),
           'g_forward_backward': _ms(lambda: g_grad(state.g_params, z), repeats),
           'd_forward': _ms(lambda: d_fwd(state.d_params, x, key), repeats),
           'd_params_grad_2_batches': _ms(lambda: d_grad(state.d_params, xx, key), repeats),
           'd_input_grad': _ms(lambda: d_input(x, state.d_params, key), repeats)}
  step = update.make_train_step(gan)
  batch = {'image': x[None], 'label': jnp.zeros((1, x.shape[0]), jnp.int32)}
  holder = {'state': state}

  def one_step():
    holder['state'], metrics = step(holder['state'], batch, keys['step'])
    return metrics
  times['step'] = _ms(one_step, repeats)
  return times


def keras_parts(config, z, x, repeats):
  """{part: ms} for the Keras tutorial's models and its training step."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  generator, discriminator = keras_tutorial.make_models(config)
  z, x = tf.constant(np.asarray(z)), tf.constant(np.asarray(x))

  def grad_of(model, wrt_input=False):
    @tf.function
    def grad(inputs):
      with tf.GradientTape() as tape:
        tape.watch(inputs)
        loss = tf.reduce_sum(tf.square(model(inputs, training=True)))
      return tape.gradient(loss, inputs if wrt_input else model.trainable_variables)
    return grad

  def timed(fn, *args):
    # A tf.function on the CPU has computed its outputs when it returns; one small value
    # is read back, as jaxgan's side waits on its outputs without copying them.
    return _ms(lambda: np.asarray(tf.nest.flatten(fn(*args))[-1]), repeats)

  g_fwd = tf.function(lambda z: generator(z, training=True))
  d_fwd = tf.function(lambda x: discriminator(x, training=True))
  step = keras_tutorial.make_train_step(config, generator, discriminator)
  return {'g_forward': timed(g_fwd, z), 'g_forward_backward': timed(grad_of(generator), z),
          'd_forward': timed(d_fwd, x),
          'd_params_grad_2_batches': timed(grad_of(discriminator), tf.concat([x, x], 0)),
          'd_input_grad': timed(grad_of(discriminator, wrt_input=True), x),
          'step': timed(step, x)}


def main(argv):
  del argv
  config = FLAGS.config
  config.train.batch_size = FLAGS.batch
  why = keras_tutorial.family_gap(config)
  if why:
    sys.exit(f'step_parts: times the tutorial DCGAN\'s family only: {why}')
  gan = gan_lib.make_gan(config)
  z = jax.random.normal(jax.random.PRNGKey(1), (FLAGS.batch, gan.latent_dim))
  x = jax.random.uniform(jax.random.PRNGKey(2), (FLAGS.batch,) + gan.image_shape, minval=-1.0,
                         maxval=1.0)
  ours = jaxgan_parts(gan, config, z, x, FLAGS.repeats)
  theirs = None
  if FLAGS.keras:
    try:
      import tensorflow  # pylint: disable=g-import-not-at-top,unused-import
    except ImportError:
      print('step_parts: Keras not timed: TensorFlow is not importable', file=sys.stderr)
    else:
      theirs = keras_parts(config, z, x, FLAGS.repeats)
  device = jax.devices()[0]
  print(json.dumps({
      'device': f'{device.platform}:{device.device_kind}', 'jax': jax.__version__,
      'xla_flags': os.environ.get('XLA_FLAGS', ''),
      'cpu_threefry': cpu_threefry.unrolled_on_cpu(),
      'batch': FLAGS.batch, 'repeats': FLAGS.repeats, 'jaxgan_ms': ours, 'keras_ms': theirs,
      'jaxgan_over_keras': ({p: ours[p] / theirs[p] for p in PARTS} if theirs else None)}))


if __name__ == '__main__':
  app.run(main)
