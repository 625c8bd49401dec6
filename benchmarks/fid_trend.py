"""Is a run still improving, and would a longer one flatten its last evaluations?

  python benchmarks/fid_trend.py METRICS.jsonl|WORKDIR [...] [--window 5] [--from_step 2000]

For each run's in-loop FIDs (the `fid` lines of metrics.jsonl; a workdir of a
population gives one line per member) prints one JSON line: the FID's variation over
the last `window` evaluations (max/min - 1, what docs/quality.md's targets count),
the slope of log FID against log step over the second half of the run, the variation
that slope alone gives over the same window, and a fit of FID = c + a * step^-alpha
from `from_step` on, with the asymptote c's one-standard-deviation interval (profile
likelihood). Under a pure power law (c = 0) the fall over the last quarter of a run
does not depend on the run's length; only an asymptote above the floor, reached, makes
a longer run's last evaluations flat.
"""
import argparse
import json
import pathlib

import numpy as np


def read_fids(path):
  """[(step, fid)] of one metrics.jsonl, in step order."""
  rows = [json.loads(line) for line in open(path, encoding='utf-8') if '"fid"' in line]
  return sorted((r['step'], r['fid']) for r in rows if r.get('fid') is not None)


def metrics_files(path):
  """A metrics.jsonl itself, a workdir's, or each population member's."""
  path = pathlib.Path(path)
  if path.is_file():
    return [path]
  files = sorted(path.glob('metrics.jsonl')) or sorted(path.glob('seed_*/metrics.jsonl'))
  if not files:
    raise SystemExit(f'fid_trend: no metrics.jsonl in {path}')
  return files


def variation(fids):
  return float(np.max(fids) / np.min(fids) - 1)


def log_slope(steps, fids):
  """d log FID / d log step, least squares."""
  return float(np.polyfit(np.log(steps), np.log(fids), 1)[0])


def _profile(steps, fids, c, alphas):
  """For asymptote c: the least squares (sse, a, alpha) of fid = c + a * step^-alpha.

  a enters linearly, so for each alpha it is solved exactly; alpha is taken from a
  grid, then from a finer one around the best (a coarse alpha would pass its error on
  to the sse, and through it to c's interval).
  """
  y = fids - c
  for _ in range(3):
    x = (steps / 1000.0)[None, :] ** -alphas[:, None]
    a = (x @ y) / np.sum(x * x, axis=1)
    sse = np.sum((y[None, :] - a[:, None] * x) ** 2, axis=1)
    i = int(np.argmin(sse))
    width = alphas[1] - alphas[0]
    best = (float(sse[i]), float(a[i]), float(alphas[i]))
    alphas = np.linspace(alphas[i] - width, alphas[i] + width, 41)
  return best


def fit_asymptote(steps, fids, grid=400):
  """FID = c + a * (step/1000)^-alpha over c in [0, min FID): best c and its 1-sd interval."""
  steps, fids = np.asarray(steps, float), np.asarray(fids, float)
  cs = np.linspace(0.0, 0.995 * fids.min(), grid)
  alphas = np.linspace(0.02, 3.0, 300)
  fits = [_profile(steps, fids, c, alphas) for c in cs]
  sse = np.array([f[0] for f in fits])
  best = int(np.argmin(sse))
  # Profile likelihood: the c whose best fit is within one unit of chi-square,
  # with the noise variance estimated from the best fit's residuals (3 parameters).
  sigma2 = sse[best] / max(len(fids) - 3, 1)
  inside = cs[(sse - sse[best]) / sigma2 <= 1.0]
  return {'c': float(cs[best]), 'c_low': float(inside.min()), 'c_high': float(inside.max()),
          'a': fits[best][1], 'alpha': fits[best][2]}


def trend(points, window=5, from_step=2000):
  """The report of one run's [(step, fid)]."""
  steps = np.array([s for s, _ in points], float)
  fids = np.array([f for _, f in points], float)
  if len(points) < max(window, 4):
    raise ValueError(f'{len(points)} evaluations: at least {max(window, 4)} are needed')
  last = steps[-1]
  half = steps >= last / 2
  slope = log_slope(steps[half], fids[half])
  span = steps[-1] / steps[-window]
  fitted = steps >= from_step
  return {'step': int(last), 'fid': float(fids[-1]),
          f'variation_last_{window}': variation(fids[-window:]),
          'log_slope_second_half': slope,
          f'variation_last_{window}_from_slope': float(span ** -slope - 1),
          'fit': fit_asymptote(steps[fitted], fids[fitted])}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('paths', nargs='+')
  parser.add_argument('--window', type=int, default=5)
  parser.add_argument('--from_step', type=int, default=2000)
  args = parser.parse_args()
  for path in args.paths:
    for f in metrics_files(path):
      report = trend(read_fids(f), args.window, args.from_step)
      print(json.dumps({'metrics': str(f), **report}))


if __name__ == '__main__':
  main()
