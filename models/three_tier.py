"""Three-tier split fine-tuning of an LLM with LoRA: user / edge / cloud (SplitLLM).

Spec: ``shared/papers/three-tier-llm-sl.md`` (S. Zhang et al., "SplitLLM: Hierarchical Split
Learning for Large Language Model over Wireless Network", arXiv:2501.13318). Every equation of
the spec is a reconstruction; this module implements it as written and exposes the spec's
alternative readings as instance parameters (see ``docs/three_tier.md``):

* ``cloud_adapter``: ``"per-stream"`` (default, one LoRA replica per stream at the cloud, Eq. 9
  with rho_T = E) or ``"shared"`` (one shared adapter, rho_T = 1) -- spec §9 item 2;
* ``sfl_weights``: ``"copies"`` (default, SplitFed keeps N full server-side copies, rho_W = N) or
  ``"shared"`` (rho_W = 1) -- spec §7 item 2, §9 item 3;
* ``activation_model``: ``"korthikanti"`` (default, Eq. 3 times gamma, Eq. 4, Eq. 5) or
  ``"profile"`` (the frozen-base/LoRA count of :func:`slopt.profiles.transformer.transformer`,
  which drops the inputs of frozen linear layers) -- spec §9 item 9;
* ``include_labels`` (Eq. 15 D_lab travels with the activations, §9 item 4), ``include_lora_flop``
  (Eq. 11 LoRA FLOP "may be included"), ``include_aggregation`` (Eq. 19; off = the "aggregation
  time neglected" special case of §4.3).

The module reads top to bottom like the spec: §3.3 layer figures and memory model, §3.4 delay
model, ``evaluate()``, §4.1 the fixed-cut MILP of P1 and the cut enumeration (``exact``), P2
(``memory_first``), §4.3 Algorithm B (``algorithm_b``), §4.4 brute force, §7 baselines, Eq. 21
aggregation, the measured memory check (torch), and the registration with the CLI.

Indices: layer index 0 is the embedding, 1..L the blocks, L+1 the head (final norm, LM head,
loss). Cut pair (l_u, l_e): the user runs 0..l_u, the edge l_u+1..l_e, the cloud l_e+1..L+1.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from slopt.errors import InfeasibleError, ValidationError
from slopt.plan import Plan
from slopt.problems import Problem, register
from slopt.profiles.transformer import PRESETS, TransformerConfig, transformer
from slopt.scenarios import Channel, Device, Link, Scenario, Server, rayleigh_power, shannon_rate_bps
from slopt.scenarios import read as read_scenario
from slopt.solvers import SolveResult, solve
from slopt.validate import as_float_array, check_array, check_int, check_nonneg, check_positive

__all__ = [
    "Instance", "LayerFigures", "layer_figures", "load", "random_instance", "spec6_instance",
    "node_memory", "memory_user", "memory_edge", "memory_cloud", "cut_pair_memory",
    "PairDelays", "pair_delays", "round_time", "evaluate", "feasible_cut_pairs",
    "build_fixed_cut", "solve_fixed_cut", "exact", "memory_first", "algorithm_b", "brute_force",
    "baseline_sl", "baseline_splitfed", "baseline_shared_server", "baseline_fed_lora", "baseline_edge_sfl",
    "edge_sfl_assignment",
    "baseline_memory", "memory_comparison", "aggregate_adapters", "measure_memory",
    "lower_bound", "cut_pair_table", "PROBLEM",
]

PROBLEM = "three-tier"
GIB = 2 ** 30
READINGS = {
    "cloud_adapter": ("per-stream", "shared"),
    "sfl_weights": ("copies", "shared"),
    "activation_model": ("korthikanti", "profile"),
}


# =============================================================================================
# §3.1 / §3.3 / §3.4 -- per-layer figures of the frozen model with LoRA
# =============================================================================================
@dataclass(frozen=True)
class LayerFigures:
    """Per-layer figures over index 0 (embedding), 1..L (blocks), L+1 (head).

    Attributes
    ----------
    param_count : frozen parameters P_l (Eq. 1a-1d; the head keeps its own V x h copy)
    lora_count : LoRA parameters P^lora_l (Eq. 2; none on embedding and head)
    act_bytes : activations saved for backward for one mini-batch of b sequences, A_l(b)
        (Eq. 3-5, or the profile reading), bytes
    fwd_flop : forward FLOP of one mini-batch F_l(b) (Eq. 11), FLOP
    head_tied_param_count : head parameters when the LM head is tied to the embedding and the
        embedding is on the same node (FedLoRA, §7 item 4): only the final norm
    """

    param_count: np.ndarray
    lora_count: np.ndarray
    act_bytes: np.ndarray
    fwd_flop: np.ndarray
    head_tied_param_count: float

    @property
    def n_blocks(self) -> int:
        return len(self.param_count) - 2


def _target_dims(cfg: TransformerConfig, target: str) -> tuple[int, int]:
    """(d_in, d_out) of a LoRA-adapted projection (Eq. 2)."""
    h, f, kv = cfg.hidden, cfg.ffn, cfg.kv_dim
    return {"q": (h, h), "k": (h, kv), "v": (h, kv), "o": (h, h), "up": (h, f), "gate": (h, f),
            "down": (f, h)}[target]


def layer_figures(cfg: TransformerConfig, seq_len: int, batch: int, lora_rank: int,
                  lora_targets: Sequence[str] = ("q", "v"), p_a: int = 2, gamma: float = 1.0,
                  activation_model: str = "korthikanti", include_lora_flop: bool = False) -> LayerFigures:
    """The spec's per-layer counts (Eqs. 1-5, 11) for a GPT-2 or LLaMA-style decoder.

    The architecture comes from :class:`slopt.profiles.transformer.TransformerConfig`; the counts
    are the spec's own formulas (Eq. 1a/1b blocks, 1c embedding, 1d head with its own V x h
    matrix, Eq. 2 LoRA, Eq. 3 Korthikanti activations in general form times gamma, Eq. 4 head
    activations, Eq. 5 embedding output, Eq. 11 FLOP). ``tests/test_three_tier.py`` checks
    them against :func:`slopt.profiles.transformer.transformer` where both count the same thing.
    With ``activation_model="profile"`` the block/head saved activations are the analytic
    profile's frozen-base (LoRA) count (spec §9 item 9: a refined profile replaces Eq. 3).
    """
    if cfg.kind not in ("gpt2", "llama"):
        raise ValidationError(f"model kind {cfg.kind!r}: the three-tier model needs a GPT-2 or "
                              "LLaMA-style decoder (an LM head and a vocabulary)", "model")
    h, a, f, V, L = cfg.hidden, cfg.heads, cfg.ffn, cfg.vocab, cfg.n_layers
    s, b, r = seq_len, batch, lora_rank
    gpt2 = cfg.kind == "gpt2"
    # Eq. 1a (GPT-2: LayerNorm, GELU MLP, biases) / Eq. 1b (LLaMA: RMSNorm, SwiGLU, no biases)
    p_blk = (4 * h * h + 4 * h) + (2 * h * f + f + h) + 4 * h if gpt2 else 4 * h * h + 3 * h * f + 2 * h
    p_emb = V * h + (cfg.n_ctx * h if gpt2 else 0)                    # Eq. 1c
    p_head = V * h + (2 * h if gpt2 else h)                           # Eq. 1d
    p_lora = sum(r * sum(_target_dims(cfg, t)) for t in lora_targets)  # Eq. 2
    # Eq. 3 (general form) -- Korthikanti et al. 2022, s b h (34 + 5 a s / h) at p_a = 2, f = 4h
    a_blk = gamma * b * s * (p_a * (8 * h + 2 * f) + 2 * h + a * s * (2 * p_a + 1))
    a_head = b * s * V * (p_a + 4)                                    # Eq. 4
    a_emb = p_a * b * s * h                                           # Eq. 5
    # Eq. 11: F_blk(b) = b s (8 h^2 + c_mlp h f + 4 s h); F_head = 2 b s h V; embedding 0
    c_mlp = 4 if gpt2 else 6
    f_blk = b * s * (8 * h * h + c_mlp * h * f + 4 * s * h)
    if include_lora_flop:
        f_blk += 2 * b * s * p_lora                                   # 4 b s q r h for square targets
    f_head = 2 * b * s * h * V
    params = np.array([p_emb] + [p_blk] * L + [p_head], dtype=float)
    lora = np.array([0.0] + [p_lora] * L + [0.0])
    act = np.array([a_emb] + [a_blk] * L + [a_head], dtype=float)
    if activation_model == "profile":
        g = transformer(cfg, s, dtype_bytes=p_a, lora_rank=r, lora_targets=tuple(lora_targets))
        act = np.asarray(g.extra["saved_activation_bytes"], dtype=float) * b
    elif activation_model != "korthikanti":
        raise ValidationError(f"activation_model = {activation_model!r}; choose one of "
                              f"{READINGS['activation_model']}", "activation_model")
    flop = np.array([0.0] + [f_blk] * L + [f_head])
    return LayerFigures(params, lora, act, flop, float(2 * h if gpt2 else h))


# =============================================================================================
# The instance (data wrangling only; the sanity check at the door is check_instance)
# =============================================================================================
@dataclass(frozen=True, eq=False)
class Instance:
    """One three-tier system: model, training set-up, N users, E edges, one cloud.

    Arrays: ``user_*`` shape (N,), ``edge_*`` shape (E,), ``gain`` shape (N, E) (g_{n,e}).
    Symbols of the spec in brackets.
    """

    cfg: TransformerConfig
    seq_len: int                       # s
    batch: int                         # b
    lora_rank: int                     # r
    lora_targets: tuple[str, ...]      # q = len(lora_targets)
    p_w: int                           # bytes per frozen weight
    p_a: int                           # bytes per activation element
    p_t: int                           # training-state bytes per LoRA parameter
    gamma: float                       # activation-saving factor
    beta: float                        # backward / forward FLOP ratio
    overhead_bytes: float              # M_0
    local_iterations: int              # K
    user_flops: np.ndarray             # f_n
    user_memory_bytes: np.ndarray      # M_n^max
    user_samples: np.ndarray           # D_n
    user_tx_power_w: np.ndarray        # P_n
    edge_flops: np.ndarray             # f_e
    edge_memory_bytes: np.ndarray      # M_e^max
    edge_up_bandwidth_hz: np.ndarray   # W_e (uplink)
    edge_down_bandwidth_hz: np.ndarray  # W_e (downlink)
    edge_tx_power_w: np.ndarray        # P_e
    cloud_flops: float                 # f_c
    cloud_memory_bytes: float          # M_c^max
    gain: np.ndarray                   # g_{n,e}
    noise_psd_w_hz: float              # N_0
    backhaul_up_bps: np.ndarray        # R_{e,c}
    backhaul_down_bps: np.ndarray      # R_{c,e}
    l_min: int = 1                     # C1 privacy floor
    cuts: tuple[int, int] | None = None  # fixed (l_u, l_e), or None to optimise
    l_c: int | None = None             # baselines' single cut (default: min(4, L - 1))
    t_max_s: float = math.inf          # P2 delay limit T^max
    cloud_adapter: str = "per-stream"
    sfl_weights: str = "copies"
    activation_model: str = "korthikanti"
    include_labels: bool = True
    include_lora_flop: bool = False
    include_aggregation: bool = True
    user_names: tuple[str, ...] = ()
    edge_names: tuple[str, ...] = ()
    name: str = ""

    @property
    def N(self) -> int:
        return len(self.user_flops)

    @property
    def E(self) -> int:
        return len(self.edge_flops)

    @property
    def L(self) -> int:
        return self.cfg.n_layers

    @property
    def T_ep(self) -> int:
        """Rounds per epoch, ceil(N / E)."""
        return -(-self.N // self.E)

    @property
    def round_sizes(self) -> list[int]:
        """E_t of every round: E in the full rounds, N - (T_ep - 1) E in the last (C3)."""
        return [self.E] * (self.T_ep - 1) + [self.N - (self.T_ep - 1) * self.E]

    @property
    def baseline_cut(self) -> int:
        return self.l_c if self.l_c is not None else min(4, self.L - 1)

    @functools.cached_property
    def fig(self) -> LayerFigures:
        return layer_figures(self.cfg, self.seq_len, self.batch, self.lora_rank, self.lora_targets,
                             self.p_a, self.gamma, self.activation_model, self.include_lora_flop)

    @functools.cached_property
    def rate_up_bps(self) -> np.ndarray:
        """Eq. 14 uplink R^up_{n,e} = W_e log2(1 + P_n g_{n,e} / (N_0 W_e)), shape (N, E)."""
        return shannon_rate_bps(self.edge_up_bandwidth_hz[None, :], self.user_tx_power_w[:, None],
                                self.gain, self.noise_psd_w_hz)

    @functools.cached_property
    def rate_down_bps(self) -> np.ndarray:
        """Eq. 14 downlink R^dn_{e,n} = W_e log2(1 + P_e g_{n,e} / (N_0 W_e)), shape (N, E)."""
        return shannon_rate_bps(self.edge_down_bandwidth_hz[None, :], self.edge_tx_power_w[None, :],
                                self.gain, self.noise_psd_w_hz)

    def with_(self, **changes: Any) -> "Instance":
        """A copy with fields replaced, re-checked at the door."""
        return check_instance(replace(self, **changes))


def check_instance(inst: Instance) -> Instance:
    """Sanity check at the door: shapes, signs, readings, E <= N, the fixed cut pair in range."""
    N, E = len(inst.user_flops), len(inst.edge_flops)
    if N < 1:
        raise ValidationError("n_users = 0: at least one user is needed", "n_users")
    if E < 1:
        raise ValidationError("n_edges = 0: at least one edge server is needed", "n_edges")
    if E > N:
        raise ValidationError(f"n_edges = {E} exceeds n_users = {N}: every edge server trains one "
                              "user per round (spec §3.2, C3), so E <= N is required", "n_edges")
    if inst.cfg.n_layers < 2:
        raise ValidationError(f"n_layers = {inst.cfg.n_layers}: two cuts 1 <= l_u < l_e <= L need L >= 2",
                              "n_layers")
    un = inst.user_names or tuple(f"u{i}" for i in range(N))
    en = inst.edge_names or tuple(f"e{j}" for j in range(E))
    for fld, arr, names, what, zero in (
            ("user_flops", inst.user_flops, un, "user", False),
            ("user_memory_bytes", inst.user_memory_bytes, un, "user", False),
            ("user_samples", inst.user_samples, un, "user", True),
            ("user_tx_power_w", inst.user_tx_power_w, un, "user", False),
            ("edge_flops", inst.edge_flops, en, "edge", False),
            ("edge_memory_bytes", inst.edge_memory_bytes, en, "edge", False),
            ("edge_up_bandwidth_hz", inst.edge_up_bandwidth_hz, en, "edge", False),
            ("edge_down_bandwidth_hz", inst.edge_down_bandwidth_hz, en, "edge", False),
            ("edge_tx_power_w", inst.edge_tx_power_w, en, "edge", False),
            ("backhaul_up_bps", inst.backhaul_up_bps, en, "edge", False),
            ("backhaul_down_bps", inst.backhaul_down_bps, en, "edge", False)):
        n_exp = N if what == "user" else E
        a = np.asarray(arr, dtype=float)
        if a.shape != (n_exp,):
            raise ValidationError(f"{fld}: expected {n_exp} values, got shape {a.shape}", fld)
        mem = "memory" in fld
        if mem:
            a = np.where(np.isinf(a) & (a > 0), 1.0, a)   # inf = unconstrained
        check_array(fld, a, names, what=what, allow_zero=zero)
    g = np.asarray(inst.gain, dtype=float)
    if g.shape != (N, E):
        raise ValidationError(f"gain: expected shape ({N}, {E}), got {g.shape}", "gain")
    check_array("gain", g.ravel(), what="user-edge pair", allow_zero=False)
    check_positive("cloud_flops", inst.cloud_flops, "FLOP/s")
    if not (inst.cloud_memory_bytes == math.inf):
        check_positive("cloud_memory_bytes", inst.cloud_memory_bytes, "bytes")
    check_positive("noise_psd_w_hz", inst.noise_psd_w_hz, "W/Hz")
    for fld in ("seq_len", "batch", "lora_rank", "p_w", "p_a", "p_t", "local_iterations"):
        check_int(fld, getattr(inst, fld), lo=0 if fld == "p_t" else 1)
    if inst.cfg.kind == "gpt2" and inst.seq_len > inst.cfg.n_ctx:
        raise ValidationError(f"seq_len = {inst.seq_len} exceeds the positional table n_ctx = "
                              f"{inst.cfg.n_ctx}", "seq_len")
    check_positive("gamma", inst.gamma)
    check_nonneg("beta", inst.beta)
    check_nonneg("overhead_bytes", inst.overhead_bytes, "bytes")
    if not inst.lora_targets:
        raise ValidationError("lora_targets is empty: at least one adapted projection is needed",
                              "lora_targets")
    allowed = ("q", "k", "v", "o", "up", "down") + (("gate",) if inst.cfg.kind == "llama" else ())
    for t in inst.lora_targets:
        if t not in allowed:
            raise ValidationError(f"lora_targets: {t!r} is not a projection of a {inst.cfg.kind} block; "
                                  f"choose among {allowed}", "lora_targets")
    for fld, options in READINGS.items():
        if getattr(inst, fld) not in options:
            raise ValidationError(f"{fld} = {getattr(inst, fld)!r}; choose one of {options}", fld)
    L = inst.cfg.n_layers
    check_int("l_min", inst.l_min, lo=1, hi=L - 1)
    if inst.cuts is not None:
        check_cut_pair(inst, *inst.cuts)
    if inst.l_c is not None:
        lc = check_int("l_c", inst.l_c, lo=0, hi=L + 1)
        if not 1 <= lc <= L:
            raise ValidationError(f"l_c = {lc} is out of range: the baselines' cut must satisfy "
                                  f"1 <= l_c <= L = {L}", "l_c")
    if not inst.t_max_s > 0:
        raise ValidationError(f"t_max_s = {inst.t_max_s!r} s; it must be positive", "t_max_s")
    if not inst.user_names:
        object.__setattr__(inst, "user_names", un)
    if not inst.edge_names:
        object.__setattr__(inst, "edge_names", en)
    return inst


def check_cut_pair(inst: Instance, l_u: Any, l_e: Any) -> tuple[int, int]:
    """C1: 1 <= l_min <= l_u < l_e <= L, with a clear error naming the bad cut."""
    L = inst.L
    try:
        lu, le = int(l_u), int(l_e)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"cut pair ({l_u!r}, {l_e!r}) must be two integers", "cuts") from exc
    if not 1 <= lu <= L - 1:
        raise ValidationError(f"l_u = {lu} is out of range: C1 needs {max(1, inst.l_min)} <= l_u <= "
                              f"L - 1 = {L - 1}", "l_u")
    if lu < inst.l_min:
        raise ValidationError(f"l_u = {lu} < l_min = {inst.l_min} (C1 privacy floor)", "l_u")
    if not lu < le <= L:
        raise ValidationError(f"l_e = {le} is out of range: C1 needs l_u = {lu} < l_e <= L = {L}", "l_e")
    return lu, le


# =============================================================================================
# §3.3 -- memory model
# =============================================================================================
def node_memory(inst: Instance, layers: slice | Sequence[int], C: float, rho_W: float, rho_T: float,
                param_count: np.ndarray | None = None) -> dict[str, float]:
    """Eq. 6: M(L, C, rho_W, rho_T) = M_0 + rho_W p_w sum P_l + rho_T p_t P^lora(L) + C sum A_l(b).

    Returns the components ``frozen_bytes``, ``lora_state_bytes``, ``activation_bytes``,
    ``overhead_bytes`` and their sum ``total_bytes``.
    """
    fig = inst.fig
    P = fig.param_count if param_count is None else param_count
    frozen = rho_W * inst.p_w * float(np.sum(P[layers]))
    lora = rho_T * inst.p_t * float(np.sum(fig.lora_count[layers]))
    act = C * float(np.sum(fig.act_bytes[layers]))
    M0 = float(inst.overhead_bytes)
    return {"frozen_bytes": frozen, "lora_state_bytes": lora, "activation_bytes": act,
            "overhead_bytes": M0, "total_bytes": M0 + frozen + lora + act}


def _user_layers(l_u: int) -> slice:
    return slice(0, l_u + 1)              # embedding + blocks 1..l_u


def _edge_layers(l_u: int, l_e: int) -> slice:
    return slice(l_u + 1, l_e + 1)        # blocks l_u+1..l_e


def _cloud_layers(inst: Instance, l_e: int) -> slice:
    return slice(l_e + 1, inst.L + 2)     # blocks l_e+1..L + head


def memory_user(inst: Instance, l_u: int) -> dict[str, float]:
    """Eq. 7: M_u(l_u) = M({emb, 1..l_u}, C=1, rho_W=1, rho_T=1)."""
    return node_memory(inst, _user_layers(l_u), 1, 1, 1)


def memory_edge(inst: Instance, l_u: int, l_e: int) -> dict[str, float]:
    """Eq. 8: M_e(l_u, l_e) = M({l_u+1..l_e}, C=1, rho_W=1, rho_T=1)."""
    return node_memory(inst, _edge_layers(l_u, l_e), 1, 1, 1)


def memory_cloud(inst: Instance, l_e: int, streams: int | None = None) -> dict[str, float]:
    """Eq. 9: M_c(l_e, E) = M({l_e+1..L, head}, C=E, rho_W=1, rho_T=E) (rho_T=1: shared adapter)."""
    E = inst.E if streams is None else streams
    rho_T = E if inst.cloud_adapter == "per-stream" else 1
    return node_memory(inst, _cloud_layers(inst, l_e), E, 1, rho_T)


def cut_pair_memory(inst: Instance) -> pd.DataFrame:
    """Eqs. 7-10 for every cut pair 1 <= l_u < l_e <= L, vectorised with cumulative sums.

    Columns: l_u, l_e, user_bytes, edge_bytes, cloud_bytes, server_peak_bytes (Eq. 10), the
    shortfall of each tier against its budget (C5-C7; 0 when met) and ``feasible``.
    """
    fig, L = inst.fig, inst.L
    cP = np.concatenate([[0.0], np.cumsum(fig.param_count)])
    cR = np.concatenate([[0.0], np.cumsum(fig.lora_count)])
    cA = np.concatenate([[0.0], np.cumsum(fig.act_bytes)])
    lu, le = np.triu_indices(L + 1, k=1)
    keep = lu >= 1
    lu, le = lu[keep], le[keep]
    rng = lambda lo, hi: (cP[hi] - cP[lo], cR[hi] - cR[lo], cA[hi] - cA[lo])  # noqa: E731  [lo, hi)
    M0, E = inst.overhead_bytes, inst.E
    rho_T = E if inst.cloud_adapter == "per-stream" else 1
    P, R, A = rng(0, lu + 1)
    mu = M0 + inst.p_w * P + inst.p_t * R + A
    P, R, A = rng(lu + 1, le + 1)
    me = M0 + inst.p_w * P + inst.p_t * R + A
    P, R, A = rng(le + 1, L + 2)
    mc = M0 + inst.p_w * P + rho_T * inst.p_t * R + E * A
    df = pd.DataFrame({"l_u": lu, "l_e": le, "user_bytes": mu, "edge_bytes": me, "cloud_bytes": mc})
    df["server_peak_bytes"] = np.maximum(mc, me)
    df["user_short_bytes"] = np.maximum(0.0, mu - float(np.min(inst.user_memory_bytes)))
    df["edge_short_bytes"] = np.maximum(0.0, me - float(np.min(inst.edge_memory_bytes)))
    df["cloud_short_bytes"] = np.maximum(0.0, mc - inst.cloud_memory_bytes)
    df["feasible"] = (df["user_short_bytes"] == 0) & (df["edge_short_bytes"] == 0) & \
        (df["cloud_short_bytes"] == 0) & (df["l_u"] >= inst.l_min)
    if inst.cuts is not None:
        df["feasible"] &= (df["l_u"] == inst.cuts[0]) & (df["l_e"] == inst.cuts[1])
    return df


def feasible_cut_pairs(inst: Instance) -> pd.DataFrame:
    """The cut pairs meeting C1 and C5-C7 (memory pruning of the outer enumeration, §4.1).

    Raises
    ------
    InfeasibleError
        No cut pair meets the memory budgets; the message names the tier(s) short and by how many
        bytes (at the cut pair closest to feasibility, or at the best cut of a tier that no cut
        can satisfy).
    """
    df = cut_pair_memory(inst)
    ok = df[df["feasible"]]
    if len(ok):
        return ok.reset_index(drop=True)
    cand = df[df["l_u"] >= inst.l_min]
    if inst.cuts is not None:
        cand = cand[(cand["l_u"] == inst.cuts[0]) & (cand["l_e"] == inst.cuts[1])]
    tiers = [("user", "user_short_bytes", "C5 (Eq. 7)", "min_n M_n^max", float(np.min(inst.user_memory_bytes))),
             ("edge", "edge_short_bytes", "C6 (Eq. 8)", "min_e M_e^max", float(np.min(inst.edge_memory_bytes))),
             ("cloud", "cloud_short_bytes", "C7 (Eq. 9)", "M_c^max", float(inst.cloud_memory_bytes))]
    if inst.cuts is not None:
        row = cand.iloc[0]
        parts = [f"{t} short by {row[col]:,.0f} bytes ({c}, budget {sym} = {cap:,.0f} bytes)"
                 for t, col, c, sym, cap in tiers if row[col] > 0]
        worst = max(((row[col], c) for _, col, c, _, _ in tiers), key=lambda x: x[0])
        raise InfeasibleError(f"the fixed cut pair (l_u, l_e) = {tuple(inst.cuts)} violates the memory budgets: "
                              + ", ".join(parts), constraint=worst[1], shortfall=float(worst[0]))
    always = [(t, col, c, sym, cap, float(cand[col].min())) for t, col, c, sym, cap in tiers if cand[col].min() > 0]
    if always:
        parts = [f"the {t} tier is short by {short:,.0f} bytes even at its best cut pair "
                 f"({c}, budget {sym} = {cap:,.0f} bytes)" for t, _, c, sym, cap, short in always]
        t0 = always[0]
        raise InfeasibleError("no cut pair (l_u, l_e) satisfies the memory budgets: " + "; ".join(parts),
                              constraint=t0[2], shortfall=t0[5])
    tot = cand["user_short_bytes"] + cand["edge_short_bytes"] + cand["cloud_short_bytes"]
    row = cand.loc[tot.idxmin()]
    parts = [f"{t} short by {row[col]:,.0f} bytes ({c}, budget {cap:,.0f} bytes)"
             for t, col, c, _, cap in tiers if row[col] > 0]
    worst = max(((row[col], c) for _, col, c, _, _ in tiers), key=lambda x: x[0])
    raise InfeasibleError(f"no cut pair (l_u, l_e) satisfies every memory budget at once; the closest, "
                          f"(l_u, l_e) = ({int(row['l_u'])}, {int(row['l_e'])}), has " + ", ".join(parts),
                          constraint=worst[1], shortfall=float(worst[0]))


# =============================================================================================
# §3.4 -- delay model
# =============================================================================================
@dataclass(frozen=True)
class PairDelays:
    """Delay terms of one cut pair (Eqs. 13-19), per user n and edge e, seconds.

    ``U`` (Eq. 16) and ``Bk`` (Eq. 17) are the up and return halves of one iteration of pair
    (n, e); ``a_up`` / ``a_dn`` the upload / download terms of Eq. 19; ``tc_one`` the cloud's
    forward time of one stream (Eq. 13, multiplied by E_t per round). The component arrays give
    the breakdown (compute, wireless, backhaul) of each half.
    """

    l_u: int
    l_e: int
    U: np.ndarray
    Bk: np.ndarray
    a_up: np.ndarray
    a_dn: np.ndarray
    tc_one: float
    tu: np.ndarray        # t_u^F(n), (N,)
    te: np.ndarray        # t_e^F(e), (E,)
    up_air: np.ndarray    # (D_act + D_lab) / R^up, (N, E)
    dn_air: np.ndarray    # D_act / R^dn, (N, E)
    up_bh: np.ndarray     # (D_act + D_lab) / R_{e,c}, (E,)
    dn_bh: np.ndarray     # D_act / R_{c,e}, (E,)
    d_act_bits: float
    d_lab_bits: float
    s_u_bits: float
    s_e_bits: float


def payload_bits(inst: Instance, l_u: int, l_e: int) -> dict[str, float]:
    """Eq. 15: D_act = 8 p_a b s h, D_lab = b s ceil(log2 V), S_u = 32 P^lora(L_u), S_e = 32 P^lora(L_e)."""
    cfg, fig = inst.cfg, inst.fig
    d_act = 8.0 * inst.p_a * inst.batch * inst.seq_len * cfg.hidden
    d_lab = float(inst.batch * inst.seq_len * math.ceil(math.log2(cfg.vocab))) if inst.include_labels else 0.0
    return {"d_act_bits": d_act, "d_lab_bits": d_lab,
            "s_u_bits": 32.0 * float(fig.lora_count[_user_layers(l_u)].sum()),
            "s_e_bits": 32.0 * float(fig.lora_count[_edge_layers(l_u, l_e)].sum())}


def pair_delays(inst: Instance, l_u: int, l_e: int) -> PairDelays:
    """Eqs. 13-19 for every user-edge pair at cut pair (l_u, l_e) (numpy, shape (N, E))."""
    fig = inst.fig
    F_u = float(fig.fwd_flop[_user_layers(l_u)].sum())
    F_e = float(fig.fwd_flop[_edge_layers(l_u, l_e)].sum())
    F_c = float(fig.fwd_flop[_cloud_layers(inst, l_e)].sum())
    tu = F_u / inst.user_flops                                     # Eq. 13
    te = F_e / inst.edge_flops
    tc_one = F_c / inst.cloud_flops
    pl = payload_bits(inst, l_u, l_e)
    d_act, d_lab, S_u, S_e = pl["d_act_bits"], pl["d_lab_bits"], pl["s_u_bits"], pl["s_e_bits"]
    Rup, Rdn = inst.rate_up_bps, inst.rate_down_bps                # Eq. 14
    Rec, Rce = inst.backhaul_up_bps, inst.backhaul_down_bps
    beta = inst.beta
    up_air = (d_act + d_lab) / Rup
    dn_air = d_act / Rdn
    up_bh = (d_act + d_lab) / Rec
    dn_bh = d_act / Rce
    U = tu[:, None] + up_air + te[None, :] + up_bh[None, :]        # Eq. 16
    Bk = dn_bh[None, :] + beta * te[None, :] + dn_air + beta * tu[:, None]  # Eq. 17
    if inst.include_aggregation:                                   # Eq. 19 terms
        a_up = np.maximum(S_u / Rup + S_u / Rec[None, :], (S_e / Rec)[None, :])
        a_dn = np.maximum(S_u / Rce[None, :] + S_u / Rdn, (S_e / Rce)[None, :])
    else:
        a_up = np.zeros_like(U)
        a_dn = np.zeros_like(U)
    return PairDelays(l_u, l_e, U, Bk, a_up, a_dn, tc_one, tu, te, up_air, dn_air, up_bh, dn_bh,
                      d_act, d_lab, S_u, S_e)


def round_time(inst: Instance, d: PairDelays, users: np.ndarray, edges: np.ndarray) -> float:
    """Eqs. 18-20 for one round: K tau^t + tau_agg^t, with
    tau^t = max U + (1+beta) E_t t_c^F + max Bk (Eq. 18) and tau_agg = max a_up + max a_dn (Eq. 19)."""
    users, edges = np.asarray(users), np.asarray(edges)
    tau = d.U[users, edges].max() + (1 + inst.beta) * len(users) * d.tc_one + d.Bk[users, edges].max()
    return inst.local_iterations * float(tau) + float(d.a_up[users, edges].max() + d.a_dn[users, edges].max())


def check_schedule(inst: Instance, schedule: Any) -> list[np.ndarray]:
    """C2-C4 for a schedule given as rounds of (user, edge) index pairs; returns (k, 2) arrays."""
    if not isinstance(schedule, (list, tuple)) or not schedule:
        raise ValidationError("schedule must be a non-empty list of rounds of (user, edge) pairs", "schedule")
    rounds = []
    for t, rnd in enumerate(schedule):
        a = np.asarray(rnd, dtype=int).reshape(-1, 2)
        if a.size == 0:
            raise ValidationError(f"schedule round {t} is empty", "schedule")
        if a[:, 0].min() < 0 or a[:, 0].max() >= inst.N or a[:, 1].min() < 0 or a[:, 1].max() >= inst.E:
            raise ValidationError(f"schedule round {t} has an index out of range (users 0..{inst.N - 1}, "
                                  f"edges 0..{inst.E - 1}): {a.tolist()}", "schedule")
        if len(set(a[:, 1])) != len(a):
            raise ValidationError(f"schedule round {t} pairs an edge with two users (C3): {a.tolist()}", "schedule")
        rounds.append(a)
    users = np.concatenate([a[:, 0] for a in rounds])
    if len(users) != inst.N or len(set(users.tolist())) != inst.N:
        raise ValidationError(f"schedule: every user must train exactly once per epoch (C2, C4); got users "
                              f"{sorted(users.tolist())}", "schedule")
    sizes = sorted((len(a) for a in rounds), reverse=True)
    if sizes != inst.round_sizes:
        raise ValidationError(f"schedule: round sizes {sizes} differ from C3's {inst.round_sizes} (every edge "
                              "trains one user per round, one short round at most)", "schedule")
    return rounds


def epoch_delay(inst: Instance, d: PairDelays, rounds: list[np.ndarray]) -> float:
    """Eq. 20: T_epoch = sum over rounds of T_round^t."""
    return float(sum(round_time(inst, d, a[:, 0], a[:, 1]) for a in rounds))


# =============================================================================================
# evaluate(): memory (§3.3) and delay (§3.4) of any decision
# =============================================================================================
def evaluate(inst: Instance, l_u: int, l_e: int, schedule: Any) -> tuple[dict[str, float], dict[str, pd.DataFrame]]:
    """Memory and delay of cut pair (l_u, l_e) and a per-round pairing ``schedule``.

    Parameters
    ----------
    schedule : list of rounds, each a list of (user index, edge index) pairs (C2-C4).

    Returns
    -------
    metrics : epoch_delay_s (Eq. 20), per-epoch breakdown (user/edge/cloud compute, wireless,
        backhaul, aggregation, s), user/edge/cloud/server-peak/total memory (Eqs. 7-10, bytes),
        memory_feasible, rounds.
    details : ``memory`` (one row per node and its Eq. 6 components), ``rounds`` (per round:
        pairs, iteration time and its critical-path breakdown, round time).
    """
    l_u, l_e = check_cut_pair(inst, l_u, l_e)
    rounds = check_schedule(inst, schedule)
    d = pair_delays(inst, l_u, l_e)
    K, beta = inst.local_iterations, inst.beta
    rows = []
    for t, a in enumerate(rounds):
        n, e = a[:, 0], a[:, 1]
        iu, ib = int(np.argmax(d.U[n, e])), int(np.argmax(d.Bk[n, e]))    # critical pairs of Eq. 18
        nu, eu, nb, eb = n[iu], e[iu], n[ib], e[ib]
        tc = (1 + beta) * len(a) * d.tc_one
        it = float(d.U[nu, eu] + tc + d.Bk[nb, eb])
        agg = float(d.a_up[n, e].max() + d.a_dn[n, e].max())
        rows.append({
            "round": t, "pairs": [(inst.user_names[i], inst.edge_names[j]) for i, j in a.tolist()],
            "E_t": len(a), "iteration_s": it,
            "user_compute_s": K * float(d.tu[nu] + beta * d.tu[nb]),
            "edge_compute_s": K * float(d.te[eu] + beta * d.te[eb]),
            "cloud_compute_s": K * tc,
            "wireless_s": K * float(d.up_air[nu, eu] + d.dn_air[nb, eb]),
            "backhaul_s": K * float(d.up_bh[eu] + d.dn_bh[eb]),
            "aggregation_s": agg, "round_s": K * it + agg})
    rdf = pd.DataFrame(rows)
    mu, me, mc = memory_user(inst, l_u), memory_edge(inst, l_u, l_e), memory_cloud(inst, l_e)
    mem_rows = [{"node": u, "tier": "user", **mu, "budget_bytes": float(inst.user_memory_bytes[i])}
                for i, u in enumerate(inst.user_names)]
    mem_rows += [{"node": en, "tier": "edge", **me, "budget_bytes": float(inst.edge_memory_bytes[j])}
                 for j, en in enumerate(inst.edge_names)]
    mem_rows.append({"node": "cloud", "tier": "cloud", **mc, "budget_bytes": float(inst.cloud_memory_bytes)})
    mdf = pd.DataFrame(mem_rows)
    feasible = bool((mdf["total_bytes"] <= mdf["budget_bytes"]).all())
    metrics = {
        "epoch_delay_s": float(rdf["round_s"].sum()),
        "rounds": len(rounds),
        **{f"epoch_{k}": float(rdf[k].sum()) for k in ("user_compute_s", "edge_compute_s", "cloud_compute_s",
                                                        "wireless_s", "backhaul_s", "aggregation_s")},
        "user_peak_bytes": mu["total_bytes"],
        "edge_peak_bytes": me["total_bytes"],
        "cloud_bytes": mc["total_bytes"],
        "server_peak_bytes": max(mc["total_bytes"], me["total_bytes"]),   # Eq. 10
        "total_memory_bytes": float(mdf["total_bytes"].sum()),
        "memory_feasible": feasible,
        "d_act_bits": d.d_act_bits,
    }
    return metrics, {"memory": mdf, "rounds": rdf}


def _plan(inst: Instance, method: str, l_u: int, l_e: int, rounds: list[np.ndarray], *,
          objective: str = "epoch_delay_s", solve_result: SolveResult | None = None, seconds: float = 0.0,
          extra: dict[str, Any] | None = None) -> Plan:
    sched = [a.tolist() for a in rounds]
    metrics, details = evaluate(inst, l_u, l_e, sched)
    metrics.update(extra or {})
    decision = {"l_u": int(l_u), "l_e": int(l_e), "schedule": sched,
                "schedule_names": [[[inst.user_names[i], inst.edge_names[j]] for i, j in r] for r in sched]}
    return Plan(PROBLEM, method, float(metrics[objective]), decision, metrics, details, solve_result, seconds)


# =============================================================================================
# §4.1 -- fixed-cut MILP of P1 (Pyomo)
# =============================================================================================
def define_sets(m: Any, inst: Instance) -> None:
    """Users n in N, edges e in E, rounds t = 1..T_ep."""
    import pyomo.environ as pyo

    m.N = pyo.Set(initialize=range(inst.N), doc="users")
    m.E = pyo.Set(initialize=range(inst.E), doc="edge servers")
    m.T = pyo.Set(initialize=range(inst.T_ep), doc="rounds of one epoch")


def define_variables(m: Any, inst: Instance) -> None:
    """x_{n,e}^t binary; z_t^U, z_t^B, z_t^{A up}, z_t^{A down} >= 0 (the per-round maxima)."""
    import pyomo.environ as pyo

    m.x = pyo.Var(m.N, m.E, m.T, domain=pyo.Binary, doc="user n trains with edge e in round t")
    m.zU = pyo.Var(m.T, domain=pyo.NonNegativeReals, doc="max U of round t (Eq. 18)")
    m.zB = pyo.Var(m.T, domain=pyo.NonNegativeReals, doc="max Bk of round t (Eq. 18)")
    m.zAu = pyo.Var(m.T, domain=pyo.NonNegativeReals, doc="upload max of round t (Eq. 19)")
    m.zAd = pyo.Var(m.T, domain=pyo.NonNegativeReals, doc="download max of round t (Eq. 19)")


def define_constraints(m: Any, inst: Instance, d: PairDelays) -> None:
    """C2-C4, the epigraphs of the four maxima and symmetry breaking among the full rounds."""
    import pyomo.environ as pyo

    sizes, last = inst.round_sizes, inst.T_ep - 1

    # C2: a user joins at most one edge per round
    m.c2 = pyo.Constraint(m.N, m.T, rule=lambda m, n, t: sum(m.x[n, e, t] for e in m.E) <= 1)

    # C3: every edge trains one user in every full round, at most one in the (short) last round
    def c3(m, e, t):
        s = sum(m.x[n, e, t] for n in m.N)
        return s == 1 if sizes[t] == inst.E else s <= 1
    m.c3 = pyo.Constraint(m.E, m.T, rule=c3)
    # C3 (last round): sum x^{T_ep} = N - (T_ep - 1) E, so E_t is a known constant in every round
    m.c3_last = pyo.Constraint(expr=sum(m.x[n, e, last] for n in m.N for e in m.E) == sizes[last])

    # C4: each user trains exactly once per epoch
    m.c4 = pyo.Constraint(m.N, rule=lambda m, n: sum(m.x[n, e, t] for e in m.E for t in m.T) == 1)

    # Linear form of the maxima of Eqs. 18-19: z_t >= value_{n,e} x_{n,e}^t. Written per user,
    # z_t >= sum_e value_{n,e} x_{n,e}^t, which equals the spec's pairwise form on every integer
    # point (C2: at most one e per user and round) and has a tighter LP relaxation.
    def epi(z, val):
        return lambda m, n, t: z[t] >= sum(float(val[n, e]) * m.x[n, e, t] for e in m.E)
    m.epi_U = pyo.Constraint(m.N, m.T, rule=epi(m.zU, d.U))
    m.epi_B = pyo.Constraint(m.N, m.T, rule=epi(m.zB, d.Bk))
    if inst.include_aggregation:
        m.epi_Au = pyo.Constraint(m.N, m.T, rule=epi(m.zAu, d.a_up))
        m.epi_Ad = pyo.Constraint(m.N, m.T, rule=epi(m.zAd, d.a_dn))

    # Symmetry breaking among the full rounds: z_1^U + z_1^B >= z_2^U + z_2^B >= ...
    full = [t for t in m.T if sizes[t] == inst.E]
    m.sym = pyo.Constraint(range(max(0, len(full) - 1)),
                           rule=lambda m, i: m.zU[full[i]] + m.zB[full[i]] >= m.zU[full[i + 1]] + m.zB[full[i + 1]])


def define_objective(m: Any, inst: Instance, d: PairDelays) -> None:
    """Eq. 20: min sum_t [K (z_t^U + (1+beta) t_c^F(E_t) + z_t^B) + z_t^{A up} + z_t^{A down}]."""
    import pyomo.environ as pyo

    K, beta, sizes = inst.local_iterations, inst.beta, inst.round_sizes
    const = sum(K * (1 + beta) * sizes[t] * d.tc_one for t in range(inst.T_ep))
    m.T_epoch = pyo.Objective(
        expr=sum(K * (m.zU[t] + m.zB[t]) + m.zAu[t] + m.zAd[t] for t in m.T) + const, sense=pyo.minimize)


def build_fixed_cut(inst: Instance, l_u: int, l_e: int) -> Any:
    """The MILP of P1 for a fixed cut pair (spec §4.1, 'Linear form for fixed (l_u, l_e)')."""
    import pyomo.environ as pyo

    l_u, l_e = check_cut_pair(inst, l_u, l_e)
    d = pair_delays(inst, l_u, l_e)
    m = pyo.ConcreteModel(name=f"three-tier P1 fixed cut ({l_u}, {l_e})")
    define_sets(m, inst)
    define_variables(m, inst)
    define_constraints(m, inst, d)
    define_objective(m, inst, d)
    return m


def _schedule_from_x(inst: Instance, m: Any) -> list[np.ndarray]:
    rounds = []
    for t in range(inst.T_ep):
        pairs = [(n, e) for n in range(inst.N) for e in range(inst.E) if m.x[n, e, t].value > 0.5]
        rounds.append(np.array(pairs, dtype=int).reshape(-1, 2))
    return rounds


def solve_fixed_cut(inst: Instance, l_u: int, l_e: int, solver: str | None = None,
                    time_limit: float | None = None, mip_gap: float | None = None
                    ) -> tuple[SolveResult, list[np.ndarray] | None]:
    """Build and solve the fixed-cut MILP through :func:`slopt.solvers.solve`."""
    m = build_fixed_cut(inst, l_u, l_e)
    res = solve(m, solver=solver, time_limit=time_limit, mip_gap=mip_gap)
    return res, (_schedule_from_x(inst, m) if res.ok else None)


# =============================================================================================
# §4.3 -- Algorithm B: cut enumeration with memory pruning + bottleneck matching per round
# =============================================================================================
def _perfect_matching_size(mask: np.ndarray) -> int:
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    match = maximum_bipartite_matching(csr_matrix(mask.astype(np.int8)), perm_type="column")
    return int((match >= 0).sum())


def bottleneck_assignment(cost: np.ndarray) -> np.ndarray:
    """Rows -> distinct columns minimising the largest cost (k <= E rows).

    Threshold search over the sorted distinct costs with a Hopcroft-Karp matching test
    (``scipy.sparse.csgraph.maximum_bipartite_matching``); among the matchings under the
    bottleneck threshold, ``scipy.optimize.linear_sum_assignment`` picks the one of least total
    cost. Returns the column of every row.
    """
    from scipy.optimize import linear_sum_assignment

    k = cost.shape[0]
    vals = np.unique(cost)
    lo, hi = 0, len(vals) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if _perfect_matching_size(cost <= vals[mid]) == k:
            hi = mid
        else:
            lo = mid + 1
    big = float(cost.sum()) * 4 + 1.0
    rows, cols = linear_sum_assignment(np.where(cost <= vals[lo], cost, big))
    out = np.empty(k, dtype=int)
    out[rows] = cols
    return out


def _b_schedule(inst: Instance, d: PairDelays) -> list[np.ndarray]:
    """Sort users by best-case pair latency pi_n = min_e (U + Bk), slowest first; cut into rounds
    of E (short round last); bottleneck-assign each round to the edges."""
    c = d.U + d.Bk
    pi = c.min(axis=1)
    order = np.argsort(-pi, kind="stable")
    rounds, start = [], 0
    for k in inst.round_sizes:
        users = order[start:start + k]
        start += k
        edges = bottleneck_assignment(c[users])
        rounds.append(np.column_stack([users, edges]))
    return rounds


def _memory_pruned_pairs(inst: Instance) -> list[tuple[int, int]]:
    """The loops of Algorithm B with its breaks: M_u grows with l_u, M_e with l_e, M_c shrinks."""
    feasible_cut_pairs(inst)        # raises InfeasibleError with the diagnosis when nothing fits
    mu_max, me_max = float(np.min(inst.user_memory_bytes)), float(np.min(inst.edge_memory_bytes))
    out = []
    for l_u in range(max(1, inst.l_min), inst.L):
        if memory_user(inst, l_u)["total_bytes"] > mu_max:
            break
        for l_e in range(l_u + 1, inst.L + 1):
            if memory_edge(inst, l_u, l_e)["total_bytes"] > me_max:
                break
            if memory_cloud(inst, l_e)["total_bytes"] > inst.cloud_memory_bytes:
                continue
            if inst.cuts is None or (l_u, l_e) == tuple(inst.cuts):
                out.append((l_u, l_e))
    return out


def _algorithm_b(inst: Instance) -> tuple[float, int, int, list[np.ndarray]]:
    best: tuple[float, int, int, list[np.ndarray]] | None = None
    for l_u, l_e in _memory_pruned_pairs(inst):
        d = pair_delays(inst, l_u, l_e)
        rounds = _b_schedule(inst, d)
        T = epoch_delay(inst, d, rounds)
        if best is None or T < best[0]:
            best = (T, l_u, l_e, rounds)
    assert best is not None
    return best


def cut_pair_table(inst: Instance) -> pd.DataFrame:
    """Every memory-feasible cut pair with its memory (Eqs. 7-10), Algorithm B's epoch delay at
    that pair and the delay lower bound: the memory / delay trade-off over the cuts."""
    df = feasible_cut_pairs(inst)
    T, LB = [], []
    for r in df.itertuples():
        d = pair_delays(inst, int(r.l_u), int(r.l_e))
        T.append(epoch_delay(inst, d, _b_schedule(inst, d)))
        LB.append(lower_bound(inst, d))
    return df.assign(epoch_delay_s=T, lower_bound_s=LB)


def algorithm_b(inst: Instance, *, solver: str | None = None, time_limit: float | None = None,
                mip_gap: float | None = None) -> Plan:
    """Algorithm B (spec §4.3): the paper-side heuristic for P1 (solver arguments unused)."""
    t0 = time.perf_counter()
    T, l_u, l_e, rounds = _algorithm_b(inst)
    return _plan(inst, "paper", l_u, l_e, rounds, seconds=time.perf_counter() - t0,
                 extra={"algorithm_epoch_delay_s": T})


# =============================================================================================
# §4.1 / §4.4 -- exact P1: cut enumeration (memory-pruned, bounded) x fixed-cut MILP
# =============================================================================================
def lower_bound(inst: Instance, d: PairDelays) -> float:
    """A lower bound on T_epoch at one cut pair (used to skip MILPs that cannot win).

    In any partition into rounds of at most E users, the j-th largest round maximum of a per-user
    value is at least the ((j-1)E+1)-th largest value (spec §4.3). Applied to
    pi_n = min_e (U + Bk) <= max U + max Bk, and to min_e a_up, min_e a_dn, plus the cloud's
    fixed compute; each term bounds its own part of Eq. 20, so their sum bounds T_epoch.
    """
    E, K = inst.E, inst.local_iterations

    def sorted_bound(v: np.ndarray) -> float:
        return float(np.sort(v)[::-1][::E].sum())
    cloud = sum(K * (1 + inst.beta) * k * d.tc_one for k in inst.round_sizes)
    return (K * sorted_bound((d.U + d.Bk).min(axis=1)) + sorted_bound(d.a_up.min(axis=1))
            + sorted_bound(d.a_dn.min(axis=1)) + cloud)


def _exact(inst: Instance, solver: str | None, time_limit: float | None, mip_gap: float | None,
           use_bound: bool = True) -> tuple[float, int, int, list[np.ndarray], SolveResult]:
    T_b, lu_b, le_b, r_b = _algorithm_b(inst)        # incumbent
    pairs = _memory_pruned_pairs(inst)
    cand = sorted(((lower_bound(inst, d), d) for d in (pair_delays(inst, *p) for p in pairs)),
                  key=lambda x: x[0])
    best = (T_b, lu_b, le_b, r_b)
    milp_obj: dict[tuple[int, int], float] = {}      # the solver's objective per solved cut pair
    status, seconds, n_milp, bound = "optimal", 0.0, 0, math.inf
    for lb, d in cand:
        if use_bound and lb >= best[0] * (1 - 1e-9):
            bound = min(bound, lb)
            continue
        res, rounds = solve_fixed_cut(inst, d.l_u, d.l_e, solver, time_limit, mip_gap)
        seconds += res.seconds
        n_milp += 1
        if res.status == "no_solution":        # time limit without an incumbent: optimality unproven
            status = "feasible"
            bound = min(bound, max(lb, res.bound) if math.isfinite(res.bound) else lb)
            continue
        if not res.ok:
            raise InfeasibleError(f"fixed-cut MILP at (l_u, l_e) = ({d.l_u}, {d.l_e}) returned {res.status}: "
                                  f"{res.message}", constraint="P1")
        if res.status != "optimal" or (res.gap == res.gap and res.gap > 1e-6):
            status = "feasible"
        bound = min(bound, max(lb, res.bound) if math.isfinite(res.bound) else res.objective)
        T = epoch_delay(inst, d, rounds)
        milp_obj[(d.l_u, d.l_e)] = res.objective
        if T < best[0] - 1e-12 * max(1.0, best[0]):
            best = (T, d.l_u, d.l_e, rounds)
    bound = min(bound, best[0])
    # the solver's own objective at the chosen pair (NaN when the bound proved Algorithm B's plan
    # optimal without a MILP there)
    sr = SolveResult(status, objective=milp_obj.get((best[1], best[2]), math.nan), bound=bound,
                     gap=abs(best[0] - bound) / max(abs(best[0]), 1e-10), seconds=seconds,
                     solver=solver or "highs",
                     message=f"{len(pairs)} memory-feasible cut pairs, {n_milp} fixed-cut MILPs solved, "
                             f"the rest pruned by the lower bound")
    return (*best, sr)


def exact(inst: Instance, *, solver: str | None = None, time_limit: float | None = None,
          mip_gap: float | None = None) -> Plan:
    """Exact P1 (spec §4.4): every memory-feasible cut pair, fixed-cut MILP each.

    Cut pairs are visited in increasing order of :func:`lower_bound`; a pair whose bound is not
    below the incumbent (Algorithm B's plan first) cannot improve it and is skipped, so the
    result is the same as solving every MILP.
    """
    t0 = time.perf_counter()
    T, l_u, l_e, rounds, sr = _exact(inst, solver, time_limit, mip_gap)
    plan = _plan(inst, "exact", l_u, l_e, rounds, solve_result=sr, seconds=time.perf_counter() - t0,
                 extra={"solver_objective_s": sr.objective})
    if abs(plan.objective - T) > 1e-9 * max(1.0, T):
        raise AssertionError(f"evaluate() gives {plan.objective} s, the method {T} s")
    return plan


def memory_first(inst: Instance, *, solver: str | None = None, time_limit: float | None = None,
                 mip_gap: float | None = None) -> Plan:
    """P2 (spec §4.1): minimise M_peak^srv (Eq. 10) subject to C1, C5-C7 and T_epoch <= T^max.

    Memory depends only on the cuts: cut pairs are visited in increasing server peak memory (ties
    by the delay lower bound); the first pair whose fastest schedule meets T^max wins. Its fastest
    schedule is Algorithm B's when that meets T^max, else the fixed-cut MILP decides (exact).
    """
    t0 = time.perf_counter()
    ok = feasible_cut_pairs(inst)
    ds = {(int(r.l_u), int(r.l_e)): pair_delays(inst, int(r.l_u), int(r.l_e)) for r in ok.itertuples()}
    ok = ok.assign(lb=[lower_bound(inst, ds[(int(r.l_u), int(r.l_e))]) for r in ok.itertuples()])
    ok = ok.sort_values(["server_peak_bytes", "lb"], kind="stable")
    best_short, solved = math.inf, None
    for r in ok.itertuples():
        d = ds[(int(r.l_u), int(r.l_e))]
        rounds = _b_schedule(inst, d)
        T = epoch_delay(inst, d, rounds)
        sr = None
        if T > inst.t_max_s:
            if r.lb > inst.t_max_s:
                best_short = min(best_short, r.lb - inst.t_max_s)
                continue
            sr, rr = solve_fixed_cut(inst, d.l_u, d.l_e, solver, time_limit, mip_gap)
            if not sr.ok:
                continue
            T = epoch_delay(inst, d, rr)
            if T > inst.t_max_s:
                best_short = min(best_short, T - inst.t_max_s)
                continue
            rounds = rr
        solved = (d.l_u, d.l_e, rounds, sr)
        break
    if solved is None:
        raise InfeasibleError(f"P2: no memory-feasible cut pair meets T_epoch <= T^max = {inst.t_max_s:g} s; "
                              f"the delay limit is short by at least {best_short:.6g} s", constraint="T_max",
                              shortfall=best_short)
    l_u, l_e, rounds, sr = solved
    mem = float(ok.set_index(["l_u", "l_e"]).loc[(l_u, l_e), "server_peak_bytes"])
    summary = SolveResult("optimal", objective=mem, bound=mem, gap=0.0, seconds=sr.seconds if sr else 0.0,
                          solver=(sr.solver if sr else "enumeration"),
                          message=f"{len(ok)} memory-feasible cut pairs enumerated by server peak memory; "
                                  f"T_epoch <= T^max checked with Algorithm B, else the fixed-cut MILP")
    return _plan(inst, "memory-first", l_u, l_e, rounds, objective="server_peak_bytes", solve_result=summary,
                 seconds=time.perf_counter() - t0)


# =============================================================================================
# §4.4 -- brute force (tiny instances)
# =============================================================================================
def brute_force_fixed_cut(inst: Instance, l_u: int, l_e: int) -> tuple[float, list[np.ndarray]]:
    """Exhaustive optimum of one cut pair: every partition of the users into rounds (sizes of C3)
    and every injective user -> edge map per round; subsets are memoised (N <= 12, E <= 4)."""
    if inst.N > 12 or inst.E > 4:
        raise ValidationError(f"brute force is for tiny instances (N <= 12, E <= 4); got N = {inst.N}, "
                              f"E = {inst.E}", "n_users")
    d = pair_delays(inst, l_u, l_e)
    N, E, K, beta = inst.N, inst.E, inst.local_iterations, inst.beta
    k_last = inst.round_sizes[-1]
    table: dict[int, tuple[float, tuple[int, ...], tuple[int, ...]]] = {}
    for k in sorted(set(inst.round_sizes)):
        combos = np.array(list(itertools.combinations(range(N), k)), dtype=int)
        perms = np.array(list(itertools.permutations(range(E), k)), dtype=int)
        C, P = combos[:, None, :], perms[None, :, :]
        cost = (K * (d.U[C, P].max(-1) + (1 + beta) * k * d.tc_one + d.Bk[C, P].max(-1))
                + d.a_up[C, P].max(-1) + d.a_dn[C, P].max(-1))
        j = cost.argmin(axis=1)
        masks = (1 << combos).sum(axis=1)
        for i, mk in enumerate(masks.tolist()):
            table[mk] = (float(cost[i, j[i]]), tuple(combos[i].tolist()), tuple(perms[j[i]].tolist()))

    @functools.lru_cache(maxsize=None)
    def best(mask: int, short_left: bool) -> tuple[float, tuple[int, ...]]:
        if mask == 0:
            return (0.0, ()) if not short_left else (math.inf, ())
        low = (mask & -mask).bit_length() - 1
        others = [i for i in range(N) if mask >> i & 1 and i != low]
        out = (math.inf, ())
        sizes = [E] + ([k_last] if short_left and k_last != E else [])
        for k in sizes:
            left = bin(mask).count("1") - k
            if left < 0:
                continue
            for rest in itertools.combinations(others, k - 1):
                g = (1 << low) | sum(1 << i for i in rest)
                sub = best(mask ^ g, short_left and not (k == k_last and k != E))
                val = table[g][0] + sub[0]
                if val < out[0]:
                    out = (val, (g,) + sub[1])
        return out

    T, groups = best((1 << N) - 1, k_last != E)
    rounds = [np.column_stack([table[g][1], table[g][2]]) for g in groups]
    return T, rounds


def brute_force(inst: Instance, *, solver: str | None = None, time_limit: float | None = None,
                mip_gap: float | None = None) -> Plan:
    """Exact P1 by brute force over every memory-feasible cut pair (tiny instances, §4.4)."""
    t0 = time.perf_counter()
    best = None
    for l_u, l_e in _memory_pruned_pairs(inst):
        T, rounds = brute_force_fixed_cut(inst, l_u, l_e)
        if best is None or T < best[0]:
            best = (T, l_u, l_e, rounds)
    assert best is not None
    sec = time.perf_counter() - t0
    sr = SolveResult("optimal", objective=best[0], bound=best[0], gap=0.0, seconds=sec, solver="brute-force",
                     message="every memory-feasible cut pair x every partition into rounds x every matching")
    return _plan(inst, "brute-force", best[1], best[2], best[3], solve_result=sr, seconds=sec)


# =============================================================================================
# §7 -- baselines in the same memory and delay models
# =============================================================================================
def _two_tier_radio(inst: Instance, share: int) -> tuple[np.ndarray, np.ndarray]:
    """Rates of each user to the single server of a two-tier scheme when ``share`` users split the
    total band W_tot = sum_e W_e equally (spec §7 item 2). Reading: a user reaches the server
    through its best access point (largest g_{n,e}), with that edge's downlink power."""
    best = np.argmax(inst.gain, axis=1)
    g = inst.gain[np.arange(inst.N), best]
    W_up = inst.edge_up_bandwidth_hz.sum() / share
    W_dn = inst.edge_down_bandwidth_hz.sum() / share
    r_up = shannon_rate_bps(W_up, inst.user_tx_power_w, g, inst.noise_psd_w_hz)
    r_dn = shannon_rate_bps(W_dn, inst.edge_tx_power_w[best], g, inst.noise_psd_w_hz)
    return r_up, r_dn


def edge_sfl_assignment(inst: Instance) -> np.ndarray:
    """Users -> edges for the edge-only SFL ablation (§7 item 5): at most ceil(N/E) users per edge,
    maximising the sum of log channel gains (``scipy.optimize.linear_sum_assignment`` on the
    gain matrix with every edge replicated into ceil(N/E) slots). Returns the edge of each user."""
    from scipy.optimize import linear_sum_assignment

    cap = -(-inst.N // inst.E)
    rows, cols = linear_sum_assignment(np.repeat(-np.log(inst.gain), cap, axis=1))
    edge_of = np.empty(inst.N, dtype=int)
    edge_of[rows] = cols // cap
    return edge_of


def baseline_memory(inst: Instance, scheme: str, l_c: int | None = None) -> dict[str, float]:
    """Server and user memory of a §7 baseline (Eq. 6 with the baseline's C, rho_W, rho_T).

    ``scheme``: ``sl`` (server M(L_s, 1, 1, 1)), ``splitfed`` (M(L_s, N, rho_W, N), rho_W = N for
    ``sfl_weights="copies"``, 1 for ``"shared"``), ``shared-server`` (M(L_s, N, 1, 1)),
    ``fed-lora`` (user holds the whole model, tied head not duplicated; server holds the N
    uploaded fp32 adapters), ``edge-sfl`` (the optional ablation of §7 item 5: no cloud; the
    busiest edge serves C = n_e <= ceil(N/E) users, M(L_s, n_e, rho_W, n_e) with rho_W = n_e or 1
    by ``sfl_weights``; ``server_bytes`` is that edge's memory).
    """
    L, N = inst.L, inst.N
    lc = inst.baseline_cut if l_c is None else l_c
    if not 1 <= lc <= L:
        raise ValidationError(f"l_c = {lc} is out of range 1..{L}", "l_c")
    srv = slice(lc + 1, L + 2)
    user = node_memory(inst, _user_layers(lc), 1, 1, 1)
    if scheme == "sl":
        server = node_memory(inst, srv, 1, 1, 1)
    elif scheme == "splitfed":
        server = node_memory(inst, srv, N, N if inst.sfl_weights == "copies" else 1, N)
    elif scheme == "shared-server":
        server = node_memory(inst, srv, 1 * N, 1, 1)
    elif scheme == "edge-sfl":
        n_e = int(np.bincount(edge_sfl_assignment(inst), minlength=inst.E).max())
        server = node_memory(inst, srv, n_e, n_e if inst.sfl_weights == "copies" else 1, n_e)
    elif scheme == "fed-lora":
        P = inst.fig.param_count.copy()
        if inst.cfg.kind == "gpt2":       # tied LM head: only the final norm is added (§7 item 4)
            P[-1] = inst.fig.head_tied_param_count
        user = node_memory(inst, slice(0, L + 2), 1, 1, 1, param_count=P)
        ad = N * 4.0 * float(inst.fig.lora_count.sum())   # N fp32 adapters in the aggregation buffer
        server = {"frozen_bytes": 0.0, "lora_state_bytes": ad, "activation_bytes": 0.0,
                  "overhead_bytes": float(inst.overhead_bytes), "total_bytes": ad + inst.overhead_bytes}
    else:
        raise ValidationError(f"scheme = {scheme!r}; choose sl, splitfed, shared-server, fed-lora or edge-sfl",
                              "scheme")
    return {"server_bytes": server["total_bytes"], "user_bytes": user["total_bytes"],
            "total_memory_bytes": server["total_bytes"] + N * user["total_bytes"],
            **{f"server_{k}": v for k, v in server.items() if k != "total_bytes"}}


def baseline_delay(inst: Instance, scheme: str, l_c: int | None = None) -> dict[str, float]:
    """Epoch delay of a §7 baseline (seconds; server compute = the cloud's f_c)."""
    K, beta, N, fig = inst.local_iterations, inst.beta, inst.N, inst.fig
    lc = inst.baseline_cut if l_c is None else l_c
    F_u = float(fig.fwd_flop[_user_layers(lc)].sum())
    F_s = float(fig.fwd_flop[slice(lc + 1, inst.L + 2)].sum())
    pl = payload_bits(inst, lc, lc)
    d_act, d_lab, S_u = pl["d_act_bits"], pl["d_lab_bits"], pl["s_u_bits"]
    tu = F_u / inst.user_flops
    if scheme == "sl":                    # sequential, the whole band for the one active user
        r_up, r_dn = _two_tier_radio(inst, 1)
        it = (1 + beta) * tu + (d_act + d_lab) / r_up + (1 + beta) * F_s / inst.cloud_flops + d_act / r_dn
        hand = S_u / r_up + S_u / r_dn     # user-side LoRA handed to the next user via the server
        per_user = K * it + hand
        return {"epoch_delay_s": float(per_user.sum()), "iteration_s": float(it.max()),
                "epoch_aggregation_s": float(hand.sum())}
    if scheme in ("splitfed", "shared-server"):    # all N users in parallel, band shared N ways
        r_up, r_dn = _two_tier_radio(inst, N)
        it = (float(np.max(tu + (d_act + d_lab) / r_up)) + (1 + beta) * N * F_s / inst.cloud_flops
              + float(np.max(d_act / r_dn + beta * tu)))
        agg = float(np.max(S_u / r_up) + np.max(S_u / r_dn))
        return {"epoch_delay_s": K * it + agg, "iteration_s": it, "epoch_aggregation_s": agg}
    if scheme == "edge-sfl":     # every edge serves its users in parallel on its own band W_e / n_e
        edge_of = edge_sfl_assignment(inst)
        n_e = np.bincount(edge_of, minlength=inst.E)
        users = np.arange(N)
        share = n_e[edge_of]
        r_up = shannon_rate_bps(inst.edge_up_bandwidth_hz[edge_of] / share, inst.user_tx_power_w,
                                inst.gain[users, edge_of], inst.noise_psd_w_hz)
        r_dn = shannon_rate_bps(inst.edge_down_bandwidth_hz[edge_of] / share, inst.edge_tx_power_w[edge_of],
                                inst.gain[users, edge_of], inst.noise_psd_w_hz)
        up, dn = tu + (d_act + d_lab) / r_up, d_act / r_dn + beta * tu
        it = max(float(up[edge_of == e].max() + (1 + beta) * n_e[e] * F_s / inst.edge_flops[e]
                       + dn[edge_of == e].max()) for e in range(inst.E) if n_e[e] > 0)
        S_s = 32.0 * float(fig.lora_count[slice(lc + 1, inst.L + 2)].sum())
        agg = float(np.max(S_u / r_up) + np.max(S_s / inst.backhaul_up_bps) + np.max(S_s / inst.backhaul_down_bps)
                    + np.max(S_u / r_dn))   # user adapters to the edges; edge adapters averaged via the backhaul
        return {"epoch_delay_s": K * it + agg, "iteration_s": it, "epoch_aggregation_s": agg}
    if scheme == "fed-lora":
        r_up, r_dn = _two_tier_radio(inst, N)
        S_all = 32.0 * float(fig.lora_count.sum())
        comp = K * (1 + beta) * float(fig.fwd_flop.sum()) / inst.user_flops
        agg = float(np.max(S_all / r_up) + np.max(S_all / r_dn))
        return {"epoch_delay_s": float(comp.max()) + agg, "iteration_s": float(comp.max()) / K,
                "epoch_aggregation_s": agg}
    raise ValidationError(f"scheme = {scheme!r}; choose sl, splitfed, shared-server or fed-lora", "scheme")


def _baseline(scheme: str):
    def run(inst: Instance, *, solver: str | None = None, time_limit: float | None = None,
            mip_gap: float | None = None) -> Plan:
        t0 = time.perf_counter()
        mem, dl = baseline_memory(inst, scheme), baseline_delay(inst, scheme)
        cap = float(np.min(inst.edge_memory_bytes)) if scheme == "edge-sfl" else inst.cloud_memory_bytes
        feasible = (mem["server_bytes"] <= cap and mem["user_bytes"] <= float(np.min(inst.user_memory_bytes)))
        metrics = {**dl, **mem, "server_peak_bytes": mem["server_bytes"], "user_peak_bytes": mem["user_bytes"],
                   "memory_feasible": bool(feasible)}
        decision = {"scheme": scheme, "l_c": None if scheme == "fed-lora" else inst.baseline_cut}
        return Plan(PROBLEM, scheme, dl["epoch_delay_s"], decision, metrics, {}, None, time.perf_counter() - t0)
    run.__name__ = f"baseline_{scheme.replace('-', '_')}"
    run.__doc__ = f"§7 baseline {scheme!r}: its epoch delay (objective) and memory in the same models."
    return run


baseline_sl = _baseline("sl")
baseline_splitfed = _baseline("splitfed")
baseline_shared_server = _baseline("shared-server")
baseline_fed_lora = _baseline("fed-lora")
baseline_edge_sfl = _baseline("edge-sfl")


def memory_comparison(inst: Instance, l_u: int, l_e: int, l_c: int | None = None) -> pd.DataFrame:
    """Peak memory of SplitLLM's tiers and of every baseline, with the reduction of SplitLLM's
    M_peak^srv (Eq. 10) against each baseline's server (the comparison of spec §8.2)."""
    mu, me, mc = memory_user(inst, l_u), memory_edge(inst, l_u, l_e), memory_cloud(inst, l_e)
    srv = max(me["total_bytes"], mc["total_bytes"])
    rows = [{"scheme": "SplitLLM", "node": "user", "peak_bytes": mu["total_bytes"]},
            {"scheme": "SplitLLM", "node": "edge", "peak_bytes": me["total_bytes"]},
            {"scheme": "SplitLLM", "node": "cloud", "peak_bytes": mc["total_bytes"]}]
    names = {"sl": "vanilla SL", "splitfed": "SplitFed", "shared-server": "shared server (PSL)",
             "fed-lora": "FedLoRA", "edge-sfl": "edge-only SFL"}
    for sch, label in names.items():
        m = baseline_memory(inst, sch, l_c)
        node, val = (("user", m["user_bytes"]) if sch == "fed-lora" else
                     ("edge", m["server_bytes"]) if sch == "edge-sfl" else ("server", m["server_bytes"]))
        ref = mu["total_bytes"] if sch == "fed-lora" else srv
        rows.append({"scheme": label, "node": node, "peak_bytes": val, "reduction": 1 - ref / val})
    df = pd.DataFrame(rows)
    df["peak_gib"] = df["peak_bytes"] / GIB
    return df


# =============================================================================================
# Eq. 21 -- aggregation of the LoRA factors (FedAvg on A and B separately)
# =============================================================================================
def aggregate_adapters(adapters: Sequence[dict[str, np.ndarray]], samples: Sequence[float]) -> dict[str, np.ndarray]:
    """X <- sum_n w_n X^(n), w_n = D_n / sum_m D_m, for every factor name (Eq. 21)."""
    w = as_float_array("samples", samples, len(adapters))
    check_array("samples", w, what="adapter")
    if w.sum() <= 0:
        raise ValidationError("samples: the weights D_n sum to zero", "samples")
    w = w / w.sum()
    return {k: sum(wi * np.asarray(a[k], dtype=float) for wi, a in zip(w, adapters)) for k in adapters[0]}


# =============================================================================================
# Measured memory check (torch): one training step of a small GPT-2-style model in three parts
# =============================================================================================
def measure_memory(cfg: TransformerConfig | str = "gpt2-tiny", seq_len: int = 64, batch: int = 4,
                   lora_rank: int = 4, l_u: int = 1, l_e: int = 2, streams: int = 2,
                   dropout: float = 0.1, seed: int = 0) -> pd.DataFrame:
    """Run one step of a GPT-2-style model (own modules, random weights, fp32, CPU) split at
    (l_u, l_e) with LoRA on q and v, and measure every part's peak memory.

    Measurement: frozen weights, LoRA weights, their gradients and Adam state are counted from the
    tensors' storages after the step; activations saved for backward are counted with
    ``torch.autograd.graph.saved_tensors_hooks`` (distinct storages, parameters excluded), which is
    what autograd holds at the start of the backward pass (the peak of Eq. 6). Dropout uses the
    fused ``torch.native_dropout`` (1-byte mask, as on GPUs and as Eq. 3 counts; CPU
    ``F.dropout`` would keep a 4-byte float mask). The cloud runs
    ``streams`` concurrent mini-batches with one LoRA replica each (Eq. 9, per-stream reading).

    Returns one row per tier with measured and modelled (both activation readings) components.
    """
    import torch
    import torch.nn.functional as Fn

    def drop(x, p_, train):
        # the fused kernel that GPU training uses keeps a 1-byte mask (Eq. 3's count); CPU
        # F.dropout multiplies by a float mask instead, so call the fused op directly
        return torch.native_dropout(x, p_, train)[0]

    cfg = PRESETS[cfg] if isinstance(cfg, str) else cfg
    threads = torch.get_num_threads()
    torch.set_num_threads(1)              # tiny tensors: thread start-up would dominate
    try:
        return _measure(torch, Fn, drop, cfg, seq_len, batch, lora_rank, l_u, l_e, streams, dropout, seed)
    finally:
        torch.set_num_threads(threads)


def _measure(torch: Any, Fn: Any, drop: Any, cfg: TransformerConfig, seq_len: int, batch: int, lora_rank: int,
             l_u: int, l_e: int, streams: int, dropout: float, seed: int) -> pd.DataFrame:
    torch.manual_seed(seed)
    h, a, f, V = cfg.hidden, cfg.heads, cfg.ffn, cfg.vocab

    class LoRALinear(torch.nn.Module):
        def __init__(self, d_in: int, d_out: int, r: int | None):
            super().__init__()
            self.base = torch.nn.Linear(d_in, d_out)
            self.base.requires_grad_(False)
            self.A = torch.nn.Parameter(torch.randn(d_in, r) * 0.01) if r else None
            self.B = torch.nn.Parameter(torch.zeros(r, d_out)) if r else None

        def forward(self, x):
            y = self.base(x)
            return y + (x @ self.A) @ self.B if self.A is not None else y

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = torch.nn.LayerNorm(h), torch.nn.LayerNorm(h)
            self.q, self.v = LoRALinear(h, h, lora_rank), LoRALinear(h, h, lora_rank)
            self.k, self.o = LoRALinear(h, h, None), LoRALinear(h, h, None)
            self.fc, self.proj = LoRALinear(h, f, None), LoRALinear(f, h, None)
            for mod in (self.ln1, self.ln2):
                mod.requires_grad_(False)

        def forward(self, x):
            B_, S, _ = x.shape
            y = self.ln1(x)
            split = lambda t: t.view(B_, S, a, h // a).transpose(1, 2)  # noqa: E731
            q, k, v = split(self.q(y)), split(self.k(y)), split(self.v(y))
            att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(h // a))
            att = att.masked_fill(torch.ones(S, S, dtype=torch.bool).triu(1), float("-inf"))
            att = drop(torch.softmax(att, dim=-1), dropout, True)
            z = (att @ v).transpose(1, 2).reshape(B_, S, h)
            x = x + drop(self.o(z), dropout, True)
            x = x + drop(self.proj(Fn.gelu(self.fc(self.ln2(x)))), dropout, True)
            return x

    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.ln = torch.nn.LayerNorm(h)
            self.lm = torch.nn.Linear(h, V, bias=False)
            self.requires_grad_(False)

        def forward(self, x, y):
            return Fn.cross_entropy(self.lm(self.ln(x)).view(-1, V), y.view(-1))

    class Embed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = torch.nn.Embedding(V, h), torch.nn.Embedding(cfg.n_ctx, h)
            self.requires_grad_(False)

        def forward(self, idx):
            return drop(self.wte(idx) + self.wpe(torch.arange(idx.shape[1])), dropout, True)

    L = cfg.n_layers
    user = torch.nn.ModuleList([Embed(), *[Block() for _ in range(l_u)]])
    edge = torch.nn.ModuleList([Block() for _ in range(l_e - l_u)])
    cloud_blocks = [torch.nn.ModuleList([Block() for _ in range(L - l_e)]) for _ in range(streams)]
    for rep in cloud_blocks[1:]:                 # replicas share the frozen weights (rho_W = 1)
        for src, dst in zip(cloud_blocks[0].modules(), rep.modules()):
            if isinstance(src, torch.nn.Linear) or isinstance(src, torch.nn.LayerNorm):
                dst.weight, dst.bias = src.weight, src.bias
    head = Head()
    frozen_before = {id(p): p.detach().clone() for m in (user, edge, head, *cloud_blocks) for p in m.parameters()
                     if not p.requires_grad}

    def bytes_of(tensors) -> int:
        seen, tot = set(), 0
        for t in tensors:
            st = t.untyped_storage()
            if st.data_ptr() not in seen:
                seen.add(st.data_ptr())
                tot += st.nbytes()
        return tot

    def run_saved(fn):
        saved: list[Any] = []

        def pack(t):
            saved.append(t)
            return t
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = fn()
        return out, saved

    def static(mods) -> dict[str, int]:
        ps = [p for m in mods for p in m.parameters()]
        frozen = bytes_of([p for p in ps if not p.requires_grad])
        lora = [p for p in ps if p.requires_grad]
        return {"frozen": frozen, "lora": bytes_of(lora), "lora_params": lora}

    idx = torch.randint(0, V, (streams, batch, seq_len))
    tgt = torch.randint(0, V, (streams, batch, seq_len))
    # user part (stream 0 only: one user per edge)
    def user_fwd():
        x = user[0](idx[0])
        for blk in user[1:]:
            x = blk(x)
        return x
    h_u, saved_u = run_saved(user_fwd)
    h_u_in = h_u.detach().requires_grad_(True)

    def edge_fwd():
        x = h_u_in
        for blk in edge:
            x = blk(x)
        return x
    h_e, saved_e = run_saved(edge_fwd)
    h_e_in = [h_e.detach().requires_grad_(True)] + [h_e.detach().clone().requires_grad_(True)
                                                   for _ in range(streams - 1)]

    def cloud_fwd():
        losses = []
        for sidx in range(streams):
            x = h_e_in[sidx]
            for blk in cloud_blocks[sidx]:
                x = blk(x)
            losses.append(head(x, tgt[sidx]))
        return losses
    losses, saved_c = run_saved(cloud_fwd)

    def act_bytes(saved, mods, inputs=()):
        pids = {p.untyped_storage().data_ptr() for m in mods for p in m.parameters()}
        pids |= {t.untyped_storage().data_ptr() for t in inputs}   # received inputs: counted as the sender's
        return bytes_of([t for t in saved if t.untyped_storage().data_ptr() not in pids])

    acts = {"user": act_bytes(saved_u, [user]), "edge": act_bytes(saved_e, [edge]),
            "cloud": act_bytes(saved_c, [*cloud_blocks, head])}
    # backward through all three parts and one Adam step per part
    sum(losses).backward()
    h_e.backward(h_e_in[0].grad)
    h_u.backward(h_u_in.grad)
    stat = {"user": static([user]), "edge": static([edge]), "cloud": static([*cloud_blocks, head])}
    rows = []
    for tier, st in stat.items():
        opt = torch.optim.Adam(st["lora_params"], lr=1e-3)
        opt.step()
        grads = bytes_of([p.grad for p in st["lora_params"] if p.grad is not None])
        state = bytes_of([v for s_ in opt.state.values() for v in s_.values() if torch.is_tensor(v) and v.dim() > 0])
        rows.append({"tier": tier, "frozen_bytes": st["frozen"], "lora_state_bytes": st["lora"] + grads + state,
                     "activation_bytes": acts[tier]})
    unchanged = all(torch.equal(p, frozen_before[id(p)]) for m in (user, edge, head, *cloud_blocks)
                    for p in m.parameters() if not p.requires_grad)
    df = pd.DataFrame(rows)
    df["measured_bytes"] = df["frozen_bytes"] + df["lora_state_bytes"] + df["activation_bytes"]
    for reading in ("korthikanti", "profile"):
        inst = spec6_instance(n_users=max(2, streams), n_edges=streams, model=cfg, seq_len=seq_len, batch=batch,
                              lora_rank=lora_rank, p_w=4, p_a=4, p_t=16, activation_model=reading)
        mod = [memory_user(inst, l_u), memory_edge(inst, l_u, l_e), memory_cloud(inst, l_e)]
        df[f"model_{reading}_bytes"] = [m["total_bytes"] for m in mod]
        df[f"model_{reading}_activation_bytes"] = [m["activation_bytes"] for m in mod]
        if reading == "korthikanti":
            df["model_static_bytes"] = [m["frozen_bytes"] + m["lora_state_bytes"] for m in mod]
        df[f"rel_error_{reading}"] = df[f"model_{reading}_bytes"] / df["measured_bytes"] - 1
    # the gamma of Eq. 3 that the measurement implies (measured / Korthikanti count at gamma = 1)
    df["gamma_measured"] = df["activation_bytes"] / df["model_korthikanti_activation_bytes"]
    df["frozen_weights_unchanged"] = unchanged
    return df


# =============================================================================================
# Instances: §6 setting, shipped scenario, random; load() for the CLI
# =============================================================================================
def _model(model: Any) -> TransformerConfig:
    if isinstance(model, TransformerConfig):
        return model
    if model in PRESETS:
        return PRESETS[model]
    raise ValidationError(f"model = {model!r} is not a known decoder; choose one of "
                          f"{sorted(k for k, v in PRESETS.items() if v.kind != 'vit')}", "model")


#: Spec §6 defaults (every entry "reconstructed default, spec §6").
SPEC6 = dict(model="gpt2-medium", seq_len=512, batch=4, lora_rank=8, lora_targets=("q", "v"),
             p_w=2, p_a=2, p_t=16, gamma=1.0, beta=1.0, overhead_bytes=0.0, local_iterations=10)
_TRAINING_KEYS = set(SPEC6)
_OPTION_KEYS = {"l_min", "cuts", "l_c", "t_max_s", "cloud_adapter", "sfl_weights", "activation_model",
                "include_labels", "include_lora_flop", "include_aggregation"}


def _split_params(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    train = {k: params.pop(k) for k in list(params) if k in _TRAINING_KEYS}
    opts = {k: params.pop(k) for k in list(params) if k in _OPTION_KEYS}
    if "l_u" in params or "l_e" in params:
        lu, le = params.pop("l_u", None), params.pop("l_e", None)
        if lu is None or le is None:
            raise ValidationError("give both l_u and l_e to fix the cut pair", "l_u" if lu is None else "l_e")
        opts["cuts"] = (lu, le)
    return train, opts, params


def _finish(cfg: TransformerConfig, train: dict[str, Any], opts: dict[str, Any], **arrays: Any) -> Instance:
    t = {**SPEC6, **train}
    t.pop("model")
    lt = t.pop("lora_targets")
    lt = (lt,) if isinstance(lt, str) else tuple(lt)
    return check_instance(Instance(cfg=cfg, lora_targets=lt, **t, **arrays, **opts))


def spec6_instance(n_users: int = 10, n_edges: int = 3, model: Any = "gpt2-medium", **params: Any) -> Instance:
    """The §6 setting: GPT-2 medium, s = 512, b = 4, r = 8 on q, v, fp16, K = 10, f_n = 2e12,
    f_e = 30e12, f_c = 150e12 FLOP/s, W_e = 20 MHz per edge, received SNR 20 dB over the full
    band (P g / N_0 = 2e9 Hz both ways), backhaul 1 Gbit/s, memory 4 / 16 / 80 GiB."""
    params = dict(params)
    train, opts, rest = _split_params(params)
    user_mem = rest.pop("user_memory_bytes", 4 * GIB)
    edge_mem = rest.pop("edge_memory_bytes", 16 * GIB)
    cloud_mem = rest.pop("cloud_memory_bytes", 80 * GIB)
    if rest:
        raise ValidationError(f"unknown parameter(s) {sorted(rest)} for the §6 setting", sorted(rest)[0])
    N = check_int("n_users", n_users, lo=1)
    E = check_int("n_edges", n_edges, lo=1)
    N0 = 1e-20                            # any N_0: the gains below fix P g / N_0 = 2e9 Hz (spec §6)
    snr_hz = 2e9
    return _finish(_model(model), train, opts,
                   user_flops=np.full(N, 2e12), user_memory_bytes=as_float_array("user_memory_bytes", user_mem, N),
                   user_samples=np.ones(N), user_tx_power_w=np.full(N, 0.2),
                   edge_flops=np.full(E, 30e12), edge_memory_bytes=as_float_array("edge_memory_bytes", edge_mem, E),
                   edge_up_bandwidth_hz=np.full(E, 20e6), edge_down_bandwidth_hz=np.full(E, 20e6),
                   edge_tx_power_w=np.full(E, 0.2), cloud_flops=150e12, cloud_memory_bytes=float(cloud_mem),
                   gain=np.full((N, E), snr_hz * N0 / 0.2), noise_psd_w_hz=N0,
                   backhaul_up_bps=np.full(E, 1e9), backhaul_down_bps=np.full(E, 1e9),
                   name=f"spec6-N{N}-E{E}")


def from_scenario(sc: Scenario, model: Any = "gpt2-medium", fading_seed: int | None = None,
                  **params: Any) -> Instance:
    """An instance from a :class:`Scenario` with edge servers, a cloud and backhaul links.

    Readings: every edge cell has the channel's up/downlink bandwidth (orthogonal bands, Eq. 14);
    g_{n,e} is the path-loss gain (one Rayleigh draw per pair on top when ``fading_seed`` is
    given, block fading over the epoch); memory budgets come from the scenario unless
    ``user_memory_bytes`` / ``edge_memory_bytes`` / ``cloud_memory_bytes`` are given.
    """
    params = dict(params)
    train, opts, rest = _split_params(params)
    edges, cloud = sc.edges, sc.cloud
    if cloud is None:
        raise ValidationError(f"scenario {sc.name!r} has no cloud-tier server (tier: cloud)", "servers")
    if not edges:
        raise ValidationError(f"scenario {sc.name!r} has no edge-tier server", "servers")
    N, E = sc.n_devices, len(edges)
    if E > N:
        raise ValidationError(f"n_edges = {E} exceeds n_users = {N} in scenario {sc.name!r}: every edge "
                              "trains one user per round (C3), so E <= N is required", "n_edges")
    gain = sc.large_scale_gain(edges)
    if fading_seed is not None:
        gain = gain * rayleigh_power(np.random.default_rng(fading_seed), gain.shape, sc.channel.fading_floor)
    user_mem = rest.pop("user_memory_bytes", sc.device_array("memory_bytes"))
    edge_mem = rest.pop("edge_memory_bytes", sc.server_array("memory_bytes", edges))
    cloud_mem = rest.pop("cloud_memory_bytes", cloud.memory_bytes)
    if rest:
        raise ValidationError(f"unknown parameter(s) {sorted(rest)}; known: {sorted(_TRAINING_KEYS | _OPTION_KEYS | {'l_u', 'l_e', 'user_memory_bytes', 'edge_memory_bytes', 'cloud_memory_bytes', 'n_users', 'n_edges', 'seed', 'fading_seed'})}",
                              sorted(rest)[0])
    return _finish(_model(model), train, opts,
                   user_flops=sc.device_array("compute_flops"),
                   user_memory_bytes=as_float_array("user_memory_bytes", user_mem, N),
                   user_samples=sc.device_array("n_samples"), user_tx_power_w=sc.device_array("tx_power_w"),
                   edge_flops=sc.server_array("compute_flops", edges),
                   edge_memory_bytes=as_float_array("edge_memory_bytes", edge_mem, E),
                   edge_up_bandwidth_hz=np.full(E, sc.channel.uplink_bandwidth_hz),
                   edge_down_bandwidth_hz=np.full(E, sc.channel.downlink_bandwidth_hz),
                   edge_tx_power_w=sc.server_array("tx_power_w", edges),
                   cloud_flops=cloud.compute_flops, cloud_memory_bytes=float(cloud_mem),
                   gain=gain, noise_psd_w_hz=sc.channel.noise_psd_w_hz,
                   backhaul_up_bps=np.array([sc.link_rate_bps(e.name, cloud.name) for e in edges]),
                   backhaul_down_bps=np.array([sc.link_rate_bps(cloud.name, e.name) for e in edges]),
                   user_names=tuple(d.name for d in sc.devices), edge_names=tuple(e.name for e in edges),
                   name=sc.name)


def random_scenario(seed: int, n_users: int = 5, n_edges: int = 2) -> Scenario:
    """A small random three-tier scenario with heterogeneous edges (positions, compute, backhaul).

    Reconstructed ranges for a tiny model (``gpt2-tiny``-sized compute): users 0.1-1 GFLOP/s,
    edges 10-100 GFLOP/s, cloud 1 TFLOP/s, users and edges placed in a 600 m square, backhaul
    0.1-1 Gbit/s, 1 MHz cells, edge power 0.2-1 W.
    """
    rng = np.random.default_rng(seed)
    check_int("n_users", n_users, lo=1)
    check_int("n_edges", n_edges, lo=1)
    devices = tuple(Device(f"d{i}", compute_flops=float(rng.uniform(1e8, 1e9)),
                           position_m=tuple(rng.uniform(0, 600, 2).tolist()),
                           n_samples=int(rng.integers(100, 1000))) for i in range(n_users))
    servers = [Server(f"e{j}", compute_flops=float(rng.uniform(1e10, 1e11)), tx_power_w=float(rng.uniform(0.2, 1)),
                      position_m=tuple(rng.uniform(0, 600, 2).tolist())) for j in range(n_edges)]
    servers.append(Server("cloud", compute_flops=1e12, tier="cloud", tx_power_w=0.0))
    links = []
    for j in range(n_edges):
        r = float(rng.uniform(1e8, 1e9))
        links += [Link(f"e{j}", "cloud", r), Link("cloud", f"e{j}", r)]
    return Scenario(devices, tuple(servers), Channel(1e6, fading="none"), tuple(links), name=f"three-tier-random-{seed}",
                    seed=seed)


def random_instance(seed: int, **params: Any) -> Instance:
    """A small random instance: ``gpt2-tiny`` with ``n_layers`` (default 4) blocks, s = 32, b = 2,
    ``n_users`` (default 5) users, ``n_edges`` (default 2) heterogeneous edges."""
    params = dict(params)
    n_users = params.pop("n_users", 5)
    n_edges = params.pop("n_edges", 2)
    n_layers = params.pop("n_layers", 4)
    model = params.pop("model", replace(PRESETS["gpt2-tiny"], n_layers=n_layers, name="gpt2-tiny"))
    params.setdefault("seq_len", 32)
    params.setdefault("batch", 2)
    params.setdefault("lora_rank", 4)
    params.setdefault("local_iterations", 2)
    return from_scenario(random_scenario(seed, n_users, n_edges), model=model, **params)


def load(profile: str | None = None, scenario: str | None = None, **params: Any) -> Instance:
    """Build an instance for the CLI.

    ``profile``: a decoder preset of :data:`slopt.profiles.transformer.PRESETS` (default
    ``gpt2-medium``, spec §6). ``scenario``: ``None`` -> the shipped ``three_tier`` scenario;
    ``"spec6"`` -> the §6 table (``n_users``, ``n_edges``); a file or shipped name otherwise;
    ``seed=<int>`` -> :func:`random_instance`. Every parameter of the instance is a keyword
    (``l_u``/``l_e`` fix the cut pair; readings ``cloud_adapter``, ``sfl_weights``,
    ``activation_model``, ...).
    """
    params = dict(params)
    if profile is not None:
        params["model"] = profile
    if "seed" in params:
        return random_instance(check_int("seed", params.pop("seed")), **params)
    if scenario == "spec6":
        return spec6_instance(params.pop("n_users", 10), params.pop("n_edges", 3), **params)
    for k in ("n_users", "n_edges"):
        if k in params:
            raise ValidationError(f"{k} applies to scenario 'spec6' or a random instance (seed=...), not to a "
                                  "scenario file", k)
    fading = params.pop("fading_seed", None)
    return from_scenario(read_scenario(scenario or "three_tier"), fading_seed=fading, **params)


def formulations(inst: Instance) -> dict[str, Any]:
    """The fixed-cut MILP at the exact method's cut pair (its optimum is P1's optimum)."""
    plan = exact(inst)
    l_u, l_e = plan.decision["l_u"], plan.decision["l_e"]
    return {"fixed-cut-milp": lambda: build_fixed_cut(inst, l_u, l_e)}


def demo_plot(out_dir: Path) -> Path:
    """Peak memory per tier of SplitLLM vs the baselines' servers (spec §6 setting)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inst = spec6_instance()
    df = memory_comparison(inst, 4, 12)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels = [f"{s}\n{n}" for s, n in zip(df["scheme"], df["node"])]
    ax.bar(labels, df["peak_gib"], color=["C0"] * 3 + ["C1"] * (len(df) - 3))
    ax.set_ylabel("peak memory (GiB)")
    ax.set_title("three-tier: peak memory, spec §6 setting (N=10, E=3, cuts 4/12)")
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    path = Path(out_dir) / "three_tier.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


register(Problem(
    name=PROBLEM,
    summary="three-tier LoRA split fine-tuning: cut pair + user-edge pairing per round (min epoch delay)",
    load=load,
    methods={"paper": algorithm_b, "exact": exact, "memory-first": memory_first, "brute-force": brute_force,
             "sl": baseline_sl, "splitfed": baseline_splitfed, "shared-server": baseline_shared_server,
             "fed-lora": baseline_fed_lora, "edge-sfl": baseline_edge_sfl},
    random_instance=random_instance,
    formulations=formulations,
    extra={"demo_plot": demo_plot},
))
