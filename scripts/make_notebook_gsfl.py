"""Generate notebooks/gsfl.ipynb (GSFL study, spec shared/papers/gsfl-latency.md §7-§9).

    python scripts/make_notebook_gsfl.py [--execute]

The tests execute the notebook with SLOPT_FAST=1 (smaller sweeps).
"""

from __future__ import annotations

from nbtools import write

CELLS: list[tuple[str, str]] = [
    ("md", """# GSFL: group-based split federated learning — round latency and its optimisation

Spec: `shared/papers/gsfl-latency.md` (Zhang, Wu, Hu, Li, Zhang, arXiv:2305.18889). Only the paper's
abstract was recovered: its claim is qualitative — GSFL trains faster than vanilla SL and FL. The
latency model (Eqs. 1–21), problem P and Algorithms 2–5 are the spec's reconstruction, implemented in
`slopt.models.gsfl`. This notebook uses the spec's §7 default setting (VGG-11 on CIFAR-10, N = 20
clients, M = 4 edge servers, 20 MHz, clients at 50–300 m, f_n ∈ [0.5, 1.5] GFLOP/s, F = 100 GFLOP/s).

Readings (switchable, see `docs/gsfl.md`): clients inside a group train **sequentially**
(`intra_group="sequential"`, default; `"parallel"` is GSFL-P, Eq. 21), **fixed spectral efficiency**
rates (`rate_model="fixed-se"`, default; `"shannon"`), groups share the band by FDMA fractions α_k."""),
    ("code", """%matplotlib inline
import os, time
import numpy as np, pandas as pd
import matplotlib.pyplot as plt
from slopt.models import gsfl
from slopt.profiles import shipped, synthetic

FAST = os.environ.get("SLOPT_FAST", "") == "1"
profile = "vgg11" if "vgg11" in shipped() else "vgg11-spec"
inst = gsfl.load(profile if profile == "vgg11" else None)
print("profile:", inst.profile.name, "| layers:", inst.L, "| clients:", inst.N, "| edge servers:", inst.M,
      "| FAST:", FAST)"""),
    ("md", """## 1. The spec's reconstructed default instance (§9)

Mean values: f_n = 1 GFLOP/s, η = 8 bit/s/Hz, cut after layer 2, K = 4 equal groups with α = ¼. The
spec lists SL ≈ 1346.3 s, GSFL ≈ 585.7 s, SFL ≈ 817.5 s, FL ≈ 2358.1 s (consequences of its model,
not the paper's numbers)."""),
    ("code", """s9 = gsfl.load("vgg11-spec", None, device_flops=1e9, eta=8, cut=2)
x4, a4 = np.arange(s9.N) % 4, np.full(4, 0.25)
pd.DataFrame({
    "scheme": ["SL", "GSFL K=4 (α=¼)", "SplitFed (γ=1/20)", "FL (γ=1/20)"],
    "round latency (s)": [gsfl.evaluate(s9, 2, scheme="sl").round_s, gsfl.evaluate(s9, 2, x4, a4).round_s,
                          gsfl.evaluate(s9, 2, scheme="splitfed").round_s, gsfl.evaluate(s9, scheme="fl").round_s],
    "spec §9 (s)": [1346.3, 585.7, 817.5, 2358.1]}).round(1)"""),
    ("md", """## 2. GSFL vs SL, FL and SplitFed on the §7 default setting

GSFL "paper" = Alg. 4 (LPT grouping + bisection bandwidth + local search over cuts and K); "scheme" =
GSFL without optimisation (equal groups, α = 1/K, cut 2). Baselines at their best cut."""),
    ("code", """plans = {m: gsfl.METHODS[m](inst) for m in ("paper", "scheme", "splitfed", "sl", "fl")}
table = pd.DataFrame([{"method": m, "round latency (s)": p.objective, "total R=100 (h)": p.metrics["total_latency_s"] / 3600,
                       "cut": p.decision.get("cut"), "groups": p.decision.get("n_groups"), "seconds": p.seconds}
                      for m, p in plans.items()])
print(table.round(3).to_string(index=False))
assert plans["paper"].objective < min(plans[m].objective for m in ("sl", "fl", "splitfed"))
fig, ax = plt.subplots(figsize=(6, 3))
ax.bar(table["method"], table["round latency (s)"], color=["C0", "C0", "C1", "C2", "C3"])
ax.set_ylabel("round latency (s)"); ax.set_title("GSFL (Alg. 4) vs baselines, §7 setting")
plt.show()"""),
    ("md", """## 2b. The headline, fairly framed

The paper's only recovered result is qualitative: GSFL trains faster than vanilla SL and FL. Below,
ours is the proven optimum of problem P (`exact`, set partitioning over every client subset; the
progress log shows the cuts, the incumbent and the bound), set against each baseline twice: as
the paper's setting runs it (the spec §9 cut after layer 2, equal FDMA shares γ_n = 1/N) and tuned
(its best cut; for FL the FDMA shares that equalise the clients' finish times, Alg. 5 with one
client per "group")."""),
    ("code", """ex = gsfl.method_exact(inst, tee=True)
opt = ex.objective
print(ex.status, "| gap", f"{ex.solve.gap:.1e}", "| bound", round(ex.solve.bound, 3), "| seconds", round(ex.seconds, 2))

def fl_tuned(i):
    # FL: client n finishes at d_n + e_n / gamma_n (e_n: its upload of W at the full band); Alg. 5 equalises them
    lat = gsfl.evaluate(i, scheme="fl")
    c = lat.clients
    e = c["model_upload_s"].to_numpy() / i.N                           # upload time at gamma = 1
    d = (c["model_download_s"] + c["client_forward_s"] + c["client_backward_s"]).to_numpy()
    T, g = gsfl.bandwidth_split(d[None, :], e[None, :])
    return gsfl.evaluate(i, scheme="fl", gamma=g[0]).round_s

paper_cut = 2
rows = []
for name, scheme in (("vanilla SL", "sl"), ("FL (FedAvg)", "fl"), ("SplitFed", "splitfed")):
    as_paper = gsfl.evaluate(inst, scheme=scheme) if scheme == "fl" else gsfl.evaluate(inst, paper_cut, scheme=scheme)
    tuned = fl_tuned(inst) if scheme == "fl" else gsfl.baseline(inst, scheme).round_s
    rows.append({"baseline": name,
                 "paper's figure": "GSFL faster (qualitative)" if scheme != "splitfed" else "not compared",
                 "baseline as in the paper's setting (s)": as_paper.round_s,
                 "ours vs that (%)": 100 * (1 - opt / as_paper.round_s),
                 "best-tuned baseline (s)": tuned,
                 "ours vs best-tuned (%)": 100 * (1 - opt / tuned)})
headline = pd.DataFrame(rows)
print(f"ours: GSFL, proven optimum {opt:.2f} s per round (Alg. 4: {plans['paper'].objective:.2f} s)")
headline.round(2)"""),
    ("md", """The two columns differ only where the paper's setting is not the baseline's best: on this instance
cut 2 is already SL's and SplitFed's best cut, so only FL gains (about 1 %, from FDMA shares that
give slow clients more of the uplink), and GSFL stays ahead because its groups train in parallel on
four edge servers while SL and SplitFed have one server and FL trains the whole model on the clients."""),
    ("md", """## 3. Latency breakdown along the critical path

For GSFL the critical group's clients; for SplitFed and FL the slowest client; for SL all clients."""),
    ("code", """rows = {}
for m in ("paper", "splitfed", "sl", "fl"):
    rows[m] = {k: plans[m].metrics[k] for k in gsfl.COMPONENTS}
bd = pd.DataFrame(rows).T
print(bd.round(2).to_string())
bd.plot.barh(stacked=True, figsize=(7, 3), colormap="tab10")
plt.xlabel("seconds per round"); plt.legend(fontsize=7, loc="lower right"); plt.tight_layout(); plt.show()"""),
    ("md", """## 4. Latency vs the number of groups K

K forced (`n_groups=K`) with M = K edge servers; more groups give more parallel computation but each
group gets less bandwidth (shared band) and synchronisation appears for K ≥ 2."""),
    ("code", """Ks = [1, 2, 4, 6] if FAST else list(range(1, 11))
rows = []
for K in Ks:
    i = inst.replace(edge_flops=np.full(K, inst.edge_flops[0]), n_groups=K)
    p = gsfl.method_paper(i)
    eq = gsfl.method_scheme(i.replace(cut=p.decision["cut"]))
    rows.append({"K": K, "Alg. 4 (s)": p.objective, "equal groups, α=1/K (s)": eq.objective,
                 "sync (s)": p.metrics["distribution_s"] + p.metrics["aggregation_s"]})
byK = pd.DataFrame(rows).set_index("K")
print(byK.round(2).to_string())
byK[["Alg. 4 (s)", "equal groups, α=1/K (s)"]].plot(marker="o", figsize=(5, 3))
plt.ylabel("round latency (s)"); plt.show()"""),
    ("md", """## 5. Latency vs the number of clients N"""),
    ("code", """Ns = [10, 20, 30] if FAST else [10, 20, 30, 40, 50]
rows = []
for N in Ns:
    i = gsfl.load(profile if profile == "vgg11" else None, None, n_devices=N, n_samples=50_000 // N)
    rows.append({"N": N, **{m: gsfl.METHODS[m](i).objective for m in ("paper", "splitfed", "sl", "fl")}})
byN = pd.DataFrame(rows).set_index("N")
print(byN.round(1).to_string())
byN.plot(marker="o", logy=True, figsize=(5, 3)); plt.ylabel("round latency (s)")
plt.title("CIFAR-10 (50k samples) split evenly over N clients"); plt.show()"""),
    ("md", """## 6. Latency vs the cut layer c"""),
    ("code", """rows = []
for c in inst.cuts:
    i = inst.replace(cut=c)
    rows.append({"cut": c, "layer": inst.profile.names[c - 1], "GSFL Alg. 4": gsfl.method_paper(i).objective,
                 "SplitFed": gsfl.evaluate(i, c, scheme="splitfed").round_s, "SL": gsfl.evaluate(i, c, scheme="sl").round_s})
byc = pd.DataFrame(rows).set_index("cut")
print(byc.round(1).to_string())
byc[["GSFL Alg. 4", "SplitFed", "SL"]].plot(marker="o", logy=True, figsize=(6, 3))
plt.axhline(plans["fl"].objective, color="k", ls="--", label="FL"); plt.legend(); plt.ylabel("round latency (s)"); plt.show()"""),
    ("md", """## 7. The heuristic's gap to the proven optimum, by instance class

Random instances (synthetic 6-layer chain, 6-12 clients, 2-4 edge servers) in two classes:
identical edge servers and heterogeneous ones (F_k uniform in 10-200 GFLOP/s). The optimum is the
`exact` method's (proven within relative 1e-6); "without re-mapping" is Alg. 4 with moves and swaps
only, which cannot hand a whole group to another server. `benchmarks/gsfl.py` runs more instances
and two more classes (memory-tight, near-ties) and the time-to-proof curve."""),
    ("code", """n_inst = 6 if FAST else 30
rows = []
for cls in ("identical", "heterogeneous"):
    for seed in range(n_inst):
        rng = np.random.default_rng(10_000 + seed)
        M = int(rng.integers(2, 5))
        kw = {"edge_flops": list(rng.uniform(10e9, 200e9, M))} if cls == "heterogeneous" else {}
        i = gsfl.random_instance(seed, n_devices=int(rng.integers(6, 13)), n_edges=M, profile=synthetic.chain(6),
                                 n_samples=int(rng.integers(100, 2500)), **kw)
        opt_i = gsfl.method_exact(i).objective
        c, x, _ = gsfl.heuristic(i, remap=False)
        rows.append({"class": cls, "Alg. 4 gap %": 100 * (gsfl.method_paper(i).objective / opt_i - 1),
                     "Alg. 4 without re-mapping gap %": 100 * (gsfl._final(i, c, x)[0].round_s / opt_i - 1),
                     "unoptimised scheme gap %": 100 * (gsfl.method_scheme(i).objective / opt_i - 1)})
gaps = pd.DataFrame(rows)
summary = gaps.groupby("class").agg(["mean", "max"])
print(summary.round(4).to_string())
ax = gaps.boxplot(column=["Alg. 4 gap %", "Alg. 4 without re-mapping gap %"], by="class", figsize=(7, 3))
plt.suptitle(""); plt.tight_layout(); plt.show()"""),
    ("md", """## 8. The readings: sequential vs parallel groups, fixed-SE vs Shannon rates, shared band"""),
    ("code", """rows = []
for label, kw in [("sequential, fixed-SE (default)", {}), ("parallel (GSFL-P, Eq. 21)", {"intra_group": "parallel"}),
                  ("sequential, Shannon", {"rate_model": "shannon"}), ("own band per group", {"shared_band": False})]:
    i = inst.replace(cut=2, **kw)
    p = gsfl.method_paper(i)
    rows.append({"reading": label, "Alg. 4 round latency (s)": p.objective, "groups": p.decision["n_groups"]})
print(pd.DataFrame(rows).round(2).to_string(index=False))"""),
    ("md", """## Observations (consequences of the reconstructed model, not the paper's numbers)

* On the §7 setting GSFL with Alg. 4 is faster per round than SplitFed, SL and FL — the paper's
  qualitative claim (C8). Cutting after the first pooling layer (c = 2) is best for GSFL, SL and
  SplitFed: the smashed data is 4× smaller than after conv1 while the client computation stays small.
* Communication dominates GSFL's critical path (upload + download of smashed data and gradients);
  with a shared band, grouping parallelises computation but not communication (C3), so the gain of
  more groups flattens; the optimal bandwidth split (Alg. 5) matters more as groups get unequal.
* Alg. 4 is within a fraction of a percent of the proven optimum; with heterogeneous edge servers
  it needs the group-to-server re-mapping (an assignment problem per move), without which it
  misses by up to a few percent. The exact method proves the 20-client default optimal in seconds
  (set partitioning over all 2^20 client subsets; the compact MISOCP stops finishing within 60 s
  from about 12 clients, `benchmarks/gsfl.py`)."""),
]


if __name__ == "__main__":
    write(CELLS, "gsfl")
