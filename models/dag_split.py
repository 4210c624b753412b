"""Optimal DAG model splitting for split learning as a minimum s-t cut.

Spec: ``shared/papers/min-cut-splitting.md`` (Li, Wu, Wu, Zhang, Wang, Shen, "Fast AI Model
Splitting over Edge Networks", arXiv:2507.01041). Only the paper's front matter survived; the
system model below is the spec's reconstruction (its Eqs. 1-7, problem P1, Algorithms A/B1/B2).

The module reads top to bottom like the spec:

1. per-layer delays (Eqs. 1-3) and the instance (pins C1 and V_srv, optional memory, §4.4);
2. :func:`evaluate` -- T(D) of Eq. 6 and its breakdown, with the feasibility rules C1/C2/pins;
3. Algorithm A (§5.1): the restructured flow network and a minimum s-t cut, with two max-flow
   backends (OR-Tools ``SimpleMaxFlow`` on integer-scaled capacities, and networkx);
4. Algorithms B1 and B2 (§5.3): block abstraction, and block abstraction with exact in-block
   refinement and memoisation of repeated blocks;
5. exact baselines: brute force over ancestor-closed sets (§8.1), the MILP and LP relaxation of
   §4.3 in Pyomo and CVXPY, the memory-constrained MILP (§4.4);
6. the benchmarks of §8 (chain / Neurosurgeon-style prefix splits, greedy, device-only,
   minimal-device) and the dynamic-network study of §7;
7. registration with the CLI (``slopt solve dag-split``, ``slopt split PROFILE``).

Convention of the spec: the source s of the flow network is the device, the sink t the server;
``x[v] = True`` means layer v runs on the device (v in D).

Readings chosen where the spec leaves a choice (each documented in ``docs/dag_split.md``):

* inputs (in-degree 0) are pinned to the device (C1, ``pin_inputs=True``); nothing is pinned to
  the server unless ``server_pins`` (or ``pin_outputs=True``) says so (spec §10.5);
* the gradient of a cut tensor has ``gradient_bytes`` (default: the activation size, spec §2);
* a layer with a single successor uses one edge (u, w) of capacity tau_com_u instead of an
  auxiliary vertex (explicitly allowed by spec §5.1, "the result is identical");
* finite arcs of capacity 0 are dropped from the network (they can carry no flow and add nothing
  to any cut);
* "infinity" is the big-M of spec §5.1, M = 1 + sum of all finite (scaled) capacities.
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from slopt.errors import InfeasibleError, SloptError, ValidationError
from slopt.plan import Plan
from slopt.profiles import ModelGraph
from slopt.solvers import SolveResult, solve
from slopt.validate import check_array, check_int, check_positive

__all__ = [
    "DEFAULTS", "SplitInstance", "define_layer_delays", "define_layer_memory", "make_instance",
    "instance_from_delays", "load", "random_instance", "evaluate", "check_pins", "FlowNetwork",
    "flow_network", "min_cut", "algorithm_a", "algorithm_b1", "algorithm_b2", "macro_chain",
    "closed_sets", "brute_force", "build_pyomo", "build_cvxpy", "milp", "lp_relaxation",
    "threshold_rounding", "chain_split", "greedy_split", "device_only", "minimal_device",
    "dynamic_study", "block_model", "to_dot", "plot_split", "PROBLEM",
]

PROBLEM = "dag-split"

# --------------------------------------------------------------------------- 0. defaults
#: Reconstructed defaults of spec §7.2 (none is from the paper): batch B = 32 samples,
#: f_dev = 1e12 FLOP/s (Jetson-class), f_srv = 2e13 FLOP/s (edge GPU), R_up = 50 Mbit/s,
#: R_dn = 100 Mbit/s.
DEFAULTS: dict[str, float] = {
    "device_flops": 1e12,
    "server_flops": 2e13,
    "uplink_bps": 50e6,
    "downlink_bps": 100e6,
    "batch": 32,
}
#: Ranges of the dynamic-network simulation, spec §7.2 (reconstructed): R_up 10-100 Mbit/s,
#: R_dn 50-200 Mbit/s, f_dev 0.5-2 x 10^12 FLOP/s, slot length 1 s, 200 slots.
DYNAMIC_RANGES: dict[str, tuple[float, float]] = {
    "uplink_bps": (10e6, 100e6),
    "downlink_bps": (50e6, 200e6),
    "device_flops": (0.5e12, 2e12),
}
#: Optimiser state per trainable byte for the memory model of §4.4: Adam keeps two moment
#: estimates per parameter (Kingma & Ba 2015) -- reconstructed default, spec §4.4.
OPTIMIZER_STATE_FACTOR = 2.0
BITS_PER_BYTE = 8


# --------------------------------------------------------------------------- 1. instance
@dataclass(frozen=True)
class SplitInstance:
    """One splitting problem P1 (spec §4.2): a DAG with per-layer delays and pins.

    Attributes
    ----------
    graph : the model DAG G = (V, E)
    tau_dev_s, tau_srv_s : per-iteration training delay of each layer on device / server (Eqs. 1-2)
    tau_up_s, tau_dn_s : per-iteration upload delay of each layer's activation and download delay
        of its gradient; tau_com = tau_up + tau_dn (Eq. 3)
    device_pin : layers forced onto the device (inputs V_in by C1, plus user pins)
    server_pin : layers forced onto the server (V_srv)
    memory_bytes : device memory m_v a layer needs when it runs on the device (§4.4)
    device_memory_bytes : M_dev, inf when unconstrained (§4.4)
    params : the scalars the delays came from (for reports)
    """

    graph: ModelGraph
    tau_dev_s: np.ndarray
    tau_srv_s: np.ndarray
    tau_up_s: np.ndarray
    tau_dn_s: np.ndarray
    device_pin: np.ndarray
    server_pin: np.ndarray
    memory_bytes: np.ndarray
    device_memory_bytes: float = math.inf
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.graph.n

    @property
    def tau_com_s(self) -> np.ndarray:
        """tau_com_u = upload of a_u + download of g_u (Eq. 3)."""
        return self.tau_up_s + self.tau_dn_s

    def with_params(self, **params: Any) -> "SplitInstance":
        """The same graph and pins with other throughput / rate / batch values (Eqs. 1-3 again)."""
        p = {**self.params, **params}
        return make_instance(self.graph, **p)


def define_layer_delays(graph: ModelGraph, device_flops: float, server_flops: float,
                        uplink_bps: float, downlink_bps: float, batch: float
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-layer delays of one training iteration, spec Eqs. 1-3.

    * Eq. 1: tau_dev_v = B (phi_F + phi_B) / f_dev, or B x ``device_time_s`` when the profile
      carries measured per-sample times (extra column);
    * Eq. 2: tau_srv_v = B (phi_F + phi_B) / f_srv, or B x ``server_time_s``;
    * Eq. 3: tau_up_u = B a_u / R_up and tau_dn_u = B g_u / R_dn (a, g in bits).

    Returns ``(tau_dev_s, tau_srv_s, tau_up_s, tau_dn_s)``.
    """
    train = graph.train_flop
    tau_dev = (batch * graph.extra["device_time_s"] if "device_time_s" in graph.extra
               else batch * train / device_flops)
    tau_srv = (batch * graph.extra["server_time_s"] if "server_time_s" in graph.extra
               else batch * train / server_flops)
    tau_up = batch * graph.activation_bytes * BITS_PER_BYTE / uplink_bps
    tau_dn = batch * graph.gradient_bytes * BITS_PER_BYTE / downlink_bps
    return tau_dev, tau_srv, tau_up, tau_dn


