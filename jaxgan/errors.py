"""The exceptions that the command line turns into one-line errors, and what counts as a disk fault."""
import errno

# Failures of the disk rather than of the program: reported as one line, never as a traceback.
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EACCES, errno.EPERM, errno.EROFS,
               errno.EFBIG)


class JaxganError(Exception):
  """Bad input or an unrecoverable training condition, explained to the user."""


class NonFiniteLossError(JaxganError):
  """A loss became NaN or infinite; the last good checkpoint is kept."""


class ConfigError(JaxganError):
  """A config value outside what its key accepts: the command line exits 2, as for a mistyped key."""


class DiskError(JaxganError):
  """A file could not be written (a full disk, a missing permission): nothing committed is lost."""
