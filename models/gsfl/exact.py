"""GSFL exact methods (spec §5 Alg. 3): the MISOCP per cut with pruning, the own-band MILP, and the
brute-force enumeration of every cut and partition."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np

from slopt.errors import ValidationError
from slopt.methods import Deadline
from slopt.progress import report
from slopt.solvers import SolveResult, solve

from .algorithm import _ks, heuristic
from .baselines import _solve_makespan, single_group
from .formulations import (_COST_SCALE, ExtraConstraints, _CutColumns, _master, _subset_sums, _symmetric,
                           _x_from_cvxpy, _x_from_pyomo, build_misocp_cvxpy, build_misocp_pyomo)
from .instance import BRUTE_FORCE_MAX_CLIENTS, Instance
from .system import _coeffs, _onehot, _round_batch, cut_figures, separable, sync_s, train_time_ac, train_time_batch


LOG = logging.getLogger("slopt.models.gsfl")

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


def exact(inst: Instance, *, solver: str | None = None, formulation: str = "auto",
          time_limit: float | None = None, mip_gap: float | None = None,
          symmetry: str = "first-index", prune: bool = True,
          extra_constraints: ExtraConstraints | None = None,
          deadline: Deadline | None = None) -> tuple[int, np.ndarray, SolveResult, dict]:
    """Alg. 3: the optimum of P over every cut (fixed-SE model, sequential groups).

    ``formulation``: ``"partition"`` (:func:`exact_partition`: set partitioning over every client
    subset, HiGHS; the default ``"auto"`` picks it whenever it applies: shared band, N <=
    ``PARTITION_MAX_CLIENTS``, no ``extra_constraints``, ``solver`` None or ``"highs"``),
    ``"pyomo"`` or ``"cvxpy"`` (the MISOCP of §4 per cut, SCIP, the K = 1 case inside the model by z).
    MISOCP path: cuts whose lower bound is not below the incumbent are skipped, the incumbent is a
    cut-off (Alg. 4's value, or -- with ``extra_constraints``, which Alg. 4 does not know -- the best
    constrained solution found so far). ``extra_constraints(model, instance)`` is applied to every
    model built. Own band (``shared_band=False``): the makespan MILP per cut and K.

    Returns (cut, assignment, aggregated SolveResult, per-cut info). On a time limit the result is
    ``feasible`` with the weakest bound of the cuts not closed (``no_solution`` without a point).
    """
    if inst.rate_model != "fixed-se" or inst.intra_group != "sequential":
        raise ValidationError("exact: the MISOCP is exact for rate_model='fixed-se' with "
                              "intra_group='sequential'; use method 'brute-force' (N <= "
                              f"{BRUTE_FORCE_MAX_CLIENTS}) for rate_model={inst.rate_model!r}, "
                              f"intra_group={inst.intra_group!r}", "rate_model")
    if formulation not in ("auto", "partition", "pyomo", "cvxpy"):
        raise ValidationError(f"formulation = {formulation!r}; choose 'auto', 'partition', 'pyomo' or 'cvxpy'",
                              "formulation")
    dl = deadline or Deadline(time_limit)
    if not inst.shared_band:
        return _exact_milp_own_band(inst, solver or "highs", dl, mip_gap, symmetry, extra_constraints)
    if inst.shared_backhaul:
        raise ValidationError("exact: shared_backhaul (sync grows with K) is not modelled in the MISOCP; "
                              "use method 'brute-force' or 'paper'", "shared_backhaul")
    if formulation == "auto":
        formulation = "partition" if (extra_constraints is None and inst.N <= PARTITION_MAX_CLIENTS
                                      and solver in (None, "highs")) else "pyomo"
    if formulation == "partition":
        if extra_constraints is not None:
            raise ValidationError("extra_constraints: the set-partitioning method builds no x/α model; use "
                                  "formulation='pyomo' or 'cvxpy' (the MISOCP) to add constraints",
                                  "extra_constraints")
        return exact_partition(inst, mip_gap=mip_gap, deadline=dl)
    solver = solver if solver not in (None, "highs") else "scip"
    best: tuple[float, int, np.ndarray] | None = None
    if extra_constraints is None:
        c0, x0, v0 = heuristic(inst)
        best = (v0, c0, x0)
    statuses, bounds, per_cut = [], [], {}
    cuts = sorted(inst.cuts, key=lambda c: _cut_lower_bound(inst, c))
    LOG.info("gsfl exact (MISOCP, %s): N = %d, M = %d, %d cut(s); incumbent %s", solver, inst.N, inst.M,
             len(cuts), "none" if best is None else f"{best[0]:.9g} s (Alg. 4)")
    for i, c in enumerate(cuts):
        lb = _cut_lower_bound(inst, c)
        if prune and best is not None and lb >= best[0] * (1 - 1e-9):
            per_cut[c] = {"status": "pruned", "lower_bound_s": lb}
            bounds.append(lb)
            continue
        if dl.expired:
            per_cut[c] = {"status": "not started", "lower_bound_s": lb}
            statuses.append("no_solution")
            bounds.append(lb)
            continue
        a, C = separable(inst, c)
        sync = sum(sync_s(inst, cut_figures(inst.profile, c), 2))
        ub = best[0] * (1 + 1e-6) if prune and best is not None else None
        res, x = solve_misocp(a, C, inst.M, sync=sync, n_groups=inst.n_groups, symmetry=symmetry,
                              formulation=formulation, solver=solver, time_limit=dl.remaining(), mip_gap=mip_gap,
                              upper_bound=ub, extra_constraints=extra_constraints, instance=inst)
        if res.status == "infeasible" and ub is not None:
            # no solution under the incumbent's cut-off: cut c cannot improve on it (proven)
            res = SolveResult("optimal", objective=math.inf, bound=ub, gap=0.0, seconds=res.seconds,
                              solver=res.solver, message="no solution below the incumbent")
        statuses.append(res.status if res.status != "infeasible" else "optimal")   # infeasible cut: closed
        bounds.append(res.bound if math.isfinite(res.bound) else (math.inf if res.status == "infeasible" else lb))
        per_cut[c] = {"status": res.status, "objective_s": res.objective, "bound_s": res.bound,
                      "seconds": res.seconds}
        if x is not None:
            v = float(_round_batch(inst, c, x[None, :], train_time_batch(inst, c, x[None, :]))[0])
            if best is None or v < best[0]:
                best = (v, c, x)
        report(LOG, i + 1, len(cuts), incumbent=math.nan if best is None else best[0],
               bound=min(bounds) if best is None else min([best[0], *bounds]), what="cuts", cut=c,
               status=res.status, seconds=res.seconds)
    proven = all(s == "optimal" for s in statuses)
    n_pruned = sum(1 for v in per_cut.values() if v["status"] == "pruned")
    msg = f"{len(statuses)} MISOCP(s) solved, {n_pruned} cut(s) pruned"
    if best is None:
        agg = SolveResult("infeasible" if proven else "no_solution", bound=min(bounds, default=math.nan),
                          seconds=dl.elapsed, solver=f"{solver}/{formulation}", message=msg)
        return cuts[0], np.zeros(inst.N, dtype=np.int64), agg, per_cut
    # proven: every cut was solved to optimality or pruned by a valid bound; else the weakest bound
    bound = best[0] if proven else min([best[0], *bounds])
    status = "optimal" if proven else "feasible"
    agg = SolveResult(status, objective=best[0], bound=bound,
                      gap=0.0 if proven else abs(best[0] - bound) / max(best[0], 1e-12),
                      seconds=dl.elapsed, solver=f"{solver}/{formulation}", message=msg)
    LOG.info("gsfl exact: %s, objective %.9g s, bound %.9g s", status, best[0], bound)
    return best[1], best[2], agg, per_cut


def solve_misocp(a: Any, C: Any, M: int, *, sync: float = 0.0, n_groups: int | None = None,
                 symmetry: str = "first-index", formulation: str = "cvxpy", solver: str = "scip",
                 time_limit: float | None = None, mip_gap: float | None = None,
                 upper_bound: float | None = None, extra_constraints: ExtraConstraints | None = None,
                 instance: Any = None) -> tuple[SolveResult, np.ndarray | None]:
    """Build and solve the §4 MISOCP of one cut; returns (result, assignment or None).

    CVXPY maps SCIP's time/gap limit to OPTIMAL_INACCURATE, which ``solve()`` reports as optimal;
    here it is reported as ``feasible`` with an unknown bound.
    """
    if formulation == "cvxpy":
        prob = build_misocp_cvxpy(a, C, M, sync=sync, n_groups=n_groups, symmetry=symmetry,
                                  upper_bound=upper_bound, extra_constraints=extra_constraints, instance=instance)
        with np.errstate(divide="ignore", invalid="ignore"):   # quad_over_lin at α_k = 0 (empty group)
            res = solve(prob, solver=solver, time_limit=time_limit, mip_gap=mip_gap)
        if res.status == "optimal" and "inaccurate" in res.message:
            res.status, res.bound, res.gap = "feasible", math.nan, math.nan
        x = _x_from_cvxpy(prob) if res.ok else None
    elif formulation == "pyomo":
        m = build_misocp_pyomo(a, C, M, sync=sync, n_groups=n_groups, symmetry=symmetry,
                               upper_bound=upper_bound, extra_constraints=extra_constraints, instance=instance)
        res = solve(m, solver=solver, time_limit=time_limit, mip_gap=mip_gap)
        x = _x_from_pyomo(m, len(np.asarray(C)), M) if res.ok else None
    else:
        raise ValidationError(f"formulation = {formulation!r}; choose 'cvxpy' or 'pyomo'", "formulation")
    return res, x


def _exact_milp_own_band(inst: Instance, solver: str, dl: Deadline, mip_gap: float | None, symmetry: str,
                         extra_constraints: ExtraConstraints | None = None) -> tuple[int, np.ndarray, SolveResult, dict]:
    """shared_band=False: α_k = 1 for every group, so P is the MILP with p = a + C, over K."""
    best, per_cut, statuses = None, {}, []
    for c in inst.cuts:
        a, C = separable(inst, c)
        for K in _ks(inst):
            if dl.expired:
                statuses.append("no_solution")
                per_cut[(c, K)] = {"status": "not started"}
                continue
            x, res = _solve_makespan(a + C[:, None], K, inst.n_groups, solver, dl.remaining(), mip_gap, symmetry,
                                     extra_constraints, inst)
            statuses.append(res.status if res.status != "infeasible" else "optimal")
            if x is None:
                continue
            v = float(_round_batch(inst, c, x[None, :], train_time_batch(inst, c, x[None, :]))[0])
            per_cut[(c, K)] = {"status": res.status, "objective_s": v}
            LOG.info("gsfl exact (own band): cut %d, K = %d: %s, %.9g s", c, K, res.status, v)
            if best is None or v < best[0]:
                best = (v, c, x)
    proven = all(s == "optimal" for s in statuses)
    if best is None:
        return inst.cuts[0], np.zeros(inst.N, dtype=np.int64), SolveResult(
            "infeasible" if proven else "no_solution", seconds=dl.elapsed, solver=solver,
            message="no makespan MILP returned a solution"), per_cut
    agg = SolveResult("optimal" if proven else "feasible", objective=best[0], bound=best[0] if proven else math.nan,
                      gap=0.0 if proven else math.nan, seconds=dl.elapsed, solver=solver)
    return best[1], best[2], agg, per_cut


# -------------------------------------------------------------------------------------------------
# Exact by set partitioning over every client subset (the default exact method, shared band)
# -------------------------------------------------------------------------------------------------
#: Relative optimality tolerance of :func:`exact_partition`: a cut is closed when no partition
#: reaches a round latency below (1 - tol) x the incumbent.
PARTITION_TOL = 1e-6
#: Largest N whose 2^N client subsets are enumerated (2^22 = 4.2 M subsets, ~34 MB per array).
PARTITION_MAX_CLIENTS = 22
#: Column generation stops once reduced-cost fixing leaves at most this many columns for the MILP.
PARTITION_MILP_COLUMNS = 5_000
#: Columns added per server class and pricing round.
PARTITION_PRICED = 100


def _deadline_partition(cc: _CutColumns, T: float, n_groups: int | None, pool: dict[tuple[int, int], None],
                        deadline: Deadline) -> tuple[str, list[tuple[int, int]] | None, float]:
    """Is there a partition whose groups all finish by T with Σ_k α_k <= 1?  Column generation on the
    set-partitioning LP (pricing = the most negative reduced cost over every subset, vectorised),
    the Lagrangian bound to stop early, reduced-cost fixing, then the MILP on the columns left.

    Returns ("infeasible" | "feasible" | "stopped", the groups (S, class) if feasible, the bound on
    min Σ_k α_k found).
    """
    J = len(cc.classes)
    caps = [len(slots) for _, slots in cc.classes]
    H = [cc.h(j, T) for j in range(J)]
    cap_cols = min(sum(caps), n_groups) if n_groups is not None else sum(caps)
    for j in range(J):                                   # singletons keep the master small but useful
        for S in (1 << np.arange(cc.N)):
            if cc.pos(j, int(S)) >= 0:
                pool.setdefault((int(S), j), None)

    def cost(col: tuple[int, int]) -> float:
        i = cc.pos(col[1], col[0])
        return float(H[col[1]][i]) if i >= 0 else math.inf

    lb, best_duals, it = -math.inf, None, 0
    while True:
        it += 1
        cols = [col for col in pool if math.isfinite(cost(col))]
        res, _ = _master(cols, [cost(col) for col in cols], cc.N, caps, n_groups, integer=False)
        if res.status != 0:
            return "stopped", None, lb
        lam = res.eqlin.marginals[:cc.N]
        nu = float(res.eqlin.marginals[cc.N]) if n_groups is not None else 0.0
        mu = res.ineqlin.marginals
        z_dual = float(lam.sum() + (mu * caps).sum() + nu * (n_groups or 0))
        Ls = _subset_sums(lam)
        rcs = [H[j] - Ls[cc.idx[j]] - mu[j] - nu for j in range(J)]
        r_min = min(float(rc.min()) if rc.size else math.inf for rc in rcs)
        lb_it = z_dual + cap_cols * min(0.0, r_min)          # Lagrangian bound on min Σ α (any duals)
        if lb_it > lb:
            lb, best_duals = lb_it, (rcs, r_min)
        if lb > 1 + 1e-9:
            return "infeasible", None, lb
        converged = r_min >= -1e-9
        if converged:
            y = res.x[:len(cols)]
            if res.x[len(cols):].max(initial=0) < 1e-9 and np.all(np.abs(y - np.round(y)) < 1e-9) and res.fun <= 1:
                return "feasible", [col for col, v in zip(cols, y) if v > 0.5], lb
        # reduced-cost fixing with the duals of the best bound: a group S of an integer solution with
        # Σ α <= 1 has rc(S) <= 1 - lb (value(y) >= z_dual + Σ_{S in y} rc(S))
        b_rcs, b_rmin = best_duals
        thr = 1.0 - lb + 1e-9
        n_keep = sum(int(np.count_nonzero(rc <= thr)) for rc in b_rcs)
        if converged or n_keep <= PARTITION_MILP_COLUMNS or deadline.expired:
            break
        for j, rc in enumerate(rcs):
            k = min(PARTITION_PRICED, rc.size)
            if k == 0:
                continue
            top = np.argpartition(rc, k - 1)[:k]
            for i in top[rc[top] < -1e-9]:
                pool.setdefault((int(cc.idx[j][i]), j), None)
    if deadline.expired:
        return "stopped", None, lb
    LOG.debug("deadline %.9g s: %d LP(s), bound on Σα %.9f, %d column(s) to the MILP", T, it, lb, n_keep)
    kept = [np.flatnonzero(rc <= thr) for rc in b_rcs]
    if not any(k.size for k in kept):
        return "infeasible", None, lb
    if n_groups is None and sum(caps) <= 4:
        cand = [(cc.idx[j][k], H[j][k], b_rcs[j][k]) for j, k in enumerate(kept)]
        groups = _meet_in_the_middle(cc.N, cand, caps, thr, deadline)
        if groups is None:
            return "stopped", None, lb
        return ("feasible", groups, lb) if groups else ("infeasible", None, lb)
    keep = [(int(cc.idx[j][i]), j) for j, k in enumerate(kept) for i in k]
    res, _ = _master(keep, [cost(col) for col in keep], cc.N, caps, n_groups, integer=True,
                     time_limit=deadline.remaining())
    if res.x is not None and res.fun / _COST_SCALE <= 1 + 1e-12:
        return "feasible", [col for col, v in zip(keep, res.x) if v > 0.5], lb
    if res.status == 0 or res.status == 2:                # optimal above 1, or no partition at all
        return "infeasible", None, max(lb, res.fun / _COST_SCALE if res.status == 0 else math.inf)
    return "stopped", None, lb


def _half_table(N: int, cand: list[tuple[np.ndarray, np.ndarray, np.ndarray]], slots: list[int], thr: float,
                deadline: Deadline) -> tuple[np.ndarray, np.ndarray] | None:
    """min Σ h over at most ``len(slots)`` (<= 2) disjoint groups, one per slot class, with union U, for
    every U (dense over 2^N); ``first[U]`` = the group of the first slot (0 if unused). Pairs whose
    reduced costs exceed ``thr`` together are skipped (they cannot be in a solution with Σ α <= 1)."""
    table = np.full(1 << N, np.inf)
    first = np.zeros(1 << N, dtype=np.int64)
    table[0] = 0.0
    for pos, j in enumerate(slots):
        S, h, _ = cand[j]
        better = h < table[S]
        table[S[better]] = h[better]
        first[S[better]] = S[better] if pos == 0 else 0
    if len(slots) == 2:
        same = slots[0] == slots[1]                     # identical servers: each unordered pair once
        (S1, h1, r1), (S2, h2, r2) = cand[slots[0]], cand[slots[1]]
        o1, o2 = np.argsort(r1, kind="stable"), np.argsort(r2, kind="stable")
        S1, h1, r1 = S1[o1], h1[o1], r1[o1]
        S2, h2, r2 = S2[o2], h2[o2], r2[o2]
        for i in range(S1.size):
            if i % 256 == 0 and deadline.expired:
                return None
            lo = i + 1 if same else 0
            n = int(np.searchsorted(r2, thr - r1[i], side="right"))
            if n <= lo:
                if same or n == 0:
                    break
                continue
            s2 = S2[lo:n]
            ok = (s2 & S1[i]) == 0
            U = S1[i] | s2[ok]
            v = h1[i] + h2[lo:n][ok]
            better = v < table[U]
            table[U[better]] = v[better]
            first[U[better]] = S1[i]
    return table, first


def _meet_in_the_middle(N: int, cand: list[tuple[np.ndarray, np.ndarray, np.ndarray]], caps: list[int],
                        thr: float, deadline: Deadline) -> list[tuple[int, int]] | None:
    """Exact min Σ_k h(S_k) over partitions into at most Σ caps <= 4 groups from the candidate columns
    (masks, h, reduced cost per server class): two halves of at most two groups each, tabulated over
    every union of clients, joined on complements. Returns the groups [(S, class)] of a partition with
    Σ h <= 1, [] if there is none, None when the deadline expired."""
    slots = [j for j, m in enumerate(caps) for _ in range(m)]
    halves = [slots[:2], slots[2:]]
    tabs: list[tuple[np.ndarray, np.ndarray]] = []
    for i, hs in enumerate(halves):
        t = tabs[0] if i == 1 and hs == halves[0] else _half_table(N, cand, hs, thr, deadline)
        if t is None:
            return None
        tabs.append(t)
    full = (1 << N) - 1
    U = np.arange(1 << N, dtype=np.int64)
    total = tabs[0][0] + tabs[1][0][full ^ U]
    u = int(np.argmin(total))
    if not total[u] <= 1 + 1e-12:
        return []
    groups = []
    for (table, first), hs, V in zip(tabs, halves, (u, full ^ u)):
        if V == 0:
            continue
        a = int(first[V])
        parts = [(a, hs[0]), (V ^ a, hs[1] if len(hs) > 1 else hs[0])]
        groups += [(S, j) for S, j in parts if S]
    return groups


def exact_partition(inst: Instance, *, time_limit: float | None = None, mip_gap: float | None = None,
                    deadline: Deadline | None = None) -> tuple[int, np.ndarray, SolveResult, dict]:
    """Alg. 3 by set partitioning (shared band, fixed-SE, sequential groups; N <= PARTITION_MAX_CLIENTS).

    1. Incumbent: Alg. 4 over every cut and K, and the K = 1 case (SL on the fastest edge server).
    2. Cuts in order of their lower bound (``_cut_lower_bound``); a cut whose bound is not below
       (1 - tol) x incumbent is closed without a solve.
    3. Otherwise the deadline T = (1 - tol) x incumbent - (T^dist + T^agg)(c) is tested by
       :func:`_deadline_partition` over every subset of clients on every class of identical edge
       servers (no symmetric copies): a partition that meets it becomes the incumbent and T moves
       down; "no partition" closes the cut.

    ``tol`` = max(``mip_gap``, :data:`PARTITION_TOL`). Progress (cuts done, incumbent, bound) goes to
    the ``slopt.models.gsfl`` logger. On a time limit: the incumbent, the weakest bound of the cuts not
    closed, status ``feasible``.
    """
    if inst.N > PARTITION_MAX_CLIENTS:
        raise ValidationError(f"exact by set partitioning enumerates 2^N client subsets; N = {inst.N} > "
                              f"{PARTITION_MAX_CLIENTS}: use formulation='pyomo' (MISOCP, SCIP)", "n_clients")
    if inst.rate_model != "fixed-se" or inst.intra_group != "sequential" or not inst.shared_band \
            or inst.shared_backhaul:
        raise ValidationError("exact by set partitioning models rate_model='fixed-se', intra_group='sequential', "
                              "shared_band=True, shared_backhaul=False", "rate_model")
    dl = deadline or Deadline(time_limit)
    tol = max(float(mip_gap or 0.0), PARTITION_TOL)
    c0, x0, v0 = heuristic(inst)
    best = (v0, c0, x0)
    if inst.n_groups in (None, 1):
        cs, vs = single_group(inst)
        if inst.n_groups == 1 or vs < best[0]:
            k = int(np.argmax(inst.edge_flops))
            best = (vs, cs, np.full(inst.N, k))
    LOG.info("gsfl exact: N = %d, M = %d, %d cut(s); incumbent %.9g s (Alg. 4 / K = 1)",
             inst.N, inst.M, len(inst.cuts), best[0])
    per_cut: dict[Any, dict] = {}
    closed_lb: list[float] = []
    open_lb: list[float] = []
    n_groups = inst.n_groups if inst.n_groups != 1 else None
    for i, c in enumerate(sorted(inst.cuts, key=lambda c: _cut_lower_bound(inst, c))):
        lb_c = _cut_lower_bound(inst, c)
        sync = sum(sync_s(inst, cut_figures(inst.profile, c), 2))
        if inst.n_groups == 1:
            per_cut[c] = {"status": "closed", "lower_bound_s": best[0]}
            continue
        if lb_c >= best[0] * (1 - tol):
            per_cut[c] = {"status": "pruned", "lower_bound_s": lb_c}
            closed_lb.append(lb_c)
            continue
        if dl.expired:
            open_lb.append(lb_c)
            per_cut[c] = {"status": "not started", "lower_bound_s": lb_c}
            continue
        t_c = time.perf_counter()
        cc = _CutColumns(inst, c, best[0] - sync)
        pool: dict[tuple[int, int], None] = {}
        for k in np.unique(best[2]):                       # the incumbent's groups as first columns
            S = int(sum(1 << int(n) for n in np.flatnonzero(best[2] == k)))
            j = next(j for j, (_, slots) in enumerate(cc.classes) if k in slots)
            pool[(S, j)] = None
        status, n_tests = "stopped", 0
        while True:
            T = best[0] * (1 - tol) - sync
            if T + sync <= lb_c or T <= 0:
                status = "closed"
                break
            state, groups, _ = _deadline_partition(cc, T, n_groups, pool, dl)
            n_tests += 1
            if state != "feasible":
                status = "closed" if state == "infeasible" else "stopped"
                break
            x = np.empty(inst.N, dtype=np.int64)
            used = {j: 0 for j in range(len(cc.classes))}
            for S, j in groups:
                x[cc.members(S)] = cc.classes[j][1][used[j]]
                used[j] += 1
            v = float(_round_batch(inst, c, x[None, :], train_time_batch(inst, c, x[None, :]))[0])
            if not v < best[0]:
                status = "closed"       # met the deadline only within float rounding of the incumbent
                break
            best = (v, c, x)
            LOG.info("gsfl exact: cut %d: new incumbent %.9g s (%d group(s))", c, v, len(groups))
        if status == "closed":
            closed_lb.append(max(lb_c, best[0] * (1 - tol)))
        else:
            open_lb.append(lb_c)
        per_cut[c] = {"status": status, "deadline_tests": n_tests, "columns": len(pool),
                      "subsets": int(sum(ix.size for ix in cc.idx)), "seconds": time.perf_counter() - t_c}
        report(LOG, i + 1, len(inst.cuts), incumbent=best[0], bound=min([best[0], *closed_lb, *open_lb]),
               what="cuts", cut=c, status=status, seconds=time.perf_counter() - t_c)
    proven = not open_lb
    bound = min([best[0], *closed_lb, *open_lb])
    gap = max(0.0, (best[0] - bound) / best[0])
    status = "optimal" if proven and gap <= tol * (1 + 1e-9) else "feasible"
    msg = (f"set partitioning over every client subset: {sum(v['status'] == 'closed' for v in per_cut.values())} "
           f"cut(s) solved, {sum(v['status'] == 'pruned' for v in per_cut.values())} pruned by bound"
           + ("" if proven else f", {len(open_lb)} not closed (time limit)")
           + f"; optimal within relative tolerance {tol:g}" * proven)
    LOG.info("gsfl exact: %s, objective %.9g s, bound %.9g s, gap %.3g", status, best[0], bound, gap)
    res = SolveResult(status, objective=best[0], bound=bound, gap=gap, seconds=dl.elapsed,
                      solver="set-partitioning/highs", message=msg)
    return best[1], best[2], res, per_cut
