"""The ``slopt`` command line (typer + rich).

Stable contract every problem plugs into through :mod:`slopt.problems`:

* ``slopt solvers`` -- installed backends and versions
* ``slopt solve PROBLEM [--profile F] [--scenario F] [--method M] [--solver S] [--time-limit S]
  [--mip-gap G] [--set key=value ...] [--json]``
* ``slopt demo`` -- every registered problem on shipped defaults
* ``slopt profile show FILE`` / ``slopt profile make MODEL -o FILE``
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from slopt.errors import SloptError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="slopt: optimisation models and algorithms for split learning.")
profile_app = typer.Typer(no_args_is_help=True, help="Model profiles: show and make.")
app.add_typer(profile_app, name="profile")
console = Console(width=None if sys.stdout.isatty() else 200)

#: Default ``--time-limit`` of ``slopt solve`` for exact methods (seconds): they stop there with
#: their incumbent, bound and gap instead of running unbounded on a large instance.
EXACT_TIME_LIMIT_S = 120.0


def _version_callback(value: bool) -> None:
    if value:
        from slopt import __version__

        sys.stdout.write(f"slopt {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                 help="print the version and exit"),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True,
                                help="log progress (-v: INFO, -vv: DEBUG) on stderr"),
) -> None:
    """slopt: optimisation models and algorithms for split learning."""
    if verbose:
        import logging

        from slopt.progress import enable

        enable(logging.DEBUG if verbose > 1 else logging.INFO)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "—" if not math.isfinite(v) else f"{v:.6g}"
    return str(v)


def print_table(rows: list[dict[str, Any]], title: str = "") -> None:
    """Print a list of dict rows as a rich table (shared by every command); one row with many
    columns is printed as a key / value table instead, so that nothing is cut."""
    if not rows:
        console.print(f"{title}: nothing to show")
        return
    if len(rows) == 1 and len(rows[0]) > 6:
        t = Table(title=title or None)
        t.add_column("key")
        t.add_column("value", overflow="fold")
        for k, v in rows[0].items():
            t.add_row(str(k), _fmt(v))
        console.print(t)
        return
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    t = Table(title=title or None)
    for c in cols:
        t.add_column(c)
    for r in rows:
        t.add_row(*(_fmt(r.get(c, "")) for c in cols))
    console.print(t)


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """``["batch=32", "weights=[1, 0.5]"]`` -> ``{"batch": 32, "weights": [1, 0.5]}`` (YAML 1.2 values)."""
    from slopt.schema import load_yaml

    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise typer.BadParameter(f"--set expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip().replace("-", "_")] = load_yaml(v, f"--set {item}")   # YAML 1.2: 1e9 is a number
    return out


def _fail(exc: Exception) -> None:
    console.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(code=2)


@app.command()
def solvers() -> None:
    """List the solver backends, whether they are installed here, and how to install them."""
    from slopt.solvers import available_solvers

    print_table(available_solvers(), "solver backends")


@app.command()
def solve(
    problem: str = typer.Argument(..., help="registered problem name (see `slopt demo`)"),
    profile: Optional[str] = typer.Option(None, help="profile JSON file or shipped profile name"),
    scenario: Optional[str] = typer.Option(None, help="scenario YAML/JSON file or shipped scenario name"),
    method: str = typer.Option("paper", help="paper (default), exact, or a baseline name"),
    solver: Optional[str] = typer.Option(None, help="solver backend (default: HiGHS / the method's own)"),
    time_limit: Optional[float] = typer.Option(
        None, help=f"time limit, seconds (default: {EXACT_TIME_LIMIT_S:g} s for exact methods, none otherwise); "
                   "the method returns its incumbent with bound and gap when it is reached"),
    mip_gap: Optional[float] = typer.Option(None, help="relative MIP gap"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="problem parameter key=value (repeatable)"),
    solver_options: Optional[str] = typer.Option(
        None, "--solver-options", help='solver options as JSON, e.g. \'{"presolve": "off"}\' (names as the solver knows them)'),
    tee: bool = typer.Option(False, "--tee", help="show the solver's own log (methods that call a solver)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Solve one problem instance with one method.

    Progress is logged with -v (``slopt -v solve ...``); a first Ctrl-C asks the method to stop
    at its next sub-problem and return its incumbent with its gap.
    """
    from slopt.problems import get
    from slopt.progress import interruptible

    if time_limit is None and method in ("exact", "brute", "brute-force", "milp", "minlp"):
        time_limit = EXACT_TIME_LIMIT_S
    try:
        p = get(problem)
        extra: dict[str, Any] = {}
        if solver_options:
            try:
                extra["solver_options"] = json.loads(solver_options)
            except json.JSONDecodeError as exc:
                raise SloptError(f"--solver-options is not JSON ({exc}): {solver_options!r}") from None
            if not isinstance(extra["solver_options"], dict):
                raise SloptError(f"--solver-options must be a JSON object, got {solver_options!r}")
        if tee:
            extra["tee"] = True
        with interruptible():
            plan = p.run(method, profile=profile, scenario=scenario, solver=solver, time_limit=time_limit,
                         mip_gap=mip_gap, **extra, **parse_sets(set_))
    except SloptError as exc:
        _fail(exc)
        return
    if as_json:
        sys.stdout.write(json.dumps(plan.to_dict()) + "\n")
        return
    print_table(plan.to_frame().to_dict("records"), f"{problem} / {method}")
    for name, frame in plan.details.items():
        print_table(frame.to_dict("records")[:50], name)


