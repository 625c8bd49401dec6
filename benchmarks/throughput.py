"""Throughput of the trainer's own multi-step update, beside a PyTorch port of it.

  python benchmarks/throughput.py [--config configs/mnist.py] [--steps N] [--config.x=...]
      [--notorch] [--nokeras] [--num_examples 60000] [--profile DIR]
      [--variants 'a=1,b=2;c=3'] [--members N]

Trains the config's model for a fixed number of steps on random uint8 images
resident on the device (so no input pipeline is measured), timing after a
warm-up dispatch with block_until_ready, and prints one JSON line: device,
batch, steps/s, images/s, compile seconds, peak device memory, XLA's FLOP
count of one step, overrides. When PyTorch is importable, the port in
torch_port.py (the same model and update, checked equal by the tests) then
runs in this process on the same device kind and the line adds its figures
and the ratio. On a CPU with TensorFlow importable, the TensorFlow tutorial's
own code (keras_tutorial.py) runs too, and the line adds its figures and
jaxgan's ratio to it. --steps 0 (the default) times 1,000 steps on an
accelerator and 60 on a CPU, where a step of the tutorial's model takes most of
a second; each measurement says on stderr how far it is every few seconds. --profile writes a jax.profiler trace of a few dispatches
(open it with TensorBoard's profile plugin or Perfetto) and prints, on stderr,
the kernels that take the most device time per step (profile_summary.py).
--variants times several settings in one process, one JSON line each: a ';'
separated list of ','-separated overrides of the config (`train.steps_per_jit=10`)
or of JAX's options (`jax.default_prng_impl=unsafe_rbg`), applied on top of it.
--members N times one GAN, then N GANs in one program as a sweep trains them
(N G learning rates around the config's, one seed each, batched or looped as
train.members_as says), and reports the N members' aggregate images/s and its
ratio to one GAN's. --config.data.feed=stream keeps the images in host memory
and streams each dispatch's batches to the devices (jaxgan.streaming), as
training does with a data set too large for the device.
"""
import ast
import collections
import contextlib
import copy
import importlib
import json
import os
import pathlib
import sys
import time

# JAX takes 75% of GPU memory up front by default; the PyTorch port needs some.
os.environ.setdefault('XLA_PYTHON_CLIENT_MEM_FRACTION', '0.5')

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np
from ml_collections import config_flags

from jaxgan import cli
from jaxgan import cpu_threefry
from jaxgan import gan as gan_lib
from jaxgan import input_pipeline
from jaxgan import parallel
from jaxgan import streaming
from jaxgan import train
from jaxgan import update

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import profile_summary  # pylint: disable=g-import-not-at-top,wrong-import-position
import ticker  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file(
    'config', str(pathlib.Path(__file__).parent.parent / 'configs' / 'mnist.py'),
    'Training configuration file.', lock_config=True)
flags.DEFINE_integer('steps', 0, 'Timed steps after one warm-up dispatch (0 = 1,000 on an '
                     'accelerator, 60 on a CPU).')
flags.DEFINE_integer('num_examples', 60_000, 'Synthetic data set size (MNIST train: 60,000).')
flags.DEFINE_bool('torch', True, 'Also time the PyTorch port, when torch is importable.')
flags.DEFINE_bool('keras', True, "On a CPU, also time the TensorFlow tutorial's own code, when "
                  'TensorFlow is importable.')
flags.DEFINE_string('profile', '', 'Folder for a jax.profiler trace of 3 dispatches.')
flags.DEFINE_string('variants', '', "Settings to time in turn: 'a.b=1,c.d=x;e.f=2' ('' = as given).")
flags.DEFINE_integer('members', 1, 'Also time this many GANs in one program (a sweep).')


def default_steps(backend):
  """Timed steps when --steps is 0: about a minute of the tutorial's step on either."""
  return 60 if backend == 'cpu' else 1000


def _value(text):
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    return text


