"""Where a run's wall time goes: start-up, compilation, training, evaluation, grids, checkpoints."""
import contextlib
import time


class Stopwatch:
  """Wall seconds per named part of a run; what no part claims is training."""

  def __init__(self, clock=time.perf_counter):
    self._clock = clock
    self._start = clock()
    self.seconds = {}

  @contextlib.contextmanager
  def part(self, name):
    start = self._clock()
    try:
      yield
    finally:
      self.add(name, self._clock() - start)

  def elapsed(self):
    return self._clock() - self._start

  def add(self, name, seconds):
    self.seconds[name] = self.seconds.get(name, 0.0) + seconds

  def summary(self):
    """'N s: start-up a s, ..., training t s' with the parts in the order first timed."""
    total = self.elapsed()
    parts = [*self.seconds.items(), ('training', total - sum(self.seconds.values()))]
    return f'{total:.1f} s: ' + ', '.join(f'{name} {s:.1f} s' for name, s in parts)
