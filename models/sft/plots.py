"""SFT's figures: :func:`demo_plot` (delay per scheme, for ``slopt demo``)."""

from __future__ import annotations

from pathlib import Path

from .algorithm import paper
from .baselines import baseline
from .instance import load

__all__ = ["demo_plot"]


def demo_plot(out_dir: Path) -> Path:
    """Delay per scheme on the Section 7 cell (bar chart)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inst = load(None, None, n_devices=5, H=16, n_slots=5)
    plans = [paper(inst)] + [baseline(inst, b) for b in ("no-compression", "sl", "sfl")]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar([p.method for p in plans], [p.objective / 3600 for p in plans])
    ax.set_ylabel("fine-tuning delay, h")
    ax.set_title("SFT: delay per scheme (spec §7 cell, N = 5)")
    out = Path(out_dir) / "sft.png"
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


