"""The one exception type that the command line turns into a one-line error."""


class JaxganError(Exception):
  """Bad input or an unrecoverable training condition, explained to the user."""


class NonFiniteLossError(JaxganError):
  """A loss became NaN or infinite; the last good checkpoint is kept."""
