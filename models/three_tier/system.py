"""Three-tier system equations: memory (spec §3.3, Eqs. 6-10), delay (§3.4, Eqs. 13-20),
``evaluate()`` of any decision, the per-cut-pair delay lower bound, the aggregation rule (Eq. 21)
and the measured memory check of one training step (torch, :func:`measure_memory`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from slopt.errors import InfeasibleError, ValidationError
from slopt.profiles.transformer import PRESETS, TransformerConfig
from slopt.validate import as_float_array, check_array

from .instance import Instance, check_cut_pair, spec6_instance

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

    ``runtime_peak_bytes`` is each tier's peak measured the way the split-training runtime
    measures a side (:func:`slopt.runtime.memory.MemoryTracker`: every storage the tier's
    operators create, from creation until freed, plus its weights and the input it receives), so
    three-tier and the dag-split runtime report peak memory the same way.
    ``runtime_forward_end_bytes`` (the tracker at the end of the tier's forward) equals
    ``forward_end_explained_bytes``: weights + the distinct storages of the saved activations,
    the tier's input and its output (the output is not saved; edge and cloud also save their
    input, which ``activation_bytes`` counts).

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

    # peak memory per tier, measured as the split-training runtime measures each side
    # (slopt.runtime.memory: every storage a tier's operators create, live until freed)
    from slopt.runtime.memory import MemoryTracker

    # (baseline of a tier: its weights and the input it receives, as the runtime's server counts
    # the received tensors; the user reads its own batch, not a slice of every stream's)
    idx = torch.randint(0, V, (streams, batch, seq_len))
    tgt = torch.randint(0, V, (streams, batch, seq_len))
    idx_u = idx[0].clone()
    trackers = {"user": MemoryTracker([user, idx_u])}
    fwd_end: dict[str, tuple[int, int]] = {}    # tier: (tracker at the end of forward, explained)

    def explained(saved, mods, held) -> int:    # weights + distinct storages of saved/inputs/outputs
        ps = [p for m in mods for p in m.parameters()]
        pids = {p.untyped_storage().data_ptr() for p in ps}
        return bytes_of(ps) + bytes_of([t for t in [*saved, *held] if t.untyped_storage().data_ptr() not in pids])

    # user part (stream 0 only: one user per edge)
    def user_fwd():
        x = user[0](idx_u)
        for blk in user[1:]:
            x = blk(x)
        return x
    with trackers["user"]:
        h_u, saved_u = run_saved(user_fwd)
    fwd_end["user"] = (trackers["user"].current(), explained(saved_u, [user], [idx_u, h_u]))
    h_u_in = h_u.detach().requires_grad_(True)
    trackers["edge"] = MemoryTracker([edge, h_u_in])

    def edge_fwd():
        x = h_u_in
        for blk in edge:
            x = blk(x)
        return x
    with trackers["edge"]:
        h_e, saved_e = run_saved(edge_fwd)
    fwd_end["edge"] = (trackers["edge"].current(), explained(saved_e, [edge], [h_u_in, h_e]))
    h_e_in = [h_e.detach().requires_grad_(True)] + [h_e.detach().clone().requires_grad_(True)
                                                   for _ in range(streams - 1)]
    trackers["cloud"] = MemoryTracker([*cloud_blocks, head, *h_e_in, tgt])

    def cloud_fwd():
        losses = []
        for sidx in range(streams):
            x = h_e_in[sidx]
            for blk in cloud_blocks[sidx]:
                x = blk(x)
            losses.append(head(x, tgt[sidx]))
        return losses
    with trackers["cloud"]:
        losses, saved_c = run_saved(cloud_fwd)
    fwd_end["cloud"] = (trackers["cloud"].current(), explained(saved_c, [*cloud_blocks, head], [*h_e_in, tgt, *losses]))

    def act_bytes(saved, mods, inputs=()):
        pids = {p.untyped_storage().data_ptr() for m in mods for p in m.parameters()}
        pids |= {t.untyped_storage().data_ptr() for t in inputs}   # received inputs: counted as the sender's
        return bytes_of([t for t in saved if t.untyped_storage().data_ptr() not in pids])

    acts = {"user": act_bytes(saved_u, [user]), "edge": act_bytes(saved_e, [edge]),
            "cloud": act_bytes(saved_c, [*cloud_blocks, head])}
    # backward through all three parts and one Adam step per part
    with trackers["cloud"]:
        sum(losses).backward()
    with trackers["edge"]:
        h_e.backward(h_e_in[0].grad)
    with trackers["user"]:
        h_u.backward(h_u_in.grad)
    stat = {"user": static([user]), "edge": static([edge]), "cloud": static([*cloud_blocks, head])}
    rows = []
    for tier, st in stat.items():
        opt = torch.optim.Adam(st["lora_params"], lr=1e-3)
        with trackers[tier]:
            opt.step()
        grads = bytes_of([p.grad for p in st["lora_params"] if p.grad is not None])
        state = bytes_of([v for s_ in opt.state.values() for v in s_.values() if torch.is_tensor(v) and v.dim() > 0])
        rows.append({"tier": tier, "frozen_bytes": st["frozen"], "lora_state_bytes": st["lora"] + grads + state,
                     "activation_bytes": acts[tier], "runtime_peak_bytes": int(trackers[tier].peak),
                     "runtime_forward_end_bytes": fwd_end[tier][0], "forward_end_explained_bytes": fwd_end[tier][1]})
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
    df["rel_error_runtime_peak"] = df["model_korthikanti_bytes"] / df["runtime_peak_bytes"] - 1
    df["frozen_weights_unchanged"] = unchanged
    return df


