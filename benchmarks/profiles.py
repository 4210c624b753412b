"""Profile I/O, construction and profiling speed.

    python benchmarks/profiles.py [--n-json 100000] [--n-arrays 1000000] [--repeat 3]
                                  [--models bert-base,swin-t,resnet50 | --models none]

Profiling (``--models``): BERT-base (``hf:bert`` default config, 128 tokens), Swin-T
(``hf:swin`` default config, 224x224) and ResNet-50 (the zoo's, built from code), each built once
on the CPU with random weights and profiled by ``from_torch`` three ways in the same run:
*before* (``cost_on="inputs"``: export of the real module, every operator and the whole-model
check run on the real tensors), *after* (``cost_on="meta"``: export of a meta copy, operators and
check on meta copies) and *cached* (the same call again with the profile cache). The figures of
before and after must agree exactly; target: after <= 10 s per model on this machine.

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


def _build(name: str):
    from slopt.profiles import zoo
    from slopt.profiles.target import resolve

    if name == "resnet50":
        m, x, kw = zoo.build_module("resnet50", device="cpu")
        return m, (x,), kw
    target = {"bert-base": "hf:bert", "swin-t": "hf:swin"}[name]
    r = resolve(target, device="cpu", seq_len=128)
    return r.module, r.args, r.kwargs


def profile_speed(models: list[str]) -> None:
    import tempfile as tf
    import warnings

    import torch

    from slopt.profiles import from_torch

    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    from_torch(torch.nn.Linear(4, 4), torch.zeros(1, 4))      # torch.export's one-off imports
    print(f"warm-up (first export in the process: imports): {time.perf_counter() - t0:.1f} s")
    with tf.TemporaryDirectory() as cache:
        for name in models:
            m, args, kw = _build(name)
            t0 = time.perf_counter()
            before = from_torch(m, args, kw, cost_on="inputs")
            t_before = time.perf_counter() - t0
            t0 = time.perf_counter()
            after = from_torch(m, args, kw, cache=cache)
            t_after = time.perf_counter() - t0
            t0 = time.perf_counter()
            hit = from_torch(m, args, kw, cache=cache)
            t_hit = time.perf_counter() - t0
            same = all(np.array_equal(getattr(before, c), getattr(after, c))
                       for c in ("forward_flop", "backward_flop", "activation_bytes",
                                 "param_bytes", "trainable_param_bytes"))
            ok = "PASS" if t_after <= 10 else "FAIL"
            print(f"{name}: {after.n} vertices, {after.forward_flop.sum():.4g} FLOP/sample forward; "
                  f"before {t_before:.1f} s, after {t_after:.1f} s ({t_before / t_after:.1f}x), "
                  f"cached {t_hit:.2f} s; figures identical: {same}; hit: "
                  f"{hit.provenance.get('cache', {}).get('hit', False)}  [target after <= 10 s: {ok}]")
            del m, args, kw


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-json", type=int, default=100_000)
    ap.add_argument("--n-arrays", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--models", default="bert-base,swin-t,resnet50",
                    help="comma-separated models to profile, or 'none'")
    ns = ap.parse_args(argv)
    if ns.models != "none":
        profile_speed([m for m in ns.models.split(",") if m])

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
