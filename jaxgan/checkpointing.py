"""Orbax checkpoints of the whole TrainState, and the run's config beside them."""
import contextlib
import datetime
import json
import os
import pathlib
import shlex

import jax
import ml_collections
import orbax.checkpoint as ocp

from jaxgan import defaults
from jaxgan import files
from jaxgan.errors import DISK_ERRNOS, DiskError, JaxganError

CONFIG_FILE = 'config.json'
# The name under which StandardSave stores the state inside a step's folder.
_ITEM = 'default'
# Keys whose change alters the structure or meaning of the saved state: the
# networks, the optimizer's state (its kind, clipping and schedule add parts)
# and whether G's weight average is kept.
_ARCHITECTURE_KEYS = ('model', 'optimizer.name', 'optimizer.grad_clip_norm',
                      'optimizer.schedule', 'optimizer.warmup_steps', 'gan.ema_decay')
# Keys that decide a population's or sweep's members: each resumes from its own folder.
_MEMBER_KEYS = {'sweep': '', 'train.num_seeds': 1}
# Keys that decide which images, in which order and under which loss the saved
# steps were trained: changing them mid-run makes a run that no config describes.
# Where the data lives (data.path, data_dir, cache_dir) may change: a cluster job
# often copies it to the node's own disk.
_TRAINING_KEYS = ('seed', 'data.source', 'data.name', 'data.split', 'data.heldout',
                  'data.label_key', 'data.image_key', 'data.skip_bad_files', 'loss',
                  'train.batch_size')
HISTORY_FILE = 'config_history.jsonl'


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


def _disk_error(error):
  """The OS's words for a disk fault somewhere in `error`'s chain or text, or None."""
  seen, e = set(), error
  while e is not None and id(e) not in seen:
    if isinstance(e, OSError) and e.errno in DISK_ERRNOS:
      return e.strerror
    seen.add(id(e))
    e = e.__cause__ or e.__context__
  # TensorStore's errors are plain exceptions that quote the OS's message.
  return next((os.strerror(n) for n in DISK_ERRNOS if os.strerror(n) in str(error)), None)


def committed_steps(folder):
  """The steps whose checkpoints in `folder` have committed (Orbax renames them on commit)."""
  folder = pathlib.Path(folder)
  return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) if folder.is_dir() else []


@contextlib.contextmanager
def _disk_faults_as_one_line(manager, step):
  """Turns a disk fault while saving `step` (None: unknown) into one DiskError line."""
  try:
    yield
  except Exception as e:  # pylint: disable=broad-except
    why = _disk_error(e)
    if why is None:
      raise
    what = f'checkpoint {step}' if step is not None else 'a checkpoint'
    raise DiskError(f'cannot write {what} in {manager.directory}: {why}') from None


def intact(workdir):
  """'checkpoints 10, 20 intact': what a run in `workdir` stopped by a disk fault resumes from."""
  workdir = pathlib.Path(workdir)
  # A population's or sweep's members checkpoint the same steps; the first one speaks for all.
  folders = ([workdir / 'checkpoints'] + sorted(workdir.glob('seed_*/checkpoints'))
             + sorted(workdir.glob('*/seed_*/checkpoints')))
  steps = next((s for s in map(committed_steps, folders) if s), [])
  if not steps:
    return 'no checkpoint written yet'
  return f'checkpoint{"s" if len(steps) > 1 else ""} {", ".join(map(str, steps))} intact'


def save(manager, state, metrics=None):
  """Starts writing `state` (in the background with one process); a disk fault is one line."""
  step = int(state.step)
  with _disk_faults_as_one_line(manager, step):
    manager.save(step, args=ocp.args.StandardSave(state), metrics=metrics)


def close(manager):
  """Ends the manager's background work; a disk fault of its last save is one line."""
  with _disk_faults_as_one_line(manager, None):
    manager.close()


def wait(manager, step):
  """Waits for the save of `step` in progress to be on disk; a disk fault is one line."""
  with _disk_faults_as_one_line(manager, step):
    manager.wait_until_finished()


class CorruptCheckpoint(JaxganError):
  """A checkpoint whose files cannot be read, though its structure is the model's."""

  def __init__(self, step, reason):
    super().__init__(f'checkpoint {step} cannot be read: {reason}')
    self.step = step


def _leaf_name(path):
  return '/'.join(str(getattr(k, 'key', getattr(k, 'name', getattr(k, 'idx', k)))) for k in path)


