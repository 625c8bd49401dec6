"""The throughput benchmark runs and reports what it measured.

Its timings are not asserted: the `_smoke` tests check that it runs and that its
report is consistent with itself. Its FLOP count, the one figure that can be
checked against an independent count, is checked on a dense layer.
"""
import json
import os
import subprocess
import sys

import flax.linen
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import ROOT
from jaxgan import cpu_threefry
from jaxgan import xla_defaults


def _run_lines(*extra, env=None, steps=('--steps', '4'), keras=False):
  proc = subprocess.run([sys.executable, 'benchmarks/throughput.py', '--config', 'configs/test.py',
                         *steps, '--num_examples', '256', '--config.train.batch_size=16',
                         *([] if keras else ['--nokeras']), *extra],
                        cwd=ROOT, capture_output=True, text=True, timeout=600,
                        env=dict(os.environ, JAX_PLATFORMS='cpu', **(env or {})))
  assert proc.returncode == 0, proc.stderr
  return [line for line in proc.stdout.splitlines() if line.startswith('{')], proc.stderr


def _run(*extra, **kwargs):
  lines, stderr = _run_lines(*extra, **kwargs)
  return json.loads(lines[-1]), stderr


def test_throughput_prints_one_json_line_smoke():
  report, _ = _run('--notorch')
  assert report['batch'] == 16 and report['steps'] == 4 and report['steps_per_jit'] == 2
  assert report['steps_per_sec'] > 0 and report['finite_losses']
  assert report['images_per_sec'] == pytest.approx(report['steps_per_sec'] * 16)
  # The step's convolutions alone are several MFLOP per image.
  assert report['gflop_per_step'] > 16 * 1e6 / 1e9
  assert report['tflop_per_sec'] == pytest.approx(
      report['gflop_per_step'] * report['steps_per_sec'] / 1e3)
  assert report['overrides'] == ['--config.train.batch_size=16']
  assert report['torch_port'] is None and report['speedup_vs_torch'] is None
  assert report['keras_tutorial'] is None and report['speedup_vs_keras'] is None


def test_default_steps_fit_the_backend_and_progress_goes_to_stderr_smoke():
  # A CPU times 60 steps (30 dispatches of 2), not an accelerator's 1,000.
  report, stderr = _run('--notorch', steps=())
  assert report['steps'] == 60
  lines = [l for l in stderr.splitlines() if l.startswith('throughput: jaxgan: ')]
  assert lines and lines[-1].startswith('throughput: jaxgan: 60/60 steps, ')
  counts = [int(l.split(': ')[2].split('/')[0]) for l in lines]
  assert counts == sorted(counts) and all(c % 2 == 0 for c in counts)


def test_members_in_one_program_are_reported_beside_one_smoke():
  report, _ = _run('--notorch', '--members', '3')
  one = report['one_member']
  assert report['members'] == 3 and report['finite_losses'] and one['images_per_sec'] > 0
  # On CPU the members run one after another: three members' step does three times the
  # arithmetic of one member's.
  assert report['members_as'] == 'loop'
  assert report['gflop_per_step'] == pytest.approx(3 * one['gflop_per_step'], rel=0.05)


def test_torch_port_and_keras_tutorial_run_beside_and_report_the_ratios_smoke():
  pytest.importorskip('torch', reason='PyTorch is not installed (pip install torch)')
  pytest.importorskip('tensorflow', reason='TensorFlow is not installed')
  report, stderr = _run(keras=True)
  port, keras = report['torch_port'], report['keras_tutorial']
  assert port['device'] == 'cpu' and port['steps'] == 4 and port['finite_losses']
  assert report['speedup_vs_torch'] == pytest.approx(report['steps_per_sec']
                                                     / port['steps_per_sec'])
  assert keras['device'] == 'cpu' and keras['steps'] == 4 and keras['finite_losses']
  assert report['speedup_vs_keras'] == pytest.approx(report['steps_per_sec']
                                                     / keras['steps_per_sec'])
  for label in ('jaxgan', 'PyTorch port', 'Keras tutorial'):
    assert f'throughput: {label}: 4/4 steps, ' in stderr


def test_without_torch_the_port_is_skipped_with_a_message(tmp_path):
  # A `torch` that fails to import stands in for a machine without PyTorch.
  (tmp_path / 'torch').mkdir()
  (tmp_path / 'torch' / '__init__.py').write_text('raise ImportError("no torch here")\n')
  report, stderr = _run(env={'PYTHONPATH': str(tmp_path)})
  assert report['torch_port'] is None
  assert 'PyTorch is not installed, so the port is skipped' in stderr


