"""GSFL benchmark: Alg. 4's gap to the proven optimum per instance class, and time to proof vs N.

1. Gap of Alg. 4 (method "paper": LPT + Alg. 5 + local search with group-to-server re-mapping)
   to the exact optimum (method "exact": set partitioning over every client subset, proven within
   relative 1e-6), per class, each on a 6-layer synthetic chain (5 cuts), §7 distributions:
   - identical:      N 6-14 clients, M 2-4 identical edge servers (100 GFLOP/s);
   - heterogeneous:  the same with F_k uniform in [10, 200] GFLOP/s per server;
   - memory-tight:   heterogeneous, client memory admitting only the cuts up to a random c* <= 3;
   - near-ties:      identical clients (f = 1 GFLOP/s, all at 150 m) on identical servers.
   Also shown: Alg. 4 without the re-mapping (the moves and swaps alone) and LPT + Alg. 5 without
   local search.
2. Time to proof of method "exact" on the spec §7 setting (VGG-11, 13 cuts, seed 0) for
   N = 4..20 clients, M = 4 identical edge servers, and M = 4 heterogeneous ones
   (50, 100, 150, 200 GFLOP/s); the compact MISOCP (Pyomo + SCIP, the previous exact method) for
   comparison at the sizes it finishes within the limit.

Run:  python benchmarks/gsfl.py [--instances 40] [--sizes 4 6 ... 20] [--limit 60] [--misocp-max 10]
The machine is shared: times are indicative, compare within one run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from slopt.models import gsfl
from slopt.profiles import synthetic

CLASSES = ("identical", "heterogeneous", "memory-tight", "near-ties")


def make_case(cls: str, seed: int) -> gsfl.Instance:
    rng = np.random.default_rng(20_000 + seed)
    N, M = int(rng.integers(6, 15)), int(rng.integers(2, 5))
    prof = synthetic.chain(6)
    kw: dict = dict(n_devices=N, n_edges=M, profile=prof, n_samples=int(rng.integers(100, 2500)))
    if cls in ("heterogeneous", "memory-tight"):
        kw["edge_flops"] = list(rng.uniform(10e9, 200e9, M))
    if cls == "memory-tight":
        c_star = int(rng.integers(1, 4))
        o = prof.topological_order
        need = float(prof.param_bytes[o][:c_star].sum()) + 32 * float(prof.activation_bytes[o][c_star - 1])
        kw["device_memory_bytes"] = need * 1.0001
    if cls == "near-ties":
        kw.update(device_flops=1e9, distance_m=150.0)
    return gsfl.random_instance(seed, **kw)


def gap_study(n_per_class: int) -> pd.DataFrame:
    rows = []
    for cls in CLASSES:
        for seed in range(n_per_class):
            inst = make_case(cls, seed)
            t0 = time.perf_counter()
            ex = gsfl.method_exact(inst)
            t_ex = time.perf_counter() - t0
            assert ex.status == "optimal", (cls, seed, ex.solve.message)
            t0 = time.perf_counter()
            paper = gsfl.method_paper(inst).objective
            t_paper = time.perf_counter() - t0
            c, x, _ = gsfl.heuristic(inst, remap=False)
            no_remap = gsfl._final(inst, c, x)[0].round_s
            c, x, _ = gsfl.heuristic(inst, local=False)
            lpt = gsfl._final(inst, c, x)[0].round_s
            rows.append({"class": cls, "seed": seed, "N": inst.N, "M": inst.M, "cuts": len(inst.cuts),
                         "opt_s": ex.objective, "paper_s": paper, "no_remap_s": no_remap, "lpt_alg5_s": lpt,
                         "exact_seconds": t_ex, "paper_seconds": t_paper})
    df = pd.DataFrame(rows)
    for k in ("paper", "no_remap", "lpt_alg5"):
        df[f"{k}_gap_pct"] = 100 * (df[f"{k}_s"] / df["opt_s"] - 1)
    return df


def report_gap(df: pd.DataFrame) -> None:
    out = []
    for (cls, k), label in [((c, k), lbl) for c in CLASSES for k, lbl in
                            (("paper", "Alg. 4"), ("no_remap", "Alg. 4 without re-mapping"),
                             ("lpt_alg5", "LPT + Alg. 5"))]:
        g = df.loc[df["class"] == cls, f"{k}_gap_pct"]
        # the exact optimum carries a relative tolerance of 1e-6: gaps below 1e-4 % count as optimal
        out.append({"class": cls, "method": label, "instances": len(g), "mean %": g.mean(),
                    "p95 %": g.quantile(0.95), "max %": g.max(), "optimal %": 100 * float((g < 1e-4).mean())})
    print(pd.DataFrame(out).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"exact per instance: mean {df['exact_seconds'].mean():.2f} s, max {df['exact_seconds'].max():.2f} s; "
          f"Alg. 4 mean {df['paper_seconds'].mean() * 1e3:.0f} ms", flush=True)


def timing_study(sizes: list[int], limit: float, misocp_max: int) -> pd.DataFrame:
    rows = []
    for label, edge in (("M = 4 identical", 100e9), ("M = 4 heterogeneous", [50e9, 100e9, 150e9, 200e9])):
        for N in sizes:
            inst = gsfl.load(n_devices=N, n_edges=4, seed=0, edge_flops=edge)
            n0 = len(rows)
            t0 = time.perf_counter()
            plan = gsfl.method_exact(inst, time_limit=limit)
            rows.append({"servers": label, "N": N, "method": "exact (set partitioning)", "status": plan.status,
                         "seconds": time.perf_counter() - t0, "objective_s": plan.objective,
                         "gap": plan.solve.gap})
            if N <= misocp_max:
                t0 = time.perf_counter()
                m = gsfl.method_exact(inst, formulation="pyomo", time_limit=limit)
                rows.append({"servers": label, "N": N, "method": "MISOCP (Pyomo + SCIP)", "status": m.status,
                             "seconds": time.perf_counter() - t0, "objective_s": m.objective,
                             "gap": m.solve.gap})
            print(pd.DataFrame(rows[n0:]).to_string(index=False, header=False), flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, default=40, help="instances per class")
    ap.add_argument("--sizes", type=int, nargs="*", default=[4, 6, 8, 10, 12, 14, 16, 18, 20])
    ap.add_argument("--limit", type=float, default=60.0)
    ap.add_argument("--misocp-max", type=int, default=10, help="largest N for the MISOCP comparison")
    ap.add_argument("--no-gap", action="store_true", help="skip the gap study")
    args = ap.parse_args()
    if not args.no_gap:
        t0 = time.perf_counter()
        df = gap_study(args.instances)
        print(f"== Alg. 4's gap to the proven optimum, {args.instances} instances per class "
              f"[{time.perf_counter() - t0:.0f} s]")
        report_gap(df)
    if args.sizes:
        print(f"\n== time to proof, spec §7 setting (VGG-11, 13 cuts, seed 0), limit {args.limit:g} s")
        tt = timing_study(args.sizes, args.limit, args.misocp_max)
        piv = tt.pivot_table(index="N", columns=["servers", "method"], values="seconds", aggfunc="first")
        print(piv.to_string(float_format=lambda v: f"{v:.2f}"))
        bad = tt[tt["status"] != "optimal"]
        print("not proven within the limit:", "none" if bad.empty else
              bad[["servers", "method", "N", "gap"]].to_string(index=False))


if __name__ == "__main__":
    main()
