"""Random LP/MILP instances with an independent truth, for tests/test_certify.py.

An instance is a dict of arrays (``c, const, sense, A, lo, hi, lb, ub, integer, unused``) with
its truth: ``("optimal", value)`` from ``scipy.optimize.milp`` (cross-checked by brute force when
every variable is a small integer), or ``("infeasible",)`` / ``("unbounded",)`` by construction.
Builders turn it into a Pyomo model, a CVXPY problem and (all-integer data) a CP-SAT model.
"""

from __future__ import annotations

import itertools
import math
import os
from collections import Counter
from typing import Any

import numpy as np

INF = math.inf

#: verdict counts per backend, filled by :func:`check` (printed by ``python tests/test_certify.py``)
COUNTS: Counter = Counter()


def _inst(c, A, lo, hi, lb, ub, integer, sense=1, const=0.0, unused=0, truth=None, kind=""):
    return dict(c=np.asarray(c, float), A=np.asarray(A, float).reshape(len(lo), len(c)), lo=np.asarray(lo, float),
                hi=np.asarray(hi, float), lb=np.asarray(lb, float), ub=np.asarray(ub, float),
                integer=np.asarray(integer, bool), sense=sense, const=float(const), unused=unused, truth=truth,
                kind=kind)


def knapsack(rng: np.random.Generator) -> dict:
    n = int(rng.integers(3, 10))
    w = rng.integers(1, 30, n)
    v = rng.integers(1, 40, n)
    cap = int(rng.integers(1, w.sum()))
    return _inst(v, [w], [-INF], [cap], np.zeros(n), np.ones(n), np.ones(n), sense=-1, kind="knapsack")


def set_cover(rng: np.random.Generator) -> dict:
    n, m = int(rng.integers(3, 9)), int(rng.integers(2, 8))
    A = (rng.random((m, n)) < 0.4).astype(float)
    for i in range(m):
        if A[i].sum() == 0:
            A[i, rng.integers(n)] = 1
    cost = rng.integers(1, 20, n)
    return _inst(cost, A, np.ones(m), np.full(m, INF), np.zeros(n), np.ones(n), np.ones(n), kind="set_cover")


def assignment(rng: np.random.Generator) -> dict:
    k = int(rng.integers(2, 4))
    cost = rng.integers(0, 30, (k, k)).ravel()
    A = []
    for i in range(k):
        row = np.zeros((k, k))
        row[i, :] = 1
        A.append(row.ravel())
    for j in range(k):
        col = np.zeros((k, k))
        col[:, j] = 1
        A.append(col.ravel())
    n = k * k
    return _inst(cost, A, np.ones(2 * k), np.ones(2 * k), np.zeros(n), np.ones(n), np.ones(n), kind="assignment")


def facility(rng: np.random.Generator) -> dict:
    """Uncapacitated facility location: open y_j (binary), serve x_ij in [0, 1]."""
    F, C = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    fixed = rng.integers(5, 40, F)
    serve = rng.integers(1, 30, (C, F))
    n = F + C * F
    c = np.concatenate([fixed, serve.ravel()])
    rows, lo, hi = [], [], []
    for i in range(C):  # sum_j x_ij = 1
        r = np.zeros(n)
        r[F + i * F: F + (i + 1) * F] = 1
        rows.append(r), lo.append(1), hi.append(1)
    for i in range(C):  # x_ij <= y_j
        for j in range(F):
            r = np.zeros(n)
            r[F + i * F + j] = 1
            r[j] = -1
            rows.append(r), lo.append(-INF), hi.append(0)
    integer = np.r_[np.ones(F), np.zeros(C * F)]
    return _inst(c, rows, lo, hi, np.zeros(n), np.ones(n), integer, kind="facility")


def fix_rows(rng: np.random.Generator) -> dict:
    """Rows that only fix variables (CBC's preprocessing removes every row), a constant term, either sense."""
    n = int(rng.integers(1, 5))
    vals = rng.integers(0, 8, n)
    A = np.eye(n) * rng.integers(1, 4, n)[:, None]
    c = rng.integers(-5, 6, n)
    return _inst(c, A, A.diagonal() * vals, A.diagonal() * vals, np.zeros(n), np.full(n, 10.0), np.ones(n),
                 sense=int(rng.choice([-1, 1])), const=float(rng.integers(-9, 10)) + 0.5, kind="fix_rows")