def test_a_config_the_peers_cannot_run_is_skipped_with_its_reason():
  pytest.importorskip('torch', reason='PyTorch is not installed (pip install torch)')
  report, stderr = _run('--config.loss=hinge', keras=True)
  assert report['torch_port'] is None and report['keras_tutorial'] is None
  assert 'the port has no equivalent of loss, so it is skipped' in stderr
  assert 'the Keras tutorial has no equivalent of loss, so it is skipped' in stderr


def test_a_variant_the_port_cannot_run_gets_no_port_figure_beside_one_it_can():
  pytest.importorskip('torch', reason='PyTorch is not installed (pip install torch)')
  lines, stderr = _run_lines('--variants',
                             'gan.update_order=simultaneous;gan.update_order=alternating')
  simultaneous, alternating = map(json.loads, lines)
  assert simultaneous['overrides'][-1] == 'gan.update_order=simultaneous'
  assert simultaneous['torch_port'] is None and simultaneous['speedup_vs_torch'] is None
  assert 'the port has no equivalent of gan.update_order, so it is skipped' in stderr
  # The port ports the alternating order: timed for that variant, after the other.
  assert alternating['torch_port']['steps'] == 4
  assert alternating['speedup_vs_torch'] == pytest.approx(
      alternating['steps_per_sec'] / alternating['torch_port']['steps_per_sec'])


def test_profile_writes_a_trace_and_prints_where_the_time_goes(tmp_path):
  _, stderr = _run('--notorch', '--profile', str(tmp_path / 'trace'))
  assert list((tmp_path / 'trace').rglob('*.xplane.pb'))
  assert list((tmp_path / 'trace').rglob('perfetto_trace.json.gz'))
  # 3 dispatches of 2 steps are profiled.
  assert 'us/step over 6 steps; largest:' in stderr


def test_variants_are_timed_in_one_process_one_line_each():
  proc_lines, _ = _run_lines('--notorch', '--variants',
                          'train.steps_per_jit=1;train.steps_per_jit=4,jax.default_prng_impl=rbg')
  first, second = (json.loads(line) for line in proc_lines)
  assert first['steps_per_jit'] == 1 and first['steps'] == 4
  assert second['steps_per_jit'] == 4 and second['steps'] == 4
  assert first['overrides'][-1] == 'train.steps_per_jit=1'
  assert second['overrides'][-2:] == ['train.steps_per_jit=4', 'jax.default_prng_impl=rbg']
  assert second['finite_losses']


def test_an_unknown_variant_key_is_one_error():
  proc = subprocess.run([sys.executable, 'benchmarks/throughput.py', '--config', 'configs/test.py',
                         '--steps', '1', '--notorch', '--variants', 'train.no_such_key=1'],
                        cwd=ROOT, capture_output=True, text=True, timeout=600,
                        env=dict(os.environ, JAX_PLATFORMS='cpu'))
  assert proc.returncode != 0 and 'the config has no train.no_such_key' in proc.stderr


def test_profile_summary_adds_device_time_per_kernel():
  sys.path.insert(0, str(ROOT / 'benchmarks'))
  import profile_summary  # pylint: disable=g-import-not-at-top
  events = [
      {'ph': 'M', 'pid': 1, 'name': 'process_name', 'args': {'name': '/host:CPU'}},
      {'ph': 'M', 'pid': 2, 'name': 'process_name', 'args': {'name': '/device:GPU:0'}},
      {'ph': 'X', 'pid': 1, 'name': 'PjitFunction', 'dur': 1000.0},   # host: not counted
      {'ph': 'X', 'pid': 2, 'name': 'conv', 'dur': 30.0},
      {'ph': 'X', 'pid': 2, 'name': 'conv', 'dur': 50.0},
      {'ph': 'X', 'pid': 2, 'name': 'fusion', 'dur': 20.0},
  ]
  times = profile_summary.kernel_times(events)
  assert times == {'conv': (80.0, 2), 'fusion': (20.0, 1)}
  rows = profile_summary.summarize(times, steps=2)
  assert rows == [('conv', 40.0, 0.8, 1.0), ('fusion', 10.0, 0.2, 0.5)]
  # Without device timelines (a CPU run) the host's events are the ones counted.
  assert profile_summary.kernel_times(events[:1] + events[2:3]) == {'PjitFunction': (1000.0, 1)}


