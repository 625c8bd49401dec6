"""Several processes (hosts) training one model: start-up, and who writes files.

Every process runs the same program on the same data; the mesh spans all
their devices. Computations (training, sampling, evaluation) and Orbax
checkpoint saves are collective and run everywhere; the files a run writes
besides checkpoints (metrics, grids, fingerprints, config, data and classifier
caches) come from process 0 alone, so a shared filesystem sees each once.
"""
import jax
from jax.experimental import multihost_utils

from jaxgan.errors import JaxganError


def initialize(coordinator_address=None, num_processes=None, process_id=None):
  """jax.distributed.initialize; arguments left None are detected (SLURM, Open MPI, TPU pods)."""
  try:
    jax.distributed.initialize(coordinator_address=coordinator_address,
                               num_processes=num_processes, process_id=process_id)
  except (RuntimeError, ValueError) as e:
    hint = ('' if coordinator_address else ' (no cluster was detected: pass --coordinator_address, '
            '--num_processes and --process_id)')
    raise JaxganError(f'could not join the distributed run: {e}{hint}') from None


def is_primary():
  return jax.process_index() == 0


def primary_first(fn, name):
  """fn() on process 0, then, once it is done, on the others.

  For work that fills a shared cache (preparing a data set, training the
  evaluation classifier): the others then read what process 0 wrote.
  """
  if jax.process_count() == 1:
    return fn()
  result = fn() if is_primary() else None
  multihost_utils.sync_global_devices(f'jaxgan: {name}')
  return result if is_primary() else fn()
