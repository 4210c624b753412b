"""Formulations of P1: the restructured flow network H of Algorithm A (spec §5.1) with its
minimum s-t cut, and the MILP / LP relaxation of §4.3 (plus the §4.4 memory row) in Pyomo and
CVXPY, variables named after the spec's symbols (x_v, y_u)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from slopt.errors import InfeasibleError, SloptError, ValidationError

from .instance import SplitInstance


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
    g = inst.graph
    n = g.n
    src, dst = g.src, g.dst
    outdeg = g.out_degree
    multi = outdeg > 1
    aux_ids = np.flatnonzero(multi)
    aux_of = np.full(n, -1, dtype=np.int64)
    aux_of[aux_ids] = n + np.arange(aux_ids.size)
    s, t = n + aux_ids.size, n + aux_ids.size + 1
    V = np.arange(n, dtype=np.int64)
    inf = np.inf
    const = 0.0
    if net_terminals:
        c = np.where(inst.device_pin, inst.tau_dev_s,
                     np.where(inst.server_pin, inst.tau_srv_s, np.minimum(inst.tau_dev_s, inst.tau_srv_s)))
        const = float(c.sum())
        cap_sv = np.where(inst.device_pin, inf, inst.tau_srv_s - c)
        cap_vt = np.where(inst.server_pin, inf, inst.tau_dev_s - c)
    else:
        cap_sv = np.where(inst.device_pin, inf, inst.tau_srv_s)      # lines 3, 5
        cap_vt = np.where(inst.server_pin, inf, inst.tau_dev_s)      # lines 4, 6
    tau_com = inst.tau_com_s
    e_multi = multi[src]
    tails = [np.full(n, s), V, aux_ids, aux_of[src[e_multi]], src[~e_multi], dst]
    heads = [V, np.full(n, t), aux_of[aux_ids], dst[e_multi], dst[~e_multi], src]
    caps = [cap_sv, cap_vt, tau_com[aux_ids],                        # lines 9
            np.full(int(e_multi.sum()), inf),                        # line 11
            tau_com[src[~e_multi]],                                  # single-successor shortcut
            np.full(src.size, inf)]                                  # line 12
    if not reverse_edges:
        tails, heads, caps = tails[:-1], heads[:-1], caps[:-1]
    tail = np.concatenate(tails).astype(np.int64)
    head = np.concatenate(heads).astype(np.int64)
    cap = np.concatenate(caps)
    if drop_zero:
        keep = cap > 0
        tail, head, cap = tail[keep], head[keep], cap[keep]
    return FlowNetwork(n, t + 1, s, t, tail, head, cap, aux_of, const)


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


def min_cut(net: FlowNetwork, backend: str = "ortools") -> tuple[np.ndarray, float]:
    """A minimum s-t cut of ``net``: (device mask over the layers, cut value in seconds).

    ``backend="ortools"``: OR-Tools ``SimpleMaxFlow`` (push-relabel, C++) on int64 capacities;
    the device side is the set reachable from s in the residual graph, i.e. the *smallest*
    optimal device set (spec §5.1, ties).
    ``backend="networkx"``: networkx ``minimum_cut`` with ``preflow_push`` on the same integer
    capacities, infinite arcs without a ``capacity`` attribute (unbounded for networkx).
    """
    cap, scale, big_m = _integer_capacities(net)
    if backend == "ortools":
        from ortools.graph.python import max_flow

        mf = max_flow.SimpleMaxFlow()
        mf.add_arcs_with_capacity(net.tail, net.head, cap)
        mf.add_arc_with_capacity(net.t, net.s, 0)  # makes s and t exist even when isolated
        status = mf.solve(net.s, net.t)
        if status != mf.OPTIMAL:
            raise SloptError(f"OR-Tools max flow returned {status!r} on {net.n_arcs} arcs")
        value = int(mf.optimal_flow())
        side = np.asarray(mf.get_source_side_min_cut(), dtype=np.int64)
        x = np.zeros(net.n_nodes, dtype=bool)
        x[side] = True
    elif backend == "networkx":
        import networkx as nx
        from networkx.algorithms.flow import preflow_push

        H = nx.DiGraph()
        H.add_nodes_from(range(net.n_nodes))
        # parallel arcs (only possible with duplicate model edges) are merged by summing
        key = net.tail * net.n_nodes + net.head
        uniq, inv = np.unique(key, return_inverse=True)
        agg = np.zeros(uniq.size, dtype=object)
        np.add.at(agg, inv, cap.astype(object))
        inf_arc = np.zeros(uniq.size, dtype=bool)
        inf_arc[inv[~np.isfinite(net.capacity_s)]] = True
        tails, heads = (uniq // net.n_nodes).tolist(), (uniq % net.n_nodes).tolist()
        H.add_edges_from((u, w) for u, w, i in zip(tails, heads, inf_arc.tolist()) if i)
        H.add_edges_from((u, w, {"capacity": int(c)}) for u, w, c, i in
                         zip(tails, heads, agg.tolist(), inf_arc.tolist()) if not i)
        try:
            value, (source_side, _) = nx.minimum_cut(H, net.s, net.t, flow_func=preflow_push)
        except nx.NetworkXUnbounded as exc:
            raise InfeasibleError("contradictory pins: an s-t path of infinite capacity exists",
                                  "pins") from exc
        x = np.zeros(net.n_nodes, dtype=bool)
        x[list(source_side)] = True
    else:
        raise ValidationError(f"backend = {backend!r}; use 'ortools' or 'networkx'", "backend")
    if value >= big_m:
        raise InfeasibleError("contradictory pins: the minimum cut is infinite", "pins")
    return x[:net.n_layers], value / scale + net.constant_s


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


def build_pyomo(inst: SplitInstance, relax: bool = False, memory: bool = True) -> Any:
    """The MILP of spec §4.3 (and its LP relaxation with ``relax``) as a Pyomo model; with a
    finite ``device_memory_bytes`` and ``memory``, the §4.4 row is added."""
    import pyomo.environ as pyo

    d = _milp_data(inst)
    m = pyo.ConcreteModel("dag_split")
    m.V = pyo.Set(initialize=d["V"], doc="layers")
    m.E = pyo.Set(initialize=d["E"], dimen=2, doc="edges (u, w): output of u feeds w")
    m.U = pyo.Set(initialize=d["U"], doc="layers with at least one successor")
    m.tau_dev = pyo.Param(m.V, initialize=dict(enumerate(d["tau_dev"].tolist())), doc="Eq. 1, s")
    m.tau_srv = pyo.Param(m.V, initialize=dict(enumerate(d["tau_srv"].tolist())), doc="Eq. 2, s")
    m.tau_com = pyo.Param(m.V, initialize=dict(enumerate(d["tau_com"].tolist())), doc="Eq. 3, s")
    # initialize=0: a layer with tau_dev = tau_srv and no edge appears in no row of the LP file,
    # and CBC / GLPK then return no value for it (0 is optimal for such a variable)
    m.x = pyo.Var(m.V, domain=pyo.UnitInterval if relax else pyo.Binary, initialize=0,
                  doc="1 if v on the device")
    m.y = pyo.Var(m.U, bounds=(0, 1), initialize=0, doc="1 if the output of u crosses (Eq. 5)")

    m.T = pyo.Objective(expr=sum(m.tau_srv[v] for v in m.V)
                        + sum((m.tau_dev[v] - m.tau_srv[v]) * m.x[v] for v in m.V)
                        + sum(m.tau_com[u] * m.y[u] for u in m.U), sense=pyo.minimize,
                        doc="Eq. 6 in the x, y variables of §4.3")

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
    return m


def build_cvxpy(inst: SplitInstance, relax: bool = False, memory: bool = True) -> Any:
    """The same MILP / LP (spec §4.3, §4.4) as a vectorised ``cvxpy.Problem``."""
    import cvxpy as cp

    d = _milp_data(inst)
    n = inst.n
    x = cp.Variable(n, boolean=not relax, name="x")
    y = cp.Variable(n, name="y")
    src, dst = d["src"], d["dst"]
    m = src.size
    rows = np.arange(m)
    # sparse edge-incidence matrices (vectorised build; CVXPY's fancy indexing is slow at 10^4+)
    S = sp.csr_matrix((np.ones(m), (rows, src)), shape=(m, n))   # picks x_u of edge (u, w)
    W = sp.csr_matrix((np.ones(m), (rows, dst)), shape=(m, n))   # picks x_w
    cons = [y >= 0, y <= 1]
    if relax:
        cons += [x >= 0, x <= 1]
    if m:
        cons += [W @ x <= S @ x,                    # C2
                 S @ y >= S @ x - W @ x]            # Eq. 5 linearised
    if d["V_dev"]:
        P = sp.csr_matrix((np.ones(len(d["V_dev"])), (np.arange(len(d["V_dev"])), d["V_dev"])),
                          shape=(len(d["V_dev"]), n))
        cons.append(P @ x == 1)                     # C1 / device pins
    if d["V_srv"]:
        P = sp.csr_matrix((np.ones(len(d["V_srv"])), (np.arange(len(d["V_srv"])), d["V_srv"])),
                          shape=(len(d["V_srv"]), n))
        cons.append(P @ x == 0)                     # V_srv
    if memory and math.isfinite(d["M_dev"]):
        cons.append(d["m"] @ x <= d["M_dev"])       # §4.4
    obj = float(d["tau_srv"].sum()) + (d["tau_dev"] - d["tau_srv"]) @ x + d["tau_com"] @ y
    return cp.Problem(cp.Minimize(obj), cons)


def formulations(inst: SplitInstance) -> dict[str, Any]:
    """Zero-argument builders of fresh models whose optimum is T* (LPs only without memory)."""
    out = {"milp-pyomo": lambda: build_pyomo(inst), "milp-cvxpy": lambda: build_cvxpy(inst)}
    if math.isinf(inst.device_memory_bytes):
        out |= {"lp-pyomo": lambda: build_pyomo(inst, relax=True),
                "lp-cvxpy": lambda: build_cvxpy(inst, relax=True)}
    return out
