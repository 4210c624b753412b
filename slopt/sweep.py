"""Parameter sweeps: a grid of (method, parameters, seed) points, in-process or on Dask.

A sweep spec (YAML or dict)::

    problem: card
    methods: [paper, exact]
    grid: {n_devices: [3, 5], omega_e: [0.1, 1.0]}   # every combination
    seeds: [0, 1, 2]                                  # or {start: 0, count: 10}
    solver: highs          # optional, passed to every method
    time_limit: 30         # optional, seconds
    profile: null          # optional profile / scenario names or files
    scenario: null
    output: sweep-card     # folder of Parquet parts (or CSV with format: csv)

Every point has a stable id (a hash of problem, method, parameters and seed). Results are written
as they complete, in parts (``part-<n>.parquet``); a rerun reads the parts and skips completed
points (resumable) and tries failed points again. A failing point is recorded with its error and never stops the others. On
Dask, a killed worker loses only its unfinished points, which the scheduler retries.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, Optional, Union

import pandas as pd
import yaml

from slopt.errors import SloptError, ValidationError
from slopt.schema import Field, Index, Literal, Strict, StrictBool, StrictInt, StrictStr, load_yaml, register_schema, validate

__all__ = ["SweepSpec", "points", "run_point", "run_points", "sweep", "read_results"]


GridValue = Union[StrictBool, StrictInt, float, StrictStr, None]


class SeedRange(Strict):
    """``seeds: {start: 0, count: 10}``."""

    start: Index = Field(0, description="first seed")
    count: Annotated[int, Field(ge=1, le=10**6)] = Field(description="number of seeds (at most 10^6)")


class SweepSpecModel(Strict):
    """A sweep spec file (YAML 1.2 or JSON; ``slopt schema sweep``)."""

    problem: StrictStr = Field(description="registered problem name (`slopt demo` lists them)")
    methods: Union[StrictStr, Annotated[list[StrictStr], Field(min_length=1)]] = Field(
        ["paper"], description="method name(s)")
    grid: dict[StrictStr, Annotated[list[GridValue], Field(min_length=1)]] = Field(
        default_factory=dict, description="parameter name -> non-empty list of values (every combination)")
    seeds: Union[Index, list[Index], SeedRange] = Field([0], description="seed, list of seeds or {start, count}")
    solver: Optional[StrictStr] = Field(None, description="solver backend passed to every method")
    time_limit: Optional[Annotated[float, Field(gt=0, allow_inf_nan=False)]] = Field(
        None, description="time limit per point, s")
    mip_gap: Optional[Annotated[float, Field(ge=0, lt=1)]] = Field(None, description="relative MIP gap")
    profile: Optional[StrictStr] = Field(None, description="profile file or shipped name")
    scenario: Optional[StrictStr] = Field(None, description="scenario file or shipped name")
    output: Optional[StrictStr] = Field(None, description="output folder (default sweep-<problem>)")
    format: Literal["parquet", "csv"] = Field("parquet", description="part file format")
    batch_size: Optional[Annotated[int, Field(ge=1)]] = Field(None, description="points per Dask task")
    params: dict[StrictStr, Any] = Field(default_factory=dict, description="fixed parameters of every point")


register_schema("sweep", lambda: SweepSpecModel)


class SweepSpec(dict):
    """A validated sweep specification (a dict with the keys of :class:`SweepSpecModel`)."""

    KEYS = set(SweepSpecModel.model_fields)

    @classmethod
    def load(cls, source: str | Path | dict[str, Any]) -> "SweepSpec":
        """From a YAML/JSON file or a dict; errors name the field path and the value.

        YAML is read as YAML 1.2 (``5.0e6`` is a float, so a swept axis stays numeric)."""
        if isinstance(source, dict):
            data, where = dict(source), "<spec>"
        else:
            where = str(source)
            try:
                text = Path(source).read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise ValidationError(f"{where}: cannot read sweep spec ({exc})", "spec") from exc
            data = json.loads(text) if str(source).endswith(".json") else load_yaml(text, where)
        if not isinstance(data, dict):
            raise ValidationError(f"{where}: a sweep spec is a mapping", "spec")
        m = validate(SweepSpecModel, data, where)
        out = m.model_dump()
        out["methods"] = [m.methods] if isinstance(m.methods, str) else list(m.methods)
        seeds = m.seeds
        if isinstance(seeds, SeedRange):
            out["seeds"] = list(range(seeds.start, seeds.start + seeds.count))
        else:
            out["seeds"] = [seeds] if isinstance(seeds, int) else list(seeds)
        out["output"] = m.output or f"sweep-{m.problem}"
        return cls({k: v for k, v in out.items() if v is not None or k in data})


def point_id(point: dict[str, Any]) -> str:
    """A stable 16-hex-digit id of a point (problem, method, params, seed, solver settings)."""
    blob = json.dumps(point, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def points(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every point of the grid: methods x grid combinations x seeds, each with its ``id``."""
    keys = sorted(spec["grid"])
    out = []
    for method in spec["methods"]:
        for combo in itertools.product(*(spec["grid"][k] for k in keys)):
            for seed in spec["seeds"]:
                pt = {"problem": spec["problem"], "method": method, "seed": seed,
                      "params": {**spec.get("params", {}), **dict(zip(keys, combo))},
                      "solver": spec.get("solver"), "time_limit": spec.get("time_limit"),
                      "mip_gap": spec.get("mip_gap"), "profile": spec.get("profile"),
                      "scenario": spec.get("scenario")}
                pt["id"] = point_id(pt)
                out.append(pt)
    return out


