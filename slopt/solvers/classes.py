"""Problem classes of a formulation, and which backend classes can take each."""

from __future__ import annotations

from typing import Any

__all__ = ["problem_class", "COVERED_BY"]

#: problem class -> backend classes that can solve it (a MINLP solver also solves MILPs, an NLP
#: solver LPs, a conic solver LPs and QPs, ...)
COVERED_BY: dict[str, set[str]] = {
    "LP": {"LP", "MILP", "QP", "NLP", "MINLP", "SOCP", "MISOCP", "SDP", "EXP"},
    "MILP": {"MILP", "MINLP", "MISOCP"},
    "QP": {"QP", "NLP", "MINLP", "SOCP", "MISOCP"},
    "MIQP": {"MINLP", "MISOCP"},
    "NLP": {"NLP", "MINLP"},
    "MINLP": {"MINLP"},
    "SOCP": {"SOCP", "MISOCP"},
    "MISOCP": {"MISOCP"},
    "EXP": {"EXP"},
    "MIEXP": set(),
    "SDP": {"SDP"},
    "IP": {"IP"},
}


def problem_class(model: Any) -> str:
    """Classify a formulation: LP, MILP, QP (quadratic objective, linear rows), MIQP, NLP, MINLP
    (Pyomo; quadratic rows count as NLP); LP, MILP, QP, MIQP, SOCP, MISOCP, EXP (exponential
    cone), MIEXP (CVXPY); IP (CP-SAT)."""
    from slopt.solvers.backends import model_kind

    kind = model_kind(model)
    if kind == "cpsat":
        return "IP"
    if kind == "cvxpy":
        mi = model.is_mixed_integer()
        exp_atoms = {"rel_entr", "entr", "exp", "log", "kl_div", "log_sum_exp", "logistic", "xexp",
                     "log1p", "geo_mean_exp"}
        if any(a.__name__ in exp_atoms for a in model.atoms()):
            return "MIEXP" if mi else "EXP"
        if model.is_dcp() and all(c.expr.is_affine() for c in model.constraints) and model.objective.expr.is_affine():
            return "MILP" if mi else "LP"
        if model.is_qp():
            return "MIQP" if mi else "QP"
        return "MISOCP" if mi else "SOCP"
    import pyomo.environ as pyo

    integer = any(not v.is_continuous() for v in model.component_data_objects(pyo.Var, active=True))
    rows = 0
    for c in model.component_data_objects(pyo.Constraint, active=True):
        d = c.body.polynomial_degree()
        rows = 99 if d is None else max(rows, d)
        if rows > 2:
            break
    obj = 0
    for o in model.component_data_objects(pyo.Objective, active=True):
        d = o.expr.polynomial_degree()
        obj = 99 if d is None else max(obj, d)
    if rows <= 1 and obj <= 1:
        return "MILP" if integer else "LP"
    if rows <= 1 and obj == 2:
        return "MIQP" if integer else "QP"
    return "MINLP" if integer else "NLP"
