"""Split fine-tuning (SFT) of a transformer over a wireless cell: activation compression, block
allocation and spectrum allocation minimising the fine-tuning delay (two timescales).

Spec: ``shared/papers/sft-two-timescale.md`` (S. Zhang et al., "Split Fine-Tuning for Large Language
Models in Wireless Networks", arXiv:2501.09237 / IEEE JSTSP 2025). Every equation is the spec's
reconstruction; equation numbers are the spec's own.

The module reads top to bottom like the spec:

* Section 3.2 computation (Eq. 1-4), 3.3 communication (Eq. 5-6), 3.4 compression (Eq. 7-10),
  3.5 memory (Eq. 11), 3.6 accuracy (Eq. 12), 3.7 delay (Eq. 13-15): :func:`evaluate`;
* Section 4.2 P2 (spectrum, one slot): exact Newton/bisection (:func:`p2_bisection`,
  :func:`p2_solve`), SQP (:func:`p2_sqp`, Algorithm 3) and CVXPY (:func:`build_p2_cvxpy`);
* Section 4.1 P0 as a Pyomo MINLP over SAA channel samples (:func:`build_minlp`, SCIP);
* Section 5 the two-timescale algorithm (:func:`alm`, Algorithm 2; :func:`paper`, Algorithm 1);
* the exact small-N baseline (:func:`exact`), the baselines of Section 8.

Readings chosen where the spec lists alternatives (each a parameter of :func:`load`):
``split`` = "per-device" | "common"; ``size_model`` = "eq7" | "direct-rate"; ``accuracy`` =
"eq12" | "per-device" | "depth" | "variance"; ``rate_model`` = "shannon" | "fixed-snr";
``downlink`` = "quantized" | "raw"; ``activation_memory`` = "eq11" | "profile".
See ``docs/sft.md``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import lambertw

from slopt.compression import binary_entropy
from slopt.errors import InfeasibleError, SloptError, ValidationError
from slopt.plan import Plan
from slopt.problems import Problem, register
from slopt.scenarios import Channel, Scenario
from slopt.solvers import solve
from slopt.solvers.result import SolveResult
from slopt.validate import check_array, check_int, check_scalar

__all__ = ["SFTInstance", "load", "random_instance", "evaluate", "p2_bisection", "p2_solve", "p2_sqp", "build_p2_pyomo",
           "build_p2_cvxpy", "build_minlp", "alm", "paper", "exact", "exact_minlp", "baseline",
           "expected_delay", "theta_vertices"]

LN2 = math.log(2.0)

# --------------------------------------------------------------------------- defaults (spec Section 7)
#: Problem parameters and their defaults. Every value is the spec's Section 7 reconstruction
#: unless stated; "reconstructed default, spec §x" marks our own choice.
DEFAULTS: dict[str, Any] = {
    "model": "vit-b16",        # backbone (spec §7: ViT-B/16, L = 12, d = 768, a = 12, s = 197)
    "n_blocks": None,          # override L (random small instances use 6..12)
    "n_classes": 100,          # CIFAR-100 head (spec §7 datasets)
    "batch": 16,               # b
    "lora_rank": 8,            # r, on query and value (n_ad = 2)
    "q": 4,                    # bits per kept value incl. sign
    "beta0": 32,               # bits per raw activation element (fp32)
    "beta_w": 32,              # bits per stored frozen weight
    "kappa_B": 2.0,            # backward / forward FLOP ratio (spec §3.2 default, conservative)
    "theta_lo": 0.01,          # C6
    "A_ref": 0.90, "alpha": 0.30, "gamma": 20.0, "A_min": 0.89,   # Eq. 12 placeholder
    "accuracy": "eq12",        # eq12 | per-device | depth | variance (spec §3.6)
    "depth_eta": 0.5,          # reconstructed default, spec §3.6 (ii): weight (1 + eta l/L)/(1 + eta)
    "eps_max": None,           # variance model (iii); None -> matches theta_req of Eq. 12
    "K_it": 1000,              # iterations (fixed; reconstructed default, spec §3.7)
    "I": 50,                   # LoRA aggregation period
    "aggregation": True,       # include Eq. 14-15 aggregation delay
    "split": "per-device",     # per-device | common (spec §10.1)
    "size_model": "eq7",       # eq7 | direct-rate (spec §3.4)
    "rate_model": "shannon",   # shannon (Eq. 5-6) | fixed-snr
    "downlink": "quantized",   # quantized (q_g = q) | raw (q_g = beta0) (spec §10.5)
    "activation_memory": "eq11",  # eq11 (Korthikanti full count, spec Eq. 11) | profile
    "header": "token",         # S_hdr: one fp32 scale per token ("token") or per tensor ("tensor")
    "h_min": 1e-2,             # fading floor (spec §3.3)
    "H": 16,                   # SAA channel samples of P1 (spec: 50-200; 16 keeps the CLI exact method fast)
    "n_slots": 100,            # slots of the simulated frame (small timescale)
    "server_tx_power_w": 2.0,  # P_s = 33 dBm
    "seed": 0,
    "n_devices": 4,            # CLI default kept small so `--method exact` runs in seconds; spec §7 uses 10
    "bandwidth_hz": 20e6,      # B^U = B^D
    "server_flops": 10e12,     # F_s
    "device_flops": (0.5e12, 2e12),
    "device_memory_bytes": (0.4e9, 1.2e9),
    "distance_m": (50.0, 500.0),
    "gains": None,             # optional explicit SAA gains, shape (H, N)
}

_CHOICES = {"accuracy": ("eq12", "per-device", "depth", "variance"), "split": ("per-device", "common"),
            "size_model": ("eq7", "direct-rate"), "rate_model": ("shannon", "fixed-snr"),
            "downlink": ("quantized", "raw"), "activation_memory": ("eq11", "profile"),
            "header": ("token", "tensor")}


@dataclass(frozen=True)
class SFTInstance:
    """All data of one SFT instance, as numpy arrays (validated at the door by :func:`make_instance`).

    Per-device arrays have length N; ``gains`` has shape (H, N) (SAA samples of P1).
    """

    name: str
    scenario: Scenario
    params: dict[str, Any]
    # backbone (Section 3.2, 3.4, 3.5)
    L: int
    s: int
    d: int
    a: int
    b: int
    E: int                 # activation elements at the cut, b s d
    phi_F_flop: float      # Eq. 1, per sample per block
    phi_emb_flop: float
    phi_head_flop: float
    kappa_B: float
    q: int
    q_g: int
    beta0: int
    hdr_bits: float        # S_hdr
    lora_bits_per_block: float   # Eq. 10 per block (n_ad 2 r d beta0)
    M_emb_bytes: float
    m_block_bytes: float   # m_w + m_lora + m_act
    m_buf_bytes: float
    m_parts_bytes: dict[str, float]
    # devices and server
    f_flops: np.ndarray
    M_max_bytes: np.ndarray
    w: np.ndarray          # data weights
    p_w: np.ndarray
    F_s_flops: float
    P_s_w: float
    B_U_hz: float
    B_D_hz: float
    N0_w_hz: float
    gains: np.ndarray      # (H, N)
    l_cap: np.ndarray      # min(L-1, l_mem), Eq. 11 closed form
    theta_lb: np.ndarray   # lower bound of theta_n (C6 and the per-device accuracy variants)
    theta_req: float       # Eq. 12 coupling bound (eq12 / depth)

    @property
    def N(self) -> int:
        return int(self.f_flops.size)

    @property
    def H(self) -> int:
        return int(self.gains.shape[0])

    @property
    def S0_bits(self) -> float:
        """Raw cut activations per device per iteration, E beta0 (independent of the cut, Claim 1)."""
        return float(self.E * self.beta0)

    @property
    def n_agg(self) -> int:
        """Aggregation rounds floor(K_it / I) (Eq. 15); 0 without aggregation."""
        return int(self.params["K_it"] // self.params["I"]) if self.params["aggregation"] else 0

    def p(self, key: str) -> Any:
        return self.params[key]


# =========================================================================== data wrangling
def define_backbone(model: str, n_blocks: int | None, n_classes: int, batch: int, lora_rank: int,
                    beta_w: int, activation_memory: str) -> dict[str, float]:
    """Per-block figures from the analytic transformer profile (``slopt.profiles.transformer``).

    FLOPs and parameter counts come from the profile (multiply-add = 2 FLOP; its block figure
    2.918 GFLOP includes biases, norms and LoRA, vs 2.908 GFLOP of Eq. 1). Memory of Eq. 11:
    m_w = block parameters x beta_w / 8, m_lora = 16 bytes per LoRA parameter (weights, gradient,
    two Adam moments in fp32), m_act = b s d (34 + 5 a s / d) bytes (Eq. 11, ``activation_memory=
    "eq11"``) or the profile's frozen-weight reading (``"profile"``), M_emb = embedding parameters
    x beta_w / 8 + one b x s x d 16-bit activation.
    """
    from slopt.profiles.transformer import PRESETS, transformer

    if model not in PRESETS:
        raise ValidationError(f"model {model!r} is not a transformer preset; choose one of {sorted(PRESETS)}",
                              "model")
    cfg = PRESETS[model]
    if cfg.kind == "vit":
        cfg = dataclasses.replace(cfg, n_classes=int(n_classes))
    if n_blocks is not None:
        cfg = dataclasses.replace(cfg, n_layers=check_int("n_blocks", n_blocks, lo=2))
    g = transformer(cfg, batch=batch, dtype_bytes=2, lora_rank=lora_rank)
    df = g.to_frame().set_index("name")
    emb, blk, head = df.loc["embedding"], df.loc["block.0"], df.loc["head"]
    s = int(round(blk["activation_bytes"] / 2 / cfg.hidden))
    d, a, b = cfg.hidden, cfg.heads, batch
    m_act = b * s * d * (34 + 5 * a * s / d) if activation_memory == "eq11" else b * blk["saved_activation_bytes"]
    return {
        "L": cfg.n_layers, "s": s, "d": d, "a": a,
        "phi_F_flop": float(blk["forward_flop"]), "phi_emb_flop": float(emb["forward_flop"]),
        "phi_head_flop": float(head["forward_flop"]),
        "lora_params_per_block": float(blk["lora_param_count"]),
        "m_w": float(blk["param_count"]) * beta_w / 8,
        "m_lora": 16.0 * float(blk["lora_param_count"]),
        "m_act": float(m_act),
        "M_emb": float(emb["param_count"]) * beta_w / 8 + b * s * d * 2.0,
        "head_bytes": float(head["param_count"]) * beta_w / 8,
    }


def section7_scenario(seed: int = 0, n_devices: int = 10, bandwidth_hz: float = 20e6,
                      server_flops: float = 10e12, device_flops: tuple[float, float] = (0.5e12, 2e12),
                      device_memory_bytes: tuple[float, float] = (0.4e9, 1.2e9),
                      distance_m: tuple[float, float] = (50.0, 500.0), h_min: float = 1e-2,
                      server_tx_power_w: float = 2.0) -> Scenario:
    """The spec's Section 7 cell: N devices uniform at 50-500 m, 0.5-2 TFLOP/s, 0.4-1.2 GB,
    one 10 TFLOP/s edge server, 20/20 MHz, 23 dBm devices, 33 dBm server, fading floor h_min."""
    sc = Scenario.random(seed=seed, n_devices=n_devices, device_flops=tuple(device_flops),
                         device_memory_bytes=tuple(device_memory_bytes), edge_flops=server_flops,
                         distance_m=tuple(distance_m), uplink_bandwidth_hz=bandwidth_hz,
                         downlink_bandwidth_hz=bandwidth_hz, edge_tx_power_w=server_tx_power_w,
                         name=f"sft-sec7-{seed}")
    return sc.replace(channel=dataclasses.replace(sc.channel, fading_floor=h_min))


def make_instance(scenario: Scenario, **params: Any) -> SFTInstance:
    """Validate the data (sanity check at the door) and build an :class:`SFTInstance`."""
    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise ValidationError(f"unknown SFT parameter(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}",
                              sorted(unknown)[0])
    P = {**DEFAULTS, **params}
    for key, choices in _CHOICES.items():
        if P[key] not in choices:
            raise ValidationError(f"{key} = {P[key]!r}; choose one of {choices}", key)
    for key in ("batch", "lora_rank", "q", "beta0", "beta_w", "K_it", "I", "H", "n_slots"):
        P[key] = check_int(key, P[key], lo=1)
    if P["q"] < 2:
        raise ValidationError(f"q = {P['q']}; the quantizer of Eq. 7a needs q >= 2", "q")
    for key in ("kappa_B", "alpha", "gamma", "depth_eta"):
        P[key] = check_scalar(key, P[key], lo=0.0, unit="")
    P["theta_lo"] = check_scalar("theta_lo", P["theta_lo"], lo=0.0, hi=1.0, lo_open=True)
    for key in ("A_ref", "A_min"):
        P[key] = check_scalar(key, P[key], lo=0.0, hi=1.0)
    fig = define_backbone(P["model"], P["n_blocks"], P["n_classes"], P["batch"], P["lora_rank"],
                          P["beta_w"], P["activation_memory"])
    L, s, d, a, b = fig["L"], fig["s"], fig["d"], fig["a"], P["batch"]
    E = b * s * d
    q = P["q"]
    q_g = q if P["downlink"] == "quantized" else P["beta0"]
    hdr_bits = 32.0 * b * s if P["header"] == "token" else 32.0   # fp32 scale per token / tensor

    sc = scenario
    N = sc.n_devices
    f = check_array("compute_flops", sc.device_array("compute_flops"), [x.name for x in sc.devices],
                    what="device", allow_zero=False, unit="FLOP/s")
    M_max = sc.device_array("memory_bytes")
    p_w = check_array("tx_power_w", sc.device_array("tx_power_w"), [x.name for x in sc.devices],
                      what="device", allow_zero=False, unit="W")
    ns = sc.device_array("n_samples")
    w = ns / ns.sum() if ns.sum() > 0 else np.full(N, 1.0 / N)
    server = sc.edges[0] if sc.edges else sc.servers[0]
    ch: Channel = sc.channel
    h_min = check_scalar("h_min", P["h_min"], lo=0.0)
    if ch.fading_floor != h_min:
        sc = sc.replace(channel=dataclasses.replace(ch, fading_floor=h_min))
        ch = sc.channel
    if P["gains"] is not None:
        gains = np.asarray(P["gains"], dtype=float)
        if gains.ndim == 1:
            gains = gains[None, :]
        if gains.shape[1] != N:
            raise ValidationError(f"gains: expected shape (H, {N}), got {gains.shape}", "gains")
    else:
        gains = sc.gains(P["H"], seed=P["seed"] + 7919)[:, :, 0]
    names = [x.name for x in sc.devices]
    for h in range(gains.shape[0]):
        check_array(f"channel gain (sample {h})", gains[h], names, what="device", allow_zero=False)

    # --- C1 memory (Eq. 11) -> closed-form cap (Claim 3)
    m_block = fig["m_w"] + fig["m_lora"] + fig["m_act"]
    m_buf = E * P["beta0"] / 8
    M_emb = fig["M_emb"]
    l_mem = np.floor((M_max - M_emb - m_buf) / m_block)
    for n in np.flatnonzero(l_mem < 1):
        need = M_emb + m_buf + m_block
        below_emb = M_max[n] < M_emb
        raise InfeasibleError(
            f"memory constraint C1 (Eq. 11) of device {names[n]!r}: budget M_max = {M_max[n]:.4g} bytes "
            + (f"is below the embedding's M_emb = {M_emb:.4g} bytes by {M_emb - M_max[n]:.4g} bytes; "
               if below_emb else "")
            + f"embedding + cut buffer + one block need {need:.4g} bytes, short by {need - M_max[n]:.4g} bytes",
            "C1 memory", float(need - M_max[n]))
    l_cap = np.minimum(L - 1, l_mem).astype(int)
    if P["split"] == "common":
        l_cap = np.full(N, int(l_cap.min()))

    # --- C2 accuracy (Eq. 12) -> theta bounds
    best_A = P["A_ref"] - P["alpha"] * math.exp(-P["gamma"])
    theta_lb = np.full(N, P["theta_lo"])
    theta_req = 0.0
    if P["accuracy"] in ("eq12", "per-device", "depth"):
        if P["A_min"] > best_A:
            raise InfeasibleError(
                f"accuracy constraint C2 (Eq. 12): A_min = {P['A_min']:.6g} exceeds the best reachable "
                f"accuracy A(theta = 1) = A_ref - alpha exp(-gamma) = {best_A:.6g} by {P['A_min'] - best_A:.4g}; "
                "no keep ratio can meet it", "C2 accuracy", float(P["A_min"] - best_A))
        gap = P["A_ref"] - P["A_min"]
        theta_req = 0.0 if gap >= P["alpha"] else -math.log(gap / P["alpha"]) / P["gamma"]
        if P["accuracy"] == "per-device":
            theta_lb = np.maximum(theta_lb, theta_req)
            theta_req = 0.0
        elif P["accuracy"] == "depth":
            om = (1 + P["depth_eta"] * l_cap / L) / (1 + P["depth_eta"])
            reach = float((w * om).sum())
            if reach < theta_req:
                raise InfeasibleError(
                    f"accuracy constraint C2 (depth model, spec §3.6 ii): the depth-weighted keep ratio needs "
                    f"{theta_req:.4g} but at most {reach:.4g} is reachable (theta = 1, deepest cuts), short by "
                    f"{theta_req - reach:.4g}", "C2 accuracy", theta_req - reach)
    else:   # variance bound (iii): eps_n = (1 - theta) + theta v_q <= eps_max
        s_q = 2 ** (q - 1) - 1
        v_q = 1.0 / (4 * s_q ** 2)      # Var <= Delta^2 / 4 relative to m^2 (Eq. 7a); reconstructed
        gap = P["A_ref"] - P["A_min"]
        t_req = 0.0 if gap >= P["alpha"] else -math.log(max(gap, 1e-300) / P["alpha"]) / P["gamma"]
        eps_max = P["eps_max"] if P["eps_max"] is not None else 1 - t_req * (1 - v_q)
        eps_max = check_scalar("eps_max", eps_max, lo=0.0, hi=1.0)
        if eps_max < v_q:
            raise InfeasibleError(
                f"accuracy constraint C2 (variance model, spec §3.6 iii): eps_max = {eps_max:.4g} is below the "
                f"quantizer's own relative variance v_q = {v_q:.4g} (theta = 1) by {v_q - eps_max:.4g}",
                "C2 accuracy", v_q - eps_max)
        theta_lb = np.maximum(theta_lb, (1 - eps_max) / (1 - v_q))
    if (theta_lb > 1).any():
        raise InfeasibleError(f"accuracy constraint C2: keep ratio bound {theta_lb.max():.4g} > 1",
                              "C2 accuracy", float(theta_lb.max() - 1))

    return SFTInstance(
        name=sc.name or "sft", scenario=sc, params=P, L=L, s=s, d=d, a=a, b=b, E=E,
        phi_F_flop=fig["phi_F_flop"], phi_emb_flop=fig["phi_emb_flop"], phi_head_flop=fig["phi_head_flop"],
        kappa_B=P["kappa_B"], q=q, q_g=q_g, beta0=P["beta0"], hdr_bits=hdr_bits,
        lora_bits_per_block=fig["lora_params_per_block"] * P["beta0"],
        M_emb_bytes=M_emb, m_block_bytes=m_block, m_buf_bytes=m_buf,
        m_parts_bytes={"m_w": fig["m_w"], "m_lora": fig["m_lora"], "m_act": fig["m_act"],
                       "head": fig["head_bytes"]},
        f_flops=f, M_max_bytes=M_max, w=w, p_w=p_w, F_s_flops=float(server.compute_flops),
        P_s_w=float(server.tx_power_w), B_U_hz=float(ch.uplink_bandwidth_hz),
        B_D_hz=float(ch.downlink_bandwidth_hz), N0_w_hz=float(ch.noise_psd_w_hz), gains=gains,
        l_cap=l_cap, theta_lb=theta_lb, theta_req=float(theta_req))


# =========================================================================== Section 3: system model
def compute_times(inst: SFTInstance, l: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eq. 2-4: device forward t^F_n, device backward t^B_n (arrays like ``l``), server t^S (over the last axis)."""
    l = np.asarray(l, dtype=float)
    b, phi = inst.b, inst.phi_F_flop
    tF = b * (inst.phi_emb_flop + l * phi) / inst.f_flops                      # Eq. 2
    tB = b * inst.kappa_B * l * phi / inst.f_flops                              # Eq. 3
    tS = (b * (1 + inst.kappa_B) * ((inst.L - l) * phi + inst.phi_head_flop)).sum(-1) / inst.F_s_flops  # Eq. 4
    return tF, tB, tS


