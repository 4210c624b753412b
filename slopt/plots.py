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


def _figure(figsize: tuple[float, float] = (6.0, 4.0)) -> tuple[Any, Any]:
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        try:
            matplotlib.use("Agg")
        except Exception:
            pass
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def breakdown_bars(frame: pd.DataFrame, index: str, components: Sequence[str] | None = None,
                   ylabel: str = "delay (s)", title: str = "") -> Any:
    """Stacked bars: one bar per row (labelled by ``index``), one segment per component column."""
    fig, ax = _figure()
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
                 points: pd.DataFrame | None = None) -> Any:
    """A two-objective front (``x`` vs ``y``), optionally with other schemes as labelled points."""
    fig, ax = _figure()
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
                scale: float = 2.0 ** -30, title: str = "") -> Any:
    """Grouped bars: rows (``index``: schemes) x ``groups`` columns (tiers), values in bytes x ``scale``."""
    fig, ax = _figure((7.0, 4.0))
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


def dag_split(graph: Any, device_mask: np.ndarray, title: str = "", max_labels: int = 60) -> Any:
    """Draw a :class:`ModelGraph` in topological layers, device vertices blue, server vertices orange,
    cut edges red."""
    import networkx as nx

    G = nx.DiGraph()
    G.add_nodes_from(range(graph.n))
    G.add_edges_from(zip(graph.src.tolist(), graph.dst.tolist()))
    for layer, nodes in enumerate(nx.topological_generations(G)):
        for v in nodes:
            G.nodes[v]["layer"] = layer
    pos = nx.multipartite_layout(G, subset_key="layer", align="horizontal")
    pos = {v: (x, -y) for v, (y, x) in pos.items()}
    fig, ax = _figure((6.0, max(4.0, 0.25 * len(set(nx.get_node_attributes(G, "layer").values())))))
    mask = np.asarray(device_mask, dtype=bool)
    colors = ["tab:blue" if mask[v] else "tab:orange" for v in G.nodes]
    cut = [(u, w) for u, w in G.edges if mask[u] and not mask[w]]
    rest = [e for e in G.edges if e not in set(cut)]
    nx.draw_networkx_nodes(G, pos, node_color=colors, node_size=80, ax=ax)
    nx.draw_networkx_edges(G, pos, edgelist=rest, ax=ax, arrowsize=6, width=0.6)
    nx.draw_networkx_edges(G, pos, edgelist=cut, ax=ax, edge_color="red", width=1.5, arrowsize=8)
    if graph.n <= max_labels:
        nx.draw_networkx_labels(G, pos, {v: graph.names[v] for v in G.nodes}, font_size=6, ax=ax)
    ax.set_title(title or "device (blue) / server (orange); cut edges red")
    ax.axis("off")
    fig.tight_layout()
    return fig


def sweep_surface(frame: pd.DataFrame, x: str, y: str, value: str, agg: str = "mean", title: str = "") -> Any:
    """Heat map of ``value`` (aggregated over other columns) over the ``x`` by ``y`` grid."""
    table = frame.pivot_table(index=y, columns=x, values=value, aggfunc=agg)
    fig, ax = _figure()
    im = ax.imshow(table.to_numpy(dtype=float), aspect="auto", origin="lower")
    ax.set_xticks(range(table.shape[1]), [f"{c:g}" if isinstance(c, float) else str(c) for c in table.columns])
    ax.set_yticks(range(table.shape[0]), [f"{c:g}" if isinstance(c, float) else str(c) for c in table.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title or value)
    fig.colorbar(im, ax=ax, label=value)
    fig.tight_layout()
    return fig
