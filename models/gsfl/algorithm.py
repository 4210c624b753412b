"""GSFL Alg. 4 (spec §5): LPT grouping, the bisection bandwidth split (Alg. 5) and local search."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .formulations import _symmetric
from .instance import Instance
from .system import _coeffs, _onehot, bandwidth_split, _round_batch, separable, train_time_ac, train_time_batch


# =====================================================================================
# 7. Algorithms: LPT + local search (Alg. 4), brute force, exact (Alg. 3)
# =====================================================================================
def lpt_groups(keys: Any, K: int) -> np.ndarray:
    """LPT: clients by key, largest first, each to the group where it finishes earliest.

    ``keys`` (N,) or (N, K) (the spec's a_n + K C_n; with a k index, R||C_max list scheduling).
    Graham: on identical machines the makespan is <= (4/3 - 1/(3K)) OPT.
    """
    q = np.asarray(keys, dtype=float)
    q = np.repeat(q[:, None], K, axis=1) if q.ndim == 1 else q[:, :K]
    order = np.argsort(-q.min(axis=1), kind="stable")
    load = np.zeros(K)
    x = np.empty(q.shape[0], dtype=np.int64)
    for n in order:
        k = int(np.argmin(load + q[n]))
        x[n] = k
        load[k] += q[n, k]
    return x


def _neighbours(x: np.ndarray, K: int) -> np.ndarray:
    """All single-client moves to another of the K slots and all swaps of two clients in
    different groups (the Alg. 4 neighbourhood), as a (B, N) array."""
    N = x.shape[0]
    n_idx, k_idx = np.meshgrid(np.arange(N), np.arange(K), indexing="ij")
    keep = k_idx != x[:, None]
    n_idx, k_idx = n_idx[keep], k_idx[keep]
    moves = np.repeat(x[None, :], n_idx.size, axis=0)
    moves[np.arange(n_idx.size), n_idx] = k_idx
    i, j = np.triu_indices(N, 1)
    diff = x[i] != x[j]
    i, j = i[diff], j[diff]
    swaps = np.repeat(x[None, :], i.size, axis=0)
    r = np.arange(i.size)
    swaps[r, i], swaps[r, j] = x[j], x[i]
    return np.concatenate([moves, swaps])


def local_search(objective: Callable[[np.ndarray], np.ndarray], x: np.ndarray, K: int,
                 max_iter: int = 10_000, polish: Callable[[np.ndarray], np.ndarray] | None = None
                 ) -> tuple[np.ndarray, float]:
    """Best-improvement local search over moves and swaps (Alg. 4) until no strict improvement.

    ``objective`` maps a (B, N) batch of assignments to (B,) values (T^train after Alg. 5).
    ``polish`` (heterogeneous edge servers: :func:`best_server_mapping`) re-maps the groups to the
    servers at the start and after every accepted move (one assignment problem per move), so that
    handing a whole group to another server is part of the neighbourhood.
    """
    x = np.asarray(x, dtype=np.int64).copy()
    if polish is not None:
        x = polish(x)
    best = float(objective(x[None, :])[0])
    for _ in range(max_iter):
        cand = _neighbours(x, K)
        if cand.shape[0] == 0:
            break
        val = objective(cand)
        i = int(np.argmin(val))
        if not val[i] < best * (1 - 1e-12):
            break
        x, best = cand[i], float(val[i])
        if polish is not None:
            y = polish(x)
            vy = float(objective(y[None, :])[0])
            if vy < best:
                x, best = y, vy
    return x, best


def best_server_mapping(a: Any, C: Any, x: Any, K: int, max_iter: int = 100) -> tuple[np.ndarray, float]:
    """The best mapping of the groups of ``x`` (labels 0..K-1) to the K slots whose coefficients are
    the columns of ``a`` (N, K) (Eq. 15, shared band): the smallest T^train over all K! mappings.

    For the current T, group g on slot k needs the bandwidth h_{g,k} = C_g / (T - A_{g,k}) (Alg. 5);
    the assignment problem min Σ_g h_{g,σ(g)} (``scipy.optimize.linear_sum_assignment``) finds a
    mapping that meets T with Σ α < 1 if any does; Alg. 5 on it gives a smaller T; repeat until
    Σ α >= 1 (then no mapping beats T). Returns (relabelled x, T^train).
    """
    from scipy.optimize import linear_sum_assignment

    a = np.asarray(a, dtype=float)
    C = np.asarray(C, dtype=float)
    x = np.asarray(x, dtype=np.int64)
    H = _onehot(x[None, :], K)[0]                      # (N, K)
    A = H.T @ a                                        # A[g, k] = Σ_{n in g} a_{n,k}
    Cg = H.T @ C
    ne = H.sum(axis=0) > 0
    perm = np.arange(K)
    T = float(bandwidth_split(A[np.arange(K), perm], Cg, ne)[0])
    for _ in range(max_iter):
        slack = T - A
        with np.errstate(divide="ignore", invalid="ignore"):
            h = np.where(~ne[:, None], 0.0, np.where(slack > 0, Cg[:, None] / slack, 1e6))
        g, k = linear_sum_assignment(h)
        if not h[g, k].sum() < 1 - 1e-12:
            break
        new = np.empty(K, dtype=np.int64)
        new[g] = k
        T_new = float(bandwidth_split(A[np.arange(K), new], Cg, ne)[0])
        if not T_new < T:
            break
        perm, T = new, T_new
    return perm[x], T


def _surrogate(inst: Instance) -> Instance:
    """The fixed-SE instance used to search assignments under the Shannon model (Alg. 4)."""
    return inst if inst.rate_model == "fixed-se" else inst.replace(rate_model="fixed-se")


def _ks(inst: Instance) -> list[int]:
    return [inst.n_groups] if inst.n_groups is not None else list(range(1, min(inst.M, inst.N) + 1))


def _slots_for(inst: Instance, K: int) -> np.ndarray:
    """The K fastest edge servers (ties by index) host the K groups."""
    return np.sort(np.argsort(-inst.edge_flops, kind="stable")[:K])


def heuristic(inst: Instance, *, local: bool = True, remap: bool = True) -> tuple[int, np.ndarray, float]:
    """Alg. 4: for every cut and K, LPT on keys a_n + K C_n, Alg. 5, local search; the best
    (c, x) by round latency. Returns (cut, assignment, T_round) under the fixed-SE surrogate
    (equal to the instance's model unless ``rate_model == "shannon"``).

    With heterogeneous edge servers (shared band, sequential groups) and ``remap``, the groups are
    re-mapped to the servers by :func:`best_server_mapping` after every accepted move."""
    sur = _surrogate(inst)
    best: tuple[float, int, np.ndarray] | None = None
    for c in inst.cuts:
        a, C = separable(sur, c)
        for K in _ks(inst):
            slots = _slots_for(inst, K)
            q = a[:, slots] + (K if inst.shared_band else 1) * C[:, None]
            x = slots[lpt_groups(q, K)]
            if K > 1 and local:
                def obj(X: np.ndarray, c: int = c, K: int = K) -> np.ndarray:
                    Xs = slots[X]
                    v = _round_batch(sur, c, Xs, train_time_batch(sur, c, Xs))
                    if inst.n_groups is not None:    # forced K: moves may not empty a group
                        v = np.where((_onehot(X, K).sum(axis=1) > 0).sum(axis=1) == K, v, np.inf)
                    return v
                inv = np.searchsorted(slots, x)
                polish = None
                if remap and not inst.identical_edges and inst.shared_band and inst.intra_group == "sequential":
                    def polish(X: np.ndarray, a_s: np.ndarray = a[:, slots], C: np.ndarray = C,
                               K: int = K) -> np.ndarray:
                        return best_server_mapping(a_s, C, X, K)[0]
                xi, _ = local_search(obj, inv, K, polish=polish)
                x = slots[xi]
            val = float(_round_batch(sur, c, x[None, :], train_time_batch(sur, c, x[None, :]))[0])
            if best is None or val < best[0]:
                best = (val, c, x)
    assert best is not None
    return best[1], best[2], best[0]



def heuristic_ac(a: Any, C: Any, M: int, K: int | None = None, local: bool = True
                 ) -> tuple[float, np.ndarray]:
    """Alg. 4 on the separable form of one cut (T^train only): for K in 1..M (or the given K),
    LPT with keys a_n + K C_n, Alg. 5, local search. Returns (T^train, assignment)."""
    a, C = _coeffs(a, C, M)
    N = C.shape[0]
    best: tuple[float, np.ndarray] | None = None
    for k in ([K] if K is not None else range(1, min(M, N) + 1)):
        x = lpt_groups(a[:, :k] + k * C[:, None], k)
        if local and k > 1:
            polish = None if _symmetric(a) else (lambda X, k=k: best_server_mapping(a[:, :k], C, X, k)[0])
            x, v = local_search(lambda X: train_time_ac(a, C, X, M), x, k, polish=polish)
        else:
            v = float(train_time_ac(a, C, x[None, :], M)[0])
        if best is None or v < best[0]:
            best = (v, x)
    assert best is not None
    return best

