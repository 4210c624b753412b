"""CARD instance: the data of one horizon (spec §2), the §7 defaults with their sources, the builder
:func:`make_instance` (the sanity check at the door), :func:`load`, :func:`random_instance` and the
parameter keys ``slopt solve card --set`` accepts (every key of :data:`DEFAULTS`).

Every default is a "reconstructed default, spec §7" unless marked [P] (stated in the paper).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slopt.errors import InfeasibleError, ValidationError
from slopt.params import VOCABULARY as V
from slopt.params import Param, ParamTable, profile_arg, scenario_arg
from slopt.profiles import ModelGraph
from slopt.profiles.transformer import PRESETS
from slopt.scenarios import Channel, Device, Scenario, Server
from slopt.scenarios.radio import dbm_to_w, rayleigh_power, shannon_rate_bps
from slopt.validate import as_float_array, check_int, check_nonneg, check_positive

PROBLEM = "card"
GHZ = 1e9            # solver scaling of §4.3: f in GHz, Gamma in gigacycles
KAPPA_SCALE = 1e27   # kappa * 1e27 = J per gigacycle per GHz^2

# --------------------------------------------------------------------------------------------
# §7 defaults. Every value is a "reconstructed default, spec §7" unless marked [P].
# --------------------------------------------------------------------------------------------
DEFAULTS: dict[str, Any] = {
    # LLM and fine-tuning (spec §7: LLaMA-2-7B-like, b = 4, S = 256, q = 16, LoRA Z = 8 on q, v)
    "model": "llama2-7b",
    "seq_len": 256,
    "batch": 4,
    "bits_per_element": 16,
    "lora_rank": 8,
    "lora_targets": ("q", "v"),
    "rho_B": 1.0,
    "include_head": False,
    "iterations": 10,                       # I, mini-batches per turn
    "rounds": 200,                          # M
    # devices (spec §7); N = 5 is [P]
    "n_devices": 5,
    "device_flops": (2e12, 4e12, 6e12, 8e12, 10e12),
    "distance_m_range": (50.0, 200.0),
    "device_tx_power_dbm": 23.0,
    "device_clock_hz": 1e9,                 # §3.7 device energy, reporting only
    "device_kappa": 5e-27,
    # server (spec §7: 312 TFLOP/s at 1.41 GHz, 392 W at f_max)
    "server_flop_per_cycle": 2.21e5,
    "f_min_hz": 0.21e9,
    "f_max_hz": 1.41e9,
    "kappa": 1.4e-25,
    "ap_tx_power_dbm": 43.0,
    # channel (shared radio defaults, spec §7)
    "bandwidth_hz": 20e6,
    "noise_psd_dbm_hz": -174.0,
    # objective (spec §7: omega_E = 3.6e-3 s/J gives f° ~ 1.0 GHz)
    "omega_T": 1.0,
    "omega_E": 3.6e-3,
    "scalarisation": "weighted",            # or "tchebycheff" (§5.1)
    "t_max_s": None,                        # (C3) off
    "device_memory_bytes": None,            # (C4) off: use the scenario's memory_bytes if finite
    "c_min": 1,
    "fixed_cut": None,                      # L // 2 for the fixed-cut baselines (§7: c = 16)
    "random_frequency": "uniform",          # B4: uniform in [f_min, f_max] (or "fmax")
    "exact_formulation": "enumeration",     # or "misocp" / "minlp" (per turn; small instances)
    "seed": 0,
}

_S7 = "spec §7 (reconstructed default)"
_LORA = ("q", "k", "v", "o", "up", "gate", "down")
#: Every key ``load(**params)`` / ``slopt solve card --set`` accepts, with its unit, range, default and source.
PARAMS: dict[str, Param] = {
    "model": Param("choice", "transformer preset of the default analytic profile", choices=tuple(sorted(PRESETS)),
                   default="llama2-7b", source=_S7, nullable=False),
    "seq_len": Param("int", "sequence length S", "tokens", lo=1, default=256, source=_S7, nullable=False),
    "batch": V["batch"].like(default=4, source=_S7, nullable=False),
    "bits_per_element": Param("int", "bits per weight / activation element q (a multiple of 8)", "bit", lo=8,
                              default=16, source=_S7, nullable=False),
    "lora_rank": Param("int", "LoRA rank Z (None: full fine-tuning)", "", lo=1, default=8, source=_S7),
    "lora_targets": Param("strs", "LoRA-adapted projections", choices=_LORA, default=["q", "v"], source=_S7,
                          nullable=False),
    "rho_B": Param("float", "backward / forward FLOP ratio (None: the profile's own backward FLOP)", "", lo=0,
                   default=1.0, source="spec §3.3"),
    "include_head": Param("bool", "count the LM head and embedding FLOP (neglected in §7)", default=False,
                          source=_S7, nullable=False),
    "iterations": Param("int", "mini-batches per turn I", "", lo=1, default=10, source=_S7, nullable=False),
    "rounds": Param("int", "rounds M (at most 10^6: the gains are an M x N array)", "", lo=1, hi=10**6, default=200,
                    source=_S7, nullable=False),
    "n_devices": V["n_devices"].like(default=5, source="paper (spec §7 [P])"),
    "device_flops": V["device_flops"].like(description="device training throughput F_n (one value, or one per "
                                           "device)", default=list(DEFAULTS["device_flops"]), source=_S7,
                                           nullable=False),
    "distance_m_range": Param("range", "device distance to the AP, drawn uniformly", "m", lo=0, lo_open=True,
                              default=[50.0, 200.0], source=_S7, nullable=False),
    "device_tx_power_dbm": Param("float", "device transmit power p_n", "dBm", lo=-300, hi=300, default=23.0,
                                 source=_S7, nullable=False),
    "device_clock_hz": Param("float", "device clock f_n (device energy, §3.7)", "Hz", lo=0, lo_open=True,
                             default=1e9, source="spec §3.7", nullable=False),
    "device_kappa": Param("float", "device switched capacitance", "J s^2/cycle^3", lo=0, default=5e-27,
                          source="spec §3.7", nullable=False),
    "server_flop_per_cycle": Param("float", "server FLOP per cycle g_s (312 TFLOP/s at 1.41 GHz)", "FLOP/cycle",
                                   lo=0, lo_open=True, default=2.21e5, source=_S7),
    "f_min_hz": Param("float", "lowest server clock f_min (C2)", "Hz", lo=0, lo_open=True, default=0.21e9,
                      source=_S7),
    "f_max_hz": Param("float", "highest server clock f_max (C2)", "Hz", lo=0, lo_open=True, default=1.41e9,
                      source=_S7),
    "kappa": Param("float", "server switched capacitance (392 W at f_max)", "J s^2/cycle^3", lo=0,
                   default=1.4e-25, source=_S7),
    "ap_tx_power_dbm": Param("float", "AP transmit power p_s", "dBm", lo=-300, hi=300, default=43.0, source=_S7,
                             nullable=False),
    "bandwidth_hz": V["bandwidth_hz"].like(default=20e6, source=_S7, nullable=False),
    "noise_psd_dbm_hz": V["noise_psd_dbm_hz"].like(default=-174.0, source=_S7, nullable=False),
    "omega_T": Param("float", "weight of the training delay in P0", "1", lo=0, default=1.0, source=_S7,
                     nullable=False),
    "omega_E": Param("float", "weight of the energy in P0", "s/J", lo=0, default=3.6e-3,
                     source="spec §7 (f° ~ 1.0 GHz)", nullable=False),
    "scalarisation": Param("choice", "scalarisation of delay and energy (§5.1)", choices=("weighted", "tchebycheff"),
                           default="weighted", source="spec §4.1", nullable=False),
    "t_max_s": Param("float", "delay limit of (C3) (None: off)", "s", lo=0, lo_open=True, default=None,
                     source="spec §4.1"),
    "device_memory_bytes": V["device_memory_bytes"].like(description="device memory cap of (C4), one value or one "
                                                         "per device (None: the scenario's)", default=None,
                                                         source="spec §4.1"),
    "c_min": Param("int", "smallest cut c_min (C1)", "", lo=1, default=1, source="spec §4.1", nullable=False),
    "fixed_cut": Param("int", "cut of the fixed-cut baselines (None: L // 2)", "", lo=1, default=None,
                       source="spec §7 (c = 16)"),
    "random_frequency": Param("choice", "frequency draw of the random baseline B4", choices=("uniform", "fmax"),
                              default="uniform", source="spec §8", nullable=False),
    "exact_formulation": Param("choice", "formulation the exact method solves", choices=("enumeration", "misocp",
                               "minlp"), default="enumeration", source="spec §4.3", nullable=False),
    "seed": V["seed"].like(default=0, source="spec §7 (seed 0 reproduces its figures)", nullable=False),
}
TABLE = ParamTable(PROBLEM, PARAMS)


# --------------------------------------------------------------------------------------------
# §2 the instance
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class CardInstance:
    """Data of one CARD horizon: M rounds x N devices, L layers (spec §2).

    Per-layer arrays have length L (layer l = index l - 1); per-device arrays length N;
    per-turn arrays shape (M, N). Build it with :func:`make_instance` (which checks it).
    """

    phi_flop: np.ndarray            # phi_l, training FLOP of layer l per mini-batch
    phi_head_flop: float            # server-only FLOP per mini-batch (LM head + loss)
    delta_bits: np.ndarray          # delta_l, LoRA adapter bits of layer l
    act_bits: np.ndarray            # D_act(c) for a cut after layer c, bits per mini-batch
    grad_bits: np.ndarray           # gradient returned for a cut after layer c, bits per mini-batch
    mem_bytes: np.ndarray           # device memory of layer l (for C4), bytes
    layer_names: tuple[str, ...]
    iterations: int                 # I
    F_n: np.ndarray                 # device compute, FLOP/s
    p_n: np.ndarray                 # device transmit power, W
    g_n: np.ndarray                 # device FLOP per cycle (§3.7)
    f_n: np.ndarray                 # device clock, Hz (§3.7)
    kappa_n: np.ndarray             # device capacitance (§3.7)
    c_max_n: np.ndarray             # largest feasible cut per device (C1, C4)
    device_names: tuple[str, ...]
    g_s: float                      # server FLOP per cycle
    f_min: float                    # Hz
    f_max: float                    # Hz
    kappa: float                    # server capacitance, J s^2 / cycle^3
    p_s: float                      # AP transmit power, W
    B_U: float                      # uplink bandwidth, Hz
    B_D: float                      # downlink bandwidth, Hz
    N_0: float                      # noise PSD, W/Hz
    h: np.ndarray                   # channel gain h_{m,n}, shape (M, N)
    omega_T: float
    omega_E: float
    scalarisation: str = "weighted"
    t_max_s: float | None = None
    c_min: int = 1
    fixed_cut: int = 1
    random_frequency: str = "uniform"
    exact_formulation: str = "enumeration"
    seed: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    # ---- sizes
    @property
    def L(self) -> int:
        return int(self.phi_flop.shape[0])

    @property
    def M(self) -> int:
        return int(self.h.shape[0])

    @property
    def N(self) -> int:
        return int(self.h.shape[1])

    @property
    def cuts(self) -> np.ndarray:
        """Candidate cuts c_min..L-1 (C1); per-device caps are in ``c_max_n``."""
        return np.arange(self.c_min, self.L, dtype=np.int64)

    def cut_mask(self) -> np.ndarray:
        """(N, K) True where cut ``cuts[k]`` is in device n's set C_n (C1, C4)."""
        return self.cuts[None, :] <= self.c_max_n[:, None]

    def replace(self, **changes: Any) -> "CardInstance":
        """A checked copy with some fields replaced (e.g. ``omega_E=1e-2``)."""
        from dataclasses import replace as _replace

        inst = _replace(self, **changes)
        _check_instance(inst)
        return inst

    # ---- §3.3 prefix sums
    @property
    def Phi(self) -> np.ndarray:
        """Phi(c) = sum_{l<=c} phi_l for c = 0..L (prefix sums, length L + 1)."""
        return np.concatenate(([0.0], np.cumsum(self.phi_flop)))

    @property
    def D_ad(self) -> np.ndarray:
        """D_ad(c) = sum_{l<=c} delta_l for c = 0..L, bits."""
        return np.concatenate(([0.0], np.cumsum(self.delta_bits)))

    @property
    def Mem(self) -> np.ndarray:
        """Mem(c) = sum_{l<=c} mem_l for c = 0..L, bytes (C4)."""
        return np.concatenate(([0.0], np.cumsum(self.mem_bytes)))