def uplink_bits(inst: SFTInstance, theta: np.ndarray, compression: str = "sft") -> np.ndarray:
    """Eq. 7 (clipped) / direct-rate S^U_n(theta_n), bits; ``compression`` selects the Section 8 variants."""
    th = np.asarray(theta, dtype=float)
    E = inst.E
    if compression == "none":
        return np.full_like(th, inst.S0_bits)
    if compression == "topk":            # fp32 values + raw 1-bit mask
        return E * (th * inst.beta0 + 1.0)
    if compression == "quant":           # every value at q bits, no mask
        return np.full_like(th, E * inst.q + inst.hdr_bits)
    if inst.p("size_model") == "direct-rate":
        return th * inst.S0_bits
    return E * np.minimum(th * inst.q + binary_entropy(th), inst.q) + inst.hdr_bits      # Eq. 7


def uplink_bits_grad(inst: SFTInstance, theta: np.ndarray) -> np.ndarray:
    """dS^U/dtheta of the default compressor (0 on the flat part theta >= theta_c)."""
    th = np.clip(np.asarray(theta, dtype=float), 1e-12, 1 - 1e-12)
    if inst.p("size_model") == "direct-rate":
        return np.full_like(th, inst.S0_bits)
    inside = th * inst.q + binary_entropy(th) < inst.q
    return np.where(inside, inst.E * (inst.q + np.log2((1 - th) / th)), 0.0)