def test_step_flops_counts_a_dense_layer_as_2mnk():
  """The benchmark's FLOP count (XLA's cost analysis of the lowered step), against a hand count:
  x (m, k) @ W (k, n) is m*n*k multiply-adds."""
  sys.path.insert(0, str(ROOT / 'benchmarks'))
  import throughput  # pylint: disable=g-import-not-at-top
  m, k, n = 8, 48, 48

  def steps(w, x, data_key, step_key, num_steps):
    # The benchmark's step signature; `num_steps` dense layers unrolled, so a count of
    # more than one step would show.
    del data_key, step_key
    for _ in range(num_steps):
      x = x @ w
    return x

  multi_step = jax.jit(steps, static_argnums=4)
  keys = {'data': jax.random.PRNGKey(0), 'step': jax.random.PRNGKey(1)}
  w, x = jnp.ones((k, n)), jnp.ones((m, k))
  flops = throughput.step_flops(multi_step, w, x, keys)
  assert flops == 2 * m * n * k
  # A Flax dense layer without bias, not square.
  m, k, n = 8, 32, 16
  layer = flax.linen.Dense(n, use_bias=False)
  params = layer.init(jax.random.PRNGKey(2), jnp.ones((m, k)))
  apply = jax.jit(lambda p, x, data_key, step_key, num_steps: layer.apply(p, x),
                  static_argnums=4)
  flops = throughput.step_flops(apply, params, jnp.ones((m, k)), keys)
  assert flops == 2 * m * n * k


def test_keras_tutorial_builds_the_tutorials_models():
  """At configs/mnist.py the peer is the TensorFlow tutorial's model: its page's summaries
  count 2,330,944 parameters in G and 212,865 in D."""
  pytest.importorskip('tensorflow', reason='TensorFlow is not installed')
  sys.path.insert(0, str(ROOT / 'benchmarks'))
  import keras_tutorial  # pylint: disable=g-import-not-at-top
  from helpers import load_config  # pylint: disable=g-import-not-at-top
  config = load_config('mnist')
  assert keras_tutorial.unsupported(config) is None
  generator, discriminator = keras_tutorial.make_models(config)
  assert generator.count_params() == 2_330_944
  assert discriminator.count_params() == 212_865
  assert tuple(generator.output_shape) == (None, 28, 28, 1)
  assert tuple(discriminator.output_shape) == (None, 1)


def test_xla_switches_time_each_setting_in_its_own_process_smoke():
  proc = subprocess.run(
      [sys.executable, 'benchmarks/xla_switches.py', '--rounds', '1', '--steps', '2',
       '--batch', '16', '--settings',
       'xla=;jaxgan=--xla_cpu_enable_fast_min_max=false;bad=--xla_no_such_flag=1;ours=@jaxgan',
       '--', '--config', 'configs/test.py', '--num_examples', '256'],
      cwd=ROOT, capture_output=True, text=True, timeout=600,
      env=dict(os.environ, JAX_PLATFORMS='cpu'))
  assert proc.returncode == 0, proc.stderr
  lines = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith('{')]
  assert [l['setting'] for l in lines] == ['xla', 'jaxgan', 'bad', 'ours']
  assert lines[1]['xla_flags'] == '--xla_cpu_enable_fast_min_max=false'
  # Each setting runs with its flags alone, whatever its name ('xla' is XLA's own
  # defaults, not jaxgan's); the marker @jaxgan stands for jaxgan's, as a user gets them.
  assert [l['effective_xla_flags'] for l in lines[:2]] == ['', lines[1]['xla_flags']]
  if cpu_threefry._replaceable() is not None:  # pylint: disable=protected-access
    # JAX's rolled CPU rule where jaxgan's defaults are off; replaced where they are on.
    assert [l['cpu_threefry'] for l in (lines[0], lines[1], lines[3])] == [False, False, True]
  else:
    assert lines[0]['cpu_threefry'] == lines[3]['cpu_threefry']
  if xla_defaults.jaxlib_verified():
    assert lines[3]['effective_xla_flags'] == xla_defaults.with_defaults('')
  assert all(l['steps_per_sec'] > 0 and l['error'] is None for l in lines[:2] + lines[3:])
  # XLA refuses a flag it does not know: that setting reports an error, the others stand.
  assert lines[2]['steps_per_sec'] is None and lines[2]['error']
  table = proc.stderr[proc.stderr.index('batch 16: median steps/s'):]
  assert 'jaxgan' in table and 'x xla' in table and 'bad' not in table


