"""Throughput of a sweep in-process vs on a 2-worker Dask LocalCluster (target ratio >= 1.7x).

    python benchmarks/sweep.py [--problem card] [--method paper] [--points 2000] [--workers 2]

Prints points per second of each run, the ratio, and checks that both runs give identical rows.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from slopt.sweep import SweepSpec, sweep


def _warm(problem: str) -> None:
    from slopt.problems import get

    get(problem).load(None, None, seed=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--problem", default="card")
    ap.add_argument("--method", default="paper")
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--set", nargs="*", default=[], help="fixed params key=value")
    args = ap.parse_args()
    import yaml

    params = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    tmp = Path(tempfile.mkdtemp(prefix="slopt-sweep-bench-"))
    base = {"problem": args.problem, "methods": [args.method], "seeds": {"start": 0, "count": args.points},
            "params": params}
    try:
        t0 = time.perf_counter()
        a = sweep(SweepSpec.load(base | {"output": str(tmp / "inproc")}), progress=False)
        t_in = time.perf_counter() - t0
        from dask.distributed import Client, LocalCluster

        t0 = time.perf_counter()
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
        client.run(_warm, args.problem)  # import slopt and the problem in every worker
        t_start = time.perf_counter() - t0
        t0 = time.perf_counter()
        b = sweep(SweepSpec.load(base | {"output": str(tmp / "dask")}), client=client, progress=False)
        t_dask = time.perf_counter() - t0
        client.close()
        cluster.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    same = a["id"].tolist() == b["id"].tolist() and np.allclose(a["objective"], b["objective"], equal_nan=True)
    errors = int((a["status"] == "error").sum())
    print(f"problem={args.problem} method={args.method} points={args.points} errors={errors}")
    print(f"in-process : {t_in:8.2f} s  {args.points / t_in:8.1f} points/s")
    print(f"dask x{args.workers}    : {t_dask:8.2f} s  {args.points / t_dask:8.1f} points/s "
          f"(cluster start and worker warm-up {t_start:.2f} s, not included)")
    print(f"ratio      : {t_in / t_dask:8.2f}x  (target >= 1.7x); "
          f"{t_in / (t_dask + t_start):.2f}x counting the cluster start")
    print(f"identical results: {same}")


if __name__ == "__main__":
    main()
