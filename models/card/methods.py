"""CARD methods: the :class:`~slopt.Plan` wrappers of the paper's method, the exact method and the
baselines (each decorated with :func:`slopt.methods.method`, which checks ``solver``,
``time_limit`` and ``mip_gap`` and fills ``plan.seconds``; a solver name is also checked where the
method calls no solver), the public decoders (:func:`to_plan` from a decision, :func:`plan_from_minlp`
and :func:`plan_from_misocp` from a solved model of every turn), the ``METHODS`` table, and the
scheme comparison and weight sweep.

A plan whose objective is not finite is never returned: :func:`to_plan` raises a
:class:`~slopt.errors.ValidationError` naming the term (and the input) that made it infinite.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pandas as pd

from slopt.errors import ValidationError
from slopt.methods import method
from slopt.plan import Plan
from slopt.solvers import BACKENDS, SolveResult

from .algorithm import card_decide
from .baselines import (adaptive_fmax_decision, fixed_dvfs_decision, random_decision, tuned_vanilla_sl_decision,
                        vanilla_sl_decision)
from .exact import read_minlp, read_misocp, solve_exact
from .formulations import ExtraConstraints
from .instance import GHZ, PROBLEM, CardInstance
from .system import evaluate


def to_plan(inst: CardInstance, method: str, cut: np.ndarray, f: np.ndarray, *, seconds: float = 0.0,
            result: SolveResult | None = None, extra: dict[str, Any] | None = None) -> Plan:
    """The Plan of a decision (cut (M, N), freq_hz (M, N)), re-evaluated with :func:`evaluate`."""
    ev = evaluate(inst, cut, f)
    if not math.isfinite(ev.objective):
        _raise_non_finite(inst, ev)
    decision: dict[str, Any] = {"cut": ev.cut, "freq_hz": ev.freq_hz}
    fu = np.unique(ev.freq_hz)
    if fu.size == 1 and method in ("paper", "exact"):   # the same f* in every turn (claim 5)
        decision["f_star_hz"] = float(fu[0])
    decision.update(extra or {})
    metrics = ev.metrics() | {"objective": ev.objective}
    return Plan(problem=PROBLEM, method=method, objective=ev.objective, decision=decision,
                metrics=metrics, details={"turns": ev.frame()}, solve=result, seconds=seconds,
                proven_optimal=method == "paper")  # CARD: exhaustive cut search x closed-form f (claims 1-2)


_plan = to_plan

_TERMS = (("device_delay_s", "device compute_flops (Eq. R-2)"),
          ("comm_delay_s", "device tx_power_w / AP tx_power_w / channel gains / bandwidth (Eq. R-5, R-6)"),
          ("server_delay_s", "server_flop_per_cycle / f_min_hz (Eq. R-4)"),
          ("server_energy_j", "kappa / f_max_hz (Eq. R-9)"))


def _raise_non_finite(inst: CardInstance, ev: Any) -> None:
    """A non-finite objective is never a result: name the first non-finite term and its inputs."""
    for attr, fields in _TERMS:
        arr = getattr(ev, attr)
        bad = ~np.isfinite(arr)
        if bad.any():
            m, n = map(int, np.argwhere(bad)[0])
            raise ValidationError(f"the {attr} of turn (round {m}, device {n} {inst.device_names[n]!r}) is "
                                  f"{arr[m, n]!r}: the objective is not finite; check {fields}", attr)
    raise ValidationError(f"the objective is {ev.objective!r}, not finite; check omega_T / omega_E", "omega_T")


def _check_solver_name(solver: str | None) -> None:
    """A method that calls no solver still rejects a solver name that no backend knows."""
    if solver is None:
        return
    from slopt.solvers import backends

    name = getattr(backends, "_ALIASES", {}).get(solver.lower(), solver.lower())
    if name not in BACKENDS:
        raise ValidationError(f"solver = {solver!r} is not a solver backend; known: {', '.join(BACKENDS)} "
                              "(see `slopt solvers`)", "solver")


def plan_from_minlp(model: Any, inst: CardInstance, result: SolveResult | None = None,
                    method: str = "minlp") -> Plan:
    """Decode a solved :func:`~.formulations.build_minlp` model of every turn into a Plan."""
    return _plan_from_turns(read_minlp(model), inst, result, method)


def plan_from_misocp(handles: dict, inst: CardInstance, result: SolveResult | None = None,
                     method: str = "misocp") -> Plan:
    """Decode a solved :func:`~.formulations.build_misocp` problem of every turn (its ``handles``) into a Plan."""
    return _plan_from_turns(read_misocp(handles), inst, result, method)


def _plan_from_turns(dec: dict, inst: CardInstance, result: SolveResult | None, method: str) -> Plan:
    missing = [(m, n) for m in range(inst.M) for n in range(inst.N) if (m, n) not in dec]
    if missing:
        raise ValidationError(f"the model covers {len(dec)} of {inst.M * inst.N} turns (missing e.g. "
                              f"{missing[0]}); build it with turns = every (m, n)", "turns")
    cut = np.array([[dec[(m, n)][0] for n in range(inst.N)] for m in range(inst.M)], dtype=np.int64)
    freq = np.clip(np.array([[dec[(m, n)][1] for n in range(inst.N)] for m in range(inst.M)]),
                   inst.f_min, inst.f_max)
    return to_plan(inst, method, cut, freq, result=result)


@method
def card(inst: CardInstance, *, solver: str | None = None, time_limit: float | None = None,
         mip_gap: float | None = None) -> Plan:
    """The paper's method (spec §5): CARD over every turn of the horizon, re-evaluated."""
    _check_solver_name(solver)
    t0 = time.perf_counter()
    c, f, _ = card_decide(inst)
    secs = time.perf_counter() - t0
    return to_plan(inst, "paper", c, f, seconds=secs)


