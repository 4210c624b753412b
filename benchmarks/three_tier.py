"""Three-tier split fine-tuning: Algorithm B's gap to the exact method per instance class, and the
exact method's time to proof vs the number of users.

Usage::

    python benchmarks/three_tier.py                          # every part, default sizes
    python benchmarks/three_tier.py --part gap --instances 40
    python benchmarks/three_tier.py --part proof --max-n 24 --time-limit 120
    python benchmarks/three_tier.py --part forms             # spec form vs strong form

Part ``gap``: ``--instances`` random instances per class (classes in :data:`CLASSES`; each
states how it is drawn). Per class: Algorithm B's relative gap (T_B - T*) / T* against the
exact method (proven optimal, gap 0), mean / p95 / max and the share of instances where B is
exact.

Part ``proof``: time to proof of the exact method vs N on two families -- the shipped scenario's
generator (``load(n_users=N)``: GPT-2 medium, L = 24, 3 identical edges, heterogeneous users;
the default size is N = 8, the paper-size target N = 20) and random heterogeneous edges
(``random_instance``, gpt2-tiny, L = 4, E = 3). Each row: seconds, status, gap, cut pairs solved.

Part ``forms``: the fixed-cut MILP in the spec's linear form vs the strong form, at Algorithm B's
cut pair, same time limit -- the measurement behind the exact method's choice.

The machine is shared: compare figures within one run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

import slopt.models.three_tier as tt
from slopt.solvers import solve

GIB = 2 ** 30


def _random(rng: np.random.Generator, **kw) -> tt.Instance:
    N = int(rng.integers(3, 9))
    E = int(rng.integers(1, min(3, N) + 1))
    L = int(rng.integers(2, 6))
    return tt.random_instance(int(rng.integers(0, 2 ** 31)), n_users=N, n_edges=E, n_layers=L, **kw)


def cls_heterogeneous(rng: np.random.Generator) -> tt.Instance:
    """random_instance: N 3-8, E 1-3, L 2-5; edges differ in compute, power, position, backhaul."""
    return _random(rng)


def cls_wide(rng: np.random.Generator) -> tt.Instance:
    """heterogeneous over decades: user compute 1e7-1e10 FLOP/s, edge compute 1e9-1e12 FLOP/s,
    backhaul 1e6-1e10 bit/s (log-uniform)."""
    inst = _random(rng)
    lu = lambda lo, hi, n: 10 ** rng.uniform(lo, hi, n)  # noqa: E731
    return inst.with_(user_flops=lu(7, 10, inst.N), edge_flops=lu(9, 12, inst.E),
                      backhaul_up_bps=lu(6, 10, inst.E), backhaul_down_bps=lu(6, 10, inst.E))


def cls_identical_edges(rng: np.random.Generator) -> tt.Instance:
    """identical edges (the shipped scenario's generator, GPT-2 medium L = 24), N 4-9, E 2-3."""
    N = int(rng.integers(4, 10))
    return tt.load(n_users=N, n_edges=int(rng.integers(2, 4)), seq_len=int(rng.choice([128, 256, 512])))


def cls_memory_tight(rng: np.random.Generator) -> tt.Instance:
    """random_instance with the user budget at the memory of l_u = 1 or 2 and the cloud budget at
    the cloud memory of l_e = L - 1: few cut pairs left, the cuts forced deep."""
    inst = _random(rng)
    while inst.L < 3:
        inst = _random(rng)
    mu = tt.memory_user(inst, int(rng.integers(1, 3)))["total_bytes"]
    mc = tt.memory_cloud(inst, inst.L - 1)["total_bytes"]
    return inst.with_(user_memory_bytes=np.full(inst.N, mu * 1.0000001), cloud_memory_bytes=mc * 1.0000001)


def cls_near_ties(rng: np.random.Generator) -> tt.Instance:
    """near-ties: every user and every edge a copy of one drawn device, perturbed by a relative
    1e-6 (compute, gain), so many schedules are within 1e-6 of each other."""
    inst = _random(rng)
    j = lambda n: 1 + 1e-6 * rng.uniform(-1, 1, n)  # noqa: E731
    g = float(inst.gain[0, 0])
    return inst.with_(user_flops=float(inst.user_flops[0]) * j(inst.N), edge_flops=float(inst.edge_flops[0]) * j(inst.E),
                      gain=g * j(inst.N * inst.E).reshape(inst.N, inst.E),
                      backhaul_up_bps=np.full(inst.E, float(inst.backhaul_up_bps[0])),
                      backhaul_down_bps=np.full(inst.E, float(inst.backhaul_down_bps[0])),
                      edge_tx_power_w=np.full(inst.E, float(inst.edge_tx_power_w[0])))


CLASSES: dict[str, Callable[[np.random.Generator], tt.Instance]] = {
    "heterogeneous edges": cls_heterogeneous, "capacities over decades": cls_wide,
    "identical edges (shipped generator)": cls_identical_edges, "memory-tight": cls_memory_tight,
    "near-ties": cls_near_ties,
}


def gap_table(n: int, seed: int, solver: str | None) -> pd.DataFrame:
    rows = []
    for k, (name, make) in enumerate(CLASSES.items()):
        rng = np.random.default_rng(seed + 1000 * k)
        gaps, statuses, tb, te = [], [], [], []
        for _ in range(n):
            inst = make(rng)
            t0 = time.perf_counter()
            b = tt.algorithm_b(inst)
            tb.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ex = tt.exact(inst, solver=solver)
            te.append(time.perf_counter() - t0)
            statuses.append(ex.status)
            gaps.append((b.objective - ex.objective) / ex.objective)
        g = np.array(gaps)
        rows.append({"class": name, "instances": n, "exact_all_optimal": all(s == "optimal" for s in statuses),
                     "gap_mean_%": 100 * g.mean(), "gap_p95_%": 100 * np.quantile(g, 0.95),
                     "gap_max_%": 100 * g.max(), "B_exact_share_%": 100 * np.mean(g <= 1e-9),
                     "B_mean_ms": 1e3 * np.mean(tb), "exact_mean_s": np.mean(te)})
    return pd.DataFrame(rows)


def proof_curve(solver: str | None, Ns: list[int], time_limit: float) -> pd.DataFrame:
    rows = []
    for family in ("shipped generator (GPT-2 medium, L=24, E=3 identical)",
                   "random heterogeneous (gpt2-tiny, L=4, E=3)"):
        for N in Ns:
            inst = tt.load(n_users=N) if family.startswith("shipped") else \
                tt.random_instance(100 + N, n_users=N, n_edges=3, n_layers=4)
            t0 = time.perf_counter()
            p = tt.exact(inst, solver=solver, time_limit=time_limit)
            sec = time.perf_counter() - t0
            cp = p.details["cut_pairs"]
            rows.append({"family": family, "N": N, "rounds": inst.T_ep, "proof_s": sec, "status": p.status,
                         "gap": p.solve.gap, "milps": int((cp["action"] != "pruned").sum()),
                         "cut_pairs": len(cp), "epoch_delay_s": p.objective})
    return pd.DataFrame(rows)


def forms(solver: str | None, Ns: list[int], time_limit: float) -> pd.DataFrame:
    rows = []
    for N in Ns:
        inst = tt.load(n_users=N)
        T, l_u, l_e, _ = tt._algorithm_b(inst)
        for strong in (False, True):
            m = tt.build_fixed_cut(inst, l_u, l_e, strong=strong)
            t0 = time.perf_counter()
            res = solve(m, solver=solver, time_limit=time_limit, mip_gap=0.0,
                        options={"mip_abs_gap": 0.0} if (solver or "highs") == "highs" else None)
            rows.append({"N": N, "form": "strong" if strong else "spec", "seconds": time.perf_counter() - t0,
                         "status": res.status, "objective_s": res.objective, "bound_s": res.bound,
                         "algorithm_b_s": T})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=["all", "gap", "proof", "forms"], default="all")
    ap.add_argument("--instances", type=int, default=30, help="instances per class (gap part)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--solver", default="highs")
    ap.add_argument("--max-n", type=int, default=24)
    ap.add_argument("--time-limit", type=float, default=120.0, help="s, per exact run")
    args = ap.parse_args()
    pd.set_option("display.width", 200)
    pd.set_option("display.float_format", lambda v: f"{v:.4g}")
    if args.part in ("all", "gap"):
        print(f"== Algorithm B vs exact ({args.solver}), {args.instances} instances per class")
        for name, make in CLASSES.items():
            print(f"  {name}: {make.__doc__.split(chr(10))[0]}")
        print(gap_table(args.instances, args.seed, args.solver).to_string(index=False))
    if args.part in ("all", "proof"):
        Ns = [n for n in (4, 8, 12, 16, 20, 24, 30, 40) if n <= args.max_n]
        print(f"\n== exact method: time to proof vs N ({args.solver}, time limit {args.time_limit:g} s)")
        print(proof_curve(args.solver, Ns, args.time_limit).to_string(index=False))
    if args.part in ("all", "forms"):
        print(f"\n== fixed-cut MILP at Algorithm B's cut pair: spec form vs strong form ({args.solver}, "
              f"limit 60 s)")
        print(forms(args.solver, [8, 12, 16], 60.0).to_string(index=False))


if __name__ == "__main__":
    main()
