"""Is a run still improving, and would a longer one flatten its last evaluations?

  python benchmarks/fid_trend.py METRICS.jsonl|WORKDIR [...] [--window 5] [--from_step 2000]
      [--floor F] [--longer 2,4]

For each run's in-loop FIDs (the finite `fid` values of metrics.jsonl; a population's
workdir gives one line per member) prints one JSON line: the FID's variation over the
last `window` evaluations (max/min - 1, what docs/quality.md's targets count), the slope
of log FID against log step over the second half of the run, and a fit of
FID = c + a * (step/1000)^-alpha from `from_step` on, with c at least the real-vs-real
floor (`--floor`, else the run's own `fid_floor`: no generator's expected FID is below
it). The fit's c interval is where the profile sum of squares rises by less than one
residual variance (about one standard deviation; evaluations of one run are not
independent, so read it as a lower bound on the uncertainty), and `c_at_floor` says
when the best c is the bound itself. From the fit it extrapolates the variation over
the same share of a run `--longer` times as long, evaluated so that its last `window`
evaluations span the same share: an extrapolation along the fitted curve, not a
measurement.
"""
import argparse
import json
import math
import pathlib
import re

import numpy as np

from jaxgan import files
from jaxgan.errors import JaxganError


def read_fids(path):
  """[(step, fid)] of one metrics.jsonl, finite values in step order; and its floor, if any.

  Read as the trainer reads its own records: a last line cut off mid-write is dropped.
  """
  points, floor = [], None
  for row in files.read_jsonl(path):
    value = row.get('fid')
    if isinstance(value, (int, float)) and math.isfinite(value):
      points.append((row['step'], float(value)))
      floor = row.get('fid_floor', floor)
  return sorted(points), floor


def _member_number(path):
  match = re.search(r'(\d+)$', path.parent.name)
  return (int(match.group(1)) if match else -1, str(path))


def metrics_files(path):
  """A metrics.jsonl itself, a workdir's, or each population member's in seed order."""
  path = pathlib.Path(path)
  if path.is_file():
    return [path]
  files = (sorted(path.glob('metrics.jsonl'))
           or sorted(path.glob('seed_*/metrics.jsonl'), key=_member_number))
  if not files:
    raise SystemExit(f'fid_trend: no metrics.jsonl in {path} or its seed_* folders')
  return files


def variation(fids):
  return float(np.max(fids) / np.min(fids) - 1)


def log_slope(steps, fids):
  """d log FID / d log step, least squares."""
  return float(np.polyfit(np.log(steps), np.log(fids), 1)[0])


def _profile(steps, fids, c, alphas):
  """For asymptote c: the least squares (sse, a, alpha) of fid = c + a * step^-alpha.

  a enters linearly, so for each alpha it is solved exactly; alpha is taken from a
  grid, then from finer ones around the best (a coarse alpha would pass its error on
  to the sse, and through it to c's interval).
  """
  y = fids - c
  t = (steps / 1000.0)[None, :]
  for _ in range(3):
    x = t ** -alphas[:, None]
    a = (x @ y) / np.sum(x * x, axis=1)
    sse = np.sum((y[None, :] - a[:, None] * x) ** 2, axis=1)
    i = int(np.argmin(sse))
    width = alphas[1] - alphas[0]
    best = (float(sse[i]), float(a[i]), float(alphas[i]))
    alphas = np.linspace(alphas[i] - width, alphas[i] + width, 41)
  return best


def fit_asymptote(steps, fids, floor=0.0, grid=400):
  """FID = c + a * (step/1000)^-alpha with floor <= c < min FID: best c and its interval."""
  steps, fids = np.asarray(steps, float), np.asarray(fids, float)
  if len(fids) < 4:
    raise ValueError(f'{len(fids)} evaluations to fit: at least 4 are needed')
  if not floor < fids.min():
    raise ValueError(f'the floor {floor} is not below every FID (lowest {fids.min()})')
  cs = np.linspace(floor, floor + 0.995 * (fids.min() - floor), grid)
  alphas = np.linspace(0.02, 3.0, 300)
  fits = [_profile(steps, fids, c, alphas) for c in cs]
  sse = np.array([f[0] for f in fits])
  best = int(np.argmin(sse))
  sigma2 = max(sse[best] / max(len(fids) - 3, 1), 1e-12 * float(np.mean(fids ** 2)))
  inside = cs[(sse - sse[best]) / sigma2 <= 1.0]
  return {'c': float(cs[best]), 'c_low': float(inside.min()), 'c_high': float(inside.max()),
          'c_at_floor': best == 0, 'floor': float(floor),
          'a': fits[best][1], 'alpha': fits[best][2]}


def extrapolated_variation(fit, first, last):
  """The fitted curve's max/min - 1 between steps `first` and `last` (it only falls)."""
  curve = lambda s: fit['c'] + fit['a'] * (s / 1000.0) ** -fit['alpha']
  return float(curve(first) / curve(last) - 1)


def trend(points, window=5, from_step=2000, floor=0.0, longer=(2, 4)):
  """The report of one run's [(step, fid)]."""
  steps = np.array([s for s, _ in points], float)
  fids = np.array([f for _, f in points], float)
  if len(points) < window:
    raise ValueError(f'{len(points)} evaluations: at least {window} are needed')
  half, fitted = steps >= steps[-1] / 2, steps >= from_step
  if half.sum() < 3 or fitted.sum() < 4:
    raise ValueError(f'{int(half.sum())} evaluations in the second half and '
                     f'{int(fitted.sum())} from step {from_step}: at least 3 and 4 are needed')
  fit = fit_asymptote(steps[fitted], fids[fitted], floor)
  first, last = steps[-window], steps[-1]
  return {'step': int(last), 'fid': float(fids[-1]),
          f'variation_last_{window}': variation(fids[-window:]),
          'log_slope_second_half': log_slope(steps[half], fids[half]),
          'fit': fit,
          f'variation_last_{window}_fitted': extrapolated_variation(fit, first, last),
          'longer': {str(k): extrapolated_variation(fit, k * first, k * last) for k in longer}}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('paths', nargs='+')
  parser.add_argument('--window', type=int, default=5)
  parser.add_argument('--from_step', type=int, default=2000)
  parser.add_argument('--floor', type=float, default=None,
                      help="the real-vs-real FID (default: the run's own fid_floor, else 0)")
  parser.add_argument('--longer', default='2,4', help='run-length multiples to extrapolate to')
  args = parser.parse_args()
  longer = [float(k) for k in args.longer.split(',') if k.strip()]
  for path in args.paths:
    for f in metrics_files(path):
      try:
        points, own_floor = read_fids(f)
        floor = args.floor if args.floor is not None else (own_floor or 0.0)
        report = trend(points, args.window, args.from_step, floor, longer)
      except JaxganError as e:   # a damaged file: the message names it
        raise SystemExit(f'fid_trend: {e}') from None
      except ValueError as e:
        raise SystemExit(f'fid_trend: {f}: {e}') from None
      print(json.dumps({'metrics': str(f), **report}))


if __name__ == '__main__':
  main()
