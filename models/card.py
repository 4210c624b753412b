"""CARD: joint cut layer and server frequency for delay/energy-efficient split fine-tuning of LLMs.

Implements ``shared/papers/card-delay-energy.md`` (Li, Wu, Li, Zhang, "Energy-Efficient Split
Learning for Fine-Tuning Large Language Models in Edge Networks", arXiv:2412.00090, IEEE
Networking Letters 2025). Only the paper's structure was recovered; every equation below is the
spec's reconstruction (Eq. R-k) and every number a "reconstructed default, spec §7".

The module reads like the spec:

* §2/§7  :class:`CardInstance` -- the data of one horizon (M rounds x N devices), built at the
  door by :func:`make_instance` from any *chain* :class:`~slopt.profiles.ModelGraph` (default:
  the analytic LLaMA-2-7B LoRA profile of :mod:`slopt.profiles.transformer`) and a
  :class:`~slopt.scenarios.Scenario` (default: :func:`paper_setting`).
* §3     the system model, vectorised over turns: device delay (R-2), server cycles (R-3),
  rates (R-5), communication delay (R-6), training delay (R-7), server energy (R-9), device
  energy (§3.7), and :func:`evaluate` for any decision.
* §5     :func:`optimal_frequency_hz` (R-10/R-11), :func:`tchebycheff_frequency_hz` (§5.1),
  :func:`card_decide` (exhaustive cut search with prefix sums, numpy over rounds x devices x cuts)
  and :func:`card` (the paper's method as a :class:`~slopt.Plan`).
* §4.3   explicit formulations: (a) :func:`build_inner` (CVXPY DCP, one cut) and
  :func:`build_enumeration` (all turns x cuts in one DCP problem), (b) :func:`build_misocp`
  (perspective MISOCP, CVXPY, for SCIP), (c) :func:`build_minlp` (naive non-convex MINLP,
  Pyomo, for SCIP's global search); :func:`exact` solves one of them.
* §8     baselines :func:`vanilla_sl`, :func:`fixed_dvfs`, :func:`adaptive_fmax`,
  :func:`random_scheme`, all through the same :func:`evaluate`.
* §4.1   :func:`pareto_front` (weight sweep) and :func:`plot_pareto`.

Units: FLOP (multiply-add = 2 FLOP), bits inside rate computations only, seconds, joules, Hz.
Solver scaling (spec §4.3): solvers see f in GHz, Gamma in gigacycles and kappa * 1e27.

Spec readings chosen (parameter that switches each in brackets; see ``docs/card.md``):

* one (c, f) per device turn, turns independent (§4.1, §10.7);
* layer figures: the graph's ``embedding`` vertex (if first) is merged into layer 1, its
  ``head`` vertex (if last) is the server-only phi_head, neglected by default as in §7
  [``include_head``]; phi_l = (1 + rho_B) * forward_l with rho_B = 1 [``rho_B``; None uses the
  profile's own backward FLOP];
* D_act(c) is read per cut from the graph (activation_bytes of layer c, gradient_bytes for the
  return), so non-uniform chains are handled; for a transformer it does not depend on c;
* device memory for (C4): Mem(c) = sum_{l<=c} param_bytes + optimizer_bytes + b *
  saved_activation_bytes (activation_bytes when absent) [``device_memory_bytes``];
* the random baseline draws f uniformly in [f_min, f_max] [``random_frequency="fmax"``];
* fixed-cut baselines use c = L // 2 clipped into each device's cut set [``fixed_cut``].
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from slopt.errors import InfeasibleError, SloptError, ValidationError
from slopt.plan import Plan
from slopt.problems import Problem, register
from slopt.profiles import ModelGraph
from slopt.scenarios import Channel, Device, Scenario, Server
from slopt.scenarios.radio import dbm_to_w, rayleigh_power, shannon_rate_bps
from slopt.solvers import SolveResult, solve
from slopt.validate import as_float_array, check_int, check_nonneg, check_positive

__all__ = [
    "CardInstance", "DEFAULTS", "make_instance", "paper_setting", "load", "random_instance",
    "layer_figures", "evaluate", "Evaluation",
    "optimal_frequency_hz", "tchebycheff_frequency_hz", "card_decide", "card",
    "build_inner", "build_enumeration", "build_misocp", "build_minlp", "exact", "formulations",
    "vanilla_sl", "fixed_dvfs", "adaptive_fmax", "random_scheme", "compare_schemes",
    "pareto_front", "plot_pareto", "plot_cuts", "get_problem",
]

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
# §3 system model (vectorised; cut arrays broadcast against (M, N))
# --------------------------------------------------------------------------------------------
def rates_bps(inst: CardInstance) -> tuple[np.ndarray, np.ndarray]:
    """Eq. R-5: uplink and downlink Shannon rates r^U, r^D over the whole band, shape (M, N)."""
    r_U = shannon_rate_bps(inst.B_U, inst.p_n[None, :], inst.h, inst.N_0)
    r_D = shannon_rate_bps(inst.B_D, inst.p_s, inst.h, inst.N_0)
    return r_U, r_D


def device_delay_s(inst: CardInstance, c: np.ndarray) -> np.ndarray:
    """Eq. R-2: T^dev = I Phi(c) / F_n (c broadcast against devices on the last axis)."""
    return inst.iterations * inst.Phi[c] / inst.F_n


def server_cycles(inst: CardInstance, c: np.ndarray) -> np.ndarray:
    """Eq. R-3: Gamma(c) = I (Phi(L) - Phi(c) + phi_head) / g_s, cycles."""
    Phi = inst.Phi
    return inst.iterations * (Phi[-1] - Phi[c] + inst.phi_head_flop) / inst.g_s


def comm_delay_s(inst: CardInstance, c: np.ndarray, r_U: np.ndarray, r_D: np.ndarray) -> np.ndarray:
    """Eq. R-6: adapter download, I activation uploads, I gradient downloads, adapter upload."""
    D_ad = inst.D_ad[c]
    I = inst.iterations
    return D_ad / r_D + I * inst.act_bits[c - 1] / r_U + I * inst.grad_bits[c - 1] / r_D + D_ad / r_U


def server_energy_j(inst: CardInstance, Gamma: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Eq. R-9: E = kappa Gamma f^2 (server communication and idle power ignored, §3.6)."""
    return inst.kappa * Gamma * f ** 2


def device_energy_j(inst: CardInstance, c: np.ndarray, r_U: np.ndarray) -> np.ndarray:
    """§3.7 (reporting only): kappa_n (I Phi(c)/g_n) f_n^2 + p_n (I D_act(c) + D_ad(c)) / r^U."""
    comp = inst.kappa_n * (inst.iterations * inst.Phi[c] / inst.g_n) * inst.f_n ** 2
    return comp + inst.p_n * (inst.iterations * inst.act_bits[c - 1] + inst.D_ad[c]) / r_U


