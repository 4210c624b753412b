"""The result of one solver call, with separate meanings as in MathOptInterface.

A solver call has three independent outcomes, each kept in its own field:

- :attr:`SolveResult.termination`: why the solver stopped (:data:`TERMINATIONS`);
- :attr:`SolveResult.has_primal`: whether a primal point is available *and* passed the
  certificate of :mod:`slopt.solvers.certify` (every active constraint, variable bound and
  integrality requirement met within :attr:`SolveResult.feas_tol`, the objective recomputed from
  the point);
- :attr:`SolveResult.bound`: the proven bound on the optimum (NaN when the solver proves none).

:attr:`SolveResult.status` is the one-word summary derived from the three by :func:`summary_status`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["SolveResult", "STATUSES", "TERMINATIONS", "relative_gap", "summary_status"]

#: Possible values of :attr:`SolveResult.status`.
STATUSES = ("optimal", "feasible", "infeasible", "unbounded", "no_solution", "error")

#: Possible values of :attr:`SolveResult.termination` (MathOptInterface's termination statuses,
#: reduced to those the open solvers report).
TERMINATIONS = (
    "optimal",                  # the solver proved optimality (within its gap)
    "locally_optimal",          # a local solver (IPOPT) met its optimality conditions
    "infeasible",               # the solver proved that no feasible point exists
    "unbounded",                # the solver proved that the objective is unbounded
    "infeasible_or_unbounded",  # one of the two, undecided
    "time_limit",
    "iteration_limit",          # also node, solution and other work limits
    "interrupted",
    "numerical_error",
    "other_error",
)


def relative_gap(objective: float, bound: float) -> float:
    """|objective - bound| / max(|objective|, 1e-10); NaN when either is unknown."""
    if objective is None or bound is None or not (math.isfinite(objective) and math.isfinite(bound)):
        return math.nan
    return abs(objective - bound) / max(abs(objective), 1e-10)


def summary_status(termination: str, has_primal: bool, proven: bool) -> str:
    """The one-word status of a solve.

    ``optimal`` needs ``proven`` (the solver said optimal, the certificate passed, the bound
    agrees); a certified point without proof is ``feasible``; proofs of infeasibility or
    unboundedness give those words; a limit without a certified point ``no_solution``; anything
    else ``error``.
    """
    if has_primal:
        return "optimal" if proven else "feasible"
    if termination in ("infeasible", "unbounded"):
        return termination
    if termination in ("time_limit", "iteration_limit", "interrupted", "optimal", "locally_optimal"):
        return "no_solution"
    return "error"


@dataclass
class SolveResult:
    """What a solver returned, after its certificate.

    Attributes
    ----------
    status : one of :data:`STATUSES`, derived from ``termination``, ``has_primal`` and the bound
        by :func:`summary_status`. ``feasible`` = a certified point that is not proven optimal
        (a limit was hit, or the certificate found the solver's claim of optimality unproven).
    objective : objective value recomputed from the certified point (NaN without one)
    bound : best proven bound on the optimum (NaN when the solver reports none; never the
        incumbent of a stopped solve)
    gap : relative gap |objective - bound| / |objective| (0 when proven optimal at gap 0)
    seconds : wall-clock time of the solver call, s
    solver : backend name as passed to :func:`slopt.solvers.solve`
    message : the solver's termination text, followed by every finding of the certificate
    raw : backend object (Pyomo results, CVXPY problem, CP-SAT solver, CBC run) for advanced use
    termination : why the solver stopped, one of :data:`TERMINATIONS`
    has_primal : a primal point is available and passed the certificate
    max_violation : largest scaled violation of a constraint, variable bound or integrality
        requirement at the returned point (NaN when there is no point)
    reported_objective : the objective value the solver itself reported (NaN when none)
    feas_tol : the feasibility tolerance of the certificate (scaled violation)
    gap_limit : the relative gap up to which ``optimal`` was accepted (the ``mip_gap`` passed,
        else the solver's default)
    """

    status: str
    objective: float = math.nan
    bound: float = math.nan
    gap: float = math.nan
    seconds: float = 0.0
    solver: str = ""
    message: str = ""
    raw: Any = field(default=None, repr=False, compare=False)
    termination: str = ""
    has_primal: bool | None = None
    max_violation: float = math.nan
    reported_objective: float = math.nan
    feas_tol: float = math.nan
    gap_limit: float = math.nan

    def __post_init__(self) -> None:
        if self.has_primal is None:  # built by hand (an aggregate of several solves, a closed form)
            self.has_primal = self.status in ("optimal", "feasible")
        if not self.termination:
            self.termination = {"optimal": "optimal", "feasible": "time_limit", "infeasible": "infeasible",
                                "unbounded": "unbounded", "no_solution": "time_limit"}.get(self.status,
                                                                                          "other_error")

    @property
    def ok(self) -> bool:
        """True when a solution is available (optimal or feasible)."""
        return self.status in ("optimal", "feasible")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (without ``raw``; NaN becomes None)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "raw"}
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}
