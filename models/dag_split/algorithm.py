"""The paper's method: Algorithm A (minimum s-t cut of the restructured DAG, spec §5.1) and the
block-wise Algorithms B1 (block abstraction) and B2 (block abstraction with exact in-block
refinement and memoisation of repeated blocks), spec §5.3."""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from slopt.errors import InfeasibleError, ValidationError
from slopt.profiles import ModelGraph

from .formulations import flow_network, min_cut
from .instance import SplitInstance, check_pins, forced_device, forced_server
from .system import crossing, exact_delay


def algorithm_a(inst: SplitInstance, backend: str = "ortools", net_terminals: bool = False
                ) -> tuple[np.ndarray, float]:
    """Algorithm A (spec §5.1): device mask D* and the cut value (s) of a minimum s-t cut
    (``net_terminals``: the equivalent network with netted terminal arcs, see :func:`flow_network`).

    Exact (:func:`min_cut`): D* is the smallest optimal device set and the cut value is the exact
    optimum T* rounded once to a float, which equals ``evaluate(inst, D*)["delay_s"]`` (line 15).
    """
    return min_cut(flow_network(inst, net_terminals=net_terminals), backend)


# --------------------------------------------------------------------------- 4. Algorithms B1, B2
def _units(inst: SplitInstance) -> tuple[np.ndarray, int]:
    """Block code of each layer (unlabelled layers: one-layer blocks) and the block count."""
    codes, names = inst.graph.block_codes
    return codes, len(names)


def algorithm_b1(inst: SplitInstance, backend: str = "ortools") -> tuple[np.ndarray, float]:
    """Algorithm B1 (spec §5.3): collapse every block into one vertex beta_b with summed compute
    delays and the communication delay of its exit layer(s), run Algorithm A on the simplified
    DAG and expand. Cuts only at block boundaries (optimal under Claim 6.6).

    For a block with several exit layers (not single-exit), tau_com_beta is the sum of the exits'
    tau_com (an upper bound on what crossing costs); :func:`evaluate` re-prices the expanded split.
    """
    g = inst.graph
    codes, k = _units(inst)
    cross = codes[g.src] != codes[g.dst]
    exits = np.zeros(g.n, dtype=bool)
    exits[g.src[cross]] = True
    qs, qd = codes[g.src[cross]], codes[g.dst[cross]]
    pairs = np.unique(np.stack([qs, qd]), axis=1) if qs.size else np.zeros((2, 0), dtype=np.int64)
    w = lambda a: np.bincount(codes, weights=a, minlength=k)  # noqa: E731
    dev_pin = np.bincount(codes, weights=inst.device_pin, minlength=k) > 0
    srv_pin = np.bincount(codes, weights=inst.server_pin, minlength=k) > 0
    if (dev_pin & srv_pin).any():
        b = int(np.flatnonzero(dev_pin & srv_pin)[0])
        raise InfeasibleError(f"B1: block {g.block_codes[1][b]!r} holds both a device-pinned and a "
                              "server-pinned layer; block granularity cannot split it (use A or B2)",
                              "pins")
    try:
        qg = ModelGraph(forward_flop=np.zeros(k), backward_flop=np.zeros(k), param_bytes=np.zeros(k),
                        activation_bytes=np.zeros(k), src=pairs[0], dst=pairs[1], name="blocks")
    except ValidationError as exc:
        raise ValidationError(f"B1: the block-level graph is not a DAG ({exc}); the block labels "
                              "are not convex regions", "block") from exc
    com = w(np.where(exits, inst.tau_com_s, 0.0))
    dn = w(np.where(exits, inst.tau_dn_s, 0.0))
    q = SplitInstance(qg, w(inst.tau_dev_s), w(inst.tau_srv_s), com - dn, dn, dev_pin, srv_pin,
                      w(inst.memory_bytes), inst.device_memory_bytes, {})
    check_pins(q)
    qx, value = algorithm_a(q, backend)
    return qx[codes], value


