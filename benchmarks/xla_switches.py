"""XLA's switches, timed one by one on jaxgan's training step.

  python benchmarks/xla_switches.py [--device cpu|gpu] [--rounds 2] [--steps N]
      [--batch 256,64] [--settings 'NAME=FLAGS;...'] [--out FILE.jsonl] [-- THROUGHPUT_ARGS]

XLA reads its flags once, when JAX starts its backend, so each setting runs
benchmarks/throughput.py in a process of its own, with XLA_FLAGS set to the
setting's flags alone (the user's own XLA_FLAGS and jaxgan's defaults left out), except
a setting whose flags are `@jaxgan`: it runs with jaxgan's defaults as a user gets them,
its XLA flags (jaxgan/xla_defaults.py) and its CPU Threefry (jaxgan/cpu_threefry.py, which
every other setting runs without). The settings
take turns round by round, so a machine that slows down mid-run slows all of them
alike. One JSON line per run goes to stdout
(and to --out); at the end a table on stderr gives each setting's median
steps/s and its ratio to the setting named 'xla' (XLA's own defaults). Arguments
after `--` go to throughput.py (`--config.train.compute_dtype=bfloat16`).
Peers are not timed here: throughput.py times them beside jaxgan's defaults.
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys

from jaxgan import xla_defaults

ROOT = pathlib.Path(__file__).resolve().parent.parent
YNN = '--xla_cpu_experimental_ynn_fusion_type'
JAXGAN_DEFAULTS = '@jaxgan'   # a setting's flags that stand for jaxgan's own defaults

CPU_SETTINGS = ';'.join([
    'xla=',
    'jaxgan=@jaxgan',
    'onednn=--xla_cpu_use_onednn=true',
    'onednn_custom_call=--xla_cpu_use_onednn=true --xla_cpu_experimental_onednn_custom_call=true',
    'onednn_fusions=--xla_cpu_use_onednn=true --xla_cpu_experimental_onednn_fusion_type=dot,eltwise,reduce',
    'no_xnnpack=--xla_cpu_use_xnnpack=false',
    'xnn_fusions=--xla_cpu_experimental_xnn_fusion_type=dot,eltwise,reduce',
    'xnn_graph=--xla_cpu_experimental_xnn_graph_fusion_mode=XNN_GRAPH_FUSION_MODE_GREEDY',
    f'ynn_fusions={YNN}=dot,eltwise,reduce',
    # What XLA's default list holds beyond jaxgan's, and none at all.
    f'ynn_convolutions={YNN}=individual_convolution',
    f'ynn_none={YNN}=',
    'one_thread_eigen=--xla_cpu_multi_thread_eigen=false',
    'fast_math=--xla_cpu_enable_fast_math=true',
])
# The GPU's leads (docs/performance.md): command buffers, and what determinism costs.
GPU_SETTINGS = ';'.join([
    'xla=',
    'no_command_buffer=--xla_gpu_enable_command_buffer=',
    'command_buffer_more=--xla_gpu_enable_command_buffer=FUSION,CUBLAS,CUBLASLT,CUDNN,'
    'CUSTOM_CALL,CONDITIONAL,WHILE',
    'latency_hiding=--xla_gpu_enable_latency_hiding_scheduler=true',
    'deterministic=--xla_gpu_deterministic_ops=true',
])


def parse_settings(spec):
  """'a=--x=1 --y=2;b=' -> {'a': '--x=1 --y=2', 'b': ''}."""
  settings = {}
  for item in spec.split(';'):
    if item.strip():
      name, _, flags = item.partition('=')
      settings[name.strip()] = flags.strip()
  return settings


def time_setting(device, flags, batch, steps, extra=()):
  """throughput.py's JSON report of jaxgan alone under XLA_FLAGS=flags, or the error it gave.

  flags == JAXGAN_DEFAULTS: under jaxgan's defaults, as a user gets them.
  """
  ours = flags == JAXGAN_DEFAULTS
  env = dict(os.environ, XLA_FLAGS='' if ours else flags,
             **{xla_defaults.SWITCH: '1' if ours else '0'})
  if device == 'cpu':
    env['JAX_PLATFORMS'] = 'cpu'   # a GPU run takes JAX's own choice of platform
  proc = subprocess.run(
      # The extra arguments first: a --config file must come before overrides of it.
      [sys.executable, 'benchmarks/throughput.py', *extra, '--notorch', '--nokeras',
       '--steps', str(steps), f'--config.train.batch_size={batch}'],
      cwd=ROOT, env=env, capture_output=True, text=True, check=False)
  lines = [l for l in proc.stdout.splitlines() if l.startswith('{')]
  if proc.returncode or not lines:
    # XLA's own fatal line ('F... Check failed', an unknown flag) says more than Python's last.
    errors = proc.stderr.strip().splitlines() or ['no output']
    fatal = [l for l in errors if l.startswith(('F', 'E')) and ']' in l]
    return {'error': (fatal or errors)[-1][:300]}
  return json.loads(lines[-1])


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--device', choices=('cpu', 'gpu'), default='cpu')
  parser.add_argument('--rounds', type=int, default=2)
  parser.add_argument('--steps', type=int, default=0, help='0: 40 on a CPU, 1,000 on a GPU')
  parser.add_argument('--batch', default='256,64')
  parser.add_argument('--settings', default='')
  parser.add_argument('--out', default='')
  args, extra = parser.parse_known_args()
  extra = [a for a in extra if a != '--']
  settings = parse_settings(args.settings or (CPU_SETTINGS if args.device == 'cpu'
                                              else GPU_SETTINGS))
  steps = args.steps or (40 if args.device == 'cpu' else 1000)
  batches = [int(b) for b in args.batch.split(',')]
  speeds = {(name, b): [] for name in settings for b in batches}
  out = open(args.out, 'a', encoding='utf-8') if args.out else None
  for rnd in range(args.rounds):
    for batch in batches:
      for name, flags in settings.items():
        report = time_setting(args.device, flags, batch, steps, extra)
        line = json.dumps({'setting': name, 'xla_flags': flags, 'round': rnd, 'batch': batch,
                           'steps': steps,
                           # What the timed process ran with, as throughput.py read it.
                           'effective_xla_flags': report.get('xla_flags'),
                           'cpu_threefry': report.get('cpu_threefry'),
                           'steps_per_sec': report.get('steps_per_sec'),
                           'compile_and_first_dispatch_s':
                               report.get('compile_and_first_dispatch_s'),
                           'error': report.get('error')})
        print(line, flush=True)
        if out:
          out.write(line + '\n')
          out.flush()
        if 'steps_per_sec' in report:
          speeds[name, batch].append(report['steps_per_sec'])
        else:
          print(f'xla_switches: {name} at batch {batch}: {report["error"]}', file=sys.stderr)
  for batch in batches:
    median = {n: statistics.median(speeds[n, batch]) for n in settings if speeds[n, batch]}
    print(f'batch {batch}: median steps/s over {args.rounds} rounds', file=sys.stderr)
    for name, value in median.items():
      ratios = f'{value / median["xla"]:.3f}x xla' if 'xla' in median else ''
      print(f'  {name:20s} {value:7.3f}  {ratios}', file=sys.stderr)


if __name__ == '__main__':
  main()
