"""Formulations of P1: the restructured flow network H of Algorithm A (spec §5.1) with its
minimum s-t cut, and the MILP / LP relaxation of §4.3 (plus the §4.4 memory row) in Pyomo and
CVXPY, variables named after the spec's symbols (x_v, y_u)."""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field
from collections.abc import Callable
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import numpy as np

from slopt.dyadic import dyadic, exact_sum
from slopt.errors import InfeasibleError, ValidationError
from slopt.maxflow import exact_min_cut
from slopt.profiles import ModelGraph

from .instance import SplitInstance

#: ``extra_constraints(model, instance) -> None``: adds rows to a formulation before it is solved
ExtraConstraints = Callable[[Any, SplitInstance], None]


@dataclass(frozen=True)
class FlowNetwork:
    """The restructured flow network H of Algorithm A (spec §5.1).

    Vertices ``0..n-1`` are the layers, ``n..n+n_aux-1`` the auxiliary vertices u-hat, then
    ``s`` (device terminal) and ``t`` (server terminal). Arc i goes ``tail[i] -> head[i]`` with
    capacity ``capacity_s[i]`` (seconds; ``inf`` for the infinite arcs).
    """

    n_layers: int
    n_nodes: int
    s: int
    t: int
    tail: np.ndarray
    head: np.ndarray
    capacity_s: np.ndarray
    aux_of: np.ndarray  # auxiliary vertex of each layer, -1 if none
    constant_s: float = 0.0  # delay paid by every cut (netted terminal arcs), added to the cut
    constant_terms: np.ndarray | None = None  # the terms whose exact sum is constant_s
    structure: Any = field(default=None, repr=False, compare=False)  # cached arcs, solver

    @property
    def n_arcs(self) -> int:
        return int(self.tail.size)


def flow_network(inst: SplitInstance, drop_zero: bool = True, reverse_edges: bool = True,
                 net_terminals: bool = False) -> FlowNetwork:
    """Lines 1-12 of Algorithm A, vectorised (no Python loop over edges).

    * line 3: (s, v) with capacity tau_srv_v (cut iff v is on the server);
    * line 4: (v, t) with capacity tau_dev_v (cut iff v is on the device);
    * lines 5-6: inf on (s, v) for device pins (V_in) and on (v, t) for server pins;
    * lines 8-11: for u with several successors, an auxiliary vertex u-hat, (u, u-hat) with
      capacity tau_com_u and (u-hat, w) = inf for each successor w; for u with one successor the
      single edge (u, w) with capacity tau_com_u (spec §5.1: "the result is identical");
    * line 12: (w, u) = inf for every edge (u, w) of G (C2; necessary, Claim 6.2 -- only the
      test of that claim turns them off with ``reverse_edges=False``).

    ``net_terminals=True`` (not the spec's construction; an equivalent one for speed): each
    layer pays c_v = min(tau_dev_v, tau_srv_v) (its pinned side's delay if pinned) as a constant
    and keeps a single terminal arc for the difference, so about half the terminal arcs vanish
    and less flow is pushed; every cut value shifts by the same sum of c_v.
    """
    if not net_terminals:
        st = _structure(inst, drop_zero, reverse_edges)
        vals = np.concatenate([inst.tau_srv_s, inst.tau_dev_s, inst.tau_com_s, [np.inf]])
        return FlowNetwork(inst.n, st["t"] + 1, st["s"], st["t"], st["tail"], st["head"],
                           vals[st["value"]], st["aux_of"], 0.0, None, st)
    g = inst.graph
    n = g.n
    c = np.where(inst.device_pin, inst.tau_dev_s,
                 np.where(inst.server_pin, inst.tau_srv_s, np.minimum(inst.tau_dev_s, inst.tau_srv_s)))
    # net only where the difference is exact in float64 (so that no cut value changes)
    hi = np.maximum(inst.tau_dev_s, inst.tau_srv_s)
    c = np.where(((hi - c) - hi) + c == 0.0, c, 0.0)
    cap_sv = np.where(inst.device_pin, np.inf, inst.tau_srv_s - c)
    cap_vt = np.where(inst.server_pin, np.inf, inst.tau_dev_s - c)
    tail, head, value, aux_of, s, t = _arcs(g, inst.device_pin, inst.server_pin, reverse_edges)
    vals = np.concatenate([cap_sv, cap_vt, inst.tau_com_s, [np.inf]])
    cap = vals[value]
    if drop_zero:
        keep = cap > 0
        tail, head, cap = tail[keep], head[keep], cap[keep]
    return FlowNetwork(n, t + 1, s, t, tail, head, cap, aux_of, math.fsum(c.tolist()), c)