def test_d_filter_keeps_the_best_scored_of_the_pool():
  sys.path.insert(0, str(ROOT / 'benchmarks'))
  import quality_diagnosis
  logits = [0.3, -2.0, 5.0, 1.0, 0.0, 9.0]   # the last two lie outside a pool of 4
  assert quality_diagnosis.best_scored(logits, 2, 0.5).tolist() == [2, 3]
  assert quality_diagnosis.best_scored(logits, 4, 1.0).tolist() == [2, 3, 0, 1]
  assert sorted(quality_diagnosis.best_scored(logits, 4, 0.8).tolist()) == [0, 2, 3, 4]


def test_code_purity_counts_each_codes_classes():
  sys.path.insert(0, str(ROOT / 'benchmarks'))
  import quality_diagnosis
  # Code 0: classes 1, 1, 2 -> majority 1 (2 of 3); code 1: 1, 1 -> 1 (2 of 2); code 2: none.
  out = quality_diagnosis.code_purity([0, 0, 0, 1, 1], [1, 1, 2, 1, 1], 3, 4)
  assert out['table'] == [[0, 2, 1, 0], [0, 2, 0, 0], [0, 0, 0, 0]]
  assert out['majority'][:2] == [1, 1] and out['share'] == [2 / 3, 1.0, 0.0]
  assert out['purity'] == 4 / 5 and out['covered'] == 1


def test_fid_trend_reads_a_power_law_and_its_asymptote(tmp_path):
  sys.path.insert(0, str(ROOT / 'benchmarks'))
  import fid_trend
  steps = 750 * np.arange(1, 17)
  # A pure power law (floor 0): the slope is the exponent, over 9,000..12,000 it falls by
  # (12/9)^0.5 - 1, which the fit gives back, and a run k times as long falls by as much.
  pure = fid_trend.trend(list(zip(steps, 9.0 * (steps / 1000) ** -0.5)), longer=(4,))
  assert pure['log_slope_second_half'] == pytest.approx(-0.5, abs=1e-6)
  assert pure['variation_last_5'] == pytest.approx((12 / 9) ** 0.5 - 1, rel=1e-6)
  assert pure['variation_last_5_fitted'] == pytest.approx(pure['variation_last_5'], rel=1e-3)
  assert pure['longer']['4'] == pytest.approx(pure['variation_last_5'], rel=1e-3)
  assert pure['fit']['c'] < 0.05 and pure['fit']['alpha'] == pytest.approx(0.5, abs=0.02)
  # An asymptote of 1.5 (and a little noise): the fit finds it within three of its
  # interval's half-widths, and a longer run's last evaluations fall by less.
  noise = np.random.default_rng(0).normal(0, 0.01, steps.size)
  bent = fid_trend.trend(list(zip(steps, 1.5 + 20 * (steps / 1000) ** -0.8 + noise)),
                         longer=(4,))
  fit = bent['fit']
  half_width = (fit['c_high'] - fit['c_low']) / 2
  assert 0 < half_width < 0.1 and abs(fit['c'] - 1.5) < 3 * half_width
  assert fit['alpha'] == pytest.approx(0.8, abs=0.1) and not fit['c_at_floor']
  truth = lambda s: 1.5 + 20 * (s / 1000) ** -0.8
  assert bent['longer']['4'] == pytest.approx(truth(36000) / truth(48000) - 1, rel=0.1)
  assert bent['longer']['4'] < 0.7 * bent['variation_last_5_fitted']
  # No expected FID lies below the floor: bounded there, the same pure law is fitted with
  # c at the floor, which flattens the extrapolated fall.
  bounded = fid_trend.trend(list(zip(steps, 1.0 + 9.0 * (steps / 1000) ** -0.5)), floor=1.0,
                            longer=(4,))
  assert bounded['fit']['c_at_floor'] and bounded['fit']['c'] == 1.0
  with pytest.raises(ValueError, match='at least 5'):
    fid_trend.trend(list(zip(steps[:3], [3.0, 2.0, 1.0])))
  with pytest.raises(ValueError, match='not below every FID'):
    fid_trend.fit_asymptote(steps, 9.0 * (steps / 1000) ** -0.5, floor=5.0)
  # A population's workdir: one line per member in seed order (seed_10 after seed_2),
  # read from the finite fid lines alone, with the run's own floor.
  for s in (0, 2, 10):
    (tmp_path / f'seed_{s}').mkdir()
    lines = [{'step': 1, 'd_loss': 0.5}, {'step': 2, 'fid': float('nan'), 'fid_floor': 1.1}]
    lines += [{'step': int(t), 'fid': float(f), 'fid_floor': 1.1}
              for t, f in zip(steps, 9.0 * (steps / 1000) ** -0.5)]
    (tmp_path / f'seed_{s}' / 'metrics.jsonl').write_text('\n'.join(json.dumps(l) for l in lines))
  files = fid_trend.metrics_files(tmp_path)
  assert [f.parent.name for f in files] == ['seed_0', 'seed_2', 'seed_10']
  points, floor = fid_trend.read_fids(files[0])
  assert len(points) == 16 and floor == 1.1


