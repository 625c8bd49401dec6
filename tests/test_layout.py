"""The package's import graph: no cycles, and every import points down the intended layers."""
import ast
import importlib
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / 'jaxgan'

# Lower layers never import higher ones. Within a layer modules do not import each other.
LAYERS = [
    ('errors', 'timing', 'defaults', 'layers', 'preemption', 'xla_defaults',
     'cpu_threefry'),
    ('files', 'sample_files', 'hyper'),
    ('visualize', 'metric_writers', 'idx', 'image_files', 'fingerprint', 'parallel', 'losses',
     'optimizers', 'augment'),
    ('input_pipeline', 'sweep_report'),
    ('checkpointing', 'models', 'streaming'),
    ('gan', 'quality.metrics'),
    ('update', 'sampling', 'clusters', 'quality.features'),
    ('quality.evaluator',),
    ('run_dir', 'scoring'),
    ('train',),
    ('cli',),
    ('main', 'sample', 'evaluate', 'repro', 'sweep'),
]
RANK = {module: rank for rank, layer in enumerate(LAYERS) for module in layer}
COMMAND_LINES = ('main', 'sample', 'evaluate', 'repro', 'sweep')


def _module_name(path):
  parts = path.relative_to(PACKAGE).with_suffix('').parts
  return '.'.join(p for p in parts if p != '__init__')


def _imports(path):
  """The jaxgan modules a file imports (at any depth of the file, lazy imports included)."""
  found = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith('jaxgan'):
      base = node.module[len('jaxgan'):].lstrip('.')
      for alias in node.names:
        name = f'{base}.{alias.name}' if base else alias.name
        found.add(name if name in RANK or not base else base)
    elif isinstance(node, ast.Import):
      found.update(a.name[len('jaxgan.'):] for a in node.names if a.name.startswith('jaxgan.'))
  return found


def _graph():
  return {_module_name(p): _imports(p) for p in PACKAGE.rglob('*.py')
          if _module_name(p) not in ('', 'quality')}


def test_every_module_has_a_layer():
  assert set(_graph()) == set(RANK)


def test_imports_point_down_the_layers():
  upward = [(m, dep) for m, deps in _graph().items() for dep in deps
            if RANK[dep] >= RANK[m]]
  assert not upward, f'imports that do not point to a lower layer: {upward}'


def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch):
  # The checker itself can fail: a sampler that imports the trainer is caught.
  fake = tmp_path / 'jaxgan'
  (fake / 'quality').mkdir(parents=True)
  for p in PACKAGE.rglob('*.py'):
    target = fake / p.relative_to(PACKAGE)
    target.write_text(p.read_text())
  (fake / 'sampling.py').write_text((fake / 'sampling.py').read_text()
                                    + '\nfrom jaxgan import train\n')
  monkeypatch.setattr(sys.modules[__name__], 'PACKAGE', fake)
  upward = [(m, dep) for m, deps in _graph().items() for dep in deps if RANK[dep] >= RANK[m]]
  assert upward == [('sampling', 'train')]


def test_only_command_lines_print():
  printing = sorted(m for m, p in ((_module_name(p), p) for p in PACKAGE.rglob('*.py'))
                    if m not in COMMAND_LINES + ('cli',) and any(
                        isinstance(n, ast.Call) and getattr(n.func, 'id', None) == 'print'
                        for n in ast.walk(ast.parse(p.read_text()))))
  assert printing == []


@pytest.mark.parametrize('module', sorted(m for m in RANK if m not in COMMAND_LINES))
def test_each_library_module_imports_alone(module):
  # A fresh interpreter per module: an import cycle fails whichever module is imported first.
  result = subprocess.run([sys.executable, '-c', f'import jaxgan.{module}'],
                          capture_output=True, text=True, check=False)
  assert result.returncode == 0, result.stderr[-2000:]
