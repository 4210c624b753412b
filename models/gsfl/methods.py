"""GSFL methods: each turns a decision into a :class:`slopt.Plan`; the ``METHODS`` table."""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from collections.abc import Iterator
from typing import Any, Callable

import numpy as np

from slopt.errors import ValidationError
from slopt.methods import method
from slopt.plan import Plan
from slopt.solvers import SolveResult

from .algorithm import heuristic
from .baselines import baseline, equal_bandwidth, scheme_only, single_group
from .exact import brute_force, exact
from .formulations import ExtraConstraints, _x_from_cvxpy, _x_from_pyomo
from .instance import PROBLEM, Instance
from .system import Latency, bandwidth_split_general, evaluate


# =====================================================================================
# 8. Methods (Plans) and registration
# =====================================================================================
def _plan(inst: Instance, method: str, lat: Latency, assignment: np.ndarray | None = None,
          alpha: np.ndarray | None = None, res: SolveResult | None = None, seconds: float = 0.0,
          extra: dict[str, Any] | None = None) -> Plan:
    decision: dict[str, Any] = {"scheme": lat.scheme, "cut": lat.cut}
    if assignment is not None:
        K = int(len(np.unique(assignment)))
        decision.update(
            n_groups=K, assignment=[int(v) for v in assignment],
            groups={int(k): [inst.client_names[n] for n in np.flatnonzero(assignment == k)]
                    for k in np.unique(assignment)})
        if alpha is not None:
            decision["alpha"] = [float(v) for v in alpha]
    decision.update(extra or {})
    metrics = {"round_latency_s": lat.round_s, "total_latency_s": lat.total_s,
               "training_s": lat.training_s, **lat.breakdown_s, **lat.flop}
    details = {"clients": lat.clients}
    if not lat.groups.empty:
        details["groups"] = lat.groups
    return Plan(problem=PROBLEM, method=method, objective=lat.round_s, decision=decision, metrics=metrics,
                details=details, solve=res, seconds=seconds)


def _final(inst: Instance, c: int, x: np.ndarray) -> tuple[Latency, np.ndarray]:
    """Alg. 5 under the instance's own model on (c, x), then Alg. 2."""
    _, alpha = bandwidth_split_general(inst, c, x)
    return evaluate(inst, c, x, alpha), alpha


@method
def method_paper(inst: Instance, *, solver: str | None = None, time_limit: float | None = None,
                 mip_gap: float | None = None) -> Plan:
    """Alg. 4: LPT grouping + bisection bandwidth + local search, over cuts and K."""
    t0 = time.perf_counter()
    c, x, _ = heuristic(inst)
    lat, alpha = _final(inst, c, x)
    return _plan(inst, "paper", lat, x, alpha, seconds=time.perf_counter() - t0)


@contextlib.contextmanager
def _shown(on: bool | None) -> Iterator[None]:
    """Print the ``slopt.models.gsfl`` progress records on stdout while the block runs (``tee``)."""
    if not on:
        yield
        return
    log = logging.getLogger("slopt.models.gsfl")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    old = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(old)


@method
def method_exact(inst: Instance, *, solver: str | None = None, time_limit: float | None = None,
                 mip_gap: float | None = None, formulation: str = "auto",
                 extra_constraints: ExtraConstraints | None = None, tee: bool | None = None,
                 verbose: bool | None = None) -> Plan:
    """Alg. 3, proven optimal (relative tolerance ``PARTITION_TOL`` = 1e-6 by set partitioning, or the
    solver's gap for the MISOCP).

    ``formulation``: ``"auto"`` (set partitioning over every client subset with HiGHS where it
    applies, else the Pyomo MISOCP with SCIP), ``"partition"``, ``"pyomo"``, ``"cvxpy"`` (see
    :func:`exact`). ``extra_constraints(model, instance)`` is applied to every MISOCP / MILP built
    (the MISOCP path). Brute force for the readings the formulations do not model (Shannon rates,
    parallel groups, shared backhaul) when N is small. Progress (cuts done, incumbent, bound) is
    logged on ``slopt.models.gsfl`` and printed with ``tee=True`` / ``verbose=True``. On a time
    limit: the incumbent with its bound and gap (status ``feasible``; ``no_solution`` without one).
    """
    t0 = time.perf_counter()
    if inst.rate_model != "fixed-se" or inst.intra_group != "sequential" or inst.shared_backhaul:
        if extra_constraints is not None:
            raise ValidationError("extra_constraints: this reading is solved by enumeration, which builds no "
                                  "model to extend", "extra_constraints")
        return method_brute_force(inst, solver=solver, time_limit=time_limit, mip_gap=mip_gap, method="exact")
    with _shown(tee if tee is not None else verbose):
        c, x, res, per_cut = exact(inst, solver=solver, formulation=formulation, time_limit=time_limit,
                                   mip_gap=mip_gap, extra_constraints=extra_constraints)
    extra = {"per_cut": {str(k): v for k, v in per_cut.items()}, "single_group_s": single_group(inst)[1]}
    if not res.ok:
        return Plan(problem=PROBLEM, method="exact", objective=math.nan, decision={"cut": None}, metrics={},
                    details={}, solve=res, seconds=time.perf_counter() - t0)
    return plan_from_assignment(inst, c, x, method="exact", res=res, seconds=time.perf_counter() - t0,
                                extra=extra)