@dataclass
class Evaluation:
    """Per-turn metrics of a decision (arrays of shape (M, N)) and their means."""

    cut: np.ndarray
    freq_hz: np.ndarray
    device_delay_s: np.ndarray
    comm_delay_s: np.ndarray
    server_delay_s: np.ndarray
    delay_s: np.ndarray
    server_energy_j: np.ndarray
    device_energy_j: np.ndarray
    J: np.ndarray                     # per-turn scalarised objective
    delay_excess_s: np.ndarray        # max(0, T - T_max) (zeros without C3)
    r_U: np.ndarray
    r_D: np.ndarray

    @property
    def objective(self) -> float:
        """P0: (1 / (M N)) sum of the per-turn objectives."""
        return float(self.J.mean())

    def metrics(self) -> dict[str, float]:
        """Per-turn means (delay, energies, components), the per-round delay (Eq. R-8), C3 misses."""
        M, N = self.J.shape
        return {
            "delay_s": float(self.delay_s.mean()),                    # per-turn mean (§3.5)
            "round_delay_s": float(self.delay_s.sum(axis=1).mean()),  # Eq. R-8, mean over rounds
            "server_energy_j": float(self.server_energy_j.mean()),
            "device_energy_j": float(self.device_energy_j.mean()),
            "device_delay_s": float(self.device_delay_s.mean()),
            "comm_delay_s": float(self.comm_delay_s.mean()),
            "server_delay_s": float(self.server_delay_s.mean()),
            "mean_cut": float(self.cut.mean()),
            "mean_freq_hz": float(self.freq_hz.mean()),
            # (C3) misses beyond a 1e-9 relative tolerance (solver points sit on the limit)
            "delay_limit_violations": int((self.delay_excess_s > 1e-9 * self.delay_s).sum()),
            "turns": M * N,
        }

    def frame(self) -> pd.DataFrame:
        """One row per turn: round, device, decision, delay, energies, objective, rates."""
        M, N = self.J.shape
        return pd.DataFrame({
            "round": np.repeat(np.arange(M), N), "device": np.tile(np.arange(N), M),
            "cut": self.cut.ravel(), "freq_hz": self.freq_hz.ravel(), "delay_s": self.delay_s.ravel(),
            "server_energy_j": self.server_energy_j.ravel(), "device_energy_j": self.device_energy_j.ravel(),
            "objective": self.J.ravel(), "rate_up_bps": self.r_U.ravel(), "rate_down_bps": self.r_D.ravel(),
        })


def evaluate(inst: CardInstance, cut: Any, freq_hz: Any, *, check: bool = True) -> Evaluation:
    """Delay (R-7), server energy (R-9), device energy (§3.7) and the objective of a decision.

    Parameters
    ----------
    cut : int array (M, N) (or broadcastable: a scalar, one per device), c_{m,n}
    freq_hz : float array (M, N) (or broadcastable), f_{m,n} in Hz
    check : raise on a cut outside C_n (C1/C4) or a frequency outside [f_min, f_max] (C2; a
        relative slack of 1e-9 is allowed and clipped, for solver output).

    The objective is omega_T T + omega_E E per turn (weighted) or max(omega_T T, omega_E E)
    (Tchebycheff, §5.1); (C3) violations are reported in ``delay_excess_s``, not raised.
    """
    shape = (inst.M, inst.N)
    c = np.broadcast_to(np.asarray(cut), shape)
    if not np.issubdtype(c.dtype, np.integer):
        cr = np.rint(np.asarray(c, dtype=float))
        if check and not np.allclose(cr, c, atol=1e-6):
            raise ValidationError("cut: the cut layer must be an integer", "cut")
        c = cr
    c = c.astype(np.int64)
    f = np.broadcast_to(np.asarray(freq_hz, dtype=float), shape).copy()
    if check:
        bad = (c < inst.c_min) | (c > inst.c_max_n[None, :])
        if bad.any():
            m, n = map(int, np.argwhere(bad)[0])
            raise ValidationError(f"cut[{m}, {n}] = {c[m, n]} is outside C_n = {{{inst.c_min}..."
                                  f"{inst.c_max_n[n]}}} of device {inst.device_names[n]!r} (C1/C4)", "cut")
        tol = 1e-9 * inst.f_max
        bad = ~np.isfinite(f) | (f < inst.f_min - tol) | (f > inst.f_max + tol)
        if bad.any():
            m, n = map(int, np.argwhere(bad)[0])
            raise ValidationError(f"freq_hz[{m}, {n}] = {f[m, n]!r} Hz is outside [f_min, f_max] = "
                                  f"[{inst.f_min:g}, {inst.f_max:g}] Hz (C2)", "freq_hz")
        f = np.clip(f, inst.f_min, inst.f_max)
    c = np.clip(c, 1, inst.L)
    r_U, r_D = rates_bps(inst)
    T_dev = device_delay_s(inst, c)
    T_com = comm_delay_s(inst, c, r_U, r_D)
    Gamma = server_cycles(inst, c)
    T_srv = Gamma / f
    T = T_dev + T_com + T_srv
    E = server_energy_j(inst, Gamma, f)
    if inst.scalarisation == "weighted":
        J = inst.omega_T * T + inst.omega_E * E
    else:
        J = np.maximum(inst.omega_T * T, inst.omega_E * E)
    excess = np.zeros(shape) if inst.t_max_s is None else np.maximum(T - inst.t_max_s, 0.0)
    return Evaluation(c, f, T_dev, T_com, T_srv, T, E, device_energy_j(inst, c, r_U), J, excess, r_U, r_D)


def _plan(inst: CardInstance, method: str, cut: np.ndarray, f: np.ndarray, *, seconds: float,
          result: SolveResult | None = None, extra: dict[str, Any] | None = None) -> Plan:
    ev = evaluate(inst, cut, f)
    decision: dict[str, Any] = {"cut": ev.cut, "freq_hz": ev.freq_hz}
    fu = np.unique(ev.freq_hz)
    if fu.size == 1 and method in ("paper", "exact"):   # the same f* in every turn (claim 5)
        decision["f_star_hz"] = float(fu[0])
    decision.update(extra or {})
    metrics = ev.metrics() | {"objective": ev.objective}
    return Plan(problem=PROBLEM, method=method, objective=ev.objective, decision=decision,
                metrics=metrics, details={"turns": ev.frame()}, solve=result, seconds=seconds,
                proven_optimal=method == "paper")  # CARD: exhaustive cut search x closed-form f (claims 1-2)


# --------------------------------------------------------------------------------------------
# §5.1 closed forms
# --------------------------------------------------------------------------------------------
def optimal_frequency_hz(omega_T: float, omega_E: float, kappa: float, f_min: float, f_max: float) -> float:
    """Eq. R-10/R-11: f* = clip((omega_T / (2 kappa omega_E))^(1/3), f_min, f_max).

    omega_E = 0 (or kappa = 0) gives f° = +inf (f_max); omega_T = 0 gives f° = 0 (f_min).
    """
    if omega_E == 0 or kappa == 0:
        f0 = math.inf
    elif omega_T == 0:
        f0 = 0.0
    else:
        f0 = (omega_T / (2.0 * kappa * omega_E)) ** (1.0 / 3.0)
    return float(min(f_max, max(f_min, f0)))


