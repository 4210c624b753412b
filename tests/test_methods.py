"""The shared method layer (slopt.methods): solver_options / tee / verbose on every method."""

from __future__ import annotations

import logging
import warnings

import pyomo.environ as pyo
import pytest

from conftest import requires
from slopt.errors import ValidationError
from slopt.methods import call_defaults, method
from slopt.plan import Plan
from slopt.solvers import solve


def _model() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.NonNegativeIntegers, bounds=(0, 10))
    m.c = pyo.Constraint(expr=2 * m.x <= 7)
    m.obj = pyo.Objective(expr=-m.x)
    return m


@method
def solving_method(inst, *, solver=None, time_limit=None, mip_gap=None) -> Plan:
    res = solve(_model(), solver=solver, time_limit=time_limit)
    return Plan("toy", "solving", res.objective, solve=res)


@method
def closed_form(inst, *, solver=None, time_limit=None, mip_gap=None) -> Plan:
    logging.getLogger("slopt.models.toy").info("closed form evaluated")
    return Plan("toy", "closed", 1.0)


@requires("scip")
def test_solver_options_reach_every_solve_inside_a_method() -> None:
    plan = solving_method(None, solver="scip", solver_options={"limits/gap": 0.0})
    assert plan.status == "optimal" and plan.objective == pytest.approx(-3.0)
    with pytest.raises(ValidationError, match="no/such/option"):
        solving_method(None, solver="scip", solver_options={"no/such/option": 1})
    assert call_defaults() is None      # the defaults end with the call


def test_solver_options_without_a_solver_warn() -> None:
    with pytest.warns(UserWarning, match="called no solver"):
        closed_form(None, solver_options={"presolve": "off"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        solving_method(None, solver_options={"presolve": "off"})   # HiGHS knows presolve: no warning


def test_verbose_shows_progress_records_for_the_call(capsys) -> None:
    closed_form(None, verbose=True)
    assert "closed form evaluated" in capsys.readouterr().out + capsys.readouterr().err
    root = logging.getLogger("slopt")
    assert not any(getattr(h, "_slopt_enable", False) for h in root.handlers)   # removed afterwards


def test_bad_arguments_name_the_argument() -> None:
    for kw, field in (({"time_limit": 0}, "time_limit"), ({"mip_gap": 2}, "mip_gap"),
                      ({"solver_options": [1]}, "solver_options"), ({"time_limit": True}, "time_limit")):
        with pytest.raises(ValidationError, match=field):
            closed_form(None, **kw)
