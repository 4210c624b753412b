"""Exact arithmetic on floats: every finite float is a dyadic rational M 2^t, so sums of floats
can be computed exactly in integers (used for exact objective values and exact minimum cuts)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

__all__ = ["dyadic", "exact_sum"]

_MANT = 9007199254740992.0  # 2^53: the mantissa of a float64 as an integer


def dyadic(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every finite float as M * 2^t with integer M (|M| < 2^53) and t, exactly (``np.frexp``)."""
    m, e = np.frexp(np.asarray(values, dtype=float))
    return (m * _MANT).astype(np.int64), e.astype(np.int64) - 53


def exact_sum(values: Any) -> Fraction:
    """The exact sum of finite non-negative floats as a :class:`~fractions.Fraction`.

    Floats are dyadic rationals, so the sum is computed exactly in integers: mantissas are
    grouped by exponent (two 26/27-bit halves summed per group in float64, exact below 2^53 for
    up to 2^26 terms per group), then shifted and added as Python integers. O(n) numpy.
    """
    v = np.asarray(values, dtype=float).ravel()
    v = v[v != 0]
    if v.size == 0:
        return Fraction(0)
    if v.size >= 1 << 26:
        return exact_sum(v[: v.size // 2]) + exact_sum(v[v.size // 2:])
    M, t = dyadic(v)
    t0 = int(t.min())
    k = t - t0
    hi = np.bincount(k, weights=(M >> 26).astype(float))
    lo = np.bincount(k, weights=(M & ((1 << 26) - 1)).astype(float))
    total = 0
    for j in np.flatnonzero((hi != 0) | (lo != 0)).tolist():
        total += ((int(hi[j]) << 26) + int(lo[j])) << j
    return Fraction(total) * (Fraction(2) ** t0)
