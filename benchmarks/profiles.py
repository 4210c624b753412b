"""Profile I/O and construction speed (issue #4 acceptance: a 10^5-vertex JSON loads in < 1 s).

    python benchmarks/profiles.py [--n-json 100000] [--n-arrays 1000000] [--repeat 3]

Prints, for a synthetic residual-style DAG (every 4th vertex gets a skip edge, block labels of
8 vertices): the time to write and to load a profile JSON with ``n-json`` vertices via
``slopt.profiles.read``, and the time to construct and validate a ``ModelGraph`` with ``n-arrays``
vertices from numpy arrays (plus its topological order and block codes). Best of ``repeat``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slopt.profiles import ModelGraph, read, write  # noqa: E402


def arrays(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    chain = np.arange(n - 1, dtype=np.int64)
    skip = np.arange(0, n - 4, 4, dtype=np.int64)
    src = np.concatenate([chain, skip])
    dst = np.concatenate([chain + 1, skip + 4])
    return dict(forward_flop=rng.uniform(1e6, 1e9, n), backward_flop=rng.uniform(2e6, 2e9, n),
                param_bytes=rng.uniform(0, 1e7, n), activation_bytes=rng.uniform(1e3, 1e6, n),
                src=src, dst=dst)


def best(f, repeat: int) -> tuple[float, object]:
    out, t_best = None, float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        t_best = min(t_best, time.perf_counter() - t0)
    return t_best, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-json", type=int, default=100_000)
    ap.add_argument("--n-arrays", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ns = ap.parse_args(argv)

    n = ns.n_json
    a = arrays(n)
    g = ModelGraph(**a, names=[f"layer{i}" for i in range(n)],
                   block=[f"block{i // 8}" for i in range(n)], name="bench",
                   provenance={"tool": "benchmarks/profiles.py"})
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.json"
        t_w, _ = best(lambda: write(g, path), 1)
        size = path.stat().st_size
        t_r, g2 = best(lambda: read(path), ns.repeat)
    assert g2.n == n and g2.m == g.m
    ok = "PASS" if t_r < 1.0 else "FAIL"
    print(f"profile JSON, {n:,} vertices, {g.m:,} edges, {size / 1e6:.1f} MB: "
          f"write {t_w:.3f} s, load (read + validate) {t_r:.3f} s  [target < 1 s: {ok}]")

    n = ns.n_arrays
    a = arrays(n)
    t_c, g3 = best(lambda: ModelGraph(**a), ns.repeat)
    t_t, _ = best(lambda: ModelGraph(**a).topological_order, 1)
    blk = np.repeat(np.arange(n // 8 + 1), 8)[:n].astype(str)
    t_b, _ = best(lambda: ModelGraph(**a, block=blk).block_codes, 1)
    print(f"ModelGraph from arrays, {n:,} vertices, {g3.m:,} edges: construct + validate "
          f"{t_c:.3f} s; + topological order {t_t:.3f} s; with block labels + block codes {t_b:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
