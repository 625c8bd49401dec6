"""The run's closing line says where its wall time went."""
from jaxgan import timing


def test_parts_add_up_and_the_rest_is_training():
  ticks = iter([0.0, 1.0, 3.0, 10.0, 12.0, 20.0])
  watch = timing.Stopwatch(clock=lambda: next(ticks))   # starts at 0
  with watch.part('evaluation'):     # 1 -> 3
    pass
  watch.add('start-up', 1.0)
  with watch.part('evaluation'):     # 10 -> 12
    pass
  assert watch.seconds == {'evaluation': 4.0, 'start-up': 1.0}
  # At 20 s, 5 are claimed: the other 15 are training.
  assert watch.summary() == '20.0 s: evaluation 4.0 s, start-up 1.0 s, training 15.0 s'


def test_a_part_that_raises_is_still_counted():
  ticks = iter([0.0, 1.0, 4.0, 10.0])
  watch = timing.Stopwatch(clock=lambda: next(ticks))
  try:
    with watch.part('checkpoints'):
      raise ValueError('disk full')
  except ValueError:
    pass
  assert watch.seconds == {'checkpoints': 3.0}
  assert watch.summary() == '10.0 s: checkpoints 3.0 s, training 7.0 s'
