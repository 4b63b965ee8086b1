"""The training runtime's errors: one family under `RunError`, which `adc train` prints as
one message (exit code 1) and never as a traceback.

Each message names the file or array and says what is wrong with it. The classes also
derive from the built-in exception a Python caller would expect (`ValueError` for bad
input, `RuntimeError` for a run that cannot go on), so `except ValueError` still works.
"""
from __future__ import annotations

from ..compiler.errors import AdcError


class RunError(AdcError):
    """A training run cannot start or go on; the message says why and what to fix."""


class DataError(RunError, ValueError):
    """Data that does not fit the model; the message names the array and the problem."""


class CheckpointError(RunError, ValueError):
    """A checkpoint that cannot be read or does not belong to this run."""


class WriteError(RunError):
    """A checkpoint, history or plot file that could not be written (disk full, a
    read-only folder); the previous version of the file is left as it was."""


class TrainingError(RunError, RuntimeError):
    """Training cannot go on (the loss or the weights diverged, a bad setting)."""


class OptimizerStateError(RunError, ValueError):
    """An optimiser buffer (a parameter, its gradient or a slot) that does not fit the
    fused update kernel: wrong size or dtype, not contiguous, read-only."""
