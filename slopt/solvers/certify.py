"""The certificate of a solve: the returned point is checked against the model itself.

After a backend has loaded the solver's point into the model, :func:`certify_pyomo`,
:func:`certify_cvxpy` and :func:`certify_cpsat` evaluate every active constraint, every variable
bound and every integrality requirement at that point, and recompute the objective from it.
:func:`finish` then derives the result: ``optimal`` only when the solver says so, the point
satisfies the model within the stated tolerance, the recomputed objective equals the one the
solver reported, and the solver's bound (if it gives one) lies on the right side of the objective
and within the gap limit. Every other case is downgraded, with the reason in the message.

Tolerances (scaled violations: a row ``lo <= body <= hi`` violated by ``v`` counts ``v / max(1,
|lo or hi|)``; a variable bound likewise; integrality ``|x - round(x)|``):

- :data:`FEAS_TOL` = 1e-5 for exact solvers (ten times the 1e-6 default feasibility tolerances of
  HiGHS, SCIP and CBC, so that a point at their tolerance passes after recomputation), 1e-4 for
  IPOPT (its ``constr_viol_tol`` default), 1e-3 for the first-order solvers SCS and OSQP
  (ten times their default 1e-4 accuracy);
- :data:`OBJ_TOL` = 1e-6 relative agreement of the recomputed and the reported objective
  (the feasibility tolerance for IPOPT, SCS and OSQP).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from slopt.solvers.result import SolveResult, relative_gap, summary_status

__all__ = ["Certificate", "certify_pyomo", "certify_cvxpy", "certify_cpsat", "finish",
           "FEAS_TOL", "OBJ_TOL", "feas_tol", "obj_tol"]

FEAS_TOL = 1e-5
OBJ_TOL = 1e-6
_LOOSE = {"ipopt": 1e-4, "scs": 1e-3, "osqp": 1e-3}


def feas_tol(solver: str) -> float:
    """The certificate's feasibility tolerance for a backend (scaled violation)."""
    return _LOOSE.get(solver, FEAS_TOL)


def obj_tol(solver: str) -> float:
    """The relative tolerance of recomputed vs reported objective for a backend."""
    return _LOOSE.get(solver, OBJ_TOL)


@dataclass
class Certificate:
    """The check of one point.

    Attributes
    ----------
    feasible : every constraint, bound and integrality requirement holds within ``tol`` and every
        variable has a value
    objective : the objective recomputed from the point (NaN when it cannot be evaluated)
    max_violation : the largest scaled violation
    worst : what that violation is (a constraint or variable name)
    tol : the tolerance used
    notes : further findings (unvalued variables, constraint types not checked)
    """

    feasible: bool
    objective: float
    max_violation: float
    worst: str = ""
    tol: float = FEAS_TOL
    notes: list[str] = field(default_factory=list)


def _scale(*xs: Any) -> float:
    s = 1.0
    for x in xs:
        if x is not None and math.isfinite(float(x)):
            s = max(s, abs(float(x)))
    return s


# --------------------------------------------------------------------------- Pyomo
def fill_unused_pyomo(m: Any, obj: Any) -> list[str]:
    """Give every variable without a value that appears in no active row and not in the objective
    the value in its bounds closest to 0 (any such value is optimal). Returns their names."""
    import pyomo.environ as pyo
    from pyomo.core.expr.visitor import identify_variables

    unset = [v for v in m.component_data_objects(pyo.Var, active=True) if v.value is None and not v.fixed]
    if not unset:
        return []
    used: set[int] = {id(v) for v in identify_variables(obj.expr, include_fixed=False)}
    for c in m.component_data_objects(pyo.Constraint, active=True):
        used.update(id(v) for v in identify_variables(c.body, include_fixed=False))
    filled = []
    for v in unset:
        if id(v) in used:
            continue
        lo, hi = v.lb, v.ub
        x = 0.0
        if lo is not None and x < lo:
            x = float(lo) if v.is_continuous() else float(math.ceil(lo - 1e-9))
        if hi is not None and x > hi:
            x = float(hi) if v.is_continuous() else float(math.floor(hi + 1e-9))
        v.set_value(x, skip_validation=True)
        filled.append(v.name)
    return filled