def layer_figures(graph: ModelGraph, batch: int, rho_B: float | None = 1.0,
                  include_head: bool = False) -> dict[str, Any]:
    """Per-layer figures of spec §2/§3.3 from any chain :class:`ModelGraph` (per-sample columns).

    * phi_l = (1 + rho_B) * b * forward_flop_l (or b * (forward + backward) when rho_B is None);
    * a first vertex named ``embedding`` is merged into layer 1 (spec §3.3), a last vertex named
      ``head`` becomes the server-only phi_head; both the head's and the embedding's FLOP are
      neglected (zero) unless ``include_head`` (spec §7);
    * delta_l = 8 * trainable_param_bytes_l (LoRA adapters), D_act(c) = 8 b activation_bytes_c,
      the returned gradient 8 b gradient_bytes_c;
    * mem_l = param_bytes + optimizer_bytes + b * saved_activation_bytes (activation_bytes when
      the profile has no saved-activation column).
    """
    if not isinstance(graph, ModelGraph):
        raise ValidationError(f"profile must be a ModelGraph, got {type(graph).__name__}", "profile")
    n = graph.n
    if not graph.is_chain:
        raise ValidationError(f"profile {graph.name!r} is not a chain ({n} vertices, {graph.m} edges); "
                              "CARD cuts a chain of layers", "profile")
    idx = graph.topological_order
    names = [graph.names[i] for i in idx]
    fwd = graph.forward_flop[idx] * batch
    bwd = graph.backward_flop[idx] * batch
    train = fwd * (1.0 + rho_B) if rho_B is not None else fwd + bwd
    delta = graph.trainable_param_bytes[idx] * 8.0
    act = graph.activation_bytes[idx] * batch * 8.0
    grad = graph.gradient_bytes[idx] * batch * 8.0
    saved = graph.extra.get("saved_activation_bytes", graph.activation_bytes)[idx]
    opt = graph.extra.get("optimizer_bytes", np.zeros(n))[idx]
    mem = graph.param_bytes[idx] + opt + batch * saved
    lo, hi = 0, n
    phi_head = 0.0
    if n >= 3 and names[-1] == "head":
        phi_head = float(train[-1]) if include_head else 0.0
        hi = n - 1
    if hi - lo >= 3 and names[0] == "embedding":
        lo = 1
    sl = slice(lo, hi)
    phi, dl, a, g, mm = train[sl].copy(), delta[sl].copy(), act[sl].copy(), grad[sl].copy(), mem[sl].copy()
    if lo == 1:   # embedding merged into layer 1 (its output is never a cut point: c >= 1)
        phi[0] += train[0] if include_head else 0.0
        dl[0] += delta[0]
        mm[0] += mem[0]
    if phi.shape[0] < 2:
        raise ValidationError(f"profile {graph.name!r} has {phi.shape[0]} layer(s) after removing "
                              "embedding/head; CARD needs at least 2 (a cut 1 <= c <= L-1)", "profile")
    return {"phi_flop": phi, "phi_head_flop": phi_head, "delta_bits": dl, "act_bits": a,
            "grad_bits": g, "mem_bytes": mm, "layer_names": tuple(names[sl])}


