"""Three-tier figures: the peak memory per tier against the baselines' servers (``demo_plot``)."""

from __future__ import annotations

from pathlib import Path

from .baselines import memory_comparison
from .instance import spec6_instance

def demo_plot(out_dir: Path) -> Path:
    """Peak memory per tier of SplitLLM vs the baselines' servers (spec §6 setting)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inst = spec6_instance()
    df = memory_comparison(inst, 4, 12)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels = [f"{s}\n{n}" for s, n in zip(df["scheme"], df["node"])]
    ax.bar(labels, df["peak_gib"], color=["C0"] * 3 + ["C1"] * (len(df) - 3))
    ax.set_ylabel("peak memory (GiB)")
    ax.set_title("three-tier: peak memory, spec §6 setting (N=10, E=3, cuts 4/12)")
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    path = Path(out_dir) / "three_tier.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
