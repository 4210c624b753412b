"""The result of one solver call."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["SolveResult", "STATUSES", "relative_gap"]

#: Possible values of :attr:`SolveResult.status`.
STATUSES = ("optimal", "feasible", "infeasible", "unbounded", "no_solution", "error")


def relative_gap(objective: float, bound: float) -> float:
    """|objective - bound| / max(|objective|, 1e-10); NaN when either is unknown."""
    if objective is None or bound is None or not (math.isfinite(objective) and math.isfinite(bound)):
        return math.nan
    return abs(objective - bound) / max(abs(objective), 1e-10)


@dataclass
class SolveResult:
    """What a solver returned.

    Attributes
    ----------
    status : one of :data:`STATUSES`. ``feasible`` = a limit was hit with an incumbent.
    objective : objective value of the incumbent (NaN without one)
    bound : best proven bound on the optimum (NaN when the solver reports none)
    gap : relative gap |objective - bound| / |objective| (0 when proven optimal)
    seconds : wall-clock time of the solver call, s
    solver : backend name as passed to :func:`slopt.solvers.solve`
    message : the solver's own termination text
    raw : backend object (Pyomo results, CVXPY problem, CP-SAT solver) for advanced use
    """

    status: str
    objective: float = math.nan
    bound: float = math.nan
    gap: float = math.nan
    seconds: float = 0.0
    solver: str = ""
    message: str = ""
    raw: Any = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when a solution is available (optimal or feasible)."""
        return self.status in ("optimal", "feasible")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (without ``raw``; NaN becomes None)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "raw"}
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}
