"""Where a step's device time goes, from a jax.profiler trace.

  python benchmarks/profile_summary.py TRACE_DIR --steps N [--top 25]

Reads the Perfetto trace that `jax.profiler.trace(..., create_perfetto_trace=True)`
writes (throughput.py --profile does), adds up the duration of every event on
the device's timelines by name (GPU kernels, or XLA ops on a CPU) and prints
the largest as microseconds per training step, with their share of the total.
"""
import argparse
import collections
import gzip
import json
import pathlib


def _device_pids(events):
  """The trace's device timelines; the host's when it has none (a CPU run)."""
  names = {e['pid']: e['args']['name'] for e in events
           if e.get('ph') == 'M' and e.get('name') == 'process_name'}
  devices = {pid for pid, name in names.items() if '/device:' in name}
  return devices or {pid for pid, name in names.items() if '/host:' in name}


def kernel_times(events):
  """{name: (total microseconds, calls)} over the device timelines' complete events."""
  pids = _device_pids(events)
  totals = collections.defaultdict(lambda: [0.0, 0])
  for e in events:
    if e.get('ph') == 'X' and e.get('pid') in pids:
      totals[e['name']][0] += float(e.get('dur', 0))
      totals[e['name']][1] += 1
  return {name: tuple(v) for name, v in totals.items()}


def summarize(times, steps, top=25):
  """Rows (name, us per step, share of all device time, calls per step), largest first."""
  total = sum(t for t, _ in times.values()) or 1.0
  rows = sorted(times.items(), key=lambda kv: -kv[1][0])[:top]
  return [(name, t / steps, t / total, calls / steps) for name, (t, calls) in rows]


def load_events(trace_dir):
  found = sorted(pathlib.Path(trace_dir).glob('**/perfetto_trace.json.gz'))
  if not found:
    raise SystemExit(f'profile_summary: no perfetto_trace.json.gz under {trace_dir}')
  with gzip.open(found[-1]) as f:
    trace = json.load(f)
  return trace['traceEvents'] if isinstance(trace, dict) else trace


def format_table(times, steps, top=25):
  total = sum(t for t, _ in times.values())
  lines = [f'device time {total / steps:.1f} us/step over {steps} steps; largest:']
  for name, us, share, calls in summarize(times, steps, top):
    lines.append(f'{us:9.1f} us {share:6.1%} {calls:5.1f}x  {name[:110]}')
  return '\n'.join(lines)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('trace_dir')
  parser.add_argument('--steps', type=int, required=True, help='training steps in the trace')
  parser.add_argument('--top', type=int, default=25)
  args = parser.parse_args()
  print(format_table(kernel_times(load_events(args.trace_dir)), args.steps, args.top))


if __name__ == '__main__':
  main()
