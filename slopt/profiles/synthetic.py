"""Small synthetic profiles for tests, examples and benchmarks (shipped in ``data/profiles/``).

Figures are those of 3x3 convolutions on a CIFAR-sized input with fp32 tensors: a conv with
c_in -> c_out channels on an h x w map has 2 * 9 * c_in * c_out * h * w forward FLOP
(multiply-add = 2 FLOP), 4 * 9 * c_in * c_out weight bytes and 4 * c_out * h * w output bytes;
its backward pass costs twice the forward (input- and weight-gradient GEMMs of the same size).
"""

from __future__ import annotations

import numpy as np

from slopt.profiles.graph import ModelGraph

__all__ = ["chain", "residual_chain", "inception", "random_dag", "conv_figures"]

FP32_BYTES = 4


def conv_figures(c_in: int, c_out: int, hw: int, k: int = 3) -> tuple[float, float, float, float]:
    """(forward FLOP, backward FLOP, param bytes, output bytes) of a k x k conv, per sample."""
    fwd = 2.0 * k * k * c_in * c_out * hw * hw
    return fwd, 2.0 * fwd, float(FP32_BYTES * k * k * c_in * c_out), float(FP32_BYTES * c_out * hw * hw)


def _with_head(names: list, cols: list, src: list, dst: list, block: list, prev: int, c: int,
               name: str, tool: str, n_blocks: int) -> ModelGraph:
    """Append a 10-class linear head after vertex ``prev`` (``c`` channels) and build the graph."""
    names.append("head")
    cols.append((2.0 * c * 10, 4.0 * c * 10, float(FP32_BYTES * c * 10), float(FP32_BYTES * 10)))
    block.append("head")
    src.append(prev)
    dst.append(len(names) - 1)
    f, b, p, a = map(np.array, zip(*cols))
    return ModelGraph(forward_flop=f, backward_flop=b, param_bytes=p, activation_bytes=a, src=src, dst=dst,
                      names=names, block=block, name=name,
                      provenance={"tool": f"slopt.profiles.synthetic.{tool}", "n_blocks": n_blocks})