def paper_setting(seed: int = 0, rounds: int = DEFAULTS["rounds"], *,
                  n_devices: int | None = None, device_flops: Any = None,
                  distance_m_range: tuple[float, float] = DEFAULTS["distance_m_range"],
                  device_tx_power_dbm: float = DEFAULTS["device_tx_power_dbm"],
                  ap_tx_power_dbm: float = DEFAULTS["ap_tx_power_dbm"],
                  bandwidth_hz: float = DEFAULTS["bandwidth_hz"],
                  noise_psd_dbm_hz: float = DEFAULTS["noise_psd_dbm_hz"],
                  server_flop_per_cycle: float = DEFAULTS["server_flop_per_cycle"],
                  f_min_hz: float = DEFAULTS["f_min_hz"], f_max_hz: float = DEFAULTS["f_max_hz"],
                  kappa: float = DEFAULTS["kappa"], device_clock_hz: float = DEFAULTS["device_clock_hz"],
                  device_kappa: float = DEFAULTS["device_kappa"],
                  device_memory_bytes: Any = None) -> tuple[Scenario, np.ndarray]:
    """The §7 scenario and its (M, N) channel gains.

    Draw order of the spec's illustration: ``rng = default_rng(seed)``, distances
    ``uniform(50, 200, N)`` m, then Rayleigh powers ``exponential(1, (M, N))`` indexed [m, n]
    (with :func:`slopt.scenarios.radio.rayleigh_power`), so seed 0 reproduces §7's figures.
    """
    flops = as_float_array("device_flops", DEFAULTS["device_flops"] if device_flops is None else device_flops)
    N = int(flops.shape[0]) if n_devices is None else check_int("n_devices", n_devices, lo=1)
    if flops.shape[0] != N:
        if device_flops is not None and flops.shape[0] != 1:
            raise ValidationError(f"device_flops has {flops.shape[0]} values but n_devices = {N}", "device_flops")
        flops = np.resize(flops, N)   # the §7 list 2, 4, ..., 10 TFLOP/s repeated (or one value)
    rounds = check_int("rounds", rounds, lo=1)
    rng = np.random.default_rng(seed)
    d = rng.uniform(*distance_m_range, size=N)
    mem = _per_device("device_memory_bytes", device_memory_bytes, N, math.inf)
    devices = tuple(
        Device(name=f"d{i}", compute_flops=float(flops[i]), tx_power_w=float(dbm_to_w(device_tx_power_dbm)),
               distance_m=float(d[i]), clock_hz=device_clock_hz,
               flop_per_cycle=float(flops[i]) / device_clock_hz, kappa=device_kappa,
               memory_bytes=float(mem[i]))
        for i in range(N))
    _check_server_params(f_min_hz, f_max_hz, kappa)
    server = Server(name="edge", compute_flops=server_flop_per_cycle * f_max_hz,
                    tx_power_w=float(dbm_to_w(ap_tx_power_dbm)), clock_hz_min=f_min_hz,
                    clock_hz_max=f_max_hz, flop_per_cycle=server_flop_per_cycle, kappa=kappa)
    scn = Scenario(devices=devices, servers=(server,),
                   channel=Channel(bandwidth_hz, bandwidth_hz, noise_psd_dbm_hz=noise_psd_dbm_hz),
                   name=f"card-paper-{seed}", seed=seed)
    fading = rayleigh_power(rng, (rounds, N), scn.channel.fading_floor) \
        if scn.channel.fading == "rayleigh" else np.ones((rounds, N))
    h = scn.large_scale_gain()[:, 0][None, :] * fading
    return scn, h