def general(rng: np.random.Generator) -> dict:
    """A random LP or MILP, feasible by construction (rows around a known point), boxed."""
    n, m = int(rng.integers(2, 7)), int(rng.integers(1, 6))
    A = rng.integers(-6, 7, (m, n)).astype(float)
    x0 = rng.integers(0, 5, n).astype(float)
    act = A @ x0
    lo = np.where(rng.random(m) < 0.5, act - rng.integers(0, 6, m), -INF)
    hi = np.where(rng.random(m) < 0.7, act + rng.integers(0, 6, m), INF)
    integer = rng.random(n) < 0.5
    c = rng.integers(-9, 10, n)
    return _inst(c, A, lo, hi, np.zeros(n), np.full(n, 8.0), integer, sense=int(rng.choice([-1, 1])),
                 const=float(rng.integers(-5, 6)), unused=int(rng.integers(0, 2)), kind="general")


def infeasible(rng: np.random.Generator) -> dict:
    """A knapsack with a covering row it cannot meet, or an LP with contradictory rows."""
    if rng.random() < 0.5:
        d = knapsack(rng)
        n = len(d["c"])
        d = _inst(d["c"], np.vstack([d["A"], np.ones(n)]), np.r_[d["lo"], n + 1], np.r_[d["hi"], INF],
                  d["lb"], d["ub"], d["integer"], sense=-1, truth=("infeasible",), kind="infeasible")
        return d
    n = int(rng.integers(2, 5))
    a = rng.integers(1, 5, n).astype(float)
    s = float(rng.integers(1, 10))
    return _inst(rng.integers(-3, 4, n), [a, a], [s + 1, -INF], [INF, s], np.zeros(n), np.full(n, INF),
                 rng.random(n) < 0.5, sense=int(rng.choice([-1, 1])), truth=("infeasible",), kind="infeasible")


def unbounded(rng: np.random.Generator) -> dict:
    """A feasible boxed part plus a ray: y >= x_0 with y improving the objective without limit."""
    d = general(rng)
    n = len(d["c"])
    A = np.hstack([d["A"], np.zeros((len(d["lo"]), 1))])
    ray = np.zeros(n + 1)
    ray[0], ray[n] = 1, -1  # x_0 - y <= 0
    A = np.vstack([A, ray])
    c = np.r_[d["c"], -d["sense"] * int(rng.integers(1, 5))]  # min: -y ; max: +y
    integer = np.r_[d["integer"], rng.random() < 0.5]
    return _inst(c, A, np.r_[d["lo"], -INF], np.r_[d["hi"], 0], np.r_[d["lb"], -INF], np.r_[d["ub"], INF],
                 integer, sense=d["sense"], const=d["const"], truth=("unbounded",), kind="unbounded")


def _continuous(d: dict, kind: str) -> dict:
    d = dict(d)
    d["integer"] = np.zeros(len(d["c"]), bool)
    d["kind"] = kind
    return d


def lp(rng: np.random.Generator) -> dict:
    """The general class with every variable continuous (for the conic and first-order solvers too)."""
    return _continuous(general(rng), "lp")


def lp_infeasible(rng: np.random.Generator) -> dict:
    return _continuous(infeasible(rng), "lp_infeasible")


def lp_unbounded(rng: np.random.Generator) -> dict:
    return _continuous(unbounded(rng), "lp_unbounded")


CLASSES = {"lp": lp, "lp_infeasible": lp_infeasible, "lp_unbounded": lp_unbounded, "knapsack": knapsack, "set_cover": set_cover, "assignment": assignment, "facility": facility,
           "fix_rows": fix_rows, "general": general, "infeasible": infeasible, "unbounded": unbounded}


