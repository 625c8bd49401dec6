"""Hyperparameters that enter the training step as numbers, and sweeps over them.

`--config.sweep='optimizer.g_learning_rate=1e-4,2e-4;gan.ema_decay=0,0.999'`
names a grid (the product of each key's values). Every key here changes only
numbers inside the step, so the members of a grid share one program: their
values are a pytree vmapped beside their states. Keys that change shapes or
code (model.*, loss, n_critic, batch size, dtype) are refused.
"""
import difflib
import itertools

from jaxgan.errors import ConfigError

# config key -> the value's name inside the step.
IN_PROGRAM = {
    'optimizer.g_learning_rate': 'g_learning_rate',
    'optimizer.d_learning_rate': 'd_learning_rate',
    'optimizer.b1': 'b1',
    'optimizer.b2': 'b2',
    'optimizer.rmsprop_decay': 'rmsprop_decay',
    'optimizer.grad_clip_norm': 'grad_clip_norm',
    'gan.ema_decay': 'ema_decay',
    'gan.gradient_penalty': 'gradient_penalty',
    'gan.r1_gamma': 'r1_gamma',
    'gan.drop_worst': 'drop_worst',
    'gan.code_weight': 'code_weight',
    'gan.continuous_weight': 'continuous_weight',
    'gan.weight_clip': 'weight_clip',
    'gan.real_label': 'real_label',
    'gan.augment_target': 'augment_target',
    'gan.mode_seeking': 'mode_seeking',
}
# Keys whose 0 switches off a part of the state that no value can stand in for
# (ADA's probability): members of one program keep the same state, so 0 cannot
# be swept beside > 0. (An EMA with decay 0 is G's weights, a clip at infinity
# no clip: those switches can.)
STATE_SWITCHES = ('gan.augment_target',)
# Switches whose part a sweep keeps for every member once any member has it on:
# config key -> value name. A member whose value is 0 keeps the part (unused).
SWITCHES_KEPT = {'gan.ema_decay': 'ema_decay', 'optimizer.grad_clip_norm': 'grad_clip_norm'}
# Keys that only one optimizer reads.
_OPTIMIZER_ONLY = {'optimizer.b1': 'adam', 'optimizer.b2': 'adam',
                   'optimizer.rmsprop_decay': 'rmsprop'}
# Weights of parts that only a nonzero gan.* setting adds: {key: (that setting, its name)}.
NEEDS = {'gan.code_weight': ('latent_codes', 'codes'),
         'gan.continuous_weight': ('continuous_codes', 'continuous codes')}


def values(config):
  """{name: float} of the in-program hyperparameters in `config`."""
  out = {}
  for key, name in IN_PROGRAM.items():
    section, leaf = key.split('.')
    # Configs saved before a key existed run with its default (off).
    out[name] = float(config[section].get(leaf, 0.0))
  return out


def apply(config, point):
  """A copy of `config` with a grid point's values ({key: number}) set."""
  out = config.copy_and_resolve_references()
  with out.unlocked():
    for key, value in point.items():
      section, leaf = key.split('.')
      # Replaced, not assigned: a config may have written an int where the value is a float.
      if leaf in out[section]:
        del out[section][leaf]
      out[section][leaf] = float(value)
  return out


def _flat_keys(config):
  keys = []
  for name, value in config.items():
    if hasattr(value, 'items'):
      keys += [f'{name}.{k}' for k in _flat_keys(value)]
    else:
      keys.append(name)
  return keys


def _number(text, key):
  try:
    return float(text)
  except ValueError:
    raise ConfigError(f'sweep: {key} wants numbers, not {text!r}') from None


def parse(text, config):
  """[(key, (value, ...)), ...] of a sweep string; '' -> [] (no sweep)."""
  if not text.strip():
    return []
  known = _flat_keys(config)
  grid, seen = [], set()
  for part in text.split(';'):
    if '=' not in part:
      raise ConfigError(f"sweep: each part is key=v1,v2,... separated by ';', not {part.strip()!r}")
    key, raw = (s.strip() for s in part.split('=', 1))
    if key not in known:
      guess = difflib.get_close_matches(key, known, n=1)
      raise ConfigError(f'unknown config key {key!r}'
                        + (f' (did you mean {guess[0]!r}?)' if guess else ''))
    if key not in IN_PROGRAM:
      raise ConfigError(f'sweep: {key} changes the program (shapes or code), so it cannot be '
                        f'swept in one program; sweepable keys: {", ".join(IN_PROGRAM)}')
    if key in seen:
      raise ConfigError(f'sweep: {key} is named twice')
    if _OPTIMIZER_ONLY.get(key, config.optimizer.name) != config.optimizer.name:
      raise ConfigError(f'sweep: {key} has no effect with optimizer.name='
                        f'{config.optimizer.name!r}')
    if key in NEEDS and not config.gan.get(NEEDS[key][0], 0):
      setting, what = NEEDS[key]
      raise ConfigError(f'sweep: {key} has no effect without {what} (set gan.{setting})')
    seen.add(key)
    texts = [v.strip() for v in raw.split(',')]
    if not all(texts):
      raise ConfigError(f'sweep: {key} has an empty value in {raw.strip()!r}')
    numbers = tuple(_number(v, key) for v in texts)
    if len(set(numbers)) != len(numbers):
      raise ConfigError(f'sweep: {key} lists a value twice ({raw.strip()})')
    if key in STATE_SWITCHES and 0.0 in numbers and any(numbers):
      raise ConfigError(f'sweep: {key} = 0 turns a part of the state off; sweep values > 0 only')
    grid.append((key, numbers))
  return grid


def points(grid):
  """Every combination of the grid's values, as [{key: value}, ...], the last key fastest."""
  if not grid:
    return []
  keys = [k for k, _ in grid]
  return [dict(zip(keys, combo)) for combo in itertools.product(*(v for _, v in grid))]


def point_name(point):
  """The folder name of a grid point: 'g_learning_rate=0.0001,ema_decay=0.999'."""
  return ','.join(f'{IN_PROGRAM[k]}={_short(v)}' for k, v in point.items())


def _short(value):
  """The shortest text of a number that reads back as the same number ('0.001', '1e-05')."""
  text = f'{value:g}'
  return text if float(text) == value else repr(value)


def parse_point_name(name):
  """{name: float} of a folder named by point_name, or None for any other folder."""
  out = {}
  for part in name.split(','):
    key, _, value = part.partition('=')
    if key not in IN_PROGRAM.values():
      return None
    try:
      out[key] = float(value)
    except ValueError:
      return None
  return out
