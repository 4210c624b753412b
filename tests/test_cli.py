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


def test_version() -> None:
    import slopt

    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0
    assert r.output.strip() == f"slopt {slopt.__version__}"


def test_one_row_result_is_key_value() -> None:
    from slopt.cli import print_table, console

    with console.capture() as cap:
        print_table([{f"column_{i}": i * 1.5 for i in range(20)}], "t")
    text = cap.get()
    # every key on its own line, nothing cut with an ellipsis
    assert all(f"column_{i}" in text for i in range(20))
    assert "…" not in text


def test_solve_help_states_exact_default_time_limit() -> None:
    from slopt.cli import EXACT_TIME_LIMIT_S

    r = runner.invoke(app, ["solve", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0
    assert f"{EXACT_TIME_LIMIT_S:g} s for exact methods" in " ".join(r.output.split())


def test_progress_report_and_stop_request() -> None:
    import logging

    from slopt.methods import Deadline
    from slopt.progress import clear_stop, get_logger, report, request_stop

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    log = get_logger("slopt.test")
    h = Keep()
    log.addHandler(h)
    log.setLevel(logging.INFO)
    try:
        report(log, 3, 10, incumbent=2.0, bound=1.0, what="cuts")
    finally:
        log.removeHandler(h)
    msg = records[-1].getMessage()
    assert msg.startswith("3/10 cuts; incumbent 2, bound 1, gap 0.5")
    d = Deadline(None)
    assert not d.expired and d.remaining() is None
    request_stop()
    try:
        assert d.expired
    finally:
        clear_stop()
    assert not d.expired
    assert Deadline(1e-9).expired
