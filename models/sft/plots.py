"""SFT's figures: :func:`delay_bars` (delay per scheme, on any matplotlib axes) and
:func:`demo_plot` (the same figure written to a file for ``slopt demo``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slopt.plan import Plan

from .algorithm import paper
from .baselines import baseline
from .instance import load

__all__ = ["delay_bars", "demo_plot"]


def delay_bars(plans: list[Plan], ax: Any = None) -> Any:
    """Bar chart of the fine-tuning delay (h) of each plan on ``ax`` (a new figure when None)."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar([p.method for p in plans], [p.objective / 3600 for p in plans])
    ax.set_ylabel("fine-tuning delay, h")
    return ax


def demo_plot(out_dir: Path) -> Path:
    """Delay per scheme on the Section 7 cell (bar chart), written to ``out_dir/sft.png``
    (a figure of its own: the global matplotlib backend is left alone)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    inst = load(None, None, n_devices=5, H=16, n_slots=5)
    plans = [paper(inst)] + [baseline(inst, b) for b in ("no-compression", "sl", "sfl")]
    fig = Figure(figsize=(6, 3.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    delay_bars(plans, ax=ax)
    ax.set_title("SFT: delay per scheme (spec §7 cell, N = 5)")
    out = Path(out_dir) / "sft.png"
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    return out
