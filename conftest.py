"""Shared by the tests and the notebooks: one XLA compilation cache for the whole session.

Most of the suite's time is compiling: the same small GAN's programs are built again by
every test that trains and by every subprocess (command-line, kill/resume, multi-host and
notebook runs). A persistent cache in a folder of this session's own, passed to the
subprocesses through the environment, builds each program once. A cached program is the
compiled program itself, so results are the same bits as without it.
"""
import atexit
import os
import shutil
import tempfile

if 'JAX_COMPILATION_CACHE_DIR' not in os.environ:
  _cache = tempfile.mkdtemp(prefix='jaxgan-test-xla-cache-')
  atexit.register(shutil.rmtree, _cache, ignore_errors=True)
  os.environ['JAX_COMPILATION_CACHE_DIR'] = _cache
  # Every program, however quick to compile: the test programs are small.
  os.environ['JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS'] = '0'
  os.environ['JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES'] = '0'
