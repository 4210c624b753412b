"""Predicted against measured: dag-split's delay model of a plan versus a real split-training run.

For each pair of link rates, :func:`validate_plan` evaluates the plan with dag-split's
:func:`~slopt.models.dag_split.evaluate` (spec min-cut-splitting.md Eq. 6 and its parts; per-layer
times from the profile's measured ``device_time_s`` / ``server_time_s`` columns when present,
else FLOP / throughput) and trains the split model for real (:mod:`slopt.runtime.train`) at the
same rates. Components compared (seconds per iteration, medians over the iterations after the
warm-up):

| component | predicted (Eq. 6 term + runtime hand-off) | measured |
|---|---|---|
| device compute | Σ_{v∈D} τ^dev_v | device forward + backward + optimiser step |
| server compute | Σ_{v∈S} τ^srv_v | server forward + loss + backward + optimiser step |
| upload | Σ_u z_u B a_u / R_up + h_up | first byte offered on the device -> last byte decoded on the server |
| download | Σ_u z_u B g_u / R_dn + h_dn | first byte offered on the server -> last byte decoded on the device |
| total | T(D) + 2 x latency + h_up + h_dn | wall time of the iteration on the device |
| parts total | T(D) + 2 x latency + h_up + h_dn | device compute + server compute + upload + download |

Compute is measured with the clock the profile was measured with: CPU seconds of each side's
process by default (``time.process_time``; it does not grow while another job holds the core, so
a run on a shared machine is compared like for like with per-layer times that were measured the
same way), or wall seconds (``compute_clock="wall"``).

**The hand-off h is slopt's runtime calibration, not part of the paper's Eq. 6.** Eq. 6 charges
a transfer 8N/R and nothing else; the runtime also frames, copies (serialises) and decodes every
message, and the receiving process has to wake up on its socket. The runtime sends exactly one
message per direction per iteration (:data:`MESSAGES_PER_DIRECTION`; the cut tensors up, their
gradients down), so h_up / h_dn = 1 x the hand-off of that message. ``message_overhead_s``:
``"calibrate"`` (the default of :func:`validate_plan` and ``slopt validate``) measures it once per
session on the same link before the runs (:meth:`~slopt.runtime.train.SplitSession.calibrate`:
round trips of the plan's own messages — same tensors, shapes and dtypes, through the SFT
compressor when ``compress`` is on — at 10 Gbit/s, minus 8 x wire bytes / R; plus a sweep of
payload sizes fitted as a + c N for the record); a float fixes h in seconds per message; 0 turns
it off. The table carries both predictions: ``predicted_s`` / ``error`` with h and
``predicted_eq6_s`` / ``error_eq6`` with Eq. 6 (+ latency) alone. Measured on this machine
(``docs/runtime.md``): a ~0.06-0.1 ms intercept per message, ~5 µs per extra tensor, and a
per-byte part that dominates for large tensors and is not linear in N (0.2-0.5 ns/byte while a
tensor fits in the CPU cache, ~1 ns/byte for 4 MB tensors), hence the calibration on the plan's
own messages rather than a fitted a + c N.

With the SFT compressor on the wire (``compress=``), the predicted upload bytes are the
compressor's own size model (:func:`sft_payload_bytes`, Eq. 7 of sft-two-timescale.md) for every
floating cut tensor; the encoder's CPU time is part of the calibrated upload hand-off.

The model has no optimiser step or loss term; those stay in the measured side and are part of
the difference the table shows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from slopt.allocator import check_allocator
from slopt.errors import ValidationError
from slopt.profiles.graph import ModelGraph
from slopt.runtime.link import check_rate, check_wait
from slopt.runtime.partition import SplitModel, device_mask, first_difference, split_model
from slopt.runtime.train import LinkCalibration, RunResult, SplitSession, cross_entropy_loss

__all__ = ["predict", "optimizer_step_s", "validate_plan", "ValidationResult", "plot_validation", "COMPONENTS",
           "MESSAGES_PER_DIRECTION", "sft_payload_bytes"]

COMPONENTS = ("device_compute", "server_compute", "upload", "download", "total", "parts_total")
#: messages per direction per iteration of :class:`~slopt.runtime.train.SplitSession`: the device
#: sends the cut tensors in one ``fwd`` message, the server the gradients in one ``bwd`` message
#: (the peak-memory iteration's extra ``report`` round trip is not among the timed iterations)
MESSAGES_PER_DIRECTION = 1


def sft_payload_bytes(shape: Sequence[int], theta: float, q: int = 4) -> float:
    """Predicted bytes of one tensor through the SFT compressor, by the compressor's own size
    model (:func:`slopt.compression.eq7_bits`, spec sft-two-timescale.md Eq. 7, clipped):
    E min(theta q + H2(theta), q) bits plus one fp32 scale per row of the last axis (the S_hdr
    the encoder sends). Not counted: the coder's excess over E H2(theta) (rANS: < 1 % of the mask
    bits for E >= 1e5) and the payload's self-describing head and the coder's lane states (a few
    hundred bytes per tensor)."""
    from slopt.compression import eq7_bits

    e = float(np.prod(shape)) if len(shape) else 1.0
    rows = e / float(shape[-1]) if len(shape) and shape[-1] else 1.0
    return float(eq7_bits(e, theta, int(q), header_bits=32.0 * rows)) / 8.0


def keyword_or_seconds(value: Any, keyword: str, field: str, option: str | None = None) -> str | float:
    """``keyword`` itself, or ``value`` as a finite number of seconds >= 0 (a string that reads as
    one too, as the command line gives it); else a :class:`ValidationError` naming ``field`` (and
    the command-line ``option``) and the value. Shared by ``message_overhead_s`` ("calibrate") and
    ``optimizer_step`` ("profile") in Python and on the command line."""
    if isinstance(value, str) and value.strip() == keyword:
        return keyword
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not (v >= 0) or math.isinf(v) or isinstance(value, bool):
        name = f"{field} ({option})" if option else field
        raise ValidationError(f"{name} = {value!r}; {keyword!r}, a number of seconds >= 0, or 0 (off)", field)
    return v


def _overhead(value: Any, direction: str, payload_bytes: float) -> float:
    """Seconds charged per message: a :class:`LinkCalibration`'s, or a fixed number of seconds."""
    if isinstance(value, LinkCalibration):
        return value.overhead_s(direction, payload_bytes)
    v = keyword_or_seconds(value, "calibrate", "message_overhead_s")
    if isinstance(v, str):
        raise ValidationError("message_overhead_s = 'calibrate' needs a session's calibration "
                              "(validate_plan measures it); predict takes the LinkCalibration or seconds",
                              "message_overhead_s")
    return v