def certify_pyomo(m: Any, obj: Any, tol: float = FEAS_TOL, int_tol: float = FEAS_TOL) -> Certificate:
    """Check the point loaded in Pyomo model ``m``: rows, variable bounds, integrality, objective."""
    import pyomo.environ as pyo

    worst, what, notes = 0.0, "", []
    unvalued = []
    for v in m.component_data_objects(pyo.Var, active=True):
        x = v.value
        if x is None:
            unvalued.append(v.name)
            continue
        x = float(x)
        if not math.isfinite(x):
            worst, what = math.inf, f"variable {v.name} = {x}"
            continue
        lo, hi = v.lb, v.ub
        if lo is not None and (lo - x) / _scale(lo) > worst:
            worst, what = (lo - x) / _scale(lo), f"lower bound of {v.name}"
        if hi is not None and (x - hi) / _scale(hi) > worst:
            worst, what = (x - hi) / _scale(hi), f"upper bound of {v.name}"
        if not v.is_continuous() and abs(x - round(x)) > int_tol and abs(x - round(x)) > worst:
            worst, what = abs(x - round(x)), f"integrality of {v.name} (= {x!r})"
    if unvalued:
        notes.append(f"{len(unvalued)} variable(s) without a value (e.g. {unvalued[0]})")
        return Certificate(False, math.nan, math.inf, f"no value for {unvalued[0]}", tol, notes)
    for c in m.component_data_objects(pyo.Constraint, active=True):
        try:
            body = pyo.value(c.body)
        except (ValueError, ZeroDivisionError, OverflowError) as exc:
            return Certificate(False, math.nan, math.inf, f"constraint {c.name} ({exc})", tol, notes)
        lo, hi = c.lb, c.ub
        body = float(body)
        if not math.isfinite(body):
            worst, what = math.inf, f"constraint {c.name} (body = {body})"
            continue
        if lo is not None and (lo - body) / _scale(lo) > worst:
            worst, what = (lo - body) / _scale(lo), f"constraint {c.name} (lower side)"
        if hi is not None and (body - hi) / _scale(hi) > worst:
            worst, what = (body - hi) / _scale(hi), f"constraint {c.name} (upper side)"
    try:
        value = float(pyo.value(obj.expr))
    except (ValueError, ZeroDivisionError, OverflowError) as exc:
        notes.append(f"objective cannot be evaluated at the point ({exc})")
        value = math.nan
    return Certificate(worst <= tol, value, worst, what, tol, notes)


# --------------------------------------------------------------------------- CVXPY
def certify_cvxpy(prob: Any, tol: float = FEAS_TOL, int_tol: float = FEAS_TOL) -> Certificate:
    """Check the point held by a solved ``cvxpy.Problem``: ``violation()`` of every constraint
    (scaled by the largest constant in it), variable attributes (nonneg, boolean, integer,
    bounds), and the objective expression evaluated at the point."""
    import numpy as np

    worst, what, notes = 0.0, "", []
    for v in prob.variables():
        x = v.value
        if x is None:
            return Certificate(False, math.nan, math.inf, f"no value for {v.name()}", tol,
                               [f"variable {v.name()} has no value"])
        x = np.asarray(x, dtype=float)
        if not np.all(np.isfinite(x)):
            return Certificate(False, math.nan, math.inf, f"variable {v.name()} not finite", tol, notes)
        a = v.attributes
        checks = []
        if a.get("nonneg") or a.get("pos") or a.get("boolean"):
            checks.append((float(np.max(-x, initial=0.0)), "nonnegativity"))
        if a.get("nonpos") or a.get("neg"):
            checks.append((float(np.max(x, initial=0.0)), "nonpositivity"))
        if a.get("boolean"):
            checks.append((float(np.max(x - 1, initial=0.0)), "x <= 1 of a boolean"))
        if a.get("boolean") or a.get("integer"):
            checks.append((float(np.max(np.abs(x - np.round(x)), initial=0.0)), "integrality"))
        b = a.get("bounds")
        if b is not None:
            lo, hi = b
            if lo is not None:
                checks.append((float(np.max((np.asarray(lo) - x) / np.maximum(1, np.abs(lo)), initial=0.0)),
                               "lower bound"))
            if hi is not None:
                checks.append((float(np.max((x - np.asarray(hi)) / np.maximum(1, np.abs(hi)), initial=0.0)),
                               "upper bound"))
        for viol, kind in checks:
            lim = int_tol if kind == "integrality" else 0.0
            if viol > max(worst, lim):
                worst, what = viol, f"{kind} of {v.name()}"
    for i, c in enumerate(prob.constraints):
        try:
            viol = np.asarray(c.violation(), dtype=float)
        except Exception as exc:  # noqa: BLE001 - a constraint that cannot be evaluated fails the check
            return Certificate(False, math.nan, math.inf, f"constraint {i} ({exc})", tol, notes)
        viol = float(np.max(np.abs(viol))) if viol.size else 0.0
        scale = 1.0
        for k in c.constants():
            kv = k.value
            if hasattr(kv, "toarray") or hasattr(kv, "tocoo"):      # a scipy sparse constant
                kv = np.asarray(kv.tocoo().data if hasattr(kv, "tocoo") else kv.toarray(), dtype=float)
            else:
                kv = np.asarray(kv, dtype=float)
            if kv.size:
                scale = max(scale, float(np.max(np.abs(kv))))
        if not math.isfinite(viol):
            worst, what = math.inf, f"constraint {i} ({str(c)[:60]})"
        elif viol / scale > worst:
            worst, what = viol / scale, f"constraint {i} ({str(c)[:60]})"
    try:
        value = float(prob.objective.value)
    except Exception as exc:  # noqa: BLE001
        notes.append(f"objective cannot be evaluated at the point ({exc})")
        value = math.nan
    return Certificate(worst <= tol, value, worst, what, tol, notes)


