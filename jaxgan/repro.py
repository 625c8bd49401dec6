"""Reproducibility harness.

  python -m jaxgan.repro --config configs/test.py [--config.x=...] [--interrupt-at 5]
  python -m jaxgan.repro --compare RUN_A RUN_B

The first form trains the config twice from scratch and once killed (SIGKILL)
right after the checkpoint at the interrupt step and resumed, each run in its
own process, then compares SHA-256 hashes of the final parameters, batch
statistics, optimizer states and the final fixed-noise sample grid. It prints a
table and one JSON line, and exits 0 only when all three runs are identical.
On GPU it runs with --xla_gpu_deterministic_ops=true and times one extra run
without it, to report what determinism costs.

The second form reads the per-checkpoint fingerprints of two workdirs and says
at which checkpoint they first diverged.
"""
import hashlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile

from absl import app
from absl import flags
from ml_collections import config_flags

from jaxgan import cli
from jaxgan import fingerprint
from jaxgan import metric_writers
from jaxgan.errors import JaxganError

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'Training configuration file.', lock_config=True)
flags.DEFINE_integer('interrupt_at', None, 'Step at which the third run is killed '
                     '(default: half of the run). Also accepted as --interrupt-at.')
flags.DEFINE_string('workdir', None, 'Where the runs go (default: a temporary folder, removed).')
flags.DEFINE_bool('compare', False, 'Compare the fingerprints of the two workdirs given as arguments.')

DETERMINISTIC_FLAG = '--xla_gpu_deterministic_ops=true'


def _overrides(argv):
  return [a for a in argv if a.startswith('--config.')]


def _train(config_path, overrides, workdir, extra=(), env=None):
  cmd = [sys.executable, '-m', 'jaxgan.main', '--config', config_path, *overrides,
         '--config.train.progress_bar=False', '--workdir', str(workdir), *extra]
  proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
  return proc


def _check(proc, what):
  if proc.returncode != 0:
    tail = (proc.stderr.strip().splitlines() or ['(no output)'])[-1]
    raise JaxganError(f'{what} failed with exit code {proc.returncode}: {tail}')


def _result(workdir, total):
  prints = fingerprint.read(workdir)
  if not prints or prints[-1]['step'] != total:
    raise JaxganError(f'{workdir} has no fingerprint of the final step {total}')
  grid = pathlib.Path(workdir) / 'samples' / f'step_{total:07d}.png'
  speeds = [r['steps_per_sec'] for r in metric_writers.read_metrics(workdir)[1:]]
  return {**{p: prints[-1][p] for p in fingerprint.PARTS},
          'sample_grid': hashlib.sha256(grid.read_bytes()).hexdigest(),
          'steps_per_sec': sum(speeds) / len(speeds) if speeds else None}


def _environment():
  import jax  # pylint: disable=g-import-not-at-top
  env = dict(os.environ)
  on_gpu = jax.default_backend() == 'gpu'
  if on_gpu:
    env['XLA_FLAGS'] = f'{env.get("XLA_FLAGS", "")} {DETERMINISTIC_FLAG}'.strip()
  return env, on_gpu


