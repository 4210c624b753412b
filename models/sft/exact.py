"""Exact methods of SFT: the proven spatial branch-and-bound over keep ratios per block
allocation (:func:`exact`), the vertex enumeration of Claim 11 (:func:`vertex_enumeration`, exact
where :func:`claim11_conditions` holds) and the global MINLP of P0 (:func:`exact_minlp`, SCIP)."""

from __future__ import annotations

import itertools
import logging
import math
import time
from typing import Any

import numpy as np

from slopt.errors import InfeasibleError, ValidationError
from slopt.methods import Deadline, method
from slopt.plan import Plan
from slopt.solvers import solve
from slopt.solvers.result import SolveResult, relative_gap

from .algorithm import alm, theta_local, theta_vertices
from .formulations import build_minlp
from .instance import SFTInstance
from .system import accuracy_weights, compute_times, expected_delay, make_plan

__all__ = ["block_allocations", "claim11_conditions", "exact", "vertex_enumeration", "exact_minlp"]

log = logging.getLogger("slopt.models.sft")


# =========================================================================== exact baselines
def block_allocations(inst: SFTInstance) -> np.ndarray:
    """Every l in prod_n {1..l_cap_n} (per-device) or {1..min cap} (common)."""
    if inst.p("split") == "common":
        return np.repeat(np.arange(1, int(inst.l_cap.min()) + 1)[:, None], inst.N, axis=1)
    return np.array(list(itertools.product(*[range(1, int(c) + 1) for c in inst.l_cap])), dtype=float)


def claim11_conditions(inst: SFTInstance, l: np.ndarray) -> tuple[bool, str]:
    """Whether the theta-subproblem at blocks ``l`` is solved exactly by its face vertices.

    Two sufficient conditions, checked on the data (J is nondecreasing in every theta_n, Claim 8):

    1. the accuracy requirement is met at theta = theta_lb (or there is none): theta_lb is optimal;
    2. Claim 11: fixed-SNR rates (``rate_model="fixed-snr"``) and equal device compute times
       t^F_n (Eq. 2) and t^B_n (Eq. 3) over the devices. Then each phase of P2 has the closed form
       z = t + sum_n S_n / (B c_n) (Claim 6), J is a positive combination of the concave S^U_n
       (Eq. 7) and the affine S^D_n (Eq. 9), hence concave in theta, and its minimum over the
       polytope {sum w~ theta >= theta_req, theta_lb <= theta <= 1} lies at a vertex; by
       monotonicity at a vertex of the face sum w~ theta = theta_req.

    Returns (holds, reason).
    """
    l = np.asarray(l, float)
    wt = accuracy_weights(inst, l)
    if inst.theta_req <= 0 or float(wt @ inst.theta_lb) >= inst.theta_req:
        return True, "accuracy met at theta_lb (J nondecreasing in theta)"
    if inst.p("rate_model") != "fixed-snr":
        return False, f"rate_model = {inst.p('rate_model')!r} (Claim 11 needs fixed-snr)"
    tF, tB, _ = compute_times(inst, l)
    for name, t in (("t^F", tF), ("t^B", tB)):
        if np.ptp(t) > 1e-12 * max(float(np.abs(t).max()), 1e-300):
            return False, f"device compute times {name} differ (Claim 11 needs them equal)"
    return True, "fixed-SNR rates and equal compute times: J concave in theta (Claim 11)"