@dataclass(frozen=True)
class MacroChain:
    """A macro-chain (spec §5.3): units U_0..U_{K-1} in order; unit k's entry is the exit of
    unit k-1 (p_k = o_{k-1}) and its exit o_k is its only layer with successors outside it.

    Also holds the per-unit tables B2 needs (computed once per graph and cached): layers sorted
    by (unit, topological position) in ``order`` with ``start``/``size`` per unit, the local
    index of each layer, and a structure id per unit (same id = same local edge list and size).
    """

    unit: np.ndarray    # unit (0..K-1, chain order) of each layer
    exit: np.ndarray    # o_k, shape (K,)
    k: int
    order: np.ndarray   # layers sorted by (unit, topological position)
    start: np.ndarray   # first position of unit k in ``order``
    size: np.ndarray    # layers per unit
    local: np.ndarray   # index of each layer inside its unit
    struct: np.ndarray  # structure class of each unit
    is_exit: np.ndarray  # layer is some o_k
    eorder: np.ndarray  # edges sorted by (unit of head, local source, local head)
    estart: np.ndarray  # first position of unit k's entry/internal edges in ``eorder``
    esize: np.ndarray
    unit_sorted: np.ndarray   # unit of the layer at each position of ``order``
    local_sorted: np.ndarray  # local index of the layer at each position of ``order``
    weight: np.ndarray        # fixed pseudo-random weight per position (memo projection)
    ordered: bool             # ``order`` is the identity


_MACRO_CACHE: "weakref.WeakKeyDictionary[ModelGraph, MacroChain | str]" = weakref.WeakKeyDictionary()


def macro_chain(graph: ModelGraph | SplitInstance) -> MacroChain | str:
    """Decompose G into a macro-chain of single-entry/single-exit blocks, or say why not.

    Units are the profile's blocks (``graph.block``; unlabelled layers are one-layer units),
    ordered by their first layer in a topological order. Checks (all vectorised): every
    inter-unit edge goes from unit k to unit k+1 and leaves from one layer o_k; the only layer
    without successors is in the last unit (so every layer of a unit is an ancestor of its exit);
    every input layer is in the first unit. Returns a :class:`MacroChain` (cached per graph) or a
    string naming the first violated condition.
    """
    g = graph.graph if isinstance(graph, SplitInstance) else graph
    if g in _MACRO_CACHE:
        return _MACRO_CACHE[g]
    out = _macro_chain(g)
    _MACRO_CACHE[g] = out
    return out


