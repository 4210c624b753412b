"""Sanity checks at the door, shared by profiles, scenarios and problem modules.

Each check raises :class:`slopt.errors.ValidationError` naming the field, the element (vertex,
device, ...) and the offending value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from slopt.errors import ValidationError

__all__ = [
    "as_float_array",
    "check_array",
    "check_scalar",
    "check_positive",
    "check_nonneg",
    "check_fraction",
    "check_int",
]


def _label(names: Sequence[Any] | None, index: int) -> str:
    if names is None:
        return f"index {index}"
    return f"{names[index]!r} (index {index})"


def as_float_array(field: str, values: Any, n: int | None = None, n_from: str = "") -> np.ndarray:
    """Convert ``values`` to a 1-D float64 array of length ``n`` (if given), naming ``field`` on error."""
    if isinstance(values, (list, tuple)) and any(type(x) is bool for x in values):
        i = next(i for i, x in enumerate(values) if type(x) is bool)
        raise ValidationError(f"{field}[{i}] = {values[i]!r}: a number is required, not a bool", field)
    try:
        raw = np.asarray(values)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"{field}: cannot read as numbers ({exc})", field) from exc
    if raw.dtype.kind in "bcmMUSV" or (raw.dtype.kind == "O" and raw.size and any(
            isinstance(x, (bool, np.bool_, complex, str, bytes)) or x is None for x in raw.reshape(-1).tolist())):
        flat = raw.reshape(-1).tolist()
        i = next((i for i, x in enumerate(flat) if not (type(x) in (int, float) or isinstance(x, np.floating)
                                                         or isinstance(x, np.integer))), 0)
        raise ValidationError(f"{field}[{i}] = {flat[i]!r}: a real number is required", field)
    try:
        arr = raw.astype(np.float64) if raw.dtype != np.float64 else raw
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"{field}: cannot read as numbers ({exc})", field) from exc
    if arr.ndim == 0 and n is not None:
        arr = np.full(n, float(arr))
    if arr.ndim != 1:
        raise ValidationError(f"{field}: expected a 1-D array, got shape {arr.shape}", field)
    if n is not None and arr.shape[0] != n:
        src = f" (one per vertex: {n_from} has {n})" if n_from else ""
        raise ValidationError(f"{field}: expected {n} values{src}, got {arr.shape[0]}", field)
    return arr


def check_array(
    field: str,
    values: np.ndarray,
    names: Sequence[Any] | None = None,
    *,
    what: str = "vertex",
    allow_zero: bool = True,
    unit: str = "",
) -> np.ndarray:
    """Check that every entry is finite and non-negative (positive if ``allow_zero`` is False).

    Vectorised: one pass of numpy over the array; the first bad entry is reported.
    """
    arr = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(arr) | (arr < 0) if allow_zero else ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        v = arr[i]
        kind = "NaN" if math.isnan(v) else ("infinite" if math.isinf(v) else ("negative" if v < 0 else "zero"))
        need = "non-negative" if allow_zero else "positive"
        u = f" {unit}" if unit else ""
        raise ValidationError(
            f"{field} of {what} {_label(names, i)} is {kind} ({v!r}{u}); it must be finite and {need}",
            field,
        )
    return arr


def check_scalar(field: str, value: Any, *, lo: float | None = None, hi: float | None = None,
                 lo_open: bool = False, unit: str = "") -> float:
    """Check a finite scalar within ``[lo, hi]`` (``(lo, hi]`` when ``lo_open``); return it as float."""
    u = f" {unit}" if unit else ""
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{field} must be a number, got {value!r}", field) from exc
    if not math.isfinite(x):
        raise ValidationError(f"{field} is {x!r}{u}; it must be finite", field)
    if lo is not None and (x < lo or (lo_open and x == lo)):
        rel = ">" if lo_open else ">="
        raise ValidationError(f"{field} = {x!r}{u}; it must be {rel} {lo}{u}", field)
    if hi is not None and x > hi:
        raise ValidationError(f"{field} = {x!r}{u}; it must be <= {hi}{u}", field)
    return x


def check_positive(field: str, value: Any, unit: str = "") -> float:
    """A finite, strictly positive scalar."""
    return check_scalar(field, value, lo=0.0, lo_open=True, unit=unit)


def check_nonneg(field: str, value: Any, unit: str = "") -> float:
    """A finite, non-negative scalar."""
    return check_scalar(field, value, lo=0.0, unit=unit)


def check_fraction(field: str, value: Any) -> float:
    """A finite scalar in [0, 1]."""
    return check_scalar(field, value, lo=0.0, hi=1.0)


def check_int(field: str, value: Any, *, lo: int | None = None, hi: int | None = None) -> int:
    """An integer within ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValidationError(f"{field} must be an integer, got {value!r}", field)
    v = int(value)
    if lo is not None and v < lo:
        raise ValidationError(f"{field} = {v}; it must be >= {lo}", field)
    if hi is not None and v > hi:
        raise ValidationError(f"{field} = {v}; it must be <= {hi}", field)
    return v
