"""The runtime's command-line commands, registered on the ``slopt`` app by :func:`register`:

* ``slopt profile measure MODEL -o FILE`` — profile a runtime model (``slopt.runtime.models``,
  or a profile file made by this command, to re-measure the same model on another machine) with
  this machine's per-layer times (``--side device|server|both``);
  ``slopt profile measure --merge-device DEV.json --merge-server SRV.json -o FILE`` merges the
  times of two machines;
* ``slopt validate PROFILE`` — dag-split's prediction against a real split-training run, per
  component, over a sweep of rates (table, ``--png`` figure, ``--json``).

torch is imported only when a command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from slopt.errors import SloptError, ValidationError

__all__ = ["register"]


def _spec(model: str, batch: int | None, image_size: int | None, seq_len: int | None,
          sets: list[str] | None) -> tuple[dict[str, Any], Any]:
    """The runtime model spec of a name or of a profile file (its ``runtime_model``)."""
    from slopt.cli import parse_sets

    base = None
    if model.endswith(".json") or Path(model).exists():
        from slopt.profiles import read

        base = read(model)
        spec = dict((base.provenance or {}).get("runtime_model") or {})
        if not spec:
            raise ValidationError(f"{model}: the profile has no provenance.runtime_model (make it with "
                                  f"`slopt profile measure MODEL`)", "profile")
    else:
        spec = {"model": model}
    for k, v in (("batch", batch), ("image_size", image_size), ("seq_len", seq_len)):
        if v is not None:
            spec[k] = v
    spec.update(parse_sets(sets))
    return spec, base


def register(app: Any, profile_app: Any) -> None:
    """Add ``profile measure`` and ``validate`` to the ``slopt`` CLI."""

    @profile_app.command("measure")
    def profile_measure(
        model: Optional[str] = typer.Argument(None, help="runtime model (small-cnn, inception-dag, tiny-lm, "
                                              "gpt2-small-random, resnet18, ...) or a profile file to re-measure"),
        output: Path = typer.Option(..., "-o", "--output", help="JSON file to write"),
        side: str = typer.Option("both", help="columns to fill: device, server or both (one machine)"),
        batch: Optional[int] = typer.Option(None, help="samples per batch (default 4)"),
        image_size: Optional[int] = typer.Option(None, help="image height = width (CNNs)"),
        seq_len: Optional[int] = typer.Option(None, help="tokens per sequence (language models)"),
        sets: Optional[list[str]] = typer.Option(None, "--set", help="model option key=value"),
        warmup: int = typer.Option(2, help="untimed calls per vertex and direction"),
        repeats: int = typer.Option(5, help="timed calls per vertex and direction (median)"),
        threads: int = typer.Option(1, help="torch threads while timing"),
        merge_device: Optional[Path] = typer.Option(None, help="merge: profile with the device's times"),
        merge_server: Optional[Path] = typer.Option(None, help="merge: profile with the server's times"),
    ) -> None:
        """Profile a model with per-layer forward/backward times measured on this machine, or
        merge the times of two machines (--merge-device / --merge-server)."""
        from slopt.cli import _fail, console
        from slopt.profiles import read, write

        try:
            if merge_device or merge_server:
                if not (merge_device and merge_server) or model:
                    raise ValidationError("merging needs --merge-device FILE and --merge-server FILE and no "
                                          "MODEL", "merge_device")
                from slopt.profiles.measure import merge_times

                g = merge_times(read(merge_device), read(merge_server))
            else:
                if not model:
                    raise ValidationError("give a MODEL (or --merge-device/--merge-server)", "model")
                from slopt.profiles.measure import measure
                from slopt.runtime.models import build, profile

                spec, base = _spec(model, batch, image_size, seq_len, sets)
                if base is not None:
                    m, x = build(spec)
                    g = measure(base, m, x, side=side, warmup=warmup, repeats=repeats, threads=threads)
                else:
                    g, _, _ = profile(spec, side=side, warmup=warmup, repeats=repeats, threads=threads)
        except SloptError as exc:
            _fail(exc)
            return
        write(g, output)
        console.print(f"[green]wrote[/] {output}: {g!r}; columns {sorted(k for k in g.extra if k.endswith('time_s'))}")

    @app.command("validate")
    def validate(
        profile: str = typer.Argument(..., help="profile file made by `slopt profile measure`"),
        device_layer: Optional[list[str]] = typer.Option(None, help="layer on the device (repeatable; "
                                                         "ancestors are added); default: --method's plan"),
        method: str = typer.Option("a", help="dag-split method that chooses D at the first rate"),
        rate: Optional[list[float]] = typer.Option(None, help="link rate in bit/s, both directions "
                                                   "(repeatable; default 1e7 1e8 1e9)"),
        downlink_factor: float = typer.Option(1.0, help="downlink rate = factor x uplink rate"),
        iterations: int = typer.Option(3, help="timed iterations per rate"),
        warmup: int = typer.Option(1, help="untimed iterations per rate"),
        latency_s: float = typer.Option(0.0, help="one-way link latency added, seconds"),
        message_overhead: str = typer.Option("calibrate", help="hand-off per message and direction added to "
                                             "Eq. 6 (the runtime's calibration, not part of Eq. 6): "
                                             "'calibrate' (measured on the link before the runs), seconds, "
                                             "or 0 (off)"),
        optimizer_step: str = typer.Option("profile", help="optimiser step per side added to the compute "
                                           "(the runtime's calibration, not part of Eq. 6): 'profile' "
                                           "(measured with the per-layer times), seconds, or 0 (off)"),
        wait: str = typer.Option("spin", help="how each side waits on the link: spin (poll; the core stays "
                                 "busy, as on a dedicated device and server) or block (sleep on the socket)"),
        allocator: str = typer.Option("retain", help="C heap in both processes: retain (keeps freed memory, "
                                      "as the profiler measures) or system"),
        schedule: str = typer.Option("interleaved", help="interleaved (one iteration per rate in turn) or "
                                     "blocked (each rate's iterations in one block)"),
        remeasure: int = typer.Option(0, help="re-measure the per-layer times (this many passes) before every "
                                      "round and after the last; adds the same-window table (0: off)"),
        time_limit: Optional[float] = typer.Option(None, "--time-limit", help="seconds; no new round starts "
                                                   "after it (a first Ctrl-C does the same); the table covers "
                                                   "the rounds done"),
        png: Optional[Path] = typer.Option(None, help="write the predicted/measured figure"),
        as_json: bool = typer.Option(False, "--json", help="print the table as JSON"),
    ) -> None:
        """Predicted (dag-split, Eq. 6) vs measured (two-process split training on loopback) per
        component: device compute, server compute, upload, download, total.

        Progress is logged per round with -v (``slopt -v validate ...``); a first Ctrl-C or
        --time-limit stops before the next round, and the table covers the rounds done."""
        from slopt.cli import _fail, console, print_table
        from slopt.progress import interruptible

        try:
            import numpy as np

            from slopt.models.dag_split import METHODS, make_instance
            from slopt.profiles import read
            from slopt.runtime.models import build
            from slopt.runtime.validate import keyword_or_seconds, plot_validation, validate_plan

            g = read(profile)
            spec, _ = _spec(profile, None, None, None, None)
            rates = list(rate or [1e7, 1e8, 1e9])
            m, x = build(spec)
            b = int(x[0].shape[0])
            if device_layer:
                idx = {g.index(n) for n in device_layer}
                stack = list(idx)
                while stack:
                    for u in g.predecessors(stack.pop()):
                        if int(u) not in idx:
                            idx.add(int(u))
                            stack.append(int(u))
                D: Any = np.array(sorted(idx))
            else:
                if method not in METHODS:
                    raise ValidationError(f"method {method!r}: choose one of {', '.join(METHODS)}", "method")
                inst = make_instance(g, batch=b, uplink_bps=rates[0], downlink_bps=rates[0] * downlink_factor)
                D = METHODS[method](inst).decision["device_layers"]
            overhead = keyword_or_seconds(message_overhead, "calibrate", "message_overhead_s", "--message-overhead")
            step = keyword_or_seconds(optimizer_step, "profile", "optimizer_step", "--optimizer-step")
            with interruptible():
                res = validate_plan(m, x, g, D, rates=[(r, r * downlink_factor) for r in rates],
                                    iterations=iterations, warmup=warmup, latency_s=latency_s,
                                    message_overhead_s=overhead, optimizer_step=step, wait=wait,
                                    allocator=allocator, schedule=schedule, remeasure=remeasure,
                                    time_limit_s=time_limit)
        except SloptError as exc:
            _fail(exc)
            return
        window = res.window.table.to_dict("records") if res.window is not None else None
        if as_json:
            console.print_json(json.dumps({"cut_layers": res.cut_layers,
                                           "calibration": res.calibration.to_dict() if res.calibration else None,
                                           "table": res.table.to_dict("records"), "window_table": window}))
        else:
            print_table(res.table.to_dict("records"), f"{profile}: predicted vs measured (cut {res.cut_layers})")
            if window is not None:
                print_table(window, "predicted from the per-layer times re-measured between the rounds")
        if png is not None:
            import matplotlib

            matplotlib.use("Agg")
            ax = plot_validation(res, title=f"{g.name}: cut {', '.join(res.cut_layers)}")
            ax.figure.savefig(png, dpi=110, bbox_inches="tight")
            console.print(f"[green]wrote[/] {png}")