def optimizer_step_s(graph: ModelGraph, device_set: Any, value: Any = "profile") -> tuple[float, float]:
    """The optimiser step per side (device, server), seconds per iteration — slopt's runtime
    calibration, **not** a term of Eq. 6 (which has no optimiser step).

    ``value``: ``"profile"`` — from the profile's measured ``{side}_optimizer_time_s`` columns
    (:func:`slopt.profiles.measure.measure_times`: each vertex's step timed inside training
    passes): the fixed cost of a step call ``provenance["measured"][side]["optimizer_call_s"]``
    + the sum over the side's vertices, 0 for a side without trainable parameters or without the
    columns; a number: that many seconds on each side that has vertices; 0: off."""
    x = device_mask(graph, device_set)
    value = keyword_or_seconds(value, "profile", "optimizer_step")
    if value == "profile":
        out = []
        for side, members in (("device", x), ("server", ~x)):
            col = graph.extra.get(f"{side}_optimizer_time_s")
            meta = ((graph.provenance or {}).get("measured", {}).get(side) or {})
            if col is None or not members.any():
                out.append(0.0)
                continue
            has = np.asarray(graph.trainable_param_bytes if hasattr(graph, "trainable_param_bytes")
                             else graph.param_bytes, float)[members] > 0
            out.append(float(np.asarray(col, float)[members].sum())
                       + (float(meta.get("optimizer_call_s", 0.0)) if has.any() else 0.0))
        return out[0], out[1]
    v = float(value)
    return (v if x.any() else 0.0), (v if (~x).any() else 0.0)