def define_layer_memory(graph: ModelGraph, batch: float,
                        optimizer_state_factor: float = OPTIMIZER_STATE_FACTOR) -> np.ndarray:
    """Device memory m_v of layer v (§4.4, an extension, not in the paper): parameters, their
    gradients, optimiser state (``optimizer_bytes`` column, else ``optimizer_state_factor`` x
    trainable bytes) and the stored activation of the batch."""
    opt = graph.extra.get("optimizer_bytes", optimizer_state_factor * graph.trainable_param_bytes)
    return graph.param_bytes + graph.trainable_param_bytes + opt + batch * graph.activation_bytes


def _mask(graph: ModelGraph, layers: Any, field_name: str) -> np.ndarray:
    """A boolean vertex mask from names / indices / a boolean array."""
    out = np.zeros(graph.n, dtype=bool)
    if layers is None:
        return out
    if isinstance(layers, (str, int, np.integer)):
        layers = [layers]
    arr = np.asarray(list(layers) if not isinstance(layers, np.ndarray) else layers)
    if arr.dtype == bool:
        if arr.shape != (graph.n,):
            raise ValidationError(f"{field_name}: a boolean mask needs {graph.n} entries, got {arr.shape}",
                                  field_name)
        return arr.copy()
    for v in arr.tolist():
        try:
            out[graph.index(v)] = True
        except ValidationError as exc:
            raise ValidationError(f"{field_name}: {exc}", field_name) from None
    return out


def _check_rates(device_flops: Any, server_flops: Any, uplink_bps: Any, downlink_bps: Any,
                 batch: Any) -> tuple[float, float, float, float, float]:
    """Sanity check at the door: throughputs and rates finite and positive, batch >= 1."""
    f_dev = check_positive("device_flops", device_flops, "FLOP/s")
    f_srv = check_positive("server_flops", server_flops, "FLOP/s")
    r_up = check_positive("uplink_bps", uplink_bps, "bit/s")
    r_dn = check_positive("downlink_bps", downlink_bps, "bit/s")
    b = check_positive("batch", batch, "samples")
    return f_dev, f_srv, r_up, r_dn, b


def make_instance(graph: ModelGraph | str, *, device_flops: float = DEFAULTS["device_flops"],
                  server_flops: float = DEFAULTS["server_flops"],
                  uplink_bps: float = DEFAULTS["uplink_bps"],
                  downlink_bps: float = DEFAULTS["downlink_bps"], batch: float = DEFAULTS["batch"],
                  device_pins: Any = None, server_pins: Any = None, pin_inputs: bool = True,
                  pin_outputs: bool = False, device_memory_bytes: float | None = None,
                  optimizer_state_factor: float = OPTIMIZER_STATE_FACTOR,
                  check: bool = True) -> SplitInstance:
    """Build P1 from a profile and throughput / rate figures (Eqs. 1-3, C1, pins, §4.4).

    Parameters
    ----------
    graph : a :class:`ModelGraph` or the name / path of a profile
    device_flops, server_flops : f_dev, f_srv, FLOP/s
    uplink_bps, downlink_bps : R_up, R_dn, bit/s
    batch : B, samples per iteration
    device_pins, server_pins : layer names or indices forced onto the device / server
    pin_inputs : C1, every input layer (in-degree 0) on the device (default True, spec §4.2)
    pin_outputs : pin every output layer to the server (labels stay on the server; default False,
        spec §10.5)
    device_memory_bytes : M_dev of §4.4 (None / inf: unconstrained)
    check : verify that the pins are not contradictory (raises :class:`InfeasibleError`)

    Raises
    ------
    ValidationError : NaN / zero / negative throughput, rate or batch (naming the parameter)
    InfeasibleError : contradictory pins (a server-pinned layer is an ancestor of a device one)
    """
    if isinstance(graph, str):
        from slopt.profiles import read
        graph = read(graph)
    f_dev, f_srv, r_up, r_dn, b = _check_rates(device_flops, server_flops, uplink_bps,
                                               downlink_bps, batch)
    mem_limit = math.inf if device_memory_bytes is None else float(device_memory_bytes)
    if not math.isinf(mem_limit):
        check_positive("device_memory_bytes", mem_limit, "bytes")
    tau_dev, tau_srv, tau_up, tau_dn = define_layer_delays(graph, f_dev, f_srv, r_up, r_dn, b)
    dev = _mask(graph, device_pins, "device_pins")
    srv = _mask(graph, server_pins, "server_pins")
    if pin_inputs:
        dev[graph.inputs] = True
    if pin_outputs:
        srv[graph.outputs] = True
    params = dict(device_flops=f_dev, server_flops=f_srv, uplink_bps=r_up, downlink_bps=r_dn,
                  batch=b, device_pins=np.flatnonzero(_mask(graph, device_pins, "device_pins")).tolist(),
                  server_pins=np.flatnonzero(_mask(graph, server_pins, "server_pins")).tolist(),
                  pin_inputs=pin_inputs, pin_outputs=pin_outputs,
                  device_memory_bytes=None if math.isinf(mem_limit) else mem_limit,
                  optimizer_state_factor=optimizer_state_factor)
    inst = SplitInstance(graph, tau_dev, tau_srv, tau_up, tau_dn, dev, srv,
                         define_layer_memory(graph, b, optimizer_state_factor), mem_limit, params)
    if check:
        check_pins(inst)
    return inst