def _check_server_params(f_min_hz: Any, f_max_hz: Any, kappa: Any) -> None:
    """The bad inputs of the issue, named before any dataclass sees them."""
    if f_min_hz is not None and f_max_hz is not None and _num("f_min_hz", f_min_hz) > _num("f_max_hz", f_max_hz):
        raise ValidationError(f"f_min_hz = {float(f_min_hz):g} Hz exceeds f_max_hz = {float(f_max_hz):g} Hz "
                              "(server frequency bounds, C2)", "f_min_hz")
    if kappa is not None and not (_num("kappa", kappa) >= 0 and math.isfinite(float(kappa))):
        raise ValidationError(f"kappa = {kappa!r} J s^2/cycle^3; the server's switched capacitance must be "
                              "finite and non-negative", "kappa")


def _per_device(name: str, value: Any, N: int, default: float) -> np.ndarray:
    if value is None:
        return np.full(N, default)
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.shape[0] == 1:
        arr = np.full(N, arr[0])
    if arr.shape[0] != N:
        raise ValidationError(f"{name}: expected 1 or {N} values, got {arr.shape[0]}", name)
    return arr


def make_instance(graph: ModelGraph, scenario: Scenario, *, gains: np.ndarray | None = None,
                  rounds: int = DEFAULTS["rounds"], iterations: int = DEFAULTS["iterations"],
                  batch: int = DEFAULTS["batch"], rho_B: float | None = DEFAULTS["rho_B"],
                  include_head: bool = DEFAULTS["include_head"],
                  omega_T: float = DEFAULTS["omega_T"], omega_E: float = DEFAULTS["omega_E"],
                  scalarisation: str = DEFAULTS["scalarisation"], t_max_s: float | None = None,
                  device_memory_bytes: Any = None, c_min: int = 1, fixed_cut: int | None = None,
                  f_min_hz: float | None = None, f_max_hz: float | None = None,
                  kappa: float | None = None, server_flop_per_cycle: float | None = None,
                  random_frequency: str = "uniform", exact_formulation: str = "enumeration",
                  seed: int = 0) -> CardInstance:
    """Build and check a :class:`CardInstance` (the sanity check at the door).

    Server DVFS figures come from the scenario's first server (``clock_hz_min``,
    ``clock_hz_max``, ``flop_per_cycle``, ``kappa``); keywords override them and missing ones
    take the §7 defaults (with ``flop_per_cycle = compute_flops / f_max`` when only the
    throughput is known). Gains default to ``scenario.gains(rounds, seed)`` (path loss x Rayleigh).

    Raises
    ------
    ValidationError
        f_min_hz > f_max_hz, omega_T = omega_E = 0, a negative kappa, a bad layer profile...
    InfeasibleError
        The memory cap (C4) empties some device's cut set (names ``device_memory_bytes``).
    """
    TABLE.validate_args(dict(locals()))   # the same declared checks as load() / --set
    fig = layer_figures(graph, check_int("batch", batch, lo=1), rho_B, include_head)
    srv = scenario.servers[0]
    f_max = f_max_hz if f_max_hz is not None else (srv.clock_hz_max or DEFAULTS["f_max_hz"])
    f_min = f_min_hz if f_min_hz is not None else (srv.clock_hz_min or DEFAULTS["f_min_hz"])
    k = kappa if kappa is not None else (srv.kappa if srv.kappa is not None else DEFAULTS["kappa"])
    if server_flop_per_cycle is not None:
        g_s = server_flop_per_cycle
    elif srv.flop_per_cycle is not None:
        g_s = srv.flop_per_cycle
    else:   # Server.compute_flops is the throughput at full clock
        g_s = srv.compute_flops / _num("f_max_hz", f_max)
    N = scenario.n_devices
    F_n = scenario.device_array("compute_flops")
    f_n = np.array([d.clock_hz if d.clock_hz else DEFAULTS["device_clock_hz"] for d in scenario.devices])
    g_n = np.array([d.flop_per_cycle if d.flop_per_cycle else d.compute_flops / f_n[i]
                    for i, d in enumerate(scenario.devices)])
    kappa_n = np.array([d.kappa if d.kappa is not None else DEFAULTS["device_kappa"] for d in scenario.devices])
    rounds = check_int("rounds", rounds, lo=1)
    if gains is None:
        gains = scenario.gains(rounds, seed)[:, :, 0]
    h = np.asarray(gains, dtype=float)
    if h.shape != (rounds, N):
        raise ValidationError(f"gains: expected shape ({rounds}, {N}) (rounds, devices), got {h.shape}", "gains")
    cap = _per_device("device_memory_bytes", device_memory_bytes, N, math.inf) \
        if device_memory_bytes is not None else scenario.device_array("memory_bytes")
    L = fig["phi_flop"].shape[0]
    c_min = check_int("c_min", c_min, lo=1, hi=L - 1)
    Mem = np.concatenate(([0.0], np.cumsum(fig["mem_bytes"])))
    # C4: c_n^max = largest c <= L - 1 with Mem(c) <= cap_n
    fits = Mem[None, 1:L] <= cap[:, None] * (1 + 1e-12)
    c_max = np.where(fits.any(axis=1), L - 1 - np.argmax(fits[:, ::-1], axis=1), 0)
    # cut sets are prefixes {1..c_max} because Mem is non-decreasing
    fixed = L // 2 if fixed_cut is None else fixed_cut
    inst = CardInstance(
        **fig, iterations=iterations, F_n=F_n, p_n=scenario.device_array("tx_power_w"), g_n=g_n,
        f_n=f_n, kappa_n=kappa_n, c_max_n=c_max.astype(np.int64), device_names=tuple(d.name for d in scenario.devices),
        g_s=float(g_s), f_min=_num("f_min_hz", f_min), f_max=_num("f_max_hz", f_max),
        kappa=_num("kappa", k), p_s=float(srv.tx_power_w), B_U=float(scenario.channel.uplink_bandwidth_hz),
        B_D=float(scenario.channel.downlink_bandwidth_hz), N_0=float(scenario.channel.noise_psd_w_hz),
        h=h, omega_T=_num("omega_T", omega_T), omega_E=_num("omega_E", omega_E),
        scalarisation=str(scalarisation), t_max_s=None if t_max_s is None else _num("t_max_s", t_max_s),
        c_min=c_min, fixed_cut=fixed, random_frequency=str(random_frequency),
        exact_formulation=str(exact_formulation), seed=int(seed),
        meta={"profile": graph.name, "scenario": scenario.name, "cap_bytes": cap,
              "provenance": dict(graph.provenance)})
    _check_instance(inst)
    return inst


