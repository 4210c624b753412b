"""The dag-split instance (spec min-cut-splitting.md §2, §3.2, §4.2, §4.4, §7.2): per-layer
delays (Eqs. 1-3), pins (C1, V_srv), the optional device-memory model, defaults with their
sources, loaders and random instances."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from slopt.errors import InfeasibleError, ValidationError
from slopt.params import VOCABULARY as V
from slopt.params import Param, ParamTable, profile_arg, scenario_arg
from slopt.profiles import ModelGraph
from slopt.validate import check_array, check_int, check_positive

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


#: Readings of C1 (``c1_rule``): "computing" (default) -- the raw input stays on the device up to
#: the first layers that compute on it. A layer without computation (tau_dev = tau_srv = 0: a
#: reshape, pad, dropout-at-zero-cost, an embedding lookup profiled at 0 FLOP) whose inputs are
#: all raw outputs raw data again; such raw layers pass the pin on to their consumers, so the
#: uploaded tensor is never the raw input, only re-laid out. "inputs" -- only the in-degree-0
#: vertices (the reading before this rule).
C1_RULES = ("computing", "inputs")

_S72 = "spec §7.2 (reconstructed default)"
#: Every key ``load(**params)`` / ``slopt solve dag-split --set`` accepts (the keywords of
#: :func:`make_instance` and ``seed``), with its unit, range, default and source.
PARAMS: dict[str, Param] = {
    "device_flops": V["device_flops"].like(kind="float", description="device throughput f_dev (Eq. 1)",
                                           default=DEFAULTS["device_flops"], source=_S72, nullable=False),
    "server_flops": V["server_flops"].like(kind="float", description="server throughput f_srv (Eq. 2)",
                                           default=DEFAULTS["server_flops"], source=_S72, nullable=False),
    "uplink_bps": V["uplink_bps"].like(description="uplink rate R_up (Eq. 3)", default=DEFAULTS["uplink_bps"],
                                       source=_S72, nullable=False),
    "downlink_bps": V["downlink_bps"].like(description="downlink rate R_dn (Eq. 3)",
                                           default=DEFAULTS["downlink_bps"], source=_S72, nullable=False),
    "batch": V["batch"].like(kind="float", lo=0, lo_open=True, description="batch B, samples per iteration (a "
                             "scale factor of Eqs. 1-3, so any positive number)", default=DEFAULTS["batch"],
                             source=_S72, nullable=False),
    "device_pins": Param("layers", "layers forced onto the device (names, indices or a boolean mask)"),
    "server_pins": Param("layers", "layers forced onto the server, V_srv (names, indices or a boolean mask)"),
    "pin_inputs": Param("bool", "C1: the input layers (and the raw layers of c1_rule) on the device", default=True,
                        source="spec §4.2", nullable=False),
    "pin_outputs": Param("bool", "every output layer on the server (labels stay there)", default=False,
                         source="spec §10.5", nullable=False),
    "c1_rule": Param("choice", "which layers C1 pins", choices=C1_RULES, default="computing", source="spec §4.2",
                     nullable=False),
    "device_memory_bytes": V["device_memory_bytes"].like(kind="float", description="device memory M_dev of §4.4 "
                                                         "(None / inf: unconstrained)", source="spec §4.4"),
    "optimizer_state_factor": Param("float", "optimiser state per trainable byte (Adam: two moments)", "", lo=0,
                                    default=OPTIMIZER_STATE_FACTOR, source="Kingma & Ba 2015 (spec §4.4)",
                                    nullable=False),
    "check": Param("bool", "verify that the pins are not contradictory", default=True, nullable=False),
    "seed": V["seed"].like(description="seed of rates drawn from the §7.2 ranges (None: the defaults)"),
}
TABLE = ParamTable(PROBLEM, PARAMS)


def c1_layers(graph: ModelGraph, tau_dev_s: np.ndarray, tau_srv_s: np.ndarray,
              rule: str = "computing") -> np.ndarray:
    """The layers C1 pins to the device (spec §4.2, rule in :data:`C1_RULES`).

    ``"computing"``: the inputs; the *raw* layers (an input without computation, or a layer
    without computation all of whose predecessors are raw); and every consumer of a raw layer
    (the first computing layers, or a non-computing layer that mixes raw and computed inputs).
    """
    if rule not in C1_RULES:
        raise ValidationError(f"c1_rule = {rule!r}; use one of {C1_RULES}", "c1_rule")
    pins = np.zeros(graph.n, dtype=bool)
    pins[graph.inputs] = True
    if rule == "inputs":
        return pins
    idle = (np.asarray(tau_dev_s) == 0) & (np.asarray(tau_srv_s) == 0)
    raw = pins & idle
    indeg = graph.in_degree
    while True:
        n_raw_pred = np.bincount(graph.dst, weights=raw[graph.src], minlength=graph.n)
        new = idle & ~raw & (indeg > 0) & (n_raw_pred == indeg)
        if not new.any():
            break
        raw |= new
    pins |= raw
    pins[graph.dst[raw[graph.src]]] = True
    return pins


def make_instance(graph: ModelGraph | str, *, device_flops: float = DEFAULTS["device_flops"],
                  server_flops: float = DEFAULTS["server_flops"],
                  uplink_bps: float = DEFAULTS["uplink_bps"],
                  downlink_bps: float = DEFAULTS["downlink_bps"], batch: float = DEFAULTS["batch"],
                  device_pins: Any = None, server_pins: Any = None, pin_inputs: bool = True,
                  pin_outputs: bool = False, c1_rule: str = "computing",
                  device_memory_bytes: float | None = None,
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
    c1_rule : which layers C1 pins (:data:`C1_RULES`): "computing" (default) also pins the
        successors of input vertices that do no computation (reshape, pad), up to the first
        computing layers; "inputs" pins the in-degree-0 vertices only
    pin_outputs : pin every output layer to the server (labels stay on the server; default False,
        spec §10.5)
    device_memory_bytes : M_dev of §4.4 (None / inf: unconstrained)
    check : verify that the pins are not contradictory (raises :class:`InfeasibleError`)

    Raises
    ------
    ValidationError : NaN / zero / negative throughput, rate or batch (naming the parameter)
    InfeasibleError : contradictory pins (a server-pinned layer is an ancestor of a device one)
    """
    TABLE.validate_args(dict(locals()))   # the same declared checks as load() / --set
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
        dev |= c1_layers(graph, tau_dev, tau_srv, c1_rule)
    if pin_outputs:
        srv[graph.outputs] = True
    params = dict(device_flops=f_dev, server_flops=f_srv, uplink_bps=r_up, downlink_bps=r_dn,
                  batch=b, device_pins=np.flatnonzero(_mask(graph, device_pins, "device_pins")).tolist(),
                  server_pins=np.flatnonzero(_mask(graph, server_pins, "server_pins")).tolist(),
                  pin_inputs=pin_inputs, pin_outputs=pin_outputs, c1_rule=c1_rule,
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
                         c1_rule: str = "computing", memory_bytes: Any = 0.0,
                         device_memory_bytes: float | None = None,
                         block: Sequence[Any] | None = None, check: bool = True) -> SplitInstance:
    """P1 straight from per-layer delays (the spec's hand examples and random property tests).

    ``tau_com_s`` is the whole Eq. 3 delay; ``tau_dn_s`` (default 0) is the part of it spent on
    the download (for the breakdown only). ``c1_rule`` as in :func:`make_instance`.
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
        dev |= c1_layers(graph, arrays["tau_dev_s"], arrays["tau_srv_s"], c1_rule)
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


def load(profile: str | ModelGraph | None = None, scenario: Any = None,
         seed: int | None = None, **params: Any) -> SplitInstance:
    """The instance of ``slopt solve dag-split``: a profile (default ``residual_chain``), rates
    from a scenario file or the §7.2 defaults, ``seed`` for rates drawn from the §7.2 ranges,
    every keyword of :func:`make_instance` as a parameter (``--set uplink_bps=2e7``; :data:`PARAMS`)."""
    params = TABLE.check({**params, **({} if seed is None else {"seed": seed})})
    seed = params.pop("seed", None)
    g = profile_arg(profile or "residual_chain")
    base: dict[str, Any] = {}
    if scenario is not None:
        base.update(_scenario_params(scenario_arg(scenario), seed))
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