# --------------------------------------------------------------------------- truth
def brute_force(d: dict) -> tuple | None:
    """Enumerate an all-integer boxed instance with at most 20 000 points."""
    if not d["integer"].all() or not np.all(np.isfinite(d["ub"])) or not np.all(np.isfinite(d["lb"])):
        return None
    ranges = [range(int(a), int(b) + 1) for a, b in zip(d["lb"], d["ub"])]
    if math.prod(len(r) for r in ranges) > 20000:
        return None
    best = None
    for x in itertools.product(*ranges):
        act = d["A"] @ np.array(x, float)
        if np.all(act >= d["lo"] - 1e-9) and np.all(act <= d["hi"] + 1e-9):
            v = float(d["c"] @ np.array(x, float)) + d["const"]
            if best is None or d["sense"] * v < d["sense"] * best:
                best = v
    return ("infeasible",) if best is None else ("optimal", best)


def truth(d: dict) -> tuple:
    """The instance's truth: by construction, else scipy's milp, cross-checked by brute force."""
    if d["truth"] is not None:
        return d["truth"]
    from scipy.optimize import Bounds, LinearConstraint, milp

    r = milp(d["sense"] * d["c"], constraints=LinearConstraint(d["A"], d["lo"], d["hi"]),
             bounds=Bounds(d["lb"], d["ub"]), integrality=d["integer"].astype(int),
             options={"mip_rel_gap": 0.0})
    t = {0: ("optimal", (d["sense"] * r.fun + d["const"]) if r.status == 0 else None), 2: ("infeasible",),
         3: ("unbounded",)}.get(r.status, ("unknown",))
    bf = brute_force(d)
    if bf is not None:
        assert bf[0] == t[0] and (bf[0] != "optimal" or abs(bf[1] - t[1]) <= 1e-6 * max(1, abs(bf[1]))), (bf, t)
    d["truth"] = t
    return t


# --------------------------------------------------------------------------- builders
def pyomo_model(d: dict) -> Any:
    import pyomo.environ as pyo

    n = len(d["c"])
    m = pyo.ConcreteModel()

    def bnd(m, j):
        return (None if not math.isfinite(d["lb"][j]) else d["lb"][j], None if not math.isfinite(d["ub"][j]) else d["ub"][j])

    m.x = pyo.Var(range(n), bounds=bnd,
                  domain=lambda m, j: pyo.Integers if d["integer"][j] else pyo.Reals)
    m.rows = pyo.ConstraintList()
    for r in range(len(d["lo"])):
        nz = [j for j in range(n) if d["A"][r, j] != 0]
        if not nz:
            continue
        e = sum(float(d["A"][r, j]) * m.x[j] for j in nz)
        lo, hi = d["lo"][r], d["hi"][r]
        if not (math.isfinite(lo) or math.isfinite(hi)):
            continue
        if lo == hi:
            m.rows.add(e == float(lo))
        else:
            m.rows.add((None if not math.isfinite(lo) else float(lo), e, None if not math.isfinite(hi) else float(hi)))
    if d["unused"]:
        m.u = pyo.Var(range(d["unused"]), bounds=(1, 4))  # in no row and not in the objective
    m.obj = pyo.Objective(expr=sum(float(d["c"][j]) * m.x[j] for j in range(n)) + d["const"],
                          sense=pyo.minimize if d["sense"] == 1 else pyo.maximize)
    return m


def cvxpy_problem(d: dict) -> Any:
    import cvxpy as cp

    n = len(d["c"])
    ii = np.flatnonzero(d["integer"])
    ic = np.flatnonzero(~d["integer"])
    parts = []
    if len(ii):
        P = np.zeros((n, len(ii)))
        P[ii, np.arange(len(ii))] = 1
        parts.append(P @ cp.Variable(len(ii), integer=True))
    if len(ic):
        P = np.zeros((n, len(ic)))
        P[ic, np.arange(len(ic))] = 1
        parts.append(P @ cp.Variable(len(ic)))
    x = parts[0] if len(parts) == 1 else parts[0] + parts[1]
    cons = []
    fl, fu = np.isfinite(d["lb"]), np.isfinite(d["ub"])
    if fl.any():
        cons.append(x[np.flatnonzero(fl)] >= d["lb"][fl])
    if fu.any():
        cons.append(x[np.flatnonzero(fu)] <= d["ub"][fu])
    eq = d["lo"] == d["hi"]
    if eq.any():
        cons.append(d["A"][eq] @ x == d["lo"][eq])
    lo = np.isfinite(d["lo"]) & ~eq
    hi = np.isfinite(d["hi"]) & ~eq
    if lo.any():
        cons.append(d["A"][lo] @ x >= d["lo"][lo])
    if hi.any():
        cons.append(d["A"][hi] @ x <= d["hi"][hi])
    e = d["c"] @ x + d["const"]
    return cp.Problem(cp.Minimize(e) if d["sense"] == 1 else cp.Maximize(e), cons)