def _arcs(g: ModelGraph, device_pin: np.ndarray, server_pin: np.ndarray, reverse_edges: bool
          ) -> tuple[np.ndarray, ...]:
    """The arcs of H (lines 1-12) and, for each, the index of its capacity in the vector
    [tau_srv (n), tau_dev (n), tau_com (n), inf]."""
    n = g.n
    src, dst = g.src, g.dst
    multi = g.out_degree > 1
    aux_ids = np.flatnonzero(multi)
    aux_of = np.full(n, -1, dtype=np.int64)
    aux_of[aux_ids] = n + np.arange(aux_ids.size)
    s, t = n + aux_ids.size, n + aux_ids.size + 1
    V = np.arange(n, dtype=np.int64)
    INF = 3 * n
    e_multi = multi[src]
    tails = [np.full(n, s), V, aux_ids, aux_of[src[e_multi]], src[~e_multi], dst]
    heads = [V, np.full(n, t), aux_of[aux_ids], dst[e_multi], dst[~e_multi], src]
    value = [np.where(device_pin, INF, V), np.where(server_pin, INF, n + V),   # lines 3-6
             2 * n + aux_ids,                                                # line 9
             np.full(int(e_multi.sum()), INF),                               # line 11
             2 * n + src[~e_multi],                                          # single successor
             np.full(src.size, INF)]                                         # line 12
    if not reverse_edges:
        tails, heads, value = tails[:-1], heads[:-1], value[:-1]
    ix = np.int32 if t + 2 < 2 ** 31 else np.int64  # int32 ids: half the memory traffic
    tail = np.concatenate([np.asarray(a, dtype=ix) for a in tails])
    head = np.concatenate([np.asarray(a, dtype=ix) for a in heads])
    return tail, head, np.concatenate(value), aux_of, s, t


#: per graph: the arcs of H for the last (pins, zero pattern) seen, reused when only the rates
#: change (the dynamic study re-splits one graph per slot); also holds the OR-Tools solver
_STRUCTURES: "weakref.WeakKeyDictionary[ModelGraph, dict[str, Any]]" = weakref.WeakKeyDictionary()


def _structure(inst: SplitInstance, drop_zero: bool, reverse_edges: bool) -> dict[str, Any]:
    """The cached arcs of H for this graph, pins and pattern of zero delays (a zero delay drops
    its arc), rebuilt when any of them changed."""
    zero = np.concatenate([inst.tau_srv_s == 0, inst.tau_dev_s == 0, inst.tau_com_s == 0])
    key = (drop_zero, reverse_edges, np.packbits(inst.device_pin).tobytes(),
           np.packbits(inst.server_pin).tobytes(), np.packbits(zero).tobytes() if drop_zero else b"")
    st = _STRUCTURES.get(inst.graph)
    if st is not None and st["key"] == key:
        return st
    tail, head, value, aux_of, s, t = _arcs(inst.graph, inst.device_pin, inst.server_pin,
                                            reverse_edges)
    if drop_zero:
        keep = ~np.append(zero, False)[value]
        tail, head, value = tail[keep], head[keep], value[keep]
    st = {"key": key, "tail": tail, "head": head, "value": value, "aux_of": aux_of, "s": s, "t": t}
    _STRUCTURES[inst.graph] = st
    return st


