"""Methods of dag-split: the ``method_*`` wrappers that turn a decision into a :class:`Plan`
(:func:`make_plan` is the decoder from a device mask), the ``METHODS`` table, the dynamic-network
study of spec §7.2 and the ``slopt split`` CLI command."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from slopt.errors import SloptError, ValidationError
from slopt.methods import method
from slopt.plan import Plan
from slopt.profiles import ModelGraph
from slopt.solvers import SolveResult
from slopt.validate import check_int, check_positive

from .algorithm import algorithm_a, algorithm_b1, algorithm_b2
from .baselines import chain_split, device_only, greedy_split, minimal_device
from .exact import brute_force, decode_x, lp_relaxation, milp
from .formulations import ExtraConstraints
from .instance import DEFAULTS, DYNAMIC_RANGES, PROBLEM, SplitInstance, check_pins, load, make_instance
from .system import evaluate


def make_plan(inst: SplitInstance, x: np.ndarray, method: str, seconds: float = 0.0,
              solve_result: SolveResult | None = None, details_max_layers: int = 5000,
              check: bool = True, **extra_metrics: Any) -> Plan:
    """A :class:`Plan` whose objective is T(D) recomputed by :func:`evaluate`. C1/C2/pins are
    checked; a memory excess (methods that ignore §4.4) is reported as
    ``memory_violation_bytes``."""
    ev = evaluate(inst, x, check=check, check_memory=False)
    names = np.asarray(inst.graph.names, dtype=object)
    metrics = {k: ev[k] for k in ("delay_s", "device_compute_s", "server_compute_s", "upload_s",
                                  "download_s", "communication_s", "device_memory_bytes")}
    metrics.update(n_layers=inst.n, n_device_layers=ev["n_device_layers"],
                   n_cut_tensors=int(ev["cut_tensors"].size))
    if not math.isinf(inst.device_memory_bytes):
        metrics["memory_violation_bytes"] = max(0.0, ev["device_memory_bytes"] - inst.device_memory_bytes)
    metrics.update(extra_metrics)
    decision = {"device_layers": names[x].tolist(), "cut_tensors": names[ev["cut_tensors"]].tolist(),
                "n_device_layers": ev["n_device_layers"]}
    details: dict[str, pd.DataFrame] = {}
    if inst.n <= details_max_layers:
        z = np.zeros(inst.n, dtype=bool)
        z[ev["cut_tensors"]] = True
        details["layers"] = pd.DataFrame({
            "layer": names, "side": np.where(x, "device", "server"), "tau_dev_s": inst.tau_dev_s,
            "tau_srv_s": inst.tau_srv_s, "tau_com_s": inst.tau_com_s, "cut_tensor": z})
    return Plan(PROBLEM, method, ev["delay_s"], decision, metrics, details, solve_result, seconds)


def no_solution_plan(inst: SplitInstance, method_name: str, res: SolveResult, seconds: float) -> Plan:
    """The Plan of a method stopped by its time limit before any split was found: status
    ``no_solution``, objective NaN, no decision, the solver's bound if it has one."""
    return Plan(PROBLEM, method_name, math.nan, {"device_layers": [], "cut_tensors": [],
                                                 "n_device_layers": 0},
                {"n_layers": inst.n}, {}, res, seconds)


def plan_from_model(inst: SplitInstance, model: Any, res: SolveResult | None = None,
                    method_name: str = "milp", relax: bool = False) -> Plan:
    """Decode a solved §4.3 model (from :func:`build_pyomo` / :func:`build_cvxpy`, with or
    without extra constraints) into a :class:`Plan`: the device mask from the values of ``x``
    (pins written back; threshold rounding with ``relax``), T(D) re-evaluated exactly, C1/C2/pins
    checked by :func:`evaluate`. ``res`` (the :class:`SolveResult` of the solve) is attached
    as is."""
    x = decode_x(inst, model, relax)
    return make_plan(inst, x, method_name, 0.0, res)


