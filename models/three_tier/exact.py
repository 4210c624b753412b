"""Exact three-tier P1 (spec §4.1/§4.4): memory-pruned cut enumeration x the fixed-cut MILP,
P2 (memory-first) by enumeration, and the brute force for tiny instances."""

from __future__ import annotations

import functools
import itertools
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from slopt.errors import InfeasibleError, ValidationError
from slopt.methods import Deadline
from slopt.solvers import SolveResult

from .algorithm import _algorithm_b, _b_schedule, _memory_pruned_pairs
from .formulations import ExtraConstraints, solve_fixed_cut
from .instance import Instance
from .system import check_schedule, epoch_delay, feasible_cut_pairs, lower_bound, pair_delays

# =============================================================================================
# §4.1 / §4.4 -- exact P1: cut enumeration (memory-pruned, bounded) x fixed-cut MILP
# =============================================================================================
log = logging.getLogger("slopt.models.three_tier")
#: Relative gap up to which the exact method says ``optimal`` on top of ``mip_gap``: the MILP
#: solvers meet the epigraph rows z_t >= value x to an absolute 1e-7 (HiGHS's primal feasibility
#: tolerance) on delays of 0.01-1 s, so their bound is exact to about 1e-6 of the epoch delay.
#: The gap reported is the measured one, (T - bound) / T, with T re-evaluated by ``evaluate()``.
OPT_TOL = 1e-6


@dataclass
class ExactResult:
    """What :func:`_exact` found: the best plan (None without an incumbent), the proven bound (s),
    the summary :class:`SolveResult` and one row per cut pair (lower bound, what was done)."""

    best: tuple[float, int, int, list[np.ndarray]] | None
    solve: SolveResult
    cut_pairs: pd.DataFrame


def _exact(inst: Instance, solver: str | None, time_limit: float | None, mip_gap: float | None,
           use_bound: bool = True, *, strong: bool = True, use_incumbent: bool = True,
           extra_constraints: ExtraConstraints | None = None, options: dict[str, Any] | None = None,
           tee: bool = False) -> ExactResult:
    """Exact P1: every memory-feasible cut pair, in increasing :func:`lower_bound`, pruned when the
    bound reaches the incumbent; the fixed-cut MILP (``strong``: :func:`build_fixed_cut` with the
    sorted bounds and symmetry breaking) at the others, with the incumbent's value as cutoff.

    ``mip_gap`` (default 0; HiGHS also gets ``mip_abs_gap = 0``) is passed to every MILP; the
    result is ``optimal`` when every MILP was proven and the gap is at most ``mip_gap`` +
    :data:`OPT_TOL`. The
    time limit (s) is shared by all MILPs; when it runs out the incumbent is returned with the
    proven bound: the least of the unexplored pairs' bounds and the solvers' bounds. With
    ``extra_constraints`` Algorithm B's plan (which ignores them) is no incumbent and the
    symmetry breaking is left out.
    """
    clock = Deadline(time_limit)
    gap_req = 0.0 if mip_gap is None else float(mip_gap)
    name = (solver or "highs").lower()
    opts = dict(options or {})
    if name == "highs" and gap_req == 0.0:
        opts.setdefault("mip_abs_gap", 0.0)
    pairs = _memory_pruned_pairs(inst)
    cand = sorted(((lower_bound(inst, d), d) for d in (pair_delays(inst, *p) for p in pairs)), key=lambda x: x[0])
    best: tuple[float, int, int, list[np.ndarray]] | None = None
    if use_incumbent and extra_constraints is None:
        best = _algorithm_b(inst)                      # incumbent
    inc = lambda: best[0] if best is not None else math.inf  # noqa: E731
    milp_obj: dict[tuple[int, int], float] = {}        # the solver's objective per solved cut pair
    rows: list[dict[str, Any]] = []
    seconds, n_milp, proven = 0.0, 0, True
    log.info("three-tier exact: %d memory-feasible cut pairs, incumbent %.6g s (Algorithm B), bound %.6g s",
             len(cand), inc(), cand[0][0] if cand else math.nan)
    for i, (lb, d) in enumerate(cand):
        row = {"l_u": d.l_u, "l_e": d.l_e, "lower_bound_s": lb, "action": "", "milp_objective_s": math.nan,
               "pair_bound_s": lb, "seconds": 0.0}
        rows.append(row)
        if use_bound and lb >= inc():
            row["action"] = "pruned"
            continue
        if clock.expired:
            row["action"] = "not reached"
            proven = False
            continue
        cutoff = inc() * (1 + 1e-6) if math.isfinite(inc()) else None
        res, rounds = solve_fixed_cut(inst, d.l_u, d.l_e, solver, clock.remaining(), gap_req, strong=strong,
                                      symmetry=extra_constraints is None, cutoff=cutoff,
                                      extra_constraints=extra_constraints, options=opts or None, tee=tee)
        seconds += res.seconds
        n_milp += 1
        row["seconds"] = res.seconds
        if res.status == "infeasible":                 # nothing at or below the cutoff here
            row["action"] = "cut off" if cutoff is not None else "infeasible"
            row["pair_bound_s"] = cutoff if cutoff is not None else math.inf
        elif res.ok and rounds is not None and _valid(inst, rounds):
            T = epoch_delay(inst, d, rounds)
            milp_obj[(d.l_u, d.l_e)] = res.objective
            row["milp_objective_s"] = T
            pb = res.bound if math.isfinite(res.bound) else lb
            # proven: the solver says optimal; slopt.solvers may call it "feasible" when its bound is
            # a few 1e-9 off the objective with mip_gap 0 -- within OPT_TOL that is still proven
            solver_done = res.status == "optimal" or getattr(res, "termination", "") == "optimal"
            if solver_done and pb >= T * (1 - 1e-12):
                pb = T                                 # summation round-off between the MILP and evaluate()
            row["pair_bound_s"] = max(lb, min(pb, T))
            done = solver_done and (res.gap != res.gap or res.gap <= gap_req + OPT_TOL)
            row["action"] = "optimal" if done else "stopped"
            proven &= done
            if best is None or T < inc() - 1e-12 * max(1.0, inc()):
                best = (T, d.l_u, d.l_e, rounds)
        else:                                          # a limit without an incumbent, or an error
            row["action"] = "stopped" if res.status in ("no_solution", "feasible") else res.status
            if math.isfinite(res.bound):
                row["pair_bound_s"] = max(lb, res.bound)
            proven = False
        bound_now = min([r["pair_bound_s"] for r in rows] + [lb2 for lb2, _ in cand[i + 1:]] + [inc()])
        log.info("three-tier exact: cut pair %d/%d (%d, %d) %s; incumbent %.9g s, bound %.9g s",
                 i + 1, len(cand), d.l_u, d.l_e, row["action"], inc(), bound_now)
    table = pd.DataFrame(rows, columns=["l_u", "l_e", "lower_bound_s", "action", "milp_objective_s",
                                        "pair_bound_s", "seconds"])
    if best is None and not table["action"].isin(["stopped", "not reached"]).any() and len(table):
        raise InfeasibleError("no cut pair admits a schedule that meets the extra constraints", constraint="P1")
    bound = float(min(table["pair_bound_s"].min() if len(table) else math.inf, inc()))
    T = inc()
    gap = (T - bound) / max(abs(T), 1e-300) if math.isfinite(T) else math.nan
    gap = max(gap, 0.0) if gap == gap else gap
    if best is None:
        status = "no_solution"
    else:
        status = "optimal" if proven and gap <= gap_req + OPT_TOL else "feasible"
    counts = table["action"].value_counts().to_dict()
    sr = SolveResult(status, objective=milp_obj.get((best[1], best[2]), math.nan) if best else math.nan,
                     bound=bound, gap=gap, seconds=seconds, solver=name,
                     message=f"{len(pairs)} memory-feasible cut pairs: "
                             + ", ".join(f"{v} {k}" for k, v in counts.items())
                             + f"; {n_milp} fixed-cut MILPs ({'strong' if strong else 'spec'} form)")
    log.info("three-tier exact: %s, incumbent %.9g s, bound %.9g s, gap %.3g", status, T, bound, gap)
    return ExactResult(best, sr, table)