def inner_objective(f_hz: Any, Gamma: float, A: float, omega_T: float, omega_E: float, kappa: float) -> Any:
    """P2(c) plus its f-independent part: omega_T (A + Gamma/f) + omega_E kappa Gamma f^2."""
    f = np.asarray(f_hz, dtype=float)
    return omega_T * (A + Gamma / f) + omega_E * kappa * Gamma * f ** 2


def tchebycheff_frequency_hz(A: Any, Gamma: Any, omega_T: float, omega_E: float, kappa: float,
                             f_lo: Any = 0.0, f_hi: Any = math.inf) -> np.ndarray:
    """§5.1 min-max variant: the positive root of omega_E kappa Gamma f^3 - omega_T A f - omega_T Gamma = 0,
    clipped to [f_lo, f_hi] (vectorised; Gamma = 0 gives f_lo).

    Dividing by omega_E kappa Gamma gives the depressed cubic f^3 + p f + q = 0 with p <= 0 and
    q < 0: one sign change, so exactly one positive root, which is the largest real root. It is
    taken from Cardano's formula (one real root) or the trigonometric form (three real roots)
    and polished with two Newton steps.
    """
    A = np.asarray(A, dtype=float)
    G = np.asarray(Gamma, dtype=float)
    pos = G > 0
    Gs = np.where(pos, G, 1.0)
    a3 = omega_E * kappa * Gs
    p = -omega_T * A / a3
    q = -omega_T * Gs / a3
    disc = (q / 2.0) ** 2 + (p / 3.0) ** 3
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        sq = np.sqrt(np.maximum(disc, 0.0))
        one = np.cbrt(-q / 2.0 + sq) + np.cbrt(-q / 2.0 - sq)
        rr = np.sqrt(np.maximum(-p / 3.0, 0.0))
        arg = np.clip(np.where(rr > 0, (-q / 2.0) / np.where(rr > 0, rr ** 3, 1.0), 1.0), -1.0, 1.0)
        three = 2.0 * rr * np.cos(np.arccos(arg) / 3.0)
    x = np.where(disc >= 0, one, three)
    for _ in range(2):  # Newton polish of f^3 + p f + q
        d = 3.0 * x ** 2 + p
        x = np.where(d > 0, x - (x ** 3 + p * x + q) / np.where(d > 0, d, 1.0), x)
    return np.where(pos, np.clip(x, f_lo, f_hi), np.broadcast_to(f_lo, x.shape))


# --------------------------------------------------------------------------------------------
# §5.2 the CARD algorithm
# --------------------------------------------------------------------------------------------
def _cut_tables(inst: CardInstance) -> dict[str, np.ndarray]:
    """Per-cut data with prefix sums (§5.3): Gamma_k, device FLOP, uplink/downlink bits per cut."""
    cuts = inst.cuts
    I = inst.iterations
    D_ad = inst.D_ad[cuts]
    return {
        "cuts": cuts,
        "Gamma": server_cycles(inst, cuts),                         # (K,) R-3
        "T_dev": I * inst.Phi[cuts][None, :] / inst.F_n[:, None],     # (N, K) R-2
        "up_bits": D_ad + I * inst.act_bits[cuts - 1],                # adapter upload + I activations
        "down_bits": D_ad + I * inst.grad_bits[cuts - 1],             # adapter download + I gradients
        "infeasible": ~inst.cut_mask(),                               # (N, K) C1/C4
    }


