"""slopt.maxflow.exact_min_cut against an independent exact reference.

The reference here shares no code with slopt: capacities become Python integers through
``fractions.Fraction`` (exact for floats), networkx's Edmonds-Karp computes the maximum flow,
and the smallest minimum cut is the set reachable from s in the residual graph, found by this
file's own search. Networks are generic (cycles, parallel arcs, zero and infinite capacities,
arcs into s and out of t, s -> t arcs) with capacities over many decades and near-ties, sizes up
to a few thousand vertices, so that the refinement phases, the region merges (every path:
generic rounds, only the few-vertex path, none) and the closed-form s-t arcs are all exercised.
"""

from __future__ import annotations

import math
from fractions import Fraction

import networkx as nx
import numpy as np
import pytest
from conftest import FULL

from slopt.errors import InfeasibleError
from slopt import maxflow
from slopt.maxflow import exact_min_cut

N_CASES = 60 if FULL else 16


def reference(tail, head, cap, s, t, n):
    """(exact max-flow value as a Fraction, smallest source side as a bool mask) or None when
    the minimum cut is infinite."""
    fin = [math.isfinite(c) for c in cap]
    fr = [Fraction(c) if f else None for c, f in zip(cap, fin)]
    den = 1
    for f in fr:
        if f is not None:
            den = max(den, f.denominator)   # powers of two: the largest is a common multiple
    G = nx.DiGraph()
    G.add_nodes_from(range(n))
    for u, w, f in zip(tail, head, fr):
        if u == w:
            continue
        c = None if f is None else int(f * den)
        if G.has_edge(u, w):
            old = G[u][w].get("capacity")
            if old is None or c is None:
                G[u][w].pop("capacity", None)
            else:
                G[u][w]["capacity"] = old + c
        elif c is None:
            G.add_edge(u, w)
        else:
            G.add_edge(u, w, capacity=c)
    try:
        R = nx.algorithms.flow.edmonds_karp(G, s, t)
    except nx.NetworkXUnbounded:
        return None
    if R.graph["flow_value"] >= R.graph["inf"]:
        return None
    seen, stack = {s}, [s]
    while stack:
        u = stack.pop()
        for w, a in R[u].items():
            if w not in seen and a["capacity"] - a["flow"] > 0:
                seen.add(w)
                stack.append(w)
    side = np.zeros(n, dtype=bool)
    side[list(seen)] = True
    return Fraction(R.graph["flow_value"], den), side


def capacities(rng, m, kind):
    if kind == "decades":
        c = 10.0 ** rng.uniform(-12, 8, m) * rng.uniform(0.5, 1, m)
    elif kind == "near-tie":
        eps = float(rng.choice([2.0 ** -30, 2.0 ** -45, 2.0 ** -52]))
        c = rng.choice([1e-3, 2e-3, 3e-3], m) * (1 + eps * rng.integers(0, 4, m))
        c = np.where(rng.random(m) < 0.1, 1e9, c)
    else:   # dyadic values with a few bits: exact ties everywhere
        c = rng.integers(0, 8, m) * 2.0 ** rng.integers(-40, 40, m)
    c = np.where(rng.random(m) < 0.08, 0.0, c)
    return np.where(rng.random(m) < 0.1, np.inf, c)


