"""CARD methods: the :class:`~slopt.Plan` wrappers of the paper's method, the exact method and the
baselines (each decorated with :func:`slopt.methods.method`, which checks ``solver``,
``time_limit`` and ``mip_gap`` and fills ``plan.seconds``), the public decoder :func:`to_plan` from a
decision to a Plan, the ``METHODS`` table, and the scheme comparison and weight sweep.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from slopt.methods import method
from slopt.plan import Plan
from slopt.solvers import SolveResult

from .algorithm import card_decide
from .baselines import adaptive_fmax_decision, fixed_dvfs_decision, random_decision, vanilla_sl_decision
from .exact import solve_exact
from .instance import GHZ, PROBLEM, CardInstance
from .system import evaluate


def to_plan(inst: CardInstance, method: str, cut: np.ndarray, f: np.ndarray, *, seconds: float = 0.0,
            result: SolveResult | None = None, extra: dict[str, Any] | None = None) -> Plan:
    """The Plan of a decision (cut (M, N), freq_hz (M, N)), re-evaluated with :func:`evaluate`."""
    ev = evaluate(inst, cut, f)
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


@method
def card(inst: CardInstance, *, solver: str | None = None, time_limit: float | None = None,
         mip_gap: float | None = None) -> Plan:
    """The paper's method (spec §5): CARD over every turn of the horizon, re-evaluated."""
    t0 = time.perf_counter()
    c, f, _ = card_decide(inst)
    secs = time.perf_counter() - t0
    return to_plan(inst, "paper", c, f, seconds=secs)


@method
def exact(inst: CardInstance, *, solver: str | None = None, time_limit: float | None = None,
          mip_gap: float | None = None) -> Plan:
    """Exact reference (spec §8 B5) with the formulation ``inst.exact_formulation``:

    * ``enumeration`` (default): (a) for every turn and cut in one DCP problem (Clarabel by
      default), then the exhaustive outer search over cuts (spec §4.3(a), exact);
    * ``misocp`` / ``minlp``: (b) / (c) solved per turn with SCIP (small horizons: about 1 s /
      0.3 s per turn at L = 32); ``time_limit`` and ``mip_gap`` apply to each per-turn solve.
    The plan's objective is re-evaluated with :func:`evaluate`; ``plan.solve`` carries the
    solver's own value of P0 (mean of the per-turn optima).
    """
    t0 = time.perf_counter()
    cut, freq, res, extra = solve_exact(inst, solver=solver, time_limit=time_limit, mip_gap=mip_gap)
    return to_plan(inst, "exact", cut, freq, seconds=time.perf_counter() - t0, result=res, extra=extra)


def _baseline(name: str, decide: Any, doc: str) -> Any:
    def run(inst: CardInstance, *, solver: str | None = None, time_limit: float | None = None,
            mip_gap: float | None = None) -> Plan:
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
