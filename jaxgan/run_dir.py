"""One run's outputs in its workdir: metrics, checkpoints, fixed-noise grids, fingerprints.

A population of N seeds keeps each member in `workdir/seed_S`, a sweep in
`workdir/POINT/seed_S`, laid out as a solo run's workdir, so every tool that
reads a workdir reads a member too.
Computations (G for a grid, checkpoint saves) run on every process; the other
files come from process 0 alone.
"""
import pathlib
import tempfile

import numpy as np

from jaxgan import checkpointing
from jaxgan import files
from jaxgan import fingerprint
from jaxgan import gan as gan_lib
from jaxgan import hyper
from jaxgan import input_pipeline
from jaxgan import metric_writers
from jaxgan import parallel
from jaxgan import sampling
from jaxgan import visualize
from jaxgan.errors import JaxganError


def prepare_workdir(workdir):
  path = pathlib.Path(workdir).expanduser()
  try:
    path.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path):
      pass
  except OSError as e:
    raise JaxganError(f'workdir {path} is not writable: {e.strerror or e}') from None
  return path


def member_configs(config, workdir):
  """(config, workdir) of each member: the run itself, one per seed of a population
  (workdir/seed_S), or one per seed of each point of a sweep (workdir/POINT/seed_S).
  """
  grid = hyper.points(hyper.parse(config.get('sweep', ''), config))
  if config.train.num_seeds == 1 and not grid:
    return [(config, workdir)]
  members = []
  for point in grid or [{}]:
    folder = workdir / hyper.point_name(point) if point else workdir
    for i in range(config.train.num_seeds):
      member = hyper.apply(config, point)
      with member.unlocked():
        member.seed = config.seed + i
        member.train.num_seeds = 1
        member.sweep = ''
      members.append((member, prepare_workdir(folder / f'seed_{member.seed}')))
  return members


class FixedNoiseGrids:
  """Fixed-noise grids: a PNG per evaluation, a TensorBoard image, the GIF at the end."""

  def __init__(self, gan, config, workdir, writer):
    self._labels, self._cols = None, None
    if gan_lib.g_choices(gan):
      # One row per class (or code); each column one latent, so a column shows one style.
      self._cols = max(1, config.train.num_samples // gan_lib.g_choices(gan))
      self._z, self._labels = sampling.class_grid_inputs(
          gan, sampling.fixed_noise(gan, config.seed, self._cols))
    else:
      self._z = sampling.fixed_noise(gan, config.seed, config.train.num_samples)
    self._dir = pathlib.Path(workdir) / 'samples'
    if parallel.is_primary():
      self._dir.mkdir(exist_ok=True)
    self._writer = writer

  def write(self, draw, step):
    """The grid of `draw` (sampling.Drawer.bind of the state at `step`)."""
    # Every process runs G (a computation on the global mesh); process 0 draws the grid.
    images = draw(self._z, self._labels)
    path = self._dir / f'step_{int(step):07d}.png'
    if parallel.is_primary():
      grid = visualize.image_grid(input_pipeline.to_uint8(images), ncols=self._cols)
      visualize.save_png(path, grid)
      self._writer.write_image(int(step), 'samples', grid)
    return path


class Member:
  """One member of the run: its config, workdir, checkpoints, metrics and grids."""

  def __init__(self, gan, config, workdir, evaluator, drawer, name=''):
    # name: the member's folder under the run's workdir ('' for a run of one).
    self.config, self.workdir, self.name = config, workdir, name
    self.keys = gan_lib.rngs(config.seed)
    self.manager = checkpointing.make_manager(workdir, config.train.max_checkpoints)
    self.best = checkpointing.make_best_manager(workdir) if evaluator else None
    self.writer = (metric_writers.MetricWriter(workdir) if parallel.is_primary()
                   else metric_writers.NullWriter())
    self.grids = FixedNoiseGrids(gan, config, workdir, self.writer)
    self._gan, self._evaluator, self._drawer = gan, evaluator, drawer
    self._pending = None   # (step, fingerprint) of the checkpoint being written

  def draw(self, state):
    """(z, labels=None) -> images of this member's G at `state`."""
    return self._drawer.bind(state, self.config.seed)

  def draw_grid(self, state):
    return self.grids.write(self.draw(state), state.step)

  def evaluate(self, state, draw):
    """Scores `draw` (the state's G), logs the metrics, keeps the best checkpoint by FID."""
    pixels, labels = sampling.generate(draw, self._gan, self._evaluator.num_samples,
                                       self.keys['eval'])
    metrics = self._evaluator.score(pixels, labels)
    self.writer.write_scalars(int(state.step),
                              {k: v for k, v in metrics.items() if isinstance(v, float)})
    checkpointing.save(self.best, state, metrics={'fid': metrics['fid']})
    return metrics

  def truncate(self, state):
    """Drops records past the step of `state`, the checkpoint a resumed run starts from.

    The checkpoint's own fingerprint is recorded if a crash came between its
    commit and the record.
    """
    if not parallel.is_primary():
      return
    step = int(state.step)
    files.truncate_jsonl(self.workdir / metric_writers.METRICS_FILE, step)
    fingerprint.truncate(self.workdir, step)
    if step and all(r['step'] != step for r in fingerprint.read(self.workdir)):
      fingerprint.append_record(self.workdir, fingerprint.state_fingerprint(state))

  def save(self, state):
    """Starts writing a checkpoint of `state`; its fingerprint is recorded once it is on disk."""
    self.commit()
    checkpointing.save(self.manager, state)
    self._pending = int(state.step), (fingerprint.state_fingerprint(state)
                                      if parallel.is_primary() else None)

  def commit(self, block=True):
    """Once the last checkpoint is on disk (waiting for it if `block`), appends its fingerprint.

    A fingerprint thus never names a checkpoint that a crash kept from committing.
    """
    if self._pending is None or (not block and self.manager.is_saving_in_progress()):
      return
    step, record = self._pending
    self._pending = None
    checkpointing.wait(self.manager, step)
    if record is not None:
      fingerprint.append_record(self.workdir, record)

  def close(self):
    """Waits for the last checkpoint's writes, then draws the GIF and the loss plot.

    Every part runs even when one fails (Orbax's threads end here, not in the
    interpreter's shutdown); the first failure is raised at the end.
    """
    errors = []
    for part in (self.commit, self.writer.close,
                 lambda: self.best is not None and checkpointing.wait(self.best, None),
                 lambda: checkpointing.close(self.manager),
                 lambda: self.best is not None and checkpointing.close(self.best)):
      try:
        part()
      except Exception as e:  # pylint: disable=broad-except
        errors.append(e)
    if errors:
      raise errors[0]
    if parallel.is_primary():
      finish(self.workdir)


def finish(workdir):
  workdir = pathlib.Path(workdir)
  visualize.save_gif(visualize.sample_paths(workdir), workdir / 'samples.gif')
  records = metric_writers.read_metrics(workdir)
  if records:
    visualize.plot_losses(records, workdir / 'losses.png')


def population_summary(members):
  """Lines of each member's last value of each metric, and their mean +/- standard deviation."""
  lines = []
  for name in ('fid', 'kid', 'precision', 'recall', 'd_loss', 'g_loss'):
    last = [[r[name] for r in metric_writers.read_metrics(m.workdir) if name in r]
            for m in members]
    if not all(last):
      continue
    values = np.array([v[-1] for v in last])
    per_seed = ', '.join(f'{m.config.seed}: {v:.4f}' for m, v in zip(members, values))
    lines.append(f'final {name} mean {values.mean():.4f} +/- {values.std(ddof=1):.4f} '
                 f'({per_seed})')
  return lines
