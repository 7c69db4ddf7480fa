"""Errors a user can cause. The CLI turns each into one line on stderr and exit code 2."""


class TMSError(Exception):
    """Base class for errors caused by the user's input, not by a bug."""


class ConfigError(TMSError, ValueError):
    """A config field is out of range or malformed; the message names the field and what is allowed."""


class RunFolderError(TMSError):
    """A run folder is missing, corrupt, or not a tms run."""
