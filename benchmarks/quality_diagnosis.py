"""Why samples look as they do: the FID's own noise, and how G's way of drawing changes it.

  python benchmarks/quality_diagnosis.py --workdir W [--checkpoint latest] [--sizes 2000,5000]

For one checkpoint it prints one JSON line per measurement:
- noise: FID at each size N for 5 sample seeds x 2 real reference draws (mean, std,
  min, max), beside the real-vs-real floor at the same N;
- ways: FID, precision and recall for each weight set (G's raw weights, the EMA when
  kept) and each BatchNorm way (running averages, recomputed statistics, batch
  statistics), each the mean of 3 sample seeds at the largest N.
"""
import argparse
import dataclasses
import json
import time

import numpy as np

from jaxgan import gan as gan_lib
from jaxgan import input_pipeline
from jaxgan import sampling
from jaxgan.quality import evaluator as evaluator_lib


def _scores(run, evaluator, weights, way, sample_seeds):
  state = run.state if weights == 'ema' else dataclasses.replace(run.state, ema_g_params=None)
  draw = sampling.Drawer(run.gan, way).bind(state, run.config.seed)
  out = []
  for seed in sample_seeds:
    pixels, labels = sampling.generate(draw, run.gan, evaluator.num_samples,
                                       gan_lib.rngs(1000 + seed)['eval'])
    out.append(evaluator.score(pixels, labels))
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--checkpoint', default='latest')
  parser.add_argument('--sizes', default='2000,5000')
  parser.add_argument('--skip_noise', action='store_true')
  args = parser.parse_args()
  run = sampling.load_run(args.workdir, args.checkpoint)
  dataset = input_pipeline.load_dataset(run.config.data)
  sizes = [int(s) for s in args.sizes.split(',')]
  config = run.config.copy_and_resolve_references()
  way = run.batch_norm
  weights = 'ema' if run.state.ema_g_params is not None else 'raw'
  common = {'workdir': args.workdir, 'step': int(run.state.step)}
  for n in sizes if not args.skip_noise else []:
    config.eval.num_samples = n
    fids, floors = [], []
    for ref in (None, 1):
      t0 = time.perf_counter()
      evaluator = evaluator_lib.Evaluator(config, dataset, reference_seed=ref)
      fids += [m['fid'] for m in _scores(run, evaluator, weights, way, range(5))]
      floors.append(evaluator.floor['fid'])
    print(json.dumps({**common, 'measure': 'noise', 'num_samples': evaluator.num_samples,
                      'weights': weights, 'batch_norm': way, 'fid_mean': np.mean(fids),
                      'fid_std': np.std(fids, ddof=1), 'fid_min': min(fids), 'fid_max': max(fids),
                      'floors': floors, 'seconds': time.perf_counter() - t0}), flush=True)
  config.eval.num_samples = max(sizes)
  evaluator = evaluator_lib.Evaluator(config, dataset)
  for w in ('raw', 'ema') if run.state.ema_g_params is not None else ('raw',):
    for way in sampling.BATCH_NORM:
      ms = _scores(run, evaluator, w, way, range(3))
      row = {k: float(np.mean([m[k] for m in ms])) for k in ('fid', 'precision', 'recall')}
      row['fid_std'] = float(np.std([m['fid'] for m in ms], ddof=1))
      print(json.dumps({**common, 'measure': 'ways', 'num_samples': evaluator.num_samples,
                        'weights': w, 'batch_norm': way, **row,
                        'fid_floor': evaluator.floor['fid']}), flush=True)


if __name__ == '__main__':
  main()
