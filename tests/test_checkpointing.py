"""What the README promises of checkpoints: which changes refuse a resume, how many are kept."""
import ml_collections
import pytest

from jaxgan import checkpointing
from jaxgan import train
from jaxgan.errors import JaxganError


@pytest.mark.parametrize('key, value', [
    ('optimizer.grad_clip_norm', 1.0), ('optimizer.schedule', 'cosine'),
    ('optimizer.warmup_steps', 10), ('gan.ema_decay', 0.999), ('model.latent_dim', 8)])
def test_resume_is_refused_when_the_state_structure_would_change(config, tmp_path, key, value):
  checkpointing.save_config(config, tmp_path)
  saved = checkpointing.load_saved_config(tmp_path)
  group, name = key.split('.')
  old = config[group][name]
  config[group][name] = value
  # The refusal also names the flag that sets the run's own value back.
  with pytest.raises(JaxganError, match=rf'different architecture \({key}: {old!r} -> {value!r}\); '
                                        rf'resume it with its own settings \(--config.{key}={old}\)'):
    checkpointing.check_compatible(saved, config, tmp_path)


def test_a_refusal_names_no_flag_for_what_the_data_decide(config, tmp_path):
  config.model.image_shape = (28, 28, 1)
  checkpointing.save_config(config, tmp_path)
  saved = checkpointing.load_saved_config(tmp_path)
  config.model.image_shape = (32, 32, 3)
  with pytest.raises(JaxganError, match=r'resume it with its own config or'):
    checkpointing.check_compatible(saved, config, tmp_path)


@pytest.mark.parametrize('key, value', [('optimizer.d_learning_rate', 3e-4),
                                        ('train.num_steps', 100), ('train.log_every', 7)])
def test_resume_is_allowed_when_the_state_structure_stays(config, tmp_path, key, value):
  checkpointing.save_config(config, tmp_path)
  saved = checkpointing.load_saved_config(tmp_path)
  group, name = key.split('.')
  config[group][name] = value
  checkpointing.check_compatible(saved, config, tmp_path)


@pytest.mark.parametrize('before, after', [(0.0, 0.6), (0.6, 0.0)])
def test_turning_ada_on_or_off_is_refused_on_resume(config, tmp_path, before, after):
  config.gan.augment = 'translation'
  config.gan.augment_target = before
  checkpointing.save_config(config, tmp_path)
  saved = checkpointing.load_saved_config(tmp_path)
  config.gan.augment_target = 0.5 if before else 0.0
  checkpointing.check_compatible(saved, config, tmp_path)   # same on/off: allowed
  config.gan.augment_target = after
  with pytest.raises(JaxganError, match=r'ADA \(gan.augment_target > 0\): '
                                        f'{before > 0} -> {after > 0}'):
    checkpointing.check_compatible(saved, config, tmp_path)


def test_only_the_last_max_checkpoints_are_kept(config, tmp_path):
  config.train.checkpoint_every = 2
  config.train.max_checkpoints = 2
  train.train_and_evaluate(config, tmp_path)
  kept = sorted(int(p.name) for p in (tmp_path / 'checkpoints').iterdir() if p.name.isdigit())
  assert kept == [6, 8]


def test_a_resume_that_stretches_a_decaying_schedule_says_how_the_rate_moves(config):
  config.optimizer.schedule = 'cosine'
  config.optimizer.final_lr_fraction = 0.1
  config.optimizer.g_learning_rate = 1e-3
  config.train.num_steps = 8
  saved = config.copy_and_resolve_references()
  assert train.schedule_shift(saved, config, 8, 1000) == ''      # same length
  config.train.num_steps = 12
  assert train.schedule_shift(saved, config, 0, 1000) == ''      # a fresh start
  # Cosine to a tenth: the end of 8 steps is 1e-3 * 0.1; step 8 of 12 is
  # 1e-3 * (0.1 + 0.9 * (1 + cos(2 pi / 3)) / 2) = 1e-3 * 0.325.
  assert train.schedule_shift(saved, config, 8, 1000) == (
      'the run is now 12 steps long, not 8: its cosine schedule spans the new length, '
      'so the learning rates at step 8 are 0.325 of their peaks where the saved steps led to 0.1')
  config.train.num_steps = 6
  assert train.schedule_shift(saved, config, 8, 1000) == ''      # nothing left to train
  config.optimizer.schedule = saved.optimizer.schedule = 'constant'
  config.train.num_steps = 12
  assert train.schedule_shift(saved, config, 8, 1000) == ''      # nothing moves