def instance_from_delays(n: int | ModelGraph, src: Any = (), dst: Any = (), *, tau_dev_s: Any,
                         tau_srv_s: Any, tau_com_s: Any, tau_dn_s: Any = 0.0,
                         names: Sequence[str] | None = None, device_pins: Any = None,
                         server_pins: Any = None, pin_inputs: bool = True,
                         memory_bytes: Any = 0.0, device_memory_bytes: float | None = None,
                         block: Sequence[Any] | None = None, check: bool = True) -> SplitInstance:
    """P1 straight from per-layer delays (the spec's hand examples and random property tests).

    ``tau_com_s`` is the whole Eq. 3 delay; ``tau_dn_s`` (default 0) is the part of it spent on
    the download (for the breakdown only).
    """
    if isinstance(n, ModelGraph):
        graph = n
        n = graph.n
    else:
        n = check_int("n", n, lo=1)
        z = np.zeros(n)
        graph = ModelGraph(forward_flop=z, backward_flop=z, param_bytes=z, activation_bytes=z,
                           src=src, dst=dst, names=names, block=block, name="delays")
    arrays = {}
    for key, val in (("tau_dev_s", tau_dev_s), ("tau_srv_s", tau_srv_s), ("tau_com_s", tau_com_s),
                     ("tau_dn_s", tau_dn_s), ("memory_bytes", memory_bytes)):
        a = np.broadcast_to(np.asarray(val, dtype=float), (n,)).copy()
        arrays[key] = check_array(key, a, graph.names, unit="s" if key.endswith("_s") else "bytes")
    tau_dn = np.minimum(arrays["tau_dn_s"], arrays["tau_com_s"])
    dev = _mask(graph, device_pins, "device_pins")
    srv = _mask(graph, server_pins, "server_pins")
    if pin_inputs:
        dev[graph.inputs] = True
    mem = math.inf if device_memory_bytes is None else float(device_memory_bytes)
    inst = SplitInstance(graph, arrays["tau_dev_s"], arrays["tau_srv_s"], arrays["tau_com_s"] - tau_dn,
                         tau_dn, dev, srv, arrays["memory_bytes"], mem, {"from_delays": True})
    if check:
        check_pins(inst)
    return inst