def run_point(pt: dict[str, Any]) -> dict[str, Any]:
    """Run one point; never raises: an error is recorded in the row's ``error`` column."""
    from slopt.problems import get

    row: dict[str, Any] = {"id": pt["id"], "problem": pt["problem"], "method": pt["method"],
                           "seed": pt["seed"], **{f"param.{k}": v for k, v in pt["params"].items()}}
    t0 = time.perf_counter()
    try:
        plan = get(pt["problem"]).run(pt["method"], profile=pt["profile"], scenario=pt["scenario"],
                                      solver=pt["solver"], time_limit=pt["time_limit"],
                                      mip_gap=pt["mip_gap"], seed=pt["seed"], **pt["params"])
        row.update(status=plan.status, objective=float(plan.objective), error="")
        row.update({f"metric.{k}": v for k, v in plan.metrics.items() if isinstance(v, (int, float))})
    except Exception as exc:  # recorded, never lost
        kind = "" if isinstance(exc, SloptError) else "\n" + traceback.format_exc(limit=3)
        row.update(status="error", objective=float("nan"), error=f"{type(exc).__name__}: {exc}{kind}")
    row["seconds"] = time.perf_counter() - t0
    return row


def run_points(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run a batch of points (one Dask task)."""
    return [run_point(p) for p in batch]


def read_results(output: str | Path) -> pd.DataFrame:
    """All completed rows of a sweep folder (empty frame if none)."""
    out = Path(output)
    parts = sorted(out.glob("part-*.parquet")) + sorted(out.glob("part-*.csv"))
    if not parts:
        return pd.DataFrame()
    frames = [pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p, dtype={"id": str}) for p in parts]
    return pd.concat(frames, ignore_index=True)


class _Writer:
    """Writes completed rows as numbered parts, flushing every ``every`` rows or ``seconds``."""

    def __init__(self, output: Path, fmt: str, every: int = 50, seconds: float = 2.0):
        self.output, self.fmt, self.every, self.seconds = output, fmt, every, seconds
        output.mkdir(parents=True, exist_ok=True)
        existing = list(output.glob("part-*"))
        self.n = 1 + max((int(p.stem.split("-")[1]) for p in existing), default=-1)
        self.rows: list[dict[str, Any]] = []
        self.last = time.monotonic()

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        self.rows.extend(rows)
        if len(self.rows) >= self.every or time.monotonic() - self.last > self.seconds:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            df = pd.DataFrame(self.rows)
            path = self.output / f"part-{self.n:05d}.{self.fmt}"
            tmp = path.with_suffix(".tmp")
            if self.fmt == "parquet":
                df.to_parquet(tmp, index=False)
            else:
                df.to_csv(tmp, index=False)
            tmp.rename(path)  # atomic: a killed sweep never leaves a half-written part
            self.n += 1
            self.rows = []
        self.last = time.monotonic()


def _batches(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def sweep(
    spec: SweepSpec | dict[str, Any] | str | Path,
    dask: bool = False,
    scheduler: str | None = None,
    n_workers: int = 2,
    progress: bool = True,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    client: Any = None,
) -> pd.DataFrame:
    """Run a sweep; return all rows (previous runs' included), ordered by point.

    Parameters
    ----------
    spec : a :class:`SweepSpec`, a dict, or a YAML/JSON file
    dask : run on Dask distributed (a ``LocalCluster`` of ``n_workers`` single-threaded processes
        unless ``scheduler`` is given)
    scheduler : address of an existing cluster, e.g. ``tcp://HOST:8786`` (implies ``dask``)
    progress : show a rich progress bar
    on_row : called with each completed row (e.g. to stop a sweep in a test)
    client : an existing ``dask.distributed.Client`` to use (implies ``dask``; left open)
    """
    spec = spec if isinstance(spec, SweepSpec) else SweepSpec.load(spec)
    out = Path(spec["output"])
    done = read_results(out)
    # completed points are skipped; failed ones are tried again
    done_ids = set(done.loc[done["status"] != "error", "id"]) if not done.empty else set()
    todo = [p for p in points(spec) if p["id"] not in done_ids]
    writer = _Writer(out, spec["format"])
    batch_size = int(spec.get("batch_size") or max(1, min(25, len(todo) // (8 * max(n_workers, 1)) or 1)))

    from rich.progress import Progress

    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"sweep {spec['problem']}", total=len(todo))

        def consume(rows: list[dict[str, Any]]) -> None:
            writer.add(rows)
            bar.advance(task, len(rows))
            if on_row is not None:
                for r in rows:
                    on_row(r)

        try:
            if dask or scheduler or client is not None:
                _run_dask(todo, batch_size, scheduler, n_workers, consume, client)
            else:
                for batch in _batches(todo, batch_size):
                    consume(run_points(batch))
        finally:
            writer.flush()
    res = read_results(out)
    if res.empty:
        return res
    order = {p["id"]: i for i, p in enumerate(points(spec))}
    res = res[res["id"].isin(order)].drop_duplicates("id", keep="last")
    return res.assign(_o=res["id"].map(order)).sort_values("_o").drop(columns="_o").reset_index(drop=True)


def _run_dask(todo: list[dict[str, Any]], batch_size: int, scheduler: str | None, n_workers: int,
              consume: Callable[[list[dict[str, Any]]], None], client: Any = None) -> None:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise SloptError("Dask is not installed; install it with: pip install 'slopt[dask]'") from exc
    cluster, own = None, client is None
    if client is not None:
        pass
    elif scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        batches = {client.submit(run_points, b, pure=False, retries=2): b for b in _batches(todo, batch_size)}
        for fut in as_completed(list(batches)):
            try:
                rows = fut.result()
            except Exception as exc:  # e.g. KilledWorker after the retries: record, go on
                rows = [{"id": p["id"], "problem": p["problem"], "method": p["method"], "seed": p["seed"],
                         **{f"param.{k}": v for k, v in p["params"].items()}, "status": "error",
                         "objective": float("nan"), "error": f"{type(exc).__name__}: {exc}", "seconds": 0.0}
                        for p in batches[fut]]
            consume(rows)
    finally:
        if own:
            client.close()
        if cluster is not None:
            cluster.close()
