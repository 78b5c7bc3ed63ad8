"""User-facing errors: each one is printed as a single clear line and exits non-zero."""

from __future__ import annotations

__all__ = ["ApprenticeError", "ModelSpecError", "ModelUnavailableError", "DataError", "StoreError"]


class ApprenticeError(Exception):
    """An error caused by input or environment, not a bug: the CLI prints ``error: <message>``."""

    exit_code = 2


class ModelSpecError(ApprenticeError):
    """A model spec that does not parse, or names a file or adapter that is not there."""


class ModelUnavailableError(ApprenticeError):
    """A model that cannot be reached: server down, key missing, weights that fail to load."""

    exit_code = 3


class DataError(ApprenticeError):
    """An input file (questions, dataset, config) that is missing or malformed."""


class StoreError(ApprenticeError):
    """A database under the apprentice home that cannot be opened, read or written (damaged, locked,
    or in a folder one cannot write); the message names the file and says what to do."""
