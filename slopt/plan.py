"""``Plan``: a decision of one problem plus the metrics its ``evaluate()`` computed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from slopt.solvers.result import SolveResult

__all__ = ["Plan", "json_safe"]


def json_safe(obj: Any) -> Any:
    """Recursively turn numpy / pandas / dataclass values into JSON-safe Python (NaN/inf -> None)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, pd.DataFrame):
        return json_safe(obj.to_dict("records"))
    if isinstance(obj, pd.Series):
        return json_safe(obj.to_dict())
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else None
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return json_safe(obj.to_dict())
    return obj


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


@dataclass
class Plan:
    """A decision and its metrics.

    Attributes
    ----------
    problem : registered problem name (e.g. ``"dag-split"``)
    method : how the decision was found (``"paper"``, ``"exact"``, a baseline name)
    objective : the problem's objective value of the decision, recomputed by ``evaluate()``
    decision : the decision variables (cut, frequencies, groups, shares...) by the spec's names
    metrics : scalar metrics with units in the keys (``delay_s``, ``energy_j``, ``peak_memory_bytes``)
    details : tables (per device, per layer, per round...) as DataFrames
    solve : the solver's :class:`SolveResult` when a formulation was solved
    seconds : wall-clock time of the method, s
    proven_optimal : the method proves optimality without a solver (exhaustive search, a closed
        form over all candidates); reported as status ``optimal``
    """

    problem: str
    method: str
    objective: float
    decision: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    details: dict[str, pd.DataFrame] = field(default_factory=dict)
    solve: SolveResult | None = None
    seconds: float = 0.0
    proven_optimal: bool = False

    @property
    def status(self) -> str:
        """The solver status; without a solver ``"optimal"`` for exact methods (``method == "exact"``
        or ``proven_optimal``, e.g. an algorithm proven exact by enumeration), else ``"heuristic"``.
        A non-finite objective is never ``optimal`` (nor ``feasible``): such a plan is ``error``."""
        if self.solve is not None:
            st = self.solve.status
        else:
            st = "optimal" if (self.method == "exact" or self.proven_optimal) else "heuristic"
        if st in ("optimal", "feasible") and not _finite(self.objective):
            return "error"
        return st

    def to_frame(self) -> pd.DataFrame:
        """One row: problem, method, status, objective, seconds, the metrics and scalar decisions."""
        row: dict[str, Any] = {"problem": self.problem, "method": self.method, "status": self.status,
                               "objective": self.objective, "seconds": self.seconds}
        if self.solve is not None:
            row.update(solver=self.solve.solver, bound=self.solve.bound, gap=self.solve.gap)
        row.update(self.metrics)
        for k, v in self.decision.items():
            if np.isscalar(v):
                row[k] = v
        return pd.DataFrame([row])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary with ``problem, method, solver, status, termination, objective,
        bound, gap, seconds, metrics, decision`` (and ``details`` as lists of records)."""
        s = self.solve
        return json_safe({
            "problem": self.problem,
            "method": self.method,
            "solver": s.solver if s is not None else None,
            "status": self.status,
            "termination": s.termination if s is not None else None,
            "objective": self.objective,
            "bound": s.bound if s is not None else (self.objective if self.status == "optimal" else None),
            "gap": s.gap if s is not None else (0.0 if self.status == "optimal" else None),
            "seconds": self.seconds,
            "metrics": self.metrics,
            "decision": self.decision,
            "details": self.details,
        })