@method
def exact(inst: CardInstance, *, solver: str | None = None, time_limit: float | None = None,
          mip_gap: float | None = None, extra_constraints: ExtraConstraints | None = None) -> Plan:
    """Exact reference (spec §8 B5) with the formulation ``inst.exact_formulation``:

    * ``enumeration`` (default): (a) for every turn and cut in one DCP problem (Clarabel by
      default), then the exhaustive outer search over cuts (spec §4.3(a), exact);
    * ``misocp`` / ``minlp``: (b) / (c) solved per turn with SCIP (small horizons: about 1 s /
      0.3 s per turn at L = 32); ``time_limit`` and ``mip_gap`` apply to each per-turn solve.
    ``time_limit`` is one budget for all solves; ``extra_constraints(model, inst)`` is applied to
    every model built. The plan's objective is re-evaluated with :func:`evaluate`; ``plan.solve``
    carries the solver's own value of P0 (mean of the per-turn optima), the certified bound and
    gap (see :mod:`.exact`). Stopped without a complete decision: status ``no_solution``,
    objective NaN, the bound it has; it does not raise.
    """
    t0 = time.perf_counter()
    cut, freq, res, extra = solve_exact(inst, solver=solver, time_limit=time_limit, mip_gap=mip_gap,
                                        extra_constraints=extra_constraints)
    if cut is None:
        return Plan(problem=PROBLEM, method="exact", objective=math.nan, decision=dict(extra),
                    solve=res, seconds=time.perf_counter() - t0)
    return to_plan(inst, "exact", cut, freq, seconds=time.perf_counter() - t0, result=res, extra=extra)


def _baseline(name: str, decide: Any, doc: str) -> Any:
    def run(inst: CardInstance, *, solver: str | None = None, time_limit: float | None = None,
            mip_gap: float | None = None) -> Plan:
        _check_solver_name(solver)
        t0 = time.perf_counter()
        c, f = decide(inst)
        return to_plan(inst, name, c, f, seconds=time.perf_counter() - t0)

    run.__name__ = run.__qualname__ = name.replace("-", "_")
    run.__doc__ = doc
    return method(run)


vanilla_sl = _baseline("vanilla-sl", vanilla_sl_decision, vanilla_sl_decision.__doc__)
fixed_dvfs = _baseline("fixed-dvfs", fixed_dvfs_decision, fixed_dvfs_decision.__doc__)
adaptive_fmax = _baseline("adaptive-fmax", adaptive_fmax_decision, adaptive_fmax_decision.__doc__)
random_scheme = _baseline("random", random_decision, random_decision.__doc__)
random_scheme.__name__ = random_scheme.__qualname__ = "random_scheme"

@method
def tuned_vanilla_sl(inst: CardInstance, *, target: str = "objective", solver: str | None = None,
                     time_limit: float | None = None, mip_gap: float | None = None) -> Plan:
    """Vanilla SL at its best fixed cut and best frequency for ``target`` (see
    :func:`~.baselines.tuned_vanilla_sl_decision`): the best-tuned version of the paper's baseline."""
    _check_solver_name(solver)
    t0 = time.perf_counter()
    c, f = tuned_vanilla_sl_decision(inst, target)
    return to_plan(inst, "vanilla-sl-tuned", c, f, seconds=time.perf_counter() - t0, extra={"target": target})


