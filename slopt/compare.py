"""Solver comparison: the same instances through every applicable backend and formulation.

:func:`compare` returns a DataFrame with one row per (instance, formulation, solver): status,
objective, bound, gap, seconds, and a ``flag`` column that marks any answer disagreeing with the
best proven bound of its instance by more than the gap tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, Optional

import numpy as np
import pandas as pd

from slopt.errors import SolverNotAvailable, ValidationError
from slopt.problems import get
from slopt.schema import Field, Index, Strict, StrictStr, register_schema, validate
from slopt.solvers import BACKENDS, available_solvers, model_kind, solve
from slopt.solvers.certify import obj_tol
from slopt.solvers.classes import COVERED_BY, problem_class

__all__ = ["compare", "problem_class", "flag_disagreements", "CompareOptions"]


class CompareOptions(Strict):
    """The options of a solver comparison (``slopt compare``, :func:`compare`)."""

    problem: StrictStr = Field(description="registered problem name")
    solvers: Optional[list[StrictStr]] = Field(None, description="backends to try (default: every installed one)")
    instances: Annotated[int, Field(ge=0, le=10_000)] = Field(3, description="random instances (0: the shipped default)")
    seed: Index = Field(0, description="seed of the first instance")
    time_limit: Optional[Annotated[float, Field(gt=0, allow_inf_nan=False)]] = Field(
        60.0, description="per-solve time limit, s")
    mip_gap: Optional[Annotated[float, Field(ge=0, lt=1)]] = Field(None, description="relative MIP gap")
    tol: Annotated[float, Field(gt=0, lt=1)] = Field(1e-6, description="relative tolerance of the disagreement flag")
    params: Optional[dict[StrictStr, Any]] = Field(None, description="instance parameters (the problem's schema)")


register_schema("compare", lambda: CompareOptions)


#: backend classes that cover each problem class (a MINLP solver also solves MILPs, ...)
_COVERED_BY = COVERED_BY


def _applicable(solver: str, kind: str, cls: str) -> bool:
    """Whether backend ``solver`` takes models of ``kind`` and problem class ``cls``."""
    b = BACKENDS[solver]
    return kind in b.kinds and bool(_COVERED_BY.get(cls, {cls}) & set(b.classes))


def _sense(model: Any) -> int:
    """+1 for minimisation, -1 for maximisation."""
    kind = model_kind(model)
    if kind == "cvxpy":
        import cvxpy as cp

        return 1 if isinstance(model.objective, cp.Minimize) else -1
    if kind == "cpsat":
        return -1 if model.proto.objective.scaling_factor < 0 else 1
    import pyomo.environ as pyo

    obj = next(model.component_data_objects(pyo.Objective, active=True))
    return 1 if obj.sense == pyo.minimize else -1


def flag_disagreements(df: pd.DataFrame, tol: float = 1e-6) -> pd.DataFrame:
    """Add ``best_bound`` and ``flag`` columns.

    Formulations named ``family/name`` are compared within their family only (a problem may
    offer several optimisation problems, e.g. P0 and a subproblem); names without ``/`` form one
    family. Per instance and family, the best proven bound is the tightest bound over the answers
    of exact backends
    (the largest lower bound of a minimisation); first-order solvers (SCS, OSQP) are checked
    against it, at their certificate's tolerance (1e-3 relative), but do not set it. A row is flagged when it claims optimality but its objective is
    further from that bound than ``max(tol, mip_gap)`` (relative), or when its objective beats the
    proven bound (an infeasible or wrong answer), or when it answers infeasible / unbounded /
    no solution / error while another backend proved an optimum.
    """
    df = df.copy()
    df["best_bound"] = np.nan
    df["flag"] = ""
    names = df["formulation"].astype(str) if "formulation" in df else pd.Series("", index=df.index)
    family = names.str.split("/").str[0].where(names.str.contains("/"), "")
    for _, grp in df.groupby([df["instance"], family]):
        ok = grp[grp["status"].isin(["optimal", "feasible"])]
        if ok.empty:
            continue
        sense = int(ok["sense"].iloc[0])
        exact = ok[ok["solver"].map(lambda s: BACKENDS[s].exact)]
        bounds = exact["bound"].astype(float) * sense
        bounds = bounds[np.isfinite(bounds)]
        if bounds.empty:
            continue
        best = float(bounds.max()) * sense
        df.loc[grp.index, "best_bound"] = best
        scale = max(abs(best), 1e-9)
        proven = (ok["status"] == "optimal").any()
        for i, row in grp.iterrows():
            if row["status"] in ("infeasible", "unbounded", "no_solution", "error") and proven:
                df.loc[i, "flag"] = f"{row['status']} while another backend proved an optimum"
        for i, row in ok.iterrows():
            obj = float(row["objective"])
            # a first-order solver's point is certified within obj_tol (1e-3), not tol
            rtol = tol if BACKENDS[row["solver"]].exact else max(tol, obj_tol(row["solver"]))
            allowed = max(rtol, float(row["gap"]) if math.isfinite(row["gap"]) else 0.0) + rtol
            if sense * (obj - best) < -allowed * scale:
                df.loc[i, "flag"] = "objective beats the best proven bound"
            elif row["status"] == "optimal" and sense * (obj - best) > allowed * scale:
                df.loc[i, "flag"] = f"optimal claimed, {sense * (obj - best) / scale:.2e} above best bound"
    return df


def compare(
    problem: str,
    solvers: Sequence[str] | None = None,
    instances: int = 3,
    seed: int = 0,
    time_limit: float | None = 60.0,
    mip_gap: float | None = None,
    tol: float = 1e-6,
    params: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Solve the same instances with every applicable (formulation, solver) pair.

    Parameters
    ----------
    problem : registered problem name
    solvers : backends to try (default: every installed one)
    instances : number of random instances (``problem.random_instance(seed + i)``); 0 = the
        shipped default instance only
    seed : seed of the first instance
    time_limit : per-solve limit in seconds
    tol : relative tolerance of the disagreement flag

    Returns
    -------
    DataFrame with columns ``instance, formulation, class, solver, status, objective, bound, gap,
    seconds, message, best_bound, flag``.
    """
    validate(CompareOptions, {"problem": problem, "solvers": None if solvers is None else list(solvers),
                              "instances": instances, "seed": seed, "time_limit": time_limit, "mip_gap": mip_gap,
                              "tol": tol, "params": params}, "compare")
    p = get(problem)
    if p.formulations is None:
        raise ValidationError(f"problem {problem!r} registers no formulations to compare", "problem")
    installed = [r["solver"] for r in available_solvers() if r["available"]]
    solvers = list(solvers) if solvers else installed
    from slopt.solvers.backends import _ALIASES

    solvers = [_ALIASES.get(s.lower(), s.lower()) for s in solvers]
    for s in solvers:
        if s not in BACKENDS:
            raise SolverNotAvailable(f"unknown solver {s!r}; known: {', '.join(BACKENDS)}")
    params = dict(params or {})
    if instances > 0 and p.random_instance is None:
        raise ValidationError(f"problem {problem!r} has no random_instance generator", "instances")
    insts = ([(f"seed={seed + i}", p.random_instance(seed + i, **params)) for i in range(instances)]
             if instances > 0 else [("default", p.load(None, None, **params))])
    rows: list[dict[str, Any]] = []
    for label, inst in insts:
        for fname, builder in p.formulations(inst).items():
            probe = builder()
            kind, cls, sense = model_kind(probe), problem_class(probe), _sense(probe)
            for s in solvers:
                if not _applicable(s, kind, cls):
                    continue
                base = {"instance": label, "formulation": fname, "class": cls, "solver": s, "sense": sense}
                if s not in installed:
                    rows.append(base | {"status": "not installed", "message": BACKENDS[s].install})
                    continue
                r = solve(builder(), solver=s, time_limit=time_limit, mip_gap=mip_gap)
                rows.append(base | {"status": r.status, "objective": r.objective, "bound": r.bound,
                                    "gap": r.gap, "seconds": r.seconds, "message": r.message})
    df = pd.DataFrame(rows)
    for c in ("objective", "bound", "gap", "seconds"):
        if c not in df:
            df[c] = np.nan
    return flag_disagreements(df, tol).drop(columns="sense")