def downlink_bits(inst: SFTInstance, theta: np.ndarray, compression: str = "sft") -> np.ndarray:
    """Eq. 9: S^D_n = theta E q_g + S_hdr (masked gradient values only), bits."""
    th = np.asarray(theta, dtype=float)
    if compression == "none":
        return np.full_like(th, inst.S0_bits)
    if compression == "topk":
        return th * inst.E * inst.beta0
    if compression == "quant":
        return np.full_like(th, inst.E * inst.q_g + (inst.hdr_bits if inst.q_g < inst.beta0 else 0.0))
    if inst.p("size_model") == "direct-rate":
        return th * inst.S0_bits
    hdr = inst.hdr_bits if inst.q_g < inst.beta0 else 0.0
    return th * inst.E * inst.q_g + hdr


def downlink_bits_grad(inst: SFTInstance, theta: np.ndarray) -> np.ndarray:
    th = np.asarray(theta, dtype=float)
    return np.full_like(th, inst.S0_bits if inst.p("size_model") == "direct-rate" else inst.E * inst.q_g)


def lora_bits(inst: SFTInstance, l: np.ndarray) -> np.ndarray:
    """Eq. 10: device-side LoRA payload l_n n_ad 2 r d beta0 bits (each way)."""
    return np.asarray(l, dtype=float) * inst.lora_bits_per_block


def memory_bytes(inst: SFTInstance, l: np.ndarray) -> np.ndarray:
    """Eq. 11: M_n(l_n) = M_emb + l_n (m_w + m_lora + m_act) + m_buf (affine in l_n, Claim 3)."""
    return inst.M_emb_bytes + np.asarray(l, dtype=float) * inst.m_block_bytes + inst.m_buf_bytes


def accuracy_weights(inst: SFTInstance, l: np.ndarray) -> np.ndarray:
    """Weights of the linear coupling sum_n w~_n theta_n >= theta_req (Eq. 12; depth model ii)."""
    if inst.p("accuracy") == "depth":
        eta = inst.p("depth_eta")
        return inst.w * (1 + eta * np.asarray(l, dtype=float) / inst.L) / (1 + eta)
    return np.broadcast_to(inst.w, np.shape(l)).astype(float)


def accuracy(inst: SFTInstance, theta: np.ndarray, l: np.ndarray) -> float:
    """A(theta, l) of Eq. 12 (or the variant's equivalent accuracy), as a fraction."""
    P = inst.params
    th = np.asarray(theta, dtype=float)
    if inst.p("accuracy") in ("eq12", "depth"):
        tbar = float((accuracy_weights(inst, l) * th).sum())
        return P["A_ref"] - P["alpha"] * math.exp(-P["gamma"] * tbar)
    if inst.p("accuracy") == "per-device":
        return float(np.min(P["A_ref"] - P["alpha"] * np.exp(-P["gamma"] * th)))
    # variance model: report the Eq. 12 accuracy of the worst device
    return float(np.min(P["A_ref"] - P["alpha"] * np.exp(-P["gamma"] * th)))


def full_band_snr(inst: SFTInstance, gains: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """p g / (B N0) of uplink and downlink at the full band (the c_n of Eq. 5-6)."""
    g = inst.gains if gains is None else np.asarray(gains, dtype=float)
    return inst.p_w * g / (inst.B_U_hz * inst.N0_w_hz), inst.P_s_w * g / (inst.B_D_hz * inst.N0_w_hz)


def rate_bps(x: np.ndarray, snr: np.ndarray, B_hz: float, rate_model: str = "shannon") -> np.ndarray:
    """Eq. 5-6: R = x B log2(1 + c / x) (noise scales with the band), or x B log2(1 + c) (fixed SNR)."""
    x = np.asarray(x, dtype=float)
    if rate_model == "fixed-snr":
        return x * B_hz * np.log2(1 + snr)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * B_hz * np.log1p(snr / np.where(x > 0, x, 1.0)) / LN2, 0.0)


def rate_prime(x: np.ndarray, snr: np.ndarray, B_hz: float, rate_model: str = "shannon") -> np.ndarray:
    """dR/dx (positive, decreasing: R is concave increasing in x)."""
    if rate_model == "fixed-snr":
        return np.broadcast_to(B_hz * np.log2(1 + snr), np.shape(x))
    u = snr / x
    return B_hz / LN2 * (np.log1p(u) - u / (1 + u))


def band_for_rate(r_bps: np.ndarray, snr: np.ndarray, B_hz: float, rate_model: str = "shannon") -> np.ndarray:
    """Smallest band fraction x with R(x) >= r (inf when r exceeds the infinite-band limit).

    Closed form through the Lambert W function: with k = r ln2 / (B c) < 1, x = c / (v - 1),
    v = -W_{-1}(-k e^{-k}) / k.
    """
    r = np.asarray(r_bps, dtype=float)
    if rate_model == "fixed-snr":
        return r / (B_hz * np.log2(1 + snr))
    k = r * LN2 / (B_hz * snr)
    ok = k < 1 - 1e-12
    kk = np.where(ok, np.maximum(k, 1e-300), 0.5)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        v = -lambertw(-kk * np.exp(-kk), -1).real / kk
        x = snr / (v - 1)
    return np.where(ok, np.where(r <= 0, 0.0, x), np.inf)