def test_step_parts_times_each_part_in_jaxgan_and_keras_smoke():
  proc = subprocess.run(
      [sys.executable, 'benchmarks/step_parts.py', '--config', 'configs/test.py', '--batch', '16',
       '--repeats', '1'], cwd=ROOT, capture_output=True, text=True, timeout=600,
      env=dict(os.environ, JAX_PLATFORMS='cpu'))
  assert proc.returncode == 0, proc.stderr
  report = json.loads(proc.stdout.strip().splitlines()[-1])
  parts = ['g_forward', 'g_forward_backward', 'd_forward', 'd_params_grad_2_batches',
           'd_input_grad', 'step']
  # What the process reports on the lowering it timed: unrolled where jaxgan replaces JAX's
  # rolled rule (this process may not have imported jaxgan.gan, which registers it); where
  # JAX keeps its own rule, whatever JAX lowers (a JAX may unroll it already).
  assert report['batch'] == 16
  if cpu_threefry._replaceable() is not None:  # pylint: disable=protected-access
    assert report['cpu_threefry'] is xla_defaults.enabled()
  for side in ('jaxgan_ms', 'keras_ms'):
    assert list(report[side]) == parts and all(v > 0 for v in report[side].values())
  for p in parts:
    assert report['jaxgan_over_keras'][p] == pytest.approx(
        report['jaxgan_ms'][p] / report['keras_ms'][p])


_OUTSIDE_THE_FAMILY = [
    ('gan.n_critic', 2), ('gan.real_label', 0.9), ('gan.gradient_penalty', 10.0),
    ('gan.r1_gamma', 1.0), ('gan.weight_clip', 0.01), ('gan.ema_decay', 0.999),
    ('gan.augment', 'translation'), ('gan.drop_worst', 0.5), ('gan.mode_seeking', 1.0),
    ('gan.latent_codes', 10), ('gan.continuous_codes', 2), ('model.clusters', 10),
    ('optimizer.grad_clip_norm', 1.0), ('optimizer.schedule', 'cosine'),
    ('optimizer.warmup_steps', 100), ('train.num_seeds', 3), ('sweep', 'gan.ema_decay=0,0.9'),
    ('model.spectral_norm', True), ('loss', 'hinge'), ('model.conditional', True),
    ('optimizer.name', 'rmsprop'), ('train.compute_dtype', 'bfloat16'),
]


def test_step_parts_family_names_each_setting_outside_the_tutorials_step():
  sys.path.insert(0, str(ROOT / 'benchmarks'))
  import keras_tutorial  # pylint: disable=g-import-not-at-top
  from helpers import load_config  # pylint: disable=g-import-not-at-top
  assert keras_tutorial.family_gap(load_config('mnist')) is None
  for key, value in _OUTSIDE_THE_FAMILY:
    config = load_config('mnist')
    section, _, name = key.rpartition('.')
    (config[section] if section else config)[name] = value
    why = keras_tutorial.family_gap(config)
    assert why is not None and key in why, (key, why)


@pytest.mark.parametrize('args,named', [
    (['--config', 'configs/mnist_wgan.py'], 'loss'),
    (['--config.optimizer.grad_clip_norm=1'], 'optimizer.grad_clip_norm'),
])
def test_step_parts_refuses_a_config_outside_the_tutorials_family(args, named):
  proc = subprocess.run([sys.executable, 'benchmarks/step_parts.py', *args],
                        cwd=ROOT, capture_output=True, text=True, timeout=600,
                        env=dict(os.environ, JAX_PLATFORMS='cpu'))
  assert proc.returncode != 0 and proc.stdout == ''
  last = proc.stderr.strip().splitlines()[-1]
  assert last.startswith("step_parts: times the tutorial DCGAN's family only: ") and named in last


