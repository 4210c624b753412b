"""Predicted against measured: dag-split's delay model of a plan versus a real split-training run.

For each pair of link rates, :func:`validate_plan` evaluates the plan with dag-split's
:func:`~slopt.models.dag_split.evaluate` (spec min-cut-splitting.md Eq. 6 and its parts; per-layer
times from the profile's measured ``device_time_s`` / ``server_time_s`` columns when present,
else FLOP / throughput) and trains the split model for real (:mod:`slopt.runtime.train`) at the
same rates. Components compared (seconds per iteration, medians over the iterations after the
warm-up):

| component | predicted (Eq. 6 term) | measured |
|---|---|---|
| device compute | Σ_{v∈D} τ^dev_v | device forward + backward + optimiser step |
| server compute | Σ_{v∈S} τ^srv_v | server forward + loss + backward + optimiser step |
| upload | Σ_u z_u B a_u / R_up | first byte offered on the device -> last byte decoded on the server |
| download | Σ_u z_u B g_u / R_dn | first byte offered on the server -> last byte decoded on the device |
| total | T(D) + 2 x latency | wall time of the iteration on the device |
| parts total | T(D) + 2 x latency | device compute + server compute + upload + download |

Compute is measured with the clock the profile was measured with: CPU seconds of each side's
process by default (``time.process_time``; it does not grow while another job holds the core, so
a run on a shared machine is compared like for like with per-layer times that were measured the
same way), or wall seconds (``compute_clock="wall"``).

The model has no optimiser step, no serialisation and no latency term; the latency is added to
the predicted total (one propagation delay per direction), the other two stay in the measured
side and are part of the difference the table shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from slopt.errors import ValidationError
from slopt.profiles.graph import ModelGraph
from slopt.runtime.link import check_rate
from slopt.runtime.partition import SplitModel, device_mask, split_model
from slopt.runtime.train import RunResult, SplitSession, cross_entropy_loss

__all__ = ["predict", "validate_plan", "ValidationResult", "plot_validation", "COMPONENTS"]

COMPONENTS = ("device_compute", "server_compute", "upload", "download", "total", "parts_total")


def predict(graph: ModelGraph, device_set: Any, *, uplink_bps: float, downlink_bps: float, batch: float,
            latency_s: float = 0.0, **instance: Any) -> dict[str, float]:
    """dag-split's prediction of one iteration (seconds per component; ``total`` = T(D) + 2 latency)."""
    from slopt.models.dag_split import evaluate, make_instance

    x = device_mask(graph, device_set)
    inst = make_instance(graph, uplink_bps=uplink_bps, downlink_bps=downlink_bps, batch=batch, **instance)
    ev = evaluate(inst, x, check=False)
    return {"device_compute": ev["device_compute_s"], "server_compute": ev["server_compute_s"],
            "upload": ev["upload_s"], "download": ev["download_s"],
            "total": ev["delay_s"] + 2 * float(latency_s), "parts_total": ev["delay_s"] + 2 * float(latency_s)}


@dataclass
class ValidationResult:
    """``table``: one row per (rates, component) with ``predicted_s``, ``measured_s``,
    ``ratio`` = measured / predicted and ``error`` = (measured - predicted) / predicted;
    ``runs``: the runs' records; ``cut_layers``: the plan's cut tensors (profile vertices)."""

    table: pd.DataFrame
    runs: list[RunResult] = field(default_factory=list)
    cut_layers: list[str] = field(default_factory=list)
    measured_times: bool = False

    def totals(self) -> pd.DataFrame:
        return self.table[self.table.component == "total"].reset_index(drop=True)

    def wide(self) -> pd.DataFrame:
        """Predicted / measured side by side, one row per rate pair."""
        t = self.table.copy()
        t["cell"] = t.predicted_s.map("{:.4g}".format) + " / " + t.measured_s.map("{:.4g}".format)
        return t.pivot_table(index=["uplink_bps", "downlink_bps"], columns="component", values="cell",
                             aggfunc="first")[list(COMPONENTS)].reset_index()


