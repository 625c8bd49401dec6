"""Orbax checkpoints of the whole TrainState, and the run's config beside them."""
import json
import pathlib

import jax
import ml_collections
import orbax.checkpoint as ocp

from jaxgan.errors import JaxganError

CONFIG_FILE = 'config.json'
# Keys whose change alters the structure or meaning of the saved state: the
# networks, the optimizer's state (its kind, clipping and schedule add parts)
# and whether G's weight average is kept.
_ARCHITECTURE_KEYS = ('model', 'optimizer.name', 'optimizer.grad_clip_norm',
                      'optimizer.schedule', 'optimizer.warmup_steps', 'gan.ema_decay')


def process_local_checkpointer():
  """A StandardCheckpointer for files this process reads or writes alone (no barriers)."""
  me = jax.process_index()
  return ocp.StandardCheckpointer(multiprocessing_options=ocp.options.MultiprocessingOptions(
      primary_host=me, active_processes={me}))


def _multiprocessing(workdir, folder):
  """Options shared by the managers: their barriers, and whether saves run in the background.

  Managers saving the same step (latest and best, or a population's members)
  each need barriers of their own in a multi-process run. Orbax's barriers
  there are device computations (a psum over every device); an async save
  would run its final barrier on a background thread, which each process can
  then enqueue before or after the next training step, pairing one process's
  barrier with another's gradient all-reduce: a deadlock. So with several
  processes, saves are synchronous and every barrier runs in program order.
  """
  return dict(
      enable_async_checkpointing=jax.process_count() == 1,
      multiprocessing_options=ocp.options.MultiprocessingOptions(
          barrier_sync_key_prefix=f'{pathlib.Path(workdir).absolute().name}.{folder}'))


def make_manager(workdir, max_to_keep):
  options = ocp.CheckpointManagerOptions(
      max_to_keep=max_to_keep, create=True, **_multiprocessing(workdir, 'checkpoints'))
  return ocp.CheckpointManager(pathlib.Path(workdir).absolute() / 'checkpoints', options=options)


def make_best_manager(workdir):
  """Keeps the one checkpoint with the lowest FID seen so far."""
  options = ocp.CheckpointManagerOptions(
      max_to_keep=1, best_fn=lambda m: m['fid'], best_mode='min',
      keep_checkpoints_without_metrics=False, create=True,
      **_multiprocessing(workdir, 'checkpoints_best'))
  return ocp.CheckpointManager(pathlib.Path(workdir).absolute() / 'checkpoints_best',
                               options=options)


def restore_for_reading(workdir, template, which):
  """`which` = 'best', 'latest' or a step number; a clear error if there is none."""
  workdir = pathlib.Path(workdir)
  if which == 'best':
    if not (workdir / 'checkpoints_best').is_dir():
      raise JaxganError(f'{workdir} has no best checkpoint (evaluation was off); '
                        'use --checkpoint latest')
    manager = make_best_manager(workdir)
    step = manager.best_step()
  else:
    manager = make_manager(workdir, None)
    if which == 'latest':
      step = manager.latest_step()
    elif which.isdigit():
      step = int(which)
      if step not in manager.all_steps():
        raise JaxganError(f'{workdir} has no checkpoint at step {step} '
                          f'(it has {sorted(manager.all_steps())})')
    else:
      raise JaxganError(f"--checkpoint must be best, latest or a step number, not {which!r}")
  if step is None:
    raise JaxganError(f'{workdir} has no {which} checkpoint')
  return restore(manager, template, step)


def save(manager, state, metrics=None):
  manager.save(int(state.step), args=ocp.args.StandardSave(state), metrics=metrics)


def restore(manager, template, step=None):
  """Restores `step` (default latest) into the structure of `template`; None if absent."""
  step = manager.latest_step() if step is None else step
  if step is None:
    return None
  abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, template)
  try:
    return manager.restore(step, args=ocp.args.StandardRestore(abstract))
  except (ValueError, KeyError, TypeError) as e:
    raise JaxganError(
        f'checkpoint {step} in {manager.directory} does not fit this config\'s model '
        f'({type(e).__name__}); use another --workdir') from None


def load_saved_config(workdir):
  path = pathlib.Path(workdir) / CONFIG_FILE
  if not path.is_file():
    return None
  try:
    config = ml_collections.ConfigDict(json.loads(path.read_text()))
  except (OSError, ValueError) as e:
    raise JaxganError(f'{path} is not a readable config: {e}') from None
  if 'gan' not in config:
    # Runs from before the GAN-family settings keep a state without spectral-norm
    # vectors or EMA weights, which this version's TrainState cannot hold.
    raise JaxganError(f'{workdir} was written by an older jaxgan (its config has no gan.* '
                      'settings) whose checkpoints this version cannot read; start a new --workdir')
  return config


def check_compatible(saved, config, workdir):
  """Refuses to resume a run whose architecture differs from the config's."""
  if saved is None:
    return
  old, new = _flat(saved), _flat(config)
  covered = lambda k: any(k == key or k.startswith(key + '.') for key in _ARCHITECTURE_KEYS)
  diffs = sorted(k for k in set(old) | set(new) if covered(k) and old.get(k) != new.get(k))
  # ADA keeps its probability in the state: turning it on or off changes the state's structure.
  ada = 'ADA (gan.augment_target > 0)'
  old[ada], new[ada] = (c.gan.get('augment_target', 0.0) > 0 for c in (saved, config))
  if old[ada] != new[ada]:
    diffs.append(ada)
  if diffs:
    detail = ', '.join(f'{k}: {old.get(k)!r} -> {new.get(k)!r}' for k in diffs)
    raise JaxganError(f'{workdir} holds a run with a different architecture ({detail}); '
                      'resume it with its own config or start a new --workdir')


def _flat(config):
  """{'model.latent_dim': 100, ...} of a config's JSON form."""
  out = {}
  def walk(prefix, node):
    for k, v in node.items():
      if isinstance(v, dict):
        walk(f'{prefix}{k}.', v)
      else:
        out[f'{prefix}{k}'] = v
  walk('', json.loads(config.to_json()))
  return out


def save_config(config, workdir):
  path = pathlib.Path(workdir) / CONFIG_FILE
  tmp = path.with_suffix('.json.tmp')
  tmp.write_text(config.to_json(indent=2))
  tmp.replace(path)