def parse_variants(spec):
  """'a.b=1,c=x;d=2' -> [{'a.b': 1, 'c': 'x'}, {'d': 2}]; '' -> [{}] (the config as given)."""
  variants = []
  for variant in (spec.split(';') if spec.strip() else ['']):
    pairs = [p.split('=', 1) for p in variant.split(',') if p.strip()]
    if any(len(p) != 2 for p in pairs):
      raise SystemExit(f'throughput: --variants wants key=value pairs, got {variant!r}')
    variants.append({k.strip(): _value(v.strip()) for k, v in pairs})
  return variants


@contextlib.contextmanager
def applied(config, overrides):
  """The config with `overrides` set; `jax.*` keys set JAX's options until the block ends."""
  config = copy.deepcopy(config)
  saved = {}
  for key, value in overrides.items():
    *path, name = key.split('.')
    if path == ['jax']:
      saved[name] = getattr(jax.config, f'jax_{name}')
      jax.config.update(f'jax_{name}', value)
      continue
    node = config
    for part in path:
      node = node[part]
    if name not in node:
      raise SystemExit(f'throughput: the config has no {key}')
    node[name] = value
  try:
    yield config
  finally:
    for name, value in saved.items():
      jax.config.update(f'jax_{name}', value)


def step_flops(multi_step, state, data, keys, swept=None):
  """XLA's FLOP count of one training step (a loop body would be counted once, so K=1).

  Counted on the program before the backend compiles it: on a GPU the compiled
  program's convolutions are cuDNN calls, which the count leaves out.
  """
  # The members' numbers (a sweep's) only when there are any: a chunk of one GAN takes none.
  extra = (swept,) if swept else ()
  cost = multi_step.lower(state, data, keys['data'], keys['step'], 1, *extra).cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return (cost or {}).get('flops')


def _members(config, n):
  """(gan, state, keys, swept) of n GANs in one program: n G learning rates, seeds seed..seed+n-1."""
  if n == 1:
    gan = gan_lib.make_gan(config)
    keys = gan_lib.rngs(config.seed)
    return gan, gan_lib.init_state(gan, keys['init']), keys, {}
  rates = config.optimizer.g_learning_rate * 2.0 ** np.linspace(-1, 1, n)
  gan = gan_lib.make_gan(config, sweep=[{'optimizer.g_learning_rate': r} for r in rates])
  keys = [gan_lib.rngs(config.seed + i) for i in range(n)]
  stack = lambda *x: jnp.stack(x)
  states = jax.tree_util.tree_map(stack, *[gan_lib.init_state(gan, k['init']) for k in keys])
  keys = {name: jnp.stack([k[name] for k in keys]) for name in keys[0]}
  return gan, states, keys, {'g_learning_rate': jnp.asarray(rates, jnp.float32)}


