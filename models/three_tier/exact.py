"""Exact three-tier P1 (spec §4.1/§4.4): memory-pruned cut enumeration x the fixed-cut MILP,
P2 (memory-first) by enumeration, and the brute force for tiny instances."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from slopt.errors import InfeasibleError, ValidationError
from slopt.solvers import SolveResult

from .algorithm import _algorithm_b, _b_schedule, _memory_pruned_pairs
from .formulations import solve_fixed_cut
from .instance import Instance
from .system import epoch_delay, feasible_cut_pairs, lower_bound, pair_delays

# =============================================================================================
# §4.1 / §4.4 -- exact P1: cut enumeration (memory-pruned, bounded) x fixed-cut MILP
# =============================================================================================
def _exact(inst: Instance, solver: str | None, time_limit: float | None, mip_gap: float | None,
           use_bound: bool = True) -> tuple[float, int, int, list[np.ndarray], SolveResult]:
    T_b, lu_b, le_b, r_b = _algorithm_b(inst)        # incumbent
    pairs = _memory_pruned_pairs(inst)
    cand = sorted(((lower_bound(inst, d), d) for d in (pair_delays(inst, *p) for p in pairs)),
                  key=lambda x: x[0])
    best = (T_b, lu_b, le_b, r_b)
    milp_obj: dict[tuple[int, int], float] = {}      # the solver's objective per solved cut pair
    status, seconds, n_milp, bound = "optimal", 0.0, 0, math.inf
    for lb, d in cand:
        if use_bound and lb >= best[0] * (1 - 1e-9):
            bound = min(bound, lb)
            continue
        res, rounds = solve_fixed_cut(inst, d.l_u, d.l_e, solver, time_limit, mip_gap)
        seconds += res.seconds
        n_milp += 1
        if res.status == "no_solution":        # time limit without an incumbent: optimality unproven
            status = "feasible"
            bound = min(bound, max(lb, res.bound) if math.isfinite(res.bound) else lb)
            continue
        if not res.ok:
            raise InfeasibleError(f"fixed-cut MILP at (l_u, l_e) = ({d.l_u}, {d.l_e}) returned {res.status}: "
                                  f"{res.message}", constraint="P1")
        if res.status != "optimal" or (res.gap == res.gap and res.gap > 1e-6):
            status = "feasible"
        bound = min(bound, max(lb, res.bound) if math.isfinite(res.bound) else res.objective)
        T = epoch_delay(inst, d, rounds)
        milp_obj[(d.l_u, d.l_e)] = res.objective
        if T < best[0] - 1e-12 * max(1.0, best[0]):
            best = (T, d.l_u, d.l_e, rounds)
    bound = min(bound, best[0])
    # the solver's own objective at the chosen pair (NaN when the bound proved Algorithm B's plan
    # optimal without a MILP there)
    sr = SolveResult(status, objective=milp_obj.get((best[1], best[2]), math.nan), bound=bound,
                     gap=abs(best[0] - bound) / max(abs(best[0]), 1e-10), seconds=seconds,
                     solver=solver or "highs",
                     message=f"{len(pairs)} memory-feasible cut pairs, {n_milp} fixed-cut MILPs solved, "
                             f"the rest pruned by the lower bound")
    return (*best, sr)


def _memory_first(inst: Instance, solver: str | None, time_limit: float | None, mip_gap: float | None
                  ) -> tuple[int, int, list[np.ndarray], SolveResult]:
    """P2 by enumeration (see :func:`slopt.models.three_tier.methods.memory_first`): the cut pair,
    its schedule and the summary :class:`SolveResult`."""
    ok = feasible_cut_pairs(inst)
    ds = {(int(r.l_u), int(r.l_e)): pair_delays(inst, int(r.l_u), int(r.l_e)) for r in ok.itertuples()}
    ok = ok.assign(lb=[lower_bound(inst, ds[(int(r.l_u), int(r.l_e))]) for r in ok.itertuples()])
    ok = ok.sort_values(["server_peak_bytes", "lb"], kind="stable")
    best_short, solved = math.inf, None
    for r in ok.itertuples():
        d = ds[(int(r.l_u), int(r.l_e))]
        rounds = _b_schedule(inst, d)
        T = epoch_delay(inst, d, rounds)
        sr = None
        if T > inst.t_max_s:
            if r.lb > inst.t_max_s:
                best_short = min(best_short, r.lb - inst.t_max_s)
                continue
            sr, rr = solve_fixed_cut(inst, d.l_u, d.l_e, solver, time_limit, mip_gap)
            if not sr.ok:
                continue
            T = epoch_delay(inst, d, rr)
            if T > inst.t_max_s:
                best_short = min(best_short, T - inst.t_max_s)
                continue
            rounds = rr
        solved = (d.l_u, d.l_e, rounds, sr)
        break
    if solved is None:
        raise InfeasibleError(f"P2: no memory-feasible cut pair meets T_epoch <= T^max = {inst.t_max_s:g} s; "
                              f"the delay limit is short by at least {best_short:.6g} s", constraint="T_max",
                              shortfall=best_short)
    l_u, l_e, rounds, sr = solved
    mem = float(ok.set_index(["l_u", "l_e"]).loc[(l_u, l_e), "server_peak_bytes"])
    summary = SolveResult("optimal", objective=mem, bound=mem, gap=0.0, seconds=sr.seconds if sr else 0.0,
                          solver=(sr.solver if sr else "enumeration"),
                          message=f"{len(ok)} memory-feasible cut pairs enumerated by server peak memory; "
                                  f"T_epoch <= T^max checked with Algorithm B, else the fixed-cut MILP")
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
