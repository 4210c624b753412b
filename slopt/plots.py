"""Plot functions (matplotlib); each returns a ``Figure`` and draws nothing on screen.

* :func:`breakdown_bars` -- stacked bars of delay (or energy) components per scheme
* :func:`pareto_front` -- delay-energy (or any two-objective) front
* :func:`memory_bars` -- grouped bars of peak memory per tier/node and scheme
* :func:`dag_split` -- a model DAG coloured by side (device / server)
* :func:`sweep_surface` -- a metric over a two-parameter grid (heat map)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["breakdown_bars", "pareto_front", "memory_bars", "dag_split", "sweep_surface"]


def _figure(figsize: tuple[float, float] = (6.0, 4.0), ax: Any = None) -> tuple[Any, Any]:
    """A new (figure, axes), or ``(ax.figure, ax)`` when the caller passes its own axes.

    The backend is left as the caller set it (inline in a notebook; matplotlib falls back to Agg
    on a machine without a display)."""
    if ax is not None:
        return ax.figure, ax
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def breakdown_bars(frame: pd.DataFrame, index: str, components: Sequence[str] | None = None,
                   ylabel: str = "delay (s)", title: str = "", ax: Any = None) -> Any:
    """Stacked bars: one bar per row (labelled by ``index``), one segment per component column."""
    fig, ax = _figure(ax=ax)
    comps = list(components) if components is not None else [c for c in frame.columns if c != index]
    bottom = np.zeros(len(frame))
    labels = frame[index].astype(str).tolist()
    for c in comps:
        vals = frame[c].to_numpy(dtype=float)
        ax.bar(labels, vals, bottom=bottom, label=c)
        bottom += vals
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize="small")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def pareto_front(frame: pd.DataFrame, x: str, y: str, label: str | None = None,
                 xlabel: str | None = None, ylabel: str | None = None, title: str = "",
                 points: pd.DataFrame | None = None, ax: Any = None) -> Any:
    """A two-objective front (``x`` vs ``y``), optionally with other schemes as labelled points."""
    fig, ax = _figure(ax=ax)
    f = frame.sort_values(x)
    ax.plot(f[x], f[y], "o-", label="front")
    if points is not None and label is not None:
        for _, r in points.iterrows():
            ax.scatter(r[x], r[y], marker="s")
            ax.annotate(str(r[label]), (r[x], r[y]), fontsize="small")
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def memory_bars(frame: pd.DataFrame, index: str, groups: Sequence[str], ylabel: str = "peak memory (GiB)",
                scale: float = 2.0 ** -30, title: str = "", ax: Any = None) -> Any:
    """Grouped bars: rows (``index``: schemes) x ``groups`` columns (tiers), values in bytes x ``scale``."""
    fig, ax = _figure((7.0, 4.0), ax=ax)
    x = np.arange(len(frame))
    w = 0.8 / max(len(groups), 1)
    for k, g in enumerate(groups):
        ax.bar(x + k * w - 0.4 + w / 2, frame[g].to_numpy(dtype=float) * scale, w, label=g)
    ax.set_xticks(x, frame[index].astype(str).tolist(), rotation=30)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def _layered_positions(G: Any) -> dict[int, tuple[float, float]]:
    """Positions of a DAG: graphviz ``dot`` where it is installed (pydot), else one row per
    topological generation with the vertices of a row spread evenly (x in [-1, 1], y = -row)."""
    import shutil

    import networkx as nx

    if shutil.which("dot") is not None:
        try:
            pos = nx.nx_pydot.graphviz_layout(G, prog="dot")
            return {int(v): (float(x), float(y)) for v, (x, y) in pos.items()}
        except Exception:  # pydot missing or dot failed: fall back to the layered layout
            pass
    pos: dict[int, tuple[float, float]] = {}
    for row, nodes in enumerate(nx.topological_generations(G)):
        nodes = sorted(nodes)
        k = len(nodes)
        for i, v in enumerate(nodes):
            pos[int(v)] = ((i - (k - 1) / 2) / max(k - 1, 1) * (2.0 if k > 1 else 0.0), -float(row))
    return pos


def dag_split(graph: Any, device_mask: np.ndarray, title: str = "", max_labels: int = 200,
              ax: Any = None, path: Any = None) -> Any:
    """Draw a :class:`ModelGraph` split: device vertices blue, server vertices orange.

    Layered layout (graphviz ``dot`` where installed, else topological generations). Every edge is
    drawn; an edge that skips rows is drawn as an arc so that it is not hidden behind the vertices
    it passes. Each *crossing tensor* (the output of a device vertex read by at least one server
    vertex, the unit the spec's upload counts) gets one red mark, however many server vertices
    read it; the edges it travels along are red. Labels shrink with the graph and are drawn up to
    ``max_labels`` vertices (beyond that only the crossing tensors' producers are labelled).
    Returns the figure; saves it to ``path`` when given.
    """
    import networkx as nx

    n = int(graph.n)
    G = nx.DiGraph()
    G.add_nodes_from(range(n))
    G.add_edges_from(zip(graph.src.tolist(), graph.dst.tolist()))
    pos = _layered_positions(G)
    rows = len({round(p[1], 6) for p in pos.values()})
    fig, ax = _figure((6.0, min(30.0, max(4.0, 0.3 * rows))), ax=ax)
    mask = np.asarray(device_mask, dtype=bool)
    colors = ["tab:blue" if mask[v] else "tab:orange" for v in G.nodes]
    cut = [(u, w) for u, w in G.edges if mask[u] and not mask[w]]
    cut_set = set(cut)
    ys = sorted({p[1] for p in pos.values()})
    step = (ys[-1] - ys[0]) / max(len(ys) - 1, 1) if len(ys) > 1 else 1.0
    straight, arcs = [], []
    for e in G.edges:
        if e in cut_set:
            continue
        (straight if abs(pos[e[0]][1] - pos[e[1]][1]) <= 1.5 * step else arcs).append(e)
    size = float(np.clip(3000.0 / max(n, 1), 10.0, 120.0))
    nx.draw_networkx_edges(G, pos, edgelist=straight, ax=ax, edge_color="0.55", arrowsize=6, width=0.6,
                           node_size=size)
    nx.draw_networkx_edges(G, pos, edgelist=arcs, ax=ax, edge_color="0.55", arrowsize=6, width=0.6,
                           node_size=size, connectionstyle="arc3,rad=0.25")
    nx.draw_networkx_edges(G, pos, edgelist=cut, ax=ax, edge_color="red", width=1.2, arrowsize=7,
                           node_size=size, connectionstyle="arc3,rad=0.15")
    nx.draw_networkx_nodes(G, pos, node_color=colors, node_size=size, ax=ax)
    producers = sorted({u for u, _ in cut})
    if producers:   # one red mark per crossing tensor, just below its producer
        ax.scatter([pos[u][0] for u in producers], [pos[u][1] - 0.35 * step for u in producers],
                   marker="X", color="red", s=max(size * 0.6, 12.0), zorder=5)
    font = float(np.clip(60.0 / np.sqrt(max(n, 1)), 3.0, 8.0))
    shown = range(n) if n <= max_labels else producers
    nx.draw_networkx_labels(G, pos, {v: graph.names[v] for v in shown}, font_size=font, ax=ax)
    ax.set_title(title or f"device (blue) / server (orange); {len(producers)} crossing tensor(s) (red X)")
    ax.axis("off")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


def sweep_surface(frame: pd.DataFrame, x: str, y: str, value: str, agg: str = "mean", title: str = "",
                  ax: Any = None) -> Any:
    """Heat map of ``value`` (aggregated over other columns) over the ``x`` by ``y`` grid."""
    table = frame.pivot_table(index=y, columns=x, values=value, aggfunc=agg)
    fig, ax = _figure(ax=ax)
    im = ax.imshow(table.to_numpy(dtype=float), aspect="auto", origin="lower")
    ax.set_xticks(range(table.shape[1]), [f"{c:g}" if isinstance(c, float) else str(c) for c in table.columns])
    ax.set_yticks(range(table.shape[0]), [f"{c:g}" if isinstance(c, float) else str(c) for c in table.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title or value)
    fig.colorbar(im, ax=ax, label=value)
    fig.tight_layout()
    return fig
