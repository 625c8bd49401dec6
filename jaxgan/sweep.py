"""Command line: python -m jaxgan.sweep --summarize WORKDIR

Ranks the grid points of a sweep (`python -m jaxgan.main ... --config.sweep=...`)
by final and best FID, mean +/- std over seeds, at any time, even while it
trains: prints the table and writes WORKDIR/sweep.json and WORKDIR/sweep.png.
"""
import pathlib

from absl import app
from absl import flags

from jaxgan import cli
from jaxgan.errors import JaxganError

FLAGS = flags.FLAGS
flags.DEFINE_bool('summarize', False, "Rank the sweep in the workdir given as argument.")


def main(argv):
  if not FLAGS.summarize or len(argv) != 2:
    cli.fail('usage: python -m jaxgan.sweep --summarize WORKDIR', 2)
  workdir = pathlib.Path(argv[1])
  if not workdir.is_dir():
    cli.fail(f'{workdir} is not a folder', 2)
  cli.quiet_logging()
  from jaxgan import sweep_report  # pylint: disable=g-import-not-at-top
  try:
    rows = sweep_report.summarize(workdir)
    written = sweep_report.write(workdir, rows)
  except JaxganError as e:
    cli.fail(str(e))
  except OSError as e:
    cli.fail(cli.os_error_line(e))
  print('\n'.join(sweep_report.table(rows)))
  print(f'written: {", ".join(str(p) for p in written)}')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