def _check_rates(inst: CardInstance) -> None:
    """Eq. R-5 must give finite positive rates in every turn (a tiny power or gain underflows the
    SNR to 0, so the rate is 0 bit/s and every delay infinite): name the field and the value."""
    with np.errstate(all="ignore"):
        r_U = shannon_rate_bps(inst.B_U, inst.p_n[None, :], inst.h, inst.N_0)
        r_D = shannon_rate_bps(inst.B_D, inst.p_s, inst.h, inst.N_0)
    for rate, link in ((r_U, "uplink"), (r_D, "downlink")):
        bad = ~np.isfinite(rate) | (rate <= 0)
        if bad.any():
            m, n = map(int, np.argwhere(bad)[0])
            if link == "uplink":
                what, field_, value = f"device tx_power_w of {inst.device_names[n]!r}", "tx_power_w", float(inst.p_n[n])
            else:
                what, field_, value = "AP tx_power_w", "ap_tx_power_w", float(inst.p_s)
            raise ValidationError(
                f"{what} is {value!r} W: with channel gain h[{m}, {n}] = {inst.h[m, n]:.3g} the {link} rate "
                f"(Eq. R-5) is {float(rate[m, n])!r} bit/s, so the training delay would be infinite; use a "
                "transmit power (or gain) whose SNR p h / (N_0 B) is representable and positive", field_)


