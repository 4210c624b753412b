"""GSFL system model (spec §3): cut figures, rates (§3.2), per-step latency and the round latency
(Eqs. 1-13), the baselines SL/FL/SplitFed/CPSL (Eqs. 16-20, GSFL-P Eq. 21) in :func:`evaluate`
(Alg. 2); the separable form (Eq. 15) and the optimal bandwidth split (Alg. 5, spec §4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from slopt.errors import InfeasibleError, ValidationError
from slopt.profiles import ModelGraph
from slopt.scenarios import shannon_rate_bps
from slopt.validate import as_float_array, check_array, check_int

from .instance import BISECTION_STEPS, BITS_PER_BYTE, SCHEMES, SHANNON_INNER_STEPS, SHANNON_TOL, Instance, _choice


# =====================================================================================
# 2. Model figures at a cut (spec §2)
# =====================================================================================
@dataclass(frozen=True)
class CutFigures:
    """Per-sample workload and sizes at cut c: layers 1..c on the client, c+1..L on the server."""

    c: int
    client_fwd_flop: float     # Φ^F_c
    client_bwd_flop: float     # Φ^B_c
    server_fwd_flop: float     # Ψ^F_c
    server_bwd_flop: float     # Ψ^B_c
    client_model_bits: float   # W_c
    server_model_bits: float   # W_S
    smashed_bits: float        # s_c (cut-layer activations per sample)
    gradient_bits: float       # cut-layer gradient per sample (= s_c unless the profile says otherwise)

    @property
    def model_bits(self) -> float:
        """W = W_c + W_S."""
        return self.client_model_bits + self.server_model_bits


def cut_figures(profile: ModelGraph, c: int) -> CutFigures:
    """Φ^F_c, Φ^B_c, Ψ^F_c, Ψ^B_c, W_c, W_S, s_c of a chain profile at cut ``c`` in 1..L-1."""
    L = profile.n
    c = check_int("cut", c)
    if not 1 <= c <= L - 1:
        raise ValidationError(f"cut = {c} is outside the profile {profile.name!r}: it must be in 1..{L - 1}",
                              "cut")
    o = profile.topological_order
    ff, fb = profile.forward_flop[o], profile.backward_flop[o]
    pb = profile.param_bytes[o]
    return CutFigures(
        c=c,
        client_fwd_flop=float(ff[:c].sum()), client_bwd_flop=float(fb[:c].sum()),
        server_fwd_flop=float(ff[c:].sum()), server_bwd_flop=float(fb[c:].sum()),
        client_model_bits=BITS_PER_BYTE * float(pb[:c].sum()),
        server_model_bits=BITS_PER_BYTE * float(pb[c:].sum()),
        smashed_bits=BITS_PER_BYTE * float(profile.activation_bytes[o][c - 1]),
        gradient_bits=BITS_PER_BYTE * float(profile.gradient_bytes[o][c - 1]),
    )


# =====================================================================================
# 3. Rates (spec §3.2)
# =====================================================================================
def uplink_rate_bps(inst: Instance, alpha: Any) -> np.ndarray:
    """r^U_n(α): fixed-SE α B^U η^U_n, or Shannon α B^U log2(1 + p_n g_n / (α B^U N_0)).

    ``alpha`` broadcasts against the client axis (last axis, length N).
    """
    a = np.asarray(alpha, dtype=float)
    if inst.rate_model == "fixed-se":
        return a * inst.uplink_bandwidth_hz * inst.eta_up
    return shannon_rate_bps(a * inst.uplink_bandwidth_hz, inst.client_power_w, inst.gain, inst.noise_psd_w_hz)


def downlink_rate_bps(inst: Instance, alpha: Any) -> np.ndarray:
    """r^D_n(α): fixed-SE α B^D η^D_n, or Shannon α B^D log2(1 + P_AP g_n / (α B^D N_0))."""
    a = np.asarray(alpha, dtype=float)
    if inst.rate_model == "fixed-se":
        return a * inst.downlink_bandwidth_hz * inst.eta_down
    return shannon_rate_bps(a * inst.downlink_bandwidth_hz, inst.ap_power_w, inst.gain, inst.noise_psd_w_hz)


def _div(bits: Any, rate: Any) -> np.ndarray:
    """bits / rate with 0 bits -> 0 s and a zero rate -> inf."""
    bits, rate = np.broadcast_arrays(np.asarray(bits, dtype=float), np.asarray(rate, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = bits / rate
    return np.where(bits == 0, 0.0, np.where(rate > 0, t, np.inf))


# =====================================================================================
# 4. Per-step latency (Eqs. 1-13), baselines (Eqs. 16-21): Alg. 2
# =====================================================================================
#: Components of the breakdown, in the order of one round.
COMPONENTS = ("distribution_s", "model_download_s", "client_forward_s", "upload_s", "server_s",
              "download_s", "client_backward_s", "model_upload_s", "aggregation_s")


@dataclass
class Latency:
    """Per-round latency of one scheme, its breakdown along the critical path, and tables.

    ``breakdown_s`` sums to ``round_s``: distribution, model download (relay or broadcast),
    client forward, smashed-data upload, server forward/backward, gradient download, client
    backward, model upload (relay), aggregation. ``flop`` holds the FLOP the evaluator charged
    (claim C7). ``clients``: one row per client; ``groups``: one row per group slot.
    """

    scheme: str
    round_s: float
    breakdown_s: dict[str, float]
    rounds: int
    cut: int | None
    flop: dict[str, float]
    clients: pd.DataFrame
    groups: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def total_s(self) -> float:
        """R · T_round (Eq. 14, static channels)."""
        return self.rounds * self.round_s

    @property
    def training_s(self) -> float:
        return self.round_s - self.breakdown_s["distribution_s"] - self.breakdown_s["aggregation_s"]


def _steps(inst: Instance, fig: CutFigures, alpha_data: np.ndarray, alpha_model_down: np.ndarray,
           alpha_model_up: np.ndarray, server_flops_n: np.ndarray) -> dict[str, np.ndarray]:
    """Per-client, per-turn step times: I_n × Eqs. 1-5 and the relay of Eq. 7.

    alpha_data: fraction for smashed data and gradients; alpha_model_*: for the client-side model.
    """
    I, b, f = inst.iterations, inst.batch, inst.client_flops
    return {
        "model_download_s": _div(fig.client_model_bits, downlink_rate_bps(inst, alpha_model_down)),  # Eq. 7
        "client_forward_s": I * b * fig.client_fwd_flop / f,                                          # Eq. 1
        "upload_s": I * _div(b * fig.smashed_bits, uplink_rate_bps(inst, alpha_data)),                # Eq. 2
        "server_s": I * b * (fig.server_fwd_flop + fig.server_bwd_flop) / server_flops_n,             # Eq. 3
        "download_s": I * _div(b * fig.gradient_bits, downlink_rate_bps(inst, alpha_data)),           # Eq. 4
        "client_backward_s": I * b * fig.client_bwd_flop / f,                                         # Eq. 5
        "model_upload_s": _div(fig.client_model_bits, uplink_rate_bps(inst, alpha_model_up)),         # Eq. 7
    }


_TURN = ("model_download_s", "client_forward_s", "upload_s", "server_s", "download_s", "client_backward_s",
         "model_upload_s")


def sync_s(inst: Instance, fig: CutFigures, k_nonempty: int) -> tuple[float, float]:
    """(T^dist, T^agg) of Eqs. 11-12: W_S/R_bh and (W_S + W_c)/R_bh when K >= 2, else 0.

    With ``shared_backhaul`` the K edge servers share one link (times K).
    """
    if k_nonempty < 2:
        return 0.0, 0.0
    mult = k_nonempty if inst.shared_backhaul else 1
    return (mult * fig.server_model_bits / inst.backhaul_bps,
            mult * (fig.server_model_bits + fig.client_model_bits) / inst.backhaul_bps)


def _check_assignment(inst: Instance, assignment: Any, slots: int | None = None) -> np.ndarray:
    slots = inst.M if slots is None else slots
    try:
        x = np.asarray(assignment)
    except Exception as exc:  # pragma: no cover
        raise ValidationError(f"assignment: cannot read ({exc})", "assignment") from exc
    if x.shape != (inst.N,):
        raise ValidationError(f"assignment: expected one group index per client ({inst.N}), got shape {x.shape}",
                              "assignment")
    if not np.issubdtype(x.dtype, np.integer):
        if not np.all(np.asarray(x, dtype=float) == np.round(np.asarray(x, dtype=float))):
            raise ValidationError("assignment: group indices must be integers", "assignment")
        x = x.astype(np.int64)
    bad = (x < 0) | (x >= slots)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError(f"assignment of client {inst.client_names[i]!r} is group {int(x[i])}; "
                              f"groups are 0..{slots - 1} (M = {slots} edge servers)", "assignment")
    return x.astype(np.int64)


def _check_alpha(inst: Instance, alpha: Any, x: np.ndarray, slots: int) -> np.ndarray:
    counts = np.bincount(x, minlength=slots)
    if alpha is None:
        K = int((counts > 0).sum())
        return np.where(counts > 0, 1.0 / K, 0.0) if inst.shared_band else np.ones(slots)
    a = as_float_array("alpha", alpha, slots)
    check_array("alpha", a, what="group")
    if inst.shared_band and a.sum() > 1 + 1e-9:
        raise InfeasibleError(f"alpha: the bandwidth fractions sum to {a.sum():.6g} > 1 (budget Σ_k α_k <= 1 "
                              f"exceeded by {a.sum() - 1:.3g})", "bandwidth budget", float(a.sum() - 1))
    if (a > 1 + 1e-12).any():
        k = int(np.flatnonzero(a > 1 + 1e-12)[0])
        raise ValidationError(f"alpha of group {k} is {a[k]!r}; a fraction must be <= 1", "alpha")
    return a


def evaluate(inst: Instance, cut: int | None = None, assignment: Any = None, alpha: Any = None, *,
             scheme: str = "gsfl", relay: str = "per-turn", sync: bool = True,
             gamma: Any = None) -> Latency:
    """Alg. 2: the per-round latency of a scheme with its breakdown (spec §3.3-3.4).

    Parameters
    ----------
    inst : the instance (its ``intra_group``, ``rate_model``, ``shared_band`` readings apply)
    cut : cut layer c in 1..L-1 (default: ``inst.cut``); ignored by FL
    assignment : group slot 0..M-1 of each client (GSFL), or cluster of each client (CPSL);
        default for CPSL: round-robin over M clusters. Not used by SL, FL, SplitFed.
    alpha : bandwidth fraction α_k of each of the M group slots (GSFL); default α_k = 1/K on the
        K non-empty groups (or 1 without a shared band)
    scheme : ``"gsfl"`` (Eqs. 1-13; Eq. 21 if ``inst.intra_group == "parallel"``), ``"sl"``
        (Eq. 16), ``"fl"`` (Eq. 18), ``"splitfed"`` (Eq. 19), ``"cpsl"`` (Eq. 20)
    relay : GSFL only: ``"per-turn"`` (each client downloads W_c at its turn, Eq. 7) or
        ``"broadcast"`` (that download dropped; max_n W_c / r^D_n(1) charged once before training,
        the alignment of claim C2)
    sync : GSFL only: charge T^dist and T^agg (Eqs. 11-12); False for the C2 alignment
    gamma : FDMA fraction γ_n of each client in FL / SplitFed (default 1/N) and CPSL (default
        1/|cluster|)
    """
    scheme = _choice("scheme", scheme, SCHEMES)
    relay = _choice("relay", relay, ("per-turn", "broadcast"))
    N = inst.N
    if scheme == "fl":
        return _evaluate_fl(inst, gamma)
    c = inst.cut if cut is None else cut
    if c is None:
        raise ValidationError("cut: give the cut layer c (the instance has none fixed)", "cut")
    fig = cut_figures(inst.profile, c)
    I, b = inst.iterations, inst.batch
    flop = {"client_flop": float(np.sum(I * b * (fig.client_fwd_flop + fig.client_bwd_flop))),
            "server_flop": float(np.sum(I * b * (fig.server_fwd_flop + fig.server_bwd_flop)))}
    ones = np.ones(N)
    if scheme == "sl":                                                                      # Eq. 16
        st = _steps(inst, fig, ones, ones, ones, np.full(N, inst.server_flops))
        br = {k: float(st[k].sum()) for k in _TURN}
        br.update(distribution_s=0.0, aggregation_s=0.0)
        clients = pd.DataFrame({"client": inst.client_names, **st, "turn_s": sum(st[k] for k in _TURN)})
        return _latency("sl", br, inst, c, flop, clients)
    if scheme == "splitfed":                                                                # Eq. 19
        g = _gamma(inst, gamma, np.zeros(N, dtype=np.int64))
        st = _steps(inst, fig, g, ones, g, np.full(N, inst.server_flops / N))
        bcast = st["model_download_s"].max()
        st["model_download_s"] = np.zeros(N)
        turn = sum(st[k] for k in _TURN)
        n = int(np.argmax(turn))
        br = {k: float(st[k][n]) for k in _TURN}
        br.update(model_download_s=float(bcast), distribution_s=0.0, aggregation_s=0.0)
        clients = pd.DataFrame({"client": inst.client_names, **st, "turn_s": turn})
        return _latency("splitfed", br, inst, c, flop, clients)
    if scheme == "cpsl":                                                                    # Eq. 20
        x = (np.arange(N) % inst.M) if assignment is None else _check_assignment(inst, assignment)
        g = _gamma(inst, gamma, x)
        size = np.bincount(x, minlength=inst.M)[x]
        st = _steps(inst, fig, g, ones, g, inst.server_flops / size)
        bcast_n = st["model_download_s"].copy()
        st["model_download_s"] = np.zeros(N)
        turn = sum(st[k] for k in _TURN)
        br = dict.fromkeys(COMPONENTS, 0.0)
        rows = []
        for j in np.unique(x):
            mem = np.flatnonzero(x == j)
            n = mem[np.argmax(turn[mem])]
            for k in _TURN:
                br[k] += float(st[k][n])
            br["model_download_s"] += float(bcast_n[mem].max())
            rows.append({"group": int(j), "clients": len(mem), "time_s": float(bcast_n[mem].max() + turn[n])})
        clients = pd.DataFrame({"client": inst.client_names, "group": x, **st, "turn_s": turn})
        return _latency("cpsl", br, inst, c, flop, clients, pd.DataFrame(rows))
    # GSFL (Eqs. 1-13, or Eq. 21 with intra_group = "parallel")
    x = _check_assignment(inst, assignment if assignment is not None else np.zeros(N, dtype=np.int64))
    counts = np.bincount(x, minlength=inst.M)
    a = _check_alpha(inst, alpha, x, inst.M)
    empty_alpha = (a[x] <= 0)
    if empty_alpha.any():
        k = int(x[np.flatnonzero(empty_alpha)[0]])
        raise InfeasibleError(f"alpha of non-empty group {k} is 0: its clients cannot transmit "
                              f"(bandwidth shortfall {a[k]!r})", "bandwidth of group", 0.0)
    ak = a[x]
    if inst.intra_group == "sequential":
        st = _steps(inst, fig, ak, ak, ak, inst.edge_flops[x])
    else:
        sz = counts[x]
        st = _steps(inst, fig, ak / sz, ak, ak / sz, inst.edge_flops[x] / sz)
    if relay == "broadcast":
        bcast = float(_div(fig.client_model_bits, downlink_rate_bps(inst, ones)).max())
        st["model_download_s"] = np.zeros(N)
    else:
        bcast = 0.0
    turn = sum(st[k] for k in _TURN)                                                        # Eq. 8
    K = int((counts > 0).sum())
    if inst.intra_group == "sequential":
        T_k = np.bincount(x, weights=turn, minlength=inst.M)                                # Eq. 9
    else:
        T_k = np.zeros(inst.M)
        np.maximum.at(T_k, x, turn)                                                         # Eq. 21
    k_star = int(np.argmax(np.where(counts > 0, T_k, -np.inf)))                             # Eq. 10
    mem = np.flatnonzero(x == k_star)
    if inst.intra_group == "parallel":
        mem = mem[[int(np.argmax(turn[mem]))]]
    br = {k: float(st[k][mem].sum()) for k in _TURN}
    br["model_download_s"] += bcast
    t_dist, t_agg = sync_s(inst, fig, K) if sync else (0.0, 0.0)                            # Eqs. 11-12
    br.update(distribution_s=t_dist, aggregation_s=t_agg)
    clients = pd.DataFrame({"client": inst.client_names, "group": x, **st, "turn_s": turn})
    groups = pd.DataFrame({"group": np.arange(inst.M), "clients": counts, "alpha": a,
                           "edge_flops": inst.edge_flops, "time_s": T_k, "critical": np.arange(inst.M) == k_star})
    return _latency("gsfl", br, inst, c, flop, clients, groups)


def _gamma(inst: Instance, gamma: Any, clusters: np.ndarray) -> np.ndarray:
    if gamma is None:
        size = np.bincount(clusters)[clusters]
        return 1.0 / size
    g = as_float_array("gamma", gamma, inst.N)
    check_array("gamma", g, what="client", allow_zero=False)
    for j in np.unique(clusters):
        s = g[clusters == j].sum()
        if s > 1 + 1e-9:
            raise InfeasibleError(f"gamma: the FDMA fractions sum to {s:.6g} > 1 (exceeded by {s - 1:.3g})",
                                  "bandwidth budget", float(s - 1))
    return g


def _evaluate_fl(inst: Instance, gamma: Any) -> Latency:
    """FL / FedAvg, Eqs. 17-18: broadcast download of W, local training, FDMA upload of W."""
    N = inst.N
    fig = cut_figures(inst.profile, inst.L - 1)
    W = fig.model_bits
    phi_f = fig.client_fwd_flop + fig.server_fwd_flop
    phi_b = fig.client_bwd_flop + fig.server_bwd_flop
    g = _gamma(inst, gamma, np.zeros(N, dtype=np.int64))
    I, b, f = inst.iterations, inst.batch, inst.client_flops
    st = {"model_download_s": _div(W, downlink_rate_bps(inst, np.ones(N))),
          "client_forward_s": I * b * phi_f / f, "client_backward_s": I * b * phi_b / f,      # Eq. 17
          "model_upload_s": _div(W, uplink_rate_bps(inst, g))}
    turn = sum(st.values())                                                                  # Eq. 18
    n = int(np.argmax(turn))
    br = dict.fromkeys(COMPONENTS, 0.0)
    br.update({k: float(v[n]) for k, v in st.items()})
    flop = {"client_flop": float(np.sum(I * b * (phi_f + phi_b))), "server_flop": 0.0}
    clients = pd.DataFrame({"client": inst.client_names, **st, "turn_s": turn})
    return _latency("fl", br, inst, None, flop, clients)


def _latency(scheme: str, br: dict[str, float], inst: Instance, c: int | None, flop: dict[str, float],
             clients: pd.DataFrame, groups: pd.DataFrame | None = None) -> Latency:
    br = {k: float(br.get(k, 0.0)) for k in COMPONENTS}
    return Latency(scheme, float(sum(br.values())), br, inst.rounds, c, flop, clients,
                   groups if groups is not None else pd.DataFrame())


# =====================================================================================
# 5. Separable form (Eq. 15) and the optimal bandwidth split (Alg. 5)
# =====================================================================================
def separable(inst: Instance, c: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, C) of Eq. 15 at cut c under the fixed-SE model, sequential groups.

    a[n, k] = I_n b (Φ^F_c + Φ^B_c)/f_n + I_n b (Ψ^F_c + Ψ^B_c)/F_k  (computation, s);
    C[n] = (I_n b s_c + W_c)/(B^U η^U_n) + (I_n b s^g_c + W_c)/(B^D η^D_n)  (communication at α = 1, s),
    so that T_k = Σ_n x_{n,k} a_{n,k} + (Σ_n x_{n,k} C_n)/α_k.
    """
    fig = cut_figures(inst.profile, c)
    I, b = inst.iterations, inst.batch
    a = (I * b * (fig.client_fwd_flop + fig.client_bwd_flop) / inst.client_flops)[:, None] \
        + (I * b * (fig.server_fwd_flop + fig.server_bwd_flop))[:, None] / inst.edge_flops[None, :]
    C = (I * b * fig.smashed_bits + fig.client_model_bits) / (inst.uplink_bandwidth_hz * inst.eta_up) \
        + (I * b * fig.gradient_bits + fig.client_model_bits) / (inst.downlink_bandwidth_hz * inst.eta_down)
    return a, C


