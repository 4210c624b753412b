"""CARD exact methods (spec §8 B5): the enumeration (a) solved by a conic solver with the exhaustive
outer search over cuts, or the MISOCP (b) / MINLP (c) solved per turn with SCIP (:func:`solve_turn`).
:func:`solve_exact` returns the decision and the solver's summary; the :class:`~slopt.Plan`
wrapper ``exact`` is in :mod:`.methods`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from slopt.errors import SloptError, ValidationError
from slopt.solvers import SolveResult, solve

from .algorithm import _delay_limit_error, card_decide
from .formulations import build_enumeration, build_minlp, build_misocp
from .instance import GHZ, CardInstance
from .system import _cut_tables, freq_independent_delay_s


#: SCIP tolerances for the 1e-6 relative cross-checks (SCIP's defaults, feastol 1e-6 and a 1e-4
#: relative gap, give relative differences up to about 1e-4; spec §6 claim 3).
SCIP_TIGHT = {"limits/gap": 1e-9, "numerics/feastol": 1e-9}


def solve_turn(inst: CardInstance, m: int, n: int, formulation: str = "misocp", *,
               solver: str | None = None, time_limit: float | None = None,
               mip_gap: float | None = None) -> tuple[int, float, SolveResult]:
    """Solve P1(m, n) with formulation (b) ``misocp`` or (c) ``minlp``; returns (c, f_hz, result).

    Raises InfeasibleError when the solver proves the turn infeasible (C3).
    """
    import pyomo.environ as pyo

    solver = solver or "scip"
    opts = dict(SCIP_TIGHT) if solver == "scip" else {}
    if mip_gap is not None:
        opts.pop("limits/gap", None)
    if formulation == "misocp":
        prob, handles = build_misocp(inst, [(m, n)])
        with np.errstate(invalid="ignore", divide="ignore"):   # cvxpy evaluates x^2/f at x = f = 0
            res = solve(prob, solver=solver, time_limit=time_limit, mip_gap=mip_gap,
                        options={"scip_params": opts} if opts else None)
        if res.status not in ("optimal", "feasible"):
            _raise_status(inst, m, n, res)
        x, fc, cuts = handles[(m, n)]
        k = int(np.argmax(x.value))
        return int(cuts[k]), float(fc.value[k]) * GHZ, res
    if formulation == "minlp":
        mdl = build_minlp(inst, [(m, n)])
        res = solve(mdl, solver=solver, time_limit=time_limit, mip_gap=mip_gap, options=opts)
        if res.status not in ("optimal", "feasible"):
            _raise_status(inst, m, n, res)
        c = max((c for (_, _, c) in mdl.TC), key=lambda c: pyo.value(mdl.x[m, n, c]))
        return int(c), float(pyo.value(mdl.f[m, n])) * GHZ, res
    raise ValidationError(f"formulation = {formulation!r}; use 'misocp' or 'minlp'", "exact_formulation")


def _raise_status(inst: CardInstance, m: int, n: int, res: SolveResult) -> None:
    if res.status == "infeasible" and inst.t_max_s is not None:
        raise _delay_limit_error(inst, m, n)
    raise SloptError(f"solver {res.solver} returned {res.status} on device turn (round {m}, device {n}): "
                     f"{res.message}")


def solve_exact(inst: CardInstance, *, solver: str | None = None, time_limit: float | None = None,
                mip_gap: float | None = None) -> tuple[np.ndarray, np.ndarray, SolveResult, dict[str, Any]]:
    """Exact reference (spec §8 B5) with the formulation ``inst.exact_formulation``:

    * ``enumeration`` (default): (a) for every turn and cut in one DCP problem (Clarabel by
      default), then the exhaustive outer search over cuts (spec §4.3(a), exact);
    * ``misocp`` / ``minlp``: (b) / (c) solved per turn with SCIP (small horizons: about 1 s /
      0.3 s per turn at L = 32); ``time_limit`` and ``mip_gap`` apply to each per-turn solve.
    Returns (cut (M, N), freq_hz (M, N), the solver's summary with its own value of P0 (mean of
    the per-turn optima), extra decision entries); ``exact`` re-evaluates it into a Plan.
    """
    if inst.exact_formulation == "enumeration":
        prob, f, keep, inv = build_enumeration(inst)
        res = solve(prob, solver=solver or "clarabel", time_limit=time_limit, mip_gap=mip_gap)
        if res.status not in ("optimal", "feasible"):
            if inst.t_max_s is not None:
                card_decide(inst)   # raises the C3 error naming the turn
            raise SloptError(f"enumeration problem: solver {res.solver} returned {res.status} ({res.message})")
        F = np.full(keep.shape, np.nan)
        F[keep] = np.clip(np.asarray(f.value).reshape(-1)[inv] * GHZ, inst.f_min, inst.f_max)
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
        if bad.any():      # no cut meets T_max in some turn (C3)
            t = int(np.flatnonzero(bad)[0])
            raise _delay_limit_error(inst, t // inst.N, t % inst.N)
        k = np.argmin(J, axis=1)
        cut = tab["cuts"][k].reshape(inst.M, inst.N)
        freq = F[np.arange(k.shape[0]), k].reshape(inst.M, inst.N)
        # the solver's own value of P0: per turn, the best of its per-cut optima (outer search)
        Js = np.full(keep.shape, np.inf)
        Js[keep] = np.asarray(prob.card_terms.value).reshape(-1)[inv] + inst.omega_T * (
            A[keep] - prob.card_A[inv])       # the pair's own A (zero shift without dedupe)
        P0 = float(Js.min(axis=1).mean())
        res = SolveResult(res.status, objective=P0, bound=P0 if res.status == "optimal" else math.nan, gap=res.gap,
                          seconds=res.seconds, solver=res.solver,
                          message=f"{res.message}; enumeration of {int(keep.sum())} (turn, cut) inner problems")
        return cut, freq, res, {"formulation": "enumeration"}
    cut = np.empty((inst.M, inst.N), dtype=np.int64)
    freq = np.empty((inst.M, inst.N))
    results = []
    for m in range(inst.M):
        for n in range(inst.N):
            cut[m, n], freq[m, n], r = solve_turn(inst, m, n, inst.exact_formulation, solver=solver,
                                                  time_limit=time_limit, mip_gap=mip_gap)
            results.append(r)
    worst = max(results, key=lambda r: (r.status != "optimal", r.gap if math.isfinite(r.gap) else 0.0))
    summary = SolveResult(worst.status, objective=float(np.mean([r.objective for r in results])),
                          bound=float(np.mean([r.bound for r in results])), gap=worst.gap,
                          seconds=sum(r.seconds for r in results), solver=worst.solver,
                          message=f"{len(results)} per-turn {inst.exact_formulation} solves; worst: {worst.message}")
    freq = np.clip(freq, inst.f_min, inst.f_max)
    return cut, freq, summary, {"formulation": inst.exact_formulation}
