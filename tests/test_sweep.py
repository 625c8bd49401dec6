"""Sweeps: a grid of hyperparameters x seeds trained as one program, resumed, ranked."""
import dataclasses
import json
import math
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from helpers import ROOT, load_config, repro, set_keys
from jaxgan import checkpointing
from jaxgan import fingerprint
from jaxgan import gan as gan_lib
from jaxgan import hyper
from jaxgan import input_pipeline
from jaxgan import metric_writers
from jaxgan import sampling
from jaxgan import sweep_report
from jaxgan import train
from jaxgan import update
from jaxgan.errors import ConfigError, JaxganError

SWEEP = 'optimizer.g_learning_rate=1e-4,1e-3;gan.ema_decay=0,0.9'
POINTS = ['g_learning_rate=0.0001,ema_decay=0', 'g_learning_rate=0.0001,ema_decay=0.9',
          'g_learning_rate=0.001,ema_decay=0', 'g_learning_rate=0.001,ema_decay=0.9']


def _config(sweep=''):
  config = load_config('test')
  # Adam divides by |g| + eps: with Keras' eps of 1e-7, gradients of order 1e-7
  # turn the last-bit differences of vmapped convolutions into a percent of a
  # step (seed populations show it too: 2e-4 apart after 8 steps at rate 1e-3).
  # With eps 1e-4 the comparison sees the sweep's own arithmetic.
  config.optimizer.eps = 1e-4
  config.sweep = sweep
  return config


@pytest.fixture(scope='module')
def swept(tmp_path_factory):
  """The 2 x 2 sweep of one seed, trained uninterrupted: (workdir, final stacked state)."""
  workdir = tmp_path_factory.mktemp('sweep')
  return workdir, train.train_and_evaluate(_config(SWEEP), workdir)


@pytest.fixture(scope='module')
def solo_states():
  """Final states of solo runs by (G rate, EMA decay), trained once for the module."""
  return {}


def _worst(a, b):
  return max(float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y))))
             for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def test_the_grid_trains_each_point_in_its_own_folder(swept):
  workdir, state = swept
  for i, point in enumerate(POINTS):
    saved = json.loads((workdir / point / 'seed_0' / 'config.json').read_text())
    assert saved['sweep'] == '' and saved['train']['num_seeds'] == 1 and saved['seed'] == 0
    assert (saved['optimizer']['g_learning_rate'], saved['gan']['ema_decay']) == (
        (1e-4, 0.0), (1e-4, 0.9), (1e-3, 0.0), (1e-3, 0.9))[i]
    assert (workdir / point / 'seed_0' / 'checkpoints' / '8').is_dir()
    assert (workdir / point / 'seed_0' / 'samples' / 'step_0000008.png').is_file()
  # The learning rate and the EMA decay each make a different GAN.
  g = [jax.tree_util.tree_leaves(state.g_params)[0][i] for i in range(4)]
  assert not np.array_equal(g[0], g[2])
  ema = [jax.tree_util.tree_leaves(state.ema_g_params)[0][i] for i in range(4)]
  assert not np.array_equal(ema[2], ema[3])
  # The sweep keeps an EMA for every member; with decay 0 it is G's weights exactly.
  for i in (0, 2):
    assert all(np.array_equal(a[i], b[i]) for a, b in zip(
        jax.tree_util.tree_leaves(state.ema_g_params), jax.tree_util.tree_leaves(state.g_params)))


@pytest.mark.parametrize('members_as', ['loop', 'vmap'])
@pytest.mark.parametrize('sweep, settings', [
    ('optimizer.g_learning_rate=1e-4,1e-3', [(1e-4, 0.0), (1e-3, 0.0)]),
    ('gan.ema_decay=0,0.9', [(1e-4, 0.0), (1e-4, 0.9)]),
])
def test_members_equal_their_settings_trained_alone(tmp_path, solo_states, sweep, settings,
                                                   members_as):
  """Run one after another in the program (loop, CPU's default), members are solo runs bit
  for bit. Batched (vmap, the accelerators' default) their convolutions reduce in another
  order: measured on CPU, 2 members, the largest difference of any array after 8 steps is
  about 1e-7 (one float32 ulp of the weights); the bound leaves headroom. (XLA:CPU batches a
  program of 4 members' convolutions yet another way, and 8 steps of GAN training grow
  that last-bit difference to ~1e-3, as for a vmapped population of 4 seeds.)
  """
  config = _config(sweep)
  config.train.members_as = members_as
  state = train.train_and_evaluate(config, tmp_path / 'sweep')
  for i, (lr, ema) in enumerate(settings):
    if (lr, ema) not in solo_states:
      config = _config()
      config.optimizer.g_learning_rate, config.gan.ema_decay = lr, ema
      solo_states[lr, ema] = train.train_and_evaluate(config, tmp_path / f'solo{i}')
    solo = solo_states[lr, ema]
    member = jax.tree_util.tree_map(lambda x, i=i: x[i], state)
    if solo.ema_g_params is None and member.ema_g_params is not None:
      member = member.replace(ema_g_params=None)
    assert _worst(member, solo) <= (0.0 if members_as == 'loop' else 1e-6)