def test_a_resume_that_changes_the_schedule_settings_says_how_the_rates_move(config):
  config.optimizer.schedule = 'cosine'
  config.optimizer.final_lr_fraction = 0.1
  config.train.num_steps = 8
  saved = ml_collections.ConfigDict(config.to_dict())
  del saved.optimizer['decay_fraction']     # saved before the setting existed: it decayed to the end
  assert train.schedule_shift(saved, config, 4, 1000) == ''      # 1.0 then, 1.0 now
  config.optimizer.decay_fraction = 0.5
  # Saved: cosine over 8 steps, at step 4 0.1 + 0.9 * (1 + cos(pi / 2)) / 2 = 0.55, at
  # step 7 0.1 + 0.9 * (1 + cos(7 pi / 8)) / 2 = 0.134; now the decay ends at step 4.
  assert train.schedule_shift(saved, config, 4, 1000) == (
      "the config changes the saved run's learning-rate schedule for the remaining steps "
      '(optimizer.decay_fraction 1.0 -> 0.5): from step 4 on the rates are 0.1 of their peaks where the saved schedule '
      'gives 0.55, and 0.1 at the last step where it gives 0.134')
  assert train.schedule_shift(saved, config, 0, 1000) == ''      # a fresh start
  assert train.schedule_shift(saved, config, 8, 1000) == ''      # nothing left to train
  # Changes the remaining steps do not feel: a decay that ends where it ended before,
  # a final rate under a constant schedule.
  saved.optimizer.decay_fraction = 0.5
  config.optimizer.decay_fraction = 0.51     # round(8 * 0.51) = 4, as round(8 * 0.5)
  assert train.schedule_shift(saved, config, 4, 1000) == ''
  config.optimizer.schedule = saved.optimizer.schedule = 'constant'
  config.optimizer.final_lr_fraction = 0.2
  assert train.schedule_shift(saved, config, 4, 1000) == ''
  # With a new length, the length's line names the changed settings too.
  config.optimizer.schedule = saved.optimizer.schedule = 'cosine'
  config.optimizer.decay_fraction, config.train.num_steps = 0.5, 16
  assert train.schedule_shift(saved, config, 4, 1000).endswith(
      '(optimizer.final_lr_fraction 0.1 -> 0.2)')


def test_a_length_given_in_epochs_counts_as_its_steps(config):
  config.optimizer.schedule = 'cosine'
  config.train.num_steps, config.train.num_epochs, config.train.batch_size = 0, 2, 100
  saved = config.copy_and_resolve_references()   # 2 epochs of 1,000 images: 20 steps
  config.train.num_steps = 20
  assert train.schedule_shift(saved, config, 10, 1000) == ''
  config.train.num_steps, config.train.num_epochs = 0, 4
  assert train.schedule_shift(saved, config, 10, 1000).startswith(
      'the run is now 40 steps long, not 20')


def test_extending_a_cosine_run_warns_once_with_the_rates(config, tmp_path, caplog):
  config.optimizer.schedule = 'cosine'
  config.optimizer.final_lr_fraction = 0.1
  assert config.train.num_steps == 8
  train.train_and_evaluate(config, tmp_path)
  config.train.num_steps = 16
  with caplog.at_level('WARNING', logger='jaxgan'):
    train.train_and_evaluate(config, tmp_path)
  shifts = [r.getMessage() for r in caplog.records if 'schedule spans the new length' in r.getMessage()]
  # Cosine to a tenth: the end of 8 steps is 0.1 of the peak; step 8 of 16 is
  # 0.1 + 0.9 * (1 + cos(pi / 2)) / 2 = 0.55.
  assert shifts == ['the run is now 16 steps long, not 8: its cosine schedule spans the new '
                    'length, so the learning rates at step 8 are 0.55 of their peaks where the '
                    'saved steps led to 0.1']