def _reduce(a: np.ndarray, b: np.ndarray, w: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Box reduction of monotone optimisation for rows of boxes [a, b] and the face w . theta = r.

    Every feasible point has theta_n >= (r - sum_{m != n} w_m b_m) / w_n (raises a); an optimal
    point lies on the face (J nondecreasing), where theta_n <= (r - sum_{m != n} w_m a_m) / w_n
    (lowers b). Returns (a', b', feasible)."""
    wb = (w * b).sum(-1, keepdims=True)
    a2 = np.maximum(a, (r - (wb - w * b)) / w)
    wa = (w * a2).sum(-1, keepdims=True)
    b2 = np.minimum(b, np.maximum((r - (wa - w * a2)) / w, a2))
    feas = (w * b).sum(-1) >= r * (1 - 1e-12)
    return a2, b2, feas


def _face_point(a: np.ndarray, b: np.ndarray, w: np.ndarray, r: float) -> np.ndarray:
    """A feasible point of each box on (or just above) the face: a + t (b - a), w . theta = r."""
    wa = (w * a).sum(-1)
    span = (w * (b - a)).sum(-1)
    t = np.where(span > 0, (r - wa) / np.where(span > 0, span, 1.0), 0.0)
    t = np.clip(t * (1 + 1e-12) + 1e-15, 0.0, 1.0)
    return np.where(wa[:, None] >= r, a, a + t[:, None] * (b - a))


@method
def exact(inst: SFTInstance, *, solver: str | None = None, time_limit: float | None = None,
          mip_gap: float | None = None, extra_constraints: Any = None, batch: int = 256,
          max_open: int = 2_000_000, incumbent: tuple[Any, Any] | None = None,
          seed_alm: bool = True) -> Plan:
    """Proven global optimum of P1 (SAA) by spatial branch-and-bound over the keep ratios of every
    block allocation (monotone optimisation, branch-reduce-bound).

    Valid bounds: for fixed blocks l, J(theta, l) is nondecreasing in each theta_n (the P2 value
    grows with every payload, and S^U, S^D of Eq. 7 / Eq. 9 grow with theta_n), so over a box
    [a, b] of keep ratios the value at the reduced lower corner (:func:`_reduce`) is a lower bound
    of J on the feasible part of the box. Upper bounds come from feasible points on the accuracy
    face; the box with the smallest bound is split on the coordinate that contributes most to its
    gap. One root box per allocation in prod_n {1..l_cap_n}; allocations whose root bound is above
    the incumbent are pruned at once. Incumbents to start from: the face vertices of Claim 11 and
    the paper's ALM (Algorithm 2), so the result is never worse than the paper's.

    ``mip_gap``: relative gap proven before stopping (default 1e-6; values below 1e-9, e.g. 0, are
    raised to 1e-9, which the plan's ``solve.gap_limit`` states); ``time_limit`` (s): on expiry
    the incumbent comes back as ``feasible`` with the bound and the gap. Progress (incumbent,
    bound, gap, open boxes) goes to the ``slopt.models.sft`` logger. ``solver="scip"`` (or any
    MINLP solver) solves :func:`exact_minlp` instead; ``solver="enumeration"`` runs
    :func:`vertex_enumeration`; ``extra_constraints`` (a callback ``(model, instance)``) needs a
    model and therefore solves the MINLP of :func:`build_minlp` with it.
    """
    if extra_constraints is not None or solver not in (None, "bnb", "enumeration"):
        return exact_minlp(inst, solver=solver if solver not in (None, "bnb") else "scip", time_limit=time_limit,
                           mip_gap=mip_gap, extra_constraints=extra_constraints)
    if solver == "enumeration":
        return vertex_enumeration(inst, time_limit=time_limit, mip_gap=mip_gap)
    t0 = time.perf_counter()
    dl = Deadline(time_limit)
    gap_tol = 1e-6 if mip_gap is None else max(float(mip_gap), 1e-9)   # J is evaluated to ~1e-13
    N = inst.N
    Ls = block_allocations(inst)
    W = accuracy_weights(inst, Ls)
    r = float(inst.theta_req)

    # ---- incumbents: the face vertices (Claim 11) of every allocation, the paper's ALM
    cands: list[tuple[np.ndarray, np.ndarray]] = []
    if incumbent is not None:
        cands.append((np.asarray(incumbent[0], float), np.asarray(incumbent[1], float)))
    if len(Ls) * N * 2 ** max(N - 1, 0) <= 400_000:
        if inst.p("accuracy") == "depth":
            pairs = [(ll, th) for ll in Ls for th in theta_vertices(inst, ll)]
            Lc, Tc = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        else:
            V = theta_vertices(inst, Ls[0])
            Lc, Tc = np.repeat(Ls, len(V), axis=0), np.tile(V, (len(Ls), 1))
        Jv = expected_delay(inst, Tc, Lc)
        if np.isfinite(Jv).any():
            i = int(np.nanargmin(np.where(np.isfinite(Jv), Jv, np.inf)))
            cands.append((Tc[i], Lc[i]))
    if seed_alm and not dl.expired:
        res = alm(inst)
        cands.append((res.theta, res.l.astype(float)))
    best_th, best_l, UB = None, None, math.inf
    for th, ll in cands:
        J = float(expected_delay(inst, th, ll)[0])
        if math.isfinite(J) and J < UB:
            best_th, best_l, UB = th, ll, J

    # ---- root boxes, one per allocation
    A = np.broadcast_to(inst.theta_lb, Ls.shape).astype(float)
    B = np.ones_like(A)
    if r > 0:
        A, B, feas = _reduce(A, B, W, r)
    else:
        feas = np.ones(len(Ls), bool)
    idx = np.flatnonzero(feas)
    A, B, Li = A[idx], B[idx], idx
    LBs = expected_delay(inst, A, Ls[Li])
    if r <= 0 or inst.p("accuracy") in ("per-device", "variance"):
        B = A.copy()            # no coupling: theta = theta_lb is optimal in every box
    nodes = evals = len(Li)
    bad = ~np.isfinite(LBs)
    if bad.all():
        return _no_solution(inst, t0, "J is not finite at any allocation (check kappa_B, FLOP/s, gains)")
    LBs = np.where(bad, np.inf, LBs)

    def offer(T: np.ndarray, Lr: np.ndarray, J: np.ndarray) -> None:
        nonlocal UB, best_th, best_l
        J = np.where(np.isfinite(J), J, np.inf)
        i = int(np.argmin(J))
        if J[i] < UB:
            UB, best_th, best_l = float(J[i]), T[i].copy(), Lr[i].copy()

    P = _face_point(A, B, W[Li], r) if r > 0 else A
    offer(P, Ls[Li], expected_delay(inst, P, Ls[Li]))
    stopped, last_log, it = None, time.perf_counter(), 0
    while True:
        keep = LBs < UB
        A, B, Li, LBs = A[keep], B[keep], Li[keep], LBs[keep]
        bound = min(float(LBs.min()) if LBs.size else math.inf, UB)
        gap = relative_gap(UB, bound)
        if not LBs.size or gap <= gap_tol:
            break
        if dl.expired:
            stopped = "time_limit"
            break
        if LBs.size > max_open:
            stopped = "iteration_limit"
            break
        k = min(batch, LBs.size)
        sel = np.argpartition(LBs, k - 1)[:k] if k < LBs.size else np.arange(LBs.size)
        rest = np.ones(LBs.size, bool)
        rest[sel] = False
        a, b, li = A[sel], B[sel], Li[sel]
        # branching coordinate: the largest gap contribution J(a + e_n (b_n - a_n)) - J(a)
        width = b - a
        E = a[:, None, :] + np.eye(N)[None] * width[:, None, :]
        Je = expected_delay(inst, E.reshape(-1, N), np.repeat(Ls[li], N, axis=0)).reshape(k, N)
        lb_sel = LBs[sel]
        contrib = np.where(width > 0, np.nan_to_num(Je - lb_sel[:, None], nan=np.inf), -np.inf)
        j = np.argmax(contrib, axis=1)
        mid = a[np.arange(k), j] + 0.5 * width[np.arange(k), j]
        b_lo, a_hi = b.copy(), a.copy()
        b_lo[np.arange(k), j] = mid
        a_hi[np.arange(k), j] = mid
        ca, cb, cl = np.vstack([a, a_hi]), np.vstack([b_lo, b]), np.concatenate([li, li])
        ca, cb, cf = _reduce(ca, cb, W[cl], r)
        ca, cb, cl = ca[cf], cb[cf], cl[cf]
        Pc = _face_point(ca, cb, W[cl], r)
        Jc = expected_delay(inst, np.vstack([ca, Pc]), np.vstack([Ls[cl], Ls[cl]]))
        lb_c, ub_c = Jc[:len(cl)], Jc[len(cl):]
        offer(Pc, Ls[cl], ub_c)
        lb_c = np.where(np.isfinite(lb_c), np.maximum(lb_c, lb_sel[np.tile(np.arange(k), 2)][cf]), np.inf)
        A, B = np.vstack([A[rest], ca]), np.vstack([B[rest], cb])
        Li, LBs = np.concatenate([Li[rest], cl]), np.concatenate([LBs[rest], lb_c])
        nodes += len(cl)
        evals += k * N + 2 * len(cl)
        it += 1
        if time.perf_counter() - last_log > 1.0:
            last_log = time.perf_counter()
            log.info("sft exact: %d boxes, %d open, incumbent %.9g s, bound %.9g s, gap %.3g, %.1f s",
                     nodes, LBs.size, UB, bound, gap, dl.elapsed)
    # local polish of the incumbent's keep ratios (never worse; keeps the bound)
    if r > 0 and best_th is not None and stopped is None and not dl.expired:
        th2 = theta_local(inst, best_l, best_th)
        offer(th2[None], best_l[None], expected_delay(inst, th2, best_l))
    bound = min(bound, UB)
    log.info("sft exact: done, %d boxes, incumbent %.9g s, bound %.9g s, gap %.3g, %s",
             nodes, UB, bound, relative_gap(UB, bound), stopped or "proven")
    plan = make_plan(inst, "exact", best_th, best_l, seconds=time.perf_counter() - t0,
                     extra_metrics={"boxes": float(nodes), "allocations": float(len(Ls)),
                                    "evaluations": float(evals), "bound_s": bound})
    obj = plan.objective
    gap = relative_gap(obj, bound)
    proven = stopped is None and math.isfinite(obj) and gap <= max(gap_tol, 1e-12)
    status = "optimal" if proven else "feasible" if math.isfinite(obj) else "error"
    plan.solve = SolveResult(status=status, objective=obj, bound=bound, gap=gap, seconds=plan.seconds,
                             solver="bnb", termination="optimal" if proven else (stopped or "numerical_error"),
                             has_primal=math.isfinite(obj), gap_limit=gap_tol,
                             message=f"spatial branch-and-bound over theta per allocation: {nodes} boxes, "
                                     f"{len(Ls)} allocations" + (f"; stopped by {stopped}" if stopped else ""))
    return plan


def _no_solution(inst: SFTInstance, t0: float, why: str) -> Plan:
    plan = Plan(problem="sft", method="exact", objective=math.nan, decision={}, seconds=time.perf_counter() - t0)
    plan.solve = SolveResult(status="error", termination="numerical_error", has_primal=False, solver="bnb",
                             message=why)
    return plan


@method
def vertex_enumeration(inst: SFTInstance, *, solver: str | None = None, time_limit: float | None = None,
                       mip_gap: float | None = None, max_pairs: int = 2_000_000, top: int = 3) -> Plan:
    """Fast method: enumerate every block allocation l and every vertex of the theta face
    (Claim 11) in one vectorised pass, then polish theta locally (SLSQP) for the ``top`` best
    allocations.

    Exact only where Claim 11's conditions hold for every allocation (:func:`claim11_conditions`:
    the accuracy requirement met at theta_lb, or fixed-SNR rates with equal device compute times,
    which make J concave in theta); the plan then has status ``optimal``, otherwise ``heuristic``
    (the optimum can lie off the vertices: use :func:`exact`)."""
    t0 = time.perf_counter()
    Ls = block_allocations(inst)
    if inst.p("accuracy") == "depth":
        pairs = [(ll, th) for ll in Ls for th in theta_vertices(inst, ll)]
        Lc = np.array([p[0] for p in pairs])
        Tc = np.array([p[1] for p in pairs])
    else:
        V = theta_vertices(inst, Ls[0])
        Lc = np.repeat(Ls, len(V), axis=0)
        Tc = np.tile(V, (len(Ls), 1))
    if len(Lc) > max_pairs:
        raise ValidationError(f"exact enumeration needs {len(Lc)} (l, theta-vertex) pairs (> max_pairs = "
                              f"{max_pairs}); use fewer devices or --method paper", "n_devices")
    J = expected_delay(inst, Tc, Lc)
    order = np.argsort(J)
    best_th, best_l, best_J = Tc[order[0]], Lc[order[0]], float(J[order[0]])
    seen = set()
    for i in order[: 4 * top]:
        key = tuple(Lc[i])
        if key in seen:
            continue
        seen.add(key)
        if len(seen) > top:
            break
        if inst.theta_req > 0:
            th2 = theta_local(inst, Lc[i], Tc[i])
            J2 = float(expected_delay(inst, th2, Lc[i])[0])
            if J2 < best_J:
                best_th, best_l, best_J = th2, Lc[i], J2
    holds = all(claim11_conditions(inst, ll)[0] for ll in Ls)
    plan = make_plan(inst, "vertices", best_th, best_l, seconds=time.perf_counter() - t0,
                     extra_metrics={"enumerated_pairs": float(len(Lc)), "claim11_holds": float(holds)})
    plan.proven_optimal = bool(holds and np.isfinite(plan.objective))
    return plan


@method
def exact_minlp(inst: SFTInstance, *, solver: str | None = "scip", time_limit: float | None = None,
                mip_gap: float | None = None, extra_constraints: Any = None) -> Plan:
    """Global MINLP of :func:`build_minlp` (SCIP), decoded by :func:`~slopt.models.sft.methods.plan_from_minlp`
    and re-evaluated with :func:`evaluate`.

    The paper's ALM incumbent gives the cutoff bounds of :func:`build_minlp` (valid for every
    solution at least as good, so the bound SCIP proves is min(its bound, the ALM value)). Without
    ``time_limit`` a limit of 120 s applies (reconstructed default: with the log-rate of Eq. 5 SCIP
    rarely closes the gap beyond N = 2). On a limit without an incumbent of its own the ALM point
    comes back as ``feasible`` with SCIP's bound; with ``extra_constraints`` (no cutoff: the ALM
    point need not satisfy them) the plan is ``no_solution`` with the bound, never an exception.
    """
    from .methods import plan_from_minlp

    time_limit = 120.0 if time_limit is None else time_limit
    t0 = time.perf_counter()
    dl = Deadline(time_limit)
    ref = None if extra_constraints is not None else alm(inst)
    ub = None if ref is None else ref.J * (1 + 1e-6)
    m = build_minlp(inst, upper_bound_s=ub, extra_constraints=extra_constraints)
    res = solve(m, solver=solver or "scip", time_limit=dl.remaining(),
                mip_gap=mip_gap if mip_gap is not None else 1e-6)
    if res.ok:
        plan = plan_from_minlp(m, inst, res, method="minlp")
        plan.seconds = time.perf_counter() - t0
        return plan
    if res.status == "infeasible" and ref is None:
        raise InfeasibleError(f"MINLP of P0 is infeasible ({res.message})", "P0")
    if ref is None:
        return Plan(problem="sft", method="minlp", objective=math.nan, solve=res,
                    seconds=time.perf_counter() - t0)
    plan = make_plan(inst, "minlp", ref.theta, ref.l, seconds=time.perf_counter() - t0)
    bound = min(res.bound, ub) if math.isfinite(res.bound) else math.nan
    if res.status == "infeasible":          # nothing better than the cutoff: the ALM point is optimal to 1e-6
        bound = ref.J / (1 + 1e-6) ** 2
    plan.solve = SolveResult(status="feasible" if math.isfinite(plan.objective) else "error",
                             objective=plan.objective, bound=bound, gap=relative_gap(plan.objective, bound),
                             seconds=res.seconds, solver=res.solver, termination=res.termination,
                             has_primal=math.isfinite(plan.objective), gap_limit=res.gap_limit,
                             message=f"{res.solver} returned {res.status} ({res.message}); the paper's ALM point "
                                     "is the incumbent, the bound is the solver's")
    return plan