def test_a_member_loads_as_a_run_of_its_own(swept):
  workdir, state = swept
  with pytest.raises(JaxganError, match='holds a sweep; load one member'):
    sampling.load_run(workdir)
  # The member without an EMA of its own draws with G's weights, as a solo run does.
  run = sampling.load_run(workdir / POINTS[2] / 'seed_0')
  member = jax.tree_util.tree_map(lambda x: x[2], state)
  assert run.config.gan.ema_decay == 0.0
  assert _worst(gan_lib.sample_params(run.state), member.g_params) == 0.0


def test_a_member_whose_clipping_is_off_loads_as_a_run_of_its_own(tmp_path):
  config = _config('optimizer.grad_clip_norm=0,1')
  config.train.num_steps = 2
  state = train.train_and_evaluate(config, tmp_path)
  run = sampling.load_run(tmp_path / 'grad_clip_norm=0' / 'seed_0')
  assert run.config.optimizer.grad_clip_norm == 0.0 and int(run.state.step) == 2
  member = jax.tree_util.tree_map(lambda x: x[0], state)
  assert _worst(run.state.g_params, member.g_params) == 0.0


def test_each_member_takes_the_first_adam_step_at_its_own_rate():
  """Two members, same seed, G rates 1e-4 and 1e-2: G's first update is Adam's of each rate."""
  config = _config()
  rates = (1e-4, 1e-2)
  grid = [{'optimizer.g_learning_rate': r} for r in rates]
  gan = gan_lib.make_gan(config, sweep=grid)
  keys = gan_lib.rngs(config.seed)
  dataset = input_pipeline.load_dataset(config.data)
  data = {'image': jnp.asarray(dataset.images), 'label': jnp.asarray(dataset.labels)}
  init = gan_lib.init_state(gan, keys['init'])
  both = lambda x: jnp.stack([x, x])
  chunk = update.make_train_chunk(gan, config.train.batch_size, num_members=2, how='vmap')
  new, _ = chunk(jax.tree_util.tree_map(both, init), data, both(keys['data']),
                 both(keys['step']), 1, {'g_learning_rate': jnp.asarray(rates, jnp.float32)})
  # G's gradient, from the same step with plain SGD: its update is -rate x the gradient.
  # (G's update is the step's last: nothing else sees it. The large rate keeps
  # tiny gradients above the weights' float32 spacing.)
  sgd_rate = 1e4
  sgd = dataclasses.replace(gan, g_tx=optax.sgd(sgd_rate))
  plain, _ = update.make_train_chunk(sgd, config.train.batch_size)(
      gan_lib.init_state(gan, keys['init']), data, keys['data'], keys['step'], 1)
  grads = jax.tree_util.tree_map(lambda a, b: (a - b) / sgd_rate, init.g_params, plain.g_params)
  for i, rate in enumerate(rates):
    tx = optax.adam(rate, b1=config.optimizer.b1, b2=config.optimizer.b2, eps=config.optimizer.eps)
    expected, _ = tx.update(grads, tx.init(init.g_params), init.g_params)
    got = jax.tree_util.tree_map(lambda a, b, i=i: a[i] - b, new.g_params, init.g_params)
    for e, g in zip(jax.tree_util.tree_leaves(expected), jax.tree_util.tree_leaves(got)):
      np.testing.assert_allclose(g, e, rtol=1e-3, atol=rate * 1e-3)
  # D's rate was not swept: both members update D alike.
  assert _worst(jax.tree_util.tree_map(lambda x: x[0], new.d_params),
                jax.tree_util.tree_map(lambda x: x[1], new.d_params)) == 0.0


