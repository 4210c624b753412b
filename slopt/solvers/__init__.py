"""One certified :func:`solve` over open solvers (HiGHS, CBC, GLPK, SCIP, IPOPT, CVXPY's conic
solvers, CP-SAT); any other installed Pyomo / CVXPY solver is passed through by name."""

from slopt.errors import SolverNotAvailable
from slopt.solvers.backends import (BACKENDS, DEFAULT_GAP, available_solvers, cbc_builds, cbc_executable,
                                    default_solver, glpsol_executable, model_kind, resolve_solver, solve)
from slopt.solvers.certify import FEAS_TOL, OBJ_TOL, Certificate
from slopt.solvers.classes import problem_class
from slopt.solvers.result import STATUSES, TERMINATIONS, SolveResult, relative_gap, summary_status

__all__ = ["solve", "SolveResult", "SolverNotAvailable", "available_solvers", "BACKENDS",
           "STATUSES", "TERMINATIONS", "default_solver", "model_kind", "relative_gap", "resolve_solver",
           "summary_status", "problem_class", "cbc_builds", "cbc_executable", "glpsol_executable",
           "Certificate", "FEAS_TOL", "OBJ_TOL", "DEFAULT_GAP"]
