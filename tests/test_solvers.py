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
from slopt.solvers import BACKENDS, SolveResult, available_solvers, cbc_builds
from slopt.solvers import solve as _solve


def backends(*names: str) -> list[str]:
    """The installed ``names``, CBC once per build present (``cbc[debian]``, ``cbc[cbcbox]``,
    ``cbc[path]`` for a ``SLOPT_CBC`` path)."""
    out = []
    for s in installed(*names):
        out += [f"cbc[{b}]" for b in cbc_builds()] if s == "cbc" else [s]
    return out


_BUILD: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _cbc_build(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Select the CBC build of a ``cbc[build]`` parameter through SLOPT_CBC."""
    callspec = getattr(request.node, "callspec", None)
    solver = callspec.params.get("solver") if callspec else None
    if isinstance(solver, str) and solver.startswith("cbc["):
        build = solver[4:-1]
        path = cbc_builds()[build]
        monkeypatch.setenv("SLOPT_CBC", path if build == "path" else build)


def solve(model, solver=None, **kw):  # noqa: ANN001, ANN003, ANN201 - the tests' solve: cbc[build] -> cbc
    if isinstance(solver, str) and solver.startswith("cbc["):
        solver = "cbc"
    return _solve(model, solver=solver, **kw)


def name(solver: str) -> str:
    return "cbc" if solver.startswith("cbc[") else solver

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


@pytest.mark.parametrize("solver", backends("highs", "cbc", "glpk", "scip"))
def test_milp_pyomo_every_backend(solver: str) -> None:
    m = knapsack_pyomo()
    r = solve(m, solver=solver)
    assert r.status == "optimal", r
    assert r.objective == pytest.approx(KNAPSACK_OPT, rel=1e-6)
    assert pyo.value(m.obj) == pytest.approx(KNAPSACK_OPT, rel=1e-6)  # solution loaded
    assert r.gap == 0.0 and r.solver == name(solver) and r.seconds > 0


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


@pytest.mark.parametrize("solver", backends("cbc", "glpk"))
def test_time_limit_cbc_glpk_return_incumbent(solver: str) -> None:
    """CBC and GLPK return the incumbent; a bound only when their log reports one (GLPK's last
    progress line, CBC's final summary), never the incumbent itself."""
    r = solve(market_split(), solver=solver, time_limit=1.0)
    assert r.status == "feasible" and math.isfinite(r.objective)
    assert r.termination == "time_limit" and r.has_primal
    assert math.isnan(r.bound) or (r.bound <= r.objective + 1e-9 and r.bound != r.objective and r.gap > 0)


@pytest.mark.parametrize("solver", backends("highs", "cbc", "glpk", "scip"))
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


@pytest.mark.parametrize("solver", backends("highs", "cbc", "scip"))
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


@pytest.mark.parametrize("solver", backends("highs", "cbc", "glpk", "scip"))
def test_variable_in_no_row_gets_a_value(solver: str) -> None:
    m = knapsack_pyomo()
    m.free = pyo.Var(bounds=(1, 4))  # appears in no constraint and not in the objective
    r = solve(m, solver=solver)
    assert r.status == "optimal" and r.objective == pytest.approx(KNAPSACK_OPT)


def fix_only_rows(sense: object = pyo.minimize) -> pyo.ConcreteModel:
    """Every row fixes one variable (CBC's preprocessing removes them all), with a constant term."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(3), domain=pyo.Integers, bounds=(0, 10))
    m.c = pyo.Constraint(range(3), rule=lambda m, i: 2 * m.x[i] == 2 * (i + 1))
    m.obj = pyo.Objective(expr=sum(m.x[i] for i in range(3)) + 0.5, sense=sense)
    return m


@pytest.mark.parametrize("sense", [pyo.minimize, pyo.maximize], ids=["min", "max"])
@pytest.mark.parametrize("solver", backends("highs", "cbc", "glpk", "scip"))
def test_rows_that_only_fix_variables(solver: str, sense: object) -> None:
    m = fix_only_rows(sense)
    r = solve(m, solver=solver)
    assert r.status == "optimal" and r.objective == pytest.approx(6.5) and r.bound == pytest.approx(6.5), r
    assert [pyo.value(m.x[i]) for i in range(3)] == [1, 2, 3]


def unbounded_lp() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, None))
    m.y = pyo.Var(bounds=(0, None))
    m.c = pyo.Constraint(expr=m.x - m.y <= 1)
    m.obj = pyo.Objective(expr=-m.x - m.y)
    return m


def unbounded_milp() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.Integers, bounds=(0, 5))
    m.y = pyo.Var()
    m.c = pyo.Constraint(expr=m.y >= m.x)
    m.obj = pyo.Objective(expr=m.x - m.y)
    return m


@pytest.mark.parametrize("build", [unbounded_lp, unbounded_milp], ids=["lp", "milp"])
@pytest.mark.parametrize("solver", backends("highs", "cbc", "glpk", "scip"))
def test_unbounded_every_backend(solver: str, build: object) -> None:
    r = solve(build(), solver=solver)
    assert r.status == "unbounded" and r.termination == "unbounded" and not r.has_primal, r


@pytest.mark.parametrize("solver", installed("clarabel", "highs", "scip", "scs"))
def test_unbounded_cvxpy(solver: str) -> None:
    x = cp.Variable(2, nonneg=True)
    r = solve(cp.Problem(cp.Minimize(-cp.sum(x)), [x[0] - x[1] <= 1]), solver=solver)
    assert r.status == "unbounded", r


@pytest.mark.parametrize("solver", installed("scs", "osqp"))
def test_first_order_solvers_report_no_bound(solver: str) -> None:
    x = cp.Variable(2)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(x - np.array([1.0, 2.0])) + x[0]), [x >= 0, cp.sum(x) <= 2])
    r = solve(prob, solver=solver)
    assert r.ok and math.isnan(r.bound) and math.isnan(r.gap), r
    assert r.max_violation <= 1e-3


@pytest.mark.parametrize("solver", backends("highs", "cbc", "glpk", "scip"))
def test_variable_in_no_row_and_not_in_objective_gets_a_value_in_bounds(solver: str) -> None:
    m = knapsack_pyomo()
    m.free = pyo.Var(bounds=(1, 4))
    m.free_int = pyo.Var(domain=pyo.Integers, bounds=(-7.5, -2.5))
    solve(m, solver=solver)
    assert 1 <= m.free.value <= 4 and m.free_int.value == -3


def test_certificate_downgrades_a_wrong_claim() -> None:
    """A solver claiming optimal at an objective its point does not have, or with a bound on the
    wrong side, is not believed."""
    from slopt.solvers.certify import Certificate, finish

    ok = Certificate(True, 10.0, 0.0)
    r = finish(termination="optimal", cert=ok, reported_objective=7.0, bound=7.0, minimize=True, gap_limit=0.0,
               exact=True, message="m", raw=None)
    assert r.status == "feasible" and r.objective == 10.0 and "reported objective 7.0" in r.message
    r = finish(termination="optimal", cert=ok, reported_objective=10.0, bound=12.0, minimize=True, gap_limit=0.0,
               exact=True, message="m", raw=None)
    assert r.status == "feasible" and math.isnan(r.bound) and "wrong side" in r.message
    r = finish(termination="optimal", cert=Certificate(False, 10.0, 0.5, "row c"), reported_objective=10.0,
               bound=10.0, minimize=True, gap_limit=0.0, exact=True, message="m", raw=None)
    assert r.status == "no_solution" and r.max_violation == 0.5 and "row c" in r.message and r.bound == 10.0
    r = finish(termination="optimal", cert=Certificate(True, math.inf, 0.0), reported_objective=math.inf,
               bound=math.nan, minimize=True, gap_limit=0.0, exact=True, message="m", raw=None)
    assert r.status != "optimal"
    r = finish(termination="time_limit", cert=ok, reported_objective=10.0, bound=8.0, minimize=True,
               gap_limit=0.0, exact=True, message="m", raw=None)
    assert r.status == "feasible" and r.gap == pytest.approx(0.2)
    r = finish(termination="optimal", cert=ok, reported_objective=10.0, bound=9.0, minimize=True,
               gap_limit=0.05, exact=True, message="m", raw=None)
    assert r.status == "feasible" and "gap to its bound" in r.message


def test_solve_result_positional_and_derived_fields() -> None:
    from slopt.solvers import summary_status

    r = SolveResult("optimal", 1.5, 1.5, 0.0, 0.1, "highs")
    assert r.has_primal and r.termination == "optimal" and r.ok
    assert summary_status("time_limit", False, False) == "no_solution"
    assert summary_status("time_limit", True, False) == "feasible"
    assert summary_status("numerical_error", False, False) == "error"


@pytest.mark.parametrize("solver", installed("highs", "cbc", "glpk"))
def test_minlp_to_a_milp_solver_raises_naming_scip(solver: str) -> None:
    with pytest.raises(ValidationError, match="solvers that can: .*scip"):
        solve(nlp_pyomo(), solver=solver)
    with pytest.raises(ValidationError, match="clarabel"):
        solve(nlp_cvxpy(), solver="osqp" if solver == "glpk" else "highs")


def test_installed_cvxpy_solver_passes_through() -> None:
    import cvxpy

    if "SCIPY" not in cvxpy.installed_solvers():
        pytest.skip("cvxpy's SCIPY interface absent")
    x = cp.Variable(2)
    r = solve(cp.Problem(cp.Minimize(x[0] + 2 * x[1]), [x >= 1]), solver="scipy")
    assert r.status == "optimal" and r.objective == pytest.approx(3.0) and r.solver == "scipy"


def test_method_arguments_checked() -> None:
    from slopt.methods import check_solve_args

    with pytest.raises(SolverNotAvailable, match="nosuch"):
        check_solve_args("nosuch")
    with pytest.raises(ValidationError, match="time_limit"):
        check_solve_args(time_limit=-1)
    with pytest.raises(ValidationError, match="mip_gap"):
        check_solve_args(mip_gap=2)
    with pytest.raises(ValidationError, match="solver_options"):
        check_solve_args(solver_options=["a"])
    check_solve_args("highs", 1.0, 0.0, {"presolve": "off"}, True)


def test_problem_run_checks_before_loading() -> None:
    from slopt.problems import Problem

    loaded = []

    def load(profile, scenario, **params):  # noqa: ANN001, ANN003, ANN202
        loaded.append(1)
        return object()

    seen = {}

    def m_tee(inst, *, solver=None, time_limit=None, mip_gap=None, tee=False, solver_options=None):  # noqa: ANN001, ANN202
        seen.update(tee=tee, solver_options=solver_options)
        return "plan"

    def m_plain(inst, *, solver=None, time_limit=None, mip_gap=None):  # noqa: ANN001, ANN202
        return "plan"

    P = Problem("t", "test", load, {"a": m_tee, "b": m_plain})
    with pytest.raises(ValidationError, match="time_limit"):
        P.run("a", time_limit=0)
    with pytest.raises(SolverNotAvailable):
        P.run("a", solver="nosuch")
    assert not loaded
    class _P:  # a minimal plan with a seconds field
        seconds = 1.0

    P = Problem("t", "test", load, {"a": lambda inst, **kw: (seen.update(kw), _P())[1], "b": m_plain})
    P.run("a")
    P2 = Problem("t", "test", load, {"a": m_tee, "b": m_plain})
    with pytest.raises(AttributeError):  # m_tee returns a str: run() reads .seconds only after the call
        P2.run("a", verbose=True, solver_options={"presolve": "off"})
    assert seen["tee"] is True and seen["solver_options"] == {"presolve": "off"}
    with pytest.raises(ValidationError, match="solver_options"):
        P2.run("b", solver_options={"x": 1})


def test_plan_with_a_non_finite_objective_is_never_optimal() -> None:
    from slopt.plan import Plan

    assert Plan("p", "exact", math.inf).status == "error"
    assert Plan("p", "exact", 2.0).status == "optimal"
    r = SolveResult("optimal", math.nan, math.nan, math.nan, 0.0, "highs")
    assert Plan("p", "milp", math.nan, solve=r).status == "error"
    assert Plan("p", "milp", 1.0, solve=SolveResult("feasible", 1.0, 0.5, 0.5)).to_dict()["termination"] == "time_limit"


def test_cvxpy_sparse_constants_are_certified() -> None:
    """A CVXPY problem whose constraint matrix is a scipy sparse constant certifies (not 'error')."""
    import cvxpy as cp
    import scipy.sparse as sp

    from slopt.solvers import solve

    A = sp.random(6, 4, density=0.5, random_state=0, format="csr") + sp.eye(6, 4)
    x = cp.Variable(4)
    prob = cp.Problem(cp.Minimize(cp.sum(x)), [A @ x >= 1, x >= 0, x <= 10])
    res = solve(prob, solver="clarabel")
    assert res.status == "optimal" and res.max_violation < 1e-6