def test_a_swept_switch_that_is_off_leaves_its_member_alone(config):
  """Weight clip 0 beside 0.01 in one program: the first member's D is not clipped."""
  config.gan.weight_clip = 0.0
  config.optimizer.d_learning_rate = 0.05   # moves some of D's weights past 0.01
  gan = gan_lib.make_gan(config, sweep=[{'gan.weight_clip': c} for c in (0.0, 0.01)])
  keys = gan_lib.rngs(config.seed)
  dataset = input_pipeline.load_dataset(config.data)
  data = {'image': jnp.asarray(dataset.images), 'label': jnp.asarray(dataset.labels)}
  both = lambda x: jnp.stack([x, x])
  chunk = update.make_train_chunk(gan, config.train.batch_size, num_members=2)
  new, _ = chunk(jax.tree_util.tree_map(both, gan_lib.init_state(gan, keys['init'])), data,
                 both(keys['data']), both(keys['step']), 1,
                 {'weight_clip': jnp.asarray([0.0, 0.01], jnp.float32)})
  largest = [max(float(jnp.max(jnp.abs(x[i]))) for x in jax.tree_util.tree_leaves(new.d_params))
             for i in (0, 1)]
  assert largest[0] > 0.01 and largest[1] <= 0.01


def _data(config):
  dataset = input_pipeline.load_dataset(config.data)
  return {'image': jnp.asarray(dataset.images), 'label': jnp.asarray(dataset.labels)}


def _compared(state):
  """The parts every member has whatever its switches: parameters, and ADA's probability."""
  return (state.g_params, state.d_params, getattr(state, 'augment_p', None))


# Member 0 is the config itself; member 1 changes every key of its group at once, so a key
# whose value did not reach member 1 leaves it unequal to its settings trained alone. The
# groups keep apart what would hide another key's effect: RMSProp's decay needs RMSProp,
# ADA's target needs augmentation; the weight clip (0.05) bounds only the tail of D's
# initial weights, so the penalties still move the rest.
_GROUPS = {
    'adam': ({}, {'optimizer.g_learning_rate': (1e-4, 1e-3),
                  'optimizer.d_learning_rate': (1e-3, 1e-4),
                  'optimizer.b1': (0.9, 0.5),
                  'optimizer.b2': (0.999, 0.5),
                  'optimizer.grad_clip_norm': (0.0, 0.01)}),
    'gan': ({'gan.drop_worst_images': 1}, {'gan.ema_decay': (0.0, 0.9),
                 'gan.gradient_penalty': (0.0, 10.0),
                 'gan.r1_gamma': (0.0, 10.0),
                 'gan.drop_worst': (0.0, 0.5),
                 'gan.weight_clip': (0.0, 0.05),
                 'gan.real_label': (1.0, 0.9),
                 'gan.mode_seeking': (0.0, 1.0)}),
    'rmsprop': ({'optimizer.name': 'rmsprop'}, {'optimizer.rmsprop_decay': (0.9, 0.99)}),
    'ada': ({'gan.augment': 'translation'}, {'gan.augment_target': (0.3, 0.9)}),
    'codes': ({'gan.latent_codes': 3, 'gan.continuous_codes': 2},
              {'gan.code_weight': (0.0, 2.0), 'gan.continuous_weight': (3.0, 0.0)}),
}
# The same keys in the tutorial's update order: simultaneous_update reads gan.hyper through
# its own path (its penalty, G's loss on D's one fake pass), which the groups above never take.
_IN_ORDER = {'gan_simultaneous': ({**_GROUPS['gan'][0], 'gan.update_order': 'simultaneous'},
                                  _GROUPS['gan'][1])}


def test_the_groups_cover_every_sweepable_key():
  assert sorted(k for _, keys in _GROUPS.values() for k in keys) == sorted(hyper.IN_PROGRAM)


