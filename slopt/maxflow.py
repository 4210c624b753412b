"""Exact minimum s-t cuts of networks with float capacities, by int64 max flows (OR-Tools).

Float capacities are dyadic rationals; :func:`exact_min_cut` returns the exact minimum cut value
(a :class:`~fractions.Fraction`) and the *smallest* minimum cut (the vertices reachable from s in
the residual network of a maximum flow), using only int64 max flows of OR-Tools' ``SimpleMaxFlow``
(C++ push-relabel) by iterative refinement:

1. **Phase 1** solves on ``floor(c_e / 2^(E + s1))`` (2^E divides every capacity; s1 makes the sum
   fit int64). Terminal pairs are netted in integers first: a vertex with arcs s -> v and v -> t
   passes min(cap1(s, v), cap1(v, t)) straight through, so less flow is pushed; the flow is mapped
   back, which leaves the residual reachability from s unchanged. The flow is feasible for the
   exact capacities; what remains, Delta, is below n_rem 2^s1 (n_rem = arcs of the phase's minimum
   cut with a non-zero remainder).
2. **Regions.** Vertices joined to s (to t) by residual arcs of at least 4 n_rem + 5 units are
   merged into s (into t): the rest of the flow can be routed with less than n_rem units on any
   arc, so no later minimum cut separates them. The merge runs over the terminal arcs, the arcs
   of vertices without terminal arcs, then all arcs while more than ``few`` vertices are free
   (at most ``max_rounds`` times); any subset of the true regions is sound. Arcs from the
   s-region to the t-region are cut arcs of phase 1 and carry exactly their residual in every
   maximum flow: their exact sum is added in closed form. Arcs between merged vertices only are
   dropped; the others (a free end) go on, in both directions.
3. **Refinement phases** run on what is left, at scales 2^s' finer by up to 58 - bits(n_rem), every
   arc capped at cap = n_rem 2^(s - s') + 1 units behind a source arc of capacity cap that bounds
   every preflow (a cut holding a capped arc costs more than Delta, so the capped and the exact
   residual networks have the same minimum cuts). When s' = 0, or no cut arc has a remainder, the
   flow is an exact maximum flow.

When the exponent range is beyond float64 scaling (capacities over more than ~1000 binary
decades), :func:`exact_min_cut` returns None and the caller uses an arbitrary-precision code
(dag-split: networkx ``preflow_push`` on Python integers).
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Any

import numpy as np

from slopt.dyadic import exact_sum
from slopt.errors import InfeasibleError, SloptError

__all__ = ["exact_min_cut", "ortools_maxflow"]


def ortools_maxflow(tail: np.ndarray, head: np.ndarray, cap: np.ndarray, s: int, t: int,
                    n_nodes: int, cache: dict[str, Any] | None = None, reverse: bool = False
                    ) -> tuple[int, np.ndarray, np.ndarray]:
    """OR-Tools ``SimpleMaxFlow`` on int64 capacities: (value, flow per arc, source side =
    vertices reachable from s in the residual graph). With ``cache`` (a dict kept with the
    network's structure) the solver and its arcs are kept and only the capacities are reset.

    ``reverse`` solves the reversed network from t to s (same flows, arcs turned round) and reads
    the side as its sink side; push-relabel's speed depends on the direction, and on the
    refinement networks the reversed one was 12x faster (benchmarks/dag_split.py)."""
    from ortools.graph.python import max_flow

    if reverse:
        tail, head, s, t = head, tail, t, s
    if cache is not None and "mf" in cache:
        mf, arcs = cache["mf"], cache["mf_arcs"]
        mf.set_arcs_capacity(arcs, cap)
    else:
        mf = max_flow.SimpleMaxFlow()
        arcs = mf.add_arcs_with_capacity(tail, head, cap)
        mf.add_arc_with_capacity(t, s, 0)  # makes s and t exist even when isolated
        if n_nodes - 1 > max(s, t):
            mf.add_arc_with_capacity(n_nodes - 1, t, 0)
        if cache is not None:
            cache["mf"], cache["mf_arcs"] = mf, arcs
    status = mf.solve(s, t)
    if status != mf.OPTIMAL:
        raise SloptError(f"OR-Tools max flow returned {status!r} on {tail.size} arcs")
    side = np.zeros(n_nodes, dtype=bool)
    cut = mf.get_sink_side_min_cut() if reverse else mf.get_source_side_min_cut()
    side[np.asarray(cut, dtype=np.int64)] = True
    return int(mf.optimal_flow()), np.asarray(mf.flows(arcs), dtype=np.int64), side


def _layout(tail: np.ndarray, head: np.ndarray, finite: np.ndarray, s: int, t: int,
            n_nodes: int) -> dict[str, Any]:
    """Index tables of a network that depend on its arcs only (kept with a cached structure)."""
    s_out = np.flatnonzero(tail == s)
    t_in = np.flatnonzero(head == t)
    pa = np.full(n_nodes, -1, dtype=np.int64)
    pb = np.full(n_nodes, -1, dtype=np.int64)
    fa, fb = s_out[finite[s_out] & (head[s_out] != t)], t_in[finite[t_in] & (tail[t_in] != s)]
    pa[head[fa]] = fa   # duplicate terminal arcs: one of them is netted, which is still sound
    pb[tail[fb]] = fb
    both = (pa >= 0) & (pb >= 0)
    inner = np.flatnonzero((tail != s) & (head != t))
    bare = np.ones(n_nodes, dtype=bool)     # vertices without a terminal arc
    bare[head[s_out]] = bare[tail[t_in]] = bare[s] = bare[t] = False
    bare_arcs = inner[bare[tail[inner]] | bare[head[inner]]]
    fin_idx = np.flatnonzero(finite)
    return {"s_out": s_out, "t_in": t_in, "net_a": pa[both], "net_b": pb[both], "inner": inner,
            "bare_arcs": bare_arcs, "fin_idx": fin_idx,
            "fin_tail": tail[fin_idx], "fin_head": head[fin_idx],
            "n_inf_s": int((~finite[s_out]).sum())}


def _incident(lay: dict[str, Any], tail: np.ndarray, head: np.ndarray, n_nodes: int,
              vertices: np.ndarray) -> np.ndarray:
    """Indices of the arcs with an end in ``vertices`` (sorted, unique), from arc lists sorted by
    tail and by head (built on first use and kept in ``lay``)."""
    if "by_tail" not in lay:
        for key, ends in (("by_tail", tail), ("by_head", head)):
            order = np.argsort(ends, kind="stable")
            lay[key] = (order, np.searchsorted(ends[order], np.arange(n_nodes + 1)))
    out = []
    for key in ("by_tail", "by_head"):
        order, ptr = lay[key]
        lo, hi = ptr[vertices], ptr[vertices + 1]
        if (hi > lo).any():
            k = np.repeat(lo - np.cumsum(np.concatenate([[0], (hi - lo)[:-1]])), hi - lo)
            out.append(order[k + np.arange(int((hi - lo).sum()))])
    return np.unique(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)


def _scaled(c: np.ndarray, k: int) -> np.ndarray:
    """c * 2^-k exactly (floats, no overflow for the values used here)."""
    if -1000 < k < 1000:
        return c * (2.0 ** -k)
    return np.ldexp(c, -k)


def _phase1(tail: np.ndarray, head: np.ndarray, cap: np.ndarray, s: int, t: int, n_nodes: int,
            cache: dict[str, Any] | None, ia: np.ndarray, ib: np.ndarray, a_side: np.ndarray
            ) -> tuple[int, np.ndarray, np.ndarray]:
    """Phase 1's max flow without the terminal arcs that netted to zero (they carry nothing).

    With a ``cache``, the reduced network and its solvers are kept per pattern of netted sides,
    which stays the same when only the communication delays change, and the direction is
    chosen by measurement (:func:`_choose`): push-relabel's time on one network differs by up to
    30x between s -> t and the reversed t -> s (benchmarks/dag_split.py), either way round, and
    the flow it finds shapes the refinement after it, so the time recorded for a direction is
    the whole :func:`exact_min_cut` call's. The answer is the same either way."""
    if cache is None:
        return ortools_maxflow(tail, head, cap, s, t, n_nodes)
    key = np.packbits(a_side).tobytes()
    sub = cache.get("phase1")
    if sub is None or sub["key"] != key:
        keep = np.ones(tail.size, dtype=bool)
        keep[ia[a_side]] = False
        keep[ib[~a_side]] = False
        kidx = np.flatnonzero(keep)
        sub = {"key": key, "kidx": kidx, "tail": tail[kidx], "head": head[kidx],
               "solver": ({}, {}), "seconds": [math.nan, math.nan]}
        cache["phase1"] = sub
    rev = _choose(sub["seconds"])
    cache["phase1_rev"] = rev     # exact_min_cut records its whole time for this direction
    value, f, side = ortools_maxflow(sub["tail"], sub["head"], cap[sub["kidx"]], s, t, n_nodes,
                                     sub["solver"][rev], reverse=rev)
    flow = np.zeros(tail.size, dtype=np.int64)
    flow[sub["kidx"]] = f
    return value, flow, side


#: a direction that took longer than this (s) has the other one tried on the next call
PROBE_S = 0.02


def _choose(seconds: list[float], default: bool = False) -> bool:
    """The direction (True: t -> s) to run: ``default`` until it took longer than
    :data:`PROBE_S`, then the other once, then the faster one seen (``seconds``: the last time
    of each direction, NaN if never run)."""
    if math.isnan(seconds[not default]):
        return not default if seconds[default] > PROBE_S else default
    return seconds[True] < seconds[False]


def _record(seconds: list[float], rev: bool, elapsed: float) -> None:
    """Store a direction's time; when it exceeds twice the other's, the other is tried next."""
    seconds[rev] = elapsed
    if not math.isnan(seconds[not rev]) and elapsed > 2 * seconds[not rev]:
        seconds[not rev] = 0.0


def _directed(seconds: list[float], solve: Any, default: bool = False) -> Any:
    """``solve(reverse)`` in the direction :func:`_choose` picks, its time recorded."""
    rev = _choose(seconds, default)
    t0 = time.perf_counter()
    out = solve(rev)
    _record(seconds, rev, time.perf_counter() - t0)
    return out


def _times_pow2(value: int, e: int) -> Fraction:
    """value * 2^e as a Fraction."""
    return Fraction(value << e) if e >= 0 else Fraction(value, 1 << -e)


def _exact_int_sum(rem: np.ndarray, k: int) -> int:
    """sum(rem) * 2^k exactly, for remainders rem in [0, 1) that are multiples of 2^-k."""
    if k + max(rem.size, 1).bit_length() <= 62:
        return int((rem * float(1 << k)).astype(np.int64).sum())   # exact integers < 2^k each
    return int(exact_sum(rem) * (1 << k))


def exact_min_cut(tail: np.ndarray, head: np.ndarray, capacity: np.ndarray, s: int, t: int,
                  n_nodes: int, cache: dict[str, Any] | None = None, max_rounds: int = 4,
                  few: int | None = None, tiny: int = 2048) -> tuple[np.ndarray, Fraction] | None:
    """The smallest minimum s-t cut (source-side mask over ``n_nodes``) and its exact value.

    ``capacity`` holds non-negative floats, ``inf`` for unbounded arcs. ``cache``: a dict that
    lives as long as the arcs (tail, head, positions of the infinite arcs) do; index tables,
    the OR-Tools solvers and the measured speed of each max-flow direction are kept in it.
    Raises :class:`InfeasibleError` when the minimum cut is infinite. Returns None when the
    exponent range is beyond float64 scaling.

    ``max_rounds`` bounds the region merges over all arcs; once at most ``few`` vertices are
    free (default max(64, n_nodes / 256)) they are left to the refinement phases, which then see
    only the arcs at those vertices. Networks of at most ``tiny`` arcs skip the merges (the
    refinement phases see the whole network). These only change speed, never the answer.
    """
    t0 = time.perf_counter()
    out = _exact_min_cut(tail, head, capacity, s, t, n_nodes, cache, max_rounds, few, tiny)
    if cache is not None and "phase1_rev" in cache:
        _record(cache["phase1"]["seconds"], cache.pop("phase1_rev"), time.perf_counter() - t0)
    return out


def _exact_min_cut(tail: np.ndarray, head: np.ndarray, capacity: np.ndarray, s: int, t: int,
                  n_nodes: int, cache: dict[str, Any] | None = None, max_rounds: int = 4,
                  few: int | None = None, tiny: int = 2048) -> tuple[np.ndarray, Fraction] | None:
    """The body of :func:`exact_min_cut`."""
    finite = cache.get("finite") if cache is not None else None
    if finite is None:
        finite = np.isfinite(capacity)
        if cache is not None:
            cache["finite"] = finite
    lay = cache.get("layout") if cache is not None else None
    if lay is None:
        lay = _layout(tail, head, finite, s, t, n_nodes)
        if cache is not None:
            cache["layout"] = lay
    c_fin = np.where(finite, capacity, 0.0)
    positive = c_fin > 0
    if not positive.any():
        E = 0
    else:
        E = math.frexp(float(np.min(c_fin, where=positive, initial=np.inf)))[1] - 53
    top = float(c_fin.max()) if c_fin.size else 0.0
    if top and (math.frexp(top)[1] - E > 1000 or E < -1074 + 53):
        return None
    # terminal pairs with equal delays net to zero exactly (s -> v -> t carries the value); the
    # others are netted in integers below
    ia, ib = lay["net_a"], lay["net_b"]
    ca = c_fin[ia]
    tie = (ca == c_fin[ib]) & (ca > 0)
    ties = None
    if tie.any():
        ties = ca[tie]
        c_fin[ia[tie]] = c_fin[ib[tie]] = 0.0
    total = math.ldexp(float(c_fin.sum()), -E)
    s_sh = max(0, math.frexp(total * (lay["n_inf_s"] + 2))[1] - 61)
    cap1 = _scaled(c_fin, E + s_sh).astype(np.int64)   # floor: non-negative values
    big_m = int(cap1.sum()) + 1
    cap1[~finite] = big_m
    value_ties = 0
    if ties is not None:   # their exact sum, in units of 2^E
        x_t = _scaled(ties, E + s_sh)
        f_t = np.floor(x_t)
        value_ties = (int(f_t.astype(np.int64).sum()) << s_sh) + _exact_int_sum(x_t - f_t, s_sh)
    # ---- phase 1 on integer-netted terminal pairs
    a_side = cap1[ia] <= cap1[ib]  # pairs whose s -> v arc nets to zero (else v -> t does)
    through = np.where(a_side, cap1[ia], cap1[ib])
    cap1[ia] -= through           # from here on cap1 is the netted network; its forward residuals
    cap1[ib] -= through           # are the un-netted ones, its backward ones differ only on arcs
    value1, flow, side = _phase1(tail, head, cap1, s, t, n_nodes, cache, ia, ib, a_side)
    value1 += int(through.sum())
    if value1 >= big_m:
        raise InfeasibleError("contradictory pins: the minimum cut is infinite", "pins")
    value = (value1 << s_sh) + value_ties
    if s_sh == 0:
        return side, _times_pow2(value, E)
    fi = lay["fin_idx"]
    on_cut = side[lay["fin_tail"]] & ~side[lay["fin_head"]]
    cut = fi[on_cut]
    x_cut = _scaled(c_fin[cut], E + s_sh)
    n_rem = int((x_cut != np.floor(x_cut)).sum())
    if n_rem == 0:   # the flow saturates the cut exactly: certified
        return side, _times_pow2(value, E)
    # ---- regions joined to s / t by big residual arcs
    big = 4 * n_rem + 5
    resid = cap1 - flow
    s_reg = np.zeros(n_nodes, dtype=bool)
    t_reg = np.zeros(n_nodes, dtype=bool)
    s_reg[s] = t_reg[t] = True
    if tail.size > tiny:
        so, ti = lay["s_out"], lay["t_in"]
        s_reg[head[so[resid[so] >= big]]] = True
        t_reg[tail[ti[resid[ti] >= big]]] = True
    free = n_nodes - int(s_reg.sum()) - int(t_reg.sum())
    # first the arcs of vertices without terminal arcs (they are all still free), then all arcs
    # while many vertices are free; a few free vertices are left to the refinement phases
    few = max(64, n_nodes >> 8) if few is None else few
    for arcs, rounds in ((lay["bare_arcs"], 1), (lay["inner"], max_rounds)):
        if free <= few or tail.size <= tiny:
            break
        it, ih = tail[arcs], head[arcs]
        bf, bb = resid[arcs] >= big, flow[arcs] >= big
        for _ in range(rounds):
            s_reg[ih[bf & s_reg[it]]] = True
            s_reg[it[bb & s_reg[ih]]] = True
            t_reg[it[bf & t_reg[ih]]] = True
            t_reg[ih[bb & t_reg[it]]] = True
            left = n_nodes - int(s_reg.sum()) - int(t_reg.sum())
            if left == free or left <= few:
                free = left
                break
            free = left
    if (s_reg & t_reg).any():
        raise SloptError("exact max flow: an s-t path of big residual arcs after phase 1")
    # s-region -> t-region arcs are cut arcs of phase 1 (saturated): each carries exactly its
    # remainder in every maximum flow, added in closed form
    direct = cut[s_reg[tail[cut]] & t_reg[head[cut]]]
    x_d = _scaled(c_fin[direct], E + s_sh)
    value += _exact_int_sum(x_d - np.floor(x_d), s_sh) + (int(resid[direct].sum()) << s_sh)
    if free <= 0:
        return s_reg, _times_pow2(value, E)
    code = np.where(s_reg, 1, np.where(t_reg, 2, 0)).astype(np.int8)
    # the arcs left: those with a free end (in one direction or the other each can carry flow
    # out of the s-region or into the t-region); the others join two merged regions
    if free <= few and cache is not None and tail.size > 1 << 14:   # small: one pass is cheaper
        keep = _incident(lay, tail, head, n_nodes, np.flatnonzero(code == 0))
    else:
        keep = np.flatnonzero((code[tail] == 0) | (code[head] == 0))
    if keep.size == 0:
        return s_reg, _times_pow2(value, E)
    ids = np.flatnonzero(code == 0)
    new = np.empty(n_nodes, dtype=np.int64)
    new[ids] = np.arange(ids.size)
    s2, t2 = ids.size, ids.size + 1
    new[s_reg] = s2
    new[t_reg] = t2
    seconds = cache.setdefault("refine_seconds", [math.nan, math.nan]) if cache is not None else None
    side = _refine(new[tail[keep]], new[head[keep]], ids.size + 2, s2, t2, c_fin[keep],
                   finite[keep], resid[keep], flow[keep], E, s_sh, n_rem, value, seconds)
    side_r, value = side
    full = s_reg.copy()
    full[ids] = side_r[:ids.size]
    return full, _times_pow2(value, E)


def _refine(tail: np.ndarray, head: np.ndarray, n_nodes: int, s: int, t: int, c_fin: np.ndarray,
            finite: np.ndarray, rq: np.ndarray, rb: np.ndarray, E: int, s_sh: int, n_rem: int,
            value: int, seconds: list[float] | None = None) -> tuple[np.ndarray, int]:
    """The refinement phases (step 3 of the module docstring) on the contracted network: ``rq``
    and ``rb`` are the forward and backward residuals in units of 2^(E + s_sh), ``value`` the
    flow so far in units of 2^E. Returns (source side over the contracted ids, value)."""
    sat_q, sat_b = ~finite, np.zeros(rq.size, dtype=bool)
    side = np.zeros(n_nodes, dtype=bool)
    side[s] = True
    first = True
    while s_sh > 0:
        if not first:
            cut = np.flatnonzero(side[tail] & ~side[head])
            x_cut = _scaled(c_fin[cut], E + s_sh)
            n_rem = int((x_cut != np.floor(x_cut)).sum())
            if n_rem == 0:
                break            # the flow saturates the cut exactly: certified
        first = False
        d = min(s_sh, 58 - n_rem.bit_length())
        x = _scaled(c_fin, E + s_sh)
        frac = x - np.floor(x)
        s_sh -= d
        cap = (n_rem << d) + 1
        sat = 4 * cap
        part = np.floor(np.ldexp(frac, d)).astype(np.int64)
        lim = sat >> d
        sat_q = sat_q | (rq >= lim)
        sat_b = sat_b | (rb >= lim)
        rq = np.where(sat_q, sat, (np.minimum(rq, lim) << d) + part)
        rb = np.where(sat_b, sat, np.minimum(rb, lim) << d)
        cf, cb = np.minimum(rq, cap), np.minimum(rb, cap)
        direct = (tail == s) & (head == t)   # s -> t arcs carry their capacity in any max flow
        phi = np.where(direct, cf, 0)
        v_direct = int(phi.sum())
        kf = np.flatnonzero((cf > 0) & ~direct)
        kb = np.flatnonzero(cb > 0)
        s0 = n_nodes                          # super source: bounds every preflow by cap
        ptail = np.concatenate([[s0], tail[kf], head[kb]])
        phead = np.concatenate([[s], head[kf], tail[kb]])
        pcap = np.concatenate([[max(cap - v_direct, 0)], cf[kf], cb[kb]])
        solve = lambda rev: ortools_maxflow(ptail, phead, pcap, s0, t, n_nodes + 1, reverse=rev)  # noqa: E731
        v, f, side = solve(True) if seconds is None else _directed(seconds, solve, default=True)
        v += v_direct
        if v >= cap:
            raise SloptError("exact max flow: a refinement phase exceeded its proven bound")
        phi[kf] += f[1:1 + kf.size]           # kf, kb: unique arc indices
        phi[kb] -= f[1 + kf.size:]
        rq = np.where(sat_q, sat, rq - phi)
        rb = np.where(sat_b, sat, rb + phi)
        value += v << s_sh
        side = side[:n_nodes]
    return side, value