def freq_independent_delay_s(inst: CardInstance, tab: dict[str, np.ndarray] | None = None,
                             rounds: slice = slice(None),
                             rates: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """A_{m,n}(c) = T^dev + T^com for every turn and candidate cut, shape (M', N, K)."""
    tab = tab or _cut_tables(inst)
    r_U, r_D = rates if rates is not None else rates_bps(inst)
    sU, sD = 1.0 / r_U[rounds], 1.0 / r_D[rounds]
    return tab["T_dev"][None] + sU[..., None] * tab["up_bits"] + sD[..., None] * tab["down_bits"]


def card_decide(inst: CardInstance, *, chunk_elems: int = 1 << 17) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CARD (spec §5.2): per turn, closed-form frequency and exhaustive search over the cut set.

    Vectorised over rounds x devices x cuts with numpy, in chunks of rounds of about
    ``chunk_elems`` elements (no Python loop over layers or devices). Ties go to the smallest
    cut (``argmin`` returns the first). Returns (cut (M, N), freq_hz (M, N), J (M, N)).

    Raises
    ------
    InfeasibleError
        With (C3): a turn (m, n) where even f_max misses T_max, with the shortfall in seconds.
    """
    tab = _cut_tables(inst)
    cuts, Gamma = tab["cuts"], tab["Gamma"]
    wT, wE, kap = inst.omega_T, inst.omega_E, inst.kappa
    f_star = optimal_frequency_hz(wT, wE, kap, inst.f_min, inst.f_max)
    r_U, r_D = rates_bps(inst)
    sU, sD = wT / r_U, wT / r_D
    fast = inst.scalarisation == "weighted" and inst.t_max_s is None
    if fast:
        # J(c) = omega_T (T_dev + up/r_U + down/r_D) + [omega_T Gamma/f* + omega_E kappa Gamma f*^2]
        base = wT * tab["T_dev"] + (wT * Gamma / f_star + wE * kap * Gamma * f_star ** 2)[None, :]
        base = np.where(tab["infeasible"], np.inf, base)
    K = cuts.shape[0]
    step = max(1, chunk_elems // max(1, inst.N * K))
    best_k = np.empty((inst.M, inst.N), dtype=np.int64)
    best_f = np.empty((inst.M, inst.N))
    best_J = np.empty((inst.M, inst.N))
    if fast:
        buf, buf2 = np.empty(step * inst.N * K), np.empty(step * inst.N * K)
    for m0 in range(0, inst.M, step):
        sl = slice(m0, min(inst.M, m0 + step))
        if fast:
            # J = base + (omega_T / r^U) up_bits + (omega_T / r^D) down_bits, in preallocated buffers
            n_m = sl.stop - sl.start
            J, tmp = buf[: n_m * inst.N * K].reshape(n_m, inst.N, K), buf2[: n_m * inst.N * K].reshape(n_m, inst.N, K)
            np.multiply(sU[sl, :, None], tab["up_bits"], out=J)
            np.multiply(sD[sl, :, None], tab["down_bits"], out=tmp)
            J += tmp
            J += base
            k = np.argmin(J, axis=-1)
            best_k[sl] = k
            best_f[sl] = f_star
            best_J[sl] = np.take_along_axis(J, k[..., None], axis=-1)[..., 0]
            continue
        A = freq_independent_delay_s(inst, tab, sl, (r_U, r_D))       # (m, N, K)
        f_lo = np.full(A.shape, inst.f_min)
        feasible = np.broadcast_to(~tab["infeasible"], A.shape).copy()
        if inst.t_max_s is not None:
            slack = inst.t_max_s - A
            with np.errstate(divide="ignore", invalid="ignore"):
                f_lb = np.where(slack > 0, Gamma / np.where(slack > 0, slack, 1.0), np.inf)
            f_lb = np.where(Gamma > 0, f_lb, np.where(slack >= 0, 0.0, np.inf))
            feasible &= f_lb <= inst.f_max * (1 + 1e-12)
            f_lo = np.maximum(f_lo, np.minimum(f_lb, inst.f_max))
        if inst.scalarisation == "weighted":
            f = np.clip(np.full(A.shape, f_star), f_lo, inst.f_max)   # Eq. R-11 (C3 variant)
            f = np.where(Gamma > 0, f, inst.f_min)
            J = wT * (A + Gamma / f) + wE * kap * Gamma * f ** 2
        else:
            f = tchebycheff_frequency_hz(A, Gamma, wT, wE, kap, f_lo, inst.f_max)
            J = np.maximum(wT * (A + Gamma / f), wE * kap * Gamma * f ** 2)
        J = np.where(feasible, J, np.inf)
        k = np.argmin(J, axis=-1)
        Jk = np.take_along_axis(J, k[..., None], axis=-1)[..., 0]
        if not np.isfinite(Jk).all():
            mm, nn = map(int, np.argwhere(~np.isfinite(Jk))[0])
            raise _delay_limit_error(inst, m0 + mm, nn, A[mm, nn])
        best_k[sl] = k
        best_f[sl] = np.take_along_axis(f, k[..., None], axis=-1)[..., 0]
        best_J[sl] = Jk
    best_f = np.where(Gamma[best_k] > 0, best_f, inst.f_min)   # Eq. R-11: Gamma(c) = 0 -> f_min
    return cuts[best_k], best_f, best_J


def card(inst: CardInstance, *, solver: str | None = None, time_limit: float | None = None,
         mip_gap: float | None = None) -> Plan:
    """The paper's method (spec §5): CARD over every turn of the horizon, re-evaluated."""
    t0 = time.perf_counter()
    c, f, _ = card_decide(inst)
    secs = time.perf_counter() - t0
    return _plan(inst, "paper", c, f, seconds=secs)


# --------------------------------------------------------------------------------------------
# §4.3 explicit formulations (scaled: f in GHz, Gamma in gigacycles, kappa * 1e27)
# --------------------------------------------------------------------------------------------
def _turn_data(inst: CardInstance, m: int, n: int) -> dict[str, Any]:
    """Per-cut data of turn (m, n) restricted to C_n, scaled for the solvers (§4.3)."""
    tab = _cut_tables(inst)
    mask = ~tab["infeasible"][n]
    A = freq_independent_delay_s(inst, tab, slice(m, m + 1))[0, n]
    return {"cuts": tab["cuts"][mask], "A": A[mask], "Gamma_G": tab["Gamma"][mask] / GHZ,
            "kappa_s": inst.kappa * KAPPA_SCALE, "f_min_G": inst.f_min / GHZ, "f_max_G": inst.f_max / GHZ}


def build_inner(inst: CardInstance, m: int, n: int, c: int) -> Any:
    """(a) P2(c) of turn (m, n) in CVXPY (DCP): the per-cut convex inner problem.

    minimise omega_T (A + Gamma inv_pos(f)) + omega_E kappa Gamma f^2   (weighted; the
    Tchebycheff variant minimises the max of the two terms), s.t. f_min <= f <= f_max (C2) and,
    with (C3), A + Gamma inv_pos(f) <= T_max. ``problem.value`` is J(c, f*(c)).
    """
    import cvxpy as cp

    d = _turn_data(inst, m, n)
    k = int(np.flatnonzero(d["cuts"] == c)[0]) if (d["cuts"] == c).any() else None
    if k is None:
        raise ValidationError(f"cut c = {c} is not in C_n of device {n}", "cut")
    A, G, ks = float(d["A"][k]), float(d["Gamma_G"][k]), d["kappa_s"]
    f = cp.Variable(name="f_GHz")
    T = A + G * cp.inv_pos(f)                                   # Eq. R-7
    E = ks * G * cp.square(f)                                   # Eq. R-9
    cons = [f >= d["f_min_G"], f <= d["f_max_G"]]               # (C2)
    if inst.t_max_s is not None:
        cons.append(T <= inst.t_max_s)                          # (C3)
    obj = inst.omega_T * T + inst.omega_E * E if inst.scalarisation == "weighted" \
        else cp.maximum(inst.omega_T * T, inst.omega_E * E)
    return cp.Problem(cp.Minimize(obj), cons)


def build_enumeration(inst: CardInstance, dedupe: bool = True) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """(a) for the whole horizon: P2(c) of every (turn, cut) pair in ONE separable DCP problem.

    One variable f (GHz) per distinct inner problem; the objective is the sum of the inner
    objectives, so each variable solves its own P2. Pairs outside C_n, and with (C3) pairs that
    miss T_max even at f_max (spec §5.1: skipped in the cut search), are left out. With
    ``dedupe``, pairs whose inner problem has the same data are solved once: with the weighted
    objective and no (C3) that data is Gamma(c) alone (A only adds a constant), with the
    Tchebycheff objective or (C3) it is (Gamma(c), A_{m,n}(c)).

    Returns (problem, f variable, mask (M N, K) of the pairs included, index of each included
    pair's variable). ``problem.card_terms`` holds the inner objectives (with the A of the
    representative pair).
    """
    import cvxpy as cp

    tab = _cut_tables(inst)
    A = freq_independent_delay_s(inst, tab).reshape(inst.M * inst.N, -1)
    G = np.broadcast_to(tab["Gamma"] / GHZ, A.shape)
    keep = np.repeat(~tab["infeasible"][None], inst.M, axis=0).reshape(A.shape)
    if inst.t_max_s is not None:
        keep &= A + G / (inst.f_max / GHZ) <= inst.t_max_s
    Gk, Ak = G[keep], A[keep]
    only_gamma = inst.scalarisation == "weighted" and inst.t_max_s is None
    if dedupe:
        key = Gk[:, None] if only_gamma else np.column_stack([Gk, Ak])
        _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    else:
        first, inv = np.arange(Gk.shape[0]), np.arange(Gk.shape[0])
    Gv, Av = Gk[first], Ak[first]
    ks = inst.kappa * KAPPA_SCALE
    f = cp.Variable(Gv.shape[0], name="f_GHz")
    T = Av + cp.multiply(Gv, cp.inv_pos(f))                       # Eq. R-7
    E = ks * cp.multiply(Gv, cp.square(f))                        # Eq. R-9
    cons = [f >= inst.f_min / GHZ, f <= inst.f_max / GHZ]         # (C2)
    if inst.t_max_s is not None:
        cons.append(T <= inst.t_max_s)                            # (C3)
    terms = inst.omega_T * T + inst.omega_E * E if inst.scalarisation == "weighted" \
        else cp.maximum(inst.omega_T * T, inst.omega_E * E)
    prob = cp.Problem(cp.Minimize(cp.sum(terms)), cons)
    prob.card_terms = terms
    prob.card_A = Av
    return prob, f, keep, np.asarray(inv).reshape(-1)


def build_misocp(inst: CardInstance, turns: list[tuple[int, int]] | None = None) -> tuple[Any, dict]:
    """(b) the perspective MISOCP of spec §4.3(b) in CVXPY, for a MISOCP solver (SCIP).

    For each turn (m, n) in ``turns`` (default: one turn, (0, 0); pass all turns for the joint
    P0 of claim 4): binaries x_c (one-hot over C_n), frequency copies f_c with
    f_min x_c <= f_c <= f_max x_c, server-time epigraphs y_c >= Gamma_c x_c^2 / f_c and energy
    epigraphs e_c >= kappa Gamma_c f_c^2 / x_c (rotated cones, the perspectives of Gamma/f and
    kappa Gamma f^2). Objective: (1/|turns|) sum over turns of
    omega_T [sum_c x_c A_c + sum_c y_c] + omega_E sum_c e_c (Tchebycheff: an epigraph z_t of the
    max). Returns (problem, {turn: (x, f_c, cuts)}).
    """
    import cvxpy as cp

    turns = [(0, 0)] if turns is None else list(turns)
    cons: list[Any] = []
    terms = []
    handles: dict[tuple[int, int], tuple[Any, Any, np.ndarray]] = {}
    for (m, n) in turns:
        d = _turn_data(inst, m, n)
        K = d["cuts"].shape[0]
        x = cp.Variable(K, boolean=True, name=f"x_{m}_{n}")
        fc = cp.Variable(K, name=f"f_{m}_{n}")
        y = cp.Variable(K, nonneg=True, name=f"y_{m}_{n}")
        e = cp.Variable(K, nonneg=True, name=f"e_{m}_{n}")
        cons += [cp.sum(x) == 1,                                             # one cut (C1)
                 fc >= d["f_min_G"] * x, fc <= d["f_max_G"] * x]             # (C2) on the copy
        for k in range(K):
            G = float(d["Gamma_G"][k])
            cons.append(G * cp.quad_over_lin(x[k], fc[k]) <= y[k])           # perspective of Gamma/f
            cons.append(d["kappa_s"] * G * cp.quad_over_lin(fc[k], x[k]) <= e[k])  # of kappa Gamma f^2
        T = d["A"] @ x + cp.sum(y)
        E = cp.sum(e)
        if inst.t_max_s is not None:
            cons.append(T <= inst.t_max_s)                                   # (C3)
        if inst.scalarisation == "weighted":
            terms.append(inst.omega_T * T + inst.omega_E * E)
        else:
            z = cp.Variable(name=f"z_{m}_{n}")
            cons += [z >= inst.omega_T * T, z >= inst.omega_E * E]
            terms.append(z)
        handles[(m, n)] = (x, fc, d["cuts"])
    return cp.Problem(cp.Minimize(cp.sum(cp.hstack(terms)) / len(turns)), cons), handles


def build_minlp(inst: CardInstance, turns: list[tuple[int, int]] | None = None) -> Any:
    """(c) the naive non-convex MINLP of spec §4.3(c) in Pyomo, for a global solver (SCIP).

    Sets: T (the device turns (m, n); default one turn, (0, 0)) and TC (turn, cut) pairs with
    c in C_n. Variables per turn: x_{t,c} binary (one-hot), one f_t in [f_min, f_max] GHz, y_t
    (server time, s) and e_t (server energy, J); the bounds on y and e are implied by the data
    and only help the global solver. Objective: the mean over T of the turn objectives (P0 when
    T is every turn).
    """
    import pyomo.environ as pyo

    turns = [(0, 0)] if turns is None else [(int(m), int(n)) for (m, n) in turns]
    data = {t: _turn_data(inst, *t) for t in turns}
    f_lo, f_hi, ks = inst.f_min / GHZ, inst.f_max / GHZ, inst.kappa * KAPPA_SCALE
    mdl = pyo.ConcreteModel(name="card_minlp")
    mdl.T = pyo.Set(initialize=turns, dimen=2, ordered=True, doc="device turns (m, n)")
    mdl.TC = pyo.Set(dimen=3, ordered=True, doc="(m, n, c) with c in C_n (C1, C4)",
                     initialize=[(m, n, int(c)) for (m, n) in turns for c in data[(m, n)]["cuts"]])
    mdl.A = pyo.Param(mdl.TC, doc="A_{m,n}(c), s", initialize={
        (m, n, int(c)): float(a) for (m, n) in turns for c, a in zip(data[(m, n)]["cuts"], data[(m, n)]["A"])})
    mdl.Gamma = pyo.Param(mdl.TC, doc="Gamma(c), gigacycles", initialize={
        (m, n, int(c)): float(g) for (m, n) in turns for c, g in zip(data[(m, n)]["cuts"], data[(m, n)]["Gamma_G"])})
    mdl.x = pyo.Var(mdl.TC, domain=pyo.Binary, doc="x_{t,c} = 1 iff turn t cuts after layer c")
    mdl.f = pyo.Var(mdl.T, bounds=(f_lo, f_hi), doc="server frequency, GHz (C2)")
    mdl.y = pyo.Var(mdl.T, doc="server time, s", bounds=lambda b, m, n: (
        float(data[(m, n)]["Gamma_G"].min()) / f_hi, float(data[(m, n)]["Gamma_G"].max()) / f_lo))
    mdl.e = pyo.Var(mdl.T, doc="server energy, J", bounds=lambda b, m, n: (
        0.0, ks * float(data[(m, n)]["Gamma_G"].max()) * f_hi ** 2))

    def cuts_of(b: Any, m: int, n: int) -> list[int]:
        return [int(c) for c in data[(m, n)]["cuts"]]

    @mdl.Constraint(mdl.T, doc="one cut layer per turn (C1)")
    def one_cut(b: Any, m: int, n: int) -> Any:
        return sum(b.x[m, n, c] for c in cuts_of(b, m, n)) == 1

    @mdl.Constraint(mdl.T, doc="server time y f >= Gamma(c) (Eq. R-4)")
    def server_time(b: Any, m: int, n: int) -> Any:
        return b.y[m, n] * b.f[m, n] >= sum(b.Gamma[m, n, c] * b.x[m, n, c] for c in cuts_of(b, m, n))

    @mdl.Constraint(mdl.T, doc="server energy e >= kappa f^2 Gamma(c) (Eq. R-9)")
    def server_energy(b: Any, m: int, n: int) -> Any:
        return b.e[m, n] >= ks * b.f[m, n] ** 2 * sum(b.Gamma[m, n, c] * b.x[m, n, c] for c in cuts_of(b, m, n))

    @mdl.Expression(mdl.T, doc="training delay T_{m,n} (Eq. R-7)")
    def delay(b: Any, m: int, n: int) -> Any:
        return sum(b.A[m, n, c] * b.x[m, n, c] for c in cuts_of(b, m, n)) + b.y[m, n]

    if inst.t_max_s is not None:
        @mdl.Constraint(mdl.T, doc="delay limit (C3)")
        def delay_limit(b: Any, m: int, n: int) -> Any:
            return b.delay[m, n] <= inst.t_max_s

    if inst.scalarisation == "weighted":
        mdl.obj = pyo.Objective(sense=pyo.minimize, expr=sum(
            inst.omega_T * mdl.delay[t] + inst.omega_E * mdl.e[t] for t in mdl.T) / len(turns))
    else:
        mdl.z = pyo.Var(mdl.T, doc="max of the weighted objectives (Tchebycheff, §5.1)")
        mdl.z_T = pyo.Constraint(mdl.T, rule=lambda b, m, n: b.z[m, n] >= inst.omega_T * b.delay[m, n])
        mdl.z_E = pyo.Constraint(mdl.T, rule=lambda b, m, n: b.z[m, n] >= inst.omega_E * b.e[m, n])
        mdl.obj = pyo.Objective(expr=sum(mdl.z[t] for t in mdl.T) / len(turns), sense=pyo.minimize)
    return mdl


#: SCIP tolerances for the 1e-6 relative cross-checks (SCIP's defaults, feastol 1e-6 and a 1e-4
#: relative gap, give relative differences up to about 1e-4; spec §6 claim 3).
SCIP_TIGHT = {"limits/gap": 1e-9, "numerics/feastol": 1e-9}


def solve_turn(inst: CardInstance, m: int, n: int, formulation: str = "misocp", *,
               solver: str | None = None, time_limit: float | None = None,
               mip_gap: float | None = None) -> tuple[int, float, SolveResult]:
    """Solve P1(m, n) with formulation (b) ``misocp`` or (c) ``minlp``; returns (c, f_hz, result).

    Raises InfeasibleError when the solver proves the turn infeasible (C3).
    """
    import pyomo.environ as pyo

    solver = solver or "scip"
    opts = dict(SCIP_TIGHT) if solver == "scip" else {}
    if mip_gap is not None:
        opts.pop("limits/gap", None)
    if formulation == "misocp":
        prob, handles = build_misocp(inst, [(m, n)])
        with np.errstate(invalid="ignore", divide="ignore"):   # cvxpy evaluates x^2/f at x = f = 0
            res = solve(prob, solver=solver, time_limit=time_limit, mip_gap=mip_gap,
                        options={"scip_params": opts} if opts else None)
        if res.status not in ("optimal", "feasible"):
            _raise_status(inst, m, n, res)
        x, fc, cuts = handles[(m, n)]
        k = int(np.argmax(x.value))
        return int(cuts[k]), float(fc.value[k]) * GHZ, res
    if formulation == "minlp":
        mdl = build_minlp(inst, [(m, n)])
        res = solve(mdl, solver=solver, time_limit=time_limit, mip_gap=mip_gap, options=opts)
        if res.status not in ("optimal", "feasible"):
            _raise_status(inst, m, n, res)
        c = max((c for (_, _, c) in mdl.TC), key=lambda c: pyo.value(mdl.x[m, n, c]))
        return int(c), float(pyo.value(mdl.f[m, n])) * GHZ, res
    raise ValidationError(f"formulation = {formulation!r}; use 'misocp' or 'minlp'", "exact_formulation")


def _delay_limit_error(inst: CardInstance, m: int, n: int, A: np.ndarray | None = None) -> InfeasibleError:
    """(C3) cannot be met in turn (m, n): the error names the turn and the shortfall in seconds."""
    tab = _cut_tables(inst)
    if A is None:
        A = freq_independent_delay_s(inst, tab, slice(m, m + 1))[0, n]
    need = float(np.min(np.where(tab["infeasible"][n], np.inf, A + tab["Gamma"] / inst.f_max)))
    short = need - float(inst.t_max_s)
    return InfeasibleError(
        f"t_max_s: device turn (round {m}, device {n} {inst.device_names[n]!r}) cannot meet the delay "
        f"limit T_max = {inst.t_max_s:g} s (C3): its fastest decision (best cut at f_max) takes "
        f"{need:.6g} s, {short:.6g} s too long", constraint="C3 t_max_s", shortfall=short)


def _raise_status(inst: CardInstance, m: int, n: int, res: SolveResult) -> None:
    if res.status == "infeasible" and inst.t_max_s is not None:
        raise _delay_limit_error(inst, m, n)
    raise SloptError(f"solver {res.solver} returned {res.status} on device turn (round {m}, device {n}): "
                     f"{res.message}")


def exact(inst: CardInstance, *, solver: str | None = None, time_limit: float | None = None,
          mip_gap: float | None = None) -> Plan:
    """Exact reference (spec §8 B5) with the formulation ``inst.exact_formulation``:

    * ``enumeration`` (default): (a) for every turn and cut in one DCP problem (Clarabel by
      default), then the exhaustive outer search over cuts (spec §4.3(a), exact);
    * ``misocp`` / ``minlp``: (b) / (c) solved per turn with SCIP (small horizons: about 1 s /
      0.3 s per turn at L = 32); ``time_limit`` and ``mip_gap`` apply to each per-turn solve.
    The plan's objective is re-evaluated with :func:`evaluate`; ``plan.solve`` carries the
    solver's own value of P0 (mean of the per-turn optima).
    """
    t0 = time.perf_counter()
    if inst.exact_formulation == "enumeration":
        prob, f, keep, inv = build_enumeration(inst)
        res = solve(prob, solver=solver or "clarabel", time_limit=time_limit, mip_gap=mip_gap)
        if res.status not in ("optimal", "feasible"):
            if inst.t_max_s is not None:
                card_decide(inst)   # raises the C3 error naming the turn
            raise SloptError(f"enumeration problem: solver {res.solver} returned {res.status} ({res.message})")
        F = np.full(keep.shape, np.nan)
        F[keep] = np.clip(np.asarray(f.value).reshape(-1)[inv] * GHZ, inst.f_min, inst.f_max)
        tab = _cut_tables(inst)
        A = freq_independent_delay_s(inst, tab).reshape(keep.shape)
        G = tab["Gamma"][None, :]
        with np.errstate(invalid="ignore"):
            T = A + G / F
            E = inst.kappa * G * F ** 2
            J = inst.omega_T * T + inst.omega_E * E if inst.scalarisation == "weighted" \
                else np.maximum(inst.omega_T * T, inst.omega_E * E)
        J = np.where(keep, J, np.inf)
        if inst.t_max_s is not None:
            J = np.where(T <= inst.t_max_s * (1 + 1e-9), J, np.inf)
        bad = ~np.isfinite(J).any(axis=1)
        if bad.any():      # no cut meets T_max in some turn (C3)
            t = int(np.flatnonzero(bad)[0])
            raise _delay_limit_error(inst, t // inst.N, t % inst.N)
        k = np.argmin(J, axis=1)
        cut = tab["cuts"][k].reshape(inst.M, inst.N)
        freq = F[np.arange(k.shape[0]), k].reshape(inst.M, inst.N)
        # the solver's own value of P0: per turn, the best of its per-cut optima (outer search)
        Js = np.full(keep.shape, np.inf)
        Js[keep] = np.asarray(prob.card_terms.value).reshape(-1)[inv] + inst.omega_T * (
            A[keep] - prob.card_A[inv])       # the pair's own A (zero shift without dedupe)
        P0 = float(Js.min(axis=1).mean())
        res = SolveResult(res.status, objective=P0, bound=P0 if res.status == "optimal" else math.nan, gap=res.gap,
                          seconds=res.seconds, solver=res.solver,
                          message=f"{res.message}; enumeration of {int(keep.sum())} (turn, cut) inner problems")
        return _plan(inst, "exact", cut, freq, seconds=time.perf_counter() - t0, result=res,
                     extra={"formulation": "enumeration"})
    cut = np.empty((inst.M, inst.N), dtype=np.int64)
    freq = np.empty((inst.M, inst.N))
    results = []
    for m in range(inst.M):
        for n in range(inst.N):
            cut[m, n], freq[m, n], r = solve_turn(inst, m, n, inst.exact_formulation, solver=solver,
                                                  time_limit=time_limit, mip_gap=mip_gap)
            results.append(r)
    worst = max(results, key=lambda r: (r.status != "optimal", r.gap if math.isfinite(r.gap) else 0.0))
    summary = SolveResult(worst.status, objective=float(np.mean([r.objective for r in results])),
                          bound=float(np.mean([r.bound for r in results])), gap=worst.gap,
                          seconds=sum(r.seconds for r in results), solver=worst.solver,
                          message=f"{len(results)} per-turn {inst.exact_formulation} solves; worst: {worst.message}")
    freq = np.clip(freq, inst.f_min, inst.f_max)
    return _plan(inst, "exact", cut, freq, seconds=time.perf_counter() - t0, result=summary,
                 extra={"formulation": inst.exact_formulation})


def formulations(inst: CardInstance) -> dict[str, Any]:
    """Zero-argument builders of formulations whose optimum is P0 of ``inst`` (for ``slopt compare``).

    ``misocp``: the perspective MISOCP (b) over all turns (CVXPY; SCIP); ``minlp``: the naive
    MINLP (c) over all turns (Pyomo; SCIP global); ``inner-at-card-cuts``: the convex inner
    problems (a) at the cuts CARD chose, averaged over turns (CVXPY; Clarabel, SCS, SCIP). The
    full enumeration (a) is not listed: its optimum is a sum over every (turn, cut) pair, not P0.
    """
    turns = [(m, n) for m in range(inst.M) for n in range(inst.N)]

    def inner_at_card_cuts() -> Any:
        # (a) at the cuts CARD chose: P0 decomposes per turn and CARD's cut search is exhaustive
        # (claim 3), so the sum of the inner convex problems at those cuts has P0's optimum;
        # conic backends (Clarabel, SCS, SCIP) can then be compared on the same instance
        c, _, _ = card_decide(inst)
        probs = [build_inner(inst, m, n, int(c[m, n])) for m, n in turns]
        return sum(probs[1:], probs[0]) / len(turns)

    return {"misocp": lambda: build_misocp(inst, turns)[0], "minlp": lambda: build_minlp(inst, turns),
            "inner-at-card-cuts": inner_at_card_cuts}


# --------------------------------------------------------------------------------------------
# §8 baselines (all through evaluate())
# --------------------------------------------------------------------------------------------
def _fixed_cut(inst: CardInstance) -> np.ndarray:
    """The fixed cut (default L // 2) clipped into each device's cut set, shape (M, N)."""
    return np.broadcast_to(np.minimum(inst.fixed_cut, inst.c_max_n)[None, :], (inst.M, inst.N)).copy()


def vanilla_sl(inst: CardInstance, *, solver: str | None = None, time_limit: float | None = None,
               mip_gap: float | None = None) -> Plan:
    """B1: the same fixed cut for every device and round, server at f_max."""
    t0 = time.perf_counter()
    return _plan(inst, "vanilla-sl", _fixed_cut(inst), np.full((inst.M, inst.N), inst.f_max),
                 seconds=time.perf_counter() - t0)


def fixed_dvfs(inst: CardInstance, *, solver: str | None = None, time_limit: float | None = None,
               mip_gap: float | None = None) -> Plan:
    """B2: fixed cut, frequency by CARD's rule (Eq. R-11, or its §5.1 variants under C3 / min-max).

    Under (C3) a fixed cut may miss T_max even at f_max; the plan then runs at f_max and the
    misses are counted in ``metrics["delay_limit_violations"]``.
    """
    t0 = time.perf_counter()
    cut = _fixed_cut(inst)
    return _plan(inst, "fixed-dvfs", cut, _frequency_for(inst, cut), seconds=time.perf_counter() - t0)


def _frequency_for(inst: CardInstance, cut: np.ndarray) -> np.ndarray:
    """CARD's frequency rule for a given cut per turn (R-11 or its C3 / Tchebycheff variants)."""
    ev = evaluate(inst, cut, inst.f_min)
    A = ev.device_delay_s + ev.comm_delay_s
    Gamma = server_cycles(inst, ev.cut)
    lo = np.full(A.shape, inst.f_min)
    if inst.t_max_s is not None:
        slack = inst.t_max_s - A
        with np.errstate(divide="ignore", invalid="ignore"):
            lo = np.maximum(lo, np.where(slack > 0, Gamma / np.where(slack > 0, slack, 1), inst.f_max))
        lo = np.minimum(lo, inst.f_max)
    if inst.scalarisation == "weighted":
        f = np.clip(optimal_frequency_hz(inst.omega_T, inst.omega_E, inst.kappa, inst.f_min, inst.f_max),
                    lo, inst.f_max)
        return np.where(Gamma > 0, f, inst.f_min)
    return tchebycheff_frequency_hz(A, Gamma, inst.omega_T, inst.omega_E, inst.kappa, lo, inst.f_max)


def adaptive_fmax(inst: CardInstance, *, solver: str | None = None, time_limit: float | None = None,
                  mip_gap: float | None = None) -> Plan:
    """B3: per turn the delay-optimal cut (omega_E = 0), server at f_max."""
    t0 = time.perf_counter()
    c, _, _ = card_decide(inst.replace(omega_T=1.0, omega_E=0.0, scalarisation="weighted", t_max_s=None))
    return _plan(inst, "adaptive-fmax", c, np.full(c.shape, inst.f_max), seconds=time.perf_counter() - t0)


def random_scheme(inst: CardInstance, *, solver: str | None = None, time_limit: float | None = None,
                  mip_gap: float | None = None) -> Plan:
    """B4: uniform random cut in C_n and uniform random f in [f_min, f_max] (or f_max), seeded."""
    t0 = time.perf_counter()
    rng = np.random.default_rng([inst.seed, 4])
    hi = inst.c_max_n[None, :] + 1
    c = rng.integers(inst.c_min, np.broadcast_to(hi, (inst.M, inst.N)))
    f = rng.uniform(inst.f_min, inst.f_max, size=c.shape) if inst.random_frequency == "uniform" \
        else np.full(c.shape, inst.f_max)
    return _plan(inst, "random", c, f, seconds=time.perf_counter() - t0)


METHODS = {"paper": card, "exact": exact, "vanilla-sl": vanilla_sl, "fixed-dvfs": fixed_dvfs,
           "adaptive-fmax": adaptive_fmax, "random": random_scheme}


def compare_schemes(inst: CardInstance, methods: tuple[str, ...] = ("paper", "vanilla-sl", "fixed-dvfs",
                                                                     "adaptive-fmax", "random")) -> pd.DataFrame:
    """Mean per-turn delay, server energy and objective of each scheme, and CARD's reductions
    1 - metric_CARD / metric_scheme (spec §8)."""
    plans = {m: METHODS[m](inst) for m in methods}
    ref = plans.get("paper") or card(inst)
    rows = []
    for m, p in plans.items():
        rows.append({"scheme": m, "delay_s": p.metrics["delay_s"], "server_energy_j": p.metrics["server_energy_j"],
                     "objective": p.objective, "mean_cut": p.metrics["mean_cut"],
                     "mean_freq_ghz": p.metrics["mean_freq_hz"] / GHZ,
                     "delay_reduction": 1 - ref.metrics["delay_s"] / p.metrics["delay_s"],
                     "energy_reduction": 1 - ref.metrics["server_energy_j"] / p.metrics["server_energy_j"]})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# §4.1 the delay-energy (weak) Pareto front
# --------------------------------------------------------------------------------------------
def pareto_front(inst: CardInstance, omega_E: Any = None, omega_T: float = 1.0) -> pd.DataFrame:
    """CARD's mean delay and server energy as omega_E sweeps (omega_T fixed): the weighted-sum
    (weakly Pareto-optimal) front of spec §4.1. Default sweep: 25 values log-spaced in
    [1e-4, 1e-1] s/J (spec §7)."""
    ws = np.logspace(-4, -1, 25) if omega_E is None else np.asarray(omega_E, dtype=float)
    rows = []
    for w in ws:
        p = card(inst.replace(omega_T=omega_T, omega_E=float(w)))
        rows.append({"omega_T": omega_T, "omega_E": float(w), "f_star_hz": p.metrics["mean_freq_hz"],
                     "delay_s": p.metrics["delay_s"], "server_energy_j": p.metrics["server_energy_j"],
                     "mean_cut": p.metrics["mean_cut"], "objective": p.objective})
    return pd.DataFrame(rows)


def plot_pareto(front: pd.DataFrame, ax: Any = None, schemes: pd.DataFrame | None = None) -> Any:
    """Plot a :func:`pareto_front` (delay vs server energy), optionally with scheme points."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot(front["delay_s"], front["server_energy_j"], "o-", ms=3, label="CARD, omega_E sweep")
    if schemes is not None:
        for _, r in schemes.iterrows():
            label = "CARD, default weights" if r["scheme"] == "paper" else r["scheme"]
            ax.plot(r["delay_s"], r["server_energy_j"], "s", label=label)
    ax.set_xlabel("mean training delay per turn (s)")
    ax.set_ylabel("mean server energy per turn (J)")
    ax.set_title("CARD delay-energy trade-off")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def plot_cuts(plan: Plan, ax: Any = None) -> Any:
    """Cut layer chosen per device over rounds."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    c = np.asarray(plan.decision["cut"])
    for n in range(c.shape[1]):
        ax.step(np.arange(c.shape[0]), c[:, n], where="post", label=f"device {n}")
    ax.set_xlabel("round m")
    ax.set_ylabel("cut layer c")
    ax.legend(fontsize=7)
    return ax


def demo_plot(out_dir: Path) -> Path:
    """The Pareto front on the §7 defaults, with the baselines, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inst = load(None, None, rounds=20)
    ax = plot_pareto(pareto_front(inst), schemes=compare_schemes(inst))
    path = Path(out_dir) / "card_pareto.png"
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=120)
    plt.close(ax.figure)
    return path


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
    known = set(DEFAULTS)
    unknown = set(params) - known
    if unknown:
        raise ValidationError(f"unknown parameter(s) {sorted(unknown)} for problem 'card'; known: "
                              f"{sorted(known)}", sorted(unknown)[0])
    p = {**DEFAULTS, **params}
    seed = check_int("seed", p["seed"], lo=0)
    _check_server_params(p["f_min_hz"], p["f_max_hz"], p["kappa"])
    if isinstance(profile, ModelGraph):
        graph = profile
    elif profile is not None:
        from slopt.profiles import read

        graph = read(profile)
    else:
        from slopt.profiles.transformer import transformer

        bits = check_int("bits_per_element", p["bits_per_element"], lo=8)
        if bits % 8:
            raise ValidationError(f"bits_per_element = {bits}; it must be a multiple of 8", "bits_per_element")
        graph = transformer(p["model"], seq_len=p["seq_len"], batch=p["batch"], dtype_bytes=bits // 8,
                            lora_rank=p["lora_rank"], lora_targets=tuple(p["lora_targets"]))
    rounds = check_int("rounds", p["rounds"], lo=1)
    server_kw = {k: p[k] for k in _SERVER_KEYS}
    if scenario is None:
        scn, gains = paper_setting(seed, rounds, **{k: p[k] for k in _SCENARIO_KEYS if k in params},
                                   device_memory_bytes=p["device_memory_bytes"], **server_kw)
    else:
        if isinstance(scenario, Scenario):
            scn = scenario
        else:
            from slopt.scenarios import read as read_scenario

            scn = read_scenario(scenario)
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


_PROBLEM = register(Problem(
    name=PROBLEM,
    summary="CARD: cut layer + server GPU frequency per device turn, delay/energy split LLM fine-tuning",
    load=load,
    methods=dict(METHODS),
    demo_methods=("paper", "exact"),
    random_instance=random_instance,
    formulations=formulations,
    extra={"demo_plot": demo_plot},
))


def get_problem() -> Problem:
    """The registered ``card`` problem (for ``Problem.run``)."""
    return _PROBLEM