def run_harness(config, config_path, overrides, interrupt_at, base):
  """Runs the three trainings in `base`; returns the report (a dict)."""
  from jaxgan import input_pipeline, train  # pylint: disable=g-import-not-at-top
  if config.train.num_seeds > 1 or config.get('sweep', ''):
    raise JaxganError('the harness checks one run: leave train.num_seeds at 1 and sweep empty '
                      '(compare two members with --compare RUN_A RUN_B)')
  total = train.total_steps(config, len(input_pipeline.load_dataset(config.data).images))
  interrupt_at = total // 2 if interrupt_at is None else interrupt_at
  if not 0 < interrupt_at < total:
    raise JaxganError(f'--interrupt-at must lie strictly between 0 and the {total} steps of the run')
  # Every run checkpoints at the interrupt step, so all three dispatch the same chunks.
  overrides = overrides + [f'--config.train.checkpoint_steps=({interrupt_at},)']
  env, on_gpu = _environment()
  runs = {}
  for name in ('a', 'b'):
    proc = _train(config_path, overrides, base / name, env=env)
    _check(proc, f'run {name}')
    runs[name] = _result(base / name, total)
  killed = _train(config_path, overrides, base / 'c', env=env,
                  extra=[f'--halt_after_checkpoint={interrupt_at}'])
  if killed.returncode != -signal.SIGKILL:
    raise JaxganError(f'run c was to be killed after step {interrupt_at} but exited with '
                      f'{killed.returncode}')
  # A config that changes itself between starts (a seed from the clock) must show up as a
  # divergence in the table, not stop the harness at the resume's check of the settings.
  resumed = _train(config_path, overrides, base / 'c', env=env,
                   extra=['--config.train.allow_config_change=True'])
  _check(resumed, 'resumed run c')
  if f'resuming from the checkpoint at step {interrupt_at}' not in resumed.stdout:
    raise JaxganError(f'run c did not resume from step {interrupt_at}')
  runs['c'] = _result(base / 'c', total)
  items = list(fingerprint.PARTS) + ['sample_grid']
  report = {
      'identical': all(runs['a'][k] == runs['b'][k] == runs['c'][k] for k in items),
      'steps': total, 'interrupt_at': interrupt_at, 'killed_with': 'SIGKILL',
      'deterministic_ops': on_gpu,
      'hashes': {k: {n: runs[n][k] for n in runs} for k in items},
      'steps_per_sec': {n: runs[n]['steps_per_sec'] for n in runs},
  }
  if on_gpu:
    plain = _train(config_path, overrides, base / 'nondeterministic', env=dict(os.environ))
    _check(plain, 'timing run without deterministic ops')
    report['steps_per_sec_without_deterministic_ops'] = _result(
        base / 'nondeterministic', total)['steps_per_sec']
  return report


def print_report(report):
  print(f'{"":14s} {"run a":>14s} {"run b":>14s} {"run c (killed)":>14s}  same')
  for item, hashes in report['hashes'].items():
    same = len(set(hashes.values())) == 1
    print(f'{item:14s} ' + ' '.join(f'{h[:12]:>14s}' for h in hashes.values())
          + f'  {"yes" if same else "NO"}')
  print(json.dumps({k: v for k, v in report.items() if k != 'hashes'}))


def main(argv):
  if FLAGS.compare:
    if len(argv) != 3:
      cli.fail('--compare takes two workdirs', 2)
    result = fingerprint.compare(argv[1], argv[2])
    if not result['common_steps']:
      print(json.dumps(result))
      cli.fail('the two workdirs share no fingerprinted step')
    print(json.dumps(result))
    sys.exit(0 if result['first_divergence'] is None else 1)
  if FLAGS.config is None:
    cli.fail('--config is required', 2)
  cli.quiet_logging()
  config_path = FLAGS['config'].config_filename
  try:
    if FLAGS.workdir:
      report = run_harness(FLAGS.config, config_path, _overrides(sys.argv), FLAGS.interrupt_at,
                           pathlib.Path(FLAGS.workdir))
    else:
      with tempfile.TemporaryDirectory() as tmp:
        report = run_harness(FLAGS.config, config_path, _overrides(sys.argv), FLAGS.interrupt_at,
                             pathlib.Path(tmp))
  except JaxganError as e:
    cli.fail(str(e))
  except OSError as e:
    cli.fail(cli.os_error_line(e))
  print_report(report)
  sys.exit(0 if report['identical'] else 1)


if __name__ == '__main__':
  sys.argv = [a.replace('--interrupt-at', '--interrupt_at', 1) if a.startswith('--interrupt-at')
              else a for a in sys.argv]
  app.run(main, flags_parser=cli.parse_flags)
