"""GSFL figures: the demo plot (round latency by cut)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .algorithm import heuristic
from .instance import load
from .methods import _final
from .system import evaluate


def plot_latency_by_cut(inst: Any = None, *, ax: Any = None) -> Any:
    """Round latency of GSFL (Alg. 4) vs SL, SplitFed, FL by cut layer (default: the §7 instance).
    Draws into ``ax`` (a new figure when None) and returns it."""
    from matplotlib.ticker import MaxNLocator

    inst = load() if inst is None else inst
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 3.5))
    cuts = inst.cuts
    rows = {s: [evaluate(inst, c, scheme=s).round_s for c in cuts] for s in ("sl", "splitfed")}
    rows["gsfl (Alg. 4)"] = [float(_final(inst, c, heuristic(inst.replace(cut=c))[1])[0].round_s) for c in cuts]
    for k, v in rows.items():
        ax.plot(cuts, v, marker="o", label=k)
    ax.axhline(evaluate(inst, scheme="fl").round_s, color="k", ls="--", label="fl")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))       # the cut is an index
    ax.set_xlabel("cut layer c")
    ax.set_ylabel("round latency (s)")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("GSFL on VGG-11 / CIFAR-10 (spec §7 defaults)")
    return ax


def demo_plot(out_dir: Path) -> Path:
    """:func:`plot_latency_by_cut` on the §7 default instance, written to ``out_dir/gsfl.png``
    (a figure without pyplot, so no backend is switched)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5))
    plot_latency_by_cut(ax=fig.add_subplot())
    fig.tight_layout()
    path = Path(out_dir) / "gsfl.png"
    fig.savefig(path, dpi=120)
    return path
