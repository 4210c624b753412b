"""Property suite: every backend present against an independent truth.

Random LP/MILP instances (knapsack, set cover, assignment, facility location, rows that only fix
variables, general boxed LP/MILP with constant terms, either sense and variables in no row,
infeasible and unbounded ones by construction) go through every backend present (HiGHS, CBC per
build, GLPK, SCIP through Pyomo; HiGHS, SCIP, Clarabel, SCS, OSQP through CVXPY; CP-SAT for the
all-integer ones). The truth is ``scipy.optimize.milp`` (cross-checked by brute force where every
variable is a small integer) or the construction. Zero wrong statuses, zero wrong objectives,
zero bounds on the wrong side of the optimum. Small NLP/MINLPs go to SCIP against closed forms and
brute force; time-limited market-split MILPs check that every bound lies on the right side of
every backend's incumbent. Fast by default; ``SLOPT_FULL=1`` runs more examples.

``python tests/test_certify.py [N]`` runs N instances per class and prints the verdict counts per
backend.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
import warnings

import numpy as np
import pyomo.environ as pyo
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))
from conftest import AVAILABLE, FULL, installed, requires  # noqa: E402
from test_certify_cases import (CLASSES, COUNTS, backends, check, cpsat_model, cvxpy_problem,  # noqa: E402
                                label, pyomo_model, truth)

from slopt.errors import ValidationError  # noqa: E402
from slopt.solvers import BACKENDS, solve  # noqa: E402

EXAMPLES = 60 if FULL else 8
_APPROX = {"scs", "osqp"}
_CONTINUOUS_ONLY = {"clarabel", "scs", "osqp"}


def _restore(before: str | None) -> None:
    if before is None:
        os.environ.pop("SLOPT_CBC", None)
    else:
        os.environ["SLOPT_CBC"] = before


def run_instance(d: dict, mip_gap: float | None = 0.0) -> None:
    t = truth(d)
    if t[0] == "unknown":
        return
    integer = bool(d["integer"].any())
    for kind, solver, build in backends(AVAILABLE):
        who = label(kind, solver, build)
        before = os.environ.get("SLOPT_CBC")
        if build is not None:
            os.environ["SLOPT_CBC"] = build
        try:
            if kind == "pyomo":
                model = pyomo_model(d)
            elif kind == "cvxpy":
                model = cvxpy_problem(d)
                if integer and solver in _CONTINUOUS_ONLY:
                    with pytest.raises(ValidationError, match="solvers that can"):
                        solve(model, solver=solver)
                    continue
            else:
                model = cpsat_model(d)
                if model is None:
                    continue
            opts = {"max_iters": 200000, "eps_abs": 1e-8, "eps_rel": 1e-8} if solver == "scs" else None
            if solver == "osqp":
                opts = {"max_iter": 200000, "eps_abs": 1e-7, "eps_rel": 1e-7, "polishing": True}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = solve(model, solver=solver, mip_gap=None if kind == "cpsat" else mip_gap, solver_options=opts)
        finally:
            _restore(before)
        check(r, t, f"{who} {d['kind']}", solver not in _APPROX, integer, d["sense"])
        COUNTS[(who, "all")] += 1
        if r.status == "optimal" and kind == "pyomo":
            # the model holds the certified point: every row within tolerance
            for c in model.component_data_objects(pyo.Constraint, active=True):
                body = pyo.value(c.body)
                assert c.lb is None or body >= c.lb - 1e-5 * max(1, abs(c.lb))
                assert c.ub is None or body <= c.ub + 1e-5 * max(1, abs(c.ub))


@pytest.mark.parametrize("cls", sorted(CLASSES))
def test_every_backend_against_the_truth(cls: str) -> None:
    @settings(derandomize=True, database=None, max_examples=EXAMPLES, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.integers(0, 2 ** 32 - 1))
    def prop(seed: int) -> None:
        run_instance(CLASSES[cls](np.random.default_rng(seed)))

    prop()


@pytest.mark.parametrize("cls", ["general", "knapsack", "facility"])
def test_default_gap_is_honest(cls: str) -> None:
    """Without mip_gap each solver runs at its default gap; ``optimal`` then means within it."""
    for seed in range(EXAMPLES // 2):
        run_instance(CLASSES[cls](np.random.default_rng(10_000 + seed)), mip_gap=None)


# --------------------------------------------------------------------------- NLP / MINLP
def _minlp(a: np.ndarray, B: int, lo: int, hi: int) -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    n = len(a)
    m.x = pyo.Var(range(n), domain=pyo.Integers, bounds=(lo, hi))
    m.c = pyo.Constraint(expr=sum(m.x[i] for i in range(n)) <= B)
    m.obj = pyo.Objective(expr=sum((m.x[i] - float(a[i])) ** 2 + 0.1 * m.x[i] ** 3 / (1 + hi ** 2)
                                   for i in range(n)) + 1.5)
    return m


@requires("scip")
@settings(derandomize=True, database=None, max_examples=EXAMPLES, deadline=None)
@given(st.integers(0, 2 ** 32 - 1))
def test_minlp_scip_against_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, lo, hi = int(rng.integers(1, 4)), int(rng.integers(-3, 1)), int(rng.integers(1, 6))
    a = rng.uniform(lo - 1, hi + 1, n)
    B = int(rng.integers(n * lo, n * hi + 1))
    best = min((sum((x - ai) ** 2 + 0.1 * x ** 3 / (1 + hi ** 2) for x, ai in zip(xs, a)) + 1.5
                for xs in itertools.product(range(lo, hi + 1), repeat=n) if sum(xs) <= B), default=None)
    m = _minlp(a, B, lo, hi)
    r = solve(m, solver="scip", mip_gap=0.0)
    assert best is not None
    assert r.status == "optimal", r
    assert r.objective == pytest.approx(best, rel=1e-6, abs=1e-6)
    assert r.bound <= best + 1e-6 * max(1, abs(best))
    COUNTS[("pyomo:scip MINLP", "optimal")] += 1


@settings(derandomize=True, database=None, max_examples=EXAMPLES, deadline=None)
@given(st.integers(0, 2 ** 32 - 1))
def test_nlp_against_closed_form(seed: int) -> None:
    """min sum c_i / x_i s.t. sum x_i <= B, x > 0: x_i = B sqrt(c_i) / sum sqrt(c), value (sum sqrt c)^2 / B."""
    import cvxpy as cp

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5))
    c = rng.uniform(0.1, 10, n)
    B = float(rng.uniform(0.5, 20))
    want = float(np.sqrt(c).sum() ** 2 / B)
    if "scip" in AVAILABLE:
        m = pyo.ConcreteModel()
        m.x = pyo.Var(range(n), bounds=(1e-6, B), initialize=B / n)
        m.cap = pyo.Constraint(expr=sum(m.x[i] for i in range(n)) <= B)
        m.obj = pyo.Objective(expr=sum(float(c[i]) / m.x[i] for i in range(n)))
        r = solve(m, solver="scip")
        assert r.status == "optimal" and r.objective == pytest.approx(want, rel=1e-5), r
        assert r.bound <= want * (1 + 1e-6)
        COUNTS[("pyomo:scip NLP", "optimal")] += 1
    for s in installed("clarabel", "scs", "scip"):
        x = cp.Variable(n)
        prob = cp.Problem(cp.Minimize(c @ cp.inv_pos(x)), [cp.sum(x) <= B])
        opts = {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 200000} if s == "scs" else None
        r = solve(prob, solver=s, solver_options=opts)
        assert r.status in ("optimal", "feasible") or s == "scs", r
        if r.ok:
            assert r.objective >= want * (1 - 2e-3), r  # a certified point cannot beat the optimum
        if r.status == "optimal":
            assert r.objective == pytest.approx(want, rel=2e-3 if s == "scs" else 1e-5), r
        if math.isfinite(r.bound):
            assert r.bound <= want * (1 + 1e-6), r
        if s == "scs":
            assert math.isnan(r.bound)
        COUNTS[(f"cvxpy:{s} NLP", r.status)] += 1


@pytest.mark.parametrize("solver", installed("highs", "cbc", "glpk"))
def test_minlp_to_a_milp_solver_names_those_that_can(solver: str) -> None:
    m = _minlp(np.array([1.5, 0.5]), 3, 0, 3)
    with pytest.raises(ValidationError, match="scip"):
        solve(m, solver=solver)


# --------------------------------------------------------------------------- time limits
def market_split(k: int, n: int, seed: int, maximise: bool) -> pyo.ConcreteModel:
    """Cornuejols-Dawande market split with slacks (feasible at once, hard to prove)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 100, (k, n))
    b = a.sum(1) // 2
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(n), domain=pyo.Binary)
    m.sp = pyo.Var(range(k), bounds=(0, None))
    m.sm = pyo.Var(range(k), bounds=(0, None))
    m.c = pyo.Constraint(range(k), rule=lambda m, i: sum(int(a[i, j]) * m.x[j] for j in range(n))
                         + m.sp[i] - m.sm[i] == int(b[i]))
    slack = sum(m.sp[i] + m.sm[i] for i in range(k))
    m.obj = (pyo.Objective(expr=1000 - slack, sense=pyo.maximize) if maximise
             else pyo.Objective(expr=slack + 1))
    return m


