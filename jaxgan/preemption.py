"""Stop requests: SIGTERM, SIGINT and SIGUSR1 ask a run to save and stop at its next log line.

Cluster schedulers send SIGTERM before they preempt a job (SLURM also SIGUSR1
with `--signal`), a user presses Ctrl-C (SIGINT). While `StopSignals` is
active these set a flag that the training loop reads at its next log line
(where a window of recorded losses ends, so the resumed run's record is the
uninterrupted run's), instead of killing the process mid-step; a second
Ctrl-C interrupts at once.
"""
import signal
import threading

# The exit status of a run stopped this way (sysexits.h's EX_TEMPFAIL: try
# again later), so a job script can tell "requeue me" from success and failure.
EXIT_CODE = 75
SIGNALS = ('SIGTERM', 'SIGINT', 'SIGUSR1')


class Preempted(Exception):
  """Raised once a stopped run's checkpoint and closing outputs are written."""

  def __init__(self, step, signal_name):
    super().__init__(f'preempted at step {step} by {signal_name}; checkpoint saved')
    self.step, self.signal_name = step, signal_name


class StopSignals:
  """A context manager; `requested` is the first stop signal's name, or None.

  Handlers are installed only in the main thread (Python allows no other) and
  the previous ones are restored on exit.
  """

  def __init__(self):
    self.requested = None
    self._previous = {}

  def _handle(self, signum, frame):
    del frame
    if self.requested is not None and signum == signal.SIGINT:
      raise KeyboardInterrupt
    if self.requested is None:
      self.requested = signal.Signals(signum).name

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for name in SIGNALS:
        sig = getattr(signal, name)
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
    self._previous = {}
