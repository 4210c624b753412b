"""GSFL figures: the demo plot (round latency by cut)."""

from __future__ import annotations

from pathlib import Path

from .algorithm import heuristic
from .instance import load
from .methods import _final
from .system import evaluate


def demo_plot(out_dir: Path) -> Path:
    """Round latency of GSFL (Alg. 4) vs SL, SplitFed, FL on the §7 default instance, by cut."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inst = load()
    cuts = inst.cuts
    rows = {s: [evaluate(inst, c, scheme=s).round_s for c in cuts] for s in ("sl", "splitfed")}
    rows["gsfl (Alg. 4)"] = [float(_final(inst, c, heuristic(inst.replace(cut=c))[1])[0].round_s) for c in cuts]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for k, v in rows.items():
        ax.plot(cuts, v, marker="o", label=k)
    ax.axhline(evaluate(inst, scheme="fl").round_s, color="k", ls="--", label="fl")
    ax.set_xlabel("cut layer c")
    ax.set_ylabel("round latency (s)")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("GSFL on VGG-11 / CIFAR-10 (spec §7 defaults)")
    fig.tight_layout()
    path = Path(out_dir) / "gsfl.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