def _integer_capacities(net: FlowNetwork) -> tuple[np.ndarray, float, int]:
    """Scale capacities to int64 (spec §5.1 floating-point note) and replace inf by big-M.

    The scale makes the sum of finite capacities about 2^62 / (k + 2), k = number of infinite
    arcs out of s, so that every preflow stays below 2^63 and rounding is at float64 precision.
    Returns ``(capacities, scale, M)``.
    """
    finite = np.isfinite(net.capacity_s)
    total = float(net.capacity_s[finite].sum())
    k = int((~finite & (net.tail == net.s)).sum())
    budget = float(2 ** 62) / (k + 2)
    scale = budget / total if total > 0 else 1.0
    cap = np.zeros(net.capacity_s.size, dtype=np.int64)
    cap[finite] = np.rint(net.capacity_s[finite] * scale).astype(np.int64)
    big_m = int(cap[finite].sum()) + 1
    cap[~finite] = big_m
    return cap, scale, big_m


def _networkx_exact(net: FlowNetwork) -> tuple[np.ndarray, Fraction]:
    """networkx ``preflow_push`` on exact Python-integer capacities (dyadic floats scaled by the
    smallest power of two, no rounding); the device side is the set reachable from s in the
    residual graph, the same tie rule as OR-Tools. Pure Python: the readable reference."""
    import networkx as nx
    from networkx.algorithms.flow import preflow_push

    finite = np.isfinite(net.capacity_s)
    M, e = dyadic(net.capacity_s[finite])
    E = int(e[M != 0].min()) if (M != 0).any() else 0
    ints = np.zeros(net.n_arcs, dtype=object)
    ints[finite] = [int(m) << int(k - E) if m else 0 for m, k in zip(M.tolist(), e.tolist())]
    H = nx.DiGraph()
    H.add_nodes_from(range(net.n_nodes))
    for u, w, c, fin in zip(net.tail.tolist(), net.head.tolist(), ints.tolist(), finite.tolist()):
        if not fin:  # no capacity attribute: unbounded for networkx
            H.add_edge(u, w)
            H[u][w].pop("capacity", None)
        elif H.has_edge(u, w):  # parallel arcs (duplicate model edges) are merged by summing
            if "capacity" in H[u][w]:
                H[u][w]["capacity"] += c
        else:
            H.add_edge(u, w, capacity=c)
    try:
        R = preflow_push(H, net.s, net.t)
    except nx.NetworkXUnbounded as exc:
        raise InfeasibleError("contradictory pins: an s-t path of infinite capacity exists",
                              "pins") from exc
    inf = R.graph["inf"]
    if R.graph["flow_value"] >= inf:
        raise InfeasibleError("contradictory pins: the minimum cut is infinite", "pins")
    seen, stack = {net.s}, [net.s]
    while stack:
        u = stack.pop()
        for w, attr in R[u].items():
            if w not in seen and attr["capacity"] - attr["flow"] > 0:
                seen.add(w)
                stack.append(w)
    x = np.zeros(net.n_nodes, dtype=bool)
    x[list(seen)] = True
    return x, Fraction(R.graph["flow_value"]) * Fraction(2) ** E


def _exact_maxflow(net: FlowNetwork) -> tuple[np.ndarray, Fraction] | None:
    """The exact minimum cut of ``net`` with int64 OR-Tools max flows by iterative refinement
    (:func:`slopt.maxflow.exact_min_cut`); the network's cached structure keeps the solver and
    the index tables. None when the exponent range is beyond float64 scaling."""
    return exact_min_cut(net.tail, net.head, net.capacity_s, net.s, net.t, net.n_nodes,
                         net.structure)


def min_cut(net: FlowNetwork, backend: str = "ortools") -> tuple[np.ndarray, float]:
    """(device mask, cut value in seconds rounded once): :func:`min_cut_exact` as floats."""
    x, value = min_cut_exact(net, backend)
    return x, float(value)