def _valid(inst: Instance, rounds: list[np.ndarray]) -> bool:
    try:
        check_schedule(inst, [r.tolist() for r in rounds])
        return True
    except ValidationError:
        return False


def _memory_first(inst: Instance, solver: str | None, time_limit: float | None, mip_gap: float | None,
                  extra_constraints: ExtraConstraints | None = None
                  ) -> tuple[int, int, list[np.ndarray], SolveResult] | SolveResult:
    """P2 by enumeration (see :func:`slopt.models.three_tier.methods.memory_first`): the cut pair,
    its schedule and the summary :class:`SolveResult`; only the summary (status ``no_solution``)
    when the time limit (s) ran out before a pair was accepted. Every MILP runs at ``mip_gap``
    (default 0); ``extra_constraints`` go to every MILP, and Algorithm B's schedule (which
    ignores them) is then not used."""
    clock = Deadline(time_limit)
    gap = 0.0 if mip_gap is None else float(mip_gap)
    ok = feasible_cut_pairs(inst)
    ds = {(int(r.l_u), int(r.l_e)): pair_delays(inst, int(r.l_u), int(r.l_e)) for r in ok.itertuples()}
    ok = ok.assign(lb=[lower_bound(inst, ds[(int(r.l_u), int(r.l_e))]) for r in ok.itertuples()])
    ok = ok.sort_values(["server_peak_bytes", "lb"], kind="stable")
    best_short, solved, unproven, seconds = math.inf, None, False, 0.0
    for r in ok.itertuples():
        d = ds[(int(r.l_u), int(r.l_e))]
        sr = None
        if extra_constraints is None:
            rounds = _b_schedule(inst, d)
            if epoch_delay(inst, d, rounds) <= inst.t_max_s:
                solved = (d.l_u, d.l_e, rounds, sr)
                break
        if r.lb > inst.t_max_s:
            best_short = min(best_short, r.lb - inst.t_max_s)
            continue
        if clock.expired:
            unproven = True
            break
        sr, rr = solve_fixed_cut(inst, d.l_u, d.l_e, solver, clock.remaining(), gap, strong=True,
                                 symmetry=extra_constraints is None, extra_constraints=extra_constraints)
        seconds += sr.seconds
        if sr.status == "infeasible":
            continue
        if not sr.ok or rr is None:
            unproven = True
            continue
        T = epoch_delay(inst, d, rr)
        if T > inst.t_max_s:
            unproven |= not (sr.status == "optimal" or getattr(sr, "termination", "") == "optimal")
            best_short = min(best_short, T - inst.t_max_s)
            continue
        solved = (d.l_u, d.l_e, rr, sr)
        break
    if solved is None:
        if unproven:
            return SolveResult("no_solution", seconds=seconds, solver=solver or "highs",
                               message="P2: the time limit ran out before a cut pair met T^max")
        raise InfeasibleError(f"P2: no memory-feasible cut pair meets T_epoch <= T^max = {inst.t_max_s:g} s; "
                              f"the delay limit is short by at least {best_short:.6g} s", constraint="T_max",
                              shortfall=best_short)
    l_u, l_e, rounds, sr = solved
    mem = float(ok.set_index(["l_u", "l_e"]).loc[(l_u, l_e), "server_peak_bytes"])
    summary = SolveResult("feasible" if unproven else "optimal", objective=mem, bound=math.nan if unproven else mem,
                          gap=math.nan if unproven else 0.0, seconds=seconds,
                          solver=(sr.solver if sr else "enumeration"),
                          message=f"{len(ok)} memory-feasible cut pairs enumerated by server peak memory; "
                                  f"T_epoch <= T^max checked with Algorithm B, else the fixed-cut MILP"
                                  + ("; a MILP stopped unproven at a smaller-memory pair" if unproven else ""))
    return l_u, l_e, rounds, summary


