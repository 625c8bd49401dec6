"""Why samples look as they do: the FID's own noise, and how G's way of drawing changes it.

  python benchmarks/quality_diagnosis.py --workdir W [--checkpoint latest] [--sizes 2000,5000]

For one checkpoint it prints one JSON line per measurement:
- noise: FID at each size N for 5 sample seeds x 2 real reference draws (mean, std,
  min, max), beside the real-vs-real floor at the same N, and for each reference draw
  alone (as the training loop scores) the FID's mean and std, precision and recall;
- ways: FID, precision and recall for each weight set (G's raw weights, the EMA when
  kept) and each BatchNorm way (running averages, recomputed statistics, batch
  statistics), each the mean of 3 sample seeds at the largest N;
- d_filter (with --d_filter 0.8,0.5): FID, precision and recall of the N samples D
  scores highest out of N / keep, as rejection sampling by D would draw them: whether
  D's judgment of G's samples agrees with the metrics' (top-k training relies on it);
- codes (a model trained with gan.latent_codes): which digit the classifier sees in
  each code's samples, each code's majority class and its share, the purity (the
  share of samples in their code's majority class) and how many classes some code
  holds: whether the codes took the classes apart.
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
from jaxgan.quality import features


def _scores(run, evaluator, weights, way, sample_seeds):
  state = run.state if weights == 'ema' else dataclasses.replace(run.state, ema_g_params=None)
  draw = sampling.Drawer(run.gan, way).bind(state, run.config.seed)
  out = []
  for seed in sample_seeds:
    pixels, labels = sampling.generate(draw, run.gan, evaluator.num_samples,
                                       gan_lib.rngs(1000 + seed)['eval'])
    out.append(evaluator.score(pixels, labels))
  return out


def best_scored(logits, n, keep):
  """Indices of the `n` samples D scores highest among the first round(n / keep)."""
  pool = np.asarray(logits)[:int(round(n / keep))]
  return np.argsort(-pool, kind='stable')[:n]


def _d_filtered(run, evaluator, keeps):
  n = evaluator.num_samples
  pixels, labels = sampling.generate(run.draw, run.gan, int(round(n / min(keeps))), gan_lib.rngs(
      run.config.seed)['eval'], batch_size=n)
  s = run.state
  logits = np.concatenate([np.asarray(run.gan.discriminator.apply(
      {'params': s.d_params, 'batch_stats': s.d_batch_stats}, pixels[i:i + n], train=False,
      labels=None if labels is None else labels[i:i + n])) for i in range(0, len(pixels), n)])
  for keep in (1.0, *keeps):
    idx = best_scored(logits, n, keep)
    m = evaluator.score(pixels[idx], None if labels is None else labels[idx])
    yield keep, {k: m[k] for k in ('fid', 'precision', 'recall')}


def code_purity(codes, classes, num_codes, num_classes):
  """{table (codes x classes counts), majority (per code), share (per code), purity, covered}."""
  table = np.zeros((num_codes, num_classes), np.int64)
  np.add.at(table, (np.asarray(codes), np.asarray(classes)), 1)
  per_code = np.maximum(table.sum(1), 1)
  majority = table.argmax(1)
  return {'table': table.tolist(), 'majority': majority.tolist(),
          'share': (table.max(1) / per_code).tolist(),
          'purity': float(table.max(1).sum() / table.sum()),
          'covered': len(set(majority[table.sum(1) > 0].tolist()))}


def _codes(run, evaluator):
  n = evaluator.num_samples
  pixels, _ = sampling.generate(run.draw, run.gan, n, gan_lib.rngs(1000)['eval'])
  _, probs = features.embed(evaluator.apply, pixels)
  codes = sampling.cycled_labels(run.gan, n)
  return code_purity(codes, np.argmax(np.asarray(probs), 1), run.gan.num_codes, probs.shape[1])


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--checkpoint', default='latest')
  parser.add_argument('--sizes', default='2000,5000')
  parser.add_argument('--skip_noise', action='store_true')
  parser.add_argument('--skip_ways', action='store_true')
  parser.add_argument('--d_filter', default='', help='shares kept by D, e.g. 0.8,0.5')
  args = parser.parse_args()
  keeps = [float(k) for k in args.d_filter.split(',') if k]
  if any(not 0 < k <= 1 for k in keeps):
    parser.error(f'--d_filter takes shares kept in (0, 1], not {args.d_filter}')
  run = sampling.load_run(args.workdir, args.checkpoint)
  dataset = input_pipeline.load_dataset(run.config.data)
  sizes = [int(s) for s in args.sizes.split(',')]
  config = run.config.copy_and_resolve_references()
  way = run.batch_norm
  weights = 'ema' if run.state.ema_g_params is not None else 'raw'
  common = {'workdir': args.workdir, 'step': int(run.state.step)}
  for n in sizes if not args.skip_noise else []:
    config.eval.num_samples = n
    fids, floors, by_reference = [], [], []
    t0 = time.perf_counter()
    for ref in (None, 1):
      evaluator = evaluator_lib.Evaluator(config, dataset, reference_seed=ref)
      ms = _scores(run, evaluator, weights, way, range(5))
      these = [m['fid'] for m in ms]
      fids += these
      floors.append(evaluator.floor['fid'])
      # One reference draw, as the training loop scores: only the samples vary.
      by_reference.append({'fid_mean': np.mean(these), 'fid_std': np.std(these, ddof=1),
                           **{k: np.mean([m[k] for m in ms]) for k in ('precision', 'recall')},
                           **{f'{k}_floor': evaluator.floor[k]
                              for k in ('fid', 'precision', 'recall')}})
    print(json.dumps({**common, 'measure': 'noise', 'num_samples': evaluator.num_samples,
                      'weights': weights, 'batch_norm': way, 'fid_mean': np.mean(fids),
                      'fid_std': np.std(fids, ddof=1), 'fid_min': min(fids), 'fid_max': max(fids),
                      'floors': floors, 'by_reference': by_reference,
                      'seconds': time.perf_counter() - t0}, default=float), flush=True)
  config.eval.num_samples = max(sizes)
  evaluator = evaluator_lib.Evaluator(config, dataset)
  weight_sets = ('raw', 'ema') if run.state.ema_g_params is not None else ('raw',)
  for w in () if args.skip_ways else weight_sets:
    for bn in sampling.BATCH_NORM:
      ms = _scores(run, evaluator, w, bn, range(3))
      row = {k: float(np.mean([m[k] for m in ms])) for k in ('fid', 'precision', 'recall')}
      row['fid_std'] = float(np.std([m['fid'] for m in ms], ddof=1))
      print(json.dumps({**common, 'measure': 'ways', 'num_samples': evaluator.num_samples,
                        'weights': w, 'batch_norm': bn, **row,
                        'fid_floor': evaluator.floor['fid']}), flush=True)
  if run.gan.num_codes:
    print(json.dumps({**common, 'measure': 'codes', 'num_samples': evaluator.num_samples,
                      **_codes(run, evaluator)}), flush=True)
  for keep, row in _d_filtered(run, evaluator, keeps) if keeps else ():
    print(json.dumps({**common, 'measure': 'd_filter', 'num_samples': evaluator.num_samples,
                      'keep': keep, 'weights': weights, 'batch_norm': way, **row,
                      'fid_floor': evaluator.floor['fid']}), flush=True)


if __name__ == '__main__':
  main()
