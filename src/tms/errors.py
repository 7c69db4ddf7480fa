"""Errors a user can cause, and what the command line makes of them.

Every one of them is a :class:`TMSError`; the CLI turns it into one line on stderr, no traceback, and the exit
code of its class (:attr:`TMSError.exit_code`): 2 for bad input (a config field, a flag, a run folder or table
that is not what it should be), 3 for an output that could not be written (no space, no permission, a
read-only folder).
"""


class TMSError(Exception):
    """Base class for errors caused by the user's input or environment, not by a bug."""

    exit_code = 2


class ConfigError(TMSError, ValueError):
    """A config field is out of range or malformed; the message names the field and what is allowed."""


class RunFolderError(TMSError):
    """A run folder (or a table, or a results folder) is missing, corrupt, or not tms's."""


class TrainingError(TMSError):
    """A run could not be trained to a usable result (training diverged under its recipe)."""


class OutputError(TMSError):
    """Writing failed (an ``OSError``: no space left, no permission, read-only file system). The message names
    the path and the cause; nothing half-written is left behind, and rerunning after the cause is fixed
    resumes."""

    exit_code = 3

    def __init__(self, message: str, cause: str = ""):
        super().__init__(message)
        self.cause = cause

    @classmethod
    def of(cls, path, error: "OSError | OutputError") -> "OutputError":
        """'cannot write PATH: CAUSE' for an OSError (or an OutputError met while writing inside ``path``)."""
        cause = error.cause if isinstance(error, OutputError) else (error.strerror or error.__class__.__name__)
        return cls(f"cannot write {path}: {cause}", cause)