# =============================================================================================
# §4.4 -- brute force (tiny instances)
# =============================================================================================
def brute_force_fixed_cut(inst: Instance, l_u: int, l_e: int) -> tuple[float, list[np.ndarray]]:
    """Exhaustive optimum of one cut pair: every partition of the users into rounds (sizes of C3)
    and every injective user -> edge map per round; subsets are memoised (N <= 12, E <= 4)."""
    if inst.N > 12 or inst.E > 4:
        raise ValidationError(f"brute force is for tiny instances (N <= 12, E <= 4); got N = {inst.N}, "
                              f"E = {inst.E}", "n_users")
    d = pair_delays(inst, l_u, l_e)
    N, E, K, beta = inst.N, inst.E, inst.local_iterations, inst.beta
    k_last = inst.round_sizes[-1]
    table: dict[int, tuple[float, tuple[int, ...], tuple[int, ...]]] = {}
    for k in sorted(set(inst.round_sizes)):
        combos = np.array(list(itertools.combinations(range(N), k)), dtype=int)
        perms = np.array(list(itertools.permutations(range(E), k)), dtype=int)
        C, P = combos[:, None, :], perms[None, :, :]
        cost = (K * (d.U[C, P].max(-1) + (1 + beta) * k * d.tc_one + d.Bk[C, P].max(-1))
                + d.a_up[C, P].max(-1) + d.a_dn[C, P].max(-1))
        j = cost.argmin(axis=1)
        masks = (1 << combos).sum(axis=1)
        for i, mk in enumerate(masks.tolist()):
            table[mk] = (float(cost[i, j[i]]), tuple(combos[i].tolist()), tuple(perms[j[i]].tolist()))

    @functools.lru_cache(maxsize=None)
    def best(mask: int, short_left: bool) -> tuple[float, tuple[int, ...]]:
        if mask == 0:
            return (0.0, ()) if not short_left else (math.inf, ())
        low = (mask & -mask).bit_length() - 1
        others = [i for i in range(N) if mask >> i & 1 and i != low]
        out = (math.inf, ())
        sizes = [E] + ([k_last] if short_left and k_last != E else [])
        for k in sizes:
            left = bin(mask).count("1") - k
            if left < 0:
                continue
            for rest in itertools.combinations(others, k - 1):
                g = (1 << low) | sum(1 << i for i in rest)
                sub = best(mask ^ g, short_left and not (k == k_last and k != E))
                val = table[g][0] + sub[0]
                if val < out[0]:
                    out = (val, (g,) + sub[1])
        return out

    T, groups = best((1 << N) - 1, k_last != E)
    rounds = [np.column_stack([table[g][1], table[g][2]]) for g in groups]
    return T, rounds


def _brute_force(inst: Instance) -> tuple[float, int, int, list[np.ndarray]]:
    """The brute-force optimum over every memory-feasible cut pair: (T, l_u, l_e, rounds)."""
    best = None
    for l_u, l_e in _memory_pruned_pairs(inst):
        T, rounds = brute_force_fixed_cut(inst, l_u, l_e)
        if best is None or T < best[0]:
            best = (T, l_u, l_e, rounds)
    assert best is not None
    return best