def min_cut_exact(net: FlowNetwork, backend: str = "ortools") -> tuple[np.ndarray, Fraction]:
    """The minimum s-t cut of ``net``: (device mask over the layers, exact cut value in s).

    Exact: capacities are floats, i.e. dyadic rationals, and both backends compute the minimum
    cut of those exact values (no tolerance). The device side is the set reachable from s in the
    residual graph of a maximum flow, i.e. the *smallest* optimal device set, which is unique
    (spec §5.1, ties). The cut value is the exact minimum (plus the exact constant of a netted
    network), rounded once to the nearest float.

    ``backend="ortools"``: OR-Tools ``SimpleMaxFlow`` (C++ push-relabel) in int64 with exact
    refinement phases (:func:`_exact_maxflow`).
    ``backend="networkx"``: networkx ``preflow_push`` on Python integers (:func:`_networkx_exact`).
    """
    if backend == "ortools":
        out = _exact_maxflow(net)
        x, value = out if out is not None else _networkx_exact(net)
    elif backend == "networkx":
        x, value = _networkx_exact(net)
    else:
        raise ValidationError(f"backend = {backend!r}; use 'ortools' or 'networkx'", "backend")
    if net.constant_terms is not None:
        value += exact_sum(net.constant_terms)
    return x[:net.n_layers], value


def _milp_data(inst: SplitInstance) -> dict[str, Any]:
    """Data wrangling for the MILP of §4.3, kept apart from model building."""
    g = inst.graph
    pairs = np.unique(np.stack([g.src, g.dst]), axis=1) if g.m else np.zeros((2, 0), dtype=np.int64)
    has_succ = np.flatnonzero(g.out_degree > 0)
    return {"V": list(range(g.n)), "E": list(zip(pairs[0].tolist(), pairs[1].tolist())),
            "U": has_succ.tolist(), "src": pairs[0], "dst": pairs[1],
            "tau_dev": inst.tau_dev_s, "tau_srv": inst.tau_srv_s, "tau_com": inst.tau_com_s,
            "V_dev": np.flatnonzero(inst.device_pin).tolist(),
            "V_srv": np.flatnonzero(inst.server_pin).tolist(), "m": inst.memory_bytes,
            "M_dev": inst.device_memory_bytes}


def build_pyomo(inst: SplitInstance, relax: bool = False, memory: bool = True,
                extra_constraints: ExtraConstraints | None = None,
                objective_scale: float = 1.0) -> Any:
    """The MILP of spec §4.3 (and its LP relaxation with ``relax``) as a Pyomo model; with a
    finite ``device_memory_bytes`` and ``memory``, the §4.4 row is added.

    The objective is Eq. 6 in the form without cancellation, T = sum_v tau_dev_v x_v +
    sum_v tau_srv_v s_v + sum_u tau_com_u y_u with s_v = 1 - x_v (``partition``): every
    coefficient is a delay as given, none is a difference tau_dev - tau_srv. ``objective_scale``
    (a power of two, so that scaling is exact) multiplies it for the solver's tolerances.
    ``extra_constraints(model, inst)`` may add components (rows, variables) before returning.
    """
    import pyomo.environ as pyo

    d = _milp_data(inst)
    m = pyo.ConcreteModel("dag_split")
    m.V = pyo.Set(initialize=d["V"], doc="layers")
    m.E = pyo.Set(initialize=d["E"], dimen=2, doc="edges (u, w): output of u feeds w")
    m.U = pyo.Set(initialize=d["U"], doc="layers with at least one successor")
    m.tau_dev = pyo.Param(m.V, initialize=dict(enumerate(d["tau_dev"].tolist())), doc="Eq. 1, s")
    m.tau_srv = pyo.Param(m.V, initialize=dict(enumerate(d["tau_srv"].tolist())), doc="Eq. 2, s")
    m.tau_com = pyo.Param(m.V, initialize=dict(enumerate(d["tau_com"].tolist())), doc="Eq. 3, s")
    # initialize=0: a layer with no edge appears in few rows of the LP file, and CBC / GLPK then
    # may return no value for it
    m.x = pyo.Var(m.V, domain=pyo.UnitInterval if relax else pyo.Binary, initialize=0,
                  doc="1 if v on the device (v in D)")
    m.s = pyo.Var(m.V, bounds=(0, 1), initialize=1, doc="1 if v on the server (v in S = V \\ D)")
    m.y = pyo.Var(m.U, bounds=(0, 1), initialize=0, doc="1 if the output of u crosses (Eq. 5)")

    m.T = pyo.Objective(expr=objective_scale * (
        sum(m.tau_dev[v] * m.x[v] for v in m.V) + sum(m.tau_srv[v] * m.s[v] for v in m.V)
        + sum(m.tau_com[u] * m.y[u] for u in m.U)), sense=pyo.minimize,
        doc="Eq. 6: device + server compute + crossing tensors (x objective_scale)")

    @m.Constraint(m.V, doc="S = V \\ D: x_v + s_v = 1")
    def partition(m, v):
        return m.x[v] + m.s[v] == 1

    @m.Constraint(m.E, doc="C2: w on the device => u on the device")
    def closure(m, u, w):
        return m.x[w] <= m.x[u]

    @m.Constraint(m.E, doc="Eq. 5 linearised: y_u >= x_u - x_w")
    def crossing(m, u, w):
        return m.y[u] >= m.x[u] - m.x[w]

    @m.Constraint(d["V_dev"], doc="C1 and device pins: x_v = 1")
    def device_pin(m, v):
        return m.x[v] == 1

    @m.Constraint(d["V_srv"], doc="server pins V_srv: x_v = 0")
    def server_pin(m, v):
        return m.x[v] == 0

    if memory and math.isfinite(d["M_dev"]):
        mv = d["m"].tolist()
        m.memory = pyo.Constraint(expr=sum(mv[v] * m.x[v] for v in m.V) <= d["M_dev"],
                                  doc="§4.4: sum_{v in D} m_v <= M_dev")
    if extra_constraints is not None:
        extra_constraints(m, inst)
    return m