def plan_from_assignment(inst: Instance, cut: int, assignment: Any, *, method: str = "custom",
                         res: SolveResult | None = None, seconds: float = 0.0,
                         extra: dict[str, Any] | None = None) -> Plan:
    """A :class:`~slopt.Plan` from a cut and a client-to-slot assignment: α by Alg. 5 under the
    instance's own model, every figure by :func:`evaluate` (Alg. 2); ``res.objective`` is set to the
    evaluated round latency."""
    x = np.asarray(assignment, dtype=np.int64)
    lat, alpha = _final(inst, cut, x)
    if res is not None:
        res.objective = lat.round_s
    return _plan(inst, method, lat, x, alpha, res, seconds, extra)


def assignment_from_model(model: Any, n_clients: int, n_slots: int, slots: Any = None) -> np.ndarray:
    """The assignment x (slot of each client) of a solved formulation: a Pyomo model with
    ``x[n, k]`` (MISOCP, deadline MILP, makespan MILP), a CVXPY problem with a variable named ``x``,
    or a CP-SAT model from :func:`build_cpsat` together with its solver (``(model, cp_solver)``).
    ``slots`` maps the model's group index k to an edge server (default: k itself)."""
    if isinstance(model, tuple):
        m, sol = model
        x = np.array([next(k for k in range(n_slots) if sol.boolean_value(m.gsfl_x[n, k]))
                      for n in range(n_clients)])
    elif hasattr(model, "variables") and callable(model.variables):
        x = _x_from_cvxpy(model)
    else:
        x = _x_from_pyomo(model, n_clients, n_slots)
    return x if slots is None else np.asarray(slots)[x]


def plan_from_model(inst: Instance, model: Any, cut: int, *, res: SolveResult | None = None,
                    method: str = "custom", slots: Any = None) -> Plan:
    """The public decoder: a solved formulation (see :func:`assignment_from_model`) at ``cut`` to a
    :class:`~slopt.Plan`, re-evaluated by :func:`evaluate` (the plan's objective is the model's
    decision, not the model's objective value)."""
    M = len(slots) if slots is not None else inst.M
    x = assignment_from_model(model, inst.N, M, slots)
    return plan_from_assignment(inst, cut, x, method=method, res=res)


@method
def method_exact_cvxpy(inst: Instance, **kw: Any) -> Plan:
    """Alg. 3 with the CVXPY MISOCP (quad_over_lin cones, SCIP)."""
    plan = method_exact(inst, formulation="cvxpy", **kw)
    plan.method = "exact-cvxpy"
    return plan


@method
def method_exact_misocp(inst: Instance, **kw: Any) -> Plan:
    """Alg. 3 with the Pyomo MISOCP (rotated cones, SCIP): the compact formulation per cut."""
    plan = method_exact(inst, formulation="pyomo", **kw)
    plan.method = "exact-misocp"
    return plan


@method
def method_brute_force(inst: Instance, *, solver: str | None = None, time_limit: float | None = None,
                       mip_gap: float | None = None, method: str = "brute-force") -> Plan:
    """Enumeration of every cut and partition with Alg. 5 (tiny instances, any reading)."""
    t0 = time.perf_counter()
    c, x, _ = brute_force(inst)
    lat, alpha = _final(inst, c, x)
    res = SolveResult("optimal", objective=lat.round_s, bound=lat.round_s, gap=0.0,
                      seconds=time.perf_counter() - t0, solver="enumeration",
                      message="every cut and partition enumerated; α by Alg. 5 (bisection tolerance)")
    return _plan(inst, method, lat, x, alpha, res, time.perf_counter() - t0)


@method
def method_equal_bandwidth(inst: Instance, *, solver: str | None = None, time_limit: float | None = None,
                           mip_gap: float | None = None, extra_constraints: ExtraConstraints | None = None) -> Plan:
    """The equal-bandwidth MILP (HiGHS default; ``--solver cbc|glpk|cp-sat``); ``extra_constraints``
    applied to every MILP built."""
    t0 = time.perf_counter()
    c, x, alpha, res = equal_bandwidth(inst, solver=solver, time_limit=time_limit, mip_gap=mip_gap,
                                       extra_constraints=extra_constraints)
    lat = evaluate(inst, c, x, alpha)
    res.objective = lat.round_s
    return _plan(inst, "equal-bandwidth", lat, x, alpha, res, time.perf_counter() - t0)


@method
def method_scheme(inst: Instance, *, solver: str | None = None, time_limit: float | None = None,
                  mip_gap: float | None = None) -> Plan:
    """GSFL without optimisation: equal groups, α = 1/K, fixed cut (spec §8)."""
    t0 = time.perf_counter()
    c, x, alpha = scheme_only(inst)
    return _plan(inst, "scheme", evaluate(inst, c, x, alpha), x, alpha, seconds=time.perf_counter() - t0)


def _baseline_method(scheme: str) -> Callable[..., Plan]:
    @method
    def run(inst: Instance, *, solver: str | None = None, time_limit: float | None = None,
            mip_gap: float | None = None) -> Plan:
        t0 = time.perf_counter()
        return _plan(inst, scheme, baseline(inst, scheme), seconds=time.perf_counter() - t0)
    run.__doc__ = f"Baseline {scheme} (spec §3.4) at its best cut."
    run.__name__ = f"method_{scheme}"
    return run


METHODS: dict[str, Callable[..., Plan]] = {
    "paper": method_paper,
    "exact": method_exact,
    "exact-cvxpy": method_exact_cvxpy,
    "exact-misocp": method_exact_misocp,
    "brute-force": method_brute_force,
    "equal-bandwidth": method_equal_bandwidth,
    "scheme": method_scheme,
    "sl": _baseline_method("sl"),
    "fl": _baseline_method("fl"),
    "splitfed": _baseline_method("splitfed"),
    "cpsl": _baseline_method("cpsl"),
}