@pytest.mark.parametrize('group', list(_GROUPS) + list(_IN_ORDER))
def test_every_sweepable_key_reaches_its_member(config, group):
  """Two members of one program, 3 steps: each is its values trained alone (0 as off)."""
  changes, keys = {**_GROUPS, **_IN_ORDER}[group]
  set_keys(config, changes)
  config.optimizer.eps = 1e-4   # as in _config: no amplified last bits
  config.optimizer.d_learning_rate = 1e-3
  data, rngs = _data(config), gan_lib.rngs(config.seed)
  grid = [{k: v[i] for k, v in keys.items()} for i in (0, 1)]
  gan = gan_lib.make_gan(config, sweep=grid)
  two = lambda x: jnp.stack([x, x])
  chunk = update.make_train_chunk(gan, config.train.batch_size, num_members=2, how='loop')
  swept, _ = chunk(jax.tree_util.tree_map(two, gan_lib.init_state(gan, rngs['init'])), data,
                   two(rngs['data']), two(rngs['step']), 3,
                   {hyper.IN_PROGRAM[k]: jnp.asarray(v, jnp.float32) for k, v in keys.items()})
  members = [jax.tree_util.tree_map(lambda x, i=i: x[i], swept) for i in (0, 1)]
  for member, point in zip(members, grid):
    alone = gan_lib.make_gan(hyper.apply(config, point))
    solo, _ = update.make_train_chunk(alone, config.train.batch_size)(
        gan_lib.init_state(alone, rngs['init']), data, rngs['data'], rngs['step'], 3)
    # A member's program takes its values as arrays, its solo run as constants: XLA rounds
    # them differently, and where BatchNorm's backward pass cancels a gradient to nearly 0
    # Adam's normalised step keeps some of that rounding (seen: 7e-6 at rate 1e-3 on an AMD
    # EPYC machine, none on an Intel Xeon). A value that did not reach its member moves the
    # weights by 1.6e-4 or more (b2 the least).
    assert _worst(_compared(member), _compared(solo)) <= 2e-5
    if solo.ema_g_params is not None:
      assert _worst(member.ema_g_params, solo.ema_g_params) <= 2e-5
  # The values make a difference (ADA's target may leave p alike over 3 steps).
  if group != 'ada':
    assert _worst(_compared(members[0]) + (members[0].ema_g_params,),
                  _compared(members[1]) + (members[1].ema_g_params,)) > 1e-6


@pytest.mark.parametrize('text, message', [
    ('optimizer.g_learning_rate', "each part is key=v1,v2,..."),
    ('optimizer.g_learning_rate=1e-4,', 'has an empty value'),
    ('optimizer.g_learning_rate=1e-4,fast', "wants numbers, not 'fast'"),
    ('optimizer.b1=0.5;optimizer.b1=0.9', 'is named twice'),
    ('optimizer.b1=0.5,0.5', 'lists a value twice'),
    ('gan.augment_target=0,0.6', 'turns a part of the state off'),
    ('model.latent_dim=8,16', 'model.latent_dim changes the program'),
    ('loss=1,2', 'loss changes the program'),
    ('optimizer.g_learnig_rate=1e-4', "did you mean 'optimizer.g_learning_rate'"),
])
def test_a_bad_sweep_is_refused_in_words(config, text, message):
  with pytest.raises(ConfigError, match=message.replace('(', r'\(').replace('.', r'\.')):
    hyper.parse(text, config)


def test_a_member_value_its_key_refuses_is_refused_before_anything_is_written(config, tmp_path):
  config.sweep = 'optimizer.b1=0.5,1.5'
  with pytest.raises(ConfigError, match=r'optimizer.b1 must be in \[0, 1\), not 1.5'):
    train.train_and_evaluate(config, tmp_path / 'run')
  assert not (tmp_path / 'run').exists()


def test_a_key_the_optimizer_does_not_read_is_refused(config):
  config.optimizer.name = 'rmsprop'
  with pytest.raises(ConfigError, match="optimizer.b1 has no effect with optimizer.name='rmsprop'"):
    hyper.parse('optimizer.b1=0.5,0.9', config)
  config.optimizer.name = 'adam'
  with pytest.raises(ConfigError, match="rmsprop_decay has no effect with optimizer.name='adam'"):
    hyper.parse('optimizer.rmsprop_decay=0.9,0.99', config)
  with pytest.raises(ConfigError, match='code_weight has no effect without codes'):
    hyper.parse('gan.code_weight=0.5,1', config)
  config.gan.latent_codes = 10
  assert hyper.parse('gan.code_weight=0.5,1', config) == [('gan.code_weight', (0.5, 1.0))]
  with pytest.raises(ConfigError, match='continuous_weight has no effect without continuous'):
    hyper.parse('gan.continuous_weight=0.5,1', config)
  config.gan.continuous_codes = 2
  assert hyper.parse('gan.continuous_weight=0,1', config) == [('gan.continuous_weight',
                                                                (0.0, 1.0))]


