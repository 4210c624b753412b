"""The worked example of docs/dag_split.md, section "Extend a formulation", runs as written,
and extra constraints reach every model a method builds."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import installed

from slopt.errors import ValidationError
from slopt.models import dag_split as ds

DOC = Path(__file__).resolve().parents[1] / "docs" / "dag_split.md"


def extend_block() -> str:
    text = DOC.read_text()
    section = text.split("## Extend a formulation", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    return blocks[0]


@pytest.mark.skipif(not installed("highs"), reason="needs HiGHS")
def test_extend_example_runs(capsys):
    ns: dict = {}
    exec(compile(extend_block(), str(DOC), "exec"), ns)
    plan = ns["plan"]
    assert plan.status == "optimal" and plan.metrics["n_device_layers"] <= ns["k"]
    assert ns["free"].metrics["n_device_layers"] > ns["k"]  # the row binds
    assert "optimal" in capsys.readouterr().out


@pytest.mark.skipif(not installed("highs"), reason="needs HiGHS")
def test_extra_constraints_on_every_model():
    inst = ds.instance_from_delays(4, [0, 1, 2], [1, 2, 3], tau_dev_s=[1, 1, 1, 1],
                                   tau_srv_s=[5, 5, 5, 5], tau_com_s=[1, 1, 1, 0])
    seen = []

    def two_on_device(model, inst_):
        seen.append(type(model).__name__)
        if hasattr(model, "constraints"):      # CVXPY namespace
            model.constraints.append(model.x.sum() <= 2)
        else:
            import pyomo.environ as pyo
            model.two = pyo.Constraint(expr=sum(model.x[v] for v in model.V) <= 2)

    assert ds.METHODS["a"](inst).metrics["n_device_layers"] == 4
    for m in ("exact", "milp", "milp-cvxpy"):
        plan = ds.METHODS[m](inst, extra_constraints=two_on_device)
        assert plan.decision["device_layers"] == ["v0", "v1"], m
        assert plan.objective == 1 + 1 + 5 + 5 + 1
    assert len(seen) == 3
    for name, build in ds.formulations(inst, two_on_device).items():
        model = build()
        from slopt.solvers import solve
        res = solve(model, solver="highs", mip_gap=0.0)
        assert ds.plan_from_model(inst, model, res).objective == 13, name
    with pytest.raises(ValidationError, match="extra constraints"):
        ds.METHODS["lp"](inst, extra_constraints=two_on_device)
    with pytest.raises(ValidationError, match="extra_constraints"):
        ds.METHODS["brute"](inst, extra_constraints=two_on_device)
    assert np.isfinite(ds.METHODS["exact"](inst).objective)
