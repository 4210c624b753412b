"""Three-tier Algorithm B (spec §4.3): cut enumeration with the memory breaks, users sorted by
best-case pair latency and cut into rounds, a bottleneck assignment per round."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .instance import Instance
from .system import (PairDelays, epoch_delay, feasible_cut_pairs, lower_bound, memory_cloud, memory_edge,
                     memory_user, pair_delays)

# =============================================================================================
# §4.3 -- Algorithm B: cut enumeration with memory pruning + bottleneck matching per round
# =============================================================================================
def _perfect_matching_size(mask: np.ndarray) -> int:
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    match = maximum_bipartite_matching(csr_matrix(mask.astype(np.int8)), perm_type="column")
    return int((match >= 0).sum())


def bottleneck_assignment(cost: np.ndarray) -> np.ndarray:
    """Rows -> distinct columns minimising the largest cost (k <= E rows).

    Threshold search over the sorted distinct costs with a Hopcroft-Karp matching test
    (``scipy.sparse.csgraph.maximum_bipartite_matching``); among the matchings under the
    bottleneck threshold, ``scipy.optimize.linear_sum_assignment`` picks the one of least total
    cost. Returns the column of every row.
    """
    from scipy.optimize import linear_sum_assignment

    k = cost.shape[0]
    vals = np.unique(cost)
    lo, hi = 0, len(vals) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if _perfect_matching_size(cost <= vals[mid]) == k:
            hi = mid
        else:
            lo = mid + 1
    big = float(cost.sum()) * 4 + 1.0
    rows, cols = linear_sum_assignment(np.where(cost <= vals[lo], cost, big))
    out = np.empty(k, dtype=int)
    out[rows] = cols
    return out


def _b_schedule(inst: Instance, d: PairDelays) -> list[np.ndarray]:
    """Sort users by best-case pair latency pi_n = min_e (U + Bk), slowest first; cut into rounds
    of E (short round last); bottleneck-assign each round to the edges."""
    c = d.U + d.Bk
    pi = c.min(axis=1)
    order = np.argsort(-pi, kind="stable")
    rounds, start = [], 0
    for k in inst.round_sizes:
        users = order[start:start + k]
        start += k
        edges = bottleneck_assignment(c[users])
        rounds.append(np.column_stack([users, edges]))
    return rounds


def _memory_pruned_pairs(inst: Instance) -> list[tuple[int, int]]:
    """The loops of Algorithm B with its breaks: M_u grows with l_u, M_e with l_e, M_c shrinks."""
    feasible_cut_pairs(inst)        # raises InfeasibleError with the diagnosis when nothing fits
    mu_max, me_max = float(np.min(inst.user_memory_bytes)), float(np.min(inst.edge_memory_bytes))
    out = []
    for l_u in range(max(1, inst.l_min), inst.L):
        if memory_user(inst, l_u)["total_bytes"] > mu_max:
            break
        for l_e in range(l_u + 1, inst.L + 1):
            if memory_edge(inst, l_u, l_e)["total_bytes"] > me_max:
                break
            if memory_cloud(inst, l_e)["total_bytes"] > inst.cloud_memory_bytes:
                continue
            if inst.cuts is None or (l_u, l_e) == tuple(inst.cuts):
                out.append((l_u, l_e))
    return out


def _algorithm_b(inst: Instance) -> tuple[float, int, int, list[np.ndarray]]:
    best: tuple[float, int, int, list[np.ndarray]] | None = None
    for l_u, l_e in _memory_pruned_pairs(inst):
        d = pair_delays(inst, l_u, l_e)
        rounds = _b_schedule(inst, d)
        T = epoch_delay(inst, d, rounds)
        if best is None or T < best[0]:
            best = (T, l_u, l_e, rounds)
    assert best is not None
    return best


def cut_pair_table(inst: Instance) -> pd.DataFrame:
    """Every memory-feasible cut pair with its memory (Eqs. 7-10), Algorithm B's epoch delay at
    that pair and the delay lower bound: the memory / delay trade-off over the cuts."""
    df = feasible_cut_pairs(inst)
    T, LB = [], []
    for r in df.itertuples():
        d = pair_delays(inst, int(r.l_u), int(r.l_e))
        T.append(epoch_delay(inst, d, _b_schedule(inst, d)))
        LB.append(lower_bound(inst, d))
    return df.assign(epoch_delay_s=T, lower_bound_s=LB)