@pytest.mark.parametrize("maximise", [False, True], ids=["min", "max"])
@pytest.mark.parametrize("seed", range(3 if FULL else 1))
def test_time_limited_market_split(seed: int, maximise: bool) -> None:
    """Every bound lies on the right side of every backend's certified incumbent; a stopped
    solve never reports its incumbent as its bound."""
    results = {}
    for kind, solver, build in backends(AVAILABLE):
        if kind != "pyomo":
            continue
        before = os.environ.get("SLOPT_CBC")
        if build is not None:
            os.environ["SLOPT_CBC"] = build
        try:
            m = market_split(4, 32, seed, maximise)
            r = solve(m, solver=solver, time_limit=0.5)
        finally:
            _restore(before)
        who = label(kind, solver, build)
        assert r.status in ("optimal", "feasible", "no_solution"), (who, r)
        if r.ok:
            assert r.objective == pytest.approx(pyo.value(m.obj), rel=1e-9)  # the certified point
        if r.status == "feasible" and math.isfinite(r.bound):
            assert r.bound != r.objective and r.gap > 0, (who, r)
        results[who] = r
        COUNTS[(f"{who} market_split", r.status)] += 1
    incumbents = [r.objective for r in results.values() if r.ok]
    if not incumbents:
        return
    best = max(incumbents) if maximise else min(incumbents)
    for who, r in results.items():
        if math.isfinite(r.bound):
            assert (r.bound >= best - 1e-6) if maximise else (r.bound <= best + 1e-6), (who, r.bound, best)


