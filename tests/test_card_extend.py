"""CARD: the ``extra_constraints`` hook on every builder and on the exact method, the public
decoders from a solved model to a Plan, and the "Extend a formulation" example of docs/card.md
(executed as written)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import cvxpy as cp
import numpy as np
import pyomo.environ as pyo
import pytest
from conftest import requires

from slopt.errors import ValidationError
from slopt.models import card as C
from slopt.solvers import solve

DOC = Path(__file__).resolve().parents[1] / "docs" / "card.md"
CAP_GHZ = 0.8


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _example() -> str:
    text = DOC.read_text()
    section = text.split("## Extend a formulation", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    return blocks[0]


@requires("scip")
def test_docs_extend_example_runs_as_written():
    ns: dict = {}
    exec(compile(_example(), str(DOC), "exec"), ns)       # the example asserts its own results
    assert ns["plan"].status == "optimal"
    assert np.allclose(ns["plan"].decision["freq_hz"], CAP_GHZ * 1e9, rtol=1e-6)


def _minlp_cap(model, inst):
    model.f_cap = pyo.Constraint(model.T, rule=lambda b, m, n: b.f[m, n] <= CAP_GHZ)


def _misocp_cap(model, inst):
    model.constraints.extend(cp.sum(fc) <= CAP_GHZ for fc in model.variables["f"].values())


def _cvx_cap(model, inst):
    model.constraints.append(model.variables["f"] <= CAP_GHZ)


@requires("clarabel")
def test_inner_and_enumeration_take_the_hook():
    inst = C.load(None, None, rounds=2, n_devices=2)
    calls = []

    def cap(model, inst_):
        calls.append(type(model).__name__)
        _cvx_cap(model, inst_)

    prob = C.build_inner(inst, 0, 0, 1, extra_constraints=cap)
    assert solve(prob, solver="clarabel").status == "optimal"
    f = next(v for v in prob.variables() if v.name() == "f_GHz")
    assert float(f.value) == pytest.approx(CAP_GHZ, rel=1e-6)
    prob, fv, keep, inv = C.build_enumeration(inst, extra_constraints=cap)
    assert fv.shape[0] == int(keep.sum())               # no de-duplication with a hook
    assert calls == ["CvxpyModel", "CvxpyModel"]
    plan = C.exact(inst, extra_constraints=cap)
    assert np.allclose(plan.decision["freq_hz"], CAP_GHZ * 1e9, rtol=1e-5)
    # the certificate covers the problem without the hook: a valid, weaker bound
    assert plan.solve.bound <= C.card(inst).objective * (1 + 1e-12)
    assert plan.status in ("optimal", "feasible")


@requires("scip")
@pytest.mark.parametrize("formulation, hook", [("minlp", _minlp_cap), ("misocp", _misocp_cap)])
def test_exact_applies_the_hook_to_every_model_and_decoders_agree(formulation, hook):
    inst = C.load(None, None, rounds=1, n_devices=2, exact_formulation=formulation)
    seen = []

    def counted(model, inst_):
        seen.append(model)
        hook(model, inst_)

    capped = C.exact(inst, extra_constraints=counted)
    assert len(seen) == inst.M * inst.N                   # one per-turn model each
    assert capped.status == "optimal"
    assert np.allclose(capped.decision["freq_hz"], CAP_GHZ * 1e9, rtol=1e-6)
    assert capped.objective > C.card(inst).objective
    turns = [(m, n) for m in range(inst.M) for n in range(inst.N)]
    if formulation == "minlp":
        model = C.build_minlp(inst, turns, extra_constraints=hook)
        res = solve(model, solver="scip", mip_gap=0.0)
        plan = C.plan_from_minlp(model, inst, res)
    else:
        prob, handles = C.build_misocp(inst, turns, extra_constraints=hook)
        res = solve(prob, solver="scip", mip_gap=0.0)
        plan = C.plan_from_misocp(handles, inst, res)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(capped.objective, rel=1e-6)
    assert (np.asarray(plan.decision["cut"]) == np.asarray(capped.decision["cut"])).all()


def test_decoders_refuse_unsolved_or_partial_models():
    inst = C.load(None, None, rounds=1, n_devices=2)
    model = C.build_minlp(inst, [(0, 0)])
    with pytest.raises(Exception, match="no solution values|solve it first"):
        C.plan_from_minlp(model, inst)
    for v in model.component_data_objects(pyo.Var):
        v.set_value(v.lb if v.lb is not None else 0.0)
    model.x[0, 0, 1].set_value(1.0)
    with pytest.raises(ValidationError, match="covers 1 of 2 turns"):
        C.plan_from_minlp(model, inst)
