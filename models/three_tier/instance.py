"""Three-tier instance: the model's per-layer figures, the system's data, defaults and loaders.

Spec ``shared/papers/three-tier-llm-sl.md``: §2 symbols, §3.1/§3.3/§3.4 per-layer counts
(Eqs. 1-5, 11), §6 default setting (:func:`spec6_instance`), readings of §9 as instance fields.
Indices: layer index 0 is the embedding, 1..L the blocks, L+1 the head (final norm, LM head,
loss). Cut pair (l_u, l_e): the user runs 0..l_u, the edge l_u+1..l_e, the cloud l_e+1..L+1.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from slopt.errors import ValidationError
from slopt.params import VOCABULARY as V
from slopt.params import Param, ParamTable, scenario_arg, transformer_config
from slopt.profiles.transformer import PRESETS, TransformerConfig, transformer
from slopt.scenarios import Channel, Device, Link, Scenario, Server, rayleigh_power, shannon_rate_bps
from slopt.scenarios import read as read_scenario
from slopt.validate import as_float_array, check_array, check_int, check_nonneg, check_positive

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


_S6 = "spec §6 (reconstructed default)"
_MEM = "bytes (inf: unconstrained)"
#: Every key ``load(**params)`` / ``slopt solve three-tier --set`` accepts, with its unit, range, default
#: and source. ``n_devices`` / ``device_memory_bytes`` are the vocabulary's names of the users' count
#: and memory (former ``n_users`` / ``user_memory_bytes`` still work for one release; the code keeps them).
PARAMS: dict[str, Param] = {
    "model": Param("choice", "decoder preset", choices=tuple(sorted(k for k, v in PRESETS.items() if v.kind != "vit")),
                   default=SPEC6["model"], source=_S6, nullable=False),
    "seq_len": Param("int", "sequence length s", "tokens", lo=1, default=SPEC6["seq_len"], source=_S6, nullable=False),
    "batch": V["batch"].like(description="mini-batch b (sequences)", default=SPEC6["batch"], source=_S6,
                             nullable=False),
    "lora_rank": Param("int", "LoRA rank r", "", lo=1, default=SPEC6["lora_rank"], source=_S6, nullable=False),
    "lora_targets": Param("strs", "LoRA-adapted projections", choices=("q", "k", "v", "o", "up", "gate", "down"),
                          default=list(SPEC6["lora_targets"]), source=_S6, nullable=False),
    "p_w": Param("int", "bytes per frozen weight", "bytes", lo=1, default=SPEC6["p_w"], source=_S6, nullable=False),
    "p_a": Param("int", "bytes per activation element", "bytes", lo=1, default=SPEC6["p_a"], source=_S6,
                 nullable=False),
    "p_t": Param("int", "training-state bytes per LoRA parameter", "bytes", lo=0, default=SPEC6["p_t"], source=_S6,
                 nullable=False),
    "gamma": Param("float", "activation-saving factor (Eq. 3)", "", lo=0, lo_open=True, default=SPEC6["gamma"],
                   source=_S6, nullable=False),
    "beta": Param("float", "backward / forward FLOP ratio", "", lo=0, default=SPEC6["beta"], source=_S6,
                  nullable=False),
    "overhead_bytes": Param("float", "memory overhead M_0", "bytes", lo=0, default=SPEC6["overhead_bytes"],
                            source=_S6, nullable=False),
    "local_iterations": Param("int", "local iterations K", "", lo=1, default=SPEC6["local_iterations"], source=_S6,
                              nullable=False),
    "l_min": Param("int", "privacy floor of the user's cut (C1)", "", lo=1, default=1, source="spec §4 (C1)",
                   nullable=False),
    "cuts": Param("ints", "a fixed cut pair [l_u, l_e] (None: optimised)", "", lo=0, length=2),
    "l_u": Param("int", "fixed user cut l_u (with l_e)", "", lo=0, nullable=False),
    "l_e": Param("int", "fixed edge cut l_e (with l_u)", "", lo=0, nullable=False),
    "l_c": Param("int", "the baselines' single cut (None: min(4, L - 1))", "", lo=0),
    "t_max_s": Param("float", "delay limit T^max of P2 (default inf: none)", "s", lo=0, lo_open=True, allow_inf=True,
                     source="spec §4 (P2)", nullable=False),
    "cloud_adapter": Param("choice", "cloud LoRA adapter per stream or shared (spec §9)",
                           choices=READINGS["cloud_adapter"], default="per-stream", source="spec §9", nullable=False),
    "sfl_weights": Param("choice", "SFL weight copies or shared (spec §9)", choices=READINGS["sfl_weights"],
                         default="copies", source="spec §9", nullable=False),
    "activation_model": Param("choice", "saved activations: Eq. 3 or the analytic profile (spec §9 item 9)",
                              choices=READINGS["activation_model"], default="korthikanti", source="spec §9",
                              nullable=False),
    "include_labels": Param("bool", "count the labels sent to the cloud", default=True, source="spec §9",
                            nullable=False),
    "include_lora_flop": Param("bool", "count the LoRA FLOP (Eq. 11)", default=False, source="spec §3.4",
                               nullable=False),
    "include_aggregation": Param("bool", "include the aggregation delay", default=True, source="spec §9",
                                 nullable=False),
    "device_memory_bytes": V["device_memory_bytes"].like(description="user memory M_n^max (one value or one per "
                                                         "user; default: the scenario's, 4 GiB in §6)", nullable=False),
    "edge_memory_bytes": Param("floats", "edge memory M_e^max (one value or one per edge; 16 GiB in §6)", _MEM, lo=0,
                               lo_open=True, allow_inf=True, nullable=False),
    "cloud_memory_bytes": Param("float", "cloud memory M_c^max (80 GiB in §6)", _MEM, lo=0, lo_open=True,
                                allow_inf=True, nullable=False),
    "n_devices": V["n_devices"].like(description="users N (shipped scenario, 'spec6' or a random instance)",
                                     nullable=False),
    "n_edges": V["n_edges"].like(description="edge servers E <= N (shipped scenario, 'spec6' or a random instance)",
                                 nullable=False),
    "seed": V["seed"].like(description="seed of a random instance (random_instance)", nullable=False),
    "fading_seed": Param("int", "seed of one Rayleigh draw per user-edge pair (None: no fading)", "", lo=0),
    "n_layers": Param("int", "blocks L of the random instance's gpt2-tiny (with seed)", "", lo=2, hi=10**4,
                      default=4, nullable=False),
}
TABLE = ParamTable(PROBLEM, PARAMS, internal={"n_devices": "n_users", "device_memory_bytes": "user_memory_bytes"})


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


def load(profile: Any = None, scenario: Any = None, **params: Any) -> Instance:
    """Build an instance for the CLI.

    ``profile``: a decoder preset of :data:`slopt.profiles.transformer.PRESETS` (default
    ``gpt2-medium``, spec §6). ``scenario``: ``None`` -> the shipped ``three_tier`` scenario;
    ``"spec6"`` -> the §6 table (``n_users``, ``n_edges``); a file or shipped name otherwise
    (``n_users`` / ``n_edges`` on the shipped scenario: the same generator and seed at that size);
    ``seed=<int>`` -> :func:`random_instance`; a :class:`Scenario` object works like a file, and a
    transformer ModelGraph (``slopt.profiles.transformer``) like its preset. Every parameter
    (:data:`PARAMS`) of the instance is a keyword
    (``l_u``/``l_e`` fix the cut pair; readings ``cloud_adapter``, ``sfl_weights``,
    ``activation_model``, ...).
    """
    params = TABLE.check(params)
    if profile is not None:
        cfg = transformer_config(profile, "three-tier")
        params["model"] = TABLE.check({"model": cfg})["model"] if isinstance(cfg, str) else cfg
    if "seed" in params:
        return random_instance(check_int("seed", params.pop("seed")), **params)
    if scenario == "spec6":
        return spec6_instance(params.pop("n_users", 10), params.pop("n_edges", 3), **params)
    fading = params.pop("fading_seed", None)
    sc = scenario_arg(scenario) if scenario is not None else read_scenario("three_tier")
    if "n_users" in params or "n_edges" in params:
        if scenario not in (None, "three_tier"):
            k = "n_devices" if "n_users" in params else "n_edges"   # the vocabulary's name of n_users
            raise ValidationError(f"{k} applies to the shipped scenario, scenario 'spec6' or a random instance "
                                  "(seed=...), not to a scenario file", k)
        # the shipped scenario is Scenario.random(seed=0, n_devices=8, n_edges=3, cloud=True); other
        # sizes come from the same generator and seed
        n = check_int("n_users", params.pop("n_users", sc.n_devices), lo=1)
        e = check_int("n_edges", params.pop("n_edges", len(sc.edges)), lo=1)
        sc = Scenario.random(seed=sc.seed, n_devices=n, n_edges=e, cloud=True, name=f"three-tier-{n}-users")
    return from_scenario(sc, fading_seed=fading, **params)

