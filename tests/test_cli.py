"""The slopt CLI contract: solvers, profile show, solve errors, demo."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from slopt.cli import app, parse_sets
from slopt.plan import Plan
from slopt.solvers.result import SolveResult

runner = CliRunner()


def test_solvers_lists_backends() -> None:
    r = runner.invoke(app, ["solvers"])
    assert r.exit_code == 0 and "highs" in r.output and "install" in r.output


def test_profile_show() -> None:
    r = runner.invoke(app, ["profile", "show", "inception"])
    assert r.exit_code == 0 and "vertices" in r.output and "26" in r.output
    r = runner.invoke(app, ["profile", "show", "no-such-profile"])
    assert r.exit_code == 2 and "does not exist" in r.output


def test_solve_unknown_problem_is_a_clear_error() -> None:
    r = runner.invoke(app, ["solve", "no-such-problem"])
    assert r.exit_code == 2 and "unknown problem 'no-such-problem'" in r.output


def test_parse_sets() -> None:
    assert parse_sets(["batch=32", "w=[1, 0.5]", "name=x", "flag=true"]) == {
        "batch": 32, "w": [1, 0.5], "name": "x", "flag": True}


def test_plan_json_contract() -> None:
    p = Plan("p", "exact", 1.5, decision={"cut": 3}, metrics={"delay_s": 1.5},
             solve=SolveResult("optimal", 1.5, 1.5, 0.0, 0.1, "highs"))
    d = p.to_dict()
    for key in ("problem", "method", "solver", "status", "objective", "bound", "gap", "seconds",
                "metrics", "decision"):
        assert key in d
    json.dumps(d)
    assert p.to_frame().loc[0, "cut"] == 3