def predict(graph: ModelGraph, device_set: Any, *, uplink_bps: float, downlink_bps: float, batch: float,
            latency_s: float = 0.0, message_overhead_s: Any = 0.0, compress: Mapping[str, Any] | None = None,
            cut_meta: Mapping[str, tuple[Sequence[int], str, bool]] | None = None,
            optimizer_step: Any = 0.0, **instance: Any) -> dict[str, float]:
    """dag-split's prediction of one iteration (seconds per component), plus the runtime's terms.

    ``total`` = T(D) (Eq. 6) + per direction (``latency_s`` + messages x hand-off), with one
    message per direction per iteration (:data:`MESSAGES_PER_DIRECTION`); the hand-off is
    ``message_overhead_s`` — a :class:`~slopt.runtime.train.LinkCalibration` (the session's
    measured hand-off of the plan's own messages), a fixed number of seconds, or 0 (Eq. 6 alone).
    The hand-off is the runtime's calibration, **not** a term of Eq. 6; it is added to the upload
    and download components, and ``eq6_total`` / ``eq6_upload`` / ``eq6_download`` keep Eq. 6 (+
    latency) alone.

    ``optimizer_step`` (:func:`optimizer_step_s`: ``"profile"``, seconds, or 0 = off): the
    optimiser step per side, added to the device and server compute and to the total — also the
    runtime's calibration, not Eq. 6 (``eq6_device_compute`` / ``eq6_server_compute`` keep Eq. 6's
    Σ τ; ``device_optimizer_step_s`` / ``server_optimizer_step_s`` the terms).

    ``compress={"theta": .., "q": ..}`` (the SFT compressor on the uploaded activations, as in
    :meth:`~slopt.runtime.train.SplitSession.run`) replaces the bytes of every floating cut tensor
    by :func:`sft_payload_bytes`; needs ``cut_meta`` (the split's shapes, dtypes at the example
    batch ``batch``; :attr:`SplitModel.cut_meta`). ``upload_bytes`` / ``download_bytes``: the
    predicted payload bytes per iteration.
    """
    from slopt.models.dag_split import evaluate, make_instance

    x = device_mask(graph, device_set)
    s_dev, s_srv = optimizer_step_s(graph, x, optimizer_step)
    inst = make_instance(graph, uplink_bps=uplink_bps, downlink_bps=downlink_bps, batch=batch, **instance)
    ev = evaluate(inst, x, check=False)
    up_s, dn_s = float(ev["upload_s"]), float(ev["download_s"])
    up_bytes, dn_bytes = up_s * float(uplink_bps) / 8, dn_s * float(downlink_bps) / 8
    if compress:
        if cut_meta is None:
            raise ValidationError("predict: compress needs cut_meta (the split's cut tensor shapes)", "cut_meta")
        import torch

        theta, q = float(compress["theta"]), int(compress.get("q", 4))
        for shape, dtype, _ in cut_meta.values():
            dt = getattr(torch, dtype)
            if dt.is_floating_point:
                raw = float(np.prod(shape)) * torch.empty((), dtype=dt).element_size()
                up_bytes += sft_payload_bytes(shape, theta, q) - raw
        up_s = 8 * up_bytes / float(uplink_bps)
    lat = float(latency_s)
    o_up = _overhead(message_overhead_s, "upload", up_bytes) * MESSAGES_PER_DIRECTION
    o_dn = _overhead(message_overhead_s, "download", dn_bytes) * MESSAGES_PER_DIRECTION
    eq6 = float(ev["delay_s"]) + up_s - float(ev["upload_s"])      # Eq. 6 with the compressed upload
    total = eq6 + 2 * lat + o_up + o_dn + s_dev + s_srv
    return {"device_compute": float(ev["device_compute_s"]) + s_dev,
            "server_compute": float(ev["server_compute_s"]) + s_srv,
            "upload": up_s + o_up, "download": dn_s + o_dn, "total": total, "parts_total": total,
            "eq6_device_compute": float(ev["device_compute_s"]), "eq6_server_compute": float(ev["server_compute_s"]),
            "eq6_upload": up_s, "eq6_download": dn_s, "eq6_total": eq6 + 2 * lat,
            "eq6_handoff_total": eq6 + 2 * lat + o_up + o_dn,
            "upload_overhead_s": o_up, "download_overhead_s": o_dn,
            "device_optimizer_step_s": s_dev, "server_optimizer_step_s": s_srv,
            "upload_bytes": up_bytes, "download_bytes": dn_bytes}


