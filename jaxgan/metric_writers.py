"""Scalars and images to metrics.jsonl and TensorBoard event files."""
import json
import pathlib
import time

import numpy as np

from jaxgan import files

METRICS_FILE = 'metrics.jsonl'
# How often TensorBoard's events reach the disk (as tensorboardX's own writer does, more often).
_FLUSH_SECONDS = 30


def read_metrics(workdir):
  return files.read_jsonl(pathlib.Path(workdir) / METRICS_FILE)


class MetricWriter:
  """Appends one JSON object per record and mirrors it to TensorBoard.

  TensorBoard's events are written in this thread, not in tensorboardX's
  background writer: that thread dies on a full disk and its queue then blocks
  the run for good; written here, the failure is an error at the write.
  """

  def __init__(self, workdir):
    from tensorboardX import event_file_writer  # pylint: disable=g-import-not-at-top
    # Opened for each record: a resumed run replaces the file (dropping records
    # past its checkpoint) after this writer exists.
    self._jsonl_path = pathlib.Path(workdir) / METRICS_FILE
    self._events_dir = pathlib.Path(workdir) / 'tensorboard'
    with files.disk_errors(self._events_dir):
      self._events_dir.mkdir(exist_ok=True)
      self._tb = event_file_writer.EventsWriter(str(self._events_dir / 'events'))
    self._flushed = time.monotonic()

  def _write_events(self, step, summaries):
    from tensorboardX.proto import event_pb2  # pylint: disable=g-import-not-at-top
    with files.disk_errors(self._events_dir):
      for summary in summaries:
        self._tb.write_event(event_pb2.Event(wall_time=time.time(), step=int(step),
                                             summary=summary))
      # tensorboardX's flush syncs the file to disk: every so often, not at every record.
      if time.monotonic() - self._flushed >= _FLUSH_SECONDS:
        self._tb.flush()
        self._flushed = time.monotonic()

  def write_scalars(self, step, scalars):
    from tensorboardX import summary  # pylint: disable=g-import-not-at-top
    record = {'step': int(step), **{k: float(v) for k, v in scalars.items()}}
    files.append_line(self._jsonl_path, json.dumps(record))
    self._write_events(step, [summary.scalar(k, float(v)) for k, v in scalars.items()])

  def write_image(self, step, name, image_uint8):
    from tensorboardX import summary  # pylint: disable=g-import-not-at-top
    image = np.asarray(image_uint8)
    self._write_events(step, [summary.image(name, image,
                                            dataformats='HWC' if image.ndim == 3 else 'HW')])

  def close(self):
    with files.disk_errors(self._events_dir):
      self._tb.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


class NullWriter:
  """MetricWriter's interface, writing nothing: for the processes other than 0."""

  def write_scalars(self, step, scalars):
    del step, scalars

  def write_image(self, step, name, image_uint8):
    del step, name, image_uint8

  def close(self):
    pass
