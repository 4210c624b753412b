"""Generate notebooks/sft.ipynb (split fine-tuning study, spec sft-two-timescale.md §7-9).

Run:  python scripts/make_notebook_sft.py --execute   (committed executed, with its figures)
The tests execute the notebook with SLOPT_FAST=1 (smaller sizes).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbtools import write  # noqa: E402

CELLS: list[tuple[str, str]] = []


def md(s: str) -> None:
    CELLS.append(("md", s.strip()))


def code(s: str) -> None:
    CELLS.append(("code", s.strip()))


md("""
# Split fine-tuning (SFT): compression, block allocation and spectrum — spec §7 study

Reproduction study of *Split Fine-Tuning for LLMs in Wireless Networks* (arXiv:2501.09237) on the
reconstructed model of `shared/papers/sft-two-timescale.md`: ViT-B/16 with LoRA (r = 8 on q, v),
b = 16, q = 4, N devices at 50-500 m, 20/20 MHz, 0.5-2 TFLOP/s devices, 10 TFLOP/s server,
0.4-1.2 GB device memory, Rayleigh fading clipped at h_min = 1e-2. All numbers are those of our
reconstructed model, not the paper's (its body was not available). Under the tests
(`SLOPT_FAST=1`) the sizes are reduced.
""")
code("""
%matplotlib inline
import os, time
import numpy as np, pandas as pd
import matplotlib.pyplot as plt
from slopt.models import sft
from slopt.compression import encode, eq7_bits, binary_entropy

FAST = os.environ.get("SLOPT_FAST") == "1"
N = 5 if FAST else 10          # spec §7: N = 10
H = 8 if FAST else 32          # SAA channel samples
SLOTS = 5 if FAST else 100     # slots of the simulated frame (small timescale)
inst = sft.load(None, None, n_devices=N, H=H, n_slots=SLOTS, seed=1)
print(f"N = {inst.N}, L = {inst.L}, theta_req = {inst.theta_req:.3f}, block caps l_mem = {inst.l_cap.tolist()}")
""")
md("""
## 1. The compressor on real activations vs the size model (Eq. 7)

Block output of a tiny GPT-2 built from a config with random weights (no download), and i.i.d.
Gaussian activations of the ViT-B/16 cut shape. Measured = Top-K + stochastic 4-bit quantisation +
coding of the mask (rANS range coder — the default —, gap/Golomb-Rice, zlib or lzma), decoded back
losslessly.
""")
code("""
rows = []
acts = {"gaussian (b=4, s=197, d=768)": np.random.default_rng(0).standard_normal((4, 197, 768)).astype(np.float32)}
try:
    import torch, transformers
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_layer=2, n_embd=128, n_head=4, vocab_size=500, n_positions=64, bos_token_id=0, eos_token_id=0)
    gpt = transformers.GPT2Model(cfg).eval()
    with torch.no_grad():
        acts["tiny GPT-2 block 1 (b=8, s=64, d=128)"] = gpt(torch.randint(0, 500, (8, 64)), output_hidden_states=True).hidden_states[1].numpy()
except ImportError:
    print("torch/transformers not installed: Gaussian activations only")
for name, x in acts.items():
    hdr = 32 * x.shape[0] * x.shape[1]
    for theta in (0.01, 0.05, 0.1, 0.2, 0.3, 0.5):
        for codec in ("rans", "golomb", "zlib", "lzma"):
            enc = encode(x, theta, 4, codec=codec, seed=0)
            pred = float(eq7_bits(x.size, theta, 4, hdr))
            rows.append({"activations": name, "theta": theta, "codec": codec,
                         "measured bits/elem": (enc.total_bits - enc.bits["framing"]) / x.size,
                         "Eq. 7 bits/elem": pred / x.size,
                         "measured / Eq. 7": (enc.total_bits - enc.bits["framing"]) / pred})
comp = pd.DataFrame(rows)
comp.pivot_table(index=["activations", "theta"], columns="codec", values="measured / Eq. 7").round(3)
""")
code("""
fig, ax = plt.subplots(figsize=(6, 3.5))
for (name, codec), g in comp.groupby(["activations", "codec"]):
    ax.plot(g["theta"], g["measured bits/elem"], marker="o", ms=3, label=f"{codec}: {name[:12]}")
