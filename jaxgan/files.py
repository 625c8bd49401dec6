"""Files that survive a crash: atomic replacement, JSONL with a torn last line, the workdir lock.

A run can be killed at any instruction, or a disk can fill half-way through a
write. Whole files (grids, the GIF, the loss plot, rewritten JSONL) are written
to a temporary name and renamed, so a reader sees the old file or the new one;
appended JSONL records can be cut off, so readers drop a torn last line.
"""
import contextlib
import errno
import fcntl
import json
import logging
import os
import pathlib

from jaxgan.errors import DiskError, JaxganError

log = logging.getLogger(__name__)

LOCK_FILE = '.lock'


@contextlib.contextmanager
def replaced_atomically(path):
  """Yields a temporary path beside `path`; on success it becomes `path` in one rename."""
  path = pathlib.Path(path)
  tmp = path.with_name(f'.{path.name}.tmp-{os.getpid()}')
  try:
    with disk_errors(path):
      yield tmp
      # On disk before the rename, so that a power cut leaves the old file or the new one.
      _fsync(tmp)
      os.replace(tmp, path)
      _fsync(path.parent)
  finally:
    with contextlib.suppress(FileNotFoundError):
      tmp.unlink()


@contextlib.contextmanager
def disk_errors(path):
  """Turns an OSError while writing `path` into a one-line DiskError."""
  try:
    yield
  except OSError as e:
    raise DiskError(f'cannot write {path}: {e.strerror or e}') from None


def _fsync(path):
  fd = os.open(path, os.O_RDONLY)
  try:
    os.fsync(fd)
  finally:
    os.close(fd)


def append_line(path, text):
  """Appends one line; a crash mid-write leaves at most a torn last line, which readers drop.

  A torn last line left by an earlier crash is cut off first, so the new line
  starts a line of its own instead of joining the fragment.
  """
  with disk_errors(path), open(path, 'a+b') as f:
    end = f.seek(0, os.SEEK_END)
    if end:
      f.seek(end - 1)
      if f.read(1) != b'\n':
        f.seek(0)
        content = f.read()
        start = content.rfind(b'\n') + 1
        try:
          json.loads(content[start:])
          f.write(b'\n')                # a whole record whose newline was cut off
        except ValueError:
          f.truncate(start)
    f.write(text.encode('utf-8') + b'\n')


def parse_jsonl(path):
  """(records, torn): the file's records, and whether a cut-off last line was dropped.

  Only the last line can be torn by a crash; a bad line before it is damage,
  reported as an error.
  """
  path = pathlib.Path(path)
  if not path.is_file():
    return [], False
  lines = path.read_text(encoding='utf-8', errors='replace').split('\n')
  records, torn = [], False
  for i, line in enumerate(lines):
    if not line.strip():
      continue
    try:
      records.append(json.loads(line))
    except ValueError:
      # The last line, or a last line followed only by the newline of its own
      # write, was cut off mid-write.
      if any(rest.strip() for rest in lines[i + 1:]):
        raise JaxganError(f'{path}: line {i + 1} is not JSON (the file is damaged)') from None
      torn = True
  return records, torn


def read_jsonl(path):
  """The records of a JSONL file; a torn last line (a crash mid-write) is dropped with a warning."""
  records, torn = parse_jsonl(path)
  if torn:
    log.warning('%s: dropped a cut-off last line (written when a run stopped mid-write)', path)
  return records


def write_jsonl(path, records):
  with replaced_atomically(path) as tmp:
    tmp.write_text(''.join(json.dumps(r) + '\n' for r in records), encoding='utf-8')


def truncate_jsonl(path, last_step):
  """Drops records past `last_step` (a resumed run writes them again) and a torn last line."""
  path = pathlib.Path(path)
  records, torn = parse_jsonl(path)
  kept = [r for r in records if r['step'] <= last_step]
  unterminated = path.is_file() and path.stat().st_size and not path.read_bytes().endswith(b'\n')
  if torn or unterminated or len(kept) != len(records):
    write_jsonl(path, kept)


class WorkdirLock:
  """An exclusive lock on a workdir, held while a run trains in it.

  `fcntl.flock` on `workdir/.lock`: the kernel releases it when the process
  ends, however it ends, so a crashed run never leaves a stale lock behind.
  """

  def __init__(self, workdir):
    self._path = pathlib.Path(workdir) / LOCK_FILE
    self._fd = None

  def __enter__(self):
    fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      os.close(fd)
      if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
        raise
      owner = self._path.read_text().strip() or 'unknown'
      raise JaxganError(f'workdir {self._path.parent} in use by pid {owner} (one run per '
                        'workdir; wait for it to end, or use another --workdir)') from None
    os.ftruncate(fd, 0)
    os.write(fd, f'{os.getpid()}\n'.encode())
    self._fd = fd
    return self

  def __exit__(self, *exc):
    if self._fd is not None:
      fcntl.flock(self._fd, fcntl.LOCK_UN)
      os.close(self._fd)
      self._fd = None
