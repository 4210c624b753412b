"""Three-tier methods: each turns a decision into a :class:`~slopt.plan.Plan` re-evaluated by
``evaluate()``; the ``METHODS`` table the problem registers."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from slopt.methods import method
from slopt.plan import Plan
from slopt.solvers import SolveResult

from .algorithm import _algorithm_b
from .baselines import baseline_delay, baseline_memory
from .exact import _brute_force, _exact, _memory_first
from .formulations import ExtraConstraints, schedule_from_model
from .instance import PROBLEM, Instance
from .system import evaluate

def _plan(inst: Instance, method: str, l_u: int, l_e: int, rounds: list[np.ndarray], *,
          objective: str = "epoch_delay_s", solve_result: SolveResult | None = None, seconds: float = 0.0,
          extra: dict[str, Any] | None = None) -> Plan:
    sched = [a.tolist() for a in rounds]
    metrics, details = evaluate(inst, l_u, l_e, sched)
    metrics.update(extra or {})
    decision = {"l_u": int(l_u), "l_e": int(l_e), "schedule": sched,
                "schedule_names": [[[inst.user_names[i], inst.edge_names[j]] for i, j in r] for r in sched]}
    return Plan(PROBLEM, method, float(metrics[objective]), decision, metrics, details, solve_result, seconds)


@method
def algorithm_b(inst: Instance, *, solver: str | None = None, time_limit: float | None = None,
                mip_gap: float | None = None) -> Plan:
    """Algorithm B (spec §4.3): the paper-side heuristic for P1 (solver arguments unused)."""
    t0 = time.perf_counter()
    T, l_u, l_e, rounds = _algorithm_b(inst)
    return _plan(inst, "paper", l_u, l_e, rounds, seconds=time.perf_counter() - t0,
                 extra={"algorithm_epoch_delay_s": T})


@method
def exact(inst: Instance, *, solver: str | None = None, time_limit: float | None = None,
          mip_gap: float | None = None, extra_constraints: ExtraConstraints | None = None,
          solver_options: dict[str, Any] | None = None, tee: bool = False, strong: bool = True,
          options: dict[str, Any] | None = None) -> Plan:
    """Exact P1 (spec §4.4): every memory-feasible cut pair, fixed-cut MILP each.

    Cut pairs are visited in increasing order of :func:`lower_bound`; a pair whose bound is not
    below the incumbent (Algorithm B's plan first) cannot improve it and is skipped, so the
    result is the same as solving every MILP. Each MILP is the strong fixed-cut form
    (``strong=False``: the spec's linear form) at ``mip_gap`` (default 0) with the incumbent as
    cutoff. ``extra_constraints(model, inst)`` is applied to every cut pair's model. Progress
    (cut pairs done, incumbent, bound) goes to the ``slopt.models.three_tier`` logger. Under
    ``time_limit`` (s, shared by all MILPs) the incumbent comes back with the proven bound and
    gap; without an incumbent, a Plan with status ``no_solution`` and the bound.
    ``solver_options`` (``options``) go to every MILP unchanged; ``tee`` streams the solver logs.
    """
    t0 = time.perf_counter()
    r = _exact(inst, solver, time_limit, mip_gap, strong=strong, extra_constraints=extra_constraints,
               options={**(options or {}), **(solver_options or {})}, tee=bool(tee))
    sr = r.solve
    if r.best is None:
        return Plan(PROBLEM, "exact", math.nan, {}, {"bound_s": sr.bound}, {"cut_pairs": r.cut_pairs}, sr,
                    time.perf_counter() - t0)
    T, l_u, l_e, rounds = r.best
    plan = _plan(inst, "exact", l_u, l_e, rounds, solve_result=sr, seconds=time.perf_counter() - t0,
                 extra={"solver_objective_s": sr.objective, "bound_s": sr.bound})
    plan.details["cut_pairs"] = r.cut_pairs
    if abs(plan.objective - T) > 1e-9 * max(1.0, T):
        raise AssertionError(f"evaluate() gives {plan.objective} s, the method {T} s")
    return plan


def plan_from_model(inst: Instance, model: Any, result: SolveResult | None = None, method: str = "milp") -> Plan:
    """The :class:`Plan` of a solved fixed-cut model (:func:`build_fixed_cut`, with or without
    extra constraints): the cut pair the model was built for and the schedule read from
    x_{n,e}^t, re-evaluated by ``evaluate()`` (a schedule that breaks C2-C4 raises
    :class:`~slopt.errors.ValidationError`)."""
    l_u, l_e = model.cut_pair
    rounds = schedule_from_model(inst, model)
    extra = {} if result is None else {"solver_objective_s": result.objective}
    return _plan(inst, method, l_u, l_e, rounds, solve_result=result, extra=extra)


@method
def memory_first(inst: Instance, *, solver: str | None = None, time_limit: float | None = None,
                 mip_gap: float | None = None, extra_constraints: ExtraConstraints | None = None) -> Plan:
    """P2 (spec §4.1): minimise M_peak^srv (Eq. 10) subject to C1, C5-C7 and T_epoch <= T^max.

    Memory depends only on the cuts: cut pairs are visited in increasing server peak memory (ties
    by the delay lower bound); the first pair whose fastest schedule meets T^max wins. Its fastest
    schedule is Algorithm B's when that meets T^max, else the fixed-cut MILP decides (exact, at
    ``mip_gap``, default 0). ``extra_constraints(model, inst)`` goes to every MILP (Algorithm B's
    schedule is then not used). Under ``time_limit`` (s) without an accepted pair: status
    ``no_solution``.
    """
    t0 = time.perf_counter()
    out = _memory_first(inst, solver, time_limit, mip_gap, extra_constraints)
    if isinstance(out, SolveResult):
        return Plan(PROBLEM, "memory-first", math.nan, {}, {}, {}, out, time.perf_counter() - t0)
    l_u, l_e, rounds, summary = out
    return _plan(inst, "memory-first", l_u, l_e, rounds, objective="server_peak_bytes", solve_result=summary,
                 seconds=time.perf_counter() - t0)



@method
def brute_force(inst: Instance, *, solver: str | None = None, time_limit: float | None = None,
                mip_gap: float | None = None) -> Plan:
    """Exact P1 by brute force over every memory-feasible cut pair (tiny instances, §4.4)."""
    t0 = time.perf_counter()
    best = _brute_force(inst)
    sec = time.perf_counter() - t0
    sr = SolveResult("optimal", objective=best[0], bound=best[0], gap=0.0, seconds=sec, solver="brute-force",
                     message="every memory-feasible cut pair x every partition into rounds x every matching")
    return _plan(inst, "brute-force", best[1], best[2], best[3], solve_result=sr, seconds=sec)



def _baseline(scheme: str):
    @method
    def run(inst: Instance, *, solver: str | None = None, time_limit: float | None = None,
            mip_gap: float | None = None) -> Plan:
        t0 = time.perf_counter()
        mem, dl = baseline_memory(inst, scheme), baseline_delay(inst, scheme)
        cap = float(np.min(inst.edge_memory_bytes)) if scheme == "edge-sfl" else inst.cloud_memory_bytes
        feasible = (mem["server_bytes"] <= cap and mem["user_bytes"] <= float(np.min(inst.user_memory_bytes)))
        metrics = {**dl, **mem, "server_peak_bytes": mem["server_bytes"], "user_peak_bytes": mem["user_bytes"],
                   "memory_feasible": bool(feasible)}
        decision = {"scheme": scheme, "l_c": None if scheme == "fed-lora" else inst.baseline_cut}
        return Plan(PROBLEM, scheme, dl["epoch_delay_s"], decision, metrics, {}, None, time.perf_counter() - t0)
    run.__name__ = f"baseline_{scheme.replace('-', '_')}"
    run.__doc__ = f"§7 baseline {scheme!r}: its epoch delay (objective) and memory in the same models."
    return run


baseline_sl = _baseline("sl")
baseline_splitfed = _baseline("splitfed")
baseline_shared_server = _baseline("shared-server")
baseline_fed_lora = _baseline("fed-lora")
baseline_edge_sfl = _baseline("edge-sfl")


METHODS = {"paper": algorithm_b, "exact": exact, "memory-first": memory_first, "brute-force": brute_force,
           "sl": baseline_sl, "splitfed": baseline_splitfed, "shared-server": baseline_shared_server,
           "fed-lora": baseline_fed_lora, "edge-sfl": baseline_edge_sfl}