def _structure(tree):
  """{'g_params/Dense_0/kernel': ((shape), 'dtype'), ...} of a state or of saved metadata."""
  return {_leaf_name(path): (tuple(leaf.shape), str(leaf.dtype))
          for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def saved_structure(manager, step):
  """The structure recorded in checkpoint `step`'s metadata, or None if that cannot be read."""
  try:
    structure = _structure(ocp.StandardCheckpointHandler().metadata(step_dir(manager, step) / _ITEM))
  except Exception:  # pylint: disable=broad-except
    # Whatever a damaged metadata file makes Orbax raise, the answer is the same.
    return None
  return structure or None


def _reason(error):
  """One line of what went wrong, without the TensorStore spec Orbax appends."""
  text = str(error).split('See full TensorStore details')[0]
  text = ' '.join(text.split())[:160].rstrip(' .:')
  return f'{type(error).__name__}: {text}' if text else type(error).__name__


def step_dir(manager, step):
  return pathlib.Path(manager.directory) / str(step)


class OtherStructure(JaxganError):
  """A checkpoint whose saved arrays have other names or shapes than the template's."""


def restore(manager, template, step=None):
  """Restores `step` (default latest) into the structure of `template`; None if absent.

  Raises CorruptCheckpoint when the files cannot be read but the recorded
  structure is the template's (or unreadable): an I/O fault, not a new model.
  """
  step = manager.latest_step() if step is None else step
  if step is None:
    return None
  abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, template)
  try:
    return manager.restore(step, args=ocp.args.StandardRestore(abstract))
  except Exception as e:  # pylint: disable=broad-except
    # Orbax and TensorStore raise many kinds; the saved structure tells which case this is.
    saved = saved_structure(manager, step)
    if saved is None:
      raise CorruptCheckpoint(step, 'the record of its arrays (_METADATA) is missing or damaged') from None
    if saved != _structure(abstract):
      raise OtherStructure(
          f'checkpoint {step} in {manager.directory} does not fit this config\'s model '
          '(its saved arrays have other names or shapes); use another --workdir') from None
    raise CorruptCheckpoint(step, _reason(e)) from None


def set_aside(manager, step, label='corrupt'):
  """Renames checkpoint `step` to `STEP.<label>` (kept for inspection, no longer a step)."""
  source = step_dir(manager, step)
  target = source.with_name(f'{step}.{label}')
  n = 1
  while target.exists():
    n += 1
    target = source.with_name(f'{step}.{label}{n}')
  source.rename(target)
  manager.reload()
  return target


def load_saved_config(workdir):
  """The config the run in `workdir` trains with now: config.json and the changes since, or None."""
  path = pathlib.Path(workdir) / CONFIG_FILE
  if not path.is_file():
    return None
  try:
    tree = json.loads(path.read_text())
  except (OSError, ValueError) as e:
    raise JaxganError(f'{path} is not a readable config: {e}') from None
  if 'gan' not in tree:
    # Runs from before the GAN-family settings keep a state without spectral-norm
    # vectors or EMA weights, which this version's TrainState cannot hold.
    raise JaxganError(f'{workdir} was written by an older jaxgan (its config has no gan.* '
                      'settings) whose checkpoints this version cannot read; start a new --workdir')
  for record in files.read_jsonl(pathlib.Path(workdir) / HISTORY_FILE):
    for key, (_, value) in record['changes'].items():
      *parents, name = key.split('.')
      node = tree
      for parent in parents:
        node = node.setdefault(parent, {})
      node[name] = value
  return ml_collections.ConfigDict(tree)


def check_training_settings(saved, config, workdir):
  """Refuses to resume with other data, seed, loss or batch size, unless allowed."""
  if saved is None or config.train.allow_config_change:
    return
  # A key the saved config lacks came with a later version, whose default keeps the old behaviour.
  known = _flat(saved)
  diffs = {k: v for k, v in _diffs(saved, config, _TRAINING_KEYS).items() if k in known}
  if diffs:
    raise JaxganError(
        f'{workdir} holds steps trained with other settings ({_describe(diffs)}); resume with '
        'the same ones, or pass --config.train.allow_config_change=True to go on with the new '
        f'ones (the change is recorded in {HISTORY_FILE})')


