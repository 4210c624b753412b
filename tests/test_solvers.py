"""slopt.solvers.solve: every installed backend on a tiny MILP and a tiny convex NLP; limits and errors."""

from __future__ import annotations

import math

import cvxpy as cp
import numpy as np
import pyomo.environ as pyo
import pytest
from ortools.sat.python import cp_model

from conftest import installed, requires
from slopt.errors import SolverNotAvailable, ValidationError
from slopt.solvers import BACKENDS, available_solvers, solve

VALUES = [10, 13, 7, 8, 9, 4]
WEIGHTS = [5, 6, 4, 5, 4, 2]
CAPACITY = 15
KNAPSACK_OPT = 32.0  # the optimum, checked by brute force in test_knapsack_reference


def brute_knapsack() -> float:
    best = 0
    for mask in range(1 << len(VALUES)):
        w = sum(WEIGHTS[i] for i in range(len(VALUES)) if mask >> i & 1)
        if w <= CAPACITY:
            best = max(best, sum(VALUES[i] for i in range(len(VALUES)) if mask >> i & 1))
    return float(best)


def knapsack_pyomo() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.I = pyo.RangeSet(0, len(VALUES) - 1)
    m.x = pyo.Var(m.I, domain=pyo.Binary)
    m.cap = pyo.Constraint(expr=sum(WEIGHTS[i] * m.x[i] for i in m.I) <= CAPACITY)
    m.obj = pyo.Objective(expr=sum(VALUES[i] * m.x[i] for i in m.I), sense=pyo.maximize)
    return m


def knapsack_cvxpy() -> cp.Problem:
    x = cp.Variable(len(VALUES), boolean=True)
    return cp.Problem(cp.Maximize(np.array(VALUES) @ x), [np.array(WEIGHTS) @ x <= CAPACITY])


def knapsack_cpsat() -> cp_model.CpModel:
    m = cp_model.CpModel()
    x = [m.new_bool_var(f"x{i}") for i in range(len(VALUES))]
    m.add(sum(w * xi for w, xi in zip(WEIGHTS, x)) <= CAPACITY)
    m.maximize(sum(v * xi for v, xi in zip(VALUES, x)))
    return m


# min 1/x + x^2 over x in [0.1, 10]: stationary at x* = 2^(-1/3), value 2^(1/3) + 2^(-2/3)
NLP_OPT = 2 ** (1 / 3) + 2 ** (-2 / 3)


def nlp_pyomo() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0.1, 10), initialize=1.0)
    m.obj = pyo.Objective(expr=1 / m.x + m.x ** 2)
    return m


def nlp_cvxpy() -> cp.Problem:
    x = cp.Variable()
    return cp.Problem(cp.Minimize(cp.inv_pos(x) + cp.square(x)), [x >= 0.1, x <= 10])


def test_knapsack_reference() -> None:
    assert brute_knapsack() == KNAPSACK_OPT


@pytest.mark.parametrize("solver", installed("highs", "cbc", "glpk", "scip"))
def test_milp_pyomo_every_backend(solver: str) -> None:
    m = knapsack_pyomo()
    r = solve(m, solver=solver)
    assert r.status == "optimal", r
    assert r.objective == pytest.approx(KNAPSACK_OPT, rel=1e-6)
    assert pyo.value(m.obj) == pytest.approx(KNAPSACK_OPT, rel=1e-6)  # solution loaded
    assert r.gap == 0.0 and r.solver == solver and r.seconds > 0


@pytest.mark.parametrize("solver", installed("highs", "scip"))
def test_milp_cvxpy_backends(solver: str) -> None:
    r = solve(knapsack_cvxpy(), solver=solver)
    assert r.status == "optimal" and r.objective == pytest.approx(KNAPSACK_OPT, rel=1e-6)


@requires("cp-sat")
def test_milp_cpsat() -> None:
    r = solve(knapsack_cpsat(), solver="cp-sat")
    assert r.status == "optimal" and r.objective == pytest.approx(KNAPSACK_OPT, rel=1e-6)
    assert r.bound == pytest.approx(KNAPSACK_OPT)


@pytest.mark.parametrize("solver", installed("scip", "ipopt"))
def test_nlp_pyomo_backends(solver: str) -> None:
    m = nlp_pyomo()
    r = solve(m, solver=solver)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(NLP_OPT, rel=1e-6)
    assert pyo.value(m.x) == pytest.approx(2 ** (-1 / 3), rel=1e-4)


@pytest.mark.parametrize("solver", installed("clarabel", "scs", "scip"))
def test_nlp_cvxpy_backends(solver: str) -> None:
    opts = {"eps_abs": 1e-10, "eps_rel": 1e-10, "max_iters": 200000} if solver == "scs" else None
    r = solve(nlp_cvxpy(), solver=solver, options=opts)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(NLP_OPT, rel=1e-6)


