"""Studies: solver comparison, sweeps in-process and on Dask (identical), interrupt and resume."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import installed
from slopt.compare import compare, flag_disagreements
from slopt.errors import ValidationError
from slopt.sweep import SweepSpec, points, read_results, sweep

PROBLEM = "dag-split"


def test_compare_lists_three_backends_and_agrees() -> None:
    solvers = installed("highs", "cbc", "glpk", "scip", "clarabel")
    df = compare(PROBLEM, solvers=solvers, instances=2, seed=3, time_limit=30)
    assert df["solver"].nunique() >= min(3, len(solvers))
    assert (df["status"] == "optimal").all()
    assert (df["flag"] == "").all(), df[df["flag"] != ""]
    for _, grp in df.groupby("instance"):
        assert np.allclose(grp["objective"], grp["objective"].iloc[0], rtol=1e-6)


def test_flag_disagreement_is_raised() -> None:
    df = pd.DataFrame({"instance": ["a"] * 3, "solver": ["highs", "cbc", "glpk"], "sense": [1] * 3,
                       "status": ["optimal"] * 3, "objective": [1.0, 1.0, 1.1], "bound": [1.0, 1.0, 1.1],
                       "gap": [0.0] * 3})
    out = flag_disagreements(df)
    # glpk's bound 1.1 would be the largest lower bound: the two others are flagged as beating it
    assert (out["flag"] != "").sum() >= 1
    df.loc[2, "bound"] = 0.9
    out = flag_disagreements(df)
    assert out.loc[2, "flag"].startswith("optimal claimed") and out.loc[0, "flag"] == ""


def spec(tmp_path, **over) -> SweepSpec:
    d = {"problem": PROBLEM, "methods": ["paper", "chain"], "grid": {"batch": [16, 64]},
         "seeds": {"start": 0, "count": 4}, "output": str(tmp_path / "out")}
    d.update(over)
    return SweepSpec.load(d)


def test_points_are_the_grid(tmp_path) -> None:
    pts = points(spec(tmp_path))
    assert len(pts) == 2 * 2 * 4 and len({p["id"] for p in pts}) == 16


def test_sweep_in_process_equals_dask(tmp_path) -> None:
    a = sweep(spec(tmp_path, output=str(tmp_path / "a")), progress=False)
    b = sweep(spec(tmp_path, output=str(tmp_path / "b")), dask=True, n_workers=2, progress=False)
    assert len(a) == 16 and (a["status"] != "error").all()
    assert a["id"].tolist() == b["id"].tolist()
    assert np.array_equal(a["objective"].to_numpy(), b["objective"].to_numpy())
    # methods differ: the chain baseline is never better than the optimal split
    piv = a.pivot_table(index=["seed", "param.batch"], columns="method", values="objective")
    assert (piv["paper"] <= piv["chain"] * (1 + 1e-9)).all()


def test_sweep_interrupt_and_resume(tmp_path) -> None:
    sp = spec(tmp_path)
    seen: list[str] = []

    def stop_after_five(row: dict) -> None:
        seen.append(row["id"])
        if len(seen) == 5:
            raise KeyboardInterrupt

    sp["batch_size"] = 1
    with pytest.raises(KeyboardInterrupt):
        sweep(sp, progress=False, on_row=stop_after_five)
    first = read_results(sp["output"])
    assert len(first) == 5  # flushed on the way out
    rerun: list[str] = []
    full = sweep(sp, progress=False, on_row=lambda r: rerun.append(r["id"]))
    assert len(full) == 16 and len(rerun) == 11 and not set(rerun) & set(first["id"])


def test_failing_point_is_recorded(tmp_path) -> None:
    sp = spec(tmp_path, methods=["paper"], grid={"batch": [16, -1]}, seeds=[0])
    df = sweep(sp, progress=False)
    assert len(df) == 2
    bad = df[df["param.batch"] == -1].iloc[0]
    assert bad["status"] == "error" and "batch" in bad["error"]
    assert df[df["param.batch"] == 16].iloc[0]["status"] != "error"


def test_spec_errors(tmp_path) -> None:
    with pytest.raises(ValidationError, match="missing field 'problem'"):
        SweepSpec.load({"methods": ["paper"]})
    with pytest.raises(ValidationError, match="grid.x = 3: input should be a valid list"):
        SweepSpec.load({"problem": PROBLEM, "grid": {"x": 3}})
    with pytest.raises(ValidationError, match="grid.x = \\[\\]: list should have at least 1 item"):
        SweepSpec.load({"problem": PROBLEM, "grid": {"x": []}})
    with pytest.raises(ValidationError, match="unknown field 'gird'; did you mean 'grid'"):
        SweepSpec.load({"problem": PROBLEM, "gird": {}})
    with pytest.raises(ValidationError, match="time_limit = 0"):
        SweepSpec.load({"problem": PROBLEM, "time_limit": 0})


def test_spec_yaml_numbers_stay_numbers(tmp_path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(f"problem: {PROBLEM}\ngrid:\n  bandwidth_hz: [5.0e6, 1.0e7, 2e7]\n  flag: [yes, no]\n")
    sp = SweepSpec.load(p)
    assert sp["grid"]["bandwidth_hz"] == [5.0e6, 1.0e7, 2.0e7]
    assert all(isinstance(v, float) for v in sp["grid"]["bandwidth_hz"])
    assert sp["grid"]["flag"] == ["yes", "no"]     # YAML 1.2: yes/no are strings, not booleans


def test_cli_sweep_and_compare(tmp_path) -> None:
    import json

    import yaml
    from typer.testing import CliRunner

    from slopt.cli import app

    p = tmp_path / "spec.yaml"
    p.write_text(yaml.safe_dump({"problem": PROBLEM, "methods": ["paper"], "seeds": [0, 1],
                                 "output": str(tmp_path / "cli-out"), "format": "csv"}))
    r = CliRunner().invoke(app, ["sweep", str(p)])
    assert r.exit_code == 0, r.output
    assert "2 point(s)" in r.output and len(list((tmp_path / "cli-out").glob("part-*.csv"))) >= 1
    r = CliRunner().invoke(app, ["compare", PROBLEM, "--solvers", "highs", "--instances", "1", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert rows and all(row["status"] == "optimal" for row in rows)


def test_compare_gsfl_own_band_makespan_milp_across_backends() -> None:
    solvers = installed("highs", "cbc", "glpk", "scip")
    df = compare("gsfl", solvers=solvers, instances=1, seed=0, time_limit=30, params={"shared_band": False})
    assert df["solver"].nunique() == len(solvers) and (df["status"] == "optimal").all()
    assert (df["flag"] == "").all(), df[df["flag"] != ""]


def test_compare_sft_families_agree() -> None:
    """SFT's spectrum subproblem P2 through Clarabel (CVXPY, exponential cone) and SCIP (Pyomo NLP)."""
    solvers = installed("clarabel", "scip")
    df = compare("sft", solvers=solvers, instances=1, seed=0, time_limit=5)
    p2 = df[df["formulation"].str.startswith("p2-uplink/")]
    assert set(p2["solver"]) == set(solvers) and (p2["status"] == "optimal").all()
    assert np.allclose(p2["objective"], p2["objective"].iloc[0], rtol=1e-6)
    assert (df["flag"] == "").all(), df[df["flag"] != ""]


def test_compare_options_are_validated() -> None:
    from slopt.compare import compare

    with pytest.raises(ValidationError, match="time_limit = -1"):
        compare(PROBLEM, instances=1, time_limit=-1)
    with pytest.raises(ValidationError, match="instances = True"):
        compare(PROBLEM, instances=True)
    with pytest.raises(ValidationError, match="tol = 2"):
        compare(PROBLEM, tol=2)