# --------------------------------------------------------------------------- reachability
def _reach(n: int, src: np.ndarray, dst: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Vertices reachable from ``seeds`` (included) along ``src -> dst`` (compiled BFS)."""
    out = np.zeros(n, dtype=bool)
    seeds = np.flatnonzero(seeds) if seeds.dtype == bool else np.asarray(seeds, dtype=np.int64)
    if seeds.size == 0:
        return out
    s = np.concatenate([src, np.full(seeds.size, n)])
    d = np.concatenate([dst, seeds])
    a = sp.csr_matrix((np.ones(s.size, dtype=np.int8), (s, d)), shape=(n + 1, n + 1))
    order = breadth_first_order(a, n, directed=True, return_predecessors=False)
    out[order[order < n]] = True
    return out


def forced_device(inst: SplitInstance) -> np.ndarray:
    """Layers every feasible split puts on the device: ancestors of device pins (C1 + C2)."""
    g = inst.graph
    return _reach(g.n, g.dst, g.src, inst.device_pin)


def forced_server(inst: SplitInstance) -> np.ndarray:
    """Layers every feasible split puts on the server: descendants of server pins (C2)."""
    g = inst.graph
    return _reach(g.n, g.src, g.dst, inst.server_pin)


def check_pins(inst: SplitInstance) -> None:
    """Raise :class:`InfeasibleError` when the pins are contradictory (spec §5.1): a layer is an
    ancestor of (or equal to) a device-pinned layer and a descendant of (or equal to) a
    server-pinned one, so every s-t path through it has infinite capacity."""
    if not inst.server_pin.any():
        return
    both = forced_device(inst) & forced_server(inst)
    if both.any():
        g = inst.graph
        v = int(np.flatnonzero(both)[0])
        one = np.zeros(g.n, dtype=bool)
        one[v] = True
        anc = _reach(g.n, g.dst, g.src, one) & inst.server_pin
        desc = _reach(g.n, g.src, g.dst, one) & inst.device_pin
        sp_ = g.names[int(np.flatnonzero(anc)[0])]
        dp_ = g.names[int(np.flatnonzero(desc)[0])]
        raise InfeasibleError(
            f"contradictory pins: layer {g.names[v]!r} must be on the server (it descends from "
            f"server-pinned {sp_!r}) and on the device (it is an ancestor of device-pinned {dp_!r}, "
            f"C1/C2); {int(both.sum())} layer(s) are in this conflict", "pins", float(both.sum()))


# --------------------------------------------------------------------------- 2. evaluate
def _as_mask(inst: SplitInstance, device_set: Any) -> np.ndarray:
    if isinstance(device_set, np.ndarray) and device_set.dtype == bool:
        if device_set.shape != (inst.n,):
            raise ValidationError(f"device_set: mask of shape {device_set.shape}, expected ({inst.n},)",
                                  "device_set")
        return device_set
    return _mask(inst.graph, device_set, "device_set")


def crossing(inst: SplitInstance, x: np.ndarray) -> np.ndarray:
    """z_u(D) of Eq. 5: u on the device with at least one successor on the server."""
    g = inst.graph
    z = np.zeros(inst.n, dtype=bool)
    z[g.src[x[g.src] & ~x[g.dst]]] = True
    return z


def evaluate(inst: SplitInstance | ModelGraph, device_set: Any, *, check: bool = True,
             check_memory: bool = True, **params: Any) -> dict[str, Any]:
    """Per-iteration training delay T(D) of Eq. 6 and its breakdown.

    Parameters
    ----------
    inst : an instance, or a :class:`ModelGraph` plus the keywords of :func:`make_instance`
    device_set : D as layer names, indices or a boolean mask
    check : raise :class:`InfeasibleError` when D breaks C1, C2, a pin or (with
        ``check_memory``) the memory limit of §4.4

    Returns
    -------
    dict with ``delay_s`` (Eq. 6), ``device_compute_s``, ``server_compute_s``, ``upload_s``,
    ``download_s``, ``communication_s``, ``cut_tensors`` (indices u with z_u = 1, Eq. 5),
    ``device_memory_bytes``, ``feasible`` and ``violations`` (list of text).
    """
    if isinstance(inst, ModelGraph):
        inst = make_instance(inst, **params)
    x = _as_mask(inst, device_set)
    g = inst.graph
    z = crossing(inst, x)
    dev_s = float(inst.tau_dev_s[x].sum())
    srv_s = float(inst.tau_srv_s[~x].sum())
    up_s = float(inst.tau_up_s[z].sum())
    dn_s = float(inst.tau_dn_s[z].sum())
    mem = float(inst.memory_bytes[x].sum())
    violations: list[str] = []
    bad = inst.device_pin & ~x
    if bad.any():
        violations.append(f"C1/device pin: layer {g.names[int(np.flatnonzero(bad)[0])]!r} must be on the "
                          f"device ({int(bad.sum())} such layer(s))")
    back = ~x[g.src] & x[g.dst]
    if back.any():
        i = int(np.flatnonzero(back)[0])
        violations.append(f"C2: layer {g.names[int(g.dst[i])]!r} is on the device but its input "
                          f"{g.names[int(g.src[i])]!r} is on the server ({int(back.sum())} such edge(s))")
    bad = inst.server_pin & x
    if bad.any():
        violations.append(f"server pin: layer {g.names[int(np.flatnonzero(bad)[0])]!r} must be on the "
                          f"server ({int(bad.sum())} such layer(s))")
    if mem > inst.device_memory_bytes * (1 + 1e-12):
        violations.append(f"memory (§4.4): device layers need {mem:.6g} bytes, "
                          f"{mem - inst.device_memory_bytes:.6g} bytes above device_memory_bytes = "
                          f"{inst.device_memory_bytes:.6g}")
    fatal = violations if check_memory else [v for v in violations if not v.startswith("memory")]
    if check and fatal:
        raise InfeasibleError("infeasible split: " + "; ".join(fatal), fatal[0].split(":")[0])
    return {
        "delay_s": dev_s + srv_s + up_s + dn_s,
        "device_compute_s": dev_s,
        "server_compute_s": srv_s,
        "upload_s": up_s,
        "download_s": dn_s,
        "communication_s": up_s + dn_s,
        "cut_tensors": np.flatnonzero(z),
        "n_device_layers": int(x.sum()),
        "device_memory_bytes": mem,
        "feasible": not violations,
        "violations": violations,
    }


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


# --------------------------------------------------------------------------- 3. Algorithm A
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


def algorithm_a(inst: SplitInstance, backend: str = "ortools", net_terminals: bool = False
                ) -> tuple[np.ndarray, float]:
    """Algorithm A (spec §5.1): device mask D* and the cut value (s) of a minimum s-t cut
    (``net_terminals``: the equivalent network with netted terminal arcs, see :func:`flow_network`).

    The cut value is computed on integer-scaled capacities; callers re-evaluate D* in floating
    point with :func:`evaluate` (line 15).
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


def _solve_units(inst: SplitInstance, mc: MacroChain, reps: np.ndarray, backend: str
                 ) -> tuple[np.ndarray, np.ndarray]:
    """I_k of B2 line 1 for the representative units ``reps``, all in ONE max-flow.

    The sub-problems {p_k} u L_k (p_k: a copy of o_{k-1} pinned to the device with zero compute
    and its own upload; o_k pinned to the server) are disjoint, so the minimum cut of their
    union (shared s and t) is the sum of their minimum cuts and its source side splits per unit.
    Built vectorised. Returns ``(I per unit of reps, float re-evaluated; inf where the unit's
    pins conflict)`` and the device mask of the layers of the rep units at their I_k.
    """
    g = inst.graph
    K = mc.k
    L = np.concatenate([mc.order[mc.start[r]:mc.start[r] + mc.size[r]] for r in reps.tolist()])
    e_in = np.concatenate([mc.eorder[mc.estart[r]:mc.estart[r] + mc.esize[r]] for r in reps.tolist()])
    nL = L.size
    idx = np.full(g.n, -1, dtype=np.int64)
    idx[L] = np.arange(nL)
    has_p = reps[reps > 0]
    pid = np.full(K, -1, dtype=np.int64)
    pid[has_p] = nL + np.arange(has_p.size)
    p_layer = mc.exit[has_p - 1]
    s_e, d_e = g.src[e_in], g.dst[e_in]
    entry = mc.unit[s_e] != mc.unit[d_e]
    new_src = np.where(entry, pid[mc.unit[d_e]], idx[s_e])
    new_dst = idx[d_e]
    zeros = np.zeros(has_p.size)
    ex = mc.is_exit[L]
    tau_dev = np.concatenate([inst.tau_dev_s[L], zeros])
    tau_srv = np.concatenate([inst.tau_srv_s[L], zeros])
    up = np.concatenate([np.where(ex, 0.0, inst.tau_up_s[L]), inst.tau_up_s[p_layer]])
    dn = np.concatenate([np.where(ex, 0.0, inst.tau_dn_s[L]), inst.tau_dn_s[p_layer]])
    dev_pin = np.concatenate([inst.device_pin[L], np.ones(has_p.size, dtype=bool)])
    srv_pin = np.concatenate([inst.server_pin[L] | ex, np.zeros(has_p.size, dtype=bool)])
    comp = np.concatenate([mc.unit[L], has_p])
    N = comp.size
    z = np.zeros(N)
    sub = ModelGraph(forward_flop=z, backward_flop=z, param_bytes=z, activation_bytes=z,
                     src=new_src, dst=new_dst, validate=False)
    q = SplitInstance(sub, tau_dev, tau_srv, up, dn, dev_pin, srv_pin, z, math.inf, {})
    # units whose pins conflict (e.g. a one-layer stem: its exit is an input) get I_k = inf
    if inst.server_pin.any() or (inst.device_pin & (g.in_degree > 0)).any():
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
    r = np.random.default_rng(54321).random(4) + 0.5
    # I_k depends on tau_com = tau_up + tau_dn only; o_k's own upload is unused in I_k
    cols = [inst.tau_dev_s, inst.tau_srv_s, np.where(mc.is_exit, 0.0, inst.tau_com_s),
            inst.device_pin + 2.0 * inst.server_pin]
    if not mc.ordered:
        cols = [c[mc.order] for c in cols]                   # positions in unit order
    per = r[0] * cols[0] + r[1] * cols[1] + r[2] * cols[2] + r[3] * cols[3]
    proj = np.bincount(mc.unit_sorted, weights=per * mc.weight, minlength=mc.k)
    p = mc.exit[np.maximum(np.arange(mc.k) - 1, 0)]
    p_com = np.where(np.arange(mc.k) == 0, -1.0, inst.tau_com_s[p])
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


def algorithm_b2(inst: SplitInstance, memo: bool = True, backend: str = "ortools",
                 strict: bool = False) -> tuple[np.ndarray, float, dict[str, Any]]:
    """Algorithm B2 (spec §5.3): block abstraction with exact in-block refinement.

    For each unit k of the macro-chain, I_k is the min cut of {p_k} u L_k (p_k on the device
    with zero compute, o_k on the server); candidates DEV(<k) + I_k + SRV(>k) and the all-device
    split are compared in O(K) numpy arithmetic. With ``memo``, units with the same signature
    (structure, per-layer delays, pins and tau_com of p_k) share one sub-problem; the distinct
    sub-problems are disjoint and solved together by one max-flow over their union. The
    macro-chain decomposition depends on the graph only and is cached per graph
    (:func:`macro_chain`).

    On a graph that is not a macro-chain, B2 falls back to Algorithm A (``info['fallback']``)
    unless ``strict``, which raises :class:`ValidationError`.

    Returns ``(device mask, T of the best candidate, info)``.
    """
    mc = macro_chain(inst.graph)
    if isinstance(mc, str):
        if strict:
            raise ValidationError(f"B2 needs a macro-chain of single-entry/single-exit blocks: {mc}",
                                  "block")
        x, v = algorithm_a(inst, backend)
        return x, v, {"fallback": "A", "reason": mc, "n_units": 0, "n_subproblems": 1, "n_maxflows": 1}
    K = mc.k
    cls = _delay_classes(inst, mc) if memo else np.arange(K)
    n_cls = int(cls.max()) + 1
    reps = np.zeros(n_cls, dtype=np.int64)
    reps[cls[::-1]] = np.arange(K)[::-1]
    I, x_rep = _solve_units(inst, mc, reps, backend)
    I_k = I[cls]
    dev_u = np.bincount(mc.unit, weights=inst.tau_dev_s, minlength=K)
    srv_u = np.bincount(mc.unit, weights=inst.tau_srv_s, minlength=K)
    dev_before = np.concatenate([[0.0], np.cumsum(dev_u)[:-1]])           # DEV(<k)
    srv_after = np.concatenate([np.cumsum(srv_u[::-1])[::-1][1:], [0.0]])  # SRV(>k)
    cand = dev_before + I_k + srv_after
    # pins outside unit k rule out candidate k (units before k all-device, after it all-server)
    srv_units = mc.unit[np.flatnonzero(inst.server_pin)]
    dev_units = mc.unit[np.flatnonzero(inst.device_pin)]
    first_srv = int(srv_units.min()) if srv_units.size else K
    last_dev = int(dev_units.max()) if dev_units.size else -1
    ks = np.arange(K)
    cand[(ks > first_srv) | (ks < last_dev)] = np.inf
    all_dev = float(dev_u.sum()) if not srv_units.size else math.inf
    k_best = int(np.argmin(cand))
    x = np.zeros(inst.n, dtype=bool)
    if all_dev <= cand[k_best]:
        x[:] = True
        best = all_dev
    else:
        best = float(cand[k_best])
        x[mc.unit < k_best] = True
        r = reps[cls[k_best]]
        lay_r = mc.order[mc.start[r]:mc.start[r] + mc.size[r]]
        lay = mc.order[mc.start[k_best]:mc.start[k_best] + mc.size[k_best]]
        x[lay[x_rep[lay_r]]] = True
    return x, best, {"fallback": None, "n_units": K, "n_subproblems": n_cls, "n_maxflows": 1,
                     "best_unit": None if x.all() else k_best}



# --------------------------------------------------------------------------- 5. exact baselines
def closed_sets(inst: SplitInstance, max_sets: int = 2_000_000) -> np.ndarray:
    """Every feasible D (ancestor-closed, containing the device pins, avoiding the server pins)
    as rows of a boolean matrix, enumerated vectorised over a topological order (spec §8.1).

    Raises :class:`ValidationError` (field ``max_sets``) when more than ``max_sets`` exist.
    """
    g = inst.graph
    order = g.topological_order
    pos = np.empty(g.n, dtype=np.int64)
    pos[order] = np.arange(g.n)
    preds: list[list[int]] = [[] for _ in range(g.n)]
    for u, w in zip(pos[g.src].tolist(), pos[g.dst].tolist()):
        preds[w].append(u)
    rows = np.zeros((1, g.n), dtype=bool)
    for i, v in enumerate(order.tolist()):
        can = rows[:, preds[i]].all(axis=1) if preds[i] else np.ones(rows.shape[0], dtype=bool)
        if inst.device_pin[v]:
            rows = rows[can & ~inst.server_pin[v]]
            rows[:, i] = True
        elif not inst.server_pin[v]:
            inc = rows[can].copy()
            inc[:, i] = True
            rows = np.concatenate([rows, inc])
        if rows.shape[0] > max_sets:
            raise ValidationError(f"brute force: more than max_sets = {max_sets} ancestor-closed "
                                  f"sets after {i + 1} of {g.n} layers", "max_sets")
    return rows[:, pos]


def delays_of_sets(inst: SplitInstance, X: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """T(D) of Eq. 6 for every row of a boolean matrix (vectorised)."""
    g = inst.graph
    base = float(inst.tau_srv_s.sum())
    diff = inst.tau_dev_s - inst.tau_srv_s
    inc = sp.csr_matrix((np.ones(g.m), (np.arange(g.m), g.src)), shape=(g.m, g.n))
    out = np.empty(X.shape[0])
    for a in range(0, X.shape[0], chunk):
        x = X[a:a + chunk]
        cross = (x[:, g.src] & ~x[:, g.dst]).astype(float)
        z = (inc.T @ cross.T).T > 0
        out[a:a + chunk] = base + x @ diff + z @ inst.tau_com_s
    return out


def brute_force(inst: SplitInstance, max_sets: int = 2_000_000) -> tuple[np.ndarray, float, int]:
    """Exhaustive search (spec §8.1): the best feasible D (memory limit respected), its T and
    the number of closed sets enumerated."""
    X = closed_sets(inst, max_sets)
    T = delays_of_sets(inst, X)
    if not math.isinf(inst.device_memory_bytes):
        mem = X @ inst.memory_bytes
        T = np.where(mem <= inst.device_memory_bytes * (1 + 1e-12), T, np.inf)
    if X.shape[0] == 0 or not np.isfinite(T).any():
        raise _memory_infeasible(inst)
    i = int(np.argmin(T))
    return X[i], float(T[i]), int(X.shape[0])


def _memory_infeasible(inst: SplitInstance) -> InfeasibleError:
    need = float(inst.memory_bytes[forced_device(inst)].sum())
    return InfeasibleError(
        f"memory (§4.4): the layers that must run on the device need {need:.6g} bytes, "
        f"{need - inst.device_memory_bytes:.6g} bytes above device_memory_bytes = "
        f"{inst.device_memory_bytes:.6g}", "memory", need - inst.device_memory_bytes)


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


def _x_values(model: Any, n: int) -> np.ndarray:
    if type(model).__module__.startswith("cvxpy"):
        var = next(v for v in model.variables() if v.name() == "x")
        return np.asarray(var.value, dtype=float).reshape(-1)
    return np.array([model.x[v].value for v in range(n)], dtype=float)


def threshold_rounding(inst: SplitInstance, xval: np.ndarray) -> np.ndarray:
    """Claim 6.4: the best feasible D_theta = {v : x_v >= theta} over the distinct values of x."""
    xr = np.clip(np.round(np.nan_to_num(xval), 7), 0.0, 1.0)
    thetas = np.unique(xr[xr > 0])
    if thetas.size == 0:
        thetas = np.array([1.0])
    X = xr[None, :] >= thetas[:, None]
    T = delays_of_sets(inst, X)
    g = inst.graph
    ok = (~(X[:, g.dst] & ~X[:, g.src])).all(axis=1) & (X[:, inst.device_pin]).all(axis=1) \
        & ~(X[:, inst.server_pin]).any(axis=1)
    if not math.isinf(inst.device_memory_bytes):
        ok &= X @ inst.memory_bytes <= inst.device_memory_bytes * (1 + 1e-12)
    if not ok.any():
        raise InfeasibleError("threshold rounding found no feasible D_theta (solver tolerance?)",
                              "rounding")
    T = np.where(ok, T, np.inf)
    return X[int(np.argmin(T))]


def _solve_formulation(inst: SplitInstance, relax: bool, kind: str, solver: str | None,
                       time_limit: float | None, mip_gap: float | None
                       ) -> tuple[np.ndarray, SolveResult]:
    model = build_pyomo(inst, relax) if kind == "pyomo" else build_cvxpy(inst, relax)
    options: dict[str, Any] = {}
    is_highs = (solver or "highs").lower() in ("highs", "appsi_highs")
    if is_highs:
        # delays span many decades (1e-7 s next to 1e2 s): HiGHS' default tolerances (1e-7, and
        # an absolute MIP gap of 1e-6) accept a split 2e-7 s worse; tightened so that the
        # re-evaluated split equals the optimum to 1e-9 relative
        options.update(primal_feasibility_tolerance=1e-9, dual_feasibility_tolerance=1e-10)
        if not relax:
            options.update(mip_feasibility_tolerance=1e-9)
            if not mip_gap:
                options["mip_abs_gap"] = 0.0
    elif (solver or "").lower() in ("cbc", "coin-cbc"):
        # same reason for CBC (measured: a split 1.7e-7 s worse with the defaults)
        options.update(primalTolerance=1e-9, dualTolerance=1e-10)
        if not relax:
            options["integerTolerance"] = 1e-9
            if not mip_gap:
                options["allowableGap"] = 0
    if not relax and is_highs and math.isinf(inst.device_memory_bytes):
        # the §4.3 matrix is totally unimodular (difference constraints after y' = x - y), so the
        # root LP is integral; HiGHS' MIP presolve dominates the time (measured on a 10^3-layer
        # random DAG: 2.5 s with presolve, 0.08 s without), hence it is switched off
        options["presolve"] = "off"
    res = solve(model, solver=solver, time_limit=time_limit,
                mip_gap=(0.0 if mip_gap is None else mip_gap) if not relax else None, options=options)
    if res.status == "infeasible":
        if not math.isinf(inst.device_memory_bytes):
            raise _memory_infeasible(inst)
        raise InfeasibleError(f"the {'LP' if relax else 'MILP'} is infeasible ({res.message})", "pins")
    if not res.ok:
        raise SloptError(f"{res.solver} returned {res.status}: {res.message}")
    xv = _x_values(model, inst.n)
    # a pinned layer is determined by its pin row (x_v = 1 or 0); a solver may leave such a
    # column out of its solution after presolve (seen with a 1-layer graph under CI load), so the
    # pins are written back before rounding
    xv = np.where(inst.device_pin, 1.0, np.where(inst.server_pin, 0.0, xv))
    x = threshold_rounding(inst, xv) if relax else xv > 0.5
    return x, res


def milp(inst: SplitInstance, solver: str | None = None, kind: str = "pyomo",
         time_limit: float | None = None, mip_gap: float | None = None
         ) -> tuple[np.ndarray, SolveResult]:
    """The MILP of §4.3 (with the §4.4 memory row when M_dev is finite) through ``solve()``.
    ``mip_gap`` defaults to 0 (proven optimal)."""
    return _solve_formulation(inst, False, kind, solver, time_limit, mip_gap)


def lp_relaxation(inst: SplitInstance, solver: str | None = None, kind: str = "pyomo",
                  time_limit: float | None = None) -> tuple[np.ndarray, SolveResult]:
    """The LP relaxation of §4.3 (tight, Claim 6.3) and threshold rounding (Claim 6.4)."""
    if not math.isinf(inst.device_memory_bytes):
        raise ValidationError("lp: the LP relaxation is not tight with the §4.4 memory row; use milp",
                              "device_memory_bytes")
    return _solve_formulation(inst, True, kind, solver, time_limit, None)


# --------------------------------------------------------------------------- 6. benchmarks §8
def device_only(inst: SplitInstance) -> np.ndarray:
    """§8.6: D = V (local training, no traffic), minus descendants of server pins."""
    return ~forced_server(inst)


def minimal_device(inst: SplitInstance) -> np.ndarray:
    """§8.6: the smallest feasible D: the input layers and the ancestors of device pins."""
    return forced_device(inst)


def chain_split(inst: SplitInstance, order: np.ndarray | None = None, model: str = "exact"
                ) -> np.ndarray:
    """§8.3: the best prefix D_k = {v_1..v_k} of one topological order (O(n + m), vectorised).

    ``model="exact"``: each prefix priced with Eq. 6 (all crossing tensors);
    ``model="chain"``: Neurosurgeon-style, the prefix priced as if the model were a chain (only
    the output of v_k is sent), then the chosen split is re-priced exactly by the caller.
    """
    g = inst.graph
    order = g.topological_order if order is None else np.asarray(order, dtype=np.int64)
    n = g.n
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    dev = np.concatenate([[0.0], np.cumsum(inst.tau_dev_s[order])])
    srv = float(inst.tau_srv_s.sum()) - np.concatenate([[0.0], np.cumsum(inst.tau_srv_s[order])])
    if model == "exact":
        maxsucc = np.full(n, -1, dtype=np.int64)
        np.maximum.at(maxsucc, g.src, pos[g.dst])
        has = maxsucc >= 0
        diff = np.zeros(n + 2)
        np.add.at(diff, pos[has] + 1, inst.tau_com_s[has])
        np.add.at(diff, maxsucc[has] + 1, -inst.tau_com_s[has])
        com = np.cumsum(diff)[: n + 1]
    elif model == "chain":
        com = np.concatenate([[0.0], inst.tau_com_s[order]])
        com[-1] = 0.0
    else:
        raise ValidationError(f"model = {model!r}; use 'exact' or 'chain'", "model")
    T = dev + srv + com
    ks = np.arange(n + 1)
    lo = pos[inst.device_pin].max() + 1 if inst.device_pin.any() else 0
    hi = pos[inst.server_pin].min() if inst.server_pin.any() else n
    T[(ks < lo) | (ks > hi)] = np.inf
    k = int(np.argmin(T))
    x = np.zeros(n, dtype=bool)
    x[order[:k]] = True
    return x


def greedy_split(inst: SplitInstance, max_steps: int | None = None) -> np.ndarray:
    """§8.4: greedy growth from the minimal device set; repeatedly add the layer (all inputs on
    the device) that lowers T most; stop when none does. Fast per step, not optimal."""
    g = inst.graph
    x = minimal_device(inst)
    blocked = forced_server(inst)
    com = inst.tau_com_s
    steps = 0
    while max_steps is None or steps < max_steps:
        steps += 1
        on_srv_succ = np.bincount(g.src, weights=~x[g.dst], minlength=g.n)
        preds_srv = np.bincount(g.dst, weights=~x[g.src], minlength=g.n)
        cand = ~x & ~blocked & (preds_srv == 0)
        if not cand.any():
            break
        # adding v: pay tau_dev - tau_srv, upload v's output if it has successors, and save the
        # upload of each predecessor u whose only server-side consumer was v
        save = np.bincount(g.dst, weights=np.where(x[g.src] & (on_srv_succ[g.src] == 1), com[g.src], 0.0),
                           minlength=g.n)
        delta = inst.tau_dev_s - inst.tau_srv_s + np.where(g.out_degree > 0, com, 0.0) - save
        delta = np.where(cand, delta, np.inf)
        v = int(np.argmin(delta))
        if not delta[v] < -1e-15:
            break
        x[v] = True
    return x


# --------------------------------------------------------------------------- methods -> Plans
def _timed(f: Any, *a: Any, **k: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = f(*a, **k)
    return out, time.perf_counter() - t0


def method_a(inst: SplitInstance, *, solver: str | None = None, time_limit: float | None = None,
             mip_gap: float | None = None, backend: str | None = None) -> Plan:
    """Algorithm A, compiled backend (``solver`` may name ``ortools`` or ``networkx``)."""
    be = backend or (solver if solver in ("ortools", "networkx") else "ortools")
    (x, cut), sec = _timed(algorithm_a, inst, be)
    res = SolveResult("optimal", objective=cut, bound=cut, gap=0.0, seconds=sec,
                      solver=f"maxflow-{be}", message="minimum s-t cut (Algorithm A)")
    plan = make_plan(inst, x, "a" if be == "ortools" else "a-networkx", sec, res, cut_value_s=cut)
    res.objective = plan.objective
    return plan


def method_a_networkx(inst: SplitInstance, **kw: Any) -> Plan:
    """Algorithm A with the networkx (pure-Python) max-flow, the readable reference."""
    kw.pop("solver", None)
    return method_a(inst, backend="networkx", **kw)


def method_b1(inst: SplitInstance, *, solver: str | None = None, time_limit: float | None = None,
              mip_gap: float | None = None) -> Plan:
    """Algorithm B1 (block abstraction; optimal under Claim 6.6)."""
    (x, cut), sec = _timed(algorithm_b1, inst)
    return make_plan(inst, x, "b1", sec, block_cut_value_s=cut)


def method_b2(inst: SplitInstance, *, solver: str | None = None, time_limit: float | None = None,
              mip_gap: float | None = None) -> Plan:
    """Algorithm B2 (exact on macro-chains; falls back to A elsewhere)."""
    (x, v, info), sec = _timed(algorithm_b2, inst)
    res = SolveResult("optimal", objective=v, bound=v, gap=0.0, seconds=sec, solver="b2-maxflow",
                      message=("B2 on a macro-chain" if info["fallback"] is None
                               else f"not a macro-chain ({info['reason']}): Algorithm A"))
    plan = make_plan(inst, x, "b2", sec, res, n_units=info["n_units"],
                     n_subproblems=info.get("n_subproblems", 1))
    res.objective = plan.objective
    return plan


def method_brute(inst: SplitInstance, *, solver: str | None = None, time_limit: float | None = None,
                 mip_gap: float | None = None) -> Plan:
    """Exhaustive search over ancestor-closed sets (§8.1)."""
    (x, T, count), sec = _timed(brute_force, inst)
    res = SolveResult("optimal", objective=T, bound=T, gap=0.0, seconds=sec, solver="brute-force",
                      message=f"{count} closed sets enumerated")
    return make_plan(inst, x, "brute", sec, res, n_closed_sets=count)


def _method_formulation(relax: bool, kind: str) -> Any:
    def run(inst: SplitInstance, *, solver: str | None = None, time_limit: float | None = None,
            mip_gap: float | None = None) -> Plan:
        t0 = time.perf_counter()
        if relax:
            x, res = lp_relaxation(inst, solver, kind, time_limit)
        else:
            x, res = milp(inst, solver, kind, time_limit, mip_gap)
        name = ("lp" if relax else "milp") + ("-cvxpy" if kind == "cvxpy" else "")
        return make_plan(inst, x, name, time.perf_counter() - t0, res)
    run.__doc__ = f"{'LP relaxation + threshold rounding' if relax else 'MILP'} of §4.3 ({kind})"
    return run


def method_exact(inst: SplitInstance, *, solver: str | None = None, time_limit: float | None = None,
                 mip_gap: float | None = None) -> Plan:
    """Exact reference: brute force on small graphs (<= 20 layers), else the MILP at gap 0."""
    if inst.n <= 20:
        plan = method_brute(inst)
    else:
        plan = _method_formulation(False, "pyomo")(inst, solver=solver, time_limit=time_limit,
                                                   mip_gap=mip_gap)
    plan.method = "exact"
    return plan


def _method_simple(name: str, f: Any, doc: str) -> Any:
    def run(inst: SplitInstance, *, solver: str | None = None, time_limit: float | None = None,
            mip_gap: float | None = None) -> Plan:
        x, sec = _timed(f, inst)
        return make_plan(inst, x, name, sec)
    run.__doc__ = doc
    return run


method_chain = _method_simple("chain", chain_split, "best prefix of a topological order, exact Eq. 6 (§8.3)")
method_neurosurgeon = _method_simple("neurosurgeon", lambda i: chain_split(i, model="chain"),
                                     "best prefix priced as a chain (Neurosurgeon-style, §8.3)")
method_greedy = _method_simple("greedy", greedy_split, "greedy growth (§8.4)")
method_device_only = _method_simple("device-only", device_only, "D = V (§8.6)")
method_minimal_device = _method_simple("server-only", minimal_device,
                                       "D = inputs + ancestors of device pins (§8.6)")

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


# --------------------------------------------------------------------------- 7. dynamic networks
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


# --------------------------------------------------------------------------- synthetic block models
def block_model(n_blocks: int, stages: int = 4, seed: int = 0) -> ModelGraph:
    """A ResNet-type macro-chain with many repeated blocks for benchmarks: stem, ``stages``
    stages of identical residual blocks (conv_a -> conv_b -> add, skip into add), head.

    Figures: 3x3 conv FLOP/bytes of a CIFAR-sized ResNet stage (channels 64 * 2^s, map 32 / 2^s),
    via :func:`slopt.profiles.synthetic.conv_figures`. Vectorised; 10^5+ layers in well under
    a second.
    """
    from slopt.profiles.synthetic import FP32_BYTES, conv_figures

    stage = np.minimum(np.arange(n_blocks) * stages // max(n_blocks, 1), stages - 1)
    c = 64 * 2 ** stage
    hw = np.maximum(32 // 2 ** stage, 1)
    figs = np.array([conv_figures(int(ci), int(ci), int(h)) for ci, h in
                     zip(64 * 2 ** np.arange(stages), np.maximum(32 // 2 ** np.arange(stages), 1))])
    conv = figs[stage]
    add_f = (c * hw * hw).astype(float)
    add = np.stack([add_f, add_f, np.zeros(n_blocks), FP32_BYTES * add_f], axis=1)
    body = np.stack([conv, conv, add], axis=1).reshape(-1, 4)
    stem = np.array([conv_figures(3, 64, 32)])
    cl = float(c[-1]) if n_blocks else 64.0
    head = np.array([[2.0 * cl * 10, 4.0 * cl * 10, FP32_BYTES * cl * 10, FP32_BYTES * 10.0]])
    cols = np.concatenate([stem, body, head])
    n = cols.shape[0]
    base = 1 + 3 * np.arange(n_blocks)
    prev = np.concatenate([[0], base[:-1] + 2])
    src = np.concatenate([np.stack([prev, base, base + 1, prev], 1).reshape(-1), [n - 2]])
    dst = np.concatenate([np.stack([base, base + 1, base + 2, base + 2], 1).reshape(-1), [n - 1]])
    block = np.concatenate([["stem"], np.repeat(np.arange(n_blocks).astype(str), 3), ["head"]])
    return ModelGraph(forward_flop=cols[:, 0], backward_flop=cols[:, 1], param_bytes=cols[:, 2],
                      activation_bytes=cols[:, 3], src=src, dst=dst, block=block.tolist(),
                      name=f"block_model_{n_blocks}")


# --------------------------------------------------------------------------- output: DOT / PNG
def to_dot(inst: SplitInstance, x: np.ndarray, path: str | Path | None = None) -> str:
    """The DAG in Graphviz DOT, device layers blue, server layers orange, cut tensors bold red."""
    g = inst.graph
    z = crossing(inst, x)
    names = [nm.replace("\\", "\\\\").replace('"', '\\"') for nm in g.names]
    lines = [f'digraph "{g.name or "model"}" {{', "  rankdir=TB; node [style=filled, shape=box];"]
    for i, nm in enumerate(names):
        col = "lightblue" if x[i] else "orange"
        lines.append(f'  "{nm}" [fillcolor={col}{", penwidth=3, color=red" if z[i] else ""}];')
    for u, w in zip(g.src.tolist(), g.dst.tolist()):
        cut = x[u] and not x[w]
        lines.append(f'  "{names[u]}" -> "{names[w]}"{" [color=red, penwidth=2]" if cut else ""};')
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if path is not None:
        Path(path).write_text(text)
    return text


def plot_split(inst: SplitInstance, x: np.ndarray, path: str | Path | None = None, ax: Any = None,
               title: str | None = None) -> Any:
    """Draw the DAG coloured by side (matplotlib, layered by topological generation)."""
    import matplotlib
    if path is not None and ax is None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    g = inst.graph
    G = nx.DiGraph()
    G.add_nodes_from(range(g.n))
    G.add_edges_from(zip(g.src.tolist(), g.dst.tolist()))
    for layer, nodes in enumerate(nx.topological_generations(G)):
        for v in nodes:
            G.nodes[v]["layer"] = layer
    pos = nx.multipartite_layout(G, subset_key="layer", align="horizontal")
    pos = {v: (p[0], -p[1]) for v, p in pos.items()}
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6, min(30.0, max(4.0, 0.25 * g.n))))
    cut = [(u, w) for u, w in G.edges if x[u] and not x[w]]
    nx.draw_networkx_edges(G, pos, ax=ax, edge_color="0.6", arrows=True, arrowsize=8)
    nx.draw_networkx_edges(G, pos, edgelist=cut, ax=ax, edge_color="red", width=2.0, arrows=True)
    nx.draw_networkx_nodes(G, pos, ax=ax, node_size=120,
                           node_color=["tab:blue" if x[v] else "tab:orange" for v in range(g.n)])
    if g.n <= 40:
        nx.draw_networkx_labels(G, pos, {v: g.names[v] for v in range(g.n)}, ax=ax, font_size=6)
    ax.set_title(title or f"{g.name}: device (blue) / server (orange), cut edges red")
    ax.axis("off")
    if path is not None:
        ax.figure.savefig(path, dpi=120, bbox_inches="tight")
        if own:
            plt.close(ax.figure)
    return ax


# --------------------------------------------------------------------------- registration
def _scenario_params(scenario: str | Any, seed: int | None) -> dict[str, float]:
    """f_dev, f_srv, R_up, R_dn of the first device and first edge server of a scenario
    (Shannon rates at the mean path-loss gain, no fading; spec Eq. 4)."""
    from slopt.scenarios import Scenario
    from slopt.scenarios import read as read_scenario

    sc = scenario if isinstance(scenario, Scenario) else read_scenario(scenario)
    gain = sc.large_scale_gain((sc.edges or sc.servers)[:1])
    return {"device_flops": sc.devices[0].compute_flops,
            "server_flops": (sc.edges or sc.servers)[0].compute_flops,
            "uplink_bps": float(np.ravel(sc.uplink_rate_bps(gain))[0]),
            "downlink_bps": float(np.ravel(sc.downlink_rate_bps(gain[:1, :1],
                                                                servers=(sc.edges or sc.servers)[:1]))[0])}


def load(profile: str | ModelGraph | None = None, scenario: str | None = None,
         seed: int | None = None, **params: Any) -> SplitInstance:
    """The instance of ``slopt solve dag-split``: a profile (default ``residual_chain``), rates
    from a scenario file or the §7.2 defaults, ``seed`` for rates drawn from the §7.2 ranges,
    every keyword of :func:`make_instance` as a parameter (``--set uplink_bps=2e7``)."""
    g = profile if isinstance(profile, ModelGraph) else None
    if g is None:
        from slopt.profiles import read
        g = read(profile or "residual_chain")
    base: dict[str, Any] = {}
    if scenario is not None:
        base.update(_scenario_params(scenario, seed))
    elif seed is not None:
        rng = np.random.default_rng(check_int("seed", seed, lo=0))
        base.update({k: float(rng.uniform(lo, hi)) for k, (lo, hi) in DYNAMIC_RANGES.items()})
    base.update(params)
    return make_instance(g, **base)


def random_instance(seed: int, n_layers: int = 10, edge_prob: float = 0.3, **params: Any) -> SplitInstance:
    """A small random DAG (``synthetic.random_dag``) with rates from the §7.2 ranges."""
    from slopt.profiles.synthetic import random_dag

    g = random_dag(n_layers, edge_prob=edge_prob, seed=seed, scale_flop=1e9, scale_bytes=1e5)
    return load(g, seed=seed, **params)


def formulations(inst: SplitInstance) -> dict[str, Any]:
    """Zero-argument builders of fresh models whose optimum is T* (LPs only without memory)."""
    out = {"milp-pyomo": lambda: build_pyomo(inst), "milp-cvxpy": lambda: build_cvxpy(inst)}
    if math.isinf(inst.device_memory_bytes):
        out |= {"lp-pyomo": lambda: build_pyomo(inst, relax=True),
                "lp-cvxpy": lambda: build_cvxpy(inst, relax=True)}
    return out


def demo_plot(out_dir: Path) -> Path:
    """The shipped inception profile split by Algorithm A, coloured by side."""
    inst = load("inception", uplink_bps=100e6, downlink_bps=200e6, device_flops=1e9)
    x, _ = algorithm_a(inst)
    path = Path(out_dir) / "dag_split.png"
    plot_split(inst, x, path)
    return path


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


def _register() -> None:
    from slopt.problems import Problem, register

    register(Problem(
        name=PROBLEM,
        summary="optimal DAG model split device/server as a minimum s-t cut (arXiv:2507.01041)",
        load=load, methods=METHODS, demo_methods=("paper", "exact"), commands=commands,
        random_instance=random_instance, formulations=formulations,
        extra={"demo_plot": demo_plot}))


_register()