@app.command()
def demo(
    out: Path = typer.Option(Path("slopt-demo"), help="folder for the plots (PNG)"),
    plots: bool = typer.Option(True, help="write plots"),
    time_limit: float = typer.Option(30.0, help="solver time limit per exact method, seconds"),
    only: Optional[str] = typer.Option(None, help="comma-separated problem names (default: all)"),
) -> None:
    """Run every registered problem on its shipped defaults and print a summary table."""
    from slopt.problems import problems

    rows: list[dict[str, Any]] = []
    reg = problems()
    if not reg:
        console.print("no problem is registered yet")
    wanted = set(only.split(",")) if only else set(reg)
    for name, p in reg.items():
        if name not in wanted:
            continue
        for method in p.demo_methods:
            console.print(f"[dim]{name} / {method} ...[/]")
            try:
                plan = p.run(method, time_limit=time_limit)
                r = plan.to_frame().iloc[0].to_dict()
                rows.append({k: r.get(k) for k in ("problem", "method", "status", "objective", "seconds")}
                            | {"solver": plan.solve.solver if plan.solve is not None else "—",
                               "summary": p.summary})
            except SloptError as exc:
                rows.append({"problem": name, "method": method, "status": f"error: {exc}"})
        demo_plot = p.extra.get("demo_plot")
        if plots and demo_plot is not None:
            out.mkdir(parents=True, exist_ok=True)
            path = demo_plot(out)
            console.print(f"[green]wrote[/] {path}")
    print_table(rows, "slopt demo: every problem on shipped defaults")


@app.command()
def compare(
    problem: str = typer.Argument(..., help="registered problem name"),
    solvers_: Optional[str] = typer.Option(None, "--solvers", help="comma-separated backends (default: all installed)"),
    instances: int = typer.Option(3, help="random instances (0 = the shipped default instance)"),
    seed: int = typer.Option(0, help="seed of the first instance"),
    time_limit: Optional[float] = typer.Option(60.0, help="per-solve time limit, seconds"),
    tol: float = typer.Option(1e-6, help="relative tolerance of the disagreement flag"),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="instance parameter key=value"),
    as_json: bool = typer.Option(False, "--json", help="print the table as JSON records"),
    csv: Optional[Path] = typer.Option(None, help="also write the table as CSV"),
) -> None:
    """Solve the same instances with every applicable formulation and backend; flag disagreements."""
    from slopt.compare import compare as run_compare

    try:
        df = run_compare(problem, solvers_.split(",") if solvers_ else None, instances, seed, time_limit,
                         tol=tol, params=parse_sets(set_))
    except SloptError as exc:
        _fail(exc)
        return
    if csv is not None:
        df.to_csv(csv, index=False)
    if as_json:
        sys.stdout.write(df.to_json(orient="records") + "\n")
        return
    shown = ["instance", "formulation", "class", "solver", "status", "objective", "bound", "gap", "seconds", "flag"]
    print_table(df[[c for c in shown if c in df]].to_dict("records"), f"compare {problem}")
    flagged = int((df["flag"] != "").sum())
    console.print(f"{flagged} flagged answer(s)" if flagged else "[green]all answers agree with the best proven bound[/]")


@app.command()
def sweep(
    spec: Path = typer.Argument(..., help="sweep spec (YAML/JSON)"),
    dask: bool = typer.Option(False, "--dask", help="run on a Dask LocalCluster"),
    scheduler: Optional[str] = typer.Option(None, help="existing Dask scheduler, tcp://HOST:PORT"),
    workers: int = typer.Option(2, help="LocalCluster workers"),
    output: Optional[str] = typer.Option(None, help="override the spec's output folder"),
) -> None:
    """Run a parameter sweep (resumable; results written as Parquet/CSV parts as they complete)."""
    from slopt.sweep import SweepSpec, sweep as run_sweep

    try:
        sp = SweepSpec.load(spec)
        if output:
            sp["output"] = output
        df = run_sweep(sp, dask=dask, scheduler=scheduler, n_workers=workers)
    except SloptError as exc:
        _fail(exc)
        return
    n_err = int((df["status"] == "error").sum()) if not df.empty else 0
    console.print(f"{len(df)} point(s) in {sp['output']}, {n_err} error(s)")
    if not df.empty:
        summary = df.groupby(["method", "status"]).agg(points=("id", "count"), mean_objective=("objective", "mean"),
                                                       mean_seconds=("seconds", "mean")).reset_index()
        print_table(summary.to_dict("records"), "sweep summary")