def build_cvxpy(inst: SplitInstance, relax: bool = False, memory: bool = True,
                extra_constraints: ExtraConstraints | None = None,
                objective_scale: float = 1.0) -> Any:
    """The same MILP / LP (spec §4.3, §4.4) as a vectorised ``cvxpy.Problem`` (objective without
    cancellation, as :func:`build_pyomo`).

    ``extra_constraints(model, inst)`` receives a namespace with the variables ``x``, ``s``,
    ``y`` (CVXPY vectors over the layers) and the list ``constraints``, to which it may append;
    the problem is built from that list afterwards.
    """
    import cvxpy as cp

    d = _milp_data(inst)
    n = inst.n
    x = cp.Variable(n, boolean=not relax, name="x")
    s = cp.Variable(n, name="s")
    y = cp.Variable(n, name="y")
    src, dst = d["src"], d["dst"]
    cons = [y >= 0, y <= 1, x + s == 1, s >= 0, s <= 1]         # S = V \ D
    if relax:
        cons += [x >= 0, x <= 1]
    if src.size:  # index vectors (measured as fast as sparse incidence matrices at 10^4 layers)
        cons += [x[dst] <= x[src],                  # C2
                 y[src] >= x[src] - x[dst]]         # Eq. 5 linearised
    for key, val in (("V_dev", 1), ("V_srv", 0)):   # C1 / device pins, V_srv
        if d[key]:
            cons.append(x[np.asarray(d[key])] == val)
    if memory and math.isfinite(d["M_dev"]):
        cons.append(d["m"] @ x <= d["M_dev"])       # §4.4
    if extra_constraints is not None:
        ns = SimpleNamespace(x=x, s=s, y=y, constraints=cons)
        extra_constraints(ns, inst)
        cons = ns.constraints
    obj = objective_scale * (d["tau_dev"] @ x + d["tau_srv"] @ s + d["tau_com"] @ y)
    return cp.Problem(cp.Minimize(obj), cons)


def formulations(inst: SplitInstance, extra_constraints: ExtraConstraints | None = None
                 ) -> dict[str, Any]:
    """Zero-argument builders of fresh models whose optimum is T* (LPs only without memory or
    extra constraints, where the relaxation is tight)."""
    ec = extra_constraints
    out = {"milp-pyomo": lambda: build_pyomo(inst, extra_constraints=ec),
           "milp-cvxpy": lambda: build_cvxpy(inst, extra_constraints=ec)}
    if math.isinf(inst.device_memory_bytes) and ec is None:
        out |= {"lp-pyomo": lambda: build_pyomo(inst, relax=True),
                "lp-cvxpy": lambda: build_cvxpy(inst, relax=True)}
    return out