@pytest.mark.parametrize("build", sorted(__import__("slopt.solvers", fromlist=["cbc_builds"]).cbc_builds()))
def test_slopt_cbc_selects_the_build(build: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from slopt.solvers import cbc_builds, cbc_executable

    path = cbc_builds()[build]
    monkeypatch.setenv("SLOPT_CBC", path if build == "path" else build)
    assert cbc_executable() == path
    r = solve(market_split(2, 6, 0, False), solver="cbc")
    assert r.status == "optimal" and path in r.raw.command[0]


def test_unknown_options_are_named() -> None:
    if "scip" in AVAILABLE:
        with pytest.raises(ValidationError, match="limits/tme"):
            solve(market_split(2, 6, 0, False), solver="scip", solver_options={"limits/tme": 1})
    if "cp-sat" in AVAILABLE:
        from ortools.sat.python import cp_model

        mdl = cp_model.CpModel()
        x = mdl.new_int_var(0, 3, "x")
        mdl.maximize(x)
        with pytest.raises(ValidationError, match="max_time_in_secs"):
            solve(mdl, solver="cp-sat", solver_options={"max_time_in_secs": 1})
    if "highs" in AVAILABLE:
        with pytest.warns(UserWarning, match="no_such_highs_option"):
            solve(market_split(2, 6, 0, False), solver="highs", solver_options={"no_such_highs_option": 1})
    if "cbc" in AVAILABLE:
        from slopt.solvers import cbc_builds

        for build, path in cbc_builds().items():  # Debian's build ignores it (a warning), cbcbox's stops
            before = os.environ.get("SLOPT_CBC")
            os.environ["SLOPT_CBC"] = path if build == "path" else build
            try:
                with warnings.catch_warnings(record=True) as w:
                    warnings.simplefilter("always")
                    try:
                        solve(market_split(2, 6, 0, False), solver="cbc", solver_options={"noSuchCbcOption": 1})
                    except ValidationError as e:
                        assert "noSuchCbcOption" in str(e)
                    else:
                        assert any("noSuchCbcOption" in str(x.message) for x in w), build
            finally:
                _restore(before)


def test_tee_and_solver_options_names() -> None:
    r = solve(market_split(2, 6, 0, False), solver="highs", solver_options={"presolve": "off"}, tee=False)
    assert r.status == "optimal"
    with pytest.raises(ValidationError, match="solver_options"):
        solve(market_split(2, 6, 0, False), options={}, solver_options={})


def test_non_finite_objective_is_never_optimal() -> None:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(1, 2))
    m.obj = pyo.Objective(expr=1e308 * m.x * 10)
    r = solve(m, solver="highs")
    assert r.status != "optimal", r


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    for cls, gen in CLASSES.items():
        for seed in range(n):
            run_instance(gen(np.random.default_rng(seed)))
    rows: dict[str, dict[str, int]] = {}
    for (who, verdict), k in COUNTS.items():
        name = who.split(" ")[0]
        rows.setdefault(name, {})
        rows[name][verdict] = rows[name].get(verdict, 0) + k
    for name in sorted(rows):
        print(f"{name:28s}", ", ".join(f"{v}={k}" for v, k in sorted(rows[name].items())))
    print(sorted(BACKENDS))
