"""GSFL benchmark: the heuristic's gap to the exact optimum, and exact solve times by size.

1. Gap of Alg. 4 (method "paper": LPT + Alg. 5 + local search) to the exact optimum over random
   instances (default 300; 4-9 clients, 2-4 edge servers, a 6-layer chain with 5 cuts, §7
   distributions). The exact optimum is the enumeration of every cut and partition with the
   optimal bandwidth (brute force, proven by exhaustion); those of the first 30 instances with
   N <= 6 are also solved by the exact method (MISOCP, Pyomo + SCIP) as a cross-check. Also shown: LPT + Alg. 5 without the local
   search, and the un-optimised scheme (equal groups, α = 1/K, fixed cut).
2. Time to proven optimality at N = 8, 12, 16, 20 clients on the spec §7 setting (VGG-11,
   M = 4 edge servers, seed 0), 60 s limit per solve:
   - the bare MISOCP at cut 2 (no incumbent), CVXPY + SCIP and Pyomo + SCIP;
   - the equal-bandwidth MILP at cut 2 with K = 4 (HiGHS, CP-SAT);
   - the full exact method (Alg. 3, Pyomo + SCIP: every cut, pruned by Alg. 4's incumbent; 60 s
     in total).

Run:  /work/venv/bin/python benchmarks/gsfl.py [--instances 300] [--sizes 8 12 16 20] [--limit 60]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from slopt.models import gsfl
from slopt.profiles import synthetic


def gap_study(n_instances: int, cross_check: int = 30) -> pd.DataFrame:
    rows = []
    prof = synthetic.chain(6)
    for seed in range(n_instances):
        rng = np.random.default_rng(10_000 + seed)
        N, M = int(rng.integers(4, 10)), int(rng.integers(2, 5))
        inst = gsfl.random_instance(seed, n_clients=N, n_edges=M, profile=prof,
                                    n_samples=int(rng.integers(100, 2500)))
        t0 = time.perf_counter()
        opt = gsfl.method_brute_force(inst).objective
        t_bf = time.perf_counter() - t0
        t0 = time.perf_counter()
        paper = gsfl.method_paper(inst).objective
        t_paper = time.perf_counter() - t0
        c, x, _ = gsfl.heuristic(inst, local=False)
        lpt = gsfl._final(inst, c, x)[0].round_s
        scheme = gsfl.method_scheme(inst).objective
        misocp = np.nan
        if seed < cross_check and N <= 6:
            misocp = gsfl.method_exact(inst).objective
        rows.append({"seed": seed, "N": N, "M": M, "opt_s": opt, "paper_s": paper, "lpt_alg5_s": lpt,
                     "scheme_s": scheme, "misocp_s": misocp, "paper_seconds": t_paper, "brute_seconds": t_bf})
    df = pd.DataFrame(rows)
    for k in ("paper", "lpt_alg5", "scheme"):
        df[f"{k}_gap_pct"] = 100 * (df[f"{k}_s"] / df["opt_s"] - 1)
    return df


def timing_study(sizes: list[int], limit: float) -> pd.DataFrame:
    rows = []
    for N in sizes:
        inst = gsfl.load(n_clients=N, n_edges=4, seed=0)
        c = 2
        a, C = gsfl.separable(inst, c)
        sync = sum(gsfl.sync_s(inst, gsfl.cut_figures(inst.profile, c), 2))
        for form in ("cvxpy", "pyomo"):
            res, _ = gsfl.solve_misocp(a, C, inst.M, sync=sync, formulation=form, time_limit=limit)
            rows.append({"N": N, "what": f"MISOCP cut {c} ({form}+SCIP)", "status": res.status,
                         "seconds": res.seconds, "objective_s": res.objective, "bound_s": res.bound})
        p = a + 4 * C[:, None]
        for solver in ("highs", "cp-sat"):
            _, res = gsfl._solve_makespan(p, 4, None, solver, limit, 1e-9, "first-index")
            rows.append({"N": N, "what": f"equal-bandwidth MILP cut {c}, K=4 ({solver})", "status": res.status,
                         "seconds": res.seconds, "objective_s": res.objective, "bound_s": res.bound})
        plan = gsfl.method_exact(inst, time_limit=limit)
        rows.append({"N": N, "what": "exact method, all cuts (pyomo+SCIP, pruned)", "status": plan.status,
                     "seconds": plan.seconds, "objective_s": plan.objective, "bound_s": plan.solve.bound,
                     "note": plan.solve.message})
        print(pd.DataFrame(rows[-5:]).to_string(index=False), flush=True)
    return pd.DataFrame(rows)


def report_gap(df: pd.DataFrame, t0: float) -> None:
    print(f"\n== heuristic gap to the exact optimum over {len(df)} random instances "
          f"(N 4-9, M 2-4, 5 cuts) [{time.perf_counter() - t0:.1f} s]")
    summary = pd.DataFrame({k: {"mean %": df[f"{k}_gap_pct"].mean(), "p95 %": df[f"{k}_gap_pct"].quantile(0.95),
                                "max %": df[f"{k}_gap_pct"].max(),
                                "optimal (gap < 1e-6 %)": float((df[f"{k}_gap_pct"] < 1e-6).mean())}
                            for k in ("paper", "lpt_alg5", "scheme")}).T
    print(summary.to_string(float_format=lambda v: f"{v:.4g}"))
    cc = df.dropna(subset=["misocp_s"])
    if len(cc):
        print(f"MISOCP (Alg. 3) = enumeration on {len(cc)} instances: max rel. diff "
              f"{np.max(np.abs(cc['misocp_s'] / cc['opt_s'] - 1)):.2e}")
    print(f"Alg. 4 time per instance: mean {df['paper_seconds'].mean() * 1e3:.1f} ms, "
          f"max {df['paper_seconds'].max() * 1e3:.1f} ms", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, default=300)
    ap.add_argument("--sizes", type=int, nargs="*", default=[8, 12, 16, 20])
    ap.add_argument("--limit", type=float, default=60.0)
    ap.add_argument("--no-gap", action="store_true", help="skip the gap study")
    args = ap.parse_args()

    t0 = time.perf_counter()
    if not args.no_gap:
        report_gap(gap_study(args.instances), t0)
    if args.sizes:
        print(f"\n== time to proven optimality, spec §7 setting (VGG-11, M = 4), limit {args.limit:g} s")
        tt = timing_study(args.sizes, args.limit)
        print(tt.to_string(index=False))
        for what, g in tt.groupby("what", sort=False):
            unfinished = g.loc[g["status"] != "optimal", "N"].tolist()
            print(f"{what}: {'all finish' if not unfinished else f'stops finishing at N = {unfinished[0]}'}")


if __name__ == "__main__":
    main()