# =========================================================================== P2 (small timescale)
def p2_bisection(t: np.ndarray, S: np.ndarray, snr: np.ndarray, B_hz: float, rate_model: str = "shannon",
                 iters: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Exact baseline of P2-U / P2-D (spec §5): bisection on z, x_n(z) in closed form.

    min_x max_n t_n + S_n / R_n(x_n)  s.t. sum x <= 1. Vectorised over leading axes; returns
    (z*, x*) with z* of shape ``t.shape[:-1]``.
    """
    t, S, snr = np.broadcast_arrays(np.asarray(t, float), np.asarray(S, float), np.asarray(snr, float))
    N = t.shape[-1]
    lo = (t + S / rate_bps(1.0, snr, B_hz, rate_model)).max(-1)
    hi = (t + S / rate_bps(1.0 / N, snr, B_hz, rate_model)).max(-1)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        x = band_for_rate(S / np.maximum(mid[..., None] - t, 1e-300), snr, B_hz, rate_model)
        feas = x.sum(-1) <= 1
        hi = np.where(feas, mid, hi)
        lo = np.where(feas, lo, mid)
    x = band_for_rate(S / (hi[..., None] - t), snr, B_hz, rate_model)
    return hi, x


def p2_solve(t: np.ndarray, S: np.ndarray, snr: np.ndarray, B_hz: float, rate_model: str = "shannon",
             tol: float = 1e-13, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P2-U / P2-D to machine precision by monotone Newton on sum_n x_n(z) = 1 (vectorised).

    x_n(z) is convex and decreasing in z (inverse of a concave rate composed with S/(z - t)), so
    Newton started at z_lo = max_n t_n + S_n / R_n(1) (where sum x >= 1) increases monotonically to
    the root. Returns (z*, x*, pi) where pi_n = dz*/dt_n are the optimal multipliers of the epigraph
    constraints (envelope theorem; sum_n pi_n = 1), used for the gradient of J (spec §5).
    """
    t, S, snr = np.broadcast_arrays(np.asarray(t, float), np.asarray(S, float), np.asarray(snr, float))
    z = (t + S / rate_bps(1.0, snr, B_hz, rate_model)).max(-1)
    x = None
    exact_steps = 0
    for it in range(max_iter):
        gap_s = np.maximum(z[..., None] - t, 1e-300)
        r = S / gap_s
        if x is None or rate_model == "fixed-snr" or exact_steps:
            x = np.minimum(band_for_rate(r, snr, B_hz, rate_model), 1e300)     # closed form (Lambert W)
        else:
            # cheap inner Newton on R(x) = r from the previous x (R concave: iterates stay positive)
            for _ in range(3):
                x = np.maximum(x - (rate_bps(x, snr, B_hz) - r) / rate_prime(x, snr, B_hz), 1e-300)
        a = r / (gap_s * rate_prime(np.maximum(x, 1e-300), snr, B_hz, rate_model))
        f = x.sum(-1) - 1
        step = (np.maximum(f, 0.0) if it == 0 else f) / a.sum(-1)
        z = z + step
        if np.all(np.abs(step) <= tol * np.abs(z)):
            exact_steps += 1                 # converged with the inner Newton: polish with exact x(z)
            if exact_steps >= 2 or rate_model == "fixed-snr":
                break
    gap_s = z[..., None] - t
    x = band_for_rate(S / gap_s, snr, B_hz, rate_model)
    a = (S / gap_s) / (gap_s * rate_prime(x, snr, B_hz, rate_model))
    return z, x, a / a.sum(-1, keepdims=True)


def p2_sqp(t: np.ndarray, S: np.ndarray, snr: np.ndarray, B_hz: float, rate_model: str = "shannon",
           x_lo: float = 1e-9, ftol: float = 1e-12, maxiter: int = 200) -> tuple[float, np.ndarray, Any]:
    """Algorithm 3 (SmallTimescaleSQP): SLSQP on the epigraph form of P2-U (or P2-D), one slot.

    Scaled units (Mbit, MHz, s). Start x_n = 1/N, z = max_n t_n + S_n / R_n(1/N). Returns
    (z*, x*, scipy result).
    """
    t = np.asarray(t, float)
    Sm = np.asarray(S, float) / 1e6
    c = np.asarray(snr, float)
    Bm = B_hz / 1e6
    N = t.size

    def R(x: np.ndarray) -> np.ndarray:
        return rate_bps(np.maximum(x, x_lo), c, Bm, rate_model)

    def cons(v: np.ndarray) -> np.ndarray:
        return v[N] - t - Sm / R(v[:N])

    def cons_jac(v: np.ndarray) -> np.ndarray:
        x = np.maximum(v[:N], x_lo)
        J = np.zeros((N, N + 1))
        J[np.arange(N), np.arange(N)] = Sm * rate_prime(x, c, Bm, rate_model) / R(x) ** 2
        J[:, N] = 1.0
        return J

    x0 = np.full(N, 1.0 / N)
    v0 = np.concatenate([x0, [float((t + Sm / R(x0)).max())]])
    res = minimize(lambda v: v[N], v0, jac=lambda v: np.eye(N + 1)[N], method="SLSQP",
                   bounds=[(x_lo, 1.0)] * N + [(None, None)],
                   constraints=[{"type": "ineq", "fun": cons, "jac": cons_jac},
                                {"type": "ineq", "fun": lambda v: 1 - v[:N].sum(),
                                 "jac": lambda v: np.concatenate([-np.ones(N), [0.0]])}],
                   options={"ftol": ftol, "maxiter": maxiter})
    x = np.clip(res.x[:N], x_lo, 1.0)
    x = x / max(x.sum(), 1.0)
    z = float((t + Sm / R(x)).max())            # the delay the allocation actually achieves
    return z, x, res


def build_p2_cvxpy(t: np.ndarray, S: np.ndarray, snr: np.ndarray, B_hz: float, rate_model: str = "shannon"):
    """P2-U (or P2-D) as a DCP problem in scaled units (Mbit, MHz, s) (spec Claim 4).

    R_n = (B / ln 2) (-rel_entr(x_n, x_n + c_n)) is concave; t_n + S_n inv_pos(R_n) <= z is convex.
    Returns (problem, x, z).
    """
    import cvxpy as cp

    t = np.asarray(t, float)
    Sm = np.asarray(S, float) / 1e6
    c = np.asarray(snr, float)
    Bm = B_hz / 1e6
    N = t.size
    x = cp.Variable(N, nonneg=True, name="x")
    z = cp.Variable(name="z")
    if rate_model == "fixed-snr":
        R = cp.multiply(Bm * np.log2(1 + c), x)
    else:
        R = (Bm / LN2) * (-cp.rel_entr(x, x + c))
    cons = [t + cp.multiply(Sm, cp.inv_pos(R)) <= z, cp.sum(x) <= 1]     # P2-U epigraph, C3
    prob = cp.Problem(cp.Minimize(z), cons)
    return prob, x, z


def build_p2_pyomo(t: np.ndarray, S: np.ndarray, snr: np.ndarray, B_hz: float, rate_model: str = "shannon"):
    """P2-U (or P2-D) as a Pyomo NLP (epigraph form of Algorithm 3), scaled units; for SCIP (global)
    or IPOPT. Returns the model; ``m.z`` is the optimal delay of the phase."""
    import pyomo.environ as pyo

    t = np.asarray(t, float)
    Sm = np.asarray(S, float) / 1e6
    c = np.asarray(snr, float)
    Bm = B_hz / 1e6
    m = pyo.ConcreteModel(name="SFT-P2")
    m.N = pyo.Set(initialize=range(t.size), doc="devices")
    m.x = pyo.Var(m.N, bounds=(1e-9, 1.0), initialize=1.0 / t.size, doc="band share (C3)")
    z_hi = float((t + Sm / rate_bps(1.0 / t.size, c, Bm, rate_model)).max())
    m.z = pyo.Var(bounds=(0.0, z_hi), initialize=z_hi, doc="epigraph of max_n (Eq. 13)")

    def R(n):
        if rate_model == "fixed-snr":
            return m.x[n] * Bm * math.log2(1 + c[n])
        return m.x[n] * Bm * pyo.log(1 + c[n] / m.x[n]) / LN2                 # Eq. 5

    m.delay = pyo.Constraint(m.N, rule=lambda m, n: Sm[n] <= (m.z - t[n]) * R(n),
                             doc="t_n + S_n / R_n(x_n) <= z (Eq. 13)")
    m.C3 = pyo.Constraint(expr=sum(m.x[n] for n in m.N) <= 1, doc="C3")
    m.obj = pyo.Objective(expr=m.z, sense=pyo.minimize)
    return m


# =========================================================================== P1 objective (SAA)
def _phases(inst: SFTInstance, theta: np.ndarray, l: np.ndarray, compression: str = "sft"):
    theta = np.asarray(theta, float)
    l = np.asarray(l, float)
    tF, tB, tS = compute_times(inst, l)
    return tF, tB, tS, uplink_bits(inst, theta, compression), downlink_bits(inst, theta, compression)


def expected_delay(inst: SFTInstance, theta: np.ndarray, l: np.ndarray, *, compression: str = "sft",
                   chunk: int = 2_000_000) -> np.ndarray:
    """J(theta, l) of P1 (expected total fine-tuning delay, Eq. 15, SAA over ``inst.gains``) for a
    batch of decisions: theta, l of shape (C, N) -> (C,) seconds. Optimal spectrum per sample (P2)."""
    theta = np.atleast_2d(np.asarray(theta, float))
    l = np.atleast_2d(np.asarray(l, float))
    theta, l = np.broadcast_arrays(theta, l)
    C = theta.shape[0]
    out = np.empty(C)
    cU, cD = full_band_snr(inst)
    rm = inst.p("rate_model")
    step = max(1, chunk // max(1, inst.H * inst.N))
    for i in range(0, C, step):
        th, ll = theta[i:i + step], l[i:i + step]
        tF, tB, tS, SU, SD = _phases(inst, th, ll, compression)
        z, _, _ = p2_solve(tF[:, None, :], SU[:, None, :], cU[None], inst.B_U_hz, rm)
        w_, _, _ = p2_solve(tB[:, None, :], SD[:, None, :], cD[None], inst.B_D_hz, rm)
        J = inst.p("K_it") * (z.mean(-1) + tS + w_.mean(-1))
        if inst.n_agg:
            Sl = lora_bits(inst, ll)[:, None, :]
            za, _, _ = p2_solve(0.0, Sl, cU[None], inst.B_U_hz, rm)
            wa, _, _ = p2_solve(0.0, Sl, cD[None], inst.B_D_hz, rm)
            J = J + inst.n_agg * (za + wa).mean(-1)
        out[i:i + step] = J
    return out


def delay_and_grad(inst: SFTInstance, theta: np.ndarray, l: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """J(theta, l) and its gradient in theta and in the relaxed l (envelope theorem, spec §5 / Claim 8)."""
    theta = np.asarray(theta, float)
    l = np.asarray(l, float)
    cU, cD = full_band_snr(inst)
    rm = inst.p("rate_model")
    tF, tB, tS, SU, SD = _phases(inst, theta, l)
    z, _, pi = p2_solve(tF, SU, cU, inst.B_U_hz, rm)
    w_, _, om = p2_solve(tB, SD, cD, inst.B_D_hz, rm)
    K = inst.p("K_it")
    J = K * (z.mean() + tS + w_.mean())
    # dz/dS_n = pi_n (z - t_n) / S_n ; dz/dt_n = pi_n
    dz_dS = (pi * (z[:, None] - tF) / SU).mean(0)
    dw_dS = (om * (w_[:, None] - tB) / SD).mean(0)
    g_theta = K * (dz_dS * uplink_bits_grad(inst, theta) + dw_dS * downlink_bits_grad(inst, theta))
    dtF = inst.b * inst.phi_F_flop / inst.f_flops
    dtS = -inst.b * (1 + inst.kappa_B) * inst.phi_F_flop / inst.F_s_flops
    g_l = K * (pi.mean(0) * dtF + om.mean(0) * inst.kappa_B * dtF + dtS)
    if inst.n_agg:
        Sl = lora_bits(inst, l)
        za, _, pa = p2_solve(0.0, Sl, cU, inst.B_U_hz, rm)
        wa, _, oa = p2_solve(0.0, Sl, cD, inst.B_D_hz, rm)
        J += inst.n_agg * (za + wa).mean()
        g_l = g_l + inst.n_agg * ((pa * za[:, None] + oa * wa[:, None]) / Sl).mean(0) * inst.lora_bits_per_block
    return float(J), g_theta, g_l


# =========================================================================== evaluate()
def evaluate(inst: SFTInstance, theta: Any, l: Any, *, scheme: str = "sft", spectrum: str = "optimal",
             compression: str = "sft", gains: np.ndarray | None = None,
             clusters: Any = None) -> tuple[float, dict[str, float], dict[str, pd.DataFrame]]:
    """Metrics of Section 3 for a decision (theta, l): computation, communication, memory, accuracy,
    delay per iteration and total (Eq. 15), with a breakdown.

    Parameters
    ----------
    theta, l : keep ratios and blocks per device (length N; a scalar broadcasts)
    scheme : ``"sft"`` (Eq. 13, one shared server model, two barriers), ``"sl"`` (sequential split
        learning), ``"sfl"`` (SplitFed: parallel per-device pipelines, server copies), ``"fl"``
        (federated LoRA, whole model on device), ``"cpsl"`` (cluster-based parallel SL: Eq. 13 within
        each cluster of ``clusters``, clusters one after another) -- the Section 8 baselines
    spectrum : ``"optimal"`` (P2 solved exactly per sample) or ``"equal"`` (x_n = y_n = 1/N)
    compression : ``"sft"`` (Top-K + quantisation + coding, Eq. 7/9), ``"none"`` (raw fp32),
        ``"topk"`` (Top-K only) or ``"quant"`` (quantisation only)
    gains : channel samples (H, N); default the instance's SAA samples

    Returns
    -------
    (objective, metrics, details): objective = expected total fine-tuning delay D_tot, s.
    """
    N = inst.N
    theta = np.broadcast_to(np.asarray(theta, float), (N,)).copy()
    l = np.broadcast_to(np.asarray(l, float), (N,)).copy()
    if scheme not in ("sft", "sl", "sfl", "fl", "cpsl"):
        raise ValidationError(f"scheme {scheme!r}: choose sft, sl, sfl, fl or cpsl", "scheme")
    if scheme == "fl":
        l = np.full(N, float(inst.L))
    g = inst.gains if gains is None else np.asarray(gains, float)
    cU, cD = full_band_snr(inst, g)
    rm = inst.p("rate_model")
    K = inst.p("K_it")
    tF, tB, tS, SU, SD = _phases(inst, theta, l, compression)
    H = g.shape[0]
    x = np.full((H, N), 1.0 / N)
    y = np.full((H, N), 1.0 / N)
    if scheme == "sft":
        if spectrum == "optimal":
            z, x, _ = p2_solve(tF, SU, cU, inst.B_U_hz, rm)
            w_, y, _ = p2_solve(tB, SD, cD, inst.B_D_hz, rm)
        else:
            z = (tF + SU / rate_bps(x, cU, inst.B_U_hz, rm)).max(-1)
            w_ = (tB + SD / rate_bps(y, cD, inst.B_D_hz, rm)).max(-1)
        D_it = z + tS + w_                                           # Eq. 13
        up_s, down_s = z, w_
    elif scheme == "cpsl":    # clusters in sequence; inside a cluster Eq. 13 with the whole band
        cl = np.zeros(N, dtype=int) if clusters is None else np.asarray(clusters, dtype=int)
        if cl.shape != (N,):
            raise ValidationError(f"clusters: expected {N} cluster ids, got shape {cl.shape}", "clusters")
        D_it = np.zeros(H)
        up_s = np.zeros(H)
        down_s = np.zeros(H)
        tS = 0.0
        for c in np.unique(cl):
            ix = cl == c
            zc, x[:, ix], _ = p2_solve(tF[ix], SU[ix], cU[:, ix], inst.B_U_hz, rm)
            wc, y[:, ix], _ = p2_solve(tB[ix], SD[ix], cD[:, ix], inst.B_D_hz, rm)
            tSc = float((inst.b * (1 + inst.kappa_B) * ((inst.L - l[ix]) * inst.phi_F_flop
                                                         + inst.phi_head_flop)).sum() / inst.F_s_flops)
            D_it = D_it + zc + tSc + wc
            up_s, down_s, tS = up_s + zc, down_s + wc, tS + tSc
    elif scheme == "sl":      # one device at a time on the whole band, one server model
        tSn = inst.b * (1 + inst.kappa_B) * ((inst.L - l) * inst.phi_F_flop + inst.phi_head_flop) / inst.F_s_flops
        x = np.ones((H, N))
        y = np.ones((H, N))
        up = tF + SU / rate_bps(1.0, cU, inst.B_U_hz, rm)
        down = SD / rate_bps(1.0, cD, inst.B_D_hz, rm) + tB
        D_it = (up + tSn + down).sum(-1)
        up_s, down_s = up.sum(-1), down.sum(-1)
    elif scheme == "sfl":     # parallel per-device pipelines (server copies, no upload barrier), equal spectrum
        up = tF + SU / rate_bps(x, cU, inst.B_U_hz, rm)
        down = SD / rate_bps(y, cD, inst.B_D_hz, rm) + tB
        D_it = (up + tS + down).max(-1)
        up_s, down_s = up.max(-1), down.max(-1)
    else:                     # fl: local fine-tuning of the whole model, LoRA exchange only
        tloc = inst.b * (inst.phi_emb_flop + (1 + inst.kappa_B) * (inst.L * inst.phi_F_flop + inst.phi_head_flop)) \
            / inst.f_flops
        D_it = np.full(H, tloc.max())
        up_s = down_s = np.zeros(H)
        SU = SD = np.zeros(N)
        tS = 0.0
    # aggregation (Eq. 14): a separate slot, LoRA up (barrier: the server averages) then down,
    # spectrum allocated by P2 with t = 0 (reading: Eq. 14 leaves the slot's allocation open)
    Sl = lora_bits(inst, l)
    if inst.n_agg:
        if spectrum == "optimal" and scheme in ("sft", "fl", "cpsl"):
            za, _, _ = p2_solve(0.0, Sl, cU, inst.B_U_hz, rm)
            wa, _, _ = p2_solve(0.0, Sl, cD, inst.B_D_hz, rm)
        elif scheme == "sl":
            za = (Sl / rate_bps(1.0, cU, inst.B_U_hz, rm)).sum(-1)
            wa = (Sl / rate_bps(1.0, cD, inst.B_D_hz, rm)).sum(-1)
        else:
            za = (Sl / rate_bps(1.0 / N, cU, inst.B_U_hz, rm)).max(-1)
            wa = (Sl / rate_bps(1.0 / N, cD, inst.B_D_hz, rm)).max(-1)
        D_agg = za + wa
    else:
        D_agg = np.zeros(H)
    D_tot = K * D_it.mean() + inst.n_agg * D_agg.mean()               # Eq. 15 (expectation)

    mem = memory_bytes(inst, l) + (inst.m_parts_bytes["head"] if scheme == "fl" else 0.0)
    A = accuracy(inst, theta if compression in ("sft", "topk") else np.ones(N), l)
    acc_short = 0.0
    if inst.p("accuracy") in ("eq12", "depth") and compression in ("sft", "topk"):
        acc_short = max(0.0, inst.theta_req - float((accuracy_weights(inst, l) * theta).sum()))
    elif compression in ("sft", "topk"):
        acc_short = float(np.max(np.maximum(inst.theta_lb - theta, 0.0)))
    comm_iter = float((SU + SD).sum())
    raw_iter = 2.0 * N * inst.S0_bits
    metrics = {
        "delay_total_s": float(D_tot),
        "delay_per_iteration_s": float(D_it.mean() + inst.n_agg * D_agg.mean() / K),
        "uplink_phase_s": float(up_s.mean()),
        "server_compute_s": float(tS),
        "downlink_phase_s": float(down_s.mean()),
        "aggregation_s_per_round": float(D_agg.mean()),
        "device_compute_s_max": float((tF + tB).max()),
        "communication_bits_per_iteration": comm_iter,
        "raw_communication_bits_per_iteration": raw_iter,
        "communication_reduction": 1.0 - comm_iter / raw_iter if scheme != "fl" else 1.0,
        "bits_per_element_uplink": float(SU.mean() / inst.E) if scheme != "fl" else 0.0,
        "accuracy": float(A),
        "accuracy_shortfall": acc_short,
        "memory_max_bytes": float(mem.max()),
        "memory_violation_bytes": float(np.maximum(mem - inst.M_max_bytes, 0).max()),
        "feasible": float(acc_short <= 1e-9 and (mem <= inst.M_max_bytes * (1 + 1e-12)).all()),
        "iterations": float(K),
    }
    per_dev = pd.DataFrame({
        "device": [dv.name for dv in inst.scenario.devices], "blocks": l, "theta": theta,
        "compression_rate": SU / inst.S0_bits if scheme != "fl" else 0.0,
        "uplink_bits": SU, "downlink_bits": SD, "lora_bits": Sl,
        "t_forward_s": tF, "t_backward_s": tB, "memory_bytes": mem, "memory_budget_bytes": inst.M_max_bytes,
        "mean_uplink_share": x.mean(0), "mean_downlink_share": y.mean(0),
    })
    return float(D_tot), metrics, {"devices": per_dev}


def make_plan(inst: SFTInstance, method: str, theta: np.ndarray, l: np.ndarray, seconds: float = 0.0,
              solve_result: SolveResult | None = None, extra_details: dict[str, pd.DataFrame] | None = None,
              extra_metrics: dict[str, float] | None = None, **eval_kw: Any) -> Plan:
    """A :class:`slopt.Plan` whose objective is recomputed by :func:`evaluate`."""
    obj, metrics, details = evaluate(inst, theta, l, **eval_kw)
    metrics.update(extra_metrics or {})
    details.update(extra_details or {})
    return Plan(problem="sft", method=method, objective=obj,
                decision={"theta": np.asarray(theta, float).tolist(), "blocks": np.asarray(l).astype(int).tolist(),
                          "split": inst.p("split")},
                metrics=metrics, details=details, solve=solve_result, seconds=seconds)


# =========================================================================== theta-step (fixed l)
def theta_vertices(inst: SFTInstance, l: np.ndarray) -> np.ndarray:
    """Vertices of the accuracy face {sum w~ theta = theta_req, theta_lb <= theta <= 1} (Claim 11).

    All devices but one at a bound (theta_lb or 1), the free one solving the active coupling
    constraint; plus theta = theta_lb when that already meets the requirement. Exponential in N
    (N 2^(N-1) candidates): for the exact small-N baseline.
    """
    N = inst.N
    lb = inst.theta_lb
    if inst.theta_req <= 0 or float((accuracy_weights(inst, l) * lb).sum()) >= inst.theta_req - 1e-15:
        return lb[None, :].copy()
    wt = accuracy_weights(inst, l)
    out = []
    for k in range(N):
        others = [m for m in range(N) if m != k]
        for bits in itertools.product((0, 1), repeat=N - 1):
            th = lb.copy()
            for m, bt in zip(others, bits):
                if bt:
                    th[m] = 1.0
            rest = inst.theta_req - float(sum(wt[m] * th[m] for m in others))
            tk = rest / wt[k]
            if lb[k] - 1e-12 <= tk <= 1 + 1e-12:
                th[k] = min(max(tk, lb[k]), 1.0)
                out.append(th)
    return np.unique(np.array(out), axis=0) if out else lb[None, :].copy()


def greedy_vertices(inst: SFTInstance, l: np.ndarray, scores: list[np.ndarray]) -> np.ndarray:
    """Vertices filled greedily in the order of each score (cheapest marginal delay per unit of
    accuracy weight first): the polynomial vertex candidates used by the paper's algorithm."""
    lb = inst.theta_lb
    wt = accuracy_weights(inst, l)
    out = []
    for sc in scores:
        th = lb.copy()
        need = inst.theta_req - float((wt * lb).sum())
        for n in np.argsort(sc / wt):
            if need <= 1e-15:
                break
            inc = min(1 - th[n], need / wt[n])
            th[n] += inc
            need -= inc * wt[n]
        out.append(th)
    return np.array(out)


def theta_local(inst: SFTInstance, l: np.ndarray, theta0: np.ndarray, maxiter: int = 100) -> np.ndarray:
    """Local solve of the theta-subproblem at fixed l (SLSQP, analytic gradient), from ``theta0``."""
    lb = inst.theta_lb
    wt = accuracy_weights(inst, l)
    J0 = max(expected_delay(inst, theta0, l)[0], 1e-9)

    def fg(th: np.ndarray) -> tuple[float, np.ndarray]:
        J, gth, _ = delay_and_grad(inst, np.clip(th, lb, 1.0), l)
        return J / J0, gth / J0

    cons = []
    if inst.theta_req > 0:
        cons = [{"type": "ineq", "fun": lambda th: (wt @ th - inst.theta_req) / max(inst.theta_req, 1e-12),
                 "jac": lambda th: wt / max(inst.theta_req, 1e-12)}]
    res = minimize(fg, np.clip(theta0, lb, 1.0), jac=True, method="SLSQP", bounds=list(zip(lb, np.ones(inst.N))),
                   constraints=cons, options={"ftol": 1e-12, "maxiter": maxiter})
    th = np.clip(res.x, lb, 1.0)
    if inst.theta_req > 0 and wt @ th < inst.theta_req:        # restore exact feasibility
        short = inst.theta_req - wt @ th
        room = (1 - th) * wt
        th = th + (1 - th) * min(1.0, short / max(room.sum(), 1e-300)) * (room > 0)
    return th


def theta_star(inst: SFTInstance, l: np.ndarray, theta_warm: np.ndarray | None = None, *,
               exhaustive: bool = False, polish: bool = True) -> tuple[np.ndarray, float]:
    """theta*(l) of Algorithm 2 step 6: best of the vertex candidates (all face vertices when
    ``exhaustive``, else the greedy ones) and of a local solve warm-started at ``theta_warm``."""
    l = np.asarray(l, float)
    if inst.theta_req <= 0:                     # per-device bounds only: theta = theta_lb (Claim 7)
        th = inst.theta_lb.copy()
        return th, float(expected_delay(inst, th, l)[0])
    if exhaustive:
        cands = theta_vertices(inst, l)
    else:
        _, g0, _ = delay_and_grad(inst, inst.theta_lb, l)
        scores = [g0, np.arange(inst.N, dtype=float), -inst.gains.mean(0)]
        if theta_warm is not None:
            _, gw, _ = delay_and_grad(inst, theta_warm, l)
            scores.append(gw)
        cands = greedy_vertices(inst, l, scores)
    if theta_warm is not None:
        wt = accuracy_weights(inst, l)
        if wt @ theta_warm >= inst.theta_req - 1e-12:
            cands = np.vstack([cands, theta_warm])
    Js = expected_delay(inst, cands, np.broadcast_to(l, cands.shape))
    best = int(np.argmin(Js))
    th, J = cands[best], float(Js[best])
    if polish:
        for start in {best, *([len(cands) - 1] if theta_warm is not None else [])}:
            th2 = theta_local(inst, l, cands[start])
            J2 = float(expected_delay(inst, th2, l)[0])
            if J2 < J - 1e-12 * abs(J):
                th, J = th2, J2
    return th, J


# =========================================================================== Algorithm 2 (ALM)
@dataclass
class ALMResult:
    theta: np.ndarray
    l: np.ndarray
    theta_relaxed: np.ndarray
    l_relaxed: np.ndarray
    J: float
    history: pd.DataFrame
    recovery: pd.DataFrame = field(default_factory=pd.DataFrame)


def alm(inst: SFTInstance, *, mu0: float = 10.0, growth: float = 10.0, mu_max: float = 1e6, eps_feas: float = 1e-4,
        eps_rel: float = 1e-4, max_outer: int = 50, fixed_theta: np.ndarray | None = None,
        polish: bool | None = None, pair_moves_max: int = 6) -> ALMResult:
    """Algorithm 2 (LargeTimescaleALM): PHR augmented Lagrangian on the relaxed P1, then the
    integer recovery of step 6 (floor, re-optimised theta*(l), greedy +-1 search on l).

    Constraints (normalised, step 2): c_n^mem = (M_n(l_n) - M_n^max) / M_n^max, c^acc =
    (theta_req - sum_n w~_n theta_n) / theta_req. Box: theta_lb <= theta <= 1, 1 <= l <= L-1.
    Inner solver: L-BFGS-B with the envelope-theorem gradient of J. ``fixed_theta`` holds theta
    (no-compression baseline). With ``split="common"`` l is one variable.
    """
    N, L = inst.N, inst.L
    common = inst.p("split") == "common"
    lb = inst.theta_lb
    fix = fixed_theta is not None
    polish = (N <= 12) if polish is None else polish

    def unpack(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        th = np.asarray(fixed_theta, float) if fix else v[:N]
        ll = v[-1:] if common else v[-N:]
        return th, np.broadcast_to(ll, (N,)).astype(float)

    theta0 = np.ones(N) if not fix else np.asarray(fixed_theta, float)
    l0 = np.minimum(inst.l_cap, L // 2).astype(float)
    v = np.concatenate([[] if fix else theta0, [l0.min()] if common else l0])
    nv = v.size
    J0 = max(float(expected_delay(inst, *unpack(v))[0]), 1e-9)
    has_acc = inst.theta_req > 0 and not fix
    m_i = N + (1 if has_acc else 0)
    lam = np.zeros(m_i)
    mu = mu0
    wt_fn = lambda ll: accuracy_weights(inst, ll)  # noqa: E731

    def constraints(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        th, ll = unpack(v)
        c = list((memory_bytes(inst, ll) - inst.M_max_bytes) / inst.M_max_bytes)
        G = np.zeros((m_i, nv))
        for n in range(N):
            G[n, nv - 1 if common else nv - N + n] = inst.m_block_bytes / inst.M_max_bytes[n]
        if has_acc:
            wt = wt_fn(ll)
            c.append((inst.theta_req - wt @ th) / inst.theta_req)
            G[N, :N] = -wt / inst.theta_req
            if inst.p("accuracy") == "depth":
                eta = inst.p("depth_eta")
                dl = -inst.w * th * eta / inst.L / (1 + eta) / inst.theta_req
                if common:
                    G[N, -1] = dl.sum()
                else:
                    G[N, -N:] = dl
        return np.array(c), G

    def lagr(v: np.ndarray, lam: np.ndarray, mu: float) -> tuple[float, np.ndarray]:
        th, ll = unpack(v)
        J, gth, gl = delay_and_grad(inst, th, ll)
        grad = np.concatenate([[] if fix else gth, [gl.sum()] if common else gl]) / J0
        c, G = constraints(v)
        m = np.maximum(0.0, lam + mu * c)
        val = J / J0 + (np.sum(m ** 2) - np.sum(lam ** 2)) / (2 * mu)
        return val, grad + G.T @ m

    bounds = ([] if fix else list(zip(lb, np.ones(N)))) + [(1.0, L - 1.0)] * (1 if common else N)
    rows = []
    viol_prev = math.inf
    J_prev = J0
    for k in range(max_outer):
        res = minimize(lagr, v, args=(lam, mu), jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": 300, "gtol": 1e-8, "ftol": 1e-11})
        v = res.x
        c, _ = constraints(v)
        viol = float(np.max(np.abs(np.maximum(c, -lam / mu)))) if m_i else 0.0
        lam = np.maximum(0.0, lam + mu * c)
        J = float(expected_delay(inst, *unpack(v))[0])
        rows.append({"outer": k, "J_s": J, "violation": viol, "max_constraint": float(c.max()) if m_i else 0.0,
                     "mu": mu, "inner_iterations": int(res.nit)})
        if viol > 0.25 * viol_prev:
            mu = min(growth * mu, mu_max)
        viol_prev = viol
        if viol <= eps_feas and abs(J - J_prev) <= eps_rel * abs(J_prev):
            break
        J_prev = J
    th_rel, l_rel = unpack(v)

    # ---- step 6: integer recovery
    cap = inst.l_cap.astype(float)
    l_int = np.clip(np.minimum(np.floor(l_rel + 1e-9), cap), 1, None)
    if fix:
        th = np.asarray(fixed_theta, float)
        J = float(expected_delay(inst, th, l_int)[0])
        rescore = lambda ll, th_w: (th, float(expected_delay(inst, th, ll)[0]))  # noqa: E731
    else:
        rescore = lambda ll, th_w: theta_star(inst, ll, th_w, polish=polish, exhaustive=N <= 6)  # noqa: E731
        th, J = rescore(l_int, np.clip(th_rel, lb, 1))
    rec = [{"step": 0, "move": "floor", "blocks": l_int.astype(int).tolist(), "J_s": J}]
    moves = [np.full(N, s) for s in (1, -1)] if common else \
        [s * np.eye(N)[n] for n in range(N) for s in (1, -1)]
    # pair moves (two devices at once) are tried when no single move improves, for N <= pair_moves_max
    pairs = [] if common or N > pair_moves_max else \
        [s1 * np.eye(N)[i] + s2 * np.eye(N)[j] for i in range(N) for j in range(i + 1, N)
         for s1 in (1, -1) for s2 in (1, -1)]

    def local_search(l_int, th, J, tag):
        while True:
            best = None
            for group in (moves, pairs):
                for mv in group:
                    l2 = l_int + mv
                    if (l2 < 1).any() or (l2 > cap).any():
                        continue
                    th2, J2 = rescore(l2, th)
                    if J2 < J - 1e-12 * abs(J) and (best is None or J2 < best[2]):
                        best = (l2, th2, J2)
                if best is not None:
                    break
            if best is None:
                return l_int, th, J
            l_int, th, J = best
            rec.append({"step": len(rec), "move": tag, "blocks": l_int.astype(int).tolist(), "J_s": J})

    l_int, th, J = local_search(l_int, th, J, "+-1")
    # step 6b (our addition): for the recovered theta, J is convex in the relaxed l (Claim 8); solve
    # that relaxation, score the floor/ceil box of its solution (N <= 10; rounding above) and restart
    # the +-1 search from an improvement. Alternates at most 3 times.
    for _ in range(3):
        if fix or common:
            break
        res_l = minimize(lambda ll: (lambda J_, g_, gl_: (J_ / J0, gl_ / J0))(*delay_and_grad(inst, th, ll)),
                         l_int.astype(float), jac=True, method="L-BFGS-B", bounds=list(zip(np.ones(N), cap)))
        lc = res_l.x
        if N <= 10:
            box = np.array(list(itertools.product(*[sorted({np.floor(v), np.ceil(v)}) for v in lc])))
        else:
            box = np.round(lc)[None, :]
        box = np.clip(box, 1, cap)
        Jb = expected_delay(inst, np.broadcast_to(th, box.shape), box)
        lb_ = box[int(np.argmin(Jb))]
        th_b, J_b = rescore(lb_, th)
        if J_b >= J - 1e-12 * abs(J):
            break
        rec.append({"step": len(rec), "move": "relaxed-l", "blocks": lb_.astype(int).tolist(), "J_s": J_b})
        l_int, th, J = local_search(lb_, th_b, J_b, "+-1")
    return ALMResult(th, l_int.astype(int), th_rel, l_rel, J, pd.DataFrame(rows), pd.DataFrame(rec))


# =========================================================================== Algorithm 1 (two timescales)
def simulate_frame(inst: SFTInstance, theta: np.ndarray, l: np.ndarray, n_slots: int | None = None,
                   seed: int | None = None, solver: str = "sqp") -> pd.DataFrame:
    """Small timescale of Algorithm 1: per slot of the dynamic channel (``Scenario.snapshots``),
    observe g(t), allocate spectrum by SQP (Algorithm 3; ``solver="exact"`` uses :func:`p2_solve`),
    record the slot's delay D(t) of Eq. 13 and the allocation."""
    n_slots = inst.p("n_slots") if n_slots is None else n_slots
    tF, tB, tS, SU, SD = _phases(inst, theta, l)
    rm = inst.p("rate_model")
    rows = []
    for snap in inst.scenario.snapshots(n_slots, seed=inst.p("seed") + 104729 if seed is None else seed):
        g = snap.gain[:, 0]
        cU, cD = full_band_snr(inst, g)
        if solver == "sqp":
            z, x, _ = p2_sqp(tF, SU, cU, inst.B_U_hz, rm)
            w_, y, _ = p2_sqp(tB, SD, cD, inst.B_D_hz, rm)
        else:
            z, x, _ = p2_solve(tF, SU, cU, inst.B_U_hz, rm)
            w_, y, _ = p2_solve(tB, SD, cD, inst.B_D_hz, rm)
            z, w_ = float(z), float(w_)
        eq_z = float((tF + SU / rate_bps(1.0 / inst.N, cU, inst.B_U_hz, rm)).max())
        eq_w = float((tB + SD / rate_bps(1.0 / inst.N, cD, inst.B_D_hz, rm)).max())
        rows.append({"slot": snap.slot, "delay_s": z + tS + w_, "uplink_phase_s": z, "downlink_phase_s": w_,
                     "equal_spectrum_delay_s": eq_z + tS + eq_w, "x_min": float(np.min(x)),
                     "x_max": float(np.max(x))})
    return pd.DataFrame(rows)


def paper(inst: SFTInstance, *, solver: str | None = None, time_limit: float | None = None,
          mip_gap: float | None = None, n_slots: int | None = None) -> Plan:
    """Algorithm 1: large timescale (theta, l) by the ALM of Algorithm 2 with integer recovery,
    small timescale spectrum per slot by SQP (Algorithm 3) on a simulated frame of the dynamic
    channel. The objective is the expected total delay of :func:`evaluate` (optimal P2 per sample)."""
    t0 = time.perf_counter()
    res = alm(inst)
    t_large = time.perf_counter() - t0
    frame = simulate_frame(inst, res.theta, res.l, n_slots)
    sec = time.perf_counter() - t0
    return make_plan(inst, "paper", res.theta, res.l, seconds=sec,
                     extra_details={"alm": res.history, "integer_recovery": res.recovery, "frame": frame},
                     extra_metrics={"large_timescale_s": t_large,
                                    "frame_mean_delay_s": float(frame["delay_s"].mean()),
                                    "frame_equal_spectrum_delay_s": float(frame["equal_spectrum_delay_s"].mean()),
                                    "alm_outer_iterations": float(len(res.history))})


# =========================================================================== exact baselines
def block_allocations(inst: SFTInstance) -> np.ndarray:
    """Every l in prod_n {1..l_cap_n} (per-device) or {1..min cap} (common)."""
    if inst.p("split") == "common":
        return np.repeat(np.arange(1, int(inst.l_cap.min()) + 1)[:, None], inst.N, axis=1)
    return np.array(list(itertools.product(*[range(1, int(c) + 1) for c in inst.l_cap])), dtype=float)


def exact(inst: SFTInstance, *, solver: str | None = None, time_limit: float | None = None,
          mip_gap: float | None = None, max_pairs: int = 2_000_000, top: int = 3) -> Plan:
    """Exact small-N baseline: enumerate every block allocation l and every vertex of the theta
    face (Claim 11) in one vectorised pass, then polish theta locally (SLSQP) for the ``top`` best
    allocations. ``solver="scip"`` solves the global MINLP of :func:`build_minlp` instead."""
    if solver is not None and solver not in ("enumeration",):
        return exact_minlp(inst, solver=solver, time_limit=time_limit, mip_gap=mip_gap)
    t0 = time.perf_counter()
    Ls = block_allocations(inst)
    if inst.p("accuracy") == "depth":
        pairs = [(ll, th) for ll in Ls for th in theta_vertices(inst, ll)]
        Lc = np.array([p[0] for p in pairs])
        Tc = np.array([p[1] for p in pairs])
    else:
        V = theta_vertices(inst, Ls[0])
        Lc = np.repeat(Ls, len(V), axis=0)
        Tc = np.tile(V, (len(Ls), 1))
    if len(Lc) > max_pairs:
        raise ValidationError(f"exact enumeration needs {len(Lc)} (l, theta-vertex) pairs (> max_pairs = "
                              f"{max_pairs}); use fewer devices or --method paper", "n_devices")
    J = expected_delay(inst, Tc, Lc)
    order = np.argsort(J)
    best_th, best_l, best_J = Tc[order[0]], Lc[order[0]], float(J[order[0]])
    seen = set()
    for i in order[: 4 * top]:
        key = tuple(Lc[i])
        if key in seen:
            continue
        seen.add(key)
        if len(seen) > top:
            break
        if inst.theta_req > 0:
            th2 = theta_local(inst, Lc[i], Tc[i])
            J2 = float(expected_delay(inst, th2, Lc[i])[0])
            if J2 < best_J:
                best_th, best_l, best_J = th2, Lc[i], J2
    return make_plan(inst, "exact", best_th, best_l, seconds=time.perf_counter() - t0,
                     extra_metrics={"enumerated_pairs": float(len(Lc))})


def build_minlp(inst: SFTInstance, H: int | None = None, upper_bound_s: float | None = None):
    """P0 of spec §4.1 in its SAA form (P1 + per-sample P2) as an explicit Pyomo MINLP.

    Integer l_n, continuous theta_n, per-sample spectrum shares x_nh, y_nh, epigraph variables
    z_h, w_h (and za_h, wa_h of the aggregation slot); the delay constraints in the nonconvex
    product form S_n <= (z_h - t_n) R_nh(x_nh) (spec §5). Units: Mbit, MHz, s. The clipped Eq. 7 is
    modelled with a binary "dense mode" switch delta_n. Solve globally with SCIP.

    ``upper_bound_s``: the delay of any feasible decision (e.g. the paper algorithm's); it bounds
    z_h, w_h <= H J_ub / K_it and, through the smallest payloads, the shares from below. These
    bounds are valid for every solution at least as good as J_ub and let SCIP close the gap.
    """
    import pyomo.environ as pyo

    H = inst.H if H is None else min(H, inst.H)
    g = inst.gains[:H]
    cU, cD = full_band_snr(inst, g)
    rm = inst.p("rate_model")
    BU, BD = inst.B_U_hz / 1e6, inst.B_D_hz / 1e6
    E_M = inst.E / 1e6
    hdr = inst.hdr_bits / 1e6
    b, phi, kB = inst.b, inst.phi_F_flop, inst.kappa_B
    m = pyo.ConcreteModel(name="SFT-P0-SAA")
    m.N = pyo.Set(initialize=range(inst.N), doc="devices")
    m.H = pyo.Set(initialize=range(H), doc="channel samples (SAA)")
    common = inst.p("split") == "common"

    # ---- variables
    def l_bounds(m, n):
        return (1, int(inst.l_cap[n]))
    m.l = pyo.Var(m.N, domain=pyo.Integers, bounds=l_bounds, doc="blocks on device n (C5)")
    m.theta = pyo.Var(m.N, bounds=lambda m, n: (float(inst.theta_lb[n]), 1.0), doc="Top-K keep ratio (C6)")
    sU_max = inst.S0_bits / 1e6 * 2
    m.sU = pyo.Var(m.N, bounds=(0, sU_max), doc="uplink Mbit (Eq. 7)")
    m.x = pyo.Var(m.N, m.H, bounds=(1e-6, 1.0), doc="uplink band share (C3)")
    m.y = pyo.Var(m.N, m.H, bounds=(1e-6, 1.0), doc="downlink band share (C4)")
    zub = None if upper_bound_s is None else H * upper_bound_s / inst.p("K_it")
    m.z = pyo.Var(m.H, bounds=(0, zub), doc="uplink epigraph (P2-U)")
    m.w = pyo.Var(m.H, bounds=(0, zub), doc="downlink epigraph (P2-D)")
    if zub is not None:     # R(x) >= S_min / z_ub  ->  x >= x_min (valid below J_ub)
        smin_U = float(uplink_bits(inst, inst.theta_lb).min())
        smin_D = float(downlink_bits(inst, inst.theta_lb).min())
        xmin = band_for_rate(smin_U / zub, cU, inst.B_U_hz, rm)
        ymin = band_for_rate(smin_D / zub, cD, inst.B_D_hz, rm)
        for n in range(inst.N):
            for h in range(H):
                m.x[n, h].setlb(max(1e-6, 0.999 * float(xmin[h, n])))
                m.y[n, h].setlb(max(1e-6, 0.999 * float(ymin[h, n])))
    if common:
        m.l_common = pyo.Constraint(m.N, rule=lambda m, n: m.l[n] == m.l[0] if n > 0 else pyo.Constraint.Skip,
                                    doc="common split point (spec §10.1 flag)")

    # ---- expressions of Section 3
    def tF(m, n):
        return b * (inst.phi_emb_flop + m.l[n] * phi) / inst.f_flops[n]         # Eq. 2
    def tB(m, n):
        return b * kB * m.l[n] * phi / inst.f_flops[n]                          # Eq. 3
    def tS(m):
        return sum(b * (1 + kB) * ((inst.L - m.l[n]) * phi + inst.phi_head_flop) for n in m.N) / inst.F_s_flops  # Eq. 4

    def R(share, c, B):
        if rm == "fixed-snr":
            return share * B * math.log2(1 + c)
        return share * B * pyo.log(1 + c / share) / LN2                         # Eq. 5-6

    # ---- Eq. 7 (clipped) with a dense-mode switch; direct-rate: S = theta S0
    if inst.p("size_model") == "direct-rate":
        m.size = pyo.Constraint(m.N, rule=lambda m, n: m.sU[n] >= m.theta[n] * inst.S0_bits / 1e6)
        sD = lambda m, n: m.theta[n] * inst.S0_bits / 1e6  # noqa: E731
    else:
        q = inst.q
        m.delta = pyo.Var(m.N, domain=pyo.Binary, doc="1 = dense mode (no mask), clipped Eq. 7")
        eps = 1e-9

        def H2(th):
            return -(th * pyo.log(th) + (1 - th) * pyo.log(1 - th + eps)) / LN2
        m.size_sparse = pyo.Constraint(m.N, rule=lambda m, n: m.sU[n] >= E_M * (m.theta[n] * q + H2(m.theta[n]))
                                       + hdr - E_M * (q + 1) * m.delta[n], doc="Eq. 7, mask mode")
        m.size_dense = pyo.Constraint(m.N, rule=lambda m, n: m.sU[n] >= (E_M * q + hdr) * m.delta[n],
                                      doc="Eq. 7 clip, dense mode")
        hdrD = hdr if inst.q_g < inst.beta0 else 0.0
        sD = lambda m, n: m.theta[n] * E_M * inst.q_g + hdrD  # noqa: E731   Eq. 9

    # ---- delay epigraphs (Eq. 13 / P2 in product form)
    m.uplink = pyo.Constraint(m.N, m.H, rule=lambda m, n, h: m.sU[n] <= (m.z[h] - tF(m, n)) * R(m.x[n, h], cU[h, n], BU),
                              doc="Eq. 13: t^F_n + S^U_n / R^U_n <= z")
    m.downlink = pyo.Constraint(m.N, m.H, rule=lambda m, n, h: sD(m, n) <= (m.w[h] - tB(m, n)) * R(m.y[n, h], cD[h, n], BD),
                                doc="Eq. 13: S^D_n / R^D_n + t^B_n <= w")
    m.z_pos = pyo.Constraint(m.N, m.H, rule=lambda m, n, h: m.z[h] >= tF(m, n))
    m.w_pos = pyo.Constraint(m.N, m.H, rule=lambda m, n, h: m.w[h] >= tB(m, n))
    m.C3 = pyo.Constraint(m.H, rule=lambda m, h: sum(m.x[n, h] for n in m.N) <= 1, doc="C3 uplink spectrum")
    m.C4 = pyo.Constraint(m.H, rule=lambda m, h: sum(m.y[n, h] for n in m.N) <= 1, doc="C4 downlink spectrum")
    # ---- C1 memory (Eq. 11), C2 accuracy (Eq. 12)
    m.C1 = pyo.Constraint(m.N, rule=lambda m, n: inst.M_emb_bytes / 1e9 + m.l[n] * inst.m_block_bytes / 1e9
                          + inst.m_buf_bytes / 1e9 <= inst.M_max_bytes[n] / 1e9, doc="C1 memory, Eq. 11 (GB)")
    if inst.theta_req > 0:
        if inst.p("accuracy") == "depth":
            eta = inst.p("depth_eta")
            m.C2 = pyo.Constraint(expr=sum(inst.w[n] * (1 + eta * m.l[n] / inst.L) / (1 + eta) * m.theta[n]
                                           for n in m.N) >= inst.theta_req, doc="C2 accuracy (depth model)")
        else:
            m.C2 = pyo.Constraint(expr=sum(inst.w[n] * m.theta[n] for n in m.N) >= inst.theta_req,
                                  doc="C2 accuracy, Eq. 12 -> sum w theta >= theta_req")
    K = inst.p("K_it")
    obj = K * (sum(m.z[h] + m.w[h] for h in m.H) / H + tS(m))
    if inst.n_agg:
        m.xa = pyo.Var(m.N, m.H, bounds=(1e-6, 1.0))
        m.ya = pyo.Var(m.N, m.H, bounds=(1e-6, 1.0))
        aub = None if upper_bound_s is None else H * upper_bound_s / max(inst.n_agg, 1)
        m.za = pyo.Var(m.H, bounds=(0, aub))
        m.wa = pyo.Var(m.H, bounds=(0, aub))
        lb_M = inst.lora_bits_per_block / 1e6
        m.agg_up = pyo.Constraint(m.N, m.H, rule=lambda m, n, h: m.l[n] * lb_M <= m.za[h] * R(m.xa[n, h], cU[h, n], BU),
                                  doc="Eq. 14 uplink of the LoRA payload (Eq. 10)")
        m.agg_down = pyo.Constraint(m.N, m.H, rule=lambda m, n, h: m.l[n] * lb_M <= m.wa[h] * R(m.ya[n, h], cD[h, n], BD),
                                    doc="Eq. 14 downlink")
        m.agg_C3 = pyo.Constraint(m.H, rule=lambda m, h: sum(m.xa[n, h] for n in m.N) <= 1)
        m.agg_C4 = pyo.Constraint(m.H, rule=lambda m, h: sum(m.ya[n, h] for n in m.N) <= 1)
        obj = obj + inst.n_agg * sum(m.za[h] + m.wa[h] for h in m.H) / H
    m.obj = pyo.Objective(expr=obj, sense=pyo.minimize, doc="Eq. 15: expected total delay (SAA)")
    return m


def exact_minlp(inst: SFTInstance, *, solver: str | None = "scip", time_limit: float | None = None,
                mip_gap: float | None = None) -> Plan:
    """Global MINLP of :func:`build_minlp` (SCIP), re-evaluated with :func:`evaluate`.

    Without ``time_limit`` a limit of 120 s applies (reconstructed default: with the log-rate of
    Eq. 5 SCIP rarely closes the gap beyond N = 2; the incumbent then comes back as ``feasible``)."""
    time_limit = 120.0 if time_limit is None else time_limit
    t0 = time.perf_counter()
    ub = alm(inst).J * (1 + 1e-6)
    m = build_minlp(inst, upper_bound_s=ub)
    res = solve(m, solver=solver or "scip", time_limit=time_limit, mip_gap=mip_gap if mip_gap is not None else 1e-6)
    if res.status == "infeasible":
        raise InfeasibleError(f"MINLP of P0 is infeasible ({res.message})", "P0")
    if not res.ok:
        raise SloptError(f"MINLP of P0: solver {res.solver or solver} returned status {res.status} without an "
                         f"incumbent within {time_limit:g} s ({res.message}); use a smaller instance "
                         "(n_devices, H) or --method exact")
    th = np.array([m.theta[n].value for n in m.N])
    ll = np.array([round(m.l[n].value) for n in m.N])
    return make_plan(inst, "exact", np.clip(th, inst.theta_lb, 1), ll, seconds=time.perf_counter() - t0,
                     solve_result=res)


# =========================================================================== baselines (Section 8)
def baseline(inst: SFTInstance, name: str) -> Plan:
    """The Section 8 baselines, all through :func:`evaluate`:

    * ``sl``: vanilla split learning, sequential devices, raw activations, best common split;
    * ``sfl``: SplitFed, parallel devices with per-device server copies, raw, equal spectrum, best common split;
    * ``fl``: federated LoRA, whole model on every device (memory reported, usually violated);
    * ``cpsl``: cluster-based parallel SL, raw, C clusters of devices sorted by speed (C and a common
      split chosen best), Eq. 13 inside a cluster with the whole band, clusters in sequence;
    * ``no-compression``: the proposed split/spectrum with theta = 1 and raw fp32 activations;
    * ``topk-only`` / ``quant-only``: SFT with a single compression stage;
    * ``equal-spectrum``: (theta, l) optimised for x_n = y_n = 1/N every slot;
    * ``fixed-split``: l_n = min(floor(L/2), l_n^mem), theta and spectrum optimised.
    """
    t0 = time.perf_counter()
    N = inst.N
    ones = np.ones(N)
    if name in ("sl", "sfl"):
        best = None
        for lc in range(1, int(inst.l_cap.min()) + 1):
            obj, _, _ = evaluate(inst, ones, np.full(N, lc), scheme=name, spectrum="equal", compression="none")
            if best is None or obj < best[0]:
                best = (obj, lc)
        return make_plan(inst, name, ones, np.full(N, best[1]), time.perf_counter() - t0, scheme=name,
                         spectrum="equal", compression="none")
    if name == "fl":
        return make_plan(inst, name, ones, np.full(N, inst.L), time.perf_counter() - t0, scheme="fl",
                         compression="none")
    if name == "cpsl":        # C clusters of devices sorted by compute speed, best (C, common split)
        order = np.argsort(-inst.f_flops)
        best = None
        for C in range(1, N + 1):
            cl = np.empty(N, dtype=int)
            cl[order] = np.arange(N) * C // N
            for lc in range(1, int(inst.l_cap.min()) + 1):
                obj, _, _ = evaluate(inst, ones, np.full(N, lc), scheme="cpsl", compression="none", clusters=cl)
                if best is None or obj < best[0]:
                    best = (obj, lc, cl)
        plan = make_plan(inst, name, ones, np.full(N, best[1]), time.perf_counter() - t0, scheme="cpsl",
                         compression="none", clusters=best[2])
        plan.decision["clusters"] = best[2].tolist()
        return plan
    if name in ("no-compression", "quant-only"):
        comp = "none" if name == "no-compression" else "quant"
        sub = dataclasses.replace(inst, theta_lb=ones, theta_req=0.0)
        l = _best_blocks_fixed_theta(sub, comp)
        return make_plan(inst, name, ones, l, time.perf_counter() - t0, compression=comp)
    if name == "topk-only":
        l = alm(inst).l
        th, _ = _theta_star_scored(inst, l, lambda T, Lb: _score(inst, T, Lb, compression="topk"))
        return make_plan(inst, name, th, l, time.perf_counter() - t0, compression="topk")
    if name == "equal-spectrum":
        res = alm(inst)
        l = res.l.astype(float)
        score = lambda T, Lb: _score(inst, T, Lb, spectrum="equal")  # noqa: E731
        th, J = _theta_star_scored(inst, l, score)
        improved = True
        while improved:           # greedy +-1 block search under equal spectrum
            improved = False
            for n in range(N):
                for s in (1, -1):
                    l2 = l.copy()
                    l2[n] += s
                    if 1 <= l2[n] <= inst.l_cap[n]:
                        th2, J2 = _theta_star_scored(inst, l2, score)
                        if J2 < J - 1e-12 * J:
                            l, th, J, improved = l2, th2, J2, True
        return make_plan(inst, name, th, l, time.perf_counter() - t0, spectrum="equal")
    if name == "fixed-split":
        l = np.minimum(inst.L // 2, inst.l_cap).astype(float)
        if inst.p("split") == "common":
            l = np.full(N, l.min())
        th, _ = theta_star(inst, l, None, exhaustive=N <= 6)
        return make_plan(inst, name, th, l, time.perf_counter() - t0)
    raise ValidationError(f"unknown baseline {name!r}", "method")


def _score(inst: SFTInstance, T: np.ndarray, Lb: np.ndarray, **kw: Any) -> np.ndarray:
    return np.array([evaluate(inst, t, lb, **kw)[0] for t, lb in zip(T, Lb)])


def _theta_star_scored(inst: SFTInstance, l: np.ndarray, score) -> tuple[np.ndarray, float]:
    cands = theta_vertices(inst, l) if inst.N <= 6 else greedy_vertices(
        inst, l, [delay_and_grad(inst, inst.theta_lb, l)[1], -inst.gains.mean(0)])
    Js = score(cands, np.broadcast_to(l, cands.shape))
    i = int(np.argmin(Js))
    return cands[i], float(Js[i])


def _best_blocks_fixed_theta(inst: SFTInstance, compression: str) -> np.ndarray:
    """Greedy +-1 block search from the memory/half-depth start for fixed theta and a compression variant."""
    N = inst.N
    th = np.ones(N)
    l = np.minimum(inst.L // 2, inst.l_cap).astype(float)
    J = float(expected_delay(inst, th, l, compression=compression)[0])
    while True:
        cands = []
        for n in range(N):
            for s in (1, -1):
                l2 = l.copy()
                l2[n] += s
                if 1 <= l2[n] <= inst.l_cap[n]:
                    cands.append(l2)
        if inst.p("split") == "common":
            cands = [np.full(N, l[0] + s) for s in (1, -1) if 1 <= l[0] + s <= inst.l_cap.min()]
        if not cands:
            return l
        C = np.array(cands)
        Js = expected_delay(inst, np.ones_like(C), C, compression=compression)
        i = int(np.argmin(Js))
        if Js[i] >= J - 1e-12 * J:
            return l
        l, J = C[i], float(Js[i])


# =========================================================================== registration
def load(profile: str | None = None, scenario: str | None = None, **params: Any) -> SFTInstance:
    """Build an instance: ``profile`` = transformer preset (default ``vit-b16``); ``scenario`` = a
    scenario file / shipped name (default: the Section 7 random cell of ``seed`` and ``n_devices``);
    every parameter of :data:`DEFAULTS` as a keyword."""
    P = dict(params)
    if profile is not None:
        P["model"] = profile
    cell_keys = ("n_devices", "bandwidth_hz", "server_flops", "device_flops", "device_memory_bytes", "distance_m",
                 "h_min", "server_tx_power_w")
    if scenario is None:
        kw = {k: P.get(k, DEFAULTS[k]) for k in cell_keys}
        sc = section7_scenario(seed=check_int("seed", P.get("seed", 0), lo=0), **kw)
    else:
        from slopt.scenarios import read

        sc = read(scenario)
    return make_instance(sc, **P)


def random_instance(seed: int, n_devices: int | None = None, n_blocks: int | None = None, **params: Any) -> SFTInstance:
    """A small random instance of the gap study: 3-5 devices, 6-12 blocks, H = 8 channel samples,
    memory budgets giving caps of 2-5 blocks (reconstructed default for a cheap exact baseline)."""
    rng = np.random.default_rng(10_000 + seed)
    N = int(rng.integers(3, 6)) if n_devices is None else n_devices
    L = int(rng.integers(6, 13)) if n_blocks is None else n_blocks
    P = {"H": 8, "n_slots": 10, "device_memory_bytes": (0.4e9, 0.9e9), **params}
    return load(None, None, seed=seed, n_devices=N, n_blocks=L, **P)


def formulations(inst: SFTInstance) -> dict[str, Any]:
    """Builders for ``slopt compare``, in two families (compared within a family only):

    ``p0/minlp``: the Pyomo MINLP of P0 (SAA), whose optimum is the problem's optimum (SCIP);
    ``p2-uplink/cvxpy`` and ``p2-uplink/pyomo``: the small-timescale spectrum problem P2-U of
    the first channel sample at the paper's decision (convex; Clarabel, SCS, SCIP).
    """
    def p2_data() -> tuple[Any, ...]:
        plan = paper(inst)
        theta, l = np.asarray(plan.decision["theta"], float), np.asarray(plan.decision["blocks"], float)
        tF, _, _, SU, _ = _phases(inst, theta, l)
        cU, _ = full_band_snr(inst)
        return tF, SU, cU[0], inst.B_U_hz, inst.p("rate_model")

    return {"p0/minlp": lambda: build_minlp(inst),
            "p2-uplink/cvxpy": lambda: build_p2_cvxpy(*p2_data())[0],
            "p2-uplink/pyomo": lambda: build_p2_pyomo(*p2_data())}


def _method(name: str):
    def run(inst: SFTInstance, *, solver: str | None = None, time_limit: float | None = None,
            mip_gap: float | None = None) -> Plan:
        return baseline(inst, name)
    run.__name__ = name.replace("-", "_")
    return run


def demo_plot(out_dir: Path) -> Path:
    """Delay per scheme on the Section 7 cell (bar chart)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inst = load(None, None, n_devices=5, H=16, n_slots=5)
    plans = [paper(inst)] + [baseline(inst, b) for b in ("no-compression", "sl", "sfl")]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar([p.method for p in plans], [p.objective / 3600 for p in plans])
    ax.set_ylabel("fine-tuning delay, h")
    ax.set_title("SFT: delay per scheme (spec §7 cell, N = 5)")
    out = Path(out_dir) / "sft.png"
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _demo_exact(inst: SFTInstance, *, solver: str | None = None, time_limit: float | None = None,
                mip_gap: float | None = None) -> Plan:
    return exact(inst, solver=solver, time_limit=time_limit, mip_gap=mip_gap)


register(Problem(
    name="sft",
    summary="Split fine-tuning: keep ratio + block allocation (ALM) and spectrum (SQP), min delay (arXiv:2501.09237)",
    load=load,
    methods={"paper": paper, "exact": _demo_exact, "minlp": exact_minlp,
             **{b: _method(b) for b in ("sl", "sfl", "fl", "cpsl", "no-compression", "equal-spectrum", "fixed-split",
                                        "topk-only", "quant-only")}},
    demo_methods=("paper", "exact"),
    random_instance=random_instance,
    formulations=formulations,
    extra={"demo_plot": demo_plot},
))
