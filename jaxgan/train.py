"""The training loop: set-up, the chunked loop, the end of a run.

`train_and_evaluate(config, workdir)` trains the configured GAN (or a
population of seeds) in `workdir`, resuming from its latest checkpoint. The
update math is update.py's; the outputs are run_dir.py's.
"""
import collections
import contextlib
import logging
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import checkpointing
from jaxgan import clusters
from jaxgan import files
from jaxgan import fingerprint
from jaxgan import gan as gan_lib
from jaxgan import hyper
from jaxgan import input_pipeline
from jaxgan import models
from jaxgan import optimizers
from jaxgan import parallel
from jaxgan import preemption
from jaxgan import run_dir
from jaxgan import sampling
from jaxgan import streaming
from jaxgan import sweep_report
from jaxgan import timing
from jaxgan import update
from jaxgan.errors import ConfigError, DiskError, JaxganError, NonFiniteLossError
from jaxgan.quality import evaluator as evaluator_lib
from jaxgan.quality import features

log = logging.getLogger(__name__)

# D's output is probed on at most this many held-out and training images, in one batch.
_PROBE_IMAGES = 2000


def _validate(config):
  t = config.train
  if t.num_seeds < 1:
    raise ConfigError(f'train.num_seeds must be at least 1, not {t.num_seeds}')
  if t.steps_per_jit < 0:
    raise ConfigError(f'train.steps_per_jit must be >= 0 (0 = auto), not {t.steps_per_jit}')
  for key in ('batch_size', 'log_every', 'eval_every', 'checkpoint_every',
              'max_checkpoints', 'num_samples'):
    if t[key] < 1:
      raise ConfigError(f'train.{key} must be at least 1, not {t[key]}')
  if t.get('members_as', 'auto') not in update.MEMBERS_AS:
    raise ConfigError(f'train.members_as must be one of {list(update.MEMBERS_AS)}, '
                      f'not {t.members_as!r}')
  if t.checkpoint_minutes < 0:
    raise ConfigError(f'train.checkpoint_minutes must be >= 0 (0 = off), not {t.checkpoint_minutes}')
  if t.num_steps < 0 or (t.num_steps == 0 and t.num_epochs < 1):
    raise ConfigError('set train.num_steps > 0 or train.num_epochs >= 1')
  # The model's and the GAN's settings too, before anything is written or loaded.
  models.clusters(config)
  gan_lib.validate(config)
  points = hyper.points(hyper.parse(config.get('sweep', ''), config))
  # Every point's values, before anything is written or loaded.
  for point in points:
    gan_lib.validate(hyper.apply(config, point))
  return points


