"""Command line: python -m jaxgan.main --config configs/mnist.py --workdir runs/mnist

Any config key can be overridden, e.g. --config.train.batch_size=128; a key
that does not exist is an error, with a suggestion.

Several hosts: start the same command on each with --distributed (the cluster
is detected under SLURM, Open MPI or on TPU pods), or name it with
--coordinator_address=HOST:PORT --num_processes=N --process_id=I.
"""
import os
import signal
import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from jaxgan import cli
from jaxgan.errors import ConfigError, JaxganError

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Directory for checkpoints, samples and metrics.')
config_flags.DEFINE_config_file('config', None, 'Training configuration file.', lock_config=True)
flags.DEFINE_integer('halt_after_checkpoint', None,
                     'Kill this process (SIGKILL) as soon as the checkpoint at this step is on '
                     'disk: a real crash, for checking that a resumed run equals an '
                     'uninterrupted one (jaxgan.repro uses it).')
flags.DEFINE_bool('distributed', False,
                  'Join a multi-process run (jax.distributed.initialize); implied by '
                  '--coordinator_address.')
flags.DEFINE_string('coordinator_address', None, 'HOST:PORT of process 0, for --distributed.')
flags.DEFINE_integer('num_processes', None, 'Processes in the run, for --distributed.')
flags.DEFINE_integer('process_id', None, "This process's index, 0..num_processes-1.")
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    cli.fail(f'unexpected arguments: {" ".join(argv[1:])}', 2)
  cli.quiet_logging()
  # Imported after the flags parse, so that a bad flag is reported without loading JAX.
  from jaxgan import parallel, preemption, train  # pylint: disable=g-import-not-at-top
  on_checkpoint = None
  if FLAGS.halt_after_checkpoint is not None:
    halt_at = FLAGS.halt_after_checkpoint
    on_checkpoint = lambda step: step == halt_at and os.kill(os.getpid(), signal.SIGKILL)
  try:
    if FLAGS.distributed or FLAGS.coordinator_address:
      parallel.initialize(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)
    progress = (cli.ProgressBar() if FLAGS.config.train.progress_bar and parallel.is_primary()
                else None)
    train.train_and_evaluate(FLAGS.config, FLAGS.workdir, on_checkpoint=on_checkpoint,
                             progress=progress)
  except preemption.Preempted as e:
    # Not an error: the job is to be started again, and resumes where it stopped.
    print(f'jaxgan: {e}', file=sys.stderr, flush=True)
    sys.exit(preemption.EXIT_CODE)
  except KeyboardInterrupt:
    cli.fail('interrupted (Ctrl-C twice): stopped without saving; the run resumes from its last '
             'checkpoint', 130)
  except ConfigError as e:
    cli.fail(str(e), 2)
  except JaxganError as e:
    cli.fail(str(e))
  except OSError as e:
    cli.fail(cli.os_error_line(e))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