def record_config(config, workdir, step):
  """config.json for a run that starts; for a resumed one, its changes appended to the history.

  config.json keeps the config a run started with; each resume that changes
  anything appends {'step', 'time', 'changes': {key: [old, new]}} to
  config_history.jsonl, so the record of how every step was trained survives.
  """
  workdir = pathlib.Path(workdir)
  saved = load_saved_config(workdir) if step else None
  if saved is None:
    save_config(config, workdir)
    (workdir / HISTORY_FILE).unlink(missing_ok=True)
    return
  diffs = _diffs(saved, config, None)
  diffs.pop('train.allow_config_change', None)
  if diffs:
    record = {'step': int(step), 'time': datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec='seconds'), 'changes': {k: list(v) for k, v in diffs.items()}}
    files.append_line(workdir / HISTORY_FILE, json.dumps(record))


def has_checkpoints(workdir):
  return bool(committed_steps(pathlib.Path(workdir) / 'checkpoints'))


def _diffs(saved, config, keys):
  """{key: (saved value, new value)} of the flattened keys under `keys` (None: all) that differ."""
  old, new = _flat(saved), _flat(config)
  covered = lambda k: keys is None or any(k == key or k.startswith(key + '.') for key in keys)
  return {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
          if covered(k) and old.get(k) != new.get(k)}


def _describe(diffs):
  return ', '.join(f'{k}: {old!r} -> {new!r}' for k, (old, new) in diffs.items())


def check_compatible(saved, config, workdir):
  """Refuses to resume a run whose architecture differs from the config's."""
  if saved is None:
    return
  diffs = _diffs(saved, config, _ARCHITECTURE_KEYS)
  # Which members a population or sweep has (a config saved before a key existed had its default).
  old, new = _flat(saved), _flat(config)
  diffs.update({k: (old.get(k, default), new.get(k, default))
                for k, default in _MEMBER_KEYS.items() if old.get(k, default) != new.get(k, default)})
  # ADA keeps its probability in the state: turning it on or off changes the state's structure.
  ada = [c.gan.get('augment_target', 0.0) > 0 for c in (saved, config)]
  if ada[0] != ada[1]:
    diffs['ADA (gan.augment_target > 0)'] = tuple(ada)
  # Codes add G's embedding and D's Q head (a config saved before they existed had none).
  for key in ('latent_codes', 'continuous_codes'):
    codes = tuple(c.gan.get(key, 0) for c in (saved, config))
    if codes[0] != codes[1]:
      diffs[f'gan.{key}'] = codes
  if diffs.keys() & {'model.cluster_counts', 'model.cluster_digest'} and 'model.clusters' not in diffs:
    raise JaxganError(f'{workdir} holds a run trained on other clusters than k-means finds now '
                      '(other images, another machine\'s arithmetic, or a member of a population '
                      'resumed alone: members train on the clusters of the population\'s seed); '
                      'resume it where and as it started, or start a new --workdir')
  if diffs:
    back = _restoring_flags(diffs, new)
    how = f'its own settings ({back})' if back else 'its own config'
    raise JaxganError(f'{workdir} holds a run with a different architecture ({_describe(diffs)}); '
                      f'resume it with {how} or start a new --workdir')


# Set from the data or by the trainer, never by hand.
_DERIVED_KEYS = ('model.image_shape', 'model.num_classes', 'model.cluster_counts',
                 'model.cluster_digest')


def _restoring_flags(diffs, own):
  """'--config.k=v ...' that set the changed settings back to the run's, where a flag can.

  A recipe file that changed since the run started (model.clusters added to it, say)
  resumes with these; settings the data or the trainer decide, descriptions that are
  no setting of the config (ADA's on/off), and values that are not plain numbers,
  words or switches, are left to the reader. `own`: the new config's flattened settings.
  """
  flags = [f'--config.{k}={shlex.quote(str(old))}' for k, (old, new) in diffs.items()
           if k in own and k not in _DERIVED_KEYS
           and isinstance(old, (bool, int, float, str))
           and isinstance(new, (bool, int, float, str))]
  return ' '.join(flags)


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
  # No shape (a config from before the data decided it, or not yet resolved) builds
  # the tutorial's 28x28x1 models: the same architecture as that shape stated.
  out['model.image_shape'] = out.get('model.image_shape') or list(defaults.TUTORIAL_SHAPE)
  # A config saved before self-conditioning existed trained without it.
  out.setdefault('model.clusters', 0)
  return out


def save_config(config, workdir):
  with files.replaced_atomically(pathlib.Path(workdir) / CONFIG_FILE) as tmp:
    tmp.write_text(config.to_json(indent=2))