def test_fid_by_rate_pairs_evaluations_at_equal_learning_rates(tmp_path):
  sys.path.insert(0, str(ROOT / 'benchmarks'))
  import fid_by_rate  # pylint: disable=g-import-not-at-top
  from helpers import load_config  # pylint: disable=g-import-not-at-top
  from jaxgan import checkpointing  # pylint: disable=g-import-not-at-top

  def run(name, num_steps, every, fid_of_step, seeds=(0, 1, 2), **optimizer):
    config = load_config('test')
    config.optimizer.schedule, config.optimizer.final_lr_fraction = 'cosine', 0.1
    config.optimizer.update(optimizer)
    config.train.num_steps = num_steps
    for s in seeds:
      member = tmp_path / name / f'seed_{s}'
      member.mkdir(parents=True)
      checkpointing.save_config(config, member)
      lines = [{'step': t, 'fid': fid_of_step(t) + s, 'fid_floor': 1.0}
               for t in range(every, num_steps + 1, every)]
      (member / 'metrics.jsonl').write_text('\n'.join(json.dumps(l) for l in lines))
    return tmp_path / name

  # The short run every 100 of 1,200 steps, the long one every 400 of 4,800 (the same
  # shares of the run), and one member of the long run evaluated once more, at a rate the
  # short never had: neither a step every member has nor a rate both runs have.
  short = run('short', 1200, 100, lambda t: 10.0 - t / 200)
  long = run('long', 4800, 400, lambda t: 5.0)
  with open(long / 'seed_0' / 'metrics.jsonl', 'a') as f:
    f.write('\n' + json.dumps({'step': 4750, 'fid': 1.0}))
  rows = fid_by_rate.compare(fid_by_rate.run_fids(short), fid_by_rate.run_fids(long))
  assert [(r['step_a'], r['step_b']) for r in rows] == [(100 * k, 400 * k) for k in range(1, 13)]
  # cos(pi * 600 / 1200): half way, the middle of [0.1, 1].
  assert rows[5]['share'] == pytest.approx(0.55, abs=1e-4)
  assert rows[0]['fid_a'] == [9.5, 10.5, 11.5] and rows[0]['mean_a'] == pytest.approx(10.5)
  assert rows[0]['std_a'] == pytest.approx(1.0) and rows[0]['mean_b'] == pytest.approx(6.0)
  assert rows[-1]['b_minus_a'] == pytest.approx(6.0 - (10.0 - 6.0 + 1.0))

  # A run of the short one's length whose decay ends half way and holds: its rates are the
  # short run's at twice the step until then (not at the same share of the run), and each of
  # its evaluations at the held rate pairs with the short run's last, the one evaluation
  # where the short run has that rate.
  held = run('held', 1200, 100, lambda t: 3.0, decay_fraction=0.5)
  rows = fid_by_rate.compare(fid_by_rate.run_fids(short), fid_by_rate.run_fids(held))
  assert [(r['step_a'], r['step_b']) for r in rows] == (
      [(200 * k, 100 * k) for k in range(1, 6)] + [(1200, t) for t in range(600, 1201, 100)])
  # The other way round the held rate is ambiguous (seven evaluations of `held`): unpaired.
  rows = fid_by_rate.compare(fid_by_rate.run_fids(held), fid_by_rate.run_fids(short))
  assert [(r['step_a'], r['step_b']) for r in rows] == [(100 * k, 200 * k) for k in range(1, 6)]

  for name, change, message in [('epochs', {'train.num_steps': 0}, 'epochs'),
                                ('constant', {'optimizer.schedule': 'constant'}, 'constant')]:
    config = load_config('test')
    for key, value in change.items():
      section, field = key.split('.')
      config[section][field] = value
    with pytest.raises(SystemExit, match=message):
      fid_by_rate.rate_share(config)
  # A resume that changed the schedule: one schedule does not describe the run.
  (held / 'seed_0' / checkpointing.HISTORY_FILE).write_text(json.dumps(
      {'step': 300, 'changes': {'optimizer.decay_fraction': [1.0, 0.5]}}))
  with pytest.raises(SystemExit, match='optimizer.decay_fraction'):
    fid_by_rate.run_fids(held)