#: the paper's headline figures (spec §9 [P]): reductions of mean training delay and server energy
PAPER_HEADLINE = {"delay_s": 0.708, "server_energy_j": 0.531}


def headline_table(inst: CardInstance) -> pd.DataFrame:
    """The paper-reproduction table: for each metric the paper's reduction, CARD's reduction
    1 - metric_CARD / metric_baseline against the paper's baseline (vanilla SL at the fixed cut,
    default L // 2, at f_max), against vanilla SL at its best fixed cut and frequency for CARD's
    own objective, against vanilla SL tuned for that metric alone, and (energy) against the
    adaptive cut at f_max. Columns hold fractions; ``*_cut`` / ``*_freq_ghz`` say where each
    tuned baseline ended up."""
    ours = card(inst)
    base = vanilla_sl(inst)
    tuned_J = tuned_vanilla_sl(inst, target="objective")
    adaptive = adaptive_fmax(inst)
    rows = []
    for metric, label in (("delay_s", "mean training delay per turn"), ("server_energy_j", "mean server energy per turn"),
                          ("objective", "objective J (P0)")):
        tuned_m = tuned_J if metric == "objective" else tuned_vanilla_sl(inst, target=metric)

        def red(p: Plan, metric: str = metric) -> float:
            return 1.0 - ours.metrics[metric] / p.metrics[metric]

        rows.append({
            "metric": label, "paper": PAPER_HEADLINE.get(metric, math.nan), "card": ours.metrics[metric],
            "vs_vanilla_sl": red(base), "vanilla_sl_cut": int(inst.fixed_cut),
            "vs_tuned_for_objective": red(tuned_J), "tuned_for_objective_cut": int(tuned_J.decision["cut"][0, 0]),
            "tuned_for_objective_freq_ghz": float(tuned_J.decision["freq_hz"][0, 0]) / GHZ,
            "vs_tuned_for_metric": red(tuned_m), "tuned_for_metric_cut": int(tuned_m.decision["cut"][0, 0]),
            "tuned_for_metric_freq_ghz": float(tuned_m.decision["freq_hz"][0, 0]) / GHZ,
            "vs_adaptive_fmax": red(adaptive)})
    return pd.DataFrame(rows)


METHODS = {"paper": card, "exact": exact, "vanilla-sl": vanilla_sl, "fixed-dvfs": fixed_dvfs,
           "adaptive-fmax": adaptive_fmax, "random": random_scheme}


def compare_schemes(inst: CardInstance, methods: tuple[str, ...] = ("paper", "vanilla-sl", "fixed-dvfs",
                                                                     "adaptive-fmax", "random")) -> pd.DataFrame:
    """Mean per-turn delay, server energy and objective of each scheme, and CARD's reductions
    1 - metric_CARD / metric_scheme (spec §8)."""
    plans = {m: METHODS[m](inst) for m in methods}
    ref = plans.get("paper") or card(inst)
    rows = []
    for m, p in plans.items():
        rows.append({"scheme": m, "delay_s": p.metrics["delay_s"], "server_energy_j": p.metrics["server_energy_j"],
                     "objective": p.objective, "mean_cut": p.metrics["mean_cut"],
                     "mean_freq_ghz": p.metrics["mean_freq_hz"] / GHZ,
                     "delay_reduction": 1 - ref.metrics["delay_s"] / p.metrics["delay_s"],
                     "energy_reduction": 1 - ref.metrics["server_energy_j"] / p.metrics["server_energy_j"]})
    return pd.DataFrame(rows)


def pareto_front(inst: CardInstance, omega_E: Any = None, omega_T: float = 1.0) -> pd.DataFrame:
    """CARD's mean delay and server energy as omega_E sweeps (omega_T fixed): the weighted-sum
    (weakly Pareto-optimal) front of spec §4.1. Default sweep: 25 values log-spaced in
    [1e-4, 1e-1] s/J (spec §7)."""
    ws = np.logspace(-4, -1, 25) if omega_E is None else np.asarray(omega_E, dtype=float)
    rows = []
    for w in ws:
        p = card(inst.replace(omega_T=omega_T, omega_E=float(w)))
        rows.append({"omega_T": omega_T, "omega_E": float(w), "f_star_hz": p.metrics["mean_freq_hz"],
                     "delay_s": p.metrics["delay_s"], "server_energy_j": p.metrics["server_energy_j"],
                     "mean_cut": p.metrics["mean_cut"], "objective": p.objective})
    return pd.DataFrame(rows)
