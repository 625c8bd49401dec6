"""CPU use (process CPU time / wall) of jaxgan's and the Keras tutorial's timed steps: python core_use.py BATCH STEPS from the repository root."""
import os, sys, time
sys.path.insert(0, 'benchmarks')
marks = []
_pc = time.perf_counter
def pc():
  t = os.times()
  marks.append((_pc(), t.user + t.system))
  return marks[-1][0]
time.perf_counter = pc
from absl import flags
import jax
import throughput, keras_tutorial
from jaxgan import defaults
batch, steps = int(sys.argv[1]), int(sys.argv[2])
config = defaults.get_config(); config.train.batch_size = batch
flags.FLAGS(['x'])
for name, run in [('jaxgan', lambda: throughput.time_jaxgan(config, steps, 60000, None)),
                  ('keras', lambda: keras_tutorial.measure(config, steps))]:
  marks.clear()
  out = run()
  # The loop: between the last two marks that bracket the timed steps.
  w1, c1 = marks[-1]
  wall = out[0]['steps'] / out[0]['steps_per_sec'] if isinstance(out, tuple) else out['steps'] / out['steps_per_sec']
  w0, c0 = min(marks, key=lambda m: abs((w1 - m[0]) - wall))
  print(name, batch, f'wall {w1-w0:.2f} s cpu {c1-c0:.2f} s util {(c1-c0)/(w1-w0):.2f} cores', flush=True)
