"""Generate notebooks/three_tier.ipynb (the three-tier split fine-tuning study).

Run: ``python scripts/make_notebook_three_tier.py --execute`` (commits the notebook executed);
``tests/test_notebooks.py`` runs it again (SLOPT_FAST=1 gives the small sweeps).
"""

from __future__ import annotations

from nbtools import write

CELLS: list[tuple[str, str]] = [
    ("md", """# Three-tier split fine-tuning (user / edge / cloud, LoRA)

Spec: `shared/papers/three-tier-llm-sl.md` (SplitLLM, arXiv:2501.13318). The paper's headline:
**peak memory up to 74 % lower** than state-of-the-art benchmarks; nothing else quantitative was
recoverable, so every equation and the §6 setting below are the spec's reconstructions.
Model: `slopt.models.three_tier` (docs: `docs/three_tier.md`).

Contents: (1) the §6 setting and the peak memory per tier vs the §7 baselines, with the
reduction next to the paper's 74 %; (2) where the reduction crosses 74 %; (3) the delay trade-off
over the cut pairs; (4) memory vs the number of edge servers; (5) the cut pair chosen across
memory budgets; (6) Algorithm B vs the exact method; (7) the measured memory check (torch)."""),
    ("code", """%matplotlib inline
import os
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

import slopt.models.three_tier as tt

FAST = os.environ.get("SLOPT_FAST") == "1"
GIB = 2 ** 30
pd.set_option("display.width", 160)
inst = tt.spec6_instance()          # spec §6: GPT-2 medium, N = 10, E = 3, s = 512, b = 4, r = 8, fp16
L_U, L_E = 4, 12                    # the §6 default cuts
print(inst.name, "L =", inst.L, "N =", inst.N, "E =", inst.E)"""),
    ("md", """## 1. Peak memory per tier vs the baselines (§6 setting, cuts 4 / 12)

SplitLLM's headline metric is M_peak^srv = max(cloud, edge) (Eq. 10). Baselines (§7): vanilla SL
(one server stream), SplitFed with one full server-side copy per user, the shared-server model
(PSL), FedLoRA (whole model on the user) and the optional ablation edge-only SFL (no cloud, each
edge serves up to ceil(N/E) users in parallel)."""),
    ("code", """mem = tt.memory_comparison(inst, L_U, L_E)
display(mem.assign(reduction=mem["reduction"].map(lambda r: "" if pd.isna(r) else f"{r:.1%}")))

fig, ax = plt.subplots(figsize=(9, 3.8))
labels = [f"{s}\\n{n}" for s, n in zip(mem.scheme, mem.node)]
colors = ["C0"] * 3 + ["C1"] * (len(mem) - 3)
bars = ax.bar(labels, mem.peak_gib, color=colors)
for b_, r in zip(bars, mem.reduction):
    if not pd.isna(r):
        ax.annotate(f"{r:+.0%}", (b_.get_x() + b_.get_width() / 2, b_.get_height()), ha="center", va="bottom", fontsize=8)
ax.set_ylabel("peak memory (GiB)")
ax.set_title("Peak memory: SplitLLM tiers (blue) vs baselines (orange); label = SplitLLM's reduction "
             "(paper: up to 74 %)", fontsize=9)
ax.tick_params(axis="x", labelsize=8)
plt.tight_layout(); plt.show()"""),
    ("md", """### Fair headline: the paper's figure, ours against the paper's baseline, and against the best-tuned baseline

The paper's "up to 74 %" compares against SplitFed-style benchmarks at unknown settings. Ours is
shown three ways: SplitLLM at the §8.2 cuts (4, 12) against SplitFed at its default cut l_c = 4;
SplitLLM at the cuts P1's optimiser picks (minimum epoch delay); and both against SplitFed at its
**best fixed cut** (least server memory among the cuts whose user part fits the 4 GiB users),
with SplitLLM's own memory-first optimum (P2) as the like-for-like comparison."""),
    ("code", """p1 = tt.exact(inst)                     # P1: the optimiser's cuts (minimum epoch delay)
p2 = tt.memory_first(inst)              # P2: minimum server peak memory
head = tt.headline_table(inst, (L_U, L_E), (p1.decision["l_u"], p1.decision["l_e"]),
                         (p2.decision["l_u"], p2.decision["l_e"]))
display(head.style.format({"reduction": "{:.1%}", "splitllm_server_gib": "{:.3f}", "baseline_server_gib": "{:.3f}"},
                          na_rep="-"))
fig, ax = plt.subplots(figsize=(8, 3.2))
ax.barh(range(len(head)), 100 * head.reduction, color=["k"] + ["C0"] * 2 + ["C1"] * 3)
ax.set_yticks(range(len(head)), head.comparison, fontsize=7)
ax.axvline(0, color="k", lw=0.8); ax.invert_yaxis()
ax.set_xlabel("reduction of peak server memory vs the baseline (%)")
ax.set_title("paper (black), vs SplitFed at l_c = 4 (blue), vs SplitFed at its best cut (orange)", fontsize=9)
plt.tight_layout(); plt.show()"""),
    ("md", """Why they differ: SplitFed keeps one server-side copy of every block per user, so each block
moved from its server to the users saves N copies (1.68 GiB here); at l_c = 4 the baseline keeps
20 blocks x 10 copies on the server and SplitLLM wins by 81.9 %, but the delay-optimal cuts
(1, 2) leave 22 blocks on SplitLLM's cloud (70.5 %), and against SplitFed at its best cut
(l_c = 23) only the memory-first SplitLLM (P2) keeps a large reduction (78.3 %), at a much
longer epoch."""),
    ("md", """The reconstructed model gives **81.9 %** against SplitFed (full copies) and **79.2 %**
against the shared-server model, above the paper's "up to 74 %" (spec §8.2 predicts this).
SL's single server stream uses less memory than SplitLLM's cloud (negative reduction): SL buys
it with sequential training. FedLoRA puts the whole model on the user, whose memory SplitLLM cuts
by 84 %.

## 2. Where does the reduction cross 74 %?

The spec's claim 8: with activations dominating, the reduction approaches
1 − E·A(cloud)/(N·A(server)) and grows with N. Sweep N and E at the §6 cuts."""),
    ("code", """Ns = [5, 10, 20] if FAST else [3, 4, 5, 6, 8, 10, 15, 20, 30, 50]
Es = [1, 3, 5] if FAST else [1, 2, 3, 4, 5, 6]
rows = []
for N in Ns:
    for E in Es:
        if E > N:
            continue
        i = tt.spec6_instance(n_users=N, n_edges=E)
        m = tt.memory_comparison(i, L_U, L_E).set_index("scheme")
        rows.append({"N": N, "E": E, "vs SplitFed": m.loc["SplitFed", "reduction"],
                     "vs shared server": m.loc["shared server (PSL)", "reduction"]})
red = pd.DataFrame(rows)
fig, ax = plt.subplots(figsize=(7, 3.5))
for E, g in red.groupby("E"):
    ax.plot(g.N, 100 * g["vs SplitFed"], "o-", label=f"E={E} vs SplitFed")
    ax.plot(g.N, 100 * g["vs shared server"], "x--", label=f"E={E} vs shared server")
ax.axhline(74, color="k", lw=1, ls=":"); ax.text(Ns[0], 75, "paper: 74 %", fontsize=8)
ax.set_xlabel("users N"); ax.set_ylabel("reduction of peak server memory (%)"); ax.legend(fontsize=7, ncol=2)
plt.tight_layout(); plt.show()
display(red[(red["vs SplitFed"] - 0.74).abs() < 0.08])"""),
    ("md", """## 3. The delay trade-off over the cut pairs

For every memory-feasible cut pair: server peak memory (Eq. 10) against the epoch delay of
Algorithm B's pairing (Eqs. 16-20). Baselines are single points (their own cut l_c = 4)."""),
    ("code", """cp = tt.cut_pair_table(inst)
base = {m: getattr(tt, f"baseline_{m.replace('-', '_')}")(inst) for m in ("sl", "splitfed", "shared-server", "fed-lora", "edge-sfl")}
fig, ax = plt.subplots(figsize=(7, 4))
sc = ax.scatter(cp.epoch_delay_s, cp.server_peak_bytes / GIB, c=cp.l_e, s=10, cmap="viridis")
plt.colorbar(sc, label="l_e")
for k, p in base.items():
    ax.scatter(p.objective, p.metrics["server_peak_bytes"] / GIB, marker="s", s=40, label=k)
d6 = cp[(cp.l_u == L_U) & (cp.l_e == L_E)].iloc[0]
ax.scatter(d6.epoch_delay_s, d6.server_peak_bytes / GIB, marker="*", s=150, c="r", label="SplitLLM (4, 12)")
ax.set_xscale("log"); ax.set_yscale("log")
ax.set_xlabel("epoch delay (s)"); ax.set_ylabel("server peak memory (GiB)"); ax.legend(fontsize=7)
plt.tight_layout(); plt.show()
print(pd.DataFrame({k: {"epoch_delay_s": p.objective, "server_peak_gib": p.metrics["server_peak_bytes"] / GIB}
                    for k, p in base.items()}).T)"""),
    ("md", """SplitLLM trades wall-clock time for memory: at the §6 cuts its epoch (34.4 s) is slower
than SplitFed's (17.5 s) because only E = 3 users train at once, but its server memory is 5.5x
smaller. The fastest cut pairs put only one block on the slow users. (FedLoRA's server holds
only the uploaded adapters; its memory cost sits on each user: 4.7 GiB, the whole model.)

## 4. Memory vs the number of edge servers"""),
    ("code", """Es = [1, 2, 3, 4] if FAST else list(range(1, 11))
rows = []
for E in Es:
    i = tt.spec6_instance(n_users=10, n_edges=E)
    p = tt.algorithm_b(i.with_(cuts=(L_U, L_E)))
    rows.append({"E": E, "cloud_gib": p.metrics["cloud_bytes"] / GIB, "edge_gib": p.metrics["edge_peak_bytes"] / GIB,
                 "total_gib": p.metrics["total_memory_bytes"] / GIB, "epoch_delay_s": p.objective,
                 "cloud_shared_adapter_gib": tt.memory_cloud(i.with_(cloud_adapter="shared"), L_E)["total_bytes"] / GIB})
ev = pd.DataFrame(rows)
fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.5))
a1.plot(ev.E, ev.cloud_gib, "o-", label="cloud (per-stream adapters)")
a1.plot(ev.E, ev.cloud_shared_adapter_gib, "x--", label="cloud (shared adapter)")
a1.plot(ev.E, ev.edge_gib, "s-", label="each edge")
a1.set_xlabel("edge servers E"); a1.set_ylabel("GiB"); a1.legend(fontsize=8)
a2.plot(ev.E, ev.epoch_delay_s, "o-"); a2.set_xlabel("edge servers E"); a2.set_ylabel("epoch delay (s)")
plt.tight_layout(); plt.show()
ev"""),
    ("md", """Cloud memory grows linearly in E (slope = the cloud part's activations, plus its LoRA
state in the per-stream reading; claim 6) and does not depend on N; the epoch gets shorter as E
grows because ceil(N/E) rounds are needed.

## 5. The cut pair chosen across memory budgets

Algorithm B (P1: minimum epoch delay) and the memory-first problem P2 as the cloud budget
shrinks (user 4 GiB, edge 16 GiB as in §6)."""),
    ("code", """budgets = [80, 12, 8, 6, 4] if FAST else [80, 40, 20, 14, 12, 10, 8, 7, 6, 5, 4.5, 4]
rows = []
for B in budgets:
    i = tt.spec6_instance(cloud_memory_bytes=B * GIB)
    try:
        p = tt.algorithm_b(i)
        rows.append({"cloud_budget_gib": B, "l_u": p.decision["l_u"], "l_e": p.decision["l_e"],
                     "epoch_delay_s": p.objective, "cloud_gib": p.metrics["cloud_bytes"] / GIB,
                     "edge_gib": p.metrics["edge_peak_bytes"] / GIB})
    except tt.InfeasibleError as exc:
        rows.append({"cloud_budget_gib": B, "infeasible": str(exc)[:90]})
cuts = pd.DataFrame(rows)
display(cuts)
ok = cuts.dropna(subset=["l_u"])
fig, ax = plt.subplots(figsize=(7, 3.3))
ax.step(ok.cloud_budget_gib, ok.l_u, "o-", where="post", label="l_u")
ax.step(ok.cloud_budget_gib, ok.l_e, "s-", where="post", label="l_e")
ax.set_xscale("log"); ax.set_xlabel("cloud memory budget (GiB)"); ax.set_ylabel("cut (block)"); ax.legend()
plt.tight_layout(); plt.show()
p2 = tt.memory_first(inst)
print("P2 (memory-first, no delay limit): cuts", (p2.decision["l_u"], p2.decision["l_e"]),
      f"server peak {p2.objective / GIB:.3f} GiB, epoch {p2.metrics['epoch_delay_s']:.1f} s")"""),
    ("md", """## 6. Algorithm B vs the exact method

On the shipped scenario (8 users, 3 edges, GPT-2 medium) and on random small instances with
heterogeneous edges (the benchmark `benchmarks/three_tier.py` runs 200)."""),
    ("code", """sh = tt.load()
pb, pe = tt.algorithm_b(sh), tt.exact(sh)
print(f"shipped: Algorithm B {pb.objective:.4f} s at {pb.decision['l_u'], pb.decision['l_e']} ({pb.seconds:.2f} s); "
      f"exact {pe.objective:.4f} s ({pe.status}, {pe.seconds:.2f} s; {pe.solve.message})")
rows = []
for seed in range(6 if FAST else 40):
    i = tt.random_instance(seed, n_users=6, n_edges=2 + seed % 2)
    b, e = tt.algorithm_b(i), tt.exact(i)
    rows.append({"seed": seed, "B_s": b.objective, "exact_s": e.objective, "gap": b.objective / e.objective - 1})
gaps = pd.DataFrame(rows)
print(f"random: gap mean {gaps.gap.mean():.3%}, max {gaps.gap.max():.3%} over {len(gaps)} instances")"""),
    ("md", """## 7. Measured memory check (torch)

One real training step of a small GPT-2-style model (random weights, fp32, CPU), split at
(l_u, l_e) with LoRA on q and v and E concurrent cloud streams. Measured: frozen weights, LoRA
weights + gradients + Adam state, and the activations autograd saved for backward. Model: Eq. 6
with p_w = p_a = 4, p_t = 16, under both activation readings (Eq. 3 with γ = 1, and the analytic
profile's frozen-base count)."""),
    ("code", """try:
    import torch  # noqa: F401
    from dataclasses import replace
    from slopt.profiles.transformer import PRESETS
    meas = tt.measure_memory(replace(PRESETS["gpt2-tiny"], n_layers=4), seq_len=64, batch=4, lora_rank=4,
                             l_u=1, l_e=2, streams=2)
    show = meas[["tier", "measured_bytes", "model_korthikanti_bytes", "rel_error_korthikanti",
                 "model_profile_bytes", "rel_error_profile", "gamma_measured"]]
    display(show.style.format({"rel_error_korthikanti": "{:+.1%}", "rel_error_profile": "{:+.1%}",
                               "gamma_measured": "{:.2f}"}))
    print("frozen weights bit-identical after the step:", bool(meas.frozen_weights_unchanged.all()))
except ImportError:
    print("torch is not installed: the measured check is skipped")"""),
    ("md", """Frozen weights and LoRA state match the model exactly. Eq. 3 with γ = 1 (the spec's
default) over-estimates activations by 25-42 %: it counts the inputs of frozen projections, which
autograd does not keep, and at fp32 Eq. 4 double-counts the logits buffer; the implied γ is about
0.65-0.78. The frozen-base count (`activation_model="profile"`) is within 1 % on the edge and
cloud; it over-estimates the user part, whose first block needs no input gradients at all."""),
]


if __name__ == "__main__":
    write(CELLS, "three_tier")      # --execute: run it and keep the figures and tables
