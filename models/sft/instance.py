"""SFT instance: the data, its defaults with their sources (spec Section 7), :func:`make_instance`
(validation at the door, closed-form caps of C1 and bounds of C2), :func:`load` and
:func:`random_instance`. The keys of :data:`DEFAULTS` are the parameters ``--set`` accepts."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from slopt.errors import InfeasibleError, ValidationError
from slopt.params import VOCABULARY as V
from slopt.params import Param, ParamTable, scenario_arg, transformer_config
from slopt.profiles.transformer import PRESETS
from slopt.scenarios import Channel, Scenario
from slopt.validate import check_array, check_int, check_scalar

__all__ = ["DEFAULTS", "SFTInstance", "define_backbone", "section7_scenario", "make_instance", "load",
           "random_instance"]

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


_S7 = "spec §7"
#: Every key ``load(**params)`` / ``slopt solve sft --set`` accepts (the keys of :data:`DEFAULTS`), with
#: its unit, range, default and source.
PARAMS: dict[str, Param] = {
    "model": Param("choice", "transformer backbone (a preset)", choices=tuple(sorted(PRESETS)),
                   default=DEFAULTS["model"], source="spec §7 (ViT-B/16)", nullable=False),
    "n_blocks": Param("int", "number of blocks L (None: the backbone's); at most 10^5", "", lo=2, hi=10**5),
    "n_classes": Param("int", "classes of the head", "", lo=1, hi=10**9, default=100,
                       source="spec §7 (CIFAR-100)", nullable=False),
    "batch": V["batch"].like(description="mini-batch b", default=16, source=_S7, nullable=False),
    "lora_rank": Param("int", "LoRA rank r (on query and value)", "", lo=1, default=8, source=_S7, nullable=False),
    "q": Param("int", "bits per kept value including the sign (Eq. 7a needs q >= 2)", "bit", lo=2, hi=64, default=4,
               source=_S7, nullable=False),
    "beta0": Param("int", "bits per raw activation element (fp32)", "bit", lo=1, hi=64, default=32, source=_S7,
                   nullable=False),
    "beta_w": Param("int", "bits per stored frozen weight", "bit", lo=1, hi=64, default=32, source=_S7,
                    nullable=False),
    "kappa_B": Param("float", "backward / forward FLOP ratio", "", lo=0, default=2.0, source="spec §3.2",
                     nullable=False),
    "theta_lo": Param("float", "lowest keep ratio (C6)", "", lo=0, lo_open=True, hi=1, default=0.01, source=_S7,
                      nullable=False),
    "A_ref": Param("float", "accuracy at full precision (Eq. 12)", "", lo=0, hi=1, default=0.90,
                   source="spec §3.6 (Eq. 12 placeholder)", nullable=False),
    "alpha": Param("float", "accuracy loss scale alpha (Eq. 12)", "", lo=0, default=0.30,
                   source="spec §3.6 (Eq. 12 placeholder)", nullable=False),
    "gamma": Param("float", "accuracy decay rate gamma (Eq. 12)", "", lo=0, default=20.0,
                   source="spec §3.6 (Eq. 12 placeholder)", nullable=False),
    "A_min": Param("float", "required accuracy (C2)", "", lo=0, hi=1, default=0.89,
                   source="spec §3.6 (Eq. 12 placeholder)", nullable=False),
    "depth_eta": Param("float", "depth weight eta of accuracy model (ii)", "", lo=0, default=0.5,
                       source="reconstructed default, spec §3.6 (ii)", nullable=False),
    "eps_max": Param("float", "variance bound of model (iii) (None: matches theta_req of Eq. 12)", "", lo=0, hi=1),
    "K_it": Param("int", "training iterations", "", lo=1, default=1000, source="reconstructed default, spec §3.7",
                  nullable=False),
    "I": Param("int", "LoRA aggregation period", "iterations", lo=1, default=50, source=_S7, nullable=False),
    "aggregation": Param("bool", "include the aggregation delay of Eq. 14-15", default=True, source=_S7,
                         nullable=False),
    "h_min": Param("float", "fading floor", "", lo=0, default=1e-2, source="spec §3.3", nullable=False),
    "H": Param("int", "SAA channel samples of P1 (spec: 50-200; 16 keeps the CLI exact method fast); at most 10^5",
               "", lo=1, hi=10**5, default=16, source="spec §5", nullable=False),
    "n_slots": Param("int", "slots of the simulated frame; at most 10^7", "", lo=1, hi=10**7, default=100,
                     source=_S7, nullable=False),
    "server_tx_power_w": V["server_tx_power_w"].like(default=2.0, source="spec §7 (33 dBm)", nullable=False),
    "seed": V["seed"].like(default=0, nullable=False),
    "n_devices": V["n_devices"].like(default=4, source="CLI default (spec §7 uses 10)", nullable=False),
    "bandwidth_hz": V["bandwidth_hz"].like(description="B^U = B^D", default=20e6, source=_S7, nullable=False),
    "server_flops": V["server_flops"].like(kind="float", description="server throughput F_s", default=10e12,
                                           source=_S7, nullable=False),
    "device_flops": V["device_flops"].like(kind="range", description="device throughput f_n, a [lo, hi] range drawn "
                                           "uniformly", default=[0.5e12, 2e12], source=_S7, nullable=False),
    "device_memory_bytes": V["device_memory_bytes"].like(kind="range", allow_inf=False, description="device memory "
                                                         "M_max, a [lo, hi] range drawn uniformly",
                                                         default=[0.4e9, 1.2e9], source=_S7, nullable=False),
    "distance_m": Param("range", "device distance, a [lo, hi] range drawn uniformly", "m", lo=0, lo_open=True,
                        default=[50.0, 500.0], source=_S7, nullable=False),
    "gains": Param("array", "explicit SAA channel gains, shape (H, N) (None: drawn)", ""),
}
for _k, _c in _CHOICES.items():
    PARAMS[_k] = Param("choice", f"reading of {_k} (spec §3, §10)", choices=_c, default=DEFAULTS[_k],
                       source="spec §3, §10", nullable=False)
TABLE = ParamTable("sft", PARAMS, label="SFT")


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
    from slopt.profiles.transformer import PRESETS, TransformerConfig, transformer

    cfg = model if isinstance(model, TransformerConfig) else PRESETS.get(model) if isinstance(model, str) else None
    if cfg is None:
        raise ValidationError(f"model {model!r} is not a transformer preset; choose one of {sorted(PRESETS)}",
                              "model")
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

    # compute times of Eq. 2-4 at the deepest split must be finite numbers of seconds
    phi = fig["phi_F_flop"]
    t_dev = b * ((1 + P["kappa_B"]) * L * phi + fig["phi_emb_flop"]) / f
    t_srv = b * (1 + P["kappa_B"]) * (L * phi + fig["phi_head_flop"]) * N / float(
        (sc.edges[0] if sc.edges else sc.servers[0]).compute_flops)
    if not (np.isfinite(t_dev).all() and math.isfinite(t_srv)):
        raise ValidationError(f"kappa_B = {P['kappa_B']!r} makes the compute times of Eq. 2-4 non-finite "
                              f"(device {float(np.max(t_dev)):.4g} s, server {t_srv:.4g} s)", "kappa_B")

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



def load(profile: Any = None, scenario: Any = None, **params: Any) -> SFTInstance:
    """Build an instance: ``profile`` = transformer preset (default ``vit-b16``); ``scenario`` = a
    scenario file / shipped name (default: the Section 7 random cell of ``seed`` and ``n_devices``);
    every parameter of :data:`DEFAULTS` as a keyword (:data:`PARAMS`). ``profile`` may also be a
    ModelGraph made by :func:`slopt.profiles.transformer.transformer` (its architecture is used) and
    ``scenario`` a :class:`Scenario`."""
    P = TABLE.check(params)
    if profile is not None:
        cfg = transformer_config(profile, "sft")
        P["model"] = TABLE.check({"model": cfg})["model"] if isinstance(cfg, str) else cfg
    cell_keys = ("n_devices", "bandwidth_hz", "server_flops", "device_flops", "device_memory_bytes", "distance_m",
                 "h_min", "server_tx_power_w")
    if scenario is None:
        kw = {k: P.get(k, DEFAULTS[k]) for k in cell_keys}
        sc = section7_scenario(seed=check_int("seed", P.get("seed", 0), lo=0), **kw)
    else:
        sc = scenario_arg(scenario)
    return make_instance(sc, **P)


def random_instance(seed: int, n_devices: int | None = None, n_blocks: int | None = None, **params: Any) -> SFTInstance:
    """A small random instance of the gap study: 3-5 devices, 6-12 blocks, H = 8 channel samples,
    memory budgets giving caps of 2-5 blocks (reconstructed default for a cheap exact baseline)."""
    rng = np.random.default_rng(10_000 + seed)
    N = int(rng.integers(3, 6)) if n_devices is None else n_devices
    L = int(rng.integers(6, 13)) if n_blocks is None else n_blocks
    P = {"H": 8, "n_slots": 10, "device_memory_bytes": (0.4e9, 0.9e9), **params}
    return load(None, None, seed=seed, n_devices=N, n_blocks=L, **P)

