"""Devices and processes: the data-parallel mesh, and several hosts training one model.

Training always runs on a 1-D mesh (axis 'data') over every device of every
process: the state and the uint8 data set are replicated, each batch is split.

Every process runs the same program on the same data; the mesh spans all
their devices. Computations (training, sampling, evaluation) and Orbax
checkpoint saves are collective and run everywhere; the files a run writes
besides checkpoints (metrics, grids, fingerprints, config, data and classifier
caches) come from process 0 alone, so a shared filesystem sees each once.
"""
import jax
from jax.experimental import multihost_utils
import numpy as np

from jaxgan.errors import ConfigError, JaxganError


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


def agree(flags):
  """Each flag OR-ed over every process, so that all of them take the same branch."""
  flags = np.asarray(flags, bool)
  if jax.process_count() == 1:
    return flags
  return np.asarray(multihost_utils.process_allgather(flags)).reshape(-1, flags.size).any(0)


def make_mesh(devices=None):
  """A 1-D data-parallel mesh over `devices` (default: every device, on every host)."""
  return jax.sharding.Mesh(np.asarray(devices if devices is not None else jax.devices()),
                           ('data',))


def replicated(mesh):
  return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())


def check_batch_divides(batch_size, mesh):
  if batch_size % mesh.size:
    raise ConfigError(f'train.batch_size {batch_size} must be a multiple of the {mesh.size} '
                      'devices it is split over')