@dataclass
class ValidationResult:
    """``table``: one row per (rates, component) with ``predicted_s``, ``measured_s``,
    ``ratio`` = measured / predicted and ``error`` = (measured - predicted) / predicted;
    ``runs``: the runs' records; ``cut_layers``: the plan's cut tensors (profile vertices)."""

    table: pd.DataFrame
    runs: list[RunResult] = field(default_factory=list)
    cut_layers: list[str] = field(default_factory=list)
    measured_times: bool = False
    calibration: LinkCalibration | None = None
    message_overhead: Any = 0.0
    context: dict[str, Any] = field(default_factory=dict, repr=False)
    #: with ``remeasure``: the per-layer times measured between the rounds (per-vertex median)
    #: and the same runs predicted from them
    window_profile: ModelGraph | None = field(default=None, repr=False)
    window: "ValidationResult | None" = field(default=None, repr=False)

    def repredict(self, graph: ModelGraph) -> "ValidationResult":
        """The same runs against another profile of the same model (e.g. its per-layer times
        measured again after the runs): a new result whose table's predictions come from
        ``graph``; the measured columns are unchanged."""
        if not self.context:
            raise ValidationError("repredict needs a result of validate_plan", "result")
        names = list(self.context["split"].names)
        if list(graph.names) != names:
            k, got, want = first_difference(list(graph.names), names)
            raise ValidationError(f"graph is not the profile these runs were split with: vertex {k} is "
                                  f"{got!r}, the split's {want!r}", "graph")
        return dataclasses.replace(self, table=_table(graph, self.runs, **self.context),
                                   measured_times="device_time_s" in graph.extra)

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
                  message_overhead_s: Any = "calibrate", calibration_repeats: int = 7,
                  wait: str = "spin", optimizer_step: Any = "profile", allocator: str = "retain",
                  schedule: str = "interleaved", remeasure: int = 0, time_limit_s: float | None = None,
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
    memory : also measure the peak memory per side, in one extra iteration after all the timed
        runs (it slows the iterations that follow it), stored in every run's ``memory``
    latency_s : one-way latency added on the link (and to the predicted total)
    statistic : per-component statistic over the iterations (``median``; ``min`` = best of K,
        least disturbed by other processes; both are in ``table`` as ``measured_s`` and
        ``measured_min_s``)
    compute_clock : ``"cpu"`` (CPU seconds of each side's process) or ``"wall"`` for the two
        compute components; default: the clock the profile's times were measured with
        (``provenance["measured"]["device"]["clock"]``, else wall)
    message_overhead_s : the hand-off charged per message and direction on top of Eq. 6 (the
        runtime's calibration, not part of Eq. 6): ``"calibrate"`` (default) measures it once on
        this session's link before the runs (:meth:`SplitSession.calibrate`, the plan's own
        messages, ``calibration_repeats`` round trips); a float (seconds) fixes it; 0 switches
        it off. The table always also carries ``predicted_eq6_s`` / ``error_eq6`` (Eq. 6 + latency
        alone).
    wait : how each side waits on the link (:class:`~slopt.runtime.train.SplitSession`):
        ``"spin"`` (default: polled, the waiting side keeps its core busy as a dedicated device
        and server would) or ``"block"`` (sleeps; on a shared VM the idle vCPU comes back cold)
    optimizer_step : the optimiser step per side added to the compute components (the runtime's
        calibration, not Eq. 6; :func:`optimizer_step_s`): ``"profile"`` (default: measured in the
        profile, 0 when it has no ``*_optimizer_time_s`` columns), seconds, or 0 (off)
    schedule : ``"interleaved"`` (default: after each pair's warm-up, ``iterations`` rounds of one
        iteration per rate pair in turn, so a slow spell of a shared machine falls on every pair
        alike) or ``"blocked"`` (each pair's iterations in one block); :func:`_runs`
    remeasure : 0 (default: off) or ``k``: measure the per-layer times of both sides again on this
        machine, ``k`` passes each time, before every round of the runs and after the last
        (:func:`_remeasure`); ``result.window_profile`` is their per-vertex median and
        ``result.window`` the same runs predicted from it — per-layer times from the same time
        window as the runs, so that a drift of a shared machine's speed between profile and run
        (measured here: up to ±25 % within a minute) is not charged to the delay model. Only
        meaningful when both sides' times were measured on this machine.
    time_limit_s : seconds (None: no limit): once spent — or after a first Ctrl-C inside
        :func:`slopt.progress.interruptible`, as ``slopt validate`` runs it — no new round starts,
        and the result covers the rounds done (at least one; each run's ``records`` say how
        many). Progress: one ``INFO`` record per round (``slopt -v validate``, or
        :func:`slopt.progress.enable`)
    allocator : ``"retain"`` (default) or ``"system"``: how the C heap treats freed memory in both
        sides' processes (:mod:`slopt.allocator`; the profiler's default is ``"retain"`` too, so
        profile and run time their steps in the same state)
    instance : other :func:`~slopt.models.dag_split.make_instance` keywords (``device_flops``...)

    Raises
    ------
    ValidationError : D not ancestor-closed, the model cannot be split there, a rate <= 0.
    """
    import torch

    from slopt.methods import Deadline

    deadline = Deadline(time_limit_s)               # the clock starts at the call
    check_wait(wait)
    if time_limit_s is not None and not (float(time_limit_s) > 0):
        raise ValidationError(f"time_limit_s = {time_limit_s!r}; seconds > 0, or None (no limit)", "time_limit_s")
    optimizer_step = keyword_or_seconds(optimizer_step, "profile", "optimizer_step")   # before any run
    check_allocator(allocator)
    if schedule not in SCHEDULES:
        raise ValidationError(f"schedule = {schedule!r}; choose one of {', '.join(SCHEDULES)}", "schedule")
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
    if not isinstance(message_overhead_s, LinkCalibration):
        message_overhead_s = keyword_or_seconds(message_overhead_s, "calibrate", "message_overhead_s")
    calibrate = message_overhead_s == "calibrate"
    between, window = None, []
    if remeasure:
        between = _remeasure(module, args, example_kwargs, graph, int(remeasure), allocator, window)
    runs: list[RunResult] = []
    cal: LinkCalibration | None = message_overhead_s if isinstance(message_overhead_s, LinkCalibration) else None
    with SplitSession(sm, flat, batch=batch, loss_fn=loss_fn, optimizer=optimizer, threads=threads,
                      wait=wait, allocator=allocator) as s:
        if calibrate:
            if s.link is not None:
                cal = s.calibrate(repeats=calibration_repeats, compress=compress)
            overhead: Any = cal if cal is not None else 0.0
        else:
            overhead = message_overhead_s
        runs = _runs(s, pairs, iterations, warmup, schedule, latency_s, compress, between, deadline)
        if memory and runs:
            # peak memory once, after every timed run: the tracked iteration leaves the process
            # slower for the iterations after it (ResNet-18's server part measured +20-50 % for
            # several runs), so it must not precede timed iterations; it does not depend on the rate
            peak = s.run(1, *pairs[-1], latency_s=latency_s, warmup=0, memory=True, compress=compress).memory
            for r in runs:
                r.memory = {k: dict(v) for k, v in peak.items()}
    cut = runs[0].cut_layers if runs else []
    ctx = {"split": sm, "pairs": pairs, "batch": b, "statistic": statistic, "suffix": suffix, "latency_s": latency_s,
           "overhead": overhead, "compress": compress, "optimizer_step": optimizer_step, "instance": dict(instance)}
    res = ValidationResult(_table(graph, runs, **ctx), runs, cut, "device_time_s" in graph.extra, cal,
                           overhead if not isinstance(overhead, LinkCalibration) else "calibrated", ctx)
    if window:
        from slopt.profiles.measure import median_profile

        res.window_profile = median_profile(window)
        res.window = res.repredict(res.window_profile)
    return res


def _remeasure(module: Any, args: tuple, kwargs: Mapping[str, Any] | None, graph: ModelGraph, repeats: int,
               allocator: str, into: list[ModelGraph]) -> Callable[[], None]:
    """A callable that measures the per-layer times of both sides once more on this machine
    (``repeats`` passes after one warm-up, the profile's own statistic, order, clock and threads;
    the model traced once) and appends the profile to ``into``."""
    from slopt.profiles.measure import measure, profile_granularity
    from slopt.runtime.partition import trace

    if repeats < 1:
        raise ValidationError(f"remeasure = {repeats!r}; passes per re-measurement, >= 1 (0: off)", "remeasure")
    meta = ((graph.provenance or {}).get("measured") or {}).get("device") or {}
    opts = {k: meta[k] for k in ("statistic", "order", "clock", "threads") if k in meta}
    tr = trace(module, args, dict(kwargs or {}), granularity=profile_granularity(graph))

    def again() -> None:
        into.append(measure(graph, module, args, kwargs, side="both", repeats=repeats, warmup=1, whole_model=False,
                            traced=tr, allocator=allocator, **opts))
    return again


def _table(graph: ModelGraph, runs: list[RunResult], *, split: SplitModel, pairs: list[tuple[float, float]],
           batch: int, statistic: str, suffix: str, latency_s: float, overhead: Any,
           compress: Mapping[str, Any] | None, optimizer_step: Any, instance: dict[str, Any]) -> pd.DataFrame:
    """The predicted-vs-measured table of ``runs`` (one per rate pair), predictions from ``graph``."""
    sm, b, rows = split, batch, []
    for (up, dn), res in zip(pairs, runs):
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
                       message_overhead_s=overhead, compress=compress, cut_meta=_meta_at(sm, b),
                       optimizer_step=optimizer_step, **instance)
        eq6 = {**pred, "device_compute": pred["eq6_device_compute"],
               "server_compute": pred["eq6_server_compute"], "upload": pred["eq6_upload"],
               "download": pred["eq6_download"], "total": pred["eq6_total"], "parts_total": pred["eq6_total"]}
        term = {"device_compute": pred["device_optimizer_step_s"], "server_compute": pred["server_optimizer_step_s"],
                "upload": pred["upload_overhead_s"], "download": pred["download_overhead_s"]}
        term["total"] = term["parts_total"] = sum(term.values())
        nbytes = {"upload": (pred["upload_bytes"], m["upload_payload_bytes"]),
                  "download": (pred["download_bytes"], m["download_payload_bytes"])}
        for c in COMPONENTS:
            p, q, p0 = pred[c], measured[c], eq6[c]
            pb, mb = nbytes.get(c, (float("nan"), float("nan")))
            rows.append({"uplink_bps": up, "downlink_bps": dn, "component": c, "predicted_s": p,
                         "measured_s": q, "ratio": q / p if p > 0 else float("nan"),
                         "error": (q - p) / p if p > 0 else float("nan"),
                         "measured_min_s": lo[key[c]],
                         "error_min": (lo[key[c]] - p) / p if p > 0 else float("nan"),
                         "predicted_eq6_s": p0, "error_eq6": (q - p0) / p0 if p0 > 0 else float("nan"),
                         "calibration_s": term[c],
                         "predicted_bytes": pb, "measured_bytes": mb})
    return pd.DataFrame(rows)


SCHEDULES = ("interleaved", "blocked")


def _runs(s: SplitSession, pairs: list[tuple[float, float]], iterations: int, warmup: int, schedule: str,
          latency_s: float, compress: Mapping[str, Any] | None,
          between: Callable[[], None] | None = None, deadline: Any = None) -> list[RunResult]:
    """One :class:`RunResult` per rate pair. ``"blocked"``: each pair's ``warmup + iterations`` in one
    block. ``"interleaved"``: each pair's ``warmup`` first, then ``iterations`` rounds of one
    iteration per pair in turn, so that every pair's iterations are spread over the whole session
    and a slow spell of a shared machine (measured here: one side's compute +40 % for half a
    second) falls on all pairs alike instead of on one pair's whole block; the records of a pair
    are merged in order (``iteration`` renumbered, no warm-up left in them). ``between`` is called
    before every round (every pair's block when blocked) and after the last.

    Progress: one ``INFO`` record per round (per pair when blocked) on ``slopt.runtime.validate``.
    ``deadline`` (:class:`slopt.methods.Deadline`: a time limit, or a first Ctrl-C): once it has
    expired no new round (block) starts; every round (block) already done is kept, at least one."""
    from slopt.methods import Deadline
    from slopt.progress import get_logger, report

    log, deadline = get_logger(__name__), deadline or Deadline(None)
    tick = between or (lambda: None)

    def stop(done: int, total: int, what: str) -> bool:
        report(log, done, total, what=what, elapsed_s=deadline.elapsed)
        if done < total and deadline.expired:
            log.warning("validate_plan stopped after %d of %d %s (time limit or Ctrl-C); the table covers those",
                        done, total, what)
            return True
        return False

    if schedule == "blocked":
        done = []
        for up, dn in pairs:
            tick()
            done.append(s.run(iterations, up, dn, latency_s=latency_s, warmup=warmup, memory=False,
                              compress=compress))
            if stop(len(done), len(pairs), "rate pairs"):
                break
        tick()
        return done
    if warmup:
        for up, dn in pairs:
            s.run(int(warmup), up, dn, latency_s=latency_s, warmup=0, memory=False, compress=compress)
    got: list[list[RunResult]] = [[] for _ in pairs]
    for k in range(int(iterations)):
        tick()
        for j, (up, dn) in enumerate(pairs):
            got[j].append(s.run(1, up, dn, latency_s=latency_s, warmup=0, memory=False, compress=compress))
        if stop(k + 1, int(iterations), "rounds"):
            break
    tick()
    out = []
    for rs in got:
        recs = [dataclasses.replace(rec, iteration=k) for k, r in enumerate(rs) for rec in r.records]
        out.append(dataclasses.replace(rs[0], records=recs, losses=[x for r in rs for x in r.losses], warmup=0))
    return out


def _meta_at(sm: SplitModel, batch: int) -> dict[str, tuple[tuple[int, ...], str, bool]]:
    """The cut tensors' meta with the first dimension set to the run's batch."""
    return {k: ((int(batch), *shape[1:]) if shape else shape, dt, g) for k, (shape, dt, g) in sm.cut_meta.items()
            if k in sm.cut}


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