def _timed(f: Any, *a: Any, **k: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = f(*a, **k)
    return out, time.perf_counter() - t0


@method
def method_a(inst: SplitInstance, *, solver: str | None = None, time_limit: float | None = None,
             mip_gap: float | None = None, backend: str | None = None) -> Plan:
    """Algorithm A, compiled backend (``solver`` may name ``ortools`` or ``networkx``)."""
    be = backend or (solver if solver in ("ortools", "networkx") else "ortools")
    check_pins(inst)
    (x, cut), sec = _timed(algorithm_a, inst, be)
    res = SolveResult("optimal", objective=cut, bound=cut, gap=0.0, seconds=sec,
                      solver=f"maxflow-{be}", message="minimum s-t cut (Algorithm A)")
    plan = make_plan(inst, x, "a" if be == "ortools" else "a-networkx", sec, res, cut_value_s=cut)
    res.objective = plan.objective
    return plan


@method
def method_a_networkx(inst: SplitInstance, **kw: Any) -> Plan:
    """Algorithm A with the networkx (pure-Python) max-flow, the readable reference."""
    kw.pop("solver", None)
    return method_a(inst, backend="networkx", **kw)


@method
def method_b1(inst: SplitInstance, *, solver: str | None = None, time_limit: float | None = None,
              mip_gap: float | None = None) -> Plan:
    """Algorithm B1 (block abstraction; optimal under Claim 6.6)."""
    check_pins(inst)
    (x, cut), sec = _timed(algorithm_b1, inst)
    return make_plan(inst, x, "b1", sec, block_cut_value_s=cut)


@method
def method_b2(inst: SplitInstance, *, solver: str | None = None, time_limit: float | None = None,
              mip_gap: float | None = None) -> Plan:
    """Algorithm B2 (exact on macro-chains; falls back to A elsewhere)."""
    check_pins(inst)
    (x, v, info), sec = _timed(algorithm_b2, inst)
    res = SolveResult("optimal", objective=v, bound=v, gap=0.0, seconds=sec, solver="b2-maxflow",
                      message=("B2 on a macro-chain" if info["fallback"] is None
                               else f"not a macro-chain ({info['reason']}): Algorithm A"))
    plan = make_plan(inst, x, "b2", sec, res, n_units=info["n_units"],
                     n_subproblems=info.get("n_subproblems", 1))
    res.objective = plan.objective
    return plan


@method
def method_brute(inst: SplitInstance, *, solver: str | None = None, time_limit: float | None = None,
                 mip_gap: float | None = None, extra_constraints: ExtraConstraints | None = None
                 ) -> Plan:
    """Exhaustive search over ancestor-closed sets (§8.1). It builds no model, so
    ``extra_constraints`` are refused (use ``exact`` or ``milp``)."""
    if extra_constraints is not None:
        raise ValidationError("brute: extra_constraints act on a formulation; brute force builds "
                              "none (use method 'exact' or 'milp')", "extra_constraints")
    (x, T, count), sec = _timed(brute_force, inst)
    res = SolveResult("optimal", objective=T, bound=T, gap=0.0, seconds=sec, solver="brute-force",
                      message=f"{count} closed sets enumerated")
    return make_plan(inst, x, "brute", sec, res, n_closed_sets=count)


def _method_formulation(relax: bool, kind: str) -> Any:
    def run(inst: SplitInstance, *, solver: str | None = None, time_limit: float | None = None,
            mip_gap: float | None = None, extra_constraints: ExtraConstraints | None = None) -> Plan:
        t0 = time.perf_counter()
        if relax:
            x, res = lp_relaxation(inst, solver, kind, time_limit, extra_constraints)
        else:
            x, res = milp(inst, solver, kind, time_limit, mip_gap, extra_constraints)
        name = ("lp" if relax else "milp") + ("-cvxpy" if kind == "cvxpy" else "")
        if x is None:
            return no_solution_plan(inst, name, res, time.perf_counter() - t0)
        return make_plan(inst, x, name, time.perf_counter() - t0, res)
    run.__doc__ = (f"{'LP relaxation + threshold rounding' if relax else 'MILP'} of §4.3 ({kind}), "
                   "certified exactly; ``extra_constraints(model, inst)`` adds rows (MILP only)")
    return method(run)


@method
def method_exact(inst: SplitInstance, *, solver: str | None = None, time_limit: float | None = None,
                 mip_gap: float | None = None, extra_constraints: ExtraConstraints | None = None
                 ) -> Plan:
    """Exact reference: brute force on small graphs (<= 20 layers), else the MILP at gap 0
    (with ``extra_constraints``: always the MILP)."""
    if inst.n <= 20 and extra_constraints is None:
        plan = method_brute(inst)
    else:
        plan = _method_formulation(False, "pyomo")(inst, solver=solver, time_limit=time_limit,
                                                   mip_gap=mip_gap, extra_constraints=extra_constraints)
    plan.method = "exact"
    return plan


def _method_simple(name: str, f: Any, doc: str) -> Any:
    def run(inst: SplitInstance, *, solver: str | None = None, time_limit: float | None = None,
            mip_gap: float | None = None) -> Plan:
        check_pins(inst)
        x, sec = _timed(f, inst)
        return make_plan(inst, x, name, sec)
    run.__doc__ = doc
    return method(run)


method_chain = _method_simple("chain", chain_split, "best prefix of a topological order, exact Eq. 6 (§8.3)")
method_neurosurgeon = _method_simple("neurosurgeon", lambda i: chain_split(i, model="chain"),
                                     "best prefix priced as a chain (Neurosurgeon-style, §8.3)")
method_greedy = _method_simple("greedy", greedy_split, "greedy growth (§8.4)")
method_device_only = _method_simple("device-only", device_only, "D = V (§8.6)")
method_minimal_device = _method_simple("server-only", minimal_device,
                                       "D = inputs + ancestors of device pins (§8.6)")


@method
def method_paper(inst: SplitInstance, **kw: Any) -> Plan:
    """The paper's method: Algorithm A with the compiled max-flow (plan.method = "paper")."""
    plan = method_a(inst, **kw)
    plan.method = "paper"
    return plan


METHODS: dict[str, Any] = {
    "paper": method_paper,
    "exact": method_exact,
    "a": method_a,
    "a-networkx": method_a_networkx,
    "b1": method_b1,
    "b2": method_b2,
    "brute": method_brute,
    "milp": _method_formulation(False, "pyomo"),
    "lp": _method_formulation(True, "pyomo"),
    "milp-cvxpy": _method_formulation(False, "cvxpy"),
    "lp-cvxpy": _method_formulation(True, "cvxpy"),
    "chain": method_chain,
    "neurosurgeon": method_neurosurgeon,
    "greedy": method_greedy,
    "device-only": method_device_only,
    "server-only": method_minimal_device,
}


def _draw_states(n_slots: int, seed: int, ranges: dict[str, tuple[float, float]], process: str,
                 rho: float) -> dict[str, np.ndarray]:
    """Per-slot rates / throughput: i.i.d. uniform over the ranges, or a first-order
    Gauss-Markov process clipped to the range (spec §7.2)."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, (lo, hi) in ranges.items():
        if process == "iid":
            out[key] = rng.uniform(lo, hi, n_slots)
        elif process == "gauss-markov":
            mid, sd = (lo + hi) / 2, (hi - lo) / 4
            v = np.empty(n_slots)
            v[0] = rng.uniform(lo, hi)
            noise = rng.normal(0.0, sd * math.sqrt(1 - rho ** 2), n_slots)
            for k in range(1, n_slots):
                v[k] = np.clip(mid + rho * (v[k - 1] - mid) + noise[k], lo, hi)
            out[key] = v
        else:
            raise ValidationError(f"process = {process!r}; use 'iid' or 'gauss-markov'", "process")
    return out


def dynamic_study(graph: ModelGraph | SplitInstance, n_slots: int = 200, seed: int = 0,
                  methods: Sequence[str] = ("a", "fixed", "chain", "neurosurgeon", "greedy",
                                            "device-only", "server-only"),
                  protocol: str = "stale", slot_s: float = 1.0,
                  ranges: dict[str, tuple[float, float]] | None = None, process: str = "iid",
                  rho: float = 0.9, **params: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Dynamic edge network of spec §7.2: per slot the rates (and f_dev) are drawn afresh and
    each method re-splits (``fixed``: A once, at the mean state, then kept).

    Protocols for charging the algorithm's running time T_alg (measured here, per call):

    * ``"stale"`` (P-a): during the first T_alg of a slot training runs with the previous split
      under the new rates; the new split takes effect after T_alg (T_alg >= slot: it never does
      within the slot);
    * ``"overhead"`` (P-b): training is blocked for T_alg, then runs with the new split.

    Per slot the iterations done are sum(duration / T(split)); the per-iteration delay of the
    slot is slot_s / iterations. Returns ``(per_slot, summary)``; ``summary`` has the mean
    per-iteration delay (total time / total iterations) of each method and the reduction
    rho = (T_bench - T_A) / T_bench (spec §9) of A against every other method.
    """
    base = graph if isinstance(graph, SplitInstance) else make_instance(graph, **params)
    if protocol not in ("stale", "overhead"):
        raise ValidationError(f"protocol = {protocol!r}; use 'stale' (P-a) or 'overhead' (P-b)", "protocol")
    check_positive("slot_s", slot_s, "s")
    n_slots = check_int("n_slots", n_slots, lo=1)
    ranges = dict(DYNAMIC_RANGES if ranges is None else ranges)
    states = _draw_states(n_slots, seed, ranges, process, rho)
    insts = [base.with_params(**{k: float(v[i]) for k, v in states.items()}) for i in range(n_slots)]
    mean_inst = base.with_params(**{k: float(np.mean(v)) for k, v in states.items()})
    algo = {"a": lambda i: algorithm_a(i)[0], "a-networkx": lambda i: algorithm_a(i, "networkx")[0],
            "b2": lambda i: algorithm_b2(i)[0], "chain": chain_split,
            "neurosurgeon": lambda i: chain_split(i, model="chain"), "greedy": greedy_split,
            "device-only": device_only, "server-only": minimal_device,
            "milp": lambda i: milp(i)[0], "brute": lambda i: brute_force(i)[0]}
    rows = []
    fixed = algorithm_a(mean_inst)[0] if "fixed" in methods else None
    for name in methods:
        prev = None
        for k, inst in enumerate(insts):
            if name == "fixed":
                x, t_alg = fixed, 0.0
            else:
                if name not in algo:
                    raise ValidationError(f"dynamic_study: unknown method {name!r}; use one of "
                                          f"{sorted([*algo, 'fixed'])}", "methods")
                x, t_alg = _timed(algo[name], inst)
            T_new = evaluate(inst, x, check=False)["delay_s"]
            lag = min(t_alg, slot_s)
            if protocol == "stale":
                T_old = evaluate(inst, prev, check=False)["delay_s"] if prev is not None else T_new
                iters = lag / T_old + (slot_s - lag) / T_new
            else:
                iters = (slot_s - lag) / T_new
            rows.append({"method": name, "slot": k, "t_alg_s": t_alg, "delay_s": T_new,
                         "iterations": iters,
                         "slot_delay_s": slot_s / iters if iters > 0 else math.inf,
                         **{key: float(states[key][k]) for key in states}})
            prev = x
    per_slot = pd.DataFrame(rows)
    summ = per_slot.groupby("method", sort=False).agg(
        iterations=("iterations", "sum"), mean_t_alg_s=("t_alg_s", "mean"),
        mean_split_delay_s=("delay_s", "mean")).reset_index()
    summ["mean_delay_s"] = n_slots * slot_s / summ["iterations"]
    ref = "a" if "a" in methods else methods[0]
    t_ref = float(summ.loc[summ["method"] == ref, "mean_delay_s"].iloc[0])
    summ[f"reduction_by_{ref}_pct"] = (summ["mean_delay_s"] - t_ref) / summ["mean_delay_s"] * 100
    return per_slot, summ


CLI_METHODS = {"a": "a", "a-networkx": "a-networkx", "b1": "b1", "b2": "b2", "milp": "milp",
               "lp": "lp", "brute": "brute", "chain": "chain", "neurosurgeon": "neurosurgeon",
               "greedy": "greedy", "device-only": "device-only", "server-only": "server-only"}


def commands(app: Any) -> None:
    """``slopt split PROFILE ...``: split one profile and print / write the result."""
    import json
    import sys

    import typer

    @app.command("split")
    def split_cmd(
        profile: str = typer.Argument(..., help="profile JSON file or shipped profile name"),
        device_flops: float = typer.Option(DEFAULTS["device_flops"], help="f_dev, FLOP/s"),
        server_flops: float = typer.Option(DEFAULTS["server_flops"], help="f_srv, FLOP/s"),
        uplink_bps: float = typer.Option(DEFAULTS["uplink_bps"], help="R_up, bit/s"),
        downlink_bps: float = typer.Option(DEFAULTS["downlink_bps"], help="R_dn, bit/s"),
        batch: float = typer.Option(DEFAULTS["batch"], help="B, samples per iteration"),
        method: str = typer.Option("a", help="a | a-networkx | b1 | b2 | milp | lp | brute | chain "
                                             "| neurosurgeon | greedy | device-only | server-only"),
        solver: str = typer.Option(None, help="solver for milp / lp (default HiGHS)"),
        server_pin: list[str] = typer.Option(None, help="layer pinned to the server (repeatable)"),
        as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
        dot: Path = typer.Option(None, help="write the DAG coloured by side as Graphviz DOT"),
        png: Path = typer.Option(None, help="write the DAG coloured by side as PNG (matplotlib)"),
    ) -> None:
        """Optimal split of a model DAG between device and server (min s-t cut, spec §5)."""
        from slopt.cli import _fail, console, print_table

        from .plots import plot_split, to_dot

        try:
            if method not in CLI_METHODS:
                raise ValidationError(f"--method {method!r}; choose one of {sorted(CLI_METHODS)}", "method")
            inst = load(profile, device_flops=device_flops, server_flops=server_flops,
                        uplink_bps=uplink_bps, downlink_bps=downlink_bps, batch=batch,
                        server_pins=server_pin or None)
            plan = METHODS[CLI_METHODS[method]](inst, solver=solver)
        except SloptError as exc:
            _fail(exc)
            return
        x = np.zeros(inst.n, dtype=bool)
        x[[inst.graph.index(v) for v in plan.decision["device_layers"]]] = True
        if dot is not None:
            to_dot(inst, x, dot)
        if png is not None:
            plot_split(inst, x, png)
        if as_json:
            d = plan.to_dict()
            d.pop("details", None)
            d.update(delay_s=plan.objective, device_layers=plan.decision["device_layers"],
                     cut_tensors=plan.decision["cut_tensors"],
                     breakdown={k: plan.metrics[k] for k in ("device_compute_s", "server_compute_s",
                                                            "upload_s", "download_s")})
            sys.stdout.write(json.dumps(d) + "\n")
            return
        print_table(plan.to_frame().to_dict("records"), f"split {profile} / {method}")
        console.print(f"device layers ({len(plan.decision['device_layers'])}): "
                      f"{', '.join(plan.decision['device_layers'][:30])}"
                      f"{' ...' if len(plan.decision['device_layers']) > 30 else ''}")
        console.print(f"cut tensors: {', '.join(plan.decision['cut_tensors']) or '(none: all on device)'}")
        for p_, what in ((dot, "DOT"), (png, "PNG")):
            if p_ is not None:
                console.print(f"[green]wrote[/] {what} {p_}")