def market_split(k: int = 5, n: int = 40, seed: int = 1) -> pyo.ConcreteModel:
    """Cornuejols-Dawande market split with slacks: hard for branch and bound, feasible at once."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 100, (k, n))
    b = a.sum(1) // 2
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(n), domain=pyo.Binary)
    m.sp = pyo.Var(range(k), bounds=(0, None))
    m.sm = pyo.Var(range(k), bounds=(0, None))
    m.c = pyo.Constraint(range(k), rule=lambda m, i: sum(int(a[i, j]) * m.x[j] for j in range(n))
                         + m.sp[i] - m.sm[i] == int(b[i]))
    m.obj = pyo.Objective(expr=sum(m.sp[i] + m.sm[i] for i in range(k)) + 1)
    return m


@pytest.mark.parametrize("solver", installed("highs", "scip"))
def test_time_limit_returns_incumbent_with_gap(solver: str) -> None:
    r = solve(market_split(), solver=solver, time_limit=1.0)
    assert r.status == "feasible", r
    assert math.isfinite(r.objective) and math.isfinite(r.bound) and math.isfinite(r.gap)
    assert r.bound <= r.objective + 1e-9 and r.gap > 0
    assert r.seconds < 10


@pytest.mark.parametrize("solver", installed("cbc", "glpk"))
def test_time_limit_cbc_glpk_return_incumbent(solver: str) -> None:
    """CBC and GLPK return the incumbent; a bound only when their log reports one (GLPK never
    does on a time limit; CBC not when stopped before branch and bound, e.g. on a loaded machine)."""
    r = solve(market_split(), solver=solver, time_limit=1.0)
    assert r.status == "feasible" and math.isfinite(r.objective)
    assert math.isnan(r.bound) or (r.bound <= r.objective + 1e-9 and math.isfinite(r.gap))


@pytest.mark.parametrize("solver", installed("highs", "cbc", "glpk", "scip"))
def test_infeasible_model(solver: str) -> None:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.Binary)
    m.y = pyo.Var(domain=pyo.NonNegativeReals)
    m.c1 = pyo.Constraint(expr=m.x + m.y >= 3)
    m.c2 = pyo.Constraint(expr=m.y <= 1)
    m.obj = pyo.Objective(expr=m.x + m.y)
    assert solve(m, solver=solver).status == "infeasible"


@pytest.mark.parametrize("solver", installed("clarabel", "highs", "scip"))
def test_infeasible_cvxpy(solver: str) -> None:
    x = cp.Variable()
    r = solve(cp.Problem(cp.Minimize(x), [x >= 2, x <= 1]), solver=solver)
    assert r.status == "infeasible"


def test_absent_solver_names_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    absent = [r for r in available_solvers() if not r["available"] and "pyomo" in r["kinds"]]
    if absent:
        name = absent[0]["solver"]
    else:  # every backend is installed: hide one by making its probe fail
        name = "glpk"
        b = BACKENDS["glpk"]
        monkeypatch.setitem(BACKENDS, "glpk", type(b)(b.name, b.kinds, b.classes, b.install, lambda: None))
    with pytest.raises(SolverNotAvailable) as e:
        solve(knapsack_pyomo(), solver=name)
    assert BACKENDS[name].install in str(e.value)


def test_unknown_solver_and_wrong_kind() -> None:
    with pytest.raises(SolverNotAvailable, match="unknown solver 'gurobi'"):
        solve(knapsack_pyomo(), solver="gurobi")
    with pytest.raises(ValidationError, match="does not take pyomo"):
        solve(knapsack_pyomo(), solver="clarabel")
    with pytest.raises(ValidationError, match="time_limit"):
        solve(knapsack_pyomo(), time_limit=-1)


def test_result_to_dict_is_json_safe() -> None:
    import json

    r = solve(knapsack_pyomo())
    d = r.to_dict()
    assert {"status", "objective", "bound", "gap", "seconds", "solver", "message", "termination",
            "has_primal", "max_violation"} <= set(d) and "raw" not in d
    assert d["termination"] == "optimal" and d["has_primal"] is True and d["max_violation"] == 0.0
    json.dumps(d)


def market_split_cvxpy(k: int = 5, n: int = 40, seed: int = 1) -> cp.Problem:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 100, (k, n))
    b = a.sum(1) // 2
    x, sp, sm = cp.Variable(n, boolean=True), cp.Variable(k, nonneg=True), cp.Variable(k, nonneg=True)
    return cp.Problem(cp.Minimize(cp.sum(sp + sm) + 1), [a @ x + sp - sm == b])


@pytest.mark.parametrize("solver", installed("highs", "scip"))
def test_time_limit_cvxpy_reports_feasible_with_bound(solver: str) -> None:
    r = solve(market_split_cvxpy(), solver=solver, time_limit=1.0)
    assert r.status == "feasible", r
    assert math.isfinite(r.bound) and r.bound <= r.objective + 1e-9 and r.gap > 0


def maximise_market_split() -> pyo.ConcreteModel:
    m = market_split()
    m.obj.deactivate()
    m.max_obj = pyo.Objective(expr=1000 - sum(m.sp[i] + m.sm[i] for i in m.sp), sense=pyo.maximize)
    return m


@pytest.mark.parametrize("solver", installed("highs", "cbc", "scip"))
def test_time_limit_maximisation_bound_is_above(solver: str) -> None:
    r = solve(maximise_market_split(), solver=solver, time_limit=1.0)
    assert r.status == "feasible"
    assert math.isnan(r.bound) or r.bound >= r.objective - 1e-9


@requires("highs")
def test_unbounded_milp_is_not_called_infeasible() -> None:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.Integers, bounds=(0, 5))
    m.y = pyo.Var()
    m.c = pyo.Constraint(expr=m.y >= m.x)
    m.obj = pyo.Objective(expr=m.x - m.y)  # y -> +inf
    assert solve(m, solver="highs").status == "unbounded"


@requires("cp-sat")
def test_cpsat_gap_is_reported_when_stopping_early() -> None:
    r = solve(knapsack_cpsat(), solver="cp-sat", mip_gap=0.5)
    assert r.status == "optimal" and r.gap == pytest.approx(abs(r.objective - r.bound) / abs(r.objective))


@pytest.mark.parametrize("solver", installed("highs", "cbc", "glpk", "scip"))
def test_variable_in_no_row_gets_a_value(solver: str) -> None:
    m = knapsack_pyomo()
    m.free = pyo.Var(bounds=(1, 4))  # appears in no constraint and not in the objective
    r = solve(m, solver=solver)
    assert r.status == "optimal" and r.objective == pytest.approx(KNAPSACK_OPT)