# --------------------------------------------------------------------------- CP-SAT
def _in_domain(x: int, dom: Any) -> bool:
    d = list(dom)
    return any(d[i] <= x <= d[i + 1] for i in range(0, len(d), 2))


_CP_KINDS = ("linear", "bool_or", "bool_and", "at_most_one", "exactly_one", "bool_xor", "int_div", "int_mod",
             "int_prod", "lin_max", "all_diff", "element", "table", "automaton", "inverse", "reservoir",
             "interval", "no_overlap", "no_overlap_2d", "cumulative", "circuit", "routes", "dummy_constraint")


def _has(msg: Any, name: str) -> bool:
    """Field presence on a CP-SAT proto (protobuf ``HasField`` or the C++ wrapper's ``has_*``)."""
    f = getattr(msg, f"has_{name}", None)
    return bool(f()) if callable(f) else bool(msg.HasField(name))


def _kind(ct: Any) -> str:
    w = getattr(ct, "WhichOneof", None)
    if callable(w):
        return str(w("constraint"))
    return next((k for k in _CP_KINDS if _has(ct, k)), "unknown")


def certify_cpsat(model: Any, solver: Any) -> Certificate:
    """Check the CP-SAT response against the model's proto: variable domains, linear, bool_or,
    bool_and, at_most_one, exactly_one and bool_xor constraints (with enforcement literals);
    other constraint types are counted in the notes as not checked independently. The objective
    is recomputed from its coefficients, offset and scaling factor."""
    proto = model.proto
    sol = list(solver.response_proto.solution)
    notes: list[str] = []
    if len(sol) != len(proto.variables):
        return Certificate(False, math.nan, math.inf, "the response holds no solution", 0.0, notes)

    def lit(ref: int) -> bool:
        return bool(sol[ref]) if ref >= 0 else not bool(sol[-ref - 1])

    def val(ref: int) -> int:
        return sol[ref] if ref >= 0 else -sol[-ref - 1]

    bad = ""
    for i, v in enumerate(proto.variables):
        if not _in_domain(sol[i], v.domain):
            bad = f"domain of variable {v.name or i}"
            break
    unchecked: dict[str, int] = {}
    for j, ct in enumerate(proto.constraints):
        if bad:
            break
        kind = _kind(ct)
        if ct.enforcement_literal and not all(lit(r) for r in ct.enforcement_literal):
            continue
        if kind == "linear":
            s = sum(c * val(r) for r, c in zip(ct.linear.vars, ct.linear.coeffs))
            ok = _in_domain(s, ct.linear.domain)
        elif kind == "bool_or":
            ok = any(lit(r) for r in ct.bool_or.literals)
        elif kind == "bool_and":
            ok = all(lit(r) for r in ct.bool_and.literals)
        elif kind == "at_most_one":
            ok = sum(lit(r) for r in ct.at_most_one.literals) <= 1
        elif kind == "exactly_one":
            ok = sum(lit(r) for r in ct.exactly_one.literals) == 1
        elif kind == "bool_xor":
            ok = sum(lit(r) for r in ct.bool_xor.literals) % 2 == 1
        else:
            unchecked[kind] = unchecked.get(kind, 0) + 1
            continue
        if not ok:
            bad = f"constraint {ct.name or j} ({kind})"
    if unchecked:
        notes.append("not checked independently: " + ", ".join(f"{n} {k}" for k, n in unchecked.items()))
    if _has(proto, "floating_point_objective"):
        fo = proto.floating_point_objective
        value = sum(c * val(r) for r, c in zip(fo.vars, fo.coeffs)) + fo.offset
    elif _has(proto, "objective"):
        o = proto.objective
        sf = o.scaling_factor or 1.0
        value = sf * (sum(c * val(r) for r, c in zip(o.vars, o.coeffs)) + o.offset)
    else:
        value = 0.0
    return Certificate(not bad, float(value), 0.0 if not bad else 1.0, bad, 0.0, notes)


