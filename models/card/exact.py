"""CARD exact methods (spec §8 B5): the enumeration (a) solved by a conic solver with the exhaustive
outer search over cuts, or the MISOCP (b) / MINLP (c) solved per turn with SCIP (:func:`solve_turn`).
:func:`solve_exact` returns the decision and a certified summary; the :class:`~slopt.Plan`
wrapper ``exact`` is in :mod:`.methods`. :func:`read_minlp` / :func:`read_misocp` read the
decision of a solved model (c) / (b).

Certificates (nothing is called optimal on a solver's word alone):

* enumeration: every inner problem P2(c) is convex in f, so its linearisation at the solver's
  point, minimised over the feasible interval of f, is a valid lower bound (:func:`inner_bounds`);
  the bound of P0 is the mean over turns of the smallest per-cut bound. The result is
  ``optimal`` only when the solver says so and the certified relative gap is at most
  :data:`CERTIFIED_GAP`; otherwise ``feasible`` with that bound and gap.
* per turn (b)/(c): SCIP runs at ``mip_gap = 0`` (unless one is given) and its own bound is
  kept; a turn without a solver bound gets the trivial bound omega_T min_c A(c) (T >= A(c)).
* a time limit (one budget for all solves, :class:`slopt.methods.Deadline`) or a stop request
  without a complete decision gives status ``no_solution`` with the bound it has; it never raises.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from slopt.errors import SloptError, ValidationError
from slopt.methods import Deadline
from slopt.progress import get_logger, report
from slopt.solvers import SolveResult, relative_gap, solve

from .algorithm import _delay_limit_error, card_decide
from .formulations import ExtraConstraints, build_enumeration, build_minlp, build_misocp
from .instance import GHZ, CardInstance
from .system import _cut_tables, freq_independent_delay_s


#: SCIP tolerances for the 1e-6 relative cross-checks (SCIP's defaults, feastol 1e-6 and a 1e-4
#: relative gap, give relative differences up to about 1e-4; spec §6 claim 3).
SCIP_TIGHT = {"limits/gap": 1e-9, "numerics/feastol": 1e-9}

#: largest certified relative gap (objective - bound) / |objective| reported as ``optimal``
#: by the enumeration (Clarabel's default tolerances give about 1e-9 on the §7 instances).
CERTIFIED_GAP = 1e-6

LOG = get_logger("slopt.models.card")


def read_misocp(handles: dict[tuple[int, int], tuple[Any, Any, np.ndarray]]) -> dict[tuple[int, int], tuple[int, float]]:
    """The decision of a solved :func:`~.formulations.build_misocp` problem: {(m, n): (c, f_hz)}."""
    out = {}
    for t, (x, fc, cuts) in handles.items():
        if x.value is None or fc.value is None:
            raise SloptError(f"the MISOCP has no solution values for turn {t}; solve it first")
        k = int(np.argmax(x.value))
        out[t] = (int(cuts[k]), float(fc.value[k]) * GHZ)
    return out


def read_minlp(model: Any) -> dict[tuple[int, int], tuple[int, float]]:
    """The decision of a solved :func:`~.formulations.build_minlp` model: {(m, n): (c, f_hz)}."""
    import pyomo.environ as pyo

    out = {}
    for (m, n) in model.T:
        cuts = [c for (mm, nn, c) in model.TC if (mm, nn) == (m, n)]
        xs = [pyo.value(model.x[m, n, c], exception=False) for c in cuts]
        f = pyo.value(model.f[m, n], exception=False)
        if f is None or any(v is None for v in xs):
            raise SloptError(f"the MINLP has no solution values for turn ({m}, {n}); solve it first")
        out[(int(m), int(n))] = (int(cuts[int(np.argmax(xs))]), float(f) * GHZ)
    return out


def solve_turn(inst: CardInstance, m: int, n: int, formulation: str = "misocp", *,
               solver: str | None = None, time_limit: float | None = None,
               mip_gap: float | None = None,
               extra_constraints: ExtraConstraints | None = None) -> tuple[int, float, SolveResult]:
    """Solve P1(m, n) with formulation (b) ``misocp`` or (c) ``minlp``; returns (c, f_hz, result).

    ``mip_gap`` None means SCIP_TIGHT (gap 1e-9, feastol 1e-9). A solve that stops without a
    point (time limit) returns (-1, nan, result) with status ``no_solution``.
    Raises InfeasibleError when the solver proves the turn infeasible (C3).
    """
    solver = solver or "scip"
    opts = dict(SCIP_TIGHT) if solver == "scip" else {}
    if mip_gap is not None:
        opts.pop("limits/gap", None)
    if formulation == "misocp":
        prob, handles = build_misocp(inst, [(m, n)], extra_constraints=extra_constraints)
        with np.errstate(invalid="ignore", divide="ignore"):
            res = solve(prob, solver=solver, time_limit=time_limit, mip_gap=mip_gap,
                        options={"scip_params": opts} if opts else None)
        read = lambda: read_misocp(handles)  # noqa: E731
    elif formulation == "minlp":
        mdl = build_minlp(inst, [(m, n)], extra_constraints=extra_constraints)
        res = solve(mdl, solver=solver, time_limit=time_limit, mip_gap=mip_gap, options=opts)
        read = lambda: read_minlp(mdl)  # noqa: E731
    else:
        raise ValidationError(f"formulation = {formulation!r}; use 'misocp' or 'minlp'", "exact_formulation")
    if res.status == "no_solution":
        return -1, math.nan, res
    if res.status not in ("optimal", "feasible"):
        _raise_status(inst, m, n, res)
    c, f = read()[(m, n)]
    return c, f, res


def _raise_status(inst: CardInstance, m: int, n: int, res: SolveResult) -> None:
    if res.status == "infeasible" and inst.t_max_s is not None:
        raise _delay_limit_error(inst, m, n)
    raise SloptError(f"solver {res.solver} returned {res.status} on device turn (round {m}, device {n}): "
                     f"{res.message}")


def inner_bounds(inst: CardInstance, F: np.ndarray, keep: np.ndarray,
                 rel_steps: tuple[float, ...] = (0.0, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2)) -> np.ndarray:
    """Certified lower bounds of every inner problem P2(c) (shape (M N, K); inf outside ``keep``).

    J(c, .) is convex on f > 0 (claim 2; the Tchebycheff objective is a max of two convex
    functions), so every tangent line J(p) + s(p) (f - p) (s a subgradient) lies below it. The
    bound is the minimum over the feasible interval [max(f_min, f_lb(c)), f_max] (f_lb from C3)
    of the upper envelope of the tangents at p = F (1 +- r), r in ``rel_steps``, clipped into
    the interval: a piecewise-linear function whose minimum is at an end or at a crossing of two
    tangents. With tangents on both sides of the optimum it is tight to about J'' (r F)^2. F is
    the solver's point (Hz), clipped to [f_min, f_max]; NaN entries (no point) use f_max.
    """
    tab = _cut_tables(inst)
    A = freq_independent_delay_s(inst, tab).reshape(keep.shape)[keep]
    G = np.broadcast_to(tab["Gamma"][None, :], keep.shape)[keep]
    wT, wE, kap = inst.omega_T, inst.omega_E, inst.kappa
    lo = np.full(A.shape, inst.f_min)
    if inst.t_max_s is not None:
        slack = inst.t_max_s - A
        with np.errstate(divide="ignore", invalid="ignore"):
            f_lb = np.where(slack > 0, G / np.where(slack > 0, slack, 1.0), np.inf)
        lo = np.maximum(lo, np.minimum(f_lb, inst.f_max))
    hi = np.full(A.shape, inst.f_max)
    F0 = F[keep]
    F0 = np.where(np.isfinite(F0), np.clip(F0, inst.f_min, inst.f_max), inst.f_max)
    r = np.unique(np.concatenate([np.asarray(rel_steps), -np.asarray(rel_steps)]))
    P = np.clip(F0[:, None] * (1.0 + r[None, :]), lo[:, None], hi[:, None])      # tangent points
    t1 = wT * (A[:, None] + G[:, None] / P)
    t2 = wE * kap * G[:, None] * P ** 2
    d1 = -wT * G[:, None] / P ** 2
    d2 = 2.0 * wE * kap * G[:, None] * P
    if inst.scalarisation == "weighted":
        g, sl = t1 + t2, d1 + d2
    else:
        g, sl = np.maximum(t1, t2), np.where(t1 >= t2, d1, d2)
    b = g - sl * P                                  # tangent lines sl x + b
    i, j = np.triu_indices(P.shape[1], 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = (b[:, j] - b[:, i]) / (sl[:, i] - sl[:, j])
    x = np.where(np.isfinite(x), x, lo[:, None])
    cand = np.clip(np.concatenate([lo[:, None], hi[:, None], x], axis=1), lo[:, None], hi[:, None])
    env = np.max(sl[:, None, :] * cand[:, :, None] + b[:, None, :], axis=2)       # envelope at candidates
    out = np.full(keep.shape, np.inf)
    out[keep] = env.min(axis=1)
    return out


def _trivial_turn_bound(inst: CardInstance, m: int, n: int) -> float:
    """omega_T min_{c in C_n} A_{m,n}(c): a valid lower bound of P1(m, n) (both objectives)."""
    tab = _cut_tables(inst)
    A = freq_independent_delay_s(inst, tab, slice(m, m + 1))[0, n]
    return float(inst.omega_T * np.min(np.where(tab["infeasible"][n], np.inf, A)))


def _no_solution(inst: CardInstance, bound: float, solver: str, seconds: float, message: str,
                 formulation: str) -> tuple[None, None, SolveResult, dict[str, Any]]:
    return None, None, SolveResult("no_solution", bound=bound, seconds=seconds, solver=solver,
                                   message=message), {"formulation": formulation}


def solve_exact(inst: CardInstance, *, solver: str | None = None, time_limit: float | None = None,
                mip_gap: float | None = None, extra_constraints: ExtraConstraints | None = None
                ) -> tuple[np.ndarray | None, np.ndarray | None, SolveResult, dict[str, Any]]:
    """Exact reference (spec §8 B5) with the formulation ``inst.exact_formulation``:

    * ``enumeration`` (default): (a) for every turn and cut in one DCP problem (Clarabel by
      default), then the exhaustive outer search over cuts (spec §4.3(a), exact), certified by
      :func:`inner_bounds`;
    * ``misocp`` / ``minlp``: (b) / (c) solved per turn with SCIP at ``mip_gap = 0`` (tight
      tolerances, :data:`SCIP_TIGHT`) unless ``mip_gap`` is given (small horizons: about 1 s /
      0.3 s per turn at L = 32).

    ``time_limit`` (s) is one budget for every solve. ``extra_constraints(model, inst)`` is
    applied to every model built (see :mod:`.formulations`). Returns (cut (M, N), freq_hz
    (M, N), the certified summary with the solver's own value of P0, extra decision entries);
    cut and freq are None when the status is ``no_solution``.
    """
    deadline = Deadline(time_limit)
    form = inst.exact_formulation
    if form == "enumeration":
        prob, f, keep, inv = build_enumeration(inst, extra_constraints=extra_constraints)
        res = solve(prob, solver=solver or "clarabel", time_limit=deadline.remaining(), mip_gap=mip_gap)
        has_point = res.status in ("optimal", "feasible") and f.value is not None
        F = np.full(keep.shape, np.nan)
        if has_point:
            F[keep] = np.clip(np.asarray(f.value).reshape(-1)[inv] * GHZ, inst.f_min, inst.f_max)
        LB = inner_bounds(inst, F, keep)
        if not np.isfinite(LB).any(axis=1).all() and inst.t_max_s is not None:
            t = int(np.flatnonzero(~np.isfinite(LB).any(axis=1))[0])
            raise _delay_limit_error(inst, t // inst.N, t % inst.N)   # no cut meets T_max (C3)
        bound = float(LB.min(axis=1).mean())
        if not has_point:
            if res.status == "infeasible" and inst.t_max_s is not None:
                card_decide(inst)   # raises the C3 error naming the turn
            if res.status in ("no_solution",) or deadline.expired:
                return _no_solution(inst, bound, res.solver, res.seconds,
                                    f"enumeration: {res.solver} stopped without a point ({res.message})",
                                    "enumeration")
            raise SloptError(f"enumeration problem: solver {res.solver} returned {res.status} ({res.message}); "
                             "the inner problems are convex cones: use clarabel, scs or scip")
        tab = _cut_tables(inst)
        A = freq_independent_delay_s(inst, tab).reshape(keep.shape)
        G = tab["Gamma"][None, :]
        with np.errstate(invalid="ignore"):
            T = A + G / F
            E = inst.kappa * G * F ** 2
            J = inst.omega_T * T + inst.omega_E * E if inst.scalarisation == "weighted" \
                else np.maximum(inst.omega_T * T, inst.omega_E * E)
        J = np.where(keep, J, np.inf)
        if inst.t_max_s is not None:
            J = np.where(T <= inst.t_max_s * (1 + 1e-9), J, np.inf)
        bad = ~np.isfinite(J).any(axis=1)
        if bad.any():      # no cut meets T_max in some turn at the solver's point (C3)
            t = int(np.flatnonzero(bad)[0])
            if res.status == "optimal":
                raise _delay_limit_error(inst, t // inst.N, t % inst.N)
            return _no_solution(inst, bound, res.solver, res.seconds,
                                f"enumeration: {res.solver} stopped ({res.message}) at a point that misses "
                                f"T_max in turn {t}", "enumeration")
        k = np.argmin(J, axis=1)
        cut = tab["cuts"][k].reshape(inst.M, inst.N)
        freq = F[np.arange(k.shape[0]), k].reshape(inst.M, inst.N)
        # the solver's own value of P0: per turn, the best of its per-cut optima (outer search)
        Js = np.full(keep.shape, np.inf)
        Js[keep] = np.asarray(prob.card_terms.value).reshape(-1)[inv] + inst.omega_T * (
            A[keep] - prob.card_A[inv])       # the pair's own A (zero shift without dedupe)
        P0 = float(Js.min(axis=1).mean())
        ours = float(J.min(axis=1).mean())    # the point re-evaluated
        gap = relative_gap(ours, bound)
        certified = res.status == "optimal" and math.isfinite(gap) and gap <= CERTIFIED_GAP
        status = "optimal" if certified else "feasible"
        why = "" if certified or res.status != "optimal" else \
            f"; solver said optimal but the certified gap is {gap:.3g} > {CERTIFIED_GAP:g}"
        summary = SolveResult(status, objective=P0, bound=bound, gap=gap, seconds=res.seconds, solver=res.solver,
                              message=f"{res.message}; enumeration of {int(keep.sum())} (turn, cut) inner problems"
                                      f", certified gap {gap:.3g}{why}")
        report(LOG, 1, 1, incumbent=ours, bound=bound, what="enumeration solves")
        return cut, freq, summary, {"formulation": "enumeration"}
    if form not in ("misocp", "minlp"):
        raise ValidationError(f"formulation = {form!r}; use 'enumeration', 'misocp' or 'minlp'", "exact_formulation")
    turns = [(m, n) for m in range(inst.M) for n in range(inst.N)]
    cut = np.full((inst.M, inst.N), -1, dtype=np.int64)
    freq = np.full((inst.M, inst.N), np.nan)
    objs = np.full(len(turns), np.nan)
    bounds = np.array([_trivial_turn_bound(inst, m, n) for (m, n) in turns])
    results: list[SolveResult] = []
    gap_used = f"mip_gap {mip_gap:g}" if mip_gap is not None else \
        (f"SCIP limits/gap {SCIP_TIGHT['limits/gap']:g}" if (solver or "scip") == "scip" else "the solver's default gap")
    step = max(1, len(turns) // 20)
    for i, (m, n) in enumerate(turns):
        if deadline.expired:
            break
        c, fr, r = solve_turn(inst, m, n, form, solver=solver, time_limit=deadline.remaining(),
                              mip_gap=mip_gap, extra_constraints=extra_constraints)
        results.append(r)
        if math.isfinite(r.bound):
            bounds[i] = max(bounds[i], r.bound)
        if r.status in ("optimal", "feasible"):
            cut[m, n], freq[m, n], objs[i] = c, fr, r.objective
        if (i + 1) % step == 0 or i + 1 == len(turns):
            done = np.isfinite(objs)
            report(LOG, i + 1, len(turns), incumbent=float(objs[done].sum() / max(done.sum(), 1)),
                   bound=float(bounds[done].mean()) if done.any() else math.nan, what=f"per-turn {form} solves")
    secs = sum(r.seconds for r in results)
    name = results[-1].solver if results else (solver or "scip")
    bound = float(bounds.mean())
    if not np.isfinite(objs).all():
        missing = int((~np.isfinite(objs)).sum())
        return _no_solution(inst, bound, name, secs, f"{missing} of {len(turns)} per-turn {form} solves stopped "
                            "without a point (time limit or stop request)", form)
    worst = max(results, key=lambda r: (r.status != "optimal", r.gap if math.isfinite(r.gap) else 0.0))
    P0 = float(objs.mean())
    gap = relative_gap(P0, bound)
    proven = max(CERTIFIED_GAP, mip_gap or 0.0)
    status = "optimal" if all(r.status == "optimal" for r in results) and gap <= proven else "feasible"
    summary = SolveResult(status, objective=P0, bound=bound, gap=gap, seconds=secs, solver=worst.solver,
                          message=f"{len(results)} per-turn {form} solves at {gap_used}; worst: {worst.message}")
    freq = np.clip(freq, inst.f_min, inst.f_max)
    return cut, freq, summary, {"formulation": form}
