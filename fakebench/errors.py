"""The few exception classes fakebench raises.

Every message is one line that says what was expected, what arrived and what to do; the CLI
prints it on stderr and exits with status 2 (``--debug`` shows the traceback).
"""


class FakebenchError(Exception):
    """Base class: a problem the user can fix from the message alone."""


class MediaError(FakebenchError):
    """A video or image that is missing, empty, truncated or not decodable."""


class NoFaceError(FakebenchError):
    """No usable face where one is required."""


class FetchError(FakebenchError):
    """The sample media could not be downloaded or did not verify."""


class ConfigError(FakebenchError):
    """A configuration file or option with unknown keys or wrong types."""


class CheckpointError(FakebenchError):
    """A checkpoint that is truncated, foreign or of another configuration."""


class DatasetLayoutError(FakebenchError):
    """A data set folder that does not match the layout it was indexed as."""


class PluginError(ConfigError):
    """A detector from outside fakebench that cannot be loaded: import error, wrong type, name taken."""


class OutputError(FakebenchError):
    """A destination fakebench may not or cannot write: not its folder, in use, full or read-only."""
