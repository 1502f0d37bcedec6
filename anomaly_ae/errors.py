"""Errors a user can fix: each message says what is wrong, where, and what to do.

The entry points print any :class:`AnomalyAEError` (and Lightning's own
``MisconfigurationException``) as a single line with no traceback, and exit non-zero.
"""


class AnomalyAEError(Exception):
    """Base class for problems with the user's input, data or environment."""


class DataNotFoundError(AnomalyAEError):
    """Dataset files are missing and could not be downloaded."""


class CorruptDataError(AnomalyAEError):
    """A dataset file exists but cannot be read as what it claims to be."""


class ConfigError(AnomalyAEError):
    """A configuration value is inconsistent with the data or the model."""


class CheckpointError(AnomalyAEError):
    """A checkpoint is missing, unreadable or not one of ours."""


class TrainingDivergedError(AnomalyAEError):
    """The training loss stopped being a finite number."""


def one_line(err: BaseException, limit: int = 300) -> str:
    """An exception's message on one line, at most ``limit`` characters."""
    return " ".join(str(err).split())[:limit]