def test_an_old_workdir_does_not_take_a_sweep(config, tmp_path):
  saved = config.copy_and_resolve_references()
  with saved.unlocked():
    del saved['sweep']   # written before the key existed
  checkpointing.check_compatible(saved, config, tmp_path)
  config.sweep = 'optimizer.b1=0.5,0.9'
  with pytest.raises(JaxganError, match="sweep: '' -> 'optimizer.b1=0.5,0.9'"):
    checkpointing.check_compatible(saved, config, tmp_path)


def test_grid_points_and_their_folder_names():
  grid = [('optimizer.g_learning_rate', (1e-4, 2e-4)), ('gan.ema_decay', (0.0, 0.999, 0.9999))]
  points = hyper.points(grid)
  assert len(points) == 6 and points[1] == {'optimizer.g_learning_rate': 1e-4,
                                            'gan.ema_decay': 0.999}
  names = [hyper.point_name(p) for p in points]
  assert names[1] == 'g_learning_rate=0.0001,ema_decay=0.999' and len(set(names)) == 6
  assert hyper.parse_point_name(names[1]) == {'g_learning_rate': 1e-4, 'ema_decay': 0.999}
  assert hyper.parse_point_name('seed_0') is None
  # Names are exact: values that print alike at 6 digits still get folders of their own.
  close = [hyper.point_name({'optimizer.g_learning_rate': v}) for v in (1e-4, 1.0000001e-4)]
  assert close[0] != close[1]
  assert [hyper.parse_point_name(n)['g_learning_rate'] for n in close] == [1e-4, 1.0000001e-4]


