"""Three-tier split fine-tuning: Algorithm B's time and gap to the exact method; exact time vs N, E.

Usage::

    python benchmarks/three_tier.py                   # 200 random instances + the N/E grid
    python benchmarks/three_tier.py --instances 50 --solver cbc

Part 1: ``--instances`` random small instances (``random_instance``: gpt2-tiny-sized model with
2-5 blocks, N = 3..8 users, E = 1..3 heterogeneous edges). For each, Algorithm B (spec §4.3) and
the exact method (memory-pruned cut enumeration x fixed-cut MILP, spec §4.4) are timed, and the
relative gap (T_B - T_exact) / T_exact of the epoch delay is recorded. Prints mean, p95, max.

Part 2: the exact method's time vs N (users) and E (edges), 2 seeds per cell, and Algorithm B's
time on the shipped GPT-2 medium set-up (L = 24) as N grows.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import slopt.models.three_tier as tt


def gap_study(n: int, seed: int, solver: str | None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n):
        N = int(rng.integers(3, 9))
        E = int(rng.integers(1, min(3, N) + 1))
        L = int(rng.integers(2, 6))
        inst = tt.random_instance(int(rng.integers(0, 2 ** 31)), n_users=N, n_edges=E, n_layers=L)
        t0 = time.perf_counter()
        b = tt.algorithm_b(inst)
        tb = time.perf_counter() - t0
        t0 = time.perf_counter()
        ex = tt.exact(inst, solver=solver)
        te = time.perf_counter() - t0
        rows.append({"N": N, "E": E, "L": L, "b_s": tb, "exact_s": te, "status": ex.status,
                     "gap": (b.objective - ex.objective) / ex.objective,
                     "same_cuts": (b.decision["l_u"], b.decision["l_e"]) == (ex.decision["l_u"], ex.decision["l_e"])})
    return pd.DataFrame(rows)


def exact_grid(solver: str | None, Ns: list[int], Es: list[int], seeds: int, time_limit: float) -> pd.DataFrame:
    rows = []
    for N in Ns:
        for E in Es:
            if E > N:
                continue
            ts, milps, status = [], [], []
            for s in range(seeds):
                inst = tt.random_instance(1000 + s, n_users=N, n_edges=E, n_layers=4)
                t0 = time.perf_counter()
                p = tt.exact(inst, solver=solver, time_limit=time_limit)
                ts.append(time.perf_counter() - t0)
                milps.append(int(p.solve.message.split(", ")[1].split()[0]))
                status.append(p.status)
            rows.append({"N": N, "E": E, "rounds": -(-N // E), "binaries_per_milp": N * E * -(-N // E),
                         "exact_median_s": float(np.median(ts)), "exact_max_s": float(np.max(ts)),
                         "milps_solved_mean": float(np.mean(milps)),
                         "all_optimal": all(x == "optimal" for x in status)})
    return pd.DataFrame(rows)


def b_scaling(Ns: list[int]) -> pd.DataFrame:
    rows = []
    for N in Ns:
        inst = tt.spec6_instance(n_users=N, n_edges=3)
        t0 = time.perf_counter()
        p = tt.algorithm_b(inst)
        rows.append({"N": N, "E": 3, "L": inst.L, "cut_pairs": inst.L * (inst.L - 1) // 2,
                     "algorithm_b_s": time.perf_counter() - t0, "epoch_delay_s": p.objective,
                     "cuts": (p.decision["l_u"], p.decision["l_e"])})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--instances", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--solver", default="highs")
    ap.add_argument("--time-limit", type=float, default=120.0)
    args = ap.parse_args()
    pd.set_option("display.width", 160)

    df = gap_study(args.instances, args.seed, args.solver)
    g = df["gap"]
    print(f"== Algorithm B vs exact ({args.solver}) on {len(df)} random instances "
          f"(N 3-8, E 1-3, L 2-5; all exact runs optimal: {bool((df.status == 'optimal').all())})")
    print(f"gap to exact: mean {g.mean():.4%}  p95 {g.quantile(0.95):.4%}  max {g.max():.4%}  "
          f"(exact in {(g <= 1e-9).mean():.1%} of instances; same cut pair in {df.same_cuts.mean():.1%})")
    print(f"Algorithm B time: mean {df.b_s.mean() * 1e3:.2f} ms  p95 {df.b_s.quantile(0.95) * 1e3:.2f} ms  "
          f"max {df.b_s.max() * 1e3:.2f} ms")
    print(f"exact time:       mean {df.exact_s.mean():.3f} s   p95 {df.exact_s.quantile(0.95):.3f} s   "
          f"max {df.exact_s.max():.3f} s")
    print("\n== exact method time vs N and E (gpt2-tiny, L = 4, 2 seeds per cell)")
    print(exact_grid(args.solver, [4, 6, 8, 10], [2, 3, 4], 2, args.time_limit).to_string(index=False))
    print("\n== Algorithm B on the §6 set-up (GPT-2 medium, L = 24, E = 3) vs N")
    print(b_scaling([10, 20, 50, 100]).to_string(index=False))


if __name__ == "__main__":
    main()
