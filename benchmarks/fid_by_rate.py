"""Does a run's FID follow its step count or its learning rate? Two runs compared at equal rates.

  python benchmarks/fid_by_rate.py RUN_A RUN_B [--share g]

RUN_A and RUN_B are workdirs (one run, or a population's seed_* members) trained with the
same recipe but different lengths, so the same decay schedule reaches each rate at a
different step. For every evaluation of RUN_B whose learning rate (as a share of the peak,
from its config.json's optimizer settings and step count, `--share` g for G's or d for D's
schedule) RUN_A also evaluated at, within 1e-6, prints one JSON line: that share, each
run's step, its members' FIDs and their mean and standard deviation, and RUN_B's mean
minus RUN_A's. Where the longer run scores no better at equal rates, its extra steps did
not lower the FID there. The schedule is the one the trainer builds
(jaxgan.optimizers.learning_rate) from `train.num_steps`, so a config's decay_fraction and
warmup count. A rate RUN_A evaluated at more than once (a held final rate) pairs nothing;
RUN_B's evaluations at one held rate each pair with RUN_A's one evaluation there.
Refused with one line: a run whose length is set in epochs (num_steps 0), a constant
schedule, and a run whose length or optimizer settings changed on a resume (its history
says so: one schedule would not describe all its steps).
"""
import argparse
import json
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import fid_trend  # pylint: disable=g-import-not-at-top,wrong-import-position

from jaxgan import checkpointing  # pylint: disable=g-import-not-at-top,wrong-import-position
from jaxgan import files  # pylint: disable=g-import-not-at-top,wrong-import-position
from jaxgan import optimizers  # pylint: disable=g-import-not-at-top,wrong-import-position


def rate_share(config, network='g'):
  """step -> the learning rate's share of its peak, as the trainer schedules `network`."""
  o = config.optimizer
  if config.train.num_steps <= 0:
    raise SystemExit('fid_by_rate: a run whose length is set in epochs (train.num_steps 0) '
                     'is not supported; train with --config.train.num_steps')
  if o.schedule == 'constant':
    raise SystemExit('fid_by_rate: a constant learning rate has no rates to pair')
  peak = o[f'{network}_learning_rate']
  updates_per_step = config.gan.n_critic if network == 'd' else 1
  lr = optimizers.learning_rate(o, peak, config.train.num_steps * updates_per_step)
  if not callable(lr):
    return lambda step: 1.0
  return lambda step: float(lr(step * updates_per_step)) / peak


def run_fids(path):
  """(config, {step: [FID of each member]}) of a workdir; steps every member evaluated."""
  path = pathlib.Path(path)
  members = fid_trend.metrics_files(path)
  config = checkpointing.load_saved_config(members[0].parent)
  if config is None:
    raise SystemExit(f'fid_by_rate: no config.json beside {members[0]}')
  for record in files.read_jsonl(members[0].parent / checkpointing.HISTORY_FILE):
    changed = [k for k in record['changes']
               if k == 'train.num_steps' or k.startswith('optimizer.')]
    if changed:
      raise SystemExit(f'fid_by_rate: {members[0].parent} changed {", ".join(changed)} on a '
                       f'resume at step {record["step"]}; one schedule does not describe it')
  per_member = [dict(fid_trend.read_fids(f)[0]) for f in members]
  common = set.intersection(*(set(m) for m in per_member))
  return config, {s: [m[s] for m in per_member] for s in sorted(common)}


def compare(a, b, share='g'):
  """[{share, step_a, step_b, fid_a, fid_b, ...}] at the rates both runs evaluated at."""
  (config_a, fids_a), (config_b, fids_b) = a, b
  rate_a, rate_b = rate_share(config_a, share), rate_share(config_b, share)
  shares_a = [(rate_a(step), step) for step in fids_a]
  rows = []
  for step_b, fb in fids_b.items():
    at = [step for r, step in shares_a if abs(r - rate_b(step_b)) <= 1e-6]
    if len(at) != 1:
      continue
    step_a = at[0]
    fa = fids_a[step_a]
    stats = lambda v: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0)
    (mean_a, std_a), (mean_b, std_b) = stats(fa), stats(fb)
    rows.append({'share': round(rate_b(step_b), 4), 'step_a': step_a, 'step_b': step_b,
                 'fid_a': fa, 'fid_b': fb, 'mean_a': mean_a, 'std_a': std_a,
                 'mean_b': mean_b, 'std_b': std_b, 'b_minus_a': mean_b - mean_a})
  return rows


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('run_a')
  parser.add_argument('run_b')
  parser.add_argument('--share', choices=('g', 'd'), default='g',
                      help="whose schedule sets the share: G's or D's")
  args = parser.parse_args()
  rows = compare(run_fids(args.run_a), run_fids(args.run_b), args.share)
  if not rows:
    raise SystemExit('fid_by_rate: the two runs share no evaluated learning rate')
  for row in rows:
    print(json.dumps(row))


if __name__ == '__main__':
  main()
