"""SFT benchmark: the two-timescale algorithm (spec §5) vs the exact baseline, and run times.

Prints
  1. the relative gap (paper - exact) / exact on random small instances (3-5 devices, 6-12 blocks;
     default 100 instances): mean, p95, max, and how many were solved to the optimum;
  2. the paper algorithm's time for 10, 20, 50 devices on the spec §7 cell (large timescale =
     ALM + integer recovery; small timescale = SQP per slot, per slot time);
  3. the exact enumeration's time vs N.

Usage: python benchmarks/sft.py [--instances 100] [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from slopt.models import sft


def gap_study(n: int) -> None:
    gaps, t_paper, t_exact, shapes = [], [], [], []
    for seed in range(n):
        inst = sft.random_instance(seed)
        t0 = time.perf_counter()
        e = sft.exact(inst)
        t1 = time.perf_counter()
        r = sft.alm(inst)
        t2 = time.perf_counter()
        J = sft.evaluate(inst, r.theta, r.l)[0]
        gaps.append(max(0.0, J / e.objective - 1.0))
        t_exact.append(t1 - t0)
        t_paper.append(t2 - t1)
        shapes.append((inst.N, inst.L))
    g = np.array(gaps) * 100
    print(f"gap study: {n} random instances (N in 3..5, L in 6..12, H = 8 SAA samples)")
    print(f"  gap [%]: mean {g.mean():.4f}  p95 {np.percentile(g, 95):.4f}  max {g.max():.4f}  "
          f"optimal (gap < 1e-6 %) {int((g < 1e-6).sum())}/{n}")
    print(f"  time [s]: paper (large timescale) mean {np.mean(t_paper):.2f} max {np.max(t_paper):.2f}; "
          f"exact mean {np.mean(t_exact):.2f} max {np.max(t_exact):.2f}")


def scaling(devices: list[int], H: int) -> None:
    print(f"paper algorithm on the spec §7 cell (ViT-B/16, H = {H}):")
    for N in devices:
        inst = sft.load(None, None, n_devices=N, H=H, seed=1)
        t0 = time.perf_counter()
        r = sft.alm(inst)
        t1 = time.perf_counter()
        fr = sft.simulate_frame(inst, r.theta, r.l, n_slots=10)
        t2 = time.perf_counter()
        print(f"  N = {N:3d}: large timescale {t1 - t0:7.2f} s ({len(r.history)} ALM outer iterations), "
              f"SQP per slot {(t2 - t1) / 10 * 1e3:7.1f} ms, J = {r.J:9.1f} s")


def exact_vs_n(devices: list[int]) -> None:
    print("exact enumeration time vs N (spec §7 cell, L = 12, H = 8):")
    for N in devices:
        inst = sft.load(None, None, n_devices=N, H=8, seed=2)
        t0 = time.perf_counter()
        try:
            e = sft.exact(inst)
            print(f"  N = {N}: {time.perf_counter() - t0:7.2f} s, {int(e.metrics['enumerated_pairs'])} (l, theta) pairs")
        except Exception as exc:  # too large: report and stop
            print(f"  N = {N}: not run ({exc})")
            break


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=100)
    ap.add_argument("--quick", action="store_true", help="10 instances, N up to 20")
    a = ap.parse_args()
    gap_study(10 if a.quick else a.instances)
    scaling([10, 20] if a.quick else [10, 20, 50], H=32)
    exact_vs_n([2, 3, 4] if a.quick else [2, 3, 4, 5])


if __name__ == "__main__":
    main()
