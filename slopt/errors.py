"""Exceptions raised by slopt.

Every error names the field (and, where there is one, the vertex, device or constraint) and the
offending value, so that a user can find the bad input without a debugger.
"""

from __future__ import annotations


class SloptError(Exception):
    """Base class of every slopt error."""


class ValidationError(SloptError, ValueError):
    """Bad input data: names the field, the element and the value.

    Attributes
    ----------
    field : str
        The field (column, parameter or attribute) that is wrong, e.g. ``"forward_flop"``.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class InfeasibleError(SloptError, ValueError):
    """The data admit no feasible decision.

    The message says which constraint cannot be met and by how much (the shortfall, with units).
    """

    def __init__(self, message: str, constraint: str | None = None, shortfall: float | None = None):
        super().__init__(message)
        self.constraint = constraint
        self.shortfall = shortfall


class SolverNotAvailable(SloptError, RuntimeError):
    """The requested solver backend is not installed; the message names the install command."""
