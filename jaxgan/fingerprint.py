"""SHA-256 fingerprints of the training state, per checkpoint, for comparing runs."""
import hashlib
import json
import pathlib

import jax
import numpy as np

from jaxgan import files

FINGERPRINT_FILE = 'fingerprints.jsonl'
PARTS = ('g_params', 'g_batch_stats', 'd_params', 'd_batch_stats', 'g_opt_state', 'd_opt_state',
         'ema_g_params')


def hash_tree(tree):
  """Hash of every leaf's path, dtype, shape and bytes, in tree order."""
  h = hashlib.sha256()
  for path, leaf in jax.tree_util.tree_flatten_with_path(jax.device_get(tree))[0]:
    leaf = np.asarray(leaf)
    h.update(f'{jax.tree_util.keystr(path)}|{leaf.dtype}|{leaf.shape}|'.encode())
    h.update(np.ascontiguousarray(leaf).tobytes())
  return h.hexdigest()


def state_fingerprint(state):
  return {'step': int(state.step), **{p: hash_tree(getattr(state, p)) for p in PARTS}}


def read(workdir):
  return files.read_jsonl(pathlib.Path(workdir) / FINGERPRINT_FILE)


def append_record(workdir, record):
  files.append_line(pathlib.Path(workdir) / FINGERPRINT_FILE, json.dumps(record))


def matches(record, state):
  """Whether `state` is what `record` (a fingerprint of the same step) describes."""
  now = state_fingerprint(state)
  return all(record.get(p) == now[p] for p in PARTS if p in record)


def truncate(workdir, last_step):
  files.truncate_jsonl(pathlib.Path(workdir) / FINGERPRINT_FILE, last_step)


def compare(workdir_a, workdir_b):
  """Steps both runs fingerprinted, and the first where they differ (with the parts)."""
  a = {r['step']: r for r in read(workdir_a)}
  b = {r['step']: r for r in read(workdir_b)}
  common = sorted(set(a) & set(b))
  for step in common:
    differing = [p for p in PARTS if a[step].get(p) != b[step].get(p)]
    if differing:
      return {'common_steps': common, 'first_divergence': step, 'parts': differing}
  return {'common_steps': common, 'first_divergence': None, 'parts': []}