def _bisect(need: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray,
            steps: int = BISECTION_STEPS, tol: float = 1e-15) -> np.ndarray:
    """Vectorised bisection for the smallest T in [lo, hi] with need(T) <= 1 (need decreasing)."""
    lo, hi = lo.astype(float).copy(), hi.astype(float).copy()
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        ok = need(mid) <= 1.0
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
        if np.all(hi - lo <= tol * np.maximum(np.abs(hi), 1e-300)):
            break
    return hi


def bandwidth_split(A: Any, C: Any, nonempty: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Alg. 5 (fixed-SE): the α minimising max_k (A_k + C_k/α_k) s.t. Σ_k α_k <= 1.

    Vectorised over leading axes: ``A``, ``C`` of shape (..., K); ``nonempty`` masks the groups
    that exist (default C_k > 0 or A_k > 0). T* solves Σ_k C_k/(T - A_k) = 1 on
    (max_k A_k, max_k A_k + Σ_k C_k]; α_k = C_k/(T* - A_k). Returns (T*, α).
    """
    A = np.asarray(A, dtype=float)
    C = np.asarray(C, dtype=float)
    mask = (A > 0) | (C > 0) if nonempty is None else np.asarray(nonempty, dtype=bool)
    A0 = np.where(mask, A, -np.inf)
    Amax = A0.max(axis=-1)
    Csum = np.where(mask, C, 0.0).sum(axis=-1)

    def need(T: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(mask & (C > 0), C / (T[..., None] - A), 0.0)
        r = np.where(mask & (C > 0) & (T[..., None] <= A), np.inf, r)
        return r.sum(axis=-1)

    T = _bisect(need, Amax, Amax + Csum)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(mask & (C > 0), C / (T[..., None] - A), 0.0)
    # groups without communication need no band; give them none (T >= A_k holds)
    return T, alpha


def _alpha_needed_shannon(inst: Instance, fig: CutFigures, x: np.ndarray, T: float) -> np.ndarray:
    """Shannon model: per group the smallest α_k in (0, 1] with T_k(α_k) <= T (inf if T_k(1) > T)."""
    counts = np.bincount(x, minlength=inst.M)
    ne = counts > 0

    def times(alpha: np.ndarray) -> np.ndarray:
        return _group_times(inst, fig, x, alpha)

    t1 = times(np.ones(inst.M))
    lo, hi = np.zeros(inst.M), np.ones(inst.M)
    for _ in range(SHANNON_INNER_STEPS):
        mid = 0.5 * (lo + hi)
        ok = times(np.where(ne, mid, 1.0)) <= T
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    return np.where(~ne, 0.0, np.where(t1 > T, np.inf, hi))


def _group_times(inst: Instance, fig: CutFigures, x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """T_k for every slot (Eq. 9 or Eq. 21) under the instance's rate model; empty slots 0."""
    counts = np.bincount(x, minlength=inst.M)
    ak = alpha[x]
    if inst.intra_group == "sequential":
        st = _steps(inst, fig, ak, ak, ak, inst.edge_flops[x])
        return np.bincount(x, weights=sum(st[k] for k in _TURN), minlength=inst.M)
    sz = counts[x]
    st = _steps(inst, fig, ak / sz, ak, ak / sz, inst.edge_flops[x] / sz)
    T = np.zeros(inst.M)
    np.maximum.at(T, x, sum(st[k] for k in _TURN))
    return T


def bandwidth_split_general(inst: Instance, c: int, assignment: Any) -> tuple[float, np.ndarray]:
    """Alg. 5 for any reading: fixed-SE sequential (closed form), fixed-SE parallel (Eq. 21,
    α_k(T) = max_n e_n/(T - d_n)) and Shannon (inner bisection per group). Returns (T*, α).

    Without a shared band every group keeps its own full band (α_k = 1).
    """
    x = _check_assignment(inst, assignment)
    fig = cut_figures(inst.profile, c)
    counts = np.bincount(x, minlength=inst.M)
    ne = counts > 0
    if not inst.shared_band:
        a = np.where(ne, 1.0, 0.0)
        return float(_group_times(inst, fig, x, np.ones(inst.M))[ne].max()), a
    if inst.rate_model == "fixed-se":
        T, a = _train_time_fixed_se(inst, c, x[None, :], return_alpha=True)
        return float(T[0]), a[0]
    K = int(ne.sum())
    lo = np.array([_group_times(inst, fig, x, np.ones(inst.M))[ne].max()])
    hi = np.array([_group_times(inst, fig, x, np.where(ne, 1.0 / K, 0.0))[ne].max()])
    T = _bisect(lambda t: np.array([_alpha_needed_shannon(inst, fig, x, float(t[0])).sum()]), lo, hi,
                BISECTION_STEPS, SHANNON_TOL)
    return float(T[0]), _alpha_needed_shannon(inst, fig, x, float(T[0]))


# ---------------------------------------------------------------- batched training time
def _onehot(X: np.ndarray, M: int) -> np.ndarray:
    """(B, N) group indices -> (B, N, M) 0/1."""
    return (X[..., None] == np.arange(M)).astype(float)


def _train_time_fixed_se(inst: Instance, c: int, X: np.ndarray, return_alpha: bool = False) -> Any:
    """T^train of a batch of assignments X (B, N) with the optimal α (fixed-SE model)."""
    a, C = separable(inst, c)
    H = _onehot(X, inst.M)                               # (B, N, M)
    counts = H.sum(axis=1)                               # (B, M)
    ne = counts > 0
    if inst.intra_group == "sequential":
        A_k = np.einsum("bnm,nm->bm", H, a)
        C_k = np.einsum("bnm,n->bm", H, C)
        if not inst.shared_band:
            T = np.where(ne, A_k + C_k, -np.inf).max(axis=1)
            return (T, ne.astype(float)) if return_alpha else T
        T, alpha = bandwidth_split(A_k, C_k, ne)
        return (T, alpha) if return_alpha else T
    # GSFL-P (Eq. 21) with fixed SE: T_k(α) = max_n [d_n + e_n/α], both depending on |G_k|
    fig = cut_figures(inst.profile, c)
    I, b = inst.iterations, inst.batch
    ru, rd = inst.uplink_bandwidth_hz * inst.eta_up, inst.downlink_bandwidth_hz * inst.eta_down
    sz = np.take_along_axis(counts, X, axis=1)          # (B, N) size of each client's group
    Fk = inst.edge_flops[X]
    d = I * b * (fig.client_fwd_flop + fig.client_bwd_flop) / inst.client_flops \
        + I * b * sz * (fig.server_fwd_flop + fig.server_bwd_flop) / Fk
    e = fig.client_model_bits / rd + sz * (I * b * fig.smashed_bits / ru + I * b * fig.gradient_bits / rd
                                           + fig.client_model_bits / ru)
    if not inst.shared_band:
        T = (d + e).max(axis=1)
        return (T, ne.astype(float)) if return_alpha else T

    def alpha_of(T: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(T[:, None] > d, e / (T[:, None] - d), np.inf)      # (B, N)
        return np.where(H > 0, r[..., None], 0.0).max(axis=1)               # (B, M)

    lo = d.max(axis=1)
    K = ne.sum(axis=1)
    hi = (d + e * K[:, None]).max(axis=1)
    T = _bisect(lambda t: alpha_of(t).sum(axis=1), lo, hi)
    return (T, alpha_of(T)) if return_alpha else T


def train_time_batch(inst: Instance, c: int, X: Any) -> np.ndarray:
    """T^train (Eq. 10) of a batch of assignments X (B, N) with the optimal bandwidth split.

    Fixed-SE: closed-form Alg. 5, vectorised over the batch. Shannon: Alg. 5 with the inner
    bisection, one assignment at a time.
    """
    X = np.atleast_2d(np.asarray(X, dtype=np.int64))
    if inst.rate_model == "fixed-se":
        return _train_time_fixed_se(inst, c, X)
    return np.array([bandwidth_split_general(inst, c, x)[0] for x in X])


def _round_batch(inst: Instance, c: int, X: np.ndarray, T_train: np.ndarray) -> np.ndarray:
    """T_round = T^dist + T^train + T^agg for a batch (sync terms by the number of groups used)."""
    fig = cut_figures(inst.profile, c)
    K = _onehot(X, inst.M).sum(axis=1).astype(bool).sum(axis=1)
    d2, g2 = sync_s(inst, fig, 2)
    mult = np.where(inst.shared_backhaul, K, 1)
    return T_train + np.where(K >= 2, mult * (d2 + g2), 0.0)


def _coeffs(a: Any, C: Any, M: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=float)
    a = np.repeat(a[:, None], M, axis=1) if a.ndim == 1 else a
    C = np.asarray(C, dtype=float)
    if a.shape != (C.shape[0], M):
        raise ValidationError(f"a must have shape (N,) or (N, M) = ({C.shape[0]}, {M}), got {a.shape}", "a")
    return a, C


def train_time_ac(a: Any, C: Any, X: Any, M: int) -> np.ndarray:
    """T^train = max_k (A_k + C_k/α_k) with the optimal α (Alg. 5) of a batch of assignments
    X (B, N) in 0..M-1, given the separable coefficients a (N,) or (N, M) and C (N,)."""
    a, C = _coeffs(a, C, M)
    H = _onehot(np.atleast_2d(np.asarray(X, dtype=np.int64)), M)
    return bandwidth_split(np.einsum("bnm,nm->bm", H, a), np.einsum("bnm,n->bm", H, C), H.sum(axis=1) > 0)[0]