def cpsat_model(d: dict) -> Any | None:
    """CP-SAT model of an all-integer, boxed instance with integer data (None otherwise)."""
    from ortools.sat.python import cp_model

    if not (d["integer"].all() and np.all(np.isfinite(d["lb"])) and np.all(np.isfinite(d["ub"]))
            and np.all(d["A"] == np.round(d["A"])) and np.all(d["c"] == np.round(d["c"]))):
        return None
    m = cp_model.CpModel()
    x = [m.new_int_var(int(a), int(b), f"x{j}") for j, (a, b) in enumerate(zip(d["lb"], d["ub"]))]
    for r in range(len(d["lo"])):
        e = sum(int(d["A"][r, j]) * x[j] for j in range(len(x)) if d["A"][r, j] != 0)
        if isinstance(e, int):
            continue
        lo, hi = d["lo"][r], d["hi"][r]
        if not (math.isfinite(lo) or math.isfinite(hi)):
            continue
        m.add_linear_constraint(e, int(math.ceil(lo)) if math.isfinite(lo) else -(2 ** 40),
                                int(math.floor(hi)) if math.isfinite(hi) else 2 ** 40)
    obj = sum(int(d["c"][j]) * x[j] for j in range(len(x))) + d["const"]
    (m.minimize if d["sense"] == 1 else m.maximize)(obj)
    return m


# --------------------------------------------------------------------------- verdicts
def backends(available: set[str]) -> list[tuple[str, str, str | None]]:
    """(kind, solver, CBC build) for every backend present; CBC once per build."""
    from slopt.solvers import cbc_builds

    out: list[tuple[str, str, str | None]] = []
    for s in ("highs", "glpk", "scip"):
        if s in available:
            out.append(("pyomo", s, None))
    if "cbc" in available:
        builds = cbc_builds()
        for b, path in builds.items():
            out.append(("pyomo", "cbc", path if b == "path" else b))
    for s in ("highs", "scip", "clarabel", "scs", "osqp"):
        if s in available:
            out.append(("cvxpy", s, None))
    if "cp-sat" in available:
        out.append(("cpsat", "cp-sat", None))
    return out


def label(kind: str, solver: str, build: str | None) -> str:
    return f"{kind}:{solver}" + (f"[{os.path.basename(build) if build and '/' in build else build}]" if build else "")


def check(r: Any, t: tuple, who: str, exact: bool, integer: bool, sense: int) -> str:
    """Compare a result with the truth: returns a verdict word, raises AssertionError when wrong."""
    tol = 1e-6 if exact else 2e-3
    if t[0] == "optimal":
        v = t[1]
        scale = max(1.0, abs(v))
        assert r.status not in ("infeasible", "unbounded"), f"{who}: {r.status} but optimum {v} ({r.message})"
        if math.isfinite(r.bound):
            assert sense * (r.bound - v) <= tol * scale, f"{who}: bound {r.bound} beyond optimum {v} ({r.message})"
        if r.status == "optimal":
            allowed = max(r.gap_limit if math.isfinite(r.gap_limit) else 0.0, tol) * scale + 1e-9
            assert abs(r.objective - v) <= allowed, f"{who}: optimal at {r.objective}, optimum {v} ({r.message})"
            verdict = "optimal"
        elif r.status == "feasible":
            assert sense * (r.objective - v) >= -tol * scale, f"{who}: incumbent {r.objective} beats optimum {v}"
            verdict = "feasible"
        else:
            assert not exact, f"{who}: {r.status} on a small instance with optimum {v} ({r.message})"
            verdict = r.status
    else:
        want = t[0]
        if exact:
            assert r.status == want, f"{who}: {r.status} but the instance is {want} ({r.message})"
        else:
            assert r.status in (want, "no_solution", "error"), f"{who}: {r.status} but the instance is {want}"
        verdict = r.status
    COUNTS[(who, verdict)] += 1
    return verdict
