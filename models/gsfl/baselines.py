"""GSFL baselines (spec §8): SL, FL, SplitFed, CPSL at their best cut, the un-optimised scheme,
the K = 1 case and the equal-bandwidth optimum (the makespan MILP / CP-SAT of spec §4)."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from slopt.errors import InfeasibleError
from slopt.solvers import SolveResult, solve

from .algorithm import _ks, _slots_for
from .formulations import _x_from_pyomo, build_cpsat, build_milp_pyomo
from .instance import Instance
from .system import Latency, cut_figures, evaluate, separable, sync_s


def _solve_makespan(p: np.ndarray, K: int, n_groups: int | None, solver: str, time_limit: float | None,
                    mip_gap: float | None, symmetry: str, extra_constraints: Any = None,
                    instance: Any = None) -> tuple[np.ndarray | None, SolveResult]:
    """The makespan grouping with processing times p (N, M) on slots 0..K-1 by MILP or CP-SAT."""
    N = p.shape[0]
    ng = n_groups if n_groups is not None and n_groups == K else None
    if solver == "cp-sat":
        m = build_cpsat(p, K, n_groups=ng, symmetry=symmetry, extra_constraints=extra_constraints, instance=instance)
        res = solve(m, solver="cp-sat", time_limit=time_limit, mip_gap=mip_gap)
        if not res.ok:
            return None, res
        s = res.raw
        x = np.array([next(k for k in range(K) if s.boolean_value(m.gsfl_x[n, k])) for n in range(N)])
        res.objective /= m.gsfl_scale
        res.bound /= m.gsfl_scale
        return x, res
    m = build_milp_pyomo(p, K, n_groups=ng, symmetry=symmetry, extra_constraints=extra_constraints,
                         instance=instance)
    res = solve(m, solver=solver, time_limit=time_limit, mip_gap=mip_gap)
    return (_x_from_pyomo(m, N, K) if res.ok else None), res


def equal_bandwidth(inst: Instance, *, solver: str | None = None, time_limit: float | None = None,
                    mip_gap: float | None = None, symmetry: str = "first-index",
                    extra_constraints: Any = None) -> tuple[int, np.ndarray, np.ndarray, SolveResult]:
    """The equal-bandwidth optimum (C5): for every cut and K, the MILP with α_k = 1/K
    (HiGHS / CBC / GLPK in Pyomo, or CP-SAT); the best round latency. Returns (c, x, α, result).

    ``time_limit`` (s) is one budget for all the solves; ``extra_constraints(model, instance)`` is
    applied to every model built (its group index k is the k-th of the K fastest servers)."""
    from slopt.methods import Deadline

    solver = solver or "highs"
    dl = Deadline(time_limit)
    t0 = time.perf_counter()
    best, statuses = None, []
    for c in inst.cuts:
        a, C = separable(inst, c)
        fig = cut_figures(inst.profile, c)
        for K in _ks(inst):
            slots = _slots_for(inst, K)
            share = K if inst.shared_band else 1
            if dl.expired:
                statuses.append("no_solution")
                continue
            x, res = _solve_makespan(a[:, slots] + share * C[:, None], K, inst.n_groups, solver,
                                     dl.remaining(), mip_gap, symmetry, extra_constraints, inst)
            statuses.append(res.status)
            if x is None:
                continue
            x = slots[x]
            alpha = np.zeros(inst.M)
            alpha[slots] = 1.0 / share
            K_used = len(np.unique(x))
            v = float(evaluate(inst, c, x, alpha).round_s) if inst.rate_model == "fixed-se" \
                else res.objective + sum(sync_s(inst, fig, K_used))
            if best is None or v < best[0]:
                best = (v, c, x, alpha)
    if best is None:
        raise InfeasibleError("equal-bandwidth: no solver returned a solution", "solver")
    proven = all(s == "optimal" for s in statuses)
    agg = SolveResult("optimal" if proven else "feasible", objective=best[0],
                      bound=best[0] if proven else math.nan, gap=0.0 if proven else math.nan,
                      seconds=time.perf_counter() - t0, solver=solver)
    return best[1], best[2], best[3], agg


def baseline(inst: Instance, scheme: str) -> Latency:
    """SL, SplitFed or CPSL at their best cut (``inst.cut`` if fixed); FL needs no cut."""
    if scheme == "fl":
        return evaluate(inst, scheme="fl")
    lats = [evaluate(inst, c, scheme=scheme) for c in inst.cuts]
    return min(lats, key=lambda lat: lat.round_s)


#: Cut of the un-optimised scheme when none is fixed: "cut after layer 2" (spec §9 default).
SCHEME_DEFAULT_CUT = 2


def scheme_only(inst: Instance) -> tuple[int, np.ndarray, np.ndarray]:
    """GSFL without optimisation (spec §8): K = min(M, N) (or ``n_groups``) equal-size groups
    (round robin), equal bandwidth α_k = 1/K, a fixed cut (``inst.cut`` or 2, spec §9)."""
    c = inst.cut if inst.cut is not None else min(SCHEME_DEFAULT_CUT, inst.L - 1)
    K = inst.n_groups or min(inst.M, inst.N)
    slots = _slots_for(inst, K)
    x = slots[np.arange(inst.N) % K]
    alpha = np.zeros(inst.M)
    alpha[slots] = 1.0 / K if inst.shared_band else 1.0
    return c, x, alpha



def single_group(inst: Instance) -> tuple[int, float]:
    """The K = 1 case (SL on the fastest edge server, α = 1, no synchronisation), best cut:
    the value Alg. 3 compares the grouped optimum with. Returns (cut, T_round)."""
    k = int(np.argmax(inst.edge_flops))
    x = np.full(inst.N, k)
    alpha = np.eye(inst.M)[k]
    vals = [(evaluate(inst, c, x, alpha).round_s, c) for c in inst.cuts]
    v, c = min(vals)
    return c, float(v)

