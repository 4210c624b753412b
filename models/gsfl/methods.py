"""GSFL methods: each turns a decision into a :class:`slopt.Plan`; the ``METHODS`` table."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from slopt.methods import method
from slopt.plan import Plan
from slopt.solvers import SolveResult

from .algorithm import heuristic
from .baselines import baseline, equal_bandwidth, scheme_only, single_group
from .exact import brute_force, exact
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


@method
def method_exact(inst: Instance, *, solver: str | None = None, time_limit: float | None = None,
                 mip_gap: float | None = None, formulation: str = "pyomo") -> Plan:
    """Alg. 3: MISOCP per cut (Pyomo + SCIP by default; ``formulation="cvxpy"`` for CVXPY + SCIP,
    an order of magnitude slower on the same model), proven optimal; brute force for
    the readings the MISOCP does not model (Shannon rates, parallel groups) when N is small."""
    t0 = time.perf_counter()
    if inst.rate_model != "fixed-se" or inst.intra_group != "sequential" or inst.shared_backhaul:
        return method_brute_force(inst, solver=solver, time_limit=time_limit, mip_gap=mip_gap, method="exact")
    c, x, res, per_cut = exact(inst, solver=solver, formulation=formulation, time_limit=time_limit,
                               mip_gap=mip_gap)
    lat, alpha = _final(inst, c, x)
    res.objective = lat.round_s
    return _plan(inst, "exact", lat, x, alpha, res, time.perf_counter() - t0,
                 {"per_cut": {str(k): v for k, v in per_cut.items()},
                  "single_group_s": single_group(inst)[1]})


@method
def method_exact_cvxpy(inst: Instance, **kw: Any) -> Plan:
    """Alg. 3 with the CVXPY MISOCP (quad_over_lin cones, SCIP)."""
    plan = method_exact(inst, formulation="cvxpy", **kw)
    plan.method = "exact-cvxpy"
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
                           mip_gap: float | None = None) -> Plan:
    """The equal-bandwidth MILP (HiGHS default; ``--solver cbc|glpk|cp-sat``)."""
    t0 = time.perf_counter()
    c, x, alpha, res = equal_bandwidth(inst, solver=solver, time_limit=time_limit, mip_gap=mip_gap)
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
    "brute-force": method_brute_force,
    "equal-bandwidth": method_equal_bandwidth,
    "scheme": method_scheme,
    "sl": _baseline_method("sl"),
    "fl": _baseline_method("fl"),
    "splitfed": _baseline_method("splitfed"),
    "cpsl": _baseline_method("cpsl"),
}

