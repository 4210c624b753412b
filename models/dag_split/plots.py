"""Figures of dag-split: the split DAG (drawn by :func:`slopt.plots.dag_split`), Graphviz DOT
output and the demo figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .algorithm import algorithm_a
from .instance import SplitInstance, load
from .system import crossing


def to_dot(inst: SplitInstance, x: np.ndarray, path: str | Path | None = None) -> str:
    """The DAG in Graphviz DOT, device layers blue, server layers orange, cut tensors bold red."""
    g = inst.graph
    z = crossing(inst, x)
    names = [nm.replace("\\", "\\\\").replace('"', '\\"') for nm in g.names]
    lines = [f'digraph "{g.name or "model"}" {{', "  rankdir=TB; node [style=filled, shape=box];"]
    for i, nm in enumerate(names):
        col = "lightblue" if x[i] else "orange"
        lines.append(f'  "{nm}" [fillcolor={col}{", penwidth=3, color=red" if z[i] else ""}];')
    for u, w in zip(g.src.tolist(), g.dst.tolist()):
        cut = x[u] and not x[w]
        lines.append(f'  "{names[u]}" -> "{names[w]}"{" [color=red, penwidth=2]" if cut else ""};')
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if path is not None:
        Path(path).write_text(text)
    return text


def plot_split(inst: SplitInstance, x: np.ndarray, path: str | Path | None = None, ax: Any = None,
               title: str | None = None) -> Any:
    """Draw the DAG coloured by side with :func:`slopt.plots.dag_split` (device blue, server
    orange, one red mark per crossing tensor); saved to ``path`` when given. Returns the axes."""
    from slopt import plots

    g = inst.graph
    fig = plots.dag_split(g, np.asarray(x, dtype=bool), ax=ax, path=path,
                          title=title or f"{g.name}: device (blue) / server (orange), crossing tensors red")
    if path is not None and ax is None:
        import matplotlib.pyplot as plt
        plt.close(fig)
    return fig.axes[0] if ax is None else ax


def demo_plot(out_dir: Path) -> Path:
    """The shipped inception profile split by Algorithm A, coloured by side."""
    inst = load("inception", uplink_bps=100e6, downlink_bps=200e6, device_flops=1e9)
    x, _ = algorithm_a(inst)
    path = Path(out_dir) / "dag_split.png"
    plot_split(inst, x, path)
    return path