def validate_plan(module: Any, example_inputs: Any, graph: ModelGraph, device_set: Any, *,
                  rates: Sequence[tuple[float, float]] | Sequence[float] = ((50e6, 100e6),),
                  iterations: int = 5, warmup: int = 1, batch: int | None = None, latency_s: float = 0.0,
                  example_kwargs: Mapping[str, Any] | None = None, granularity: Any = None,
                  threads: int = 1, loss_fn: Callable[..., Any] = cross_entropy_loss,
                  optimizer: tuple[str, dict[str, Any]] = ("sgd", {"lr": 1e-3}), memory: bool = True,
                  compress: Mapping[str, Any] | None = None, split: SplitModel | None = None,
                  statistic: str = "median", compute_clock: str | None = None,
                  **instance: Any) -> ValidationResult:
    """Predicted versus measured delay of a dag-split plan, per component, over a sweep of rates.

    Parameters
    ----------
    module, example_inputs : the PyTorch model and an example batch (its first dimension is the
        batch B unless ``batch`` is given)
    graph : the model's profile (measured times give the "measured per-layer times" case)
    device_set : D (names, indices, mask or a dag-split ``Plan``); any ancestor-closed set
    rates : ``(uplink_bps, downlink_bps)`` pairs, or single rates used for both directions
    iterations, warmup : timed iterations per rate pair after ``warmup`` untimed ones
    latency_s : one-way latency added on the link (and to the predicted total)
    statistic : per-component statistic over the iterations (``median``; ``min`` = best of K,
        least disturbed by other processes; both are in ``table`` as ``measured_s`` and
        ``measured_min_s``)
    compute_clock : ``"cpu"`` (CPU seconds of each side's process) or ``"wall"`` for the two
        compute components; default: the clock the profile's times were measured with
        (``provenance["measured"]["device"]["clock"]``, else wall)
    instance : other :func:`~slopt.models.dag_split.make_instance` keywords (``device_flops``...)

    Raises
    ------
    ValidationError : D not ancestor-closed, the model cannot be split there, a rate <= 0.
    """
    import torch

    pairs = [(r, r) if not isinstance(r, (tuple, list)) else tuple(r) for r in rates]
    if not pairs:
        raise ValidationError("rates is empty", "rates")
    for up, dn in pairs:
        check_rate("uplink_bps", up)
        check_rate("downlink_bps", dn)
    args = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    sm = split or split_model(module, args, graph, device_set, example_kwargs=example_kwargs,
                              granularity=granularity)
    flat = list(torch.utils._pytree.tree_leaves((list(args), dict(example_kwargs or {}))))
    b = int(batch or (flat[0].shape[0] if flat and flat[0].dim() else 1))
    if compute_clock is None:
        compute_clock = ((graph.provenance or {}).get("measured", {}).get("device") or {}).get("clock", "wall")
    if compute_clock not in ("cpu", "wall"):
        raise ValidationError(f"compute_clock = {compute_clock!r}; choose cpu or wall", "compute_clock")
    suffix = "_cpu_s" if compute_clock == "cpu" else "_s"
    rows, runs = [], []
    with SplitSession(sm, flat, batch=batch, loss_fn=loss_fn, optimizer=optimizer, threads=threads) as s:
        for up, dn in pairs:
            res = s.run(iterations, up, dn, latency_s=latency_s, warmup=warmup, memory=memory,
                        compress=compress)
            runs.append(res)
            m = res.summary(statistic)
            lo = res.summary("min")
            key = {"device_compute": "device_compute" + suffix, "server_compute": "server_compute" + suffix,
                   "upload": "upload_s", "download": "download_s", "total": "wall_s"}
            measured = {c: m[k] for c, k in key.items()}
            measured["parts_total"] = sum(measured[c] for c in ("device_compute", "server_compute", "upload",
                                                                "download"))
            lo = dict(lo)
            lo["parts_total"] = sum(lo[key[c]] for c in ("device_compute", "server_compute", "upload", "download"))
            key["parts_total"] = "parts_total"
            pred = predict(graph, sm.mask, uplink_bps=up, downlink_bps=dn, batch=b, latency_s=latency_s,
                           **instance)
            for c in COMPONENTS:
                p, q = pred[c], measured[c]
                rows.append({"uplink_bps": up, "downlink_bps": dn, "component": c, "predicted_s": p,
                             "measured_s": q, "ratio": q / p if p > 0 else float("nan"),
                             "error": (q - p) / p if p > 0 else float("nan"),
                             "measured_min_s": lo[key[c]],
                             "error_min": (lo[key[c]] - p) / p if p > 0 else float("nan")})
    cut = runs[0].cut_layers if runs else []
    return ValidationResult(pd.DataFrame(rows), runs, cut, "device_time_s" in graph.extra)


def plot_validation(result: ValidationResult, ax: Any = None, path: str | Path | None = None,
                    title: str | None = None) -> Any:
    """Predicted (dashed) and measured (solid, markers) seconds per component against the uplink
    rate; returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    t = result.table
    for i, c in enumerate(COMPONENTS[:5]):
        d = t[t.component == c].sort_values("uplink_bps")
        col = f"C{i}"
        ax.plot(d.uplink_bps, d.predicted_s, "--", color=col, lw=1.2)
        ax.plot(d.uplink_bps, d.measured_s, "o-", color=col, lw=1.5, ms=4, label=c.replace("_", " "))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("uplink rate (bit/s)")
    ax.set_ylabel("seconds per iteration")
    ax.set_title(title or "predicted (dashed) vs measured (solid)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    if path is not None:
        ax.figure.savefig(path, dpi=120, bbox_inches="tight")
    return ax