def _macro_chain(g: ModelGraph) -> MacroChain | str:
    codes, names = g.block_codes
    k = len(names)
    order = g.topological_order
    pos = np.empty(g.n, dtype=np.int64)
    pos[order] = np.arange(g.n)
    first = np.full(k, g.n, dtype=np.int64)
    np.minimum.at(first, codes, pos)
    rank = np.empty(k, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(k)
    unit = rank[codes]
    cu, cw = unit[g.src], unit[g.dst]
    cross = cu != cw
    bad = cross & (cw != cu + 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        return (f"edge {g.names[int(g.src[i])]!r} -> {g.names[int(g.dst[i])]!r} does not go from a "
                "block to the next one")
    exit_ = np.full(k, -1, dtype=np.int64)
    xs_u, xs_v = cu[cross], g.src[cross]
    if xs_u.size:
        key = np.unique(xs_u * g.n + xs_v)
        pu, pv = key // g.n, key % g.n
        cnt = np.bincount(pu, minlength=k)
        if (cnt > 1).any():
            b = int(np.flatnonzero(cnt > 1)[0])
            return f"block of layer {g.names[int(pv[pu == b][0])]!r} has several exit layers"
        exit_[pu] = pv
    if (exit_[:-1] < 0).any():
        return "a block has no successor block (the model is not one chain of blocks)"
    sinks = np.flatnonzero(g.out_degree == 0)
    if sinks.size != 1 or unit[sinks[0]] != k - 1:
        return f"the model has {sinks.size} output layers; B2 needs exactly one, in the last block"
    exit_[k - 1] = sinks[0]
    inputs = g.inputs
    if (unit[inputs] != 0).any():
        return f"input layer {g.names[int(inputs[unit[inputs] != 0][0])]!r} is not in the first block"
    # per-unit tables: local order and a structure class per unit
    lorder = np.lexsort((pos, unit))
    size = np.bincount(unit, minlength=k)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    local = np.empty(g.n, dtype=np.int64)
    local[lorder] = np.arange(g.n) - start[unit[lorder]]
    lsrc = np.where(cross, -1, local[g.src])          # entry edges from p_k: local source -1
    ldst = local[g.dst]
    rng = np.random.default_rng(12345)                # fixed random projection; exactness below
    r = rng.random(3)
    esize = np.bincount(cw, minlength=k)
    proj = np.bincount(cw, weights=np.sin(r[0] * (lsrc + 2.0) + r[1] * (ldst + 1.0) * 7.0), minlength=k)
    key = pd.MultiIndex.from_arrays([size, esize, proj, np.arange(k) == 0])
    struct, _ = pd.factorize(key)
    # exactness: same class => same sorted local edge list (else the unit gets its own class)
    eorder = np.lexsort((ldst, lsrc, cw))
    estart = np.concatenate([[0], np.cumsum(esize)[:-1]])
    rep = np.zeros(struct.max() + 1, dtype=np.int64)
    rep[struct[::-1]] = np.arange(k)[::-1]
    eunit = cw[eorder]
    slot = np.arange(g.m) - estart[eunit]
    mate = eorder[estart[rep[struct[eunit]]] + slot]
    diff = (lsrc[eorder] != lsrc[mate]) | (ldst[eorder] != ldst[mate])
    if diff.any():
        bad_units = np.unique(eunit[diff])
        struct = struct.copy()
        struct[bad_units] = struct.max() + 1 + np.arange(bad_units.size)
    is_exit = np.zeros(g.n, dtype=bool)
    is_exit[exit_] = True
    us = unit[lorder]
    ls = local[lorder]
    return MacroChain(unit, exit_, k, lorder, start, size, local, struct, is_exit, eorder, estart,
                      esize, us, ls, np.cos(ls * 0.7 + 0.3),
                      bool((lorder == np.arange(g.n)).all()))


def _union_of_units(g: ModelGraph, mc: MacroChain, reps: np.ndarray) -> dict[str, Any]:
    """The structure of B2's union of sub-problems {p_k} u L_k for the units ``reps`` (layers,
    the union's graph, each vertex's unit), cached with the memo partition of the graph so that
    the warm path only changes delays (and reuses A's cached network and solver)."""
    cached = _UNION_CACHE.get(g)
    key = reps.tobytes()
    if cached is not None and cached[0] is mc and cached[1] == key:
        return cached[2]
    K = mc.k
    L = np.concatenate([mc.order[mc.start[r]:mc.start[r] + mc.size[r]] for r in reps.tolist()])
    e_in = np.concatenate([mc.eorder[mc.estart[r]:mc.estart[r] + mc.esize[r]] for r in reps.tolist()])
    nL = L.size
    idx = np.full(g.n, -1, dtype=np.int64)
    idx[L] = np.arange(nL)
    has_p = reps[reps > 0]
    pid = np.full(K, -1, dtype=np.int64)
    pid[has_p] = nL + np.arange(has_p.size)
    s_e, d_e = g.src[e_in], g.dst[e_in]
    entry = mc.unit[s_e] != mc.unit[d_e]
    comp = np.concatenate([mc.unit[L], has_p])
    z = np.zeros(comp.size)
    sub = ModelGraph(forward_flop=z, backward_flop=z, param_bytes=z, activation_bytes=z,
                     src=np.where(entry, pid[mc.unit[d_e]], idx[s_e]), dst=idx[d_e], validate=False)
    out = {"L": L, "p_layer": mc.exit[has_p - 1], "zeros": np.zeros(has_p.size),
           "ones": np.ones(has_p.size, dtype=bool), "ex": mc.is_exit[L], "comp": comp, "sub": sub}
    _UNION_CACHE[g] = (mc, key, out)
    return out


_UNION_CACHE: "weakref.WeakKeyDictionary[ModelGraph, tuple[Any, ...]]" = weakref.WeakKeyDictionary()


def _inner_pins(inst: SplitInstance) -> bool:
    """Pins other than the inputs' C1 pins (then conflicts need the pin closures)."""
    return bool(inst.server_pin.any() or (inst.device_pin & (inst.graph.in_degree > 0)).any())


def _solve_units(inst: SplitInstance, mc: MacroChain, reps: np.ndarray, backend: str,
                 inner_pins: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """I_k of B2 line 1 for the representative units ``reps``, all in ONE max-flow.

    The sub-problems {p_k} u L_k (p_k: a copy of o_{k-1} pinned to the device with zero compute
    and its own upload; o_k pinned to the server) are disjoint, so the minimum cut of their
    union (shared s and t) is the sum of their minimum cuts and its source side splits per unit.
    Built vectorised (structure cached per graph and ``reps``, :func:`_union_of_units`).
    Returns ``(I per unit of reps, float re-evaluated; inf where the unit's pins conflict)`` and
    the device mask of the layers of the rep units at their I_k.
    """
    g = inst.graph
    K = mc.k
    u = _union_of_units(g, mc, reps)
    L, p_layer, zeros, ex, comp, sub = u["L"], u["p_layer"], u["zeros"], u["ex"], u["comp"], u["sub"]
    nL = L.size
    tau_dev = np.concatenate([inst.tau_dev_s[L], zeros])
    tau_srv = np.concatenate([inst.tau_srv_s[L], zeros])
    up = np.concatenate([np.where(ex, 0.0, inst.tau_up_s[L]), inst.tau_up_s[p_layer]])
    dn = np.concatenate([np.where(ex, 0.0, inst.tau_dn_s[L]), inst.tau_dn_s[p_layer]])
    dev_pin = np.concatenate([inst.device_pin[L], u["ones"]])
    srv_pin = np.concatenate([inst.server_pin[L] | ex, ~u["ones"]])
    z = np.zeros(comp.size)
    q = SplitInstance(sub, tau_dev, tau_srv, up, dn, dev_pin, srv_pin, z, math.inf, {})
    # units whose pins conflict (e.g. a one-layer stem: its exit is an input) get I_k = inf
    if _inner_pins(inst) if inner_pins is None else inner_pins:
        bad = forced_device(q) & forced_server(q)
    else:
        bad = dev_pin & srv_pin  # only inputs are pinned: a conflict is an input that is an exit
    bad_comp = np.zeros(K, dtype=bool)
    bad_comp[comp[bad]] = True
    if bad_comp.any():
        off = bad_comp[comp]
        q = replace(q, device_pin=dev_pin & ~off, server_pin=srv_pin & ~off)
    x, _ = algorithm_a(q, backend)
    cz = crossing(q, x)
    cost = np.where(x, tau_dev, tau_srv) + np.where(cz, up + dn, 0.0)
    I_comp = np.bincount(comp, weights=cost, minlength=K)
    I_comp[bad_comp] = np.inf
    x_layers = np.zeros(g.n, dtype=bool)
    x_layers[L] = x[:nL]
    return I_comp[reps], x_layers


def _delay_classes(inst: SplitInstance, mc: MacroChain) -> np.ndarray:
    """Memo classes of B2 (spec §5.3 line 1): units with the same structure, the same per-layer
    tau_dev, tau_srv, tau_com and pins, and the same tau_com of p_k share a class (I_k and its
    split depend on nothing else). O(n) numpy: a random projection
    proposes classes, an element-wise comparison with each class representative makes it exact
    (a mismatching unit gets a class of its own)."""
    # I_k depends on tau_com = tau_up + tau_dn only; o_k's own upload is unused in I_k
    cols = [inst.tau_dev_s, inst.tau_srv_s, inst.tau_com_s]
    if not mc.ordered:
        cols = [c[mc.order] for c in cols]                   # positions in unit order
    cached = _CLASS_CACHE.get(inst.graph)
    if cached is not None and cached[0] is mc:
        p, first = cached[6], cached[7]
    else:
        p, first = mc.exit[np.maximum(np.arange(mc.k) - 1, 0)], np.arange(mc.k) == 0
    p_com = inst.tau_com_s[p]
    p_com[first] = -1.0
    if (cached is not None and cached[0] is mc and np.array_equal(inst.device_pin, cached[4])
            and np.array_equal(inst.server_pin, cached[5])):
        # warm path (same pins, only the delays changed): the last partition stands if every
        # layer still equals its class representative's (a finer partition is still exact)
        _, cls, check, rep_u = cached[:4]
        if bool((p_com == p_com[rep_u]).all()) and all(
                _equal_to_mates(c, check, exits=j == 2) for j, c in enumerate(cols)):
            return cls
    cols[2] = np.where(mc.is_exit if mc.ordered else mc.is_exit[mc.order], 0.0, cols[2])
    pins = inst.device_pin + 2.0 * inst.server_pin
    cols.append(pins if mc.ordered else pins[mc.order])
    cls = _fresh_classes(mc, cols, p_com)
    rep = np.zeros(cls.max() + 1, dtype=np.int64)
    rep[cls[::-1]] = np.arange(mc.k)[::-1]
    _CLASS_CACHE[inst.graph] = (mc, cls, _mate_check(mc, cls, rep), rep[cls], inst.device_pin.copy(),
                                inst.server_pin.copy(), p, first, _inner_pins(inst))
    return cls


_CLASS_CACHE: "weakref.WeakKeyDictionary[ModelGraph, tuple[Any, ...]]" = weakref.WeakKeyDictionary()

#: runs of at least this many consecutive same-class, same-size units are checked as one
#: reshaped block (no index gather)
_RUN_UNITS = 16


def _mate_check(mc: MacroChain, cls: np.ndarray, rep: np.ndarray) -> tuple[Any, ...]:
    """What :func:`_equal_to_mates` needs: runs of consecutive units of one class and one size
    (start position, units, size, start of the class representative) and, for the layers
    outside such runs, their positions and their mates' (same local layer of the
    representative). Positions are in unit order."""
    k = mc.k
    brk = np.flatnonzero((cls[1:] != cls[:-1]) | (mc.size[1:] != mc.size[:-1])) + 1
    r0 = np.concatenate([[0], brk])
    r1 = np.concatenate([brk, [k]])
    long_ = (r1 - r0) >= _RUN_UNITS
    runs = [(int(mc.start[a]), int(b - a), int(mc.size[a]), int(mc.start[rep[cls[a]]]))
            for a, b in zip(r0[long_].tolist(), r1[long_].tolist())]
    in_run = np.zeros(k, dtype=bool)
    for a, b in zip(r0[long_].tolist(), r1[long_].tolist()):
        in_run[a:b] = True
    rest = np.flatnonzero(~in_run[mc.unit_sorted])
    mate = mc.start[rep[cls[mc.unit_sorted[rest]]]] + mc.local_sorted[rest]
    ix = np.int32 if mc.unit.size < 2 ** 31 else np.int64
    exit_sorted = mc.is_exit if mc.ordered else mc.is_exit[mc.order]
    keep = ~exit_sorted[rest]
    return runs, rest.astype(ix), mate.astype(ix), rest[keep].astype(ix), mate[keep].astype(ix)


def _equal_to_mates(c: np.ndarray, check: tuple[Any, ...], exits: bool = False) -> bool:
    """Every layer's value (positions in unit order) equals its class representative's; with
    ``exits``, except the units' exit layers (the last of each unit in unit order)."""
    runs, rest, mate, rest_ne, mate_ne = check
    for start, units, size, rep_start in runs:
        end = start + units * size
        # each unit equals the one before it (a contiguous compare), the first the representative
        same = (np.array_equal(c[start + size:end], c[start:end - size])
                and np.array_equal(c[start:start + size], c[rep_start:rep_start + size]))
        if not same:
            if not exits:
                return False
            block = c[start:end].reshape(units, size)   # exits may differ: compare without them
            if not (block[:, :size - 1] == c[rep_start:rep_start + size - 1]).all():
                return False
    if exits:
        return bool((c[rest_ne] == c[mate_ne]).all())
    return bool((c[rest] == c[mate]).all())


def _fresh_classes(mc: MacroChain, cols: list[np.ndarray], p_com: np.ndarray) -> np.ndarray:
    """The memo classes of :func:`_delay_classes` computed from scratch."""
    r = np.random.default_rng(54321).random(4) + 0.5
    per = r[0] * cols[0] + r[1] * cols[1] + r[2] * cols[2] + r[3] * cols[3]
    proj = np.bincount(mc.unit_sorted, weights=per * mc.weight, minlength=mc.k)
    key = proj + 0.6180339887 * mc.struct + 1.2345678 * p_com
    cls, _ = pd.factorize(key)
    rep = np.zeros(cls.max() + 1, dtype=np.int64)
    rep[cls[::-1]] = np.arange(mc.k)[::-1]
    # exact check: each layer against the same local layer of its class representative
    us = mc.unit_sorted
    mate = mc.start[rep[cls[us]]] + mc.local_sorted
    d = cols[0] != cols[0][mate]
    for c in cols[1:]:
        d |= c != c[mate]
    differs = (mc.struct != mc.struct[rep[cls]]) | (p_com != p_com[rep[cls]])
    if d.any():
        differs[us[d]] = True
    if differs.any():
        bad = np.flatnonzero(differs)
        cls = cls.copy()
        cls[bad] = cls.max() + 1 + np.arange(bad.size)
    return cls


#: B2 uses the block abstraction from this many layers on, below it goes straight to A.
#: Measured (benchmarks/dag_split.py, one run on the shared 2-core machine): on the 13 shipped
#: profiles (8-517 layers) B2's block path took 1.3-4x A's time; on ResNet-type block models
#: A/B2 was 1.1 at 902 layers, 6 at 9,002 and 28 at 100,001.
B2_MIN_LAYERS = 1000


def algorithm_b2(inst: SplitInstance, memo: bool = True, backend: str = "ortools",
                 strict: bool = False, min_layers: int | None = None
                 ) -> tuple[np.ndarray, float, dict[str, Any]]:
    """Algorithm B2 (spec §5.3): block abstraction with exact in-block refinement.

    For each unit k of the macro-chain, I_k is the min cut of {p_k} u L_k (p_k on the device
    with zero compute, o_k on the server); candidates DEV(<k) + I_k + SRV(>k) and the all-device
    split are compared in O(K) numpy arithmetic. With ``memo``, units with the same signature
    (structure, per-layer delays, pins and tau_com of p_k) share one sub-problem; the distinct
    sub-problems are disjoint and solved together by one max-flow over their union. The
    macro-chain decomposition depends on the graph only and is cached per graph
    (:func:`macro_chain`).

    On a graph that is not a macro-chain, B2 falls back to Algorithm A (``info['fallback']``)
    unless ``strict``, which raises :class:`ValidationError`. A macro-chain with fewer than
    ``min_layers`` layers (default :data:`B2_MIN_LAYERS`; ``strict`` implies 0) goes straight to
    A, where the block path does not pay. The warm path (decomposition and A's network cached
    per graph, only delays changed) is what the dynamic study uses.

    Returns ``(device mask, T of the best candidate, info)``.
    """
    mc = macro_chain(inst.graph)
    if isinstance(mc, str):
        if strict:
            raise ValidationError(f"B2 needs a macro-chain of single-entry/single-exit blocks: {mc}",
                                  "block")
        x, v = algorithm_a(inst, backend)
        return x, v, {"fallback": "A", "reason": mc, "n_units": 0, "n_subproblems": 1, "n_maxflows": 1}
    floor = 0 if strict else (B2_MIN_LAYERS if min_layers is None else min_layers)
    if inst.n < floor:
        x, v = algorithm_a(inst, backend)
        return x, v, {"fallback": "A", "reason": f"{inst.n} layers < min_layers = {floor}",
                      "n_units": mc.k, "n_subproblems": 1, "n_maxflows": 1}
    K = mc.k
    cls = _delay_classes(inst, mc) if memo else np.arange(K)
    n_cls = int(cls.max()) + 1
    reps = np.zeros(n_cls, dtype=np.int64)
    reps[cls[::-1]] = np.arange(K)[::-1]
    # after _delay_classes the class cache holds the current pins (and what they imply)
    I, x_rep = _solve_units(inst, mc, reps, backend, _CLASS_CACHE[inst.graph][8] if memo else None)
    I_k = I[cls]
    # per-unit compute sums: the units of a class have the same per-layer delays (that is what
    # the class means), so each sums like its representative (computed on the reps' layers only)
    u = _union_of_units(inst.graph, mc, reps)
    L, comp = u["L"], u["comp"][:u["L"].size]
    rep_of = reps[cls]
    dev_u = np.bincount(comp, weights=inst.tau_dev_s[L], minlength=K)[rep_of]
    srv_u = np.bincount(comp, weights=inst.tau_srv_s[L], minlength=K)[rep_of]
    dev_before, srv_after = np.zeros(K), np.zeros(K)
    np.cumsum(dev_u[:-1], out=dev_before[1:])          # DEV(<k)
    np.cumsum(srv_u[:0:-1], out=srv_after[-2::-1])     # SRV(>k), summed from the last unit
    cand = dev_before + I_k + srv_after
    # pins outside unit k rule out candidate k (units before k all-device, after it all-server)
    srv_units = mc.unit[np.flatnonzero(inst.server_pin)]
    dev_units = mc.unit[np.flatnonzero(inst.device_pin)]
    first_srv = int(srv_units.min()) if srv_units.size else K
    last_dev = int(dev_units.max()) if dev_units.size else -1
    ks = np.arange(K)
    cand[(ks > first_srv) | (ks < last_dev)] = np.inf
    all_dev = float(dev_u.sum()) if not srv_units.size else math.inf
    # candidates K = all on the device; float sums of non-negative terms, then an exact
    # comparison of every candidate within the rounding margin (tie rule: the smallest D)
    T = np.append(cand, all_dev)
    fin = np.isfinite(T)
    if not fin.any():
        check_pins(inst)  # names the contradictory pins
        raise InfeasibleError("B2: no feasible split (contradictory pins)", "pins")
    tmin = float(T[fin].min())
    near = np.flatnonzero(fin & (T <= tmin * (1 + (6 * inst.n + 16) * 2.0 ** -52)))

    def expand(k: int) -> np.ndarray:
        x = np.zeros(inst.n, dtype=bool)
        if k == K:
            x[:] = True
            return x
        if mc.ordered:
            x[:mc.start[k]] = True
        else:
            x[mc.unit < k] = True
        r = reps[cls[k]]
        lay_r = mc.order[mc.start[r]:mc.start[r] + mc.size[r]]
        lay = mc.order[mc.start[k]:mc.start[k] + mc.size[k]]
        x[lay[x_rep[lay_r]]] = True
        return x

    if near.size == 1:
        k_best = int(near[0])
        x = expand(k_best)
        best = float(T[k_best])
    else:
        masks = {int(k): expand(int(k)) for k in near.tolist()}
        exact = {k: (exact_delay(inst, m), int(m.sum())) for k, m in masks.items()}
        k_best = min(exact, key=lambda k: exact[k])
        x = masks[k_best]
        best = float(exact[k_best][0])
    return x, best, {"fallback": None, "n_units": K, "n_subproblems": n_cls, "n_maxflows": 1,
                     "best_unit": None if k_best == K else k_best}