th = np.linspace(0.005, 0.6, 100)
ax.plot(th, eq7_bits(1, th, 4), "k--", label="Eq. 7 (no header)")
ax.set_xlabel("keep ratio theta"); ax.set_ylabel("bits per activation element"); ax.legend(fontsize=6)
ax.set_title("compressed size: measured vs Eq. 7 (q = 4)");
""")
md("""
## 2. Fine-tuning delay per scheme

`paper` = Algorithm 1 (ALM over keep ratios and block allocation, SQP per slot); the baselines of
spec §8 go through the same `evaluate()`. The paper reports up to **80.2 %** (arXiv v1) / **66.4 %**
(journal) lower delay than the best benchmark.
""")
code("""
t0 = time.perf_counter()
plans = {"paper": sft.paper(inst)}
for b in ("no-compression", "sl", "sfl", "cpsl", "fl", "equal-spectrum", "fixed-split", "quant-only"):
    plans[b] = sft.baseline(inst, b)
if inst.N <= 5:                 # proven branch-and-bound; stops at its time limit with the gap
    plans["exact"] = sft.exact(inst, time_limit=20)
    print(f"exact: {plans['exact'].status}, gap {plans['exact'].solve.gap:.2e}")
table = pd.DataFrame([{"scheme": k, "delay_h": p.objective / 3600, "per_iteration_s": p.metrics["delay_per_iteration_s"],
                       "comm_Mbit_per_iter": p.metrics["communication_bits_per_iteration"] / 1e6,
                       "feasible": bool(p.metrics["feasible"]), "blocks": p.decision["blocks"]} for k, p in plans.items()])
ref = plans["paper"].objective
table["paper's reduction vs this scheme %"] = 100 * (1 - ref / table["delay_h"] / 3600)
print(f"computed in {time.perf_counter() - t0:.1f} s")
table.round(3)
""")
code("""
feasible_benchmarks = table[(table.scheme != "paper") & (table.scheme != "exact") & table.feasible]
best = feasible_benchmarks.sort_values("delay_h").iloc[0]
largest = feasible_benchmarks.sort_values("delay_h").iloc[-1]
print(f"reduction vs the best feasible benchmark ({best.scheme}): {100 * (1 - ref / 3600 / best.delay_h):.1f} %")
print(f"largest reduction (vs {largest.scheme}): {100 * (1 - ref / 3600 / largest.delay_h):.1f} %   "
      f"[paper: up to 80.2 % (arXiv v1), 66.4 % (journal)]")
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.bar(table.scheme, table.delay_h, color=["C2" if f else "C3" for f in table.feasible])
ax.set_ylabel("fine-tuning delay, h"); ax.set_title("delay per scheme (red: violates memory)")
plt.xticks(rotation=30);
""")
md("""
### Headline beside the paper's figure

The paper compares against unnamed "state-of-the-art benchmarks". Our reading of its reference
scheme is vanilla split learning (SL, devices one after another, raw activations, at its best
common split); the best-tuned baseline is the best feasible scheme of all baselines, each with its
own decisions optimised.
""")
code("""
p = plans["paper"]
sl = plans["sl"]
best_b = feasible_benchmarks.sort_values("delay_h").iloc[0]
quant = plans["quant-only"]
headline = pd.DataFrame([
    {"quantity": "fine-tuning delay reduction",
     "paper's figure": "80.2 % (arXiv v1) / 66.4 % (journal)",
     "ours vs the paper's baseline (SL)": f"{100 * (1 - p.objective / sl.objective):.1f} %",
     "ours vs the best-tuned baseline": f"{100 * (1 - p.objective / (best_b.delay_h * 3600)):.1f} % ({best_b.scheme})"},
    {"quantity": "communication reduction per iteration",
     "paper's figure": "93.6 %",
     "ours vs the paper's baseline (SL)": f"{100 * p.metrics['communication_reduction']:.1f} % (raw fp32 both ways)",
     "ours vs the best-tuned baseline": f"{100 * (1 - p.metrics['communication_bits_per_iteration'] / quant.metrics['communication_bits_per_iteration']):.1f} % (quant-only)"},
])
headline
""")
md("""
They differ because SL sends raw fp32 activations one device at a time, so most of its delay is
communication that any compressing, parallel scheme removes; the best-tuned baseline (SFT's own
decisions with equal spectrum) already compresses and runs in parallel, so what remains is only the
gain of optimising the spectrum per slot.
""")
md("## 3. Communication per iteration (paper: 93.6 % lower)")
code("""
p = plans["paper"]
red = 100 * p.metrics["communication_reduction"]
print(f"SFT sends {p.metrics['communication_bits_per_iteration'] / 1e6:.1f} Mbit per iteration vs "
      f"{p.metrics['raw_communication_bits_per_iteration'] / 1e6:.1f} Mbit raw: {red:.1f} % less "
      f"[paper: 93.6 %]; uplink {p.metrics['bits_per_element_uplink']:.2f} bit/element")