def total_steps(config, num_examples):
  """G updates of the run: train.num_steps, or enough for D to see num_epochs epochs."""
  per_epoch = input_pipeline.steps_per_epoch(num_examples, config.train.batch_size)
  if config.train.num_steps > 0:
    return config.train.num_steps
  return max(1, config.train.num_epochs * per_epoch // config.gan.n_critic)


def _schedule_settings(o):
  """The settings that shape a learning-rate schedule and may change on a resume (a
  changed optimizer.schedule or warmup_steps is refused earlier:
  checkpointing.check_compatible), as the schedule reads them."""
  return {'final_lr_fraction': o.final_lr_fraction,
          'decay_fraction': optimizers.decay_fraction(o)}


def _rate_shares(config, total, steps):
  """The learning rate at `steps` as a share of its peak: the same for G and D and for
  every member of a sweep."""
  rate = optimizers.learning_rate(config.optimizer, 1.0, total)
  steps = np.asarray(steps)
  return np.full(steps.shape, rate) if isinstance(rate, float) else np.asarray(rate(steps))


def schedule_shift(saved, config, step, num_examples):
  """A line saying how resuming at `step` moves a learning-rate schedule, or '' if it does not.

  A decaying rate depends on the step and on the run's length, so a resume that
  changes the length trains the remaining steps at rates the saved steps did
  not lead up to: an extended cosine run goes back up. Continuing a run is what
  a larger train.num_steps is for, so it is allowed, but said. So is a resume
  whose schedule settings differ from the saved run's (a config file edited, or
  one saved before a setting existed, which trained with its old default): the
  remaining steps then follow a schedule the saved steps were not trained on.
  """
  if saved is None or step == 0:
    return ''
  old, new = total_steps(saved, num_examples), total_steps(config, num_examples)
  if step >= new:
    return ''
  before, after = _schedule_settings(saved.optimizer), _schedule_settings(config.optimizer)
  changed = {k: (before[k], after[k]) for k in after if before[k] != after[k]}
  settings = ', '.join(f'optimizer.{k} {a!r} -> {b!r}' for k, (a, b) in changed.items())
  if old != new and config.optimizer.schedule != 'constant':
    return (f'the run is now {new} steps long, not {old}: its {config.optimizer.schedule} '
            f'schedule spans the new length, so the learning rates at step {step} are '
            f'{_rate_shares(config, new, step):.3g} of their peaks where the saved steps led to '
            f'{_rate_shares(saved, old, step):.3g}' + (f' ({settings})' if changed else ''))
  if not changed:
    return ''
  remaining = np.arange(step, new)
  was, now = _rate_shares(saved, new, remaining), _rate_shares(config, new, remaining)
  if np.allclose(was, now, rtol=1e-6, atol=0.0):
    return ''
  return (f'the config changes the saved run\'s learning-rate schedule for the remaining steps '
          f'({settings}): from step {step} on the rates are {now[0]:.3g} of their peaks where the saved '
          f'schedule gives {was[0]:.3g}, and {now[-1]:.3g} at the last step where it gives '
          f'{was[-1]:.3g}')


def steps_per_jit(config):
  """K steps per dispatch; 0 = auto: 50 on accelerators, 1 on CPU.

  On a GPU a scan of steps saves the host's dispatch between them; on CPU a
  step is long enough that dispatch does not matter and single steps compile
  fastest (docs/performance.md).
  """
  if config.train.steps_per_jit > 0:
    return config.train.steps_per_jit
  return 1 if jax.default_backend() == 'cpu' else 50


def next_chunk(step, total, config):
  """Steps until the next dispatch boundary: K steps, or an earlier log/eval/save/end."""
  t = config.train
  ends = [total, step + steps_per_jit(config)]
  ends += [(step // every + 1) * every for every in (t.log_every, t.eval_every, t.checkpoint_every)]
  ends += [s for s in t.checkpoint_steps if s > step]
  return min(ends) - step


def report_finished(progress, unreported, wait):
  """Passes the steps of each finished dispatch, oldest first, to `progress.advance`.

  `unreported` holds (an output of the dispatch, its steps). Without `wait` it
  stops at the first dispatch still running; with it, it waits for each in
  turn, which the host does at a log line anyway.
  """
  while unreported and (wait or unreported[0][0].is_ready()):
    output, steps = unreported.popleft()
    if wait:
      output.block_until_ready()
    progress.advance(steps)


def _is_boundary(step, every, total):
  return step % every == 0 or step == total


def _is_checkpoint(step, config, total):
  return _is_boundary(step, config.train.checkpoint_every, total) or step in config.train.checkpoint_steps


def _check_finite(records, step, workdir):
  for name in records:
    bad = ~np.isfinite(records[name])
    if bad.any():
      first = step - len(records[name]) + int(np.argmax(bad)) + 1
      raise NonFiniteLossError(
          f'{name} became {records[name][bad][0]} at step {first}; training stopped, the last '
          f'good checkpoint in {workdir}/checkpoints is kept (try a lower learning rate)')


def _check_labels(gan, dataset):
  if not gan.num_classes:
    return
  labels = np.asarray(dataset.labels)
  if labels.min() < 0 or labels.max() >= gan.num_classes:
    raise ConfigError(f'{dataset.description} has labels {labels.min()}..{labels.max()}; a '
                      f'conditional model with model.num_classes={gan.num_classes} needs '
                      f'0..{gan.num_classes - 1}')


def _restore_member(member, template, step):
  """The member's checkpoint at `step`, checked against its fingerprint when one was recorded."""
  state = checkpointing.restore(member.manager, template, step)
  record = next((r for r in fingerprint.read(member.workdir) if r['step'] == step), None)
  if record is not None and not fingerprint.matches(record, state):
    raise checkpointing.CorruptCheckpoint(
        step, 'its arrays differ from the fingerprint recorded when it was saved')
  return state


def _restore(gan, members):
  """Each member's newest readable checkpoint, at the newest step that all of them have.

  A checkpoint that cannot be read (a torn or damaged file, arrays that differ
  from their fingerprint) is passed over for the one before it; once an older
  step restores, the damaged ones are renamed STEP.corrupt with one warning
  line each. If none can be read, nothing is renamed and the run stops: a
  fault that spares no checkpoint is not damage to one of them.
  """
  templates = [gan_lib.init_state(gan, m.keys['init']) for m in members]
  steps = sorted(set.intersection(*(set(m.manager.all_steps()) for m in members)), reverse=True)
  if not steps:
    return templates, 0
  damaged = []   # (member, CorruptCheckpoint) of the steps passed over
  for step in steps:
    states, bad = [], None
    for member, template in zip(members, templates):
      try:
        states.append(_restore_member(member, template, step))
      except checkpointing.CorruptCheckpoint as e:
        bad = (member, e)
        break
    # Every process must take the same branch: one that could not read the step passes it over.
    if not parallel.agree([bad is not None])[0]:
      for member, error in damaged:
        aside = parallel.primary_first(lambda m=member, e=error: _set_aside(m, e.step, 'corrupt'),
                                       'damaged checkpoint set aside')
        log.warning('%s; set aside as %s, resuming from the checkpoint at step %d', error, aside,
                    step)
      # The other members' later checkpoints: the population trains them again, in step.
      for member in members:
        for later in [s for s in member.manager.all_steps() if s > step]:
          parallel.primary_first(lambda m=member, s=later: _set_aside(m, s, 'superseded'),
                                 'later checkpoint set aside')
      return states, step
    damaged.append(bad or (members[0], checkpointing.CorruptCheckpoint(
        step, 'another process could not read it')))
  raise JaxganError(f'no checkpoint in {members[0].workdir} can be read (the newest: '
                    f'{damaged[0][1]}); nothing was changed')


def _set_aside(member, step, label):
  """Process 0 renames the checkpoint; the others, after it, see that it is gone."""
  if parallel.is_primary():
    return checkpointing.set_aside(member.manager, step, label)
  member.manager.reload()
  return checkpointing.step_dir(member.manager, step).with_name(f'{step}.{label}')


def _stack(trees):
  return trees[0] if len(trees) == 1 else jax.tree_util.tree_map(lambda *x: jnp.stack(x), *trees)


def _member(state, i, num_members):
  return state if num_members == 1 else jax.tree_util.tree_map(lambda x: x[i], state)


def _swept_values(grid, configs):
  """{name: (members,) float32} of the swept hyperparameters, for the chunk's vmap."""
  if not grid or len(configs) == 1:
    return {}
  names = [hyper.IN_PROGRAM[k] for k in grid[0]]
  values = [hyper.values(c) for c, _ in configs]
  return {n: np.array([v[n] for v in values], np.float32) for n in names}


def _overfitting_probe(gan, num_members, train_set, heldout, mesh):
  """state -> {'d_heldout', 'd_train'} on equal numbers of unseen and training reals, or None."""
  if heldout is None:
    return None
  d_probe = update.make_d_probe(gan, num_members)
  n = min(len(heldout.images), _PROBE_IMAGES)
  sets = jax.device_put({'d_heldout': (heldout.images[:n], heldout.labels[:n]),
                         'd_train': (train_set.images[:n], train_set.labels[:n])},
                        parallel.replicated(mesh))
  return lambda state: jax.device_get({k: d_probe(state, *v) for k, v in sets.items()})


def _quality_line(step, m, who=''):
  return (f'step {step}{f" {who}" if who else ""}: '
          f'FID {m["fid"]:.3f} (floor {m["fid_floor"]:.3f}), KID {m["kid"]:.4f}, '
          f'precision {m["precision"]:.3f}, recall {m["recall"]:.3f}'
          + (f', classifier score {m["classifier_score"]:.2f}' if 'classifier_score' in m else '')
          + (f', label accuracy {m["label_accuracy"]:.3f}' if 'label_accuracy' in m else ''))


def train_and_evaluate(config, workdir, on_checkpoint=None, progress=None):
  """Trains the configured GAN in `workdir`: one, or a population of seeds and sweep points.

  The members of a population (train.num_seeds) or sweep (config.sweep) train
  as one program, each in its own folder under `workdir` (run_dir.member_configs).

  Resumes from the latest readable checkpoint. `on_checkpoint(step)` runs once
  each checkpoint is completely on disk. `progress`, when given, follows the
  run: `progress.start(step, total)`; `progress.advance(steps)` as the steps of
  each dispatch finish (looked for at most every `progress.poll_seconds`, 0.5 if unset, while
  dispatching, and in order while the host waits at a log line, so it never
  makes the host wait on its own); `progress.scalars(scalars)` at each log line;
  `progress.close()`. What the run has to say goes to this module's logger.

  Holds the workdir's lock for the run (a second run there fails at once).
  SIGTERM, SIGINT or SIGUSR1 stop it at the next log line with a checkpoint and
  the closing outputs written, then raise preemption.Preempted.
  """
  watch = timing.Stopwatch()
  grid = _validate(config)
  workdir = run_dir.prepare_workdir(workdir)
  with contextlib.ExitStack() as stack:
    refused = None
    if parallel.is_primary():
      try:
        stack.enter_context(files.WorkdirLock(workdir))
      except JaxganError as e:
        refused = e
    # Every process stops when process 0 cannot lock, before any collective could wait for it.
    if parallel.agree([refused is not None])[0]:
      raise refused or JaxganError(f'workdir {workdir} is in use (process 0 could not lock it)')
    stop = stack.enter_context(preemption.StopSignals())
    try:
      return _train(config, grid, workdir, watch, stop, on_checkpoint, progress)
    except DiskError as e:
      raise DiskError(f'{e}; {checkpointing.intact(workdir)}') from None


def _check_resumable(config, workdir):
  """Refuses, before any state loads, a resume that would change the model or how it trains."""
  saved = checkpointing.load_saved_config(workdir)
  checkpointing.check_compatible(saved, config, workdir)
  if checkpointing.has_checkpoints(workdir):
    checkpointing.check_training_settings(saved, config, workdir)


def _requests(stop, last_save, config, at_log):
  """(stop now, a timed checkpoint is due), agreed by every process, at log lines only.

  A log line ends a window of recorded losses: a run stopped or checkpointed
  there resumes with the same windows, so its record is the uninterrupted
  run's. The host waits for the device there anyway, so agreeing across
  processes adds no synchronisation.
  """
  if not at_log:
    return False, False
  minutes = config.train.checkpoint_minutes
  due = minutes > 0 and time.monotonic() - last_save >= minutes * 60
  return tuple(bool(b) for b in parallel.agree([stop.requested is not None, due]))


def _train(config, grid, workdir, watch, stop, on_checkpoint, progress):
  """train_and_evaluate's body, inside the workdir's lock and the stop signals' handlers."""
  mesh = parallel.make_mesh()
  # Process 0 prepares (and caches) the data set before the others read it.
  dataset = parallel.primary_first(lambda: input_pipeline.load_dataset(config.data),
                                   'data set ready')
  # Every process streams, or none: device memory may differ between hosts.
  streamed = bool(parallel.agree([input_pipeline.feed_of(config.data, dataset) == 'stream'])[0])
  config = input_pipeline.with_data_shape(config, dataset)
  full_dataset = dataset
  # Real images D never trains on: its output on them beside its output on
  # training images says whether it memorises (logged as d_heldout / d_train).
  dataset, heldout = input_pipeline.split_heldout(dataset, config.data.get('heldout', 0))
  # A self-conditioned model trains on its clusters as labels; the evaluator keeps the data's.
  dataset, heldout, config = clusters.self_condition(config, dataset, heldout)
  _check_resumable(config, workdir)
  num_examples, t = len(dataset.images), config.train
  total = total_steps(config, num_examples)
  gan = gan_lib.make_gan(config, total, sweep=grid)
  _check_labels(gan, dataset)
  configs = run_dir.member_configs(config, workdir)
  num_members = len(configs)
  if streamed and num_members > 1:
    if config.data.get('feed', 'auto') == 'stream':
      raise ConfigError(f"data.feed='stream' feeds one GAN; {num_members} GANs (train.num_seeds, "
                        'sweep) share the data set on the device: train them one at a time')
    log.warning('%d GANs share the data set on the device, where it takes over %.0f%% of the '
                'memory; keeping it there all the same (train the members one at a time if '
                'memory runs out)', num_members, 100 * input_pipeline.DEVICE_MEMORY_SHARE)
    streamed = False
  chunk = update.make_train_chunk(gan, t.batch_size, mesh, num_members,
                                  t.get('members_as', 'auto'), streamed)
  for member_config, member_dir in configs:
    if member_dir != workdir:
      _check_resumable(member_config, member_dir)
  evaluator = (parallel.primary_first(lambda: evaluator_lib.Evaluator(config, full_dataset),
                                      'evaluation classifier ready')
               if config.eval.enabled else None)
  if evaluator is not None:
    log.info('sample quality: %d samples against real images; %s; real-vs-real floor FID %.3f',
             evaluator.num_samples, features.describe(evaluator.classifier_info),
             evaluator.floor['fid'])
  drawer = sampling.Drawer(gan, sampling.batch_norm_of(config))
  members = [run_dir.Member(gan, c, w, evaluator, drawer,
                            '' if w == workdir else str(w.relative_to(workdir)))
             for c, w in configs]
  states, step = _restore(gan, members)
  if step:
    log.info('resuming from the checkpoint at step %d in %s', step, workdir)
  if step >= total:
    log.info('the run in %s is at step %d, not before its last step %d: nothing to train '
             '(a larger --config.train.num_steps continues it)', workdir, step, total)
  if parallel.is_primary():
    # Changes recorded at steps after the one resumed from (set aside as damaged) never happened.
    files.truncate_jsonl(workdir / checkpointing.HISTORY_FILE, step)
    shift = schedule_shift(checkpointing.load_saved_config(workdir), config, step, num_examples)
    if shift:
      log.warning('%s', shift)
    checkpointing.record_config(config, workdir, step)
  for member, state in zip(members, states):
    if parallel.is_primary() and member.workdir != workdir:
      files.truncate_jsonl(member.workdir / checkpointing.HISTORY_FILE, step)
      checkpointing.record_config(member.config, member.workdir, step)
    member.truncate(state)
    if step == 0:
      member.draw_grid(state)
  state = _stack(states)
  data_rngs, step_rngs = (_stack([m.keys[k] for m in members]) for k in ('data', 'step'))
  log.info('training %d GAN%s%s on %s: %d images, %d steps of batch %d, %d %s device%s',
           num_members, 's' if num_members > 1 else '',
           f' ({len(grid)} sweep points x {t.num_seeds} seeds)' if grid else '',
           dataset.description, num_examples, total,
           t.batch_size, mesh.size, jax.devices()[0].platform, 's' if mesh.size > 1 else '')

  # From host memory: a restored state sits on one local device, and several
  # processes build a global array only from the same host values on each.
  state, data_rngs, step_rngs, data, swept = jax.device_put(
      jax.device_get((state, data_rngs, step_rngs,
                      None if streamed else {'image': dataset.images, 'label': dataset.labels},
                      _swept_values(grid, configs))),
      parallel.replicated(mesh))
  stream = (streaming.Stream(dataset, data_rngs, t.batch_size, gan.n_critic,
                             parallel.replicated(mesh)) if streamed else None)
  orders = (None if streamed else
            input_pipeline.EpochOrders(data_rngs, num_examples, t.batch_size, gan.n_critic,
                                       parallel.replicated(mesh), members=num_members > 1))
  probe = _overfitting_probe(gan, num_members, dataset, heldout, mesh)
  logged = update.logged_metrics(gan)
  if progress is not None:
    progress.start(step, total)
  watch.add('start-up', watch.elapsed())
  pending, t0, steps_since_log, compiled = [], time.perf_counter(), 0, set()
  unreported, next_poll = collections.deque(), time.monotonic()
  poll_seconds = getattr(progress, 'poll_seconds', 0.5)
  logs_seen, last_save, stopped, failed = 0, time.monotonic(), None, True
  try:
    while step < total:
      n = next_chunk(step, total, config)
      # The first call for each chunk length compiles; later ones only enqueue.
      if stream is not None:
        following = step + n < total and next_chunk(step + n, total, config)
        data = stream.batches(step, n, following)
      with watch.part('compilation') if n not in compiled else contextlib.nullcontext():
        state, metrics = chunk(state, data, data_rngs, step_rngs, n, swept,
                               None if orders is None else orders(step, n))
      compiled.add(n)
      pending.append(metrics)
      if progress is not None:
        unreported.append((metrics['d_loss'], n))
        if time.monotonic() >= next_poll:
          report_finished(progress, unreported, wait=False)
          next_poll = time.monotonic() + poll_seconds
      step += n
      steps_since_log += n
      log_now, save = _is_boundary(step, t.log_every, total), _is_checkpoint(step, config, total)
      draw = _is_boundary(step, t.eval_every, total)
      stop_now, due = _requests(stop, last_save, config, log_now)
      if stop_now:
        stopped = stop.requested or 'a stop request on another process'
        log.info('%s received: saving the checkpoint at step %d, then stopping', stopped, step)
      save = save or stop_now or due
      if log_now or save:
        if progress is not None:
          report_finished(progress, unreported, wait=True)
        # (members, steps) per metric; the host waits here only.
        records = {k: np.concatenate([np.asarray(m[k]).reshape(num_members, -1)
                                      for m in jax.device_get(pending)], axis=1)
                   for k in logged}
        for i, member in enumerate(members):
          _check_finite({k: v[i] for k, v in records.items()}, step, member.workdir)
      if log_now:
        for member in members:
          member.commit(block=False)
        speed = steps_since_log / (time.perf_counter() - t0)
        epoch = step * gan.n_critic / (num_examples // t.batch_size)
        probed = probe(state) if probe is not None else {}
        for i, member in enumerate(members):
          scalars = {k: float(np.mean(records[k][i])) for k in logged}
          scalars.update({k: float(np.reshape(v, -1)[i]) for k, v in probed.items()})
          member.writer.write_scalars(step, {**scalars, 'steps_per_sec': speed, 'epoch': epoch})
        if progress is not None:
          progress.scalars({'d_loss': float(np.mean(records['d_loss'])),
                            'g_loss': float(np.mean(records['g_loss'])), 'steps_per_sec': speed})
        logs_seen += 1
        # At the second log line: the first window's speed includes compilation.
        if (logs_seen == 2 and step < total and jax.default_backend() == 'cpu'
            and t.get('cpu_hint', '')):
          log.info('on this CPU the %d steps left take about %.0f minutes (%.2f steps/s); %s',
                   total - step, (total - step) / speed / 60, speed, t.cpu_hint)
        pending, steps_since_log = [], 0
      if draw or save:
        # The steps dispatched so far count as training, not as what waits for them.
        jax.block_until_ready(state)
      for i, member in enumerate(members):
        if draw:
          with watch.part('grids'):
            sample_fn = member.draw(_member(state, i, num_members))
            member.grids.write(sample_fn, step)
          if evaluator is not None:
            with watch.part('evaluation'):
              m = member.evaluate(_member(state, i, num_members), sample_fn)
            log.info('%s', _quality_line(step, m, member.name))
        if save:
          with watch.part('checkpoints'):
            member.save(_member(state, i, num_members))
      if save:
        last_save = time.monotonic()
      if save and on_checkpoint is not None:
        with watch.part('checkpoints'):
          for member in members:
            member.commit()
        on_checkpoint(step)
      if stopped:
        break
      if log_now:
        # Steps/s counts training only: the clock restarts after grids, scores and saves.
        t0 = time.perf_counter()
    failed = False
  finally:
    if stream is not None:
      stream.close()
    if progress is not None:
      progress.close()
    with watch.part('closing'):   # the last checkpoint's writes, the GIF, the loss plot
      errors = []
      for member in members:
        try:
          member.close()
        except Exception as e:  # pylint: disable=broad-except
          errors.append(e)
      # An error already on its way out is the one to report (a full disk fails both).
      if errors and not failed:
        raise errors[0]
  if parallel.is_primary() and grid:
    rows = sweep_report.summarize(workdir)
    for line in sweep_report.table(rows):
      log.info('%s', line)
    log.info('sweep summary written: %s', ', '.join(
        str(p) for p in sweep_report.write(workdir, rows)))
  elif parallel.is_primary() and num_members > 1:
    for line in run_dir.population_summary(members):
      log.info('%s', line)
  if stopped and step < total:
    raise preemption.Preempted(step, stopped)
  log.info('done at step %d; outputs in %s; %s', step, workdir, watch.summary())
  return state