def time_jaxgan(config, steps, num_examples, profile_dir, members=1):
  gan, state, keys, swept = _members(config, members)
  data_key = gan_lib.rngs(config.seed)['data']
  per_dispatch = train.steps_per_jit(config)
  batch_size = config.train.batch_size
  data = {'image': jax.random.randint(data_key, (num_examples,) + gan.image_shape, 0, 256
                                      ).astype(jnp.uint8),
          # Every class (or cluster) a conditional model takes.
          'label': jax.random.randint(data_key, (num_examples,), 0, max(gan.num_classes, 1))}
  mesh = parallel.make_mesh()
  streamed = config.data.feed == 'stream'
  multi_step = update.make_train_chunk(gan, batch_size, mesh, members, config.train.members_as,
                                       streamed)
  if streamed:
    # The images in host memory; each dispatch's batches put on the devices one ahead.
    stream = streaming.Stream(input_pipeline.Dataset(*jax.device_get((data['image'],
                                                                      data['label'])), 'random'),
                              keys['data'], batch_size, gan.n_critic, parallel.replicated(mesh))
    feed = lambda i: stream.batches(i * per_dispatch, per_dispatch, per_dispatch)
    data = feed(0)
  else:
    data = jax.device_put(data, parallel.replicated(mesh))
    feed = lambda i: data
  state = jax.device_put(state, parallel.replicated(mesh))
  # The epochs' orders drawn as the trainer draws them: once per epoch, outside the step.
  epoch_orders = (None if streamed else input_pipeline.EpochOrders(
      keys['data'], num_examples, batch_size, gan.n_critic, parallel.replicated(mesh),
      members=members > 1))
  orders = lambda i: None if streamed else epoch_orders(i * per_dispatch, per_dispatch)
  if hasattr(multi_step, 'member_program'):
    # A loop runs one member's program for each member.
    take = lambda tree: jax.tree_util.tree_map(lambda x: x[0], tree)
    flops = step_flops(multi_step.member_program, take(state), data, take(keys), take(swept))
    flops = flops * members if flops else None
  else:
    flops = step_flops(multi_step, state, data, keys, swept)

  t0 = time.perf_counter()
  state, _ = multi_step(state, data, keys['data'], keys['step'], per_dispatch, swept, orders(0))
  jax.block_until_ready(state)
  compile_s = time.perf_counter() - t0

  dispatches = max(1, steps // per_dispatch)
  tick = ticker.Ticker('jaxgan' if members == 1 else f'jaxgan, {members} GANs',
                       dispatches * per_dispatch)
  # The progress line counts finished dispatches as the trainer's bar does: looking
  # without waiting while dispatching, and waiting for each in turn after.
  unreported = collections.deque()
  progress = tick.counter()
  t0 = time.perf_counter()
  for i in range(1, dispatches + 1):
    state, metrics = multi_step(state, feed(i), keys['data'], keys['step'], per_dispatch, swept,
                                orders(i))
    unreported.append((metrics['d_loss'], per_dispatch))
    train.report_finished(progress, unreported, wait=False)
  train.report_finished(progress, unreported, wait=True)
  jax.block_until_ready(state)
  elapsed = time.perf_counter() - t0
  if streamed:
    stream.close()

  if profile_dir:
    with jax.profiler.trace(profile_dir, create_perfetto_trace=True):
      for i in range(dispatches + 1, dispatches + 4):
        state, metrics = multi_step(state, data, keys['data'], keys['step'], per_dispatch, swept,
                                    orders(i))
      jax.block_until_ready(state)
    print(profile_summary.format_table(
        profile_summary.kernel_times(profile_summary.load_events(profile_dir)),
        3 * per_dispatch), file=sys.stderr)

  done = dispatches * per_dispatch
  stats = (jax.devices()[0].memory_stats() or {})
  return {
      'members': members, 'members_as': update.members_as(config.train.members_as),
      'feed': 'stream' if streamed else 'resident',
      'steps': done, 'steps_per_jit': per_dispatch,
      # Steps of the program; each step trains every member on its own batch.
      'steps_per_sec': done / elapsed,
      'images_per_sec': done * batch_size * members / elapsed,
      'compile_and_first_dispatch_s': compile_s,
      'peak_device_memory_bytes': stats.get('peak_bytes_in_use'),
      'gflop_per_step': flops / 1e9 if flops else None,
      'tflop_per_sec': flops * done / elapsed / 1e12 if flops else None,
      'finite_losses': bool(jnp.isfinite(metrics['d_loss']).all()
                            and jnp.isfinite(metrics['g_loss']).all()),
  }, mesh.size


def time_torch_port(config, steps, num_examples):
  """The port's figures, or None (with a message on stderr) when torch is missing."""
  try:
    import torch  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    print('throughput: PyTorch is not installed, so the port is skipped (pip install torch)',
          file=sys.stderr)
    return None
  import torch_port  # pylint: disable=g-import-not-at-top
  reason = torch_port.unsupported(config)
  if reason:
    print(f'throughput: {reason}, so it is skipped', file=sys.stderr)
    return None
  device = 'cuda' if jax.default_backend() == 'gpu' else 'cpu'
  return torch_port.measure(config, steps, num_examples, device=device,
                            on_steps=ticker.Ticker('PyTorch port', steps))


def _peer_gap(module_name, config):
  """Why the peer in benchmarks/`module_name`.py cannot run `config`: '' where it can, None
  where it cannot be imported."""
  try:
    module = importlib.import_module(module_name)
  except ImportError:
    return None
  return module.unsupported(config) or ''


def time_keras_tutorial(config, steps, num_examples):
  """The TensorFlow tutorial's figures on a CPU, or None (with a message on stderr)."""
  if jax.default_backend() != 'cpu':
    return None
  import keras_tutorial  # pylint: disable=g-import-not-at-top
  reason = keras_tutorial.unsupported(config)
  if reason:
    print(f'throughput: {reason}, so it is skipped', file=sys.stderr)
    return None
  try:
    import tensorflow  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    print('throughput: TensorFlow is not installed, so the Keras tutorial is skipped',
          file=sys.stderr)
    return None
  return keras_tutorial.measure(config, steps, num_examples,
                                on_steps=ticker.Ticker('Keras tutorial', steps))


def main(argv):
  del argv
  cli.quiet_logging()
  variants = parse_variants(FLAGS.variants)
  given = [a for a in sys.argv if a.startswith('--config.')]
  steps = FLAGS.steps or default_steps(jax.default_backend())
  # A peer's figure per compute dtype and per reason it cannot run a variant ('' where it
  # can): its figure does not depend on jaxgan's settings, but whether it stands for them does.
  ports = {}
  kerases = {}
  for i, overrides in enumerate(variants):
    profile_dir = FLAGS.profile
    if profile_dir and len(variants) > 1:
      profile_dir = os.path.join(profile_dir, str(i))
      print(f'throughput: profile of {overrides}', file=sys.stderr)
    with applied(FLAGS.config, overrides) as config:
      ours, num_devices = time_jaxgan(config, steps, FLAGS.num_examples, profile_dir)
      if FLAGS.members > 1:
        one = ours
        ours, _ = time_jaxgan(config, steps, FLAGS.num_examples, '', FLAGS.members)
        ours['one_member'] = {k: one[k] for k in ('steps_per_sec', 'images_per_sec',
                                                  'compile_and_first_dispatch_s',
                                                  'gflop_per_step')}
        ours['aggregate_vs_one'] = ours['images_per_sec'] / one['images_per_sec']
      dtype = config.train.compute_dtype
      port = keras = None
      if FLAGS.torch:   # the port's module imports PyTorch: only when asked for
        key = (dtype, _peer_gap('torch_port', config))
        if key not in ports:
          ports[key] = time_torch_port(config, steps, FLAGS.num_examples)
        port = ports[key]
      if FLAGS.keras:
        key = (dtype, _peer_gap('keras_tutorial', config))
        if key not in kerases:
          kerases[key] = time_keras_tutorial(config, steps, FLAGS.num_examples)
        keras = kerases[key]
      one = ours.get('one_member', ours)   # the peers train one GAN: compared with one member
      device = jax.devices()[0]
      print(json.dumps({
          'device': f'{device.platform}:{device.device_kind}', 'devices': num_devices,
          'jax': jax.__version__, 'xla_flags': os.environ.get('XLA_FLAGS', ''),
          'cpu_threefry': cpu_threefry.unrolled_on_cpu(),
          'batch': config.train.batch_size, 'compute_dtype': dtype,
          'num_examples': FLAGS.num_examples,
          **ours,
          'overrides': given + [f'{k}={v}' for k, v in overrides.items()],
          'torch_port': port,
          'speedup_vs_torch': one['images_per_sec'] / port['images_per_sec'] if port else None,
          'keras_tutorial': keras,
          'speedup_vs_keras': one['images_per_sec'] / keras['images_per_sec'] if keras else None,
      }), flush=True)


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
