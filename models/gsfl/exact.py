"""GSFL exact methods (spec §5 Alg. 3): the MISOCP per cut with pruning, the own-band MILP, and the
brute-force enumeration of every cut and partition."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from slopt.errors import InfeasibleError, ValidationError
from slopt.solvers import SolveResult, solve

from .algorithm import _ks, heuristic
from .baselines import _solve_makespan
from .formulations import _symmetric, _x_from_cvxpy, _x_from_pyomo, build_misocp_cvxpy, build_misocp_pyomo
from .instance import BRUTE_FORCE_MAX_CLIENTS, Instance
from .system import _coeffs, _onehot, _round_batch, cut_figures, separable, sync_s, train_time_ac, train_time_batch


def set_partitions(N: int, max_blocks: int) -> np.ndarray:
    """All partitions of N clients into at most ``max_blocks`` groups as restricted growth strings
    (x_0 = 0, x_n <= max(x_0..x_{n-1}) + 1): the assignments modulo relabelling of identical slots."""
    X = np.zeros((1, 1), dtype=np.int64)
    for _ in range(1, N):
        mx = X.max(axis=1)
        reps = np.minimum(mx + 2, max_blocks)
        rows = np.repeat(np.arange(X.shape[0]), reps)
        vals = np.concatenate([np.arange(r) for r in reps])
        X = np.concatenate([X[rows], vals[:, None]], axis=1)
    return X


def _all_assignments(inst: Instance) -> np.ndarray:
    K = min(inst.M, inst.N)
    if inst.identical_edges:
        X = set_partitions(inst.N, K)
    else:
        X = np.array(np.meshgrid(*[np.arange(inst.M)] * inst.N, indexing="ij")).reshape(inst.N, -1).T
    if inst.n_groups is not None:
        H = _onehot(X, inst.M).sum(axis=1) > 0
        K_used = H.sum(axis=1)
        ok = K_used == inst.n_groups
        if inst.identical_edges:
            ok &= np.all(H[:, inst.n_groups:] == 0, axis=1) if inst.n_groups < inst.M else ok
        X = X[ok]
    return X


def brute_force(inst: Instance, chunk: int = 20_000) -> tuple[int, np.ndarray, float]:
    """Enumerate every cut and every assignment (set partitions for identical edge servers,
    M^N otherwise) with the optimal α of Alg. 5; returns (cut, assignment, T_round)."""
    if inst.N > BRUTE_FORCE_MAX_CLIENTS:
        raise ValidationError(f"brute force enumerates Bell(N) partitions; N = {inst.N} > "
                              f"{BRUTE_FORCE_MAX_CLIENTS} clients", "n_clients")
    X = _all_assignments(inst)
    best: tuple[float, int, np.ndarray] | None = None
    for c in inst.cuts:
        for s in range(0, X.shape[0], chunk):
            Xc = X[s:s + chunk]
            v = _round_batch(inst, c, Xc, train_time_batch(inst, c, Xc))
            i = int(np.argmin(v))
            if best is None or v[i] < best[0]:
                best = (float(v[i]), c, Xc[i].copy())
    assert best is not None
    return best[1], best[2], best[0]


def brute_force_ac(a: Any, C: Any, M: int, n_groups: int | None = None) -> tuple[float, np.ndarray]:
    """Brute force on the separable form: min over every partition (≤ M groups; exactly
    ``n_groups`` if given) of T^train with the optimal α. Returns (T*, assignment)."""
    a, C = _coeffs(a, C, M)
    N = C.shape[0]
    X = set_partitions(N, min(M, N)) if _symmetric(a) else \
        np.array(np.meshgrid(*[np.arange(M)] * N, indexing="ij")).reshape(N, -1).T
    if n_groups is not None:
        X = X[(_onehot(X, M).sum(axis=1) > 0).sum(axis=1) == n_groups]
    T = train_time_ac(a, C, X, M)
    i = int(np.argmin(T))
    return float(T[i]), X[i]



def _cut_lower_bound(inst: Instance, c: int) -> float:
    """A valid lower bound on T_round(c) over all x, α: sync(c) [if K >= 2 is forced] +
    max(max_n min_k a_{n,k} + C_n,  Σ_n C_n,  Σ_n min_k a_{n,k} / M) (fixed-SE, sequential)."""
    a, C = separable(inst, c)
    amin = a.min(axis=1)
    K = min(inst.M, inst.N)
    lb = max(float((amin + C).max()), float(C.sum()) if inst.shared_band else 0.0, float(amin.sum()) / K)
    if inst.n_groups is not None and inst.n_groups >= 2:
        lb += sum(sync_s(inst, cut_figures(inst.profile, c), inst.n_groups))
    return lb


def exact(inst: Instance, *, solver: str | None = None, formulation: str = "pyomo",
          time_limit: float | None = None, mip_gap: float | None = None,
          symmetry: str = "first-index", prune: bool = True) -> tuple[int, np.ndarray, SolveResult, dict]:
    """Alg. 3: the MISOCP of §4 for every cut (Pyomo or CVXPY, SCIP), the K = 1 case
    handled inside the model by z, the best cut kept. Cuts whose lower bound is not below the
    incumbent (Alg. 4's value) are skipped -- this keeps optimality.

    Returns (cut, assignment, aggregated SolveResult, per-cut info). Needs the fixed-SE model
    with sequential groups and a shared band; other readings go to brute force or the MILP.
    """
    if inst.rate_model != "fixed-se" or inst.intra_group != "sequential":
        raise ValidationError("exact: the MISOCP is exact for rate_model='fixed-se' with "
                              "intra_group='sequential'; use method 'brute-force' (N <= "
                              f"{BRUTE_FORCE_MAX_CLIENTS}) for rate_model={inst.rate_model!r}, "
                              f"intra_group={inst.intra_group!r}", "rate_model")
    if not inst.shared_band:
        return _exact_milp_own_band(inst, solver or "highs", time_limit, mip_gap, symmetry)
    solver = solver or "scip"
    t0 = time.perf_counter()
    c0, x0, v0 = heuristic(inst)
    best = (v0, c0, x0)
    statuses, bounds, per_cut = [], [], {}
    for c in sorted(inst.cuts, key=lambda c: _cut_lower_bound(inst, c)):
        lb = _cut_lower_bound(inst, c)
        if prune and lb >= best[0] * (1 - 1e-9):
            per_cut[c] = {"status": "pruned", "lower_bound_s": lb}
            bounds.append(lb)
            continue
        left = None if time_limit is None else max(time_limit - (time.perf_counter() - t0), 1.0)
        a, C = separable(inst, c)
        sync = sum(sync_s(inst, cut_figures(inst.profile, c), 2))
        if inst.shared_backhaul:
            raise ValidationError("exact: shared_backhaul (sync grows with K) is not modelled in the MISOCP; "
                                  "use method 'brute-force' or 'paper'", "shared_backhaul")
        ub = best[0] * (1 + 1e-6) if prune else None
        res, x = solve_misocp(a, C, inst.M, sync=sync, n_groups=inst.n_groups, symmetry=symmetry,
                              formulation=formulation, solver=solver, time_limit=left, mip_gap=mip_gap,
                              upper_bound=ub)
        if res.status == "infeasible" and ub is not None:
            # no solution under the incumbent's cut-off: cut c cannot improve on it (proven)
            res = SolveResult("optimal", objective=math.inf, bound=ub, gap=0.0, seconds=res.seconds,
                              solver=res.solver, message="no solution below the incumbent")
        statuses.append(res.status)
        bounds.append(res.bound if math.isfinite(res.bound) else lb)
        per_cut[c] = {"status": res.status, "objective_s": res.objective, "bound_s": res.bound,
                      "seconds": res.seconds}
        if x is not None:
            v = float(_round_batch(inst, c, x[None, :], train_time_batch(inst, c, x[None, :]))[0])
            if v < best[0]:
                best = (v, c, x)
    proven = all(s == "optimal" for s in statuses)
    # proven: every cut was solved to optimality or pruned by a valid bound; else the weakest bound
    bound = best[0] if proven else min([best[0], *bounds])
    status = "optimal" if proven else "feasible"
    agg = SolveResult(status, objective=best[0], bound=bound,
                      gap=0.0 if proven else abs(best[0] - bound) / max(best[0], 1e-12),
                      seconds=time.perf_counter() - t0, solver=f"{solver}/{formulation}",
                      message=f"{len(statuses)} MISOCP(s) solved, "
                              f"{sum(1 for v in per_cut.values() if v['status'] == 'pruned')} cut(s) pruned")
    return best[1], best[2], agg, per_cut


def solve_misocp(a: Any, C: Any, M: int, *, sync: float = 0.0, n_groups: int | None = None,
                 symmetry: str = "first-index", formulation: str = "cvxpy", solver: str = "scip",
                 time_limit: float | None = None, mip_gap: float | None = None,
                 upper_bound: float | None = None) -> tuple[SolveResult, np.ndarray | None]:
    """Build and solve the §4 MISOCP of one cut; returns (result, assignment or None).

    CVXPY maps SCIP's time/gap limit to OPTIMAL_INACCURATE, which ``solve()`` reports as optimal;
    here it is reported as ``feasible`` with an unknown bound.
    """
    if formulation == "cvxpy":
        prob = build_misocp_cvxpy(a, C, M, sync=sync, n_groups=n_groups, symmetry=symmetry,
                                  upper_bound=upper_bound)
        with np.errstate(divide="ignore", invalid="ignore"):   # quad_over_lin at α_k = 0 (empty group)
            res = solve(prob, solver=solver, time_limit=time_limit, mip_gap=mip_gap)
        if res.status == "optimal" and "inaccurate" in res.message:
            res.status, res.bound, res.gap = "feasible", math.nan, math.nan
        x = _x_from_cvxpy(prob) if res.ok else None
    elif formulation == "pyomo":
        m = build_misocp_pyomo(a, C, M, sync=sync, n_groups=n_groups, symmetry=symmetry,
                               upper_bound=upper_bound)
        res = solve(m, solver=solver, time_limit=time_limit, mip_gap=mip_gap)
        x = _x_from_pyomo(m, len(np.asarray(C)), M) if res.ok else None
    else:
        raise ValidationError(f"formulation = {formulation!r}; choose 'cvxpy' or 'pyomo'", "formulation")
    return res, x


def _exact_milp_own_band(inst: Instance, solver: str, time_limit: float | None, mip_gap: float | None,
                         symmetry: str) -> tuple[int, np.ndarray, SolveResult, dict]:
    """shared_band=False: α_k = 1 for every group, so P is the MILP with p = a + C, over K."""
    t0 = time.perf_counter()
    best, per_cut, statuses = None, {}, []
    for c in inst.cuts:
        a, C = separable(inst, c)
        for K in _ks(inst):
            x, res = _solve_makespan(a + C[:, None], K, inst.n_groups, solver, time_limit, mip_gap, symmetry)
            statuses.append(res.status)
            if x is None:
                continue
            v = float(_round_batch(inst, c, x[None, :], train_time_batch(inst, c, x[None, :]))[0])
            per_cut[(c, K)] = {"status": res.status, "objective_s": v}
            if best is None or v < best[0]:
                best = (v, c, x)
    if best is None:
        raise InfeasibleError("exact: no solver returned a solution", "solver")
    proven = all(s == "optimal" for s in statuses)
    agg = SolveResult("optimal" if proven else "feasible", objective=best[0], bound=best[0] if proven else math.nan,
                      gap=0.0 if proven else math.nan, seconds=time.perf_counter() - t0, solver=solver)
    return best[1], best[2], agg, per_cut