def _num(name: str, x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} must be a number, got {x!r}", name) from exc


def _check_instance(inst: CardInstance) -> None:
    """Sanity check at the door: every parameter named with its value."""
    check_positive("f_min_hz", inst.f_min, "Hz")
    check_positive("f_max_hz", inst.f_max, "Hz")
    if inst.f_min > inst.f_max:
        raise ValidationError(f"f_min_hz = {inst.f_min:g} Hz exceeds f_max_hz = {inst.f_max:g} Hz "
                              "(server frequency bounds, C2)", "f_min_hz")
    if not (math.isfinite(inst.kappa) and inst.kappa >= 0):
        raise ValidationError(f"kappa = {inst.kappa!r} J s^2/cycle^3; the server's switched capacitance "
                              "must be finite and non-negative", "kappa")
    check_positive("server_flop_per_cycle", inst.g_s, "FLOP/cycle")
    check_nonneg("omega_T", inst.omega_T)
    check_nonneg("omega_E", inst.omega_E, "s/J")
    if inst.omega_T == 0 and inst.omega_E == 0:
        raise ValidationError("omega_T = 0 and omega_E = 0: at least one objective weight must be "
                              "positive (weighted sum of delay and energy, P0)", "omega_T")
    if inst.scalarisation not in ("weighted", "tchebycheff"):
        raise ValidationError(f"scalarisation = {inst.scalarisation!r}; use 'weighted' or 'tchebycheff'",
                              "scalarisation")
    if inst.scalarisation == "tchebycheff" and (inst.omega_T <= 0 or inst.omega_E <= 0):
        raise ValidationError(f"scalarisation = 'tchebycheff' needs omega_T > 0 and omega_E > 0 (spec §5.1); "
                              f"got omega_T = {inst.omega_T!r}, omega_E = {inst.omega_E!r}", "omega_E")
    if inst.t_max_s is not None:
        check_positive("t_max_s", inst.t_max_s, "s")
    check_int("iterations", inst.iterations, lo=1)
    if inst.random_frequency not in ("uniform", "fmax"):
        raise ValidationError(f"random_frequency = {inst.random_frequency!r}; use 'uniform' or 'fmax'",
                              "random_frequency")
    if inst.exact_formulation not in ("enumeration", "misocp", "minlp"):
        raise ValidationError(f"exact_formulation = {inst.exact_formulation!r}; use 'enumeration', "
                              "'misocp' or 'minlp'", "exact_formulation")
    check_int("fixed_cut", inst.fixed_cut, lo=inst.c_min, hi=inst.L - 1)
    for name, arr, unit in (("device compute_flops", inst.F_n, "FLOP/s"), ("device tx_power_w", inst.p_n, "W"),
                            ("device flop_per_cycle", inst.g_n, "FLOP/cycle"), ("device clock_hz", inst.f_n, "Hz")):
        bad = ~np.isfinite(arr) | (arr <= 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValidationError(f"{name} of device {inst.device_names[i]!r} is {arr[i]!r} {unit}; "
                                  "it must be finite and positive", name.split()[-1])
    if (inst.kappa_n < 0).any():
        i = int(np.flatnonzero(inst.kappa_n < 0)[0])
        raise ValidationError(f"device kappa of {inst.device_names[i]!r} is {inst.kappa_n[i]!r}; it must be "
                              "non-negative", "device_kappa")
    check_positive("AP tx_power_w", inst.p_s, "W")
    bad = ~np.isfinite(inst.h) | (inst.h <= 0)
    if bad.any():
        m, n = map(int, np.argwhere(bad)[0])
        raise ValidationError(f"channel gain h[{m}, {n}] = {inst.h[m, n]!r}; gains must be finite and "
                              "positive", "gains")
    _check_rates(inst)
    short = inst.c_max_n < inst.c_min
    if short.any():
        i = int(np.flatnonzero(short)[0])
        need = float(inst.Mem[inst.c_min])
        cap = float(np.asarray(inst.meta.get("cap_bytes", [math.nan] * inst.N))[i])
        raise InfeasibleError(
            f"device_memory_bytes: the memory cap (C4) of device {inst.device_names[i]!r} "
            f"({cap:.6g} bytes) empties its cut set: the smallest cut c = {inst.c_min} needs "
            f"{need:.6g} bytes ({need - cap:.6g} bytes more)", constraint="C4 device_memory_bytes",
            shortfall=need - cap)



# --------------------------------------------------------------------------------------------
# loading and registration
# --------------------------------------------------------------------------------------------
_SCENARIO_KEYS = ("n_devices", "device_flops", "distance_m_range", "device_tx_power_dbm", "ap_tx_power_dbm",
                  "bandwidth_hz", "noise_psd_dbm_hz", "device_clock_hz", "device_kappa")
_SERVER_KEYS = ("f_min_hz", "f_max_hz", "kappa", "server_flop_per_cycle")
_INSTANCE_KEYS = ("rounds", "iterations", "batch", "rho_B", "include_head", "omega_T", "omega_E",
                  "scalarisation", "t_max_s", "device_memory_bytes", "c_min", "fixed_cut",
                  "random_frequency", "exact_formulation", "seed")
_PROFILE_KEYS = ("model", "seq_len", "bits_per_element", "lora_rank", "lora_targets")


def load(profile: str | ModelGraph | None = None, scenario: str | Scenario | None = None,
         **params: Any) -> CardInstance:
    """Build an instance: §7 defaults, overridden by ``params`` (every key of :data:`DEFAULTS`).

    ``profile``: a chain profile (file, shipped name or ModelGraph); default the analytic
    ``transformer(model, seq_len, lora_rank=...)`` profile. ``scenario``: a scenario (file,
    shipped name or Scenario; gains drawn with ``scenario.gains(rounds, seed)``); default
    :func:`paper_setting` with ``seed``.
    """
    params = TABLE.check(params)
    for k in ("lora_targets", "device_flops"):   # one value for a list of them
        if isinstance(params.get(k), (str, float)):
            params[k] = [params[k]]
    p = {**DEFAULTS, **params}
    seed = check_int("seed", p["seed"], lo=0)
    _check_server_params(p["f_min_hz"], p["f_max_hz"], p["kappa"])
    if profile is not None:
        graph = profile_arg(profile)
    else:
        from slopt.profiles.transformer import transformer

        bits = check_int("bits_per_element", p["bits_per_element"], lo=8)
        if bits % 8:
            raise ValidationError(f"bits_per_element = {bits}; it must be a multiple of 8", "bits_per_element")
        graph = transformer(p["model"], seq_len=p["seq_len"], batch=p["batch"], dtype_bytes=bits // 8,
                            lora_rank=p["lora_rank"], lora_targets=tuple(p["lora_targets"]))
    rounds = check_int("rounds", p["rounds"], lo=1)
    server_kw = {k: DEFAULTS[k] if p[k] is None else p[k] for k in _SERVER_KEYS}
    if scenario is None:
        scn, gains = paper_setting(seed, rounds, **{k: p[k] for k in _SCENARIO_KEYS if k in params},
                                   device_memory_bytes=p["device_memory_bytes"], **server_kw)
    else:
        scn = scenario_arg(scenario)
        gains = None
        ignored = sorted(k for k in _SCENARIO_KEYS if k in params)
        if ignored:
            raise ValidationError(f"parameter(s) {ignored} describe the built-in §7 scenario and cannot be "
                                  f"combined with scenario {getattr(scenario, 'name', scenario)!r}; edit the "
                                  "scenario's devices/channel instead", ignored[0])
        # explicit server keywords override the scenario only when the user passed them
        server_kw = {k: params.get(k) for k in _SERVER_KEYS}
    kw = {k: p[k] for k in _INSTANCE_KEYS if k not in ("rounds", "seed")}
    return make_instance(graph, scn, gains=gains, rounds=rounds, seed=seed, **server_kw, **kw)


def random_instance(seed: int, **params: Any) -> CardInstance:
    """A small random instance with a non-uniform layer profile (interior cuts happen), random
    device speeds, distances and weights. Keywords override (rounds, n_devices, n_layers, ...)."""
    rng = np.random.default_rng([seed, 6])
    L = int(params.pop("n_layers", rng.integers(3, 9)))
    N = int(params.pop("n_devices", rng.integers(1, 4)))
    M = int(params.pop("rounds", rng.integers(1, 3)))
    fwd = 4.19e11 / 4 * rng.uniform(0.2, 2.0, L)      # per sample, around the §7 block
    act = 2.1e6 * rng.uniform(0.05, 2.0, L)           # bytes per sample
    graph = ModelGraph.chain(forward_flop=fwd, backward_flop=fwd, param_bytes=4e8 * np.ones(L),
                             trainable_param_bytes=2.6e5 * rng.uniform(0.5, 2.0, L),
                             activation_bytes=act, names=[f"block.{i}" for i in range(L)],
                             name=f"random-chain-{seed}")
    flops = rng.uniform(1e12, 2e13, N)
    p = {"omega_E": float(10 ** rng.uniform(-4, -1)), "iterations": int(rng.integers(1, 11)),
         "device_flops": flops, "n_devices": N, "rounds": M, "seed": seed}
    p.update(params)
    return load(graph, None, **p)

