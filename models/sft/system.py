"""The spec's system model (Section 3) and the exact small-timescale P2 (Section 4.2):
computation (Eq. 1-4), communication (Eq. 5-6), compression sizes (Eq. 7-10), memory (Eq. 11),
accuracy (Eq. 12), delay (Eq. 13-15); the exact P2 solvers (:func:`p2_bisection`, :func:`p2_solve`),
the SAA objective J of P1 (:func:`expected_delay`, :func:`delay_and_grad`), :func:`evaluate` and
:func:`make_plan` (a Plan whose objective is recomputed by :func:`evaluate`)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import lambertw

from slopt.compression import binary_entropy
from slopt.errors import ValidationError
from slopt.plan import Plan
from slopt.solvers.result import SolveResult

from .instance import SFTInstance

__all__ = ["LN2", "compute_times", "uplink_bits", "uplink_bits_grad", "downlink_bits", "downlink_bits_grad",
           "lora_bits", "memory_bytes", "accuracy_weights", "accuracy", "full_band_snr", "rate_bps", "rate_prime",
           "band_for_rate", "p2_bisection", "p2_solve", "expected_delay", "delay_and_grad", "evaluate",
           "make_plan"]

LN2 = math.log(2.0)


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
    if solve_result is not None and solve_result.status == "optimal" and not math.isfinite(obj):
        solve_result = dataclasses.replace(solve_result, status="error", termination="numerical_error",
                                           message=solve_result.message + "; objective not finite")
    metrics.update(extra_metrics or {})
    details.update(extra_details or {})
    return Plan(problem="sft", method=method, objective=obj,
                decision={"theta": np.asarray(theta, float).tolist(), "blocks": np.asarray(l).astype(int).tolist(),
                          "split": inst.p("split")},
                metrics=metrics, details=details, solve=solve_result, seconds=seconds)