def chain(n_layers: int = 8, name: str = "chain") -> ModelGraph:
    """A VGG-like chain: channels double and maps halve every two layers."""
    rows, c, hw = [], 3, 32
    for i in range(n_layers):
        c_out = min(64 * 2 ** (i // 2), 512)
        rows.append(conv_figures(c, c_out, hw))
        c = c_out
        if i % 2 == 1:
            hw = max(hw // 2, 1)
    f, b, p, a = map(np.array, zip(*rows))
    return ModelGraph.chain(forward_flop=f, backward_flop=b, param_bytes=p, activation_bytes=a,
                            names=[f"conv{i}" for i in range(n_layers)], name=name,
                            provenance={"tool": "slopt.profiles.synthetic.chain", "n_layers": n_layers})


def residual_chain(n_blocks: int = 4, name: str = "residual_chain") -> ModelGraph:
    """A ResNet-like model: stem, then blocks ``conv_a -> conv_b -> add`` with a skip ``in -> add``."""
    names, cols, src, dst, block = ["stem"], [conv_figures(3, 64, 32)], [], [], ["stem"]
    prev, c, hw = 0, 64, 32
    for k in range(n_blocks):
        c_out = 64 * 2 ** (k // 2)
        base = len(names)
        fa, fb = conv_figures(c, c_out, hw), conv_figures(c_out, c_out, hw)
        add = (float(c_out * hw * hw), float(c_out * hw * hw), 0.0, float(FP32_BYTES * c_out * hw * hw))
        names += [f"b{k}.conv_a", f"b{k}.conv_b", f"b{k}.add"]
        cols += [fa, fb, add]
        block += [f"b{k}"] * 3
        src += [prev, base, base + 1, prev]
        dst += [base, base + 1, base + 2, base + 2]
        prev, c = base + 2, c_out
    return _with_head(names, cols, src, dst, block, prev, c, name, "residual_chain", n_blocks)


def inception(n_blocks: int = 3, name: str = "inception") -> ModelGraph:
    """An Inception-like model: each block fans out into 4 branches (1x1, 1x1-3x3, 1x1-5x5,
    pool-1x1) that a concat joins; blocks are labelled ``inc{k}``."""
    names, cols, src, dst, block = ["stem"], [conv_figures(3, 64, 32)], [], [], ["stem"]
    prev, c, hw = 0, 64, 32
    for k in range(n_blocks):
        q = 32 * (k + 1)

        def add_vertex(nm: str, fig: tuple[float, float, float, float], parents: list[int]) -> int:
            names.append(f"inc{k}.{nm}")
            cols.append(fig)
            block.append(f"inc{k}")
            v = len(names) - 1
            for u in parents:
                src.append(u)
                dst.append(v)
            return v

        b1 = add_vertex("1x1", conv_figures(c, q, hw, 1), [prev])
        r3 = add_vertex("3x3_reduce", conv_figures(c, q // 2, hw, 1), [prev])
        b3 = add_vertex("3x3", conv_figures(q // 2, q, hw, 3), [r3])
        r5 = add_vertex("5x5_reduce", conv_figures(c, q // 4, hw, 1), [prev])
        b5 = add_vertex("5x5", conv_figures(q // 4, q // 2, hw, 5), [r5])
        pool = add_vertex("pool", (9.0 * c * hw * hw, 9.0 * c * hw * hw, 0.0,
                                   float(FP32_BYTES * c * hw * hw)), [prev])
        bp = add_vertex("pool_proj", conv_figures(c, q // 2, hw, 1), [pool])
        c = q + q + q // 2 + q // 2
        prev = add_vertex("concat", (0.0, 0.0, 0.0, float(FP32_BYTES * c * hw * hw)), [b1, b3, b5, bp])
        hw = max(hw // 2, 1)
    return _with_head(names, cols, src, dst, block, prev, c, name, "inception", n_blocks)


def random_dag(n: int, edge_prob: float = 0.2, seed: int = 0, max_back: int | None = None,
               scale_flop: float = 1e9, scale_bytes: float = 1e6) -> ModelGraph:
    """A random DAG on ``n`` vertices in topological index order (edges go forward).

    Each vertex ``v > 0`` gets at least one predecessor among the previous ``max_back`` vertices
    (all previous when None), plus extra edges with probability ``edge_prob``. Vectorised, so
    graphs of 10^6 vertices build in well under a second when ``max_back`` is small.
    """
    rng = np.random.default_rng(seed)
    if max_back is None:
        iu = np.triu_indices(n, 1)
        keep = rng.random(iu[0].size) < edge_prob
        src, dst = iu[0][keep], iu[1][keep]
        first = np.ones(n, dtype=bool)
        first[dst] = False
        first[0] = False
        lonely = np.flatnonzero(first)
        src = np.concatenate([src, (rng.random(lonely.size) * lonely).astype(np.int64)])
        dst = np.concatenate([dst, lonely])
    else:
        v = np.arange(1, n)
        back = 1 + (rng.random(n - 1) * np.minimum(v, max_back)).astype(np.int64)
        src, dst = v - back, v
        extra = rng.random(n - 1) < edge_prob
        v2 = v[extra]
        back2 = 1 + (rng.random(v2.size) * np.minimum(v2, max_back)).astype(np.int64)
        pairs = np.unique(np.stack([np.concatenate([src, v2 - back2]), np.concatenate([dst, v2])]), axis=1)
        src, dst = pairs[0], pairs[1]
    f = rng.uniform(0, scale_flop, n)
    return ModelGraph(forward_flop=f, backward_flop=2 * f, param_bytes=rng.uniform(0, scale_bytes, n),
                      activation_bytes=rng.uniform(0, scale_bytes, n), src=src, dst=dst,
                      name=f"random_dag_{n}_{seed}", provenance={"tool": "slopt.profiles.synthetic.random_dag",
                                                                  "seed": seed})