# --------------------------------------------------------------------------- verdict
def finish(*, termination: str, cert: Certificate | None, reported_objective: float, bound: float,
           minimize: bool, gap_limit: float, exact: bool, message: str, raw: Any,
           objective_tol: float = OBJ_TOL, abs_gap_tol: float = 1e-9,
           bound_is_proof: bool = True) -> SolveResult:
    """The :class:`SolveResult` of a solve, from the solver's termination, its reported objective
    and bound, and the certificate of its point (None when it returned no point).

    ``bound_is_proof``: at ``optimal`` without a reported bound, the objective is its own bound
    (the solver's proof at gap ``gap_limit`` = 0; IPOPT's local proof).
    """
    notes: list[str] = []
    rep = float(reported_objective) if reported_objective is not None else math.nan
    bnd = float(bound) if bound is not None else math.nan
    if not math.isfinite(bnd):
        bnd = math.nan
    base = dict(raw=raw, termination=termination, reported_objective=rep,
                feas_tol=cert.tol if cert is not None else math.nan, gap_limit=gap_limit)
    if termination in ("infeasible", "unbounded", "infeasible_or_unbounded"):
        msg = message if termination != "infeasible_or_unbounded" else f"infeasible or unbounded, undecided ({message})"
        return SolveResult(summary_status(termination, False, False), message=msg, has_primal=False, **base)
    feasible = cert is not None and cert.feasible
    value = math.nan
    if cert is not None:
        notes.extend(cert.notes)
        if not cert.feasible:
            notes.append(f"the returned point violates {cert.worst} by {cert.max_violation:.3g} "
                         f"(tolerance {cert.tol:g}): not a solution")
        elif not math.isfinite(cert.objective):
            notes.append(f"the objective at the returned point is {cert.objective}: not a solution")
            feasible = False
        else:
            value = cert.objective
    proven = termination in ("optimal", "locally_optimal") and feasible
    if feasible and math.isfinite(rep) and abs(value - rep) > objective_tol * max(1.0, abs(rep)):
        notes.append(f"the solver reported objective {rep!r}, its point gives {value!r}")
        proven = False
    if feasible and math.isfinite(bnd):
        wrong = (bnd - value) if minimize else (value - bnd)
        if wrong > objective_tol * max(1.0, abs(value)):
            notes.append(f"solver bound {bnd!r} on the wrong side of the objective {value!r}: dropped")
            bnd = math.nan
            proven = False
    if not exact:
        bnd = math.nan  # first-order solvers prove no bound
        if proven:
            notes.append("first-order solver: optimal within its tolerance, no proven bound")
    if proven and math.isfinite(bnd):
        # the solver's own gap (its objective and its bound): the recomputed objective may differ
        # from its objective within ``objective_tol`` (checked above)
        ref = rep if math.isfinite(rep) else value
        g = relative_gap(ref, bnd)
        if g > gap_limit + 1e-9 and abs(ref - bnd) > abs_gap_tol:
            notes.append(f"reported optimal but the gap to its bound is {g:.3g}, above the gap limit {gap_limit:g}")
            proven = False
    elif proven and exact and bound_is_proof:
        if gap_limit <= 0 or termination == "locally_optimal":
            bnd = rep if math.isfinite(rep) else value  # the solver's proof is about its own objective
        else:
            notes.append(f"optimal within the relative gap {gap_limit:g}; the solver reports no bound")
    status = summary_status(termination, feasible, proven)
    # proven: the gap of the proof (the solver's objective and bound; the recomputed objective
    # agrees within objective_tol, e.g. CBC prints its point to 8 decimals); else of the point
    g = relative_gap(rep if proven and math.isfinite(rep) else value, bnd)
    gap = 0.0 if g < 1e-12 else g
    msg = "; ".join([message] + notes) if notes else message
    return SolveResult(status, objective=value if feasible else math.nan, bound=bnd,
                       gap=gap if feasible else math.nan, message=msg, has_primal=feasible,
                       max_violation=cert.max_violation if cert is not None else math.nan, **base)
