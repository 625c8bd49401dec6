"""A sweep's ranking: each grid point's final and best FID, mean +/- std over its seeds.

Reads only the members' folders (workdir/POINT/seed_S/metrics.jsonl, POINT as
hyper.point_name writes it), so it ranks a sweep that is still training, or
one copied without its checkpoints.
"""
import json
import math
import pathlib

import numpy as np

from jaxgan import files
from jaxgan import hyper
from jaxgan import metric_writers
from jaxgan import visualize
from jaxgan.errors import JaxganError

SUMMARY_FILE = 'sweep.json'
PLOT_FILE = 'sweep.png'


def _mean_std(values):
  if not values:
    return None, None
  return float(np.mean(values)), (float(np.std(values, ddof=1)) if len(values) > 1 else 0.0)


def members(workdir):
  """{point name: {seed: [(step, fid), ...]}} of the member folders under `workdir`."""
  out = {}
  for path in sorted(pathlib.Path(workdir).glob('*/seed_*/' + metric_writers.METRICS_FILE)):
    point, seed = path.parent.parent.name, path.parent.name[len('seed_'):]
    if hyper.parse_point_name(point) is None or not seed.lstrip('-').isdigit():
      continue
    curve = [(r['step'], r['fid']) for r in metric_writers.read_metrics(path.parent) if 'fid' in r]
    out.setdefault(point, {})[int(seed)] = curve
  return out


def summarize(workdir):
  """One row per grid point, best first: by mean final FID, then mean best FID.

  "Final" is the latest step every evaluated member has reached, so a sweep
  read while it trains compares its members at one step. A point none of
  whose seeds has been evaluated yet comes last.
  """
  found = members(workdir)
  if not found:
    raise JaxganError(f'{workdir} holds no sweep members (folders POINT/seed_S with '
                      f'{metric_writers.METRICS_FILE})')
  ends = [c[-1][0] for seeds in found.values() for c in seeds.values() if c]
  common = min(ends, default=None)
  rows = []
  for point, seeds in found.items():
    upto = {s: [(step, f) for step, f in c if step <= common] for s, c in seeds.items()}
    scored = {s: c for s, c in upto.items() if c}
    final = [c[-1][1] for c in scored.values()]
    best = [min(f for _, f in c) for c in scored.values()]
    rows.append({
        'point': point, 'values': hyper.parse_point_name(point), 'seeds': sorted(seeds),
        'step': min((c[-1][0] for c in scored.values()), default=None),
        'final_fid': dict(zip(('mean', 'std'), _mean_std(final))),
        'best_fid': dict(zip(('mean', 'std'), _mean_std(best))),
        'per_seed': {str(s): {'final_fid': c[-1][1], 'best_fid': min(f for _, f in c)}
                     for s, c in sorted(scored.items())},
    })
  key = lambda r: (r['final_fid']['mean'] is None, r['final_fid']['mean'] or 0.0,
                   r['best_fid']['mean'] or 0.0)
  return sorted(rows, key=key)


def _cell(stat):
  if stat['mean'] is None:
    return 'not evaluated yet'
  return f'{stat["mean"]:.2f} +/- {stat["std"]:.2f}'


def table(rows):
  """The ranking as text lines, one per grid point."""
  width = max(len(r['point']) for r in rows)
  lines = [f'{"rank":>4}  {"point":<{width}}  {"seeds":>5}  {"step":>6}  '
           f'{"final FID":>18}  {"best FID":>18}']
  for i, r in enumerate(rows, 1):
    lines.append(f'{i:>4}  {r["point"]:<{width}}  {len(r["seeds"]):>5}  '
                 f'{r["step"] if r["step"] is not None else "-":>6}  '
                 f'{_cell(r["final_fid"]):>18}  {_cell(r["best_fid"]):>18}')
  return lines


def write(workdir, rows):
  """sweep.json (the rows) and sweep.png (FID over steps; a heat map for two keys)."""
  workdir = pathlib.Path(workdir)
  with files.replaced_atomically(workdir / SUMMARY_FILE) as tmp:
    tmp.write_text(json.dumps({'ranking': rows}, indent=2))
  curves = {f'{point}/seed_{seed}': curve
            for point, seeds in members(workdir).items() for seed, curve in seeds.items()}
  keys = list(rows[0]['values'])
  heat = None
  if len(keys) == 2:
    axes = [sorted({r['values'][k] for r in rows}) for k in keys]
    heat = np.full((len(axes[0]), len(axes[1])), math.nan)
    for r in rows:
      if r['final_fid']['mean'] is not None:
        heat[axes[0].index(r['values'][keys[0]]),
             axes[1].index(r['values'][keys[1]])] = r['final_fid']['mean']
    heat = (keys, axes, heat)
  visualize.plot_sweep(curves, heat, workdir / PLOT_FILE)
  return workdir / SUMMARY_FILE, workdir / PLOT_FILE
