"""SFT benchmark: the two-timescale algorithm (spec §5) vs the exact baseline, and run times.

Prints
  1. the relative gap (paper - exact) / exact on random small instances (N devices in --devices,
     6-12 blocks, H = 8; exact = the proven branch-and-bound with a 120 s limit): mean, p95, max,
     how many the paper solved to the optimum, how many exact proved; and how often the vertex
     enumeration (Claim 11) misses the optimum on the same instances;
  2. the paper algorithm's time for 10, 20, 50 devices on the spec §7 cell (large timescale =
     ALM + integer recovery; small timescale = SQP per slot, per slot time);
  3. the time to proof of the branch-and-bound vs N (and the vertex enumeration's time).

Usage: python benchmarks/sft.py [--instances 100] [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from slopt.models import sft


def gap_study(n: int, devices: list[int]) -> None:
    gaps, vgaps, t_paper, t_exact, proven = [], [], [], [], 0
    for seed in range(n):
        inst = sft.random_instance(seed, n_devices=devices[seed % len(devices)])
        t0 = time.perf_counter()
        r = sft.alm(inst)
        t1 = time.perf_counter()
        e = sft.exact(inst, time_limit=120, incumbent=(r.theta, r.l), seed_alm=False)
        t2 = time.perf_counter()
        v = sft.vertex_enumeration(inst)
        J = sft.evaluate(inst, r.theta, r.l)[0]
        gaps.append(max(0.0, J / e.objective - 1.0))
        vgaps.append(max(0.0, v.objective / e.objective - 1.0))
        proven += e.status == "optimal"
        t_paper.append(t1 - t0)
        t_exact.append(t2 - t1)
    g, vg = np.array(gaps) * 100, np.array(vgaps) * 100
    print(f"gap study: {n} random instances (N in {devices}, L in 6..12, H = 8 SAA samples, Shannon rates)")
    print(f"  exact proven (gap <= 1e-6) on {proven}/{n}")
    print(f"  paper gap [%]: mean {g.mean():.4f}  p95 {np.percentile(g, 95):.4f}  max {g.max():.4f}  "
          f"optimal (gap < 1e-6 %) {int((g < 1e-6).sum())}/{n}")
    print(f"  vertex enumeration gap [%]: max {vg.max():.4f}, above 1e-6 % on {int((vg > 1e-6).sum())}/{n}")
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
    print("time to proof of the branch-and-bound vs N (spec §7 cell, L = 12, H = 8, limit 300 s):")
    for N in devices:
        inst = sft.load(None, None, n_devices=N, H=8, seed=2)
        t0 = time.perf_counter()
        e = sft.exact(inst, time_limit=300)
        t1 = time.perf_counter()
        v = sft.vertex_enumeration(inst)
        t2 = time.perf_counter()
        print(f"  N = {N}: {t1 - t0:7.2f} s, {e.status}, gap {e.solve.gap:.1e}, {int(e.metrics['boxes'])} boxes over "
              f"{int(e.metrics['allocations'])} allocations; vertices {t2 - t1:.2f} s "
              f"({'same' if v.objective <= e.objective * (1 + 1e-6) else 'worse'})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=100)
    ap.add_argument("--devices", type=int, nargs="+", default=[2, 3, 4])
    ap.add_argument("--quick", action="store_true", help="10 instances, N up to 20")
    a = ap.parse_args()
    gap_study(10 if a.quick else a.instances, a.devices)
    scaling([10, 20] if a.quick else [10, 20, 50], H=32)
    exact_vs_n([2, 3, 4] if a.quick else [2, 3, 4, 5])


if __name__ == "__main__":
    main()
