"""CARD figures: the delay-energy trade-off (:func:`plot_pareto`), the cut chosen per device over
rounds (:func:`plot_cuts`), and the ``slopt demo`` figure (:func:`demo_plot`). Every figure takes
``ax=``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from slopt.plan import Plan

from .instance import load
from .methods import compare_schemes, pareto_front


def plot_pareto(front: pd.DataFrame, ax: Any = None, schemes: pd.DataFrame | None = None) -> Any:
    """Plot a :func:`pareto_front` (delay vs server energy), optionally with scheme points."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot(front["delay_s"], front["server_energy_j"], "o-", ms=3, label="CARD, omega_E sweep")
    if schemes is not None:
        for _, r in schemes.iterrows():
            label = "CARD, default weights" if r["scheme"] == "paper" else r["scheme"]
            ax.plot(r["delay_s"], r["server_energy_j"], "s", label=label)
    ax.set_xlabel("mean training delay per turn (s)")
    ax.set_ylabel("mean server energy per turn (J)")
    ax.set_title("CARD delay-energy trade-off")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def plot_cuts(plan: Plan, ax: Any = None) -> Any:
    """Cut layer chosen per device over rounds (integer ticks on both axes)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    c = np.asarray(plan.decision["cut"])
    for n in range(c.shape[1]):
        ax.step(np.arange(c.shape[0]), c[:, n], where="post", label=f"device {n}")
    ax.set_xlabel("round m")
    ax.set_ylabel("cut layer c")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))   # both axes are indices
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=7)
    return ax


def demo_plot(out_dir: Path) -> Path:
    """The Pareto front on the §7 defaults, with the baselines, as a PNG (no pyplot state touched)."""
    from matplotlib.figure import Figure

    inst = load(None, None, rounds=20)
    fig = Figure(figsize=(5.5, 4))
    ax = plot_pareto(pareto_front(inst), ax=fig.subplots(), schemes=compare_schemes(inst))
    path = Path(out_dir) / "card_pareto.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path
