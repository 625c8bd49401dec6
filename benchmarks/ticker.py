"""Progress of a long measurement on stderr: one line every few seconds, nothing in between."""
import sys
import time


class Ticker:
  """Prints `label: done/total steps, S s` at most every `every_s` seconds, and at the end."""

  def __init__(self, label, total, every_s=5.0, out=None):
    self.label, self.total, self.every_s = label, total, every_s
    self.out = out or sys.stderr
    self.t0 = self.last = time.monotonic()

  def __call__(self, done):
    now = time.monotonic()
    if done >= self.total or now - self.last >= self.every_s:
      self.last = now
      print(f'throughput: {self.label}: {done}/{self.total} steps, {now - self.t0:.0f} s',
            file=self.out, flush=True)

  def counter(self):
    """An object whose `advance(steps)` adds finished steps and ticks (train.report_finished's)."""
    return _Counter(self)


class _Counter:

  def __init__(self, tick):
    self.tick, self.done = tick, 0

  def advance(self, steps):
    self.done += steps
    self.tick(self.done)
