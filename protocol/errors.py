"""The project's error base.

Every error raised by One-Stop Monitor code derives from :class:`OneStopError` and also from the builtin
it resembles, so callers can catch either.
"""


class OneStopError(Exception):
    """Base of every One-Stop Monitor error."""


class ProtocolError(OneStopError, ValueError):
    """A message or topic does not conform to the wire protocol; the text says what and why."""


class ConfigError(OneStopError, ValueError):
    """A configuration file is missing, unreadable or invalid; the text names the key."""
