"""Errors a user can cause.

Every exception raised for bad input (a missing file, a wrong config key, an array of
the wrong shape) is a :class:`HardposError`, so the command line can print its message
and exit non-zero without a traceback.
"""


class HardposError(Exception):
    """Base class of every error caused by a user's input."""


class DataError(HardposError):
    """A data file is missing, truncated or not what it claims to be."""


class ModelError(HardposError):
    """A model or checkpoint file is missing or does not fit the network."""


class InputError(HardposError):
    """An array or argument passed to a public function has the wrong shape, type or value."""


class TrainingError(HardposError):
    """Training diverged (a loss or weight became NaN or infinite): a solver setting such
    as the learning rate does not suit the network and data."""
