"""Solver backends: one :func:`solve` over Pyomo models, CVXPY problems and CP-SAT models.

Each backend maps the common ``time_limit`` (seconds) and ``mip_gap`` (relative) to the solver's
own option names, and turns the solver's termination into a :class:`SolveResult`. A time limit
never raises: the incumbent comes back with status ``feasible`` and its bound and gap.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import math
import shutil
import time
from dataclasses import dataclass
from typing import Any, Callable

from slopt.errors import SolverNotAvailable, ValidationError
from slopt.solvers.result import SolveResult, relative_gap

__all__ = ["solve", "available_solvers", "BACKENDS", "Backend", "default_solver", "model_kind"]


@dataclass(frozen=True)
class Backend:
    """A registered solver backend.

    Attributes
    ----------
    name : the name users pass (``"highs"``, ``"scip"``, ...)
    kinds : model kinds it accepts: ``"pyomo"``, ``"cvxpy"``, ``"cpsat"``
    classes : problem classes it solves: LP, MILP, QP, NLP (local), MINLP (global), SOCP, MISOCP
    install : the command that installs it
    """

    name: str
    kinds: tuple[str, ...]
    classes: tuple[str, ...]
    install: str
    probe: Callable[[], str | None]  # returns a version string, or None when not usable
    exact: bool = True  # False for first-order methods (SCS, OSQP): their optimum is approximate


def _dist_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _importable(module: str, dist: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        try:
            importlib.import_module(module)
        except Exception:
            return None
        return _dist_version(dist) or "installed"
    return probe


def cbc_executable() -> str | None:
    """Path of a CBC binary: Debian's ``/usr/bin/cbc`` first, else ``cbc`` on PATH, else cbcbox's.

    Debian's build comes first: cbcbox's build (which also puts a ``cbc`` on a virtual
    environment's PATH) returned a wrong "optimal" answer on a 1-variable MILP here.
    """
    for path in ("/usr/bin/cbc", shutil.which("cbc")):
        if path and shutil.os.path.exists(path):
            return path
    try:
        import cbcbox

        p = cbcbox.cbc_bin_path()
        return p if p and shutil.os.path.exists(p) else None
    except Exception:
        return None


def _probe_exe(find: Callable[[], str | None], label: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        return f"{label} ({find()})" if find() else None
    return probe


def _probe_ipopt() -> str | None:
    if shutil.which("ipopt"):
        return "ipopt executable"
    try:
        import cyipopt  # noqa: F401

        return _dist_version("cyipopt") or "cyipopt"
    except Exception:
        return None


def _cvxpy_has(name: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        try:
            import cvxpy as cp
        except Exception:
            return None
        return f"cvxpy {cp.__version__}" if name in cp.installed_solvers() else None
    return probe


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in [
        Backend("highs", ("pyomo", "cvxpy"), ("LP", "MILP", "QP"), "pip install highspy",
                _importable("highspy", "highspy")),
        Backend("cbc", ("pyomo",), ("LP", "MILP"),
                "apt-get install coinor-cbc   (or: pip install cbcbox)",
                _probe_exe(cbc_executable, "cbc")),
        Backend("glpk", ("pyomo",), ("LP", "MILP"), "apt-get install glpk-utils",
                _probe_exe(lambda: shutil.which("glpsol"), "glpsol")),
        Backend("scip", ("pyomo", "cvxpy"), ("LP", "MILP", "QP", "NLP", "MINLP", "SOCP", "MISOCP"),
                "pip install pyscipopt", _importable("pyscipopt", "pyscipopt")),
        Backend("ipopt", ("pyomo",), ("NLP",),
                "pip install cyipopt  (needs: apt-get install coinor-libipopt-dev pkg-config)",
                _probe_ipopt),
        Backend("clarabel", ("cvxpy",), ("LP", "QP", "SOCP", "SDP", "EXP"), "pip install clarabel",
                _cvxpy_has("CLARABEL")),
        Backend("scs", ("cvxpy",), ("LP", "QP", "SOCP", "SDP", "EXP"), "pip install scs",
                _cvxpy_has("SCS"), exact=False),
        Backend("osqp", ("cvxpy",), ("LP", "QP"), "pip install osqp", _cvxpy_has("OSQP"), exact=False),
        Backend("cp-sat", ("cpsat",), ("IP",), "pip install ortools", _importable("ortools", "ortools")),
    ]
}

_ALIASES = {"appsi_highs": "highs", "scip_direct": "scip", "cpsat": "cp-sat", "ortools": "cp-sat",
            "coin-cbc": "cbc", "glpsol": "glpk"}


def default_solver(kind: str, problem_class: str = "MILP") -> str:
    """The default backend for a model kind: HiGHS for LP/MILP, SCIP for MINLP, Clarabel for conic."""
    if kind == "cpsat":
        return "cp-sat"
    if problem_class in ("MINLP", "NLP", "MISOCP"):
        return "scip"
    if kind == "cvxpy" and problem_class in ("SOCP", "EXP", "SDP"):
        return "clarabel"
    return "highs"


def model_kind(model: Any) -> str:
    """``"pyomo"``, ``"cvxpy"`` or ``"cpsat"`` for a supported model; raises otherwise."""
    mod = type(model).__module__
    if mod.startswith("pyomo"):
        return "pyomo"
    if mod.startswith("cvxpy"):
        return "cvxpy"
    if mod.startswith("ortools"):
        return "cpsat"
    raise ValidationError(f"model: cannot solve an object of type {type(model).__name__}; pass a Pyomo "
                          "ConcreteModel, a cvxpy.Problem or an OR-Tools CpModel", "model")


def available_solvers(kind: str | None = None) -> list[dict[str, Any]]:
    """Every registered backend with ``available``, ``version``, ``kinds``, ``classes``, ``install``."""
    rows = []
    for b in BACKENDS.values():
        if kind is not None and kind not in b.kinds:
            continue
        version = b.probe()
        rows.append({"solver": b.name, "available": version is not None, "version": version or "",
                     "kinds": ",".join(b.kinds), "classes": ",".join(b.classes),
                     "exact": b.exact, "install": b.install})
    return rows


def _backend(solver: str, kind: str) -> Backend:
    name = _ALIASES.get(solver.lower(), solver.lower())
    if name not in BACKENDS:
        raise SolverNotAvailable(f"unknown solver {solver!r}; known: {', '.join(BACKENDS)}")
    b = BACKENDS[name]
    if kind not in b.kinds:
        usable = [x.name for x in BACKENDS.values() if kind in x.kinds]
        raise ValidationError(f"solver {name!r} does not take {kind} models; use one of {usable}", "solver")
    if b.probe() is None:
        raise SolverNotAvailable(f"solver {name!r} is not installed here; install it with: {b.install}")
    return b


def solve(
    model: Any,
    solver: str | None = None,
    time_limit: float | None = None,
    mip_gap: float | None = None,
    options: dict[str, Any] | None = None,
    tee: bool = False,
) -> SolveResult:
    """Solve a Pyomo ``ConcreteModel``, a ``cvxpy.Problem`` or an OR-Tools ``CpModel``.

    Parameters
    ----------
    model : the formulation; on success its variables hold the solution (for CP-SAT, read them
        from ``result.raw``, the ``CpSolver``).
    solver : backend name (see :func:`available_solvers`); default HiGHS (CP-SAT for CpModel).
    time_limit : wall-clock limit in seconds. Hitting it returns the incumbent (status
        ``feasible``) with its bound and gap, or ``no_solution``; it never raises.
    mip_gap : relative optimality gap at which a MIP solver may stop.
    options : solver-specific options passed through unchanged (the solver's own names).
    tee : stream the solver log.

    Raises
    ------
    SolverNotAvailable
        The solver is not installed (the message names the install command) or unknown.
    """
    kind = model_kind(model)
    b = _backend(solver or default_solver(kind), kind)
    if time_limit is not None and not (time_limit > 0):
        raise ValidationError(f"time_limit = {time_limit!r} s; it must be positive", "time_limit")
    if mip_gap is not None and not (0 <= mip_gap < 1):
        raise ValidationError(f"mip_gap = {mip_gap!r}; it must be in [0, 1)", "mip_gap")
    options = dict(options or {})
    t0 = time.perf_counter()
    try:
        if kind == "pyomo":
            res = _solve_pyomo(model, b.name, time_limit, mip_gap, options, tee)
        elif kind == "cvxpy":
            res = _solve_cvxpy(model, b.name, time_limit, mip_gap, options, tee)
        else:
            res = _solve_cpsat(model, time_limit, mip_gap, options, tee)
    except (SolverNotAvailable, ValidationError):
        raise
    except Exception as exc:  # a solver crash is reported, not raised
        res = SolveResult("error", message=f"{type(exc).__name__}: {exc}")
    res.seconds = time.perf_counter() - t0
    res.solver = b.name
    return res


# --------------------------------------------------------------------------- Pyomo
_PYOMO_NAMES = {"highs": "appsi_highs", "cbc": "cbc", "glpk": "glpk", "scip": "scip_direct", "ipopt": "ipopt"}


def _pyomo_options(name: str, time_limit: float | None, mip_gap: float | None) -> dict[str, Any]:
    """Map time limit (s) and relative gap to each solver's own option names."""
    o: dict[str, Any] = {}
    if name == "highs":
        o["log_to_console"] = False  # the banner would spoil --json output; ``tee`` turns it back on
        if mip_gap is not None:
            o["mip_rel_gap"] = float(mip_gap)
    elif name == "cbc":
        if time_limit is not None:
            o["sec"] = float(time_limit)
        if mip_gap is not None:
            o["ratioGap"] = float(mip_gap)
    elif name == "glpk":
        if time_limit is not None:
            o["tmlim"] = max(1, math.ceil(time_limit))  # glpsol takes whole seconds
        if mip_gap is not None:
            o["mipgap"] = float(mip_gap)
    elif name == "scip":
        if time_limit is not None:
            o["limits/time"] = float(time_limit)
        if mip_gap is not None:
            o["limits/gap"] = float(mip_gap)
    elif name == "ipopt":
        if time_limit is not None:
            o["max_cpu_time"] = float(time_limit)
    return o


def _solve_pyomo(m: Any, name: str, time_limit: float | None, mip_gap: float | None,
                 options: dict[str, Any], tee: bool) -> SolveResult:
    import pyomo.environ as pyo
    from pyomo.opt import SolverStatus, TerminationCondition as TC

    objs = list(m.component_data_objects(pyo.Objective, active=True))
    if len(objs) != 1:
        raise ValidationError(f"model has {len(objs)} active objectives; exactly one is needed", "objective")
    obj = objs[0]
    minimize = obj.sense == pyo.minimize
    if name == "ipopt" and not shutil.which("ipopt"):
        opt = pyo.SolverFactory("cyipopt")
    elif name == "cbc":
        opt = pyo.SolverFactory("cbc", executable=cbc_executable())
    else:
        opt = pyo.SolverFactory(_PYOMO_NAMES[name])
    opts = {**_pyomo_options(name, time_limit, mip_gap), **{k: v for k, v in options.items() if k != "_retry"}}
    if tee:
        opts.pop("log_to_console", None)
    kwargs: dict[str, Any] = {"load_solutions": False, "tee": tee}
    if name == "highs":
        # appsi's legacy wrapper overwrites config.time_limit with its ``timelimit`` argument
        kwargs["timelimit"] = None if time_limit is None else float(time_limit)
        kwargs["options"] = opts
    else:
        for k, v in opts.items():
            opt.options[k] = v
    results = opt.solve(m, **kwargs)
    tc = results.solver.termination_condition
    if tc == TC.infeasibleOrUnbounded and name == "highs":
        # HiGHS's presolve cannot tell the two apart: ask once more without presolve
        kwargs["options"] = {**opts, "presolve": "off"}
        results = opt.solve(m, **kwargs)
        tc = results.solver.termination_condition
    msg = str(getattr(results.solver, "termination_message", None) or tc)
    has_solution = len(getattr(results, "solution", [])) > 0
    if tc == TC.infeasible:
        return SolveResult("infeasible", message=msg, raw=results)
    if tc == TC.unbounded:
        return SolveResult("unbounded", message=msg, raw=results)
    if tc == TC.infeasibleOrUnbounded:
        return SolveResult("error", message=f"infeasible or unbounded, undecided ({msg})", raw=results)
    if tc == TC.intermediateNonInteger:
        # CBC stopped with a fractional LP point: not a solution of the MIP
        return SolveResult("no_solution", message=f"stopped without an integer solution ({msg})", raw=results)
    if tc in (TC.optimal, TC.globallyOptimal, TC.locallyOptimal):
        status = "optimal"
    elif has_solution and (tc in (TC.maxTimeLimit, TC.maxIterations, TC.maxEvaluations, TC.userInterrupt,
                                  TC.feasible, TC.other)
                           or results.solver.status in (SolverStatus.ok, SolverStatus.warning,
                                                         SolverStatus.aborted)):
        status = "feasible"
    elif tc in (TC.maxTimeLimit, TC.maxIterations, TC.maxEvaluations, TC.userInterrupt):
        return SolveResult("no_solution", message=msg, raw=results)
    else:
        return SolveResult("error", message=msg, raw=results)
    if not has_solution:
        return SolveResult("no_solution", message=msg, raw=results)
    m.solutions.load_from(results)
    if name == "cbc" and status == "optimal" and not options.get("_retry"):
        v0 = pyo.value(obj, exception=False)
        lb, ub = results.problem.lower_bound, results.problem.upper_bound
        b0 = lb if minimize else ub
        if (v0 is not None and b0 is not None and math.isfinite(float(b0))
                and relative_gap(float(v0), float(b0)) > max(1e-6, 2 * (mip_gap or 0.0))):
            # "optimal" with a solution far from CBC's own bound (seen with cbcbox's build on a
            # 1-variable MILP): solve once more without presolve
            return _solve_pyomo(m, name, time_limit, mip_gap, {**options, "presolve": "off", "_retry": True}, tee)
    v = pyo.value(obj, exception=False)
    if v is None:  # CBC/GLPK leave variables that appear in no row unset: any value in bounds is optimal
        for var in m.component_data_objects(pyo.Var, active=True):
            if var.value is None:
                lo, hi = var.lb, var.ub
                var.set_value(0.0 if (lo is None or lo <= 0) and (hi is None or hi >= 0)
                              else (lo if lo is not None else hi), skip_validation=True)
        v = pyo.value(obj)
    value = float(v)
    lb, ub = results.problem.lower_bound, results.problem.upper_bound
    raw_bound = lb if minimize else ub
    if name == "cbc" and not minimize and status != "optimal" and raw_bound is not None:
        raw_bound = -float(lb) if lb is not None and math.isfinite(float(lb)) else raw_bound  # Pyomo's CBC
        # reader negates the objective of a maximisation but not CBC's "best possible"
    bound = float(raw_bound) if raw_bound is not None and math.isfinite(float(raw_bound)) else math.nan
    if status == "optimal" and (not math.isfinite(bound) or name == "ipopt"):
        bound = value  # proven optimal (IPOPT: locally; see message)
    bound, msg = _check_bound_side(value, bound, minimize, msg)
    if status == "optimal" and relative_gap(value, bound) > max(1e-6, 2 * (mip_gap or 0.0)) + 1e-4:
        # a solver calling a solution optimal while its own bound says otherwise: trust the bound
        status, msg = "feasible", f"{msg}; reported optimal but the gap to its bound is {relative_gap(value, bound):.3g}"
    if name == "ipopt":
        msg = f"locally optimal ({msg})"
    return SolveResult(status, objective=value, bound=bound, gap=_gap(value, bound), message=msg, raw=results)


def _gap(value: float, bound: float) -> float:
    """The relative gap, 0 below floating-point noise."""
    g = relative_gap(value, bound)
    return 0.0 if g < 1e-12 else g


def _check_bound_side(value: float, bound: float, minimize: bool, msg: str) -> tuple[float, str]:
    """A bound on the wrong side of the incumbent (beyond 1e-6 relative) is dropped and noted."""
    if math.isfinite(bound) and (bound - value if minimize else value - bound) > 1e-6 * max(1.0, abs(value)):
        return math.nan, f"{msg}; solver bound {bound!r} on the wrong side of the objective, dropped"
    return bound, msg


# --------------------------------------------------------------------------- CVXPY
_CVXPY_NAMES = {"highs": "HIGHS", "scip": "SCIP", "clarabel": "CLARABEL", "scs": "SCS", "osqp": "OSQP"}


def _cvxpy_options(name: str, time_limit: float | None, mip_gap: float | None) -> dict[str, Any]:
    o: dict[str, Any] = {}
    if name == "clarabel" and time_limit is not None:
        o["time_limit"] = float(time_limit)
    elif name == "scs" and time_limit is not None:
        o["time_limit_secs"] = float(time_limit)
    elif name == "osqp" and time_limit is not None:
        o["time_limit"] = float(time_limit)
    elif name == "highs":
        o["log_to_console"] = False
        if time_limit is not None:
            o["time_limit"] = float(time_limit)
        if mip_gap is not None:
            o["mip_rel_gap"] = float(mip_gap)
    elif name == "scip":
        params = {}
        if time_limit is not None:
            params["limits/time"] = float(time_limit)
        if mip_gap is not None:
            params["limits/gap"] = float(mip_gap)
        if params:
            o["scip_params"] = params
    return o


def _max_violation(prob: Any) -> float:
    worst = 0.0
    for c in prob.constraints:
        try:
            v = c.violation()
        except Exception:
            return math.inf
        import numpy as np

        v = float(np.max(np.abs(v))) if np.size(v) else 0.0
        worst = max(worst, v)
    return worst


def _solve_cvxpy(prob: Any, name: str, time_limit: float | None, mip_gap: float | None,
                 options: dict[str, Any], tee: bool) -> SolveResult:
    import cvxpy as cp

    opts = _cvxpy_options(name, time_limit, mip_gap)
    if tee:
        opts.pop("log_to_console", None)
    if "scip_params" in opts and "scip_params" in options:
        opts["scip_params"].update(options.pop("scip_params"))
    opts.update(options)
    try:
        prob.solve(solver=_CVXPY_NAMES[name], verbose=tee, **opts)
    except cp.error.SolverError as exc:
        # some solvers raise instead of returning a limit status
        return SolveResult("no_solution" if time_limit else "error", message=str(exc), raw=prob)
    st = prob.status
    minimize = isinstance(prob.objective, cp.Minimize)
    if st in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        return SolveResult("infeasible", message=st, raw=prob)
    if st in (cp.UNBOUNDED, cp.UNBOUNDED_INACCURATE):
        return SolveResult("unbounded", message=st, raw=prob)
    value = prob.value
    have = value is not None and math.isfinite(float(value)) and all(
        v.value is not None for v in prob.variables())
    # CVXPY may report USER_LIMIT with zero-filled variables and no incumbent: check feasibility.
    tol = 1e-5 * max(1.0, abs(float(value))) if have else 0.0
    if have and _max_violation(prob) > max(tol, 1e-5):
        have = False
    if not have:
        return SolveResult("no_solution" if st in (cp.USER_LIMIT, cp.OPTIMAL_INACCURATE) else "error",
                           message=f"{st}: no feasible incumbent", raw=prob)
    value = float(value)
    stats = getattr(prob, "solver_stats", None)
    extra = getattr(stats, "extra_stats", None)
    status = "optimal" if st in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) else "feasible"
    limit_hit = False
    # primal - dual in the solver's own (minimisation) sense; CVXPY negates maximisations and
    # drops constants, so the bound is rebuilt from this difference
    diff = math.nan
    if name == "scip" and isinstance(extra, dict) and extra.get("model") is not None:
        mdl = extra["model"]
        diff = float(mdl.getPrimalbound()) - float(mdl.getDualbound())
        limit_hit = str(extra.get("scip_status")) in ("timelimit", "nodelimit", "totalnodelimit",
                                                         "stallnodelimit", "memlimit", "gaplimit",
                                                         "sollimit", "bestsollimit", "userinterrupt")
    elif name == "highs" and prob.is_mixed_integer() and hasattr(extra, "mip_dual_bound"):
        diff = float(extra.objective_function_value) - float(extra.mip_dual_bound)
    if limit_hit:
        status = "feasible"  # CVXPY maps SCIP's limits to OPTIMAL_INACCURATE
    if math.isfinite(diff):
        bound = value - max(diff, 0.0) if minimize else value + max(diff, 0.0)
    else:
        bound = value if status == "optimal" else math.nan
    msg = str(st) + (f" (SCIP: {extra.get('scip_status')})" if limit_hit else "")
    return SolveResult(status, objective=value, bound=bound, gap=_gap(value, bound), message=msg, raw=prob)


# --------------------------------------------------------------------------- CP-SAT
def _solve_cpsat(model: Any, time_limit: float | None, mip_gap: float | None,
                 options: dict[str, Any], tee: bool) -> SolveResult:
    from ortools.sat.python import cp_model

    s = cp_model.CpSolver()
    if time_limit is not None:
        s.parameters.max_time_in_seconds = float(time_limit)
    if mip_gap is not None:
        s.parameters.relative_gap_limit = float(mip_gap)
    s.parameters.num_workers = int(options.pop("num_workers", 2))
    s.parameters.log_search_progress = tee
    for k, v in options.items():
        setattr(s.parameters, k, v)
    st = s.solve(model)
    name = s.status_name(st)
    if st == cp_model.OPTIMAL:
        v, bnd = float(s.objective_value), float(s.best_objective_bound)
        return SolveResult("optimal", objective=v, bound=bnd, gap=_gap(v, bnd), message=name, raw=s)
    if st == cp_model.FEASIBLE:
        v, bnd = float(s.objective_value), float(s.best_objective_bound)
        return SolveResult("feasible", objective=v, bound=bnd, gap=relative_gap(v, bnd), message=name, raw=s)
    if st == cp_model.INFEASIBLE:
        return SolveResult("infeasible", message=name, raw=s)
    if st == cp_model.MODEL_INVALID:
        return SolveResult("error", message=f"{name}: {model.validate()}", raw=s)
    return SolveResult("no_solution", message=name, raw=s)