def network(seed):
    """A random network: inner arcs (cycles, parallel arcs), terminal arcs to most vertices,
    a few arcs into s / out of t and s -> t."""
    rng = np.random.default_rng(seed)
    n_in = int(rng.choice([20, 150, 600]))
    n = n_in + 2
    s, t = n_in, n_in + 1
    m_in = int(n_in * rng.uniform(1.5, 4))
    tail = [rng.integers(0, n_in, m_in)]
    head = [rng.integers(0, n_in, m_in)]
    for ends, term in ((0, s), (1, t)):   # terminal arcs for ~90 % of the vertices
        v = np.flatnonzero(rng.random(n_in) < 0.9)
        tail.append(np.full(v.size, term) if ends == 0 else v)
        head.append(v if ends == 0 else np.full(v.size, term))
    odd = rng.integers(0, n_in, 3)
    tail.append(np.array([odd[0], t, s]))
    head.append(np.array([s, odd[1], t]))
    tail, head = np.concatenate(tail).astype(np.int64), np.concatenate(head).astype(np.int64)
    kind = ["decades", "near-tie", "few-bits"][seed % 3]
    cap = capacities(rng, tail.size, kind)
    # no infinite terminal arcs on both sides of one vertex too often: keep most cuts finite
    cap[(tail == s) | (head == t)] = np.where(rng.random(int(((tail == s) | (head == t)).sum())) < 0.02,
                                              np.inf, np.nan_to_num(cap[(tail == s) | (head == t)],
                                                                    posinf=1.0))
    if seed % 2 == 0:   # equal delays on both terminal arcs of many vertices (exact ties)
        a = {int(w): i for i, (u, w) in enumerate(zip(tail, head)) if u == s}
        for i, (u, w) in enumerate(zip(tail.tolist(), head.tolist())):
            if w == t and u in a and np.isfinite(cap[a[u]]) and rng.random() < 0.5:
                cap[i] = cap[a[u]]
    return tail, head, cap, s, t, n


@pytest.mark.parametrize("seed", range(N_CASES))
@pytest.mark.parametrize("path", ["default", "rounds", "few", "no-merge", "tiny", "second-call"])
def test_exact_min_cut_equals_the_reference(seed, path, monkeypatch):
    tail, head, cap, s, t, n = network(seed)
    ref = reference(tail.tolist(), head.tolist(), cap.tolist(), s, t, n)
    kw = {"default": {"tiny": 0}, "rounds": {"few": 0, "tiny": 0}, "few": {"few": 10 ** 9, "tiny": 0},
          "no-merge": {"few": 0, "max_rounds": 0, "tiny": 0}, "tiny": {"tiny": 10 ** 9},
          "second-call": {"tiny": 0}}[path]
    cache = {} if path != "rounds" else None
    if ref is None:
        with pytest.raises(InfeasibleError):
            exact_min_cut(tail, head, cap, s, t, n, cache, **kw)
        return
    if path == "second-call":   # the second call on a cache runs each max flow the other way
        monkeypatch.setattr(maxflow, "PROBE_S", 0.0)
        exact_min_cut(tail, head, cap, s, t, n, cache, **kw)
    out = exact_min_cut(tail, head, cap, s, t, n, cache, **kw)
    assert out is not None
    side, value = out
    assert value == ref[0]
    assert np.array_equal(side, ref[1])
    if path == "second-call":
        assert not math.isnan(cache["phase1"]["seconds"][True])   # phase 1 ran t -> s


def test_warm_cache_follows_new_capacities():
    """The same cache (solver, index tables) with new finite capacities gives the new answer."""
    tail, head, cap, s, t, n = network(4)
    rng = np.random.default_rng(0)
    cache: dict = {}
    for k in range(4):
        c = cap.copy()
        f = np.isfinite(c)
        c[f] = c[f] * rng.uniform(0.5, 2.0, int(f.sum()))
        ref = reference(tail.tolist(), head.tolist(), c.tolist(), s, t, n)
        if ref is None:
            continue
        side, value = exact_min_cut(tail, head, c, s, t, n, cache)
        assert value == ref[0] and np.array_equal(side, ref[1])
    assert "phase1" in cache and "layout" in cache   # solver kept per pattern of netted sides


def test_closed_form_s_t_arcs_and_phase_two():
    """A cut made only of s -> v arcs whose remainders are below the phase-1 scale: the regions
    hold every vertex, and the value comes from the closed form (checked by hand)."""
    n_in = 50
    s, t = n_in, n_in + 1
    v = np.arange(n_in)
    tail = np.concatenate([np.full(n_in, s), v])
    head = np.concatenate([v, np.full(n_in, t)])
    small = 1.0 + np.arange(n_in) * 2.0 ** -52      # remainders far below the phase-1 unit
    cap = np.concatenate([small, np.full(n_in, 2.0 ** 70)])
    side, value = exact_min_cut(tail, head, cap, s, t, n_in + 2, {})
    assert value == sum(Fraction(c) for c in small.tolist())
    assert side.sum() == 1 and side[s]
