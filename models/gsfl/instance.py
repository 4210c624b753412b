"""GSFL instance: clients, edge servers, channel, defaults with their sources (spec §2, §7).

Builders: :func:`make_instance` (the sanity check at the door), :func:`load` (spec §7 defaults, a
random scenario or a scenario file; ``--set`` keys are ``_LOAD_KEYS``), :func:`random_instance`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from slopt.errors import InfeasibleError, ValidationError
from slopt.params import VOCABULARY as V
from slopt.params import Param, ParamTable, scenario_arg
from slopt.profiles import ModelGraph
from slopt.scenarios import Scenario, noise_psd_w_hz
from slopt.validate import as_float_array, check_array, check_int, check_positive

PROBLEM = "gsfl"
SCHEMES = ("gsfl", "sl", "fl", "splitfed", "cpsl")
BITS_PER_BYTE = 8

# Reconstructed defaults, spec §7 (table "Experimental setup").
DEFAULTS: dict[str, Any] = {
    "n_clients": 20,                  # N
    "n_edges": 4,                     # M edge servers = group slots
    "bandwidth_hz": 20e6,             # B^U = B^D
    "client_power_w": 0.2,            # p_n (23 dBm)
    "ap_power_w": 1.0,                # P_AP (30 dBm)
    "backhaul_bps": 1e9,              # R_bh
    "client_flops": (0.5e9, 1.5e9),   # f_n uniform
    "edge_flops": 100e9,              # F_k
    "server_flops": 100e9,            # F (SL / SFL / CPSL server)
    "distance_m": (50.0, 300.0),      # clients uniform in [50, 300] m from the AP
    "n_samples": 2500,                # D_n = 50k CIFAR-10 images / 20 clients, IID
    "batch": 32,                      # b
    "epochs": 1,                      # E
    "rounds": 100,                    # R (CIFAR-10)
}
#: Bisection iterations of Alg. 5 (float64: the bracket shrinks below 1e-15 relative).
BISECTION_STEPS = 100
#: Shannon model: inner bisection steps on α_k (2^-45 ~ 3e-14) and outer relative tolerance on T.
SHANNON_INNER_STEPS = 45
SHANNON_TOL = 1e-11
#: Largest N brute force accepts (Bell(10) = 115975 set partitions).
BRUTE_FORCE_MAX_CLIENTS = 10


# =====================================================================================
# 1. The instance (spec §2, §7): data at the door
# =====================================================================================
@dataclass(frozen=True)
class Instance:
    """One GSFL system: a chain profile, N clients, M edge servers (group slots), the AP's channel.

    Array attributes have one entry per client n (``client_flops`` = f_n FLOP/s, ``n_samples`` =
    D_n, ``client_power_w`` = p_n, ``gain`` = g_n, ``eta_up``/``eta_down`` = η^U_n, η^D_n
    bit/s/Hz) or per edge server k (``edge_flops`` = F_k FLOP/s). Build with
    :func:`make_instance`, :func:`load` or :func:`random_instance`, which validate every field.
    """

    profile: ModelGraph
    client_flops: np.ndarray
    n_samples: np.ndarray
    client_power_w: np.ndarray
    gain: np.ndarray
    eta_up: np.ndarray
    eta_down: np.ndarray
    edge_flops: np.ndarray
    server_flops: float
    uplink_bandwidth_hz: float
    downlink_bandwidth_hz: float
    ap_power_w: float
    noise_psd_w_hz: float
    backhaul_bps: float
    batch: int
    epochs: int
    rounds: int
    cut: int | None = None
    n_groups: int | None = None
    rate_model: str = "fixed-se"
    intra_group: str = "sequential"
    shared_band: bool = True
    shared_backhaul: bool = False
    client_names: tuple[str, ...] = ()
    client_memory_bytes: np.ndarray | None = None
    name: str = ""

    @property
    def N(self) -> int:
        """Number of clients."""
        return int(self.client_flops.shape[0])

    @property
    def M(self) -> int:
        """Number of edge servers (group slots)."""
        return int(self.edge_flops.shape[0])

    @property
    def L(self) -> int:
        """Number of layers of the chain profile (cuts 1..L-1)."""
        return self.profile.n

    @property
    def iterations(self) -> np.ndarray:
        """I_n = E ⌈D_n / b⌉ mini-batch iterations per round (spec §2)."""
        return self.epochs * np.ceil(self.n_samples / self.batch)

    @property
    def cuts(self) -> list[int]:
        """The candidate cuts: the fixed ``cut`` or every c in 1..L-1 that all clients can host."""
        if self.cut is not None:
            return [self.cut]
        return [c for c in range(1, self.L) if _memory_shortfall(self, c) <= 0]

    @property
    def identical_edges(self) -> bool:
        """All F_k equal (symmetry breaking and P||C_max apply)."""
        return bool(np.all(self.edge_flops == self.edge_flops[0]))

    def _check_memory(self) -> "Instance":
        """Optional constraint of P: W_c(c) + b s_c <= mem_n for every client (one common cut)."""
        if np.all(np.isinf(self.client_memory_bytes)):
            return self
        cands = [self.cut] if self.cut is not None else list(range(1, self.L))
        short = {c: _memory_shortfall(self, c) for c in cands}
        if all(v > 0 for v in short.values()):
            c = min(short, key=short.get)
            raise InfeasibleError(
                f"client memory: no cut fits every client (W_c + b s_c <= client_memory_bytes); the "
                f"best cut c = {c} still exceeds a client's memory by {short[c]:.4g} bytes",
                "client memory", float(short[c]))
        return self

    def replace(self, **changes: Any) -> "Instance":
        """A re-validated copy with some fields replaced (keywords of :func:`make_instance`)."""
        kw = {f: getattr(self, f) for f in self.__dataclass_fields__}
        for k in ("eta_up", "eta_down"):
            if any(c in changes for c in ("gain", "client_power_w", "ap_power_w", "uplink_bandwidth_hz",
                                          "downlink_bandwidth_hz", "noise_psd_w_hz")) and k not in changes:
                kw[k] = None
        if np.isnan(kw["gain"]).all():
            kw["gain"] = None
        kw.update(changes)
        return make_instance(**kw)


def _choice(field_: str, value: Any, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ValidationError(f"{field_} = {value!r}; choose one of {list(options)}", field_)
    return str(value)


def _chain_columns(profile: ModelGraph) -> ModelGraph:
    if not isinstance(profile, ModelGraph):
        raise ValidationError(f"profile must be a slopt ModelGraph, got {type(profile).__name__}", "profile")
    if not profile.is_chain:
        raise ValidationError(f"profile {profile.name!r} is not a chain; GSFL cuts a chain model "
                              f"(cut c: layers 1..c on the client)", "profile")
    if profile.n < 2:
        raise ValidationError(f"profile {profile.name!r} has {profile.n} layer; a cut needs at least 2",
                              "profile")
    return profile


def make_instance(
    profile: ModelGraph,
    client_flops: Any,
    n_samples: Any,
    gain: Any = None,
    *,
    client_power_w: Any = DEFAULTS["client_power_w"],
    edge_flops: Any = DEFAULTS["edge_flops"],
    n_edges: int | None = None,
    server_flops: float = DEFAULTS["server_flops"],
    uplink_bandwidth_hz: float = DEFAULTS["bandwidth_hz"],
    downlink_bandwidth_hz: float | None = None,
    ap_power_w: float = DEFAULTS["ap_power_w"],
    noise_psd_w_hz: float = noise_psd_w_hz(-174.0),
    backhaul_bps: float = DEFAULTS["backhaul_bps"],
    batch: int = DEFAULTS["batch"],
    epochs: int = DEFAULTS["epochs"],
    rounds: int = DEFAULTS["rounds"],
    eta_up: Any = None,
    eta_down: Any = None,
    cut: int | None = None,
    n_groups: int | None = None,
    rate_model: str = "fixed-se",
    intra_group: str = "sequential",
    shared_band: bool = True,
    shared_backhaul: bool = False,
    client_names: Any = (),
    client_memory_bytes: Any = None,
    name: str = "",
) -> Instance:
    """Validate the data and build an :class:`Instance` (the sanity check at the door).

    ``gain`` (large-scale power gain g_n) is needed unless both ``eta_up`` and ``eta_down`` (fixed
    spectral efficiencies, bit/s/Hz) are given; the fixed-SE model computes them once as
    η^U_n = log2(1 + p_n g_n / (N_0 B^U)) and η^D_n = log2(1 + P_AP g_n / (N_0 B^D)) (spec §3.2).
    ``edge_flops`` is a scalar (with ``n_edges``) or one F_k per edge server.

    Raises
    ------
    ValidationError
        naming the parameter: zero/negative bandwidth, a cut outside 1..L-1, more groups than
        clients or edge servers, a non-chain profile, a NaN or negative figure...
    """
    profile = _chain_columns(profile)
    f = check_array("client_flops", as_float_array("client_flops", client_flops), what="client",
                    allow_zero=False, unit="FLOP/s")
    N = f.shape[0]
    if N == 0:
        raise ValidationError("client_flops is empty: at least one client is needed", "client_flops")
    D = check_array("n_samples", as_float_array("n_samples", n_samples, N), what="client", allow_zero=False)
    if not np.all(D == np.round(D)):
        raise ValidationError("n_samples must be whole numbers of samples", "n_samples")
    p = check_array("client_power_w", as_float_array("client_power_w", client_power_w, N), what="client", unit="W")
    Bu = check_positive("uplink_bandwidth_hz", uplink_bandwidth_hz, "Hz")
    Bd = check_positive("downlink_bandwidth_hz", Bu if downlink_bandwidth_hz is None else downlink_bandwidth_hz,
                        "Hz")
    check_positive("ap_power_w", ap_power_w, "W")
    check_positive("noise_psd_w_hz", noise_psd_w_hz, "W/Hz")
    check_positive("backhaul_bps", backhaul_bps, "bit/s")
    check_positive("server_flops", server_flops, "FLOP/s")
    if np.ndim(edge_flops) == 0:
        M = check_int("n_edges", DEFAULTS["n_edges"] if n_edges is None else n_edges, lo=1)
        F = np.full(M, check_positive("edge_flops", edge_flops, "FLOP/s"))
    else:
        F = check_array("edge_flops", as_float_array("edge_flops", edge_flops), what="edge server",
                        allow_zero=False, unit="FLOP/s")
        if n_edges is not None and check_int("n_edges", n_edges, lo=1) != F.shape[0]:
            raise ValidationError(f"n_edges = {n_edges} but edge_flops has {F.shape[0]} entries", "n_edges")
        if F.shape[0] == 0:
            raise ValidationError("edge_flops is empty: at least one edge server is needed", "edge_flops")
    batch = check_int("batch", batch, lo=1)
    epochs = check_int("epochs", epochs, lo=1)
    rounds = check_int("rounds", rounds, lo=1)
    rate_model = _choice("rate_model", rate_model, ("fixed-se", "shannon"))
    intra_group = _choice("intra_group", intra_group, ("sequential", "parallel"))
    if cut is not None:
        cut = check_int("cut", cut)
        if not 1 <= cut <= profile.n - 1:
            raise ValidationError(f"cut = {cut} is outside the profile {profile.name!r}: it must be in "
                                  f"1..{profile.n - 1} (L = {profile.n} layers)", "cut")
    if n_groups is not None:
        n_groups = check_int("n_groups", n_groups, lo=1)
        if n_groups > N:
            raise ValidationError(f"n_groups = {n_groups} is more groups than clients (N = {N})", "n_groups")
        if n_groups > F.shape[0]:
            raise ValidationError(f"n_groups = {n_groups} is more groups than edge servers / group slots "
                                  f"(M = {F.shape[0]})", "n_groups")
    if gain is not None:
        g = check_array("gain", as_float_array("gain", gain, N), what="client", allow_zero=False)
    else:
        g = np.full(N, np.nan)
    if eta_up is None or eta_down is None:
        if gain is None:
            raise ValidationError("gain: the channel gain g_n is needed to compute the spectral "
                                  "efficiencies (or give eta_up and eta_down)", "gain")
        eu = np.log2(1.0 + p * g / (noise_psd_w_hz * Bu)) if eta_up is None else eta_up
        ed = np.log2(1.0 + ap_power_w * g / (noise_psd_w_hz * Bd)) if eta_down is None else eta_down
    else:
        eu, ed = eta_up, eta_down
    eu = check_array("eta_up", as_float_array("eta_up", eu, N), what="client", allow_zero=False, unit="bit/s/Hz")
    ed = check_array("eta_down", as_float_array("eta_down", ed, N), what="client", allow_zero=False,
                     unit="bit/s/Hz")
    if rate_model == "shannon" and gain is None:
        raise ValidationError("gain: rate_model 'shannon' needs the channel gain g_n", "gain")
    names = tuple(map(str, client_names)) or tuple(f"c{i}" for i in range(N))
    if len(names) != N:
        raise ValidationError(f"client_names: expected {N} names, got {len(names)}", "client_names")
    mem = np.full(N, np.inf) if client_memory_bytes is None else \
        as_float_array("client_memory_bytes", client_memory_bytes, N)
    bad = ~(mem > 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError(f"client_memory_bytes of client {names[i]!r} is {mem[i]!r}; it must be positive "
                              f"(inf = unconstrained)", "client_memory_bytes")
    for arr in (f, D, p, g, eu, ed, F, mem):
        arr.flags.writeable = False
    return Instance(profile=profile, client_flops=f, n_samples=D, client_power_w=p, gain=g, eta_up=eu,
                    eta_down=ed, edge_flops=F, server_flops=float(server_flops), uplink_bandwidth_hz=Bu,
                    downlink_bandwidth_hz=Bd, ap_power_w=float(ap_power_w), noise_psd_w_hz=float(noise_psd_w_hz),
                    backhaul_bps=float(backhaul_bps), batch=batch, epochs=epochs, rounds=rounds, cut=cut,
                    n_groups=n_groups, rate_model=rate_model, intra_group=intra_group,
                    shared_band=bool(shared_band), shared_backhaul=bool(shared_backhaul), client_names=names,
                    client_memory_bytes=mem, name=str(name))._check_memory()


def _memory_shortfall(inst: Instance, c: int) -> float:
    """max_n (W_c(c) + b s_c - mem_n) in bytes (client-side weights plus one batch of cut-layer
    activations, spec §4 optional constraint); <= 0 when every client can host cut c."""
    o = inst.profile.topological_order
    need = float(inst.profile.param_bytes[o][:c].sum()) + inst.batch * float(inst.profile.activation_bytes[o][c - 1])
    return float(np.max(need - inst.client_memory_bytes))


def spec_vgg11() -> ModelGraph:
    """VGG-11 (CIFAR variant) as the chain of the spec's §7 workload table.

    φ^F_l from the table (multiply-add = 2 FLOP), φ^B_l = 2 φ^F_l (spec §7), ω_l parameters and
    "out" values at 4 bytes each (q = 32 bit). Used when ``data/profiles/vgg11.json`` is not shipped.
    """
    phi_f = [3604480, 65536, 37781504, 32768, 37765120, 75513856, 16384, 37756928, 75505664, 8192,
             18876416, 18876416, 2048, 10250]
    omega = [1792, 0, 73856, 0, 295168, 590080, 0, 1180160, 2359808, 0, 2359808, 2359808, 0, 5130]
    out = [65536, 16384, 32768, 8192, 16384, 16384, 4096, 8192, 8192, 2048, 2048, 2048, 512, 10]
    names = ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "pool3", "conv5", "conv6", "pool4",
             "conv7", "conv8", "pool5", "fc"]
    f = np.asarray(phi_f, dtype=float)
    return ModelGraph.chain(forward_flop=f, backward_flop=2 * f, param_bytes=4.0 * np.asarray(omega),
                            activation_bytes=4.0 * np.asarray(out), names=names, name="vgg11-spec",
                            provenance={"source": "shared/papers/gsfl-latency.md §7 VGG-11 table"})


def _default_profile() -> ModelGraph:
    from slopt.profiles import load_shipped, shipped

    if "vgg11" in shipped():
        g = load_shipped("vgg11")
        if g.is_chain and g.n >= 2:
            return g
    return spec_vgg11()


def _read_profile(profile: str | ModelGraph | None) -> ModelGraph:
    if profile is None:
        return _default_profile()
    if isinstance(profile, ModelGraph):
        return profile
    if profile == "vgg11-spec":
        return spec_vgg11()
    from slopt.profiles import read

    return read(profile)


_S7 = "spec §7 (reconstructed default)"
#: Every key ``load(**params)`` / ``slopt solve gsfl --set`` accepts, with its unit, range, default and
#: source. Shared concepts have the vocabulary's names (``n_devices`` ...); the former names
#: (``n_clients`` ...) still work for one release (DeprecationWarning), and the code below keeps them.
PARAMS: dict[str, Param] = {
    "n_devices": V["n_devices"].like(description="clients N", default=DEFAULTS["n_clients"], source=_S7,
                                     nullable=False),
    "n_edges": V["n_edges"].like(description="edge servers M (group slots)", default=DEFAULTS["n_edges"],
                                 source=_S7, nullable=False),
    "bandwidth_hz": V["bandwidth_hz"].like(lo_open=False, description="B^U (and B^D unless downlink_bandwidth_hz "
                                           "is given); must be positive", default=DEFAULTS["bandwidth_hz"],
                                           source=_S7, nullable=False),
    "downlink_bandwidth_hz": V["downlink_bandwidth_hz"].like(description="B^D (default: bandwidth_hz)",
                                                             nullable=False),
    "device_tx_power_w": V["device_tx_power_w"].like(kind="floats", description="client transmit power p_n (one "
                                                     "value or one per client)", default=DEFAULTS["client_power_w"],
                                                     source="spec §7 (23 dBm)", nullable=False),
    "server_tx_power_w": V["server_tx_power_w"].like(lo_open=True, description="AP transmit power P_AP",
                                                     default=DEFAULTS["ap_power_w"], source="spec §7 (30 dBm)",
                                                     nullable=False),
    "backhaul_bps": Param("float", "edge-to-server backhaul rate R_bh", "bit/s", lo=0, lo_open=True,
                          default=DEFAULTS["backhaul_bps"], source=_S7, nullable=False),
    "device_flops": V["device_flops"].like(kind="span", description="client throughput f_n: one value or a [lo, hi] "
                                           "range drawn uniformly", default=list(DEFAULTS["client_flops"]),
                                           source=_S7, nullable=False),
    "edge_flops": Param("floats", "edge server throughput F_k (one value or one per edge server)", "FLOP/s", lo=0,
                        lo_open=True, default=DEFAULTS["edge_flops"], source=_S7, nullable=False),
    "server_flops": V["server_flops"].like(kind="float", description="server throughput F (SL / SFL / CPSL)",
                                           default=DEFAULTS["server_flops"], source=_S7, nullable=False),
    "distance_m": Param("span", "client distance to the AP: one value or a [lo, hi] range drawn uniformly", "m",
                        lo=0, lo_open=True, default=list(DEFAULTS["distance_m"]), source=_S7, nullable=False),
    "n_samples": Param("ints", "local samples D_n (one value or one per client; at most 10^15, drawn as int64)",
                       "samples", lo=1, hi=10**15,
                       default=DEFAULTS["n_samples"], source="spec §7 (50k CIFAR-10 images / 20 clients)",
                       nullable=False),
    "batch": V["batch"].like(default=DEFAULTS["batch"], source=_S7, nullable=False),
    "epochs": Param("int", "local epochs E", "", lo=1, default=DEFAULTS["epochs"], source=_S7, nullable=False),
    "rounds": Param("int", "training rounds R", "", lo=1, default=DEFAULTS["rounds"], source="spec §7 (CIFAR-10)",
                    nullable=False),
    "cut": Param("int", "a fixed cut c (None: optimised)", "", lo=1),
    "n_groups": Param("int", "a fixed number of groups (None: optimised)", "", lo=1),
    "rate_model": Param("choice", "rate model (spec §3.2)", choices=("fixed-se", "shannon"), default="fixed-se",
                        source="spec §3.2", nullable=False),
    "intra_group": Param("choice", "clients of a group train in sequence or in parallel",
                         choices=("sequential", "parallel"), default="sequential", source="spec §3", nullable=False),
    "shared_band": Param("bool", "the groups share the AP's band", default=True, nullable=False),
    "shared_backhaul": Param("bool", "the groups share the backhaul", default=False, nullable=False),
    "seed": V["seed"].like(default=0, nullable=False),
    "eta": Param("float", "fixed spectral efficiency eta^U = eta^D of every client (None: from the channel)",
                 "bit/s/Hz", lo=0, lo_open=True, source="spec §9 (8 bit/s/Hz)"),
    "noise_psd_dbm_hz": V["noise_psd_dbm_hz"].like(default=-174.0, nullable=False),
    "device_memory_bytes": V["device_memory_bytes"].like(description="client memory mem_n (one value or one per "
                                                         "client; None / inf: unconstrained)"),
}
TABLE = ParamTable(PROBLEM, PARAMS, internal={"n_devices": "n_clients", "device_flops": "client_flops",
                                              "device_memory_bytes": "client_memory_bytes",
                                              "device_tx_power_w": "client_power_w",
                                              "server_tx_power_w": "ap_power_w"}, label="gsfl")

_LOAD_KEYS = {"n_clients", "n_edges", "bandwidth_hz", "client_power_w", "ap_power_w", "backhaul_bps",
              "client_flops", "edge_flops", "server_flops", "distance_m", "n_samples", "batch", "epochs",
              "rounds", "cut", "n_groups", "rate_model", "intra_group", "shared_band", "shared_backhaul",
              "uplink_bandwidth_hz", "downlink_bandwidth_hz", "seed", "eta", "noise_psd_dbm_hz",
              "client_memory_bytes"}


def load(profile: str | ModelGraph | None = None, scenario: str | Scenario | None = None,
         **params: Any) -> Instance:
    """Build an instance: the spec §7 defaults, a random scenario (``seed=``) or a scenario file.

    ``profile``: a profile file / shipped name (default: the shipped ``vgg11`` when present, else
    :func:`spec_vgg11`). ``scenario``: a scenario file or shipped name; its devices are the clients
    (compute_flops, distance_m, tx_power_w, n_samples) and its edge servers the group slots.
    Without a scenario the clients come from ``Scenario.random(seed)`` (default 0) with the §7
    distributions (f_n, distance) and D_n = ``n_samples``.
    Every other keyword is a problem parameter (see ``DEFAULTS`` and :func:`make_instance`);
    ``eta=<bit/s/Hz>`` fixes η^U = η^D for every client (the §9 setting uses 8).
    """
    params = dict(params)
    up = params.pop("uplink_bandwidth_hz", None)     # former uplink-only key: B^D stays as it was
    params = TABLE.check(params)
    if up is not None:
        TABLE.warn_alias("uplink_bandwidth_hz", "bandwidth_hz")
        params["uplink_bandwidth_hz"] = TABLE.check({"bandwidth_hz": up})["bandwidth_hz"]
    P = {**DEFAULTS, **params}
    g_profile = _read_profile(profile)
    noise = noise_psd_w_hz(float(P.get("noise_psd_dbm_hz", -174.0)))
    Bu = P.get("uplink_bandwidth_hz", P["bandwidth_hz"])
    Bd = P.get("downlink_bandwidth_hz", P["bandwidth_hz"])
    if scenario is not None:
        sc = scenario_arg(scenario)
        edges = sc.edges or sc.servers
        f = sc.device_array("compute_flops")
        D = sc.device_array("n_samples")
        if np.any(D <= 0):
            D = np.where(D <= 0, P["n_samples"], D)
        p = sc.device_array("tx_power_w")
        gain = sc.channel.path_loss.gain(sc.device_array("distance_m"))
        F = sc.server_array("compute_flops", tuple(edges))
        names = tuple(d.name for d in sc.devices)
        mem = params.get("client_memory_bytes", sc.device_array("memory_bytes"))
        Bu = params.get("uplink_bandwidth_hz", params.get("bandwidth_hz", sc.channel.uplink_bandwidth_hz))
        Bd = params.get("downlink_bandwidth_hz", params.get("bandwidth_hz", sc.channel.downlink_bandwidth_hz))
        noise = sc.channel.noise_psd_w_hz if "noise_psd_dbm_hz" not in params else noise
        bh = [ln.rate_bps for ln in sc.links]
        backhaul = params.get("backhaul_bps", bh[0] if bh else P["backhaul_bps"])
        ap_power = params.get("ap_power_w", float(edges[0].tx_power_w) or P["ap_power_w"])
        name = sc.name
    else:
        N = check_int("n_clients", P["n_clients"], lo=1)
        seed = check_int("seed", P.get("seed", 0), lo=0)

        def span(v: Any) -> tuple[float, float]:
            return (float(v), float(v)) if np.ndim(v) == 0 else (float(v[0]), float(v[1]))

        ns = P["n_samples"]
        sc = Scenario.random(seed, n_devices=N, n_edges=1, device_flops=span(P["client_flops"]),
                             distance_m=span(P["distance_m"]), uplink_bandwidth_hz=Bu, downlink_bandwidth_hz=Bd,
                             n_samples=(int(ns), int(ns)) if np.ndim(ns) == 0 else (1, 1))
        f = sc.device_array("compute_flops")
        gain = sc.channel.path_loss.gain(sc.device_array("distance_m"))
        D = sc.device_array("n_samples") if np.ndim(ns) == 0 else ns
        p = P["client_power_w"]           # spec §7: 0.2 W (23 dBm)
        F = P["edge_flops"]
        names = ()
        mem = P.get("client_memory_bytes")    # unconstrained unless given (spec §7 names no memory)
        backhaul, ap_power = P["backhaul_bps"], P["ap_power_w"]
        name = f"gsfl-{N}-clients-seed{P.get('seed', 0)}"
    eta = P.get("eta")
    return make_instance(
        g_profile, f, D, gain, client_power_w=p, edge_flops=F,
        n_edges=None if np.ndim(F) else P["n_edges"], server_flops=P["server_flops"],
        uplink_bandwidth_hz=Bu, downlink_bandwidth_hz=Bd, ap_power_w=ap_power, noise_psd_w_hz=noise,
        backhaul_bps=backhaul, batch=P["batch"], epochs=P["epochs"], rounds=P["rounds"],
        eta_up=None if eta is None else np.full(len(f), float(eta)),
        eta_down=None if eta is None else np.full(len(f), float(eta)),
        cut=P.get("cut"), n_groups=P.get("n_groups"), rate_model=P.get("rate_model", "fixed-se"),
        intra_group=P.get("intra_group", "sequential"), shared_band=P.get("shared_band", True),
        shared_backhaul=P.get("shared_backhaul", False), client_names=names, client_memory_bytes=mem,
        name=name)


def random_instance(seed: int = 0, **params: Any) -> Instance:
    """A small random instance (default 6 clients, 3 edge servers, the synthetic 6-layer chain).

    Keywords as in :func:`load`; ``profile=`` a ModelGraph or name overrides the synthetic chain.
    """
    from slopt.profiles import synthetic

    prof = params.pop("profile", None)
    if "n_clients" not in params:
        params.setdefault("n_devices", 6)
    params.setdefault("n_edges", 3)
    return load(prof if prof is not None else synthetic.chain(6), None, seed=seed, **params)

