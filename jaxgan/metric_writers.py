"""Scalars and images to metrics.jsonl and TensorBoard event files."""
import json
import pathlib

import numpy as np

METRICS_FILE = 'metrics.jsonl'


def read_metrics(workdir):
  return read_jsonl(pathlib.Path(workdir) / METRICS_FILE)


def read_jsonl(path):
  path = pathlib.Path(path)
  if not path.is_file():
    return []
  return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def truncate_jsonl(path, last_step):
  """Drops records past `last_step`: a resumed run writes them again."""
  records = read_jsonl(path)
  kept = [r for r in records if r['step'] <= last_step]
  if len(kept) != len(records):
    pathlib.Path(path).write_text(''.join(json.dumps(r) + '\n' for r in kept))


class MetricWriter:
  """Appends one JSON object per record and mirrors it to TensorBoard."""

  def __init__(self, workdir):
    from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
    self._jsonl = open(pathlib.Path(workdir) / METRICS_FILE, 'a', encoding='utf-8')
    self._tb = SummaryWriter(str(pathlib.Path(workdir) / 'tensorboard'))

  def write_scalars(self, step, scalars):
    record = {'step': int(step), **{k: float(v) for k, v in scalars.items()}}
    self._jsonl.write(json.dumps(record) + '\n')
    self._jsonl.flush()
    for k, v in scalars.items():
      self._tb.add_scalar(k, float(v), int(step))

  def write_image(self, step, name, image_uint8):
    self._tb.add_image(name, np.asarray(image_uint8), int(step), dataformats='HW')

  def close(self):
    self._jsonl.close()
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
