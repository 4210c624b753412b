"""One :func:`solve` over open solvers (HiGHS, CBC, GLPK, SCIP, IPOPT, CVXPY's conic solvers, CP-SAT)."""

from slopt.errors import SolverNotAvailable
from slopt.solvers.backends import BACKENDS, available_solvers, default_solver, model_kind, solve
from slopt.solvers.result import STATUSES, SolveResult, relative_gap

__all__ = ["solve", "SolveResult", "SolverNotAvailable", "available_solvers", "BACKENDS",
           "STATUSES", "default_solver", "model_kind", "relative_gap"]