@app.command()
def schema(name: Optional[str] = typer.Argument(None, help="input name (omit to list them)")) -> None:
    """Print the JSON Schema of an input (scenario, profile, sweep, a problem's parameters...)."""
    from slopt.schema import did_you_mean, schemas

    reg = schemas()
    if name is None:
        print_table([{"input": k, "description": (m.__doc__ or "").strip().splitlines()[0]}
                     for k, m in reg.items()], "declared inputs (slopt schema NAME)")
        return
    if name not in reg:
        _fail(SloptError(f"unknown input {name!r};{did_you_mean(name, list(reg))} known: {', '.join(reg)}"))
        return
    sys.stdout.write(json.dumps(reg[name].model_json_schema(), indent=1) + "\n")


scenario_app = typer.Typer(no_args_is_help=True, help="Scenario files: template.")
app.add_typer(scenario_app, name="scenario")


@scenario_app.command("template")
def scenario_template(output: Optional[Path] = typer.Option(None, "-o", "--output",
                                                             help="file to write (default: print)")) -> None:
    """Write a commented scenario file: every field with its unit, default and description."""
    from slopt.scenarios.template import template

    text = template()
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text)
    console.print(f"[green]wrote[/] {output}")


@profile_app.command("show")
def profile_show(file: str = typer.Argument(..., help="profile JSON file or shipped profile name"),
                 layers: bool = typer.Option(False, help="also list every vertex")) -> None:
    """Summary table of a profile."""
    from slopt.profiles import read

    try:
        g = read(file)
    except SloptError as exc:
        _fail(exc)
        return
    print_table([{"field": k, "value": v} for k, v in g.summary().items()], f"profile {file}")
    if layers:
        print_table(g.to_frame().to_dict("records"), "vertices")


@profile_app.command("make")
def profile_make(
    target: str = typer.Argument(..., help="zoo name (see `slopt profile list`), module:attr, "
                                 "file.py:attr, model.onnx or hf:<model_type>"),
    output: Path = typer.Option(..., "-o", "--output", help="JSON file to write"),
    batch: Optional[int] = typer.Option(None, help="samples per step (figures are per sample)"),
    seq_len: Optional[int] = typer.Option(None, "--seq-len", help="tokens / time steps"),
    input_shape: Optional[str] = typer.Option(None, "--input-shape",
                                              help="input shape per sample, e.g. 3,224,224"),
    input_dtype: Optional[str] = typer.Option(None, "--input-dtype", help="long or a float dtype"),
    dtype: Optional[str] = typer.Option(None, help="weights: float32, float16, bfloat16"),
    lora_rank: Optional[int] = typer.Option(None, "--lora-rank", help="LoRA adapters of this rank"),
    lora_targets: Optional[str] = typer.Option(None, "--lora-targets",
                                               help="comma-separated module names (default all linear)"),
    granularity: Optional[str] = typer.Option(None, help="op, module or a depth k"),
    measure: bool = typer.Option(False, "--measure", help="also time every vertex on this machine"),
    set_: Optional[list[str]] = typer.Option(None, "--set",
                                             help="hf config field / factory argument key=value"),
    cache: bool = typer.Option(True, help="reuse a cached profile of the same model and inputs"),
) -> None:
    """Profile a model (zoo, Python module or file, ONNX, transformers config) and write it as JSON."""
    from slopt.profiles import write

    try:
        from slopt.profiles.target import make_profile

        shape = [int(d) for d in input_shape.replace("x", ",").split(",") if d.strip()] \
            if input_shape else None
        g = make_profile(target, batch=batch, seq_len=seq_len, input_shape=shape,
                         input_dtype=input_dtype, dtype=dtype, lora_rank=lora_rank,
                         lora_targets=[t for t in lora_targets.split(",") if t] if lora_targets
                         else None, granularity=granularity, measure=measure,
                         sets=parse_sets(set_), cache=cache)
    except ValueError as exc:          # SloptError's ValidationError, or a bad --input-shape
        _fail(exc)
        return
    except SloptError as exc:
        _fail(exc)
        return
    except ImportError as exc:
        _fail(SloptError(f"profiling {target!r} needs an optional package: {exc}"))
        return
    write(g, output)
    console.print(f"[green]wrote[/] {output}: {g!r}")


@profile_app.command("list")
def profile_list() -> None:
    """Shipped profiles and the models `profile make` knows."""
    from slopt.profiles import shipped

    try:
        from slopt.profiles.zoo import available
        zoo = available()
    except ImportError:
        zoo = []
    print_table([{"shipped": s} for s in shipped()] + [{"make": z} for z in zoo], "profiles")


# `slopt profile measure` and `slopt validate` (split-training runtime; torch imported on use)
from slopt.runtime.commands import register as _register_runtime  # noqa: E402

_register_runtime(app, profile_app)


def _add_problem_commands() -> None:
    from slopt.problems import problems

    for p in problems().values():
        if p.commands is not None:
            p.commands(app)


def main() -> None:
    """Entry point of the ``slopt`` script."""
    _add_problem_commands()
    app()


if __name__ == "__main__":
    main()