def _cli(*args):
  return subprocess.run([sys.executable, '-m', 'jaxgan.main', '--config', 'configs/test.py',
                         *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_command_line_refuses_a_structural_key_with_one_line(tmp_path):
  proc = _cli('--workdir', str(tmp_path / 'w'), '--config.sweep=model.latent_dim=8,16')
  assert proc.returncode == 2 and 'Traceback' not in proc.stderr
  assert proc.stderr.strip().splitlines() == [
      'jaxgan: error: sweep: model.latent_dim changes the program (shapes or code), so it cannot '
      f'be swept in one program; sweepable keys: {", ".join(hyper.IN_PROGRAM)}']
  assert not (tmp_path / 'w').exists()


def test_an_unknown_key_gets_the_suggestion_of_an_override(tmp_path):
  swept = _cli('--workdir', str(tmp_path / 'w'), '--config.sweep=optimizer.g_learnig_rate=1,2')
  override = _cli('--workdir', str(tmp_path / 'w'), '--config.optimizer.g_learnig_rate=1')
  assert swept.returncode == override.returncode == 2
  assert swept.stderr.strip() == override.stderr.strip() == (
      "jaxgan: error: unknown config key 'optimizer.g_learnig_rate' "
      "(did you mean 'optimizer.g_learning_rate'?)")


class _Halt(Exception):
  pass


def _halt_at(step):
  def on_checkpoint(s):
    if s == step:
      raise _Halt()
  return on_checkpoint


def test_an_interrupted_sweep_resumes_to_the_uninterrupted_one(swept, tmp_path):
  workdir, _ = swept
  with pytest.raises(_Halt):
    train.train_and_evaluate(_config(SWEEP), tmp_path, on_checkpoint=_halt_at(4))
  assert all(checkpointing.committed_steps(tmp_path / p / 'seed_0' / 'checkpoints') == [4]
             for p in POINTS)
  train.train_and_evaluate(_config(SWEEP), tmp_path)
  timing = ('steps_per_sec',)
  for point in POINTS:
    a, b = workdir / point / 'seed_0', tmp_path / point / 'seed_0'
    assert fingerprint.read(a) == fingerprint.read(b) and len(fingerprint.read(a)) == 2
    strip = lambda rs: [{k: v for k, v in r.items() if k not in timing} for r in rs]
    assert strip(metric_writers.read_metrics(a)) == strip(metric_writers.read_metrics(b))
  # The reproducibility tool compares members as it compares solo runs: the same member
  # agrees with itself resumed, two points differ from their first fingerprint.
  compare = lambda a, b: repro('--compare', str(a), str(b))
  same = compare(workdir / POINTS[1] / 'seed_0', tmp_path / POINTS[1] / 'seed_0')
  assert same.returncode == 0 and json.loads(same.stdout)['first_divergence'] is None
  other = compare(workdir / POINTS[0] / 'seed_0', workdir / POINTS[1] / 'seed_0')
  assert other.returncode == 1 and json.loads(other.stdout)['first_divergence'] == 4


def test_resuming_with_another_sweep_is_refused(swept):
  workdir, _ = swept
  config = _config(SWEEP)
  config.sweep = 'optimizer.g_learning_rate=1e-4,1e-3'
  # The refusal names the flag that sets the run's own sweep back, quoted for the shell.
  back = re.escape(f"resume it with its own settings (--config.sweep='{SWEEP}')")
  with pytest.raises(JaxganError, match=f"different architecture .*sweep: .*{back}"):
    train.train_and_evaluate(config, workdir)


def test_a_run_without_a_sweep_is_told_the_empty_one():
  """A run started without a sweep and resumed with one is told to set it back to empty,
  as the shell must see it; derived settings and structures get no flag."""
  diffs = {'sweep': ('', SWEEP), 'model.image_shape': ([28, 28, 1], [32, 32, 3]),
           'optimizer.g_learning_rate': (0.0002, 0.001)}
  own = {'sweep': SWEEP, 'model.image_shape': [32, 32, 3], 'optimizer.g_learning_rate': 0.001}
  assert checkpointing._restoring_flags(diffs, own) == (
      "--config.sweep='' --config.optimizer.g_learning_rate=0.0002")


def _metrics(folder, fids):
  folder.mkdir(parents=True)
  lines = [{'step': 10 * (i + 1), 'd_loss': 1.0} for i in range(len(fids))]
  lines += [{'step': 10 * (i + 1), 'fid': f} for i, f in enumerate(fids)]
  (folder / metric_writers.METRICS_FILE).write_text(''.join(json.dumps(r) + '\n' for r in lines))


def test_summarize_ranks_hand_made_members(tmp_path):
  a = 'g_learning_rate=0.0001,ema_decay=0'
  b = 'g_learning_rate=0.0001,ema_decay=0.999'
  c = 'g_learning_rate=0.001,ema_decay=0'
  d = 'g_learning_rate=0.001,ema_decay=0.999'
  _metrics(tmp_path / a / 'seed_0', [30.0, 20.0, 12.0])
  _metrics(tmp_path / a / 'seed_1', [30.0, 8.0, 10.0])
  _metrics(tmp_path / b / 'seed_0', [9.0, 8.0])
  _metrics(tmp_path / b / 'seed_1', [7.0, 6.0])
  _metrics(tmp_path / c / 'seed_0', [])
  _metrics(tmp_path / d / 'seed_0', [50.0, 40.0])
  _metrics(tmp_path / d / 'seed_1', [50.0, 45.0])
  (tmp_path / 'not_a_member' / 'seed_0').mkdir(parents=True)

  rows = sweep_report.summarize(tmp_path)
  assert [r['point'] for r in rows] == [b, a, d, c]
  assert rows[0]['final_fid'] == pytest.approx({'mean': 7.0, 'std': math.sqrt(2.0)})
  # Point a reached step 30, the others step 20: all are ranked at step 20.
  assert rows[1]['step'] == 20 and rows[1]['final_fid']['mean'] == pytest.approx(14.0)
  assert rows[1]['best_fid'] == pytest.approx({'mean': 14.0, 'std': math.sqrt(72.0)})
  assert rows[1]['per_seed']['1'] == {'final_fid': 8.0, 'best_fid': 8.0}
  assert rows[0]['values'] == {'g_learning_rate': 1e-4, 'ema_decay': 0.999}
  assert rows[3]['final_fid']['mean'] is None and rows[2]['step'] == 20

  proc = subprocess.run([sys.executable, '-m', 'jaxgan.sweep', '--summarize', str(tmp_path)],
                        cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr
  lines = proc.stdout.splitlines()
  assert lines[1].split()[:2] == ['1', b] and '7.00 +/- 1.41' in lines[1]
  assert lines[4].split()[:2] == ['4', c] and 'not evaluated yet' in lines[4]
  saved = json.loads((tmp_path / sweep_report.SUMMARY_FILE).read_text())
  assert [r['point'] for r in saved['ranking']] == [b, a, d, c]
  assert (tmp_path / sweep_report.PLOT_FILE).stat().st_size > 0


def test_summarize_of_a_folder_without_members_is_one_line(tmp_path):
  proc = subprocess.run([sys.executable, '-m', 'jaxgan.sweep', '--summarize', str(tmp_path)],
                        cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 1 and 'Traceback' not in proc.stderr
  assert proc.stderr.strip().splitlines() == [
      f'jaxgan: error: {tmp_path} holds no sweep members (folders POINT/seed_S with '
      'metrics.jsonl)']