p.details["devices"][["device", "blocks", "theta", "compression_rate", "uplink_bits", "downlink_bits"]].round(4)
""")
md("## 4. Memory per device vs budget (Eq. 11)")
code("""
dv = p.details["devices"]
fig, ax = plt.subplots(figsize=(6, 3))
xs = np.arange(len(dv))
ax.bar(xs - 0.2, dv.memory_bytes / 1e9, 0.4, label="SFT device-side model")
ax.bar(xs + 0.2, dv.memory_budget_bytes / 1e9, 0.4, label="budget M_max")
ax.plot(xs, plans["fl"].details["devices"].memory_bytes / 1e9, "r_", ms=20, label="FL (whole model)")
ax.set_xticks(xs, dv.device); ax.set_ylabel("GB"); ax.legend(fontsize=7);
""")
md("## 5. ALM convergence (Algorithm 2): objective and constraint violation per outer iteration")
code("""
h = p.details["alm"]
fig, ax = plt.subplots(1, 2, figsize=(8, 3))
ax[0].plot(h.outer, h.J_s / 3600, marker="o"); ax[0].set_xlabel("outer iteration"); ax[0].set_ylabel("J, h")
ax[1].semilogy(h.outer, np.maximum(h.violation, 1e-16), marker="o"); ax[1].set_xlabel("outer iteration"); ax[1].set_ylabel("violation")
print(p.details["integer_recovery"])
h
""")
md("## 6. Delay vs number of devices and vs bandwidth")
code("""
Ns = [3, 5] if FAST else [5, 10, 20]
Bs = [10e6, 30e6] if FAST else [10e6, 20e6, 30e6, 50e6]
rows = []
for n in Ns:
    i2 = sft.load(None, None, n_devices=n, H=H, n_slots=1, seed=1)
    rows.append({"sweep": "devices", "value": n, "paper": sft.alm(i2).J,
                 "no-compression": sft.baseline(i2, "no-compression").objective, "sl": sft.baseline(i2, "sl").objective})
for B in Bs:
    i2 = sft.load(None, None, n_devices=N, H=H, n_slots=1, seed=1, bandwidth_hz=B)
    rows.append({"sweep": "bandwidth_MHz", "value": B / 1e6, "paper": sft.alm(i2).J,
                 "no-compression": sft.baseline(i2, "no-compression").objective, "sl": sft.baseline(i2, "sl").objective})
sw = pd.DataFrame(rows)
sw["reduction_vs_no_compression_%"] = 100 * (1 - sw.paper / sw["no-compression"])
sw["reduction_vs_sl_%"] = 100 * (1 - sw.paper / sw.sl)
fig, ax = plt.subplots(1, 2, figsize=(9, 3))
for k, (name, g) in enumerate(sw.groupby("sweep", sort=False)):
    for col in ("paper", "no-compression", "sl"):
        ax[k].plot(g.value, g[col] / 3600, marker="o", label=col)
    ax[k].set_xlabel(name); ax[k].set_ylabel("delay, h"); ax[k].legend(fontsize=7)
print(f"largest reduction over the sweeps: {max(sw['reduction_vs_no_compression_%'].max(), sw['reduction_vs_sl_%'].max()):.1f} % "
      "[paper: up to 80.2 % / 66.4 %]")
sw.round(2)
""")
md("""
## What differs from the paper's headline numbers

* The delay reductions here are against our reconstructed baselines in our reconstructed delay model;
  with q = 4 and the accuracy requirement theta_req = 0.17, SFT sends ~1.4 bit per activation element
  instead of 32, so against uncompressed schemes the reduction is larger than 80.2 %; against
  baselines that also compress (quant-only, fixed-split) it is smaller.
* The communication reduction counts uplink activations and downlink gradients (Eq. 7, Eq. 9) against
  raw fp32 both ways; the paper's 93.6 % corresponds to ~2 bit per element.
""")

if __name__ == "__main__":
    write(CELLS, "sft")
