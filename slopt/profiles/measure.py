"""Measured per-layer times: every vertex's forward and backward timed on this machine.

:func:`measure_times` traces the module exactly as :func:`slopt.profiles.from_torch` does
(``torch.export``, same vertex grouping; :func:`slopt.runtime.partition.trace`), cuts out each
vertex's operators as one ``torch.fx`` module (:func:`slopt.runtime.partition.vertex_part`) and
runs the vertices in execution order on real tensors, each with the real inputs of the previous
vertices:

* forward: ``warmup`` untimed calls, then ``repeats`` timed calls (autograd recording on, as in
  training);
* backward: per repeat, an untimed forward, then ``torch.autograd.grad`` of the vertex outputs
  (gradient of ones) with respect to every input that needs a gradient in the real pass (values
  depending on a trainable parameter) and every trainable parameter — the work autograd does for
  this vertex in a training step;
* statistics: median per vertex, spread = half the inter-quartile range; CUDA is synchronised
  around every timed call when the model lives on a GPU (**the CUDA path is untested here**: the
  test machine has no GPU; model and inputs must share one device, checked up front).

Buffers (BatchNorm running statistics) are restored afterwards. The sum of the vertex medians is
compared with the median of whole-model training steps (forward + loss + backward) of the same
batch: ``provenance["measured"][side]["vertex_sum_over_whole"]``.

:func:`with_times` writes the figures into the profile's per-layer time columns, **per sample**
(divided by the measuring batch), which dag-split reads as tau_dev = B x ``device_time_s`` and
tau_srv = B x ``server_time_s`` (spec min-cut-splitting.md Eqs. 1-2, measured variant): ``side``
chooses the columns (``device``, ``server`` or ``both`` for one machine playing both roles).
:func:`merge_times` combines a profile measured on the device with one measured on the server.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from slopt.allocator import check_allocator, set_allocator
from slopt.errors import ValidationError
from slopt.profiles.graph import ModelGraph

__all__ = ["measure_times", "with_times", "merge_times", "measure", "SIDES"]

SIDES = ("device", "server", "both")
#: how the vertices are timed (:func:`measure_times`): inside training passes, or one by one
ORDERS = ("pass", "vertex")
_COLS = ("time_s", "forward_time_s", "backward_time_s", "time_spread_s", "optimizer_time_s")


def _stats(xs: list[float], statistic: str = "median") -> tuple[float, float]:
    if not xs:
        return 0.0, 0.0
    q = np.percentile(xs, [25, 75])
    centre = statistics.median(xs) if statistic == "median" else min(xs)
    return float(centre), float((q[1] - q[0]) / 2)


def measure_times(module: Any, example_inputs: Any, example_kwargs: Mapping[str, Any] | None = None, *,
                  graph: ModelGraph | None = None,
                  granularity: str | int | Callable[[str], str] = "module", warmup: int = 2,
                  repeats: int = 5, threads: int | None = 1, whole_model: bool = True,
                  traced: Any = None, statistic: str = "median", clock: str | None = None,
                  order: str = "pass", optimizer: tuple[str, dict[str, Any]] | None = ("sgd", {"lr": 1e-3}),
                  allocator: str = "retain") -> pd.DataFrame:
    """Time every vertex's forward and backward (seconds per batch of ``example_inputs``).

    Parameters
    ----------
    module, example_inputs, example_kwargs : the model and a batch of **real** tensors (CPU, or
        CUDA where present), as for ``from_torch``
    graph : the profile, to check that the traced vertices are its vertices
    granularity : as in ``from_torch`` (must be the profile's)
    warmup, repeats : untimed and timed calls per vertex and direction
    threads : ``torch.set_num_threads`` during the measurement (None: leave it)
    whole_model : also time ``repeats`` whole training steps for the calibration figure
    statistic : ``"median"`` of the repeats (default) or ``"min"`` (best of the repeats: the
        figure least disturbed by other processes on a shared machine)
    clock : ``"cpu"`` (``time.process_time``: CPU seconds of this process, which do not grow
        while another process holds the core — the default for CPU models, where one torch
        thread does the work) or ``"wall"`` (``time.perf_counter``; the default on CUDA)

    order : ``"pass"`` (default: every repeat is one training pass — all vertices' forwards in
        execution order, then all backwards in reverse order with the real upstream gradients —
        each vertex timed inside it, so it meets the caches a training step leaves it) or
        ``"vertex"`` (each vertex's calls back to back: hot caches, the figure of a micro-benchmark)
    optimizer : ``(name, kwargs)`` as the runtime's (default SGD, lr 1e-3), or None: also time the
        optimiser step (``step`` + ``zero_grad``) on each vertex's trainable parameters with their
        real gradients (:func:`_optimizer_steps`): ``optimizer_s`` per vertex is its marginal
        cost, ``attrs["optimizer_call_s"]`` the fixed cost of one step call; a part's step is
        ``optimizer_call_s`` + the sum of its vertices' ``optimizer_s`` (checked against a step
        over all parameters: ``attrs["optimizer_sum_over_whole"]``)
    allocator : ``"retain"`` (default; :func:`slopt.allocator.set_allocator`: the C heap keeps freed
        memory, as in the split-training runtime's processes, so a step does not page-fault its
        buffers in again; process-wide from here on) or ``"system"`` (leave it); recorded in
        ``attrs["allocator"]``

    Returns a DataFrame with one row per vertex: ``name``, ``forward_s``, ``backward_s``,
    ``forward_spread_s``, ``backward_spread_s`` (and ``optimizer_s``); ``attrs`` holds the batch,
    the settings and the whole-step median.
    """
    import torch

    from slopt.runtime.partition import trace, vertex_part

    if statistic not in ("median", "min"):
        raise ValidationError(f"statistic = {statistic!r}; choose median or min", "statistic")
    if order not in ORDERS:
        raise ValidationError(f"order = {order!r}; choose 'pass' (vertices timed inside training passes) "
                              f"or 'vertex' (each vertex's calls back to back)", "order")
    if int(repeats) < 1 or int(warmup) < 0:
        raise ValidationError(f"repeats = {repeats!r}, warmup = {warmup!r}; need repeats >= 1, warmup >= 0",
                              "repeats")
    alloc = set_allocator(check_allocator(allocator))
    args = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    kwargs = dict(example_kwargs or {})
    flat = [t for t in torch.utils._pytree.tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
    if any(t.device.type == "meta" for t in flat) or any(p.device.type == "meta" for p in module.parameters()):
        raise ValidationError("measure: the model or its inputs are on the 'meta' device; times need "
                              "real tensors (build the model on 'cpu' or 'cuda')", "example_inputs")
    dev = flat[0].device if flat else torch.device("cpu")
    cuda = dev.type == "cuda"
    _check_devices(module, flat, dev)
    clock = clock or ("wall" if cuda else "cpu")
    if clock not in ("cpu", "wall"):
        raise ValidationError(f"clock = {clock!r}; choose cpu or wall", "clock")
    now = time.process_time if clock == "cpu" else time.perf_counter

    def sync() -> None:
        if cuda:  # pragma: no cover - no GPU on the test machine
            torch.cuda.synchronize()

    batch = int(flat[0].shape[0]) if flat and flat[0].dim() else 1
    prev_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    saved = {k: b.detach().clone() for k, b in module.named_buffers()}
    try:
        tr = traced or trace(module, args, kwargs, granularity=granularity)
        if graph is not None:
            tr.check_profile(graph)
        named_p = dict(module.named_parameters(remove_duplicate=False))
        named_b = dict(module.named_buffers(remove_duplicate=False))
        consts = getattr(tr.ep, "constants", {})
        env: dict[str, Any] = {}
        params_of = {k for k, (kind, _) in tr.placeholders.items() if kind == "param"}
        user = iter(torch.utils._pytree.tree_leaves(_ordered(tr, args, kwargs)))
        for nm, (kind, target) in tr.placeholders.items():
            if kind == "param":
                p = named_p[target]
                env[nm] = p.detach().requires_grad_(p.requires_grad)
            elif kind == "buffer":
                env[nm] = named_b[target]
            elif kind == "constant":
                env[nm] = consts[target]
            elif kind == "attr":
                env[nm] = getattr(tr.ep.graph_module, target)
            else:
                v = next(user)
                env[nm] = v.detach() if isinstance(v, torch.Tensor) else v
        parts = [vertex_part(tr, v) for v in range(len(tr.names))]
        with torch.enable_grad():
            if order == "vertex":
                fw_all, bw_all, pgrads = _vertex_loops(parts, env, params_of, warmup, repeats, now, sync)
                op_all = None
            else:
                fw_all, bw_all, pgrads, op_all = _pass_loops(parts, env, params_of, warmup, repeats, now, sync,
                                                             optimizer)
        rows = []
        for name, fw, bw in zip(tr.names, fw_all, bw_all):
            f_med, f_spr = _stats(fw, statistic)
            b_med, b_spr = _stats(bw, statistic)
            rows.append({"name": name, "forward_s": f_med, "backward_s": b_med,
                         "forward_spread_s": f_spr, "backward_spread_s": b_spr})
        opt_meta: dict[str, Any] = {}
        if optimizer is not None:
            steps, opt_meta = _optimizer_steps(pgrads, optimizer, warmup, repeats, now, sync, statistic, op_all)
            for r, t in zip(rows, steps):
                r["optimizer_s"] = t
        whole = _whole_step(module, args, kwargs, warmup, repeats, sync, statistic, now) if whole_model else None
    finally:
        with torch.no_grad():
            for k, b in module.named_buffers():
                if k in saved:
                    b.copy_(saved[k])
        torch.set_num_threads(prev_threads)
    df = pd.DataFrame(rows)
    df.attrs.update(batch=batch, warmup=int(warmup), repeats=int(repeats), statistic=statistic, clock=clock,
                    threads=int(threads or prev_threads), device=str(dev), host=platform.node(),
                    processor=platform.processor() or platform.machine(),
                    torch=torch.__version__, whole_step_s=whole, order=order, allocator=allocator,
                    allocator_applied=bool(alloc.get("applied") or alloc.get("retained_before")), **opt_meta)
    return df


def _inputs_of(vals: list[Any], order: list[str], params_of: set[str]) -> tuple[list[int], list[int]]:
    """Indices of the tensors that need a gradient: all of them (``leaves``) and the non-parameter
    ones (``grad_in``: they enter as clones, so that in-place operators (``ReLU(inplace=True)``)
    may modify them, as in the whole model; cloned untimed)."""
    import torch

    leaves = [i for i, t in enumerate(vals) if isinstance(t, torch.Tensor) and t.requires_grad]
    return leaves, [i for i in leaves if order[i] not in params_of]


def _store(env: dict[str, Any], outs: list[str], res: Any) -> None:
    """A vertex's outputs into ``env`` as fresh leaves (detached; a leaf needing a gradient when
    the output does), as the next vertices receive them."""
    import torch

    for k, t in zip(outs, res):
        env[k] = t.detach().requires_grad_(True) if (
            isinstance(t, torch.Tensor) and t.requires_grad) else (
            t.detach() if isinstance(t, torch.Tensor) else t)


def _vertex_loops(parts: list[Any], env: dict[str, Any], params_of: set[str], warmup: int, repeats: int,
                  now: Any, sync: Any) -> tuple[list[list[float]], list[list[float]], list[list[Any]]]:
    """``order="vertex"``: per vertex, ``warmup + repeats`` forwards back to back, then as many
    (untimed forward, timed ``autograd.grad`` with a gradient of ones) backwards."""
    import torch

    fw_all, bw_all, pgrads = [], [], []
    for gm, order, outs in parts:
        vals = [env[k] for k in order]
        leaf_i, grad_in = _inputs_of(vals, order, params_of)
        leaves = [vals[i] for i in leaf_i]

        def fresh() -> list[Any]:
            out = list(vals)
            for i in grad_in:
                out[i] = vals[i].clone()
            return out
        fw: list[float] = []
        for i in range(int(warmup) + int(repeats)):
            args_i = fresh()
            sync()
            t0 = now()
            res = gm(*args_i)
            sync()
            if i >= warmup:
                fw.append(now() - t0)
        bw: list[float] = []
        grads: Any = None
        for i in range(int(warmup) + int(repeats)):
            res = gm(*fresh())
            rg = [t for t in res if isinstance(t, torch.Tensor) and t.requires_grad]
            if not rg or not leaves:
                break
            ones = [torch.ones_like(t) for t in rg]
            sync()
            t0 = now()
            grads = torch.autograd.grad(rg, leaves, ones, allow_unused=True)
            sync()
            if i >= warmup:
                bw.append(now() - t0)
        pgrads.append([(vals[i], grads[j] if grads is not None else None) for j, i in enumerate(leaf_i)
                       if order[i] in params_of])
        _store(env, outs, res)
        del res
        fw_all.append(fw)
        bw_all.append(bw)
    return fw_all, bw_all, pgrads


def _pass_loops(parts: list[Any], env0: dict[str, Any], params_of: set[str], warmup: int, repeats: int,
                now: Any, sync: Any, spec: tuple[str, dict[str, Any]] | None = None
                ) -> tuple[list[list[float]], list[list[float]], list[list[Any]], list[list[float]]]:
    """``order="pass"``: ``warmup + repeats`` training passes; in each, every vertex's forward in
    execution order (autograd recording), then every vertex's backward in reverse order
    (``autograd.grad`` of its outputs with the gradients the later vertices sent back, ones for
    an output nobody differentiates, with respect to its inputs and trainable parameters), each
    timed on its own; then (``spec``) the optimiser step of every vertex's parameters in execution
    order (copies of the parameters, the pass's gradients), each timed on its own. A vertex meets
    the caches a training step leaves it, not its own last call."""
    import torch

    from slopt.runtime.train import _optimizer

    n = len(parts)
    fw_all: list[list[float]] = [[] for _ in range(n)]
    bw_all: list[list[float]] = [[] for _ in range(n)]
    op_all: list[list[float]] = [[] for _ in range(n)]
    pgrads: list[list[Any]] = [[] for _ in range(n)]
    opts: list[Any] = [None] * n
    for rep in range(int(warmup) + int(repeats)):
        env = dict(env0)
        tape = []
        for v, (gm, order, outs) in enumerate(parts):
            vals = [env[k] for k in order]
            leaf_i, grad_in = _inputs_of(vals, order, params_of)
            args = list(vals)
            for i in grad_in:
                args[i] = vals[i].clone()
            sync()
            t0 = now()
            res = gm(*args)
            sync()
            if rep >= warmup:
                fw_all[v].append(now() - t0)
            res = list(res) if isinstance(res, (tuple, list)) else [res]
            tape.append((res, leaf_i, vals))
            _store(env, outs, res)
        gsum: dict[str, Any] = {}
        for v in reversed(range(n)):
            gm, order, outs = parts[v]
            res, leaf_i, vals = tape[v]
            tape[v] = None
            rg = [(k, t) for k, t in zip(outs, res) if isinstance(t, torch.Tensor) and t.requires_grad]
            if not rg or not leaf_i:
                continue
            gout = [gsum.pop(k, None) for k, _ in rg]
            gout = [g if g is not None else torch.ones_like(t) for g, (_, t) in zip(gout, rg)]
            sync()
            t0 = now()
            grads = torch.autograd.grad([t for _, t in rg], [vals[i] for i in leaf_i], gout, allow_unused=True)
            sync()
            if rep >= warmup:
                bw_all[v].append(now() - t0)
            pv = []
            for i, gr in zip(leaf_i, grads):
                if order[i] in params_of:
                    pv.append((vals[i], gr))
                elif gr is not None:
                    k = order[i]
                    gsum[k] = gr if k not in gsum else gsum[k] + gr
            pgrads[v] = pv
        if spec is None:
            continue
        for v in range(n):
            if not pgrads[v]:
                continue
            if opts[v] is None:
                ps = [p.detach().clone().requires_grad_(True) for p, _ in pgrads[v]]
                opts[v] = (_optimizer(ps, spec), ps)
            opt, ps = opts[v]
            # a fresh gradient, freed by zero_grad, as in training
            t = _timed_step(opt, ps, [gr.clone() if gr is not None else None for _, gr in pgrads[v]], now, sync)
            if rep >= warmup:
                op_all[v].append(t)
    return fw_all, bw_all, pgrads, op_all


def _timed_step(opt: Any, params: list[Any], grads: list[Any], now: Any, sync: Any) -> float:
    """Seconds of one optimiser step as the runtime takes it (``step()`` + ``zero_grad(set_to_none=True)``)
    after setting each parameter's gradient (zeros where ``None``)."""
    import torch

    for p, g in zip(params, grads):
        p.grad = g if g is not None else torch.zeros_like(p)
    sync()
    t0 = now()
    opt.step()
    opt.zero_grad(set_to_none=True)
    sync()
    return now() - t0


def _optimizer_steps(pgrads: list[list[Any]], spec: tuple[str, dict[str, Any]], warmup: int, repeats: int,
                     now: Any, sync: Any, statistic: str,
                     in_pass: list[list[float]] | None = None) -> tuple[list[float], dict[str, Any]]:
    """Seconds of the optimiser step (``step()`` + ``zero_grad(set_to_none=True)``, as the
    runtime's step) on each vertex's trainable parameters (copies, with the real gradients), and
    the fixed cost of one step call: ``call`` = the step on a one-element parameter;
    ``optimizer_s`` of a vertex = its step - ``call`` (>= 0), so that a part's step is ``call`` +
    the sum over its vertices. A vertex's step is the one timed inside the training passes
    (``in_pass``, ``order="pass"``), else its steps back to back (hot caches: a step is
    memory-bound, and back to back it reads parameters the cache kept, several times faster
    than inside a training step). Checked against one step over all parameters at once
    (``optimizer_sum_over_whole``)."""
    import torch

    from slopt.runtime.train import _optimizer

    def timed(pairs: list[tuple[Any, Any]]) -> float:
        ps = [p.detach().clone().requires_grad_(True) for p, _ in pairs]
        opt = _optimizer(ps, spec)
        ts = [_timed_step(opt, ps, [g for _, g in pairs], now, sync) for _ in range(int(warmup) + int(repeats))]
        return _stats(ts[int(warmup):], statistic)[0]

    dev = next((p.device for pv in pgrads for p, _ in pv), torch.device("cpu"))
    one = torch.zeros(1, device=dev)
    call = timed([(one, torch.ones_like(one))])
    steps = [max((_stats(in_pass[v], statistic)[0] if in_pass is not None and in_pass[v] else timed(pv))
                 - call, 0.0) if pv else 0.0 for v, pv in enumerate(pgrads)]
    everything = [pair for pv in pgrads for pair in pv]
    whole = timed(everything) if everything else 0.0
    meta = {"optimizer": [spec[0], dict(spec[1])], "optimizer_call_s": call, "optimizer_whole_s": whole,
            "optimizer_sum_over_whole": (call + sum(steps)) / whole if whole > 0 else float("nan")}
    return steps, meta


def _check_devices(module: Any, flat: list[Any], dev: Any) -> None:
    """One device for the model and its inputs: ``cpu``, or one ``cuda`` device that is present.

    The CUDA path (``torch.cuda.synchronize`` around every timed call, wall clock by default) is
    **untested on the machine this package is tested on (no GPU)**; it is guarded here so that it
    fails with a clear error rather than with a device mismatch inside a vertex."""
    import torch

    if dev.type not in ("cpu", "cuda"):
        raise ValidationError(f"measure: inputs on device {str(dev)!r}; times are measured on 'cpu' or 'cuda'",
                              "example_inputs")
    if dev.type == "cuda" and not torch.cuda.is_available():  # pragma: no cover - needs a broken CUDA setup
        raise ValidationError("measure: inputs on 'cuda' but torch.cuda.is_available() is False", "example_inputs")
    others = {str(t.device) for t in [*flat, *module.parameters(), *module.buffers()] if t.device != dev}
    if others:
        raise ValidationError(f"measure: the model and its inputs must be on one device; inputs on {str(dev)!r}, "
                              f"also found {sorted(others)}", "example_inputs")


def _ordered(tr: Any, args: tuple, kwargs: dict) -> Any:
    """User inputs in the exported graph's order (export orders keyword inputs its own way)."""
    spec = getattr(tr.ep.call_spec, "in_spec", None)
    if spec is not None and spec.num_children == 2 and kwargs:
        child = spec.child(1) if hasattr(spec, "child") else spec.children_specs[1]
        keys = list(child.context or [])
        kwargs = {k: kwargs[k] for k in keys if k in kwargs}
    return (args, kwargs)


def _whole_step(module: Any, args: tuple, kwargs: dict, warmup: int, repeats: int, sync: Any,
                statistic: str = "median", now: Any = time.perf_counter) -> float:
    """Median (or best) seconds of one whole forward + backward (loss = ``.loss`` or the sum of outputs)."""
    from slopt.profiles.torch_loader import _default_loss

    ts = []
    for i in range(int(warmup) + int(repeats)):
        module.zero_grad(set_to_none=True)
        sync()
        t0 = now()
        loss = _default_loss(module(*args, **kwargs))
        if loss is not None:
            loss.backward()
        sync()
        if i >= warmup:
            ts.append(now() - t0)
    module.zero_grad(set_to_none=True)
    return float(statistics.median(ts) if statistic == "median" else min(ts))


def with_times(graph: ModelGraph, times: pd.DataFrame, side: str = "both") -> ModelGraph:
    """The profile with measured per-sample time columns for ``side`` (device / server / both):
    ``{side}_time_s`` (forward + backward median), ``{side}_forward_time_s``,
    ``{side}_backward_time_s``, ``{side}_time_spread_s``; when the optimiser step was timed,
    ``{side}_optimizer_time_s`` — seconds per step of the vertex's parameters, **not** per sample
    (an update does not grow with the batch), marginal over the fixed cost of a step call
    ``provenance["measured"][side]["optimizer_call_s"]``; provenance under ``measured``."""
    if side not in SIDES:
        raise ValidationError(f"side = {side!r}; choose one of {SIDES}", "side")
    names = list(times["name"])
    if names != list(graph.names):
        raise ValidationError("with_times: the measured vertices are not the profile's vertices "
                              f"({len(names)} vs {graph.n})", "times")
    b = float(times.attrs.get("batch", 1))
    fwd = times["forward_s"].to_numpy(float) / b
    bwd = times["backward_s"].to_numpy(float) / b
    spread = (times["forward_spread_s"].to_numpy(float) + times["backward_spread_s"].to_numpy(float)) / b
    extra = dict(graph.extra)
    meta = {k: v for k, v in times.attrs.items()}
    whole = meta.get("whole_step_s")
    meta["vertex_sum_s"] = float((fwd + bwd).sum() * b)
    if whole:
        meta["vertex_sum_over_whole"] = meta["vertex_sum_s"] / whole
    prov = dict(graph.provenance or {})
    measured = dict(prov.get("measured", {}))
    for s in (("device", "server") if side == "both" else (side,)):
        extra[f"{s}_time_s"] = fwd + bwd
        extra[f"{s}_forward_time_s"] = fwd
        extra[f"{s}_backward_time_s"] = bwd
        extra[f"{s}_time_spread_s"] = spread
        if "optimizer_s" in times:
            extra[f"{s}_optimizer_time_s"] = times["optimizer_s"].to_numpy(float)
        else:
            extra.pop(f"{s}_optimizer_time_s", None)
        measured[s] = meta
    prov["measured"] = measured
    return graph.replace(extra=extra, provenance=prov)


def _same_graph(a: ModelGraph, b: ModelGraph) -> bool:
    """Two profiles of one model: the same vertex names and the same edges."""
    return list(a.names) == list(b.names) and np.array_equal(a.src, b.src) and np.array_equal(a.dst, b.dst)


def merge_times(device_profile: ModelGraph, server_profile: ModelGraph) -> ModelGraph:
    """One profile with the device columns of ``device_profile`` and the server columns of
    ``server_profile`` (two machines measured separately). The two must be the same graph
    (names and edges); a side's columns are taken from its ``device_*`` / ``server_*`` columns,
    whichever the file has (a one-machine profile has both)."""
    a, b = device_profile, server_profile
    if not _same_graph(a, b):
        raise ValidationError("merge_times: the device and server profiles are not the same graph "
                              f"({a.n} vs {b.n} vertices)", "server_profile")

    def side_cols(g: ModelGraph, want: str) -> dict[str, np.ndarray]:
        for have in (want, "server" if want == "device" else "device"):
            if f"{have}_time_s" in g.extra:
                return {f"{want}_{c}": g.extra[f"{have}_{c}"] for c in _COLS if f"{have}_{c}" in g.extra}
        raise ValidationError(f"merge_times: the {want} profile {g.name!r} has no measured times "
                              f"(column {want}_time_s)", f"{want}_profile")

    extra = {k: v for k, v in a.extra.items() if not k.startswith(("device_", "server_"))}
    extra.update(side_cols(a, "device"))
    extra.update(side_cols(b, "server"))
    pa, pb = a.provenance.get("measured", {}), b.provenance.get("measured", {})
    prov = dict(a.provenance or {})
    prov["measured"] = {"device": pa.get("device", pa.get("server")), "server": pb.get("server", pb.get("device"))}
    return a.replace(extra=extra, provenance=prov)


def measure(graph: ModelGraph, module: Any, example_inputs: Any, example_kwargs: Mapping[str, Any] | None = None,
            *, side: str = "both", **options: Any) -> ModelGraph:
    """:func:`measure_times` + :func:`with_times`: the profile with this machine's times."""
    gran = options.pop("granularity", None)
    if gran is None:
        gran = profile_granularity(graph)
    times = measure_times(module, example_inputs, example_kwargs, graph=graph, granularity=gran, **options)
    return with_times(graph, times, side)


def profile_granularity(graph: ModelGraph) -> str | int:
    """The granularity a profile was made with (``provenance["granularity"]``; ``"module"`` when
    it is not one ``measure`` can re-trace)."""
    g0 = (graph.provenance or {}).get("granularity", "module")
    return g0 if isinstance(g0, int) or g0 in ("op", "module") else "module"


def median_profile(graphs: list[ModelGraph]) -> ModelGraph:
    """One profile from several measurements of the same model: every per-layer time column
    (``*time_s``, spreads included) is the per-vertex median over ``graphs``; structure and
    provenance from the first, with ``provenance["measured"][side]["measurements"]`` = how many."""
    if not graphs:
        raise ValidationError("median_profile needs at least one profile", "graphs")
    first = graphs[0]
    for g in graphs[1:]:
        if not _same_graph(g, first):
            raise ValidationError(f"median_profile: profile {g.name!r} has other vertices than {first.name!r}",
                                  "graphs")
    cols = {k: np.median(np.stack([np.asarray(g.extra[k], float) for g in graphs]), axis=0)
            for k in first.extra if k.endswith("time_s") and all(k in g.extra for g in graphs)}
    prov = dict(first.provenance or {})
    prov["measured"] = {side: dict(meta or {}, measurements=len(graphs))
                        for side, meta in (prov.get("measured") or {}).items()}
    return first.replace(extra={**first.extra, **cols}, provenance=prov)

