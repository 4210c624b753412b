"""Generate notebooks/dag_split.ipynb (the dag-split study, spec min-cut-splitting.md).

Run: ``python scripts/make_notebook_dag_split.py [--execute]`` (``--execute`` runs it and keeps
the outputs); the tests execute the notebook with SLOPT_FAST=1 (small sizes).
"""

from nbtools import write

CELLS = [
    ("md", """# Optimal DAG model splitting as a minimum s-t cut

Spec: `shared/papers/min-cut-splitting.md` (Li et al., *Fast AI Model Splitting over Edge
Networks*, arXiv:2507.01041). One device and one edge server train a model together; the device
runs an ancestor-closed set D of layers, uploads every cut activation once and downloads its
gradient once. The per-iteration delay (spec Eq. 6)

$$T(D) = \\sum_{v\\in D}\\tau^{dev}_v + \\sum_{v\\notin D}\\tau^{srv}_v + \\sum_u z_u(D)\\,\\tau^{com}_u$$

is minimised exactly by a minimum s-t cut (Algorithm A, spec §5.1). This notebook shows a split
of a residual and of an inception-like model, the delay breakdown of every method, the optimal
delay versus the uplink rate, and the dynamic-network comparison of spec §7."""),
    ("code", """import os
import numpy as np
import pandas as pd
%matplotlib inline
import matplotlib.pyplot as plt
from slopt.models import dag_split as ds
from slopt.profiles import shipped, load_shipped

FAST = os.environ.get("SLOPT_FAST") == "1"
have = set(shipped())
residual = "resnet18" if "resnet18" in have else "residual_chain"
incep = "googlenet" if "googlenet" in have else "inception"
print("shipped profiles:", sorted(have), "| FAST =", FAST)"""),
    ("md", """## 1. A split of a residual model

A weak device (f_dev = 10^11 FLOP/s) and a 200 Mbit/s uplink: the optimal split keeps the stem on
the device and sends one tensor. The plan's objective is recomputed by `evaluate()`."""),
    ("code", """params = dict(device_flops=1e11, server_flops=2e13, uplink_bps=2e8, downlink_bps=4e8, batch=32)
g_res = load_shipped(residual)
inst_res = ds.make_instance(g_res, **params)
plan = ds.METHODS["a"](inst_res)
print(f"{residual}: T* = {plan.objective:.4f} s, device layers = {plan.metrics['n_device_layers']}"
      f"/{g_res.n}, cut tensors = {plan.decision['cut_tensors']}")
pd.Series({k: plan.metrics[k] for k in ("device_compute_s", "server_compute_s", "upload_s", "download_s")})"""),
    ("code", """x = np.isin(np.asarray(g_res.names), plan.decision["device_layers"])
small = ds.make_instance(load_shipped("residual_chain"), **params)
xs, _ = ds.algorithm_a(small)
fig, axes = plt.subplots(1, 2, figsize=(11, 6))
ds.plot_split(small, xs, ax=axes[0], title="residual_chain: device blue, server orange")
ds.plot_split(inst_res, x, ax=axes[1], title=f"{residual}")
plt.tight_layout(); plt.show()"""),
    ("md", """## 2. An inception-like model and the spec's hand example of Claim 6.7

On the shipped profiles the optimum is a single tensor right after the stem or everything on the
device. Claim 6.7 (spec §6) is a DAG where the optimum sends **two** small reduced tensors
instead of one large one: A and B2 find it (8.5 s), the boundary-only B1 cannot (15.5 s)."""),
    ("code", """g_inc = load_shipped(incep)
inst_inc = ds.make_instance(g_inc, **params)
p_inc = ds.METHODS["a"](inst_inc)
print(f"{incep}: T* = {p_inc.objective:.4f} s, cut tensors = {p_inc.decision['cut_tensors']}")
hand = ds.instance_from_delays(7, [0, 1, 0, 3, 2, 4, 5], [1, 2, 3, 4, 5, 5, 6],
                               names=["in", "r2", "b2", "r3", "b3", "x", "h"],
                               tau_dev_s=[1, 1, 4, 1, 4, 1, 4], tau_srv_s=[0, .5, 1, .5, 1, .5, 1],
                               tau_com_s=[10, 1, 5, 1, 5, 10, 0], block=["in"] + ["B"] * 5 + ["h"])
rows = []
for m in ("a", "b1", "b2", "brute", "milp", "lp"):
    p = ds.METHODS[m](hand)
    rows.append({"method": m, "T_s": p.objective, "device layers": p.decision["device_layers"],
                 "cut tensors": p.decision["cut_tensors"]})
xh, _ = ds.algorithm_a(hand)
fig, ax = plt.subplots(figsize=(6, 5))
ds.plot_split(hand, xh, ax=ax, title="Claim 6.7: two reduced tensors cross (red)")
plt.show()
pd.DataFrame(rows)"""),
    ("md", """## 3. Delay breakdown of every method (spec §8 baselines)

`chain` tries the prefixes of one topological order priced exactly; `neurosurgeon` prices each
prefix as if the model were a chain (only the last layer's output is sent) and is then re-priced
exactly; `greedy` grows D one layer at a time; `device-only` is D = V, `server-only` D = V_in."""),
    ("code", """methods = ["a", "b1", "b2", "milp", "chain", "neurosurgeon", "greedy", "device-only", "server-only"]
parts = ["device_compute_s", "server_compute_s", "upload_s", "download_s"]
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, (name, inst) in zip(axes, [(residual, inst_res), (incep, inst_inc)]):
    tab = pd.DataFrame({m: {k: ds.METHODS[m](inst).metrics[k] for k in parts} for m in methods}).T
    tab.plot.bar(stacked=True, ax=ax, title=f"{name}: per-iteration delay by part (s)")
    ax.set_yscale("log")
plt.tight_layout(); plt.show()
tab.assign(total_s=tab.sum(axis=1))"""),
    ("md", """## 4. Optimal delay versus uplink rate (spec §9 (ii))

T* is non-increasing in the rates (Claim 6.10); it bends where the optimal split moves."""),
    ("code", """rates = np.geomspace(1e6, 1e10, 12 if FAST else 40)
fig, ax = plt.subplots(figsize=(7, 4))
for name in [n for n in ("residual_chain", "inception", residual, incep, "vit_b16", "gpt2") if n in have][:5]:
    g = load_shipped(name)
    t = [ds.METHODS["a"](ds.make_instance(g, **{**params, "uplink_bps": r, "downlink_bps": 2 * r})).objective
         for r in rates]
    ax.loglog(rates / 1e6, t, label=name)
ax.set_xlabel("uplink rate R_up (Mbit/s), R_dn = 2 R_up"); ax.set_ylabel("optimal T* (s)")
ax.legend(); ax.grid(True, which="both", alpha=0.3); plt.show()"""),
    ("md", """## 5. Dynamic edge network (spec §7)

Per 1 s slot the rates and the device throughput are drawn afresh (i.i.d. uniform: R_up 10–100
Mbit/s, R_dn 50–200 Mbit/s, f_dev 0.05–0.2 TFLOP/s, a weak device so that splits move). Each
method re-splits every slot; `fixed` keeps A's split for the mean state. Protocol P-a (stale):
the new split takes effect after the method's measured running time. The reduction is
ρ = (T_bench − T_A) / T_bench."""),
    ("code", """ranges = dict(ds.DYNAMIC_RANGES, device_flops=(0.05e12, 0.2e12))
dyn_methods = ("a", "b2", "fixed", "chain", "neurosurgeon", "greedy", "device-only", "server-only")
if not FAST:
    dyn_methods = dyn_methods + ("milp",)
summaries = []
for name in (residual, incep):
    per_slot, summ = ds.dynamic_study(load_shipped(name), n_slots=20 if FAST else 200, seed=0,
                                      ranges=ranges, methods=dyn_methods, protocol="stale")
    summaries.append(summ.assign(model=name))
summary = pd.concat(summaries)
fig, ax = plt.subplots(figsize=(9, 4))
summary.pivot(index="method", columns="model", values="mean_delay_s").loc[list(dyn_methods)].plot.bar(ax=ax)
ax.set_yscale("log"); ax.set_ylabel("mean per-iteration delay (s)"); plt.show()
summary[["model", "method", "mean_delay_s", "mean_t_alg_s", "reduction_by_a_pct"]]"""),
    ("code", """fig, ax = plt.subplots(figsize=(9, 3.5))
for m in ("a", "fixed", "neurosurgeon", "device-only"):
    d = per_slot[per_slot.method == m]
    ax.plot(d.slot, d.slot_delay_s, label=m, drawstyle="steps-mid")
ax.set_xlabel("slot"); ax.set_ylabel("per-iteration delay (s)"); ax.set_title(f"{incep}, per slot")
ax.legend(); plt.show()"""),
    ("md", """**Reading.** The exact methods (A, B2, MILP) give the same split; their only difference in
the dynamic study is the running time charged under protocol P-a. On these profiles the optimal
split is one tensor after the stem or everything on the device, so the exact prefix search
(`chain`) is as good as A, and the paper's 24.62–38.95 % reduction shows only against the
Neurosurgeon-style chain pricing, the greedy heuristic and the extreme splits (see
`docs/dag_split.md`)."""),
    ("md", """## 6. Running time (spec §6.11)

A with OR-Tools (end-to-end from the profile arrays), A with networkx, B2 and the MILP on a few
shipped profiles; `benchmarks/dag_split.py` has the full table up to 10^6 layers."""),
    ("code", """import time

def med(f, k=5):
    ts = []
    for _ in range(k):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) * 1e3

rows = []
for name in [n for n in ("residual_chain", "inception", residual, incep) if n in have]:
    g = load_shipped(name)
    inst = ds.make_instance(g, **params)
    rows.append({"model": name, "layers": g.n,
                 "A OR-Tools (ms)": med(lambda: ds.algorithm_a(ds.make_instance(g, **params))),
                 "A networkx (ms)": med(lambda: ds.algorithm_a(inst, "networkx"), 2),
                 "B2 (ms)": med(lambda: ds.algorithm_b2(inst)),
                 "MILP HiGHS (ms)": med(lambda: ds.milp(inst, "highs", "cvxpy"), 1)})
runtime = pd.DataFrame(rows)
runtime.round(3)"""),
    ("md", """## 7. The paper's headline figures beside ours (spec §9)

The paper's numbers are from its abstract; ours are measured above in this notebook (the
dynamic study of section 5, the running times of section 6). Which benchmarks and models the
paper's range spans is unknown (spec §10.9), so ours is given per benchmark family."""),
    ("code", """bench = summary[~summary.method.isin(["a", "b2", "milp"])]
red = bench.groupby("method")["reduction_by_a_pct"].agg(["min", "max"])
vs = "; ".join(f"{m} {r['min']:.1f}-{r['max']:.1f} %" for m, r in red.iterrows())
headline = pd.DataFrame([
    {"quantity": "time to compute the optimal split (A)", "paper": "within milliseconds (v1/v2)",
     "ours": f"{runtime['A OR-Tools (ms)'].min():.2f}-{runtime['A OR-Tools (ms)'].max():.2f} ms "
             f"end-to-end on {len(runtime)} shipped profiles"},
    {"quantity": "training-delay reduction in dynamic networks", "paper": "24.62-38.95 % (v1/v2)",
     "ours": f"rho = (T_bench - T_A) / T_bench over {bench.model.nunique()} models: {vs}"},
    {"quantity": "running-time reduction", "paper": "up to 13.0x (v4, baseline unknown)",
     "ours": f"MILP / A: {(runtime['MILP HiGHS (ms)'] / runtime['A OR-Tools (ms)']).max():.0f}x, "
             f"networkx A / OR-Tools A: {(runtime['A networkx (ms)'] / runtime['A OR-Tools (ms)']).max():.0f}x"},
])
headline"""),
]

if __name__ == "__main__":
    write(CELLS, "dag_split")
