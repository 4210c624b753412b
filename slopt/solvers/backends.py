"""Solver backends: one :func:`solve` over Pyomo models, CVXPY problems and CP-SAT models.

Each backend maps the common ``time_limit`` (seconds) and ``mip_gap`` (relative) to the solver's
own option names, loads the solver's point into the model, and hands the termination, the reported
objective and bound and the certificate of the point (:mod:`slopt.solvers.certify`) to
:func:`slopt.solvers.certify.finish`, which derives the :class:`SolveResult`. A time limit never
raises: the incumbent comes back with status ``feasible`` and its bound and gap, or
``no_solution`` with the bound.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata
import math
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable

from slopt.errors import SolverNotAvailable, ValidationError
from slopt.solvers.cbc import cbc_builds, cbc_executable, in_environment, load_values, pip_only, run_cbc
from slopt.solvers.certify import _has, certify_cpsat, certify_cvxpy, certify_pyomo, feas_tol, fill_unused_pyomo, finish, obj_tol
from slopt.solvers.result import SolveResult

__all__ = ["solve", "available_solvers", "BACKENDS", "Backend", "default_solver", "model_kind", "resolve_solver",
           "cbc_executable", "cbc_builds", "glpsol_executable", "DEFAULT_GAP"]


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


def _probe_exe(find: Callable[[], str | None], label: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        return f"{label} ({find()})" if find() else None
    return probe


def _probe_ipopt() -> str | None:
    if shutil.which("ipopt") and (not pip_only() or in_environment(shutil.which("ipopt"))):
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
                "pip install cbcbox   (or: apt-get install coinor-cbc; SLOPT_CBC=debian|cbcbox|PATH selects)",
                _probe_exe(cbc_executable, "cbc")),
        Backend("glpk", ("pyomo",), ("LP", "MILP"), "apt-get install glpk-utils",
                _probe_exe(lambda: glpsol_executable(), "glpsol")),
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

#: The relative gap each backend's "optimal" means when no ``mip_gap`` is passed (the solvers'
#: documented defaults: HiGHS ``mip_rel_gap`` = 1e-4; CBC ``ratioGap``, GLPK ``mipgap``, SCIP
#: ``limits/gap`` and CP-SAT ``relative_gap_limit`` = 0).
DEFAULT_GAP = {"highs": 1e-4}

#: Absolute gap below which a bound counts as closed when no ``mip_gap`` is passed (the solvers'
#: defaults: HiGHS ``mip_abs_gap`` = 1e-6, CP-SAT ``absolute_gap_limit`` = 1e-4; 1e-9 otherwise).
#: With a ``mip_gap``, HiGHS runs at ``mip_abs_gap`` = 0 and the tolerance is 1e-9 (CP-SAT: 1e-4).
ABS_GAP = {"highs": 1e-6, "cp-sat": 1e-4}


def _abs_tol(name: str, mip_gap: float | None) -> float:
    if name == "cp-sat":
        return ABS_GAP["cp-sat"]
    return ABS_GAP.get(name, 1e-9) if mip_gap is None else 1e-9

#: CVXPY keyword arguments of ``Problem.solve`` that are not solver options.
_CVXPY_KWARGS = {"warm_start", "ignore_dpp", "canon_backend", "enforce_dpp", "qcp", "gp",
                 "requires_grad", "scip_params", "solver_path", "bounds"}


def default_solver(kind: str, problem_class: str = "MILP") -> str:
    """The default backend for a model kind: HiGHS for LP/MILP/QP, SCIP for NLP/MINLP/MIQP/MISOCP,
    Clarabel for conic CVXPY problems, CP-SAT for CpModel."""
    if kind == "cpsat":
        return "cp-sat"
    if problem_class in ("MINLP", "NLP", "MISOCP", "MIQP"):
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


def _passthrough(name: str, kind: str | None) -> str | None:
    """``"pyomo"``/``"cvxpy"`` when ``name`` is an installed Pyomo or CVXPY solver slopt does not
    register (gurobi, cplex, xpress, mosek...), else None."""
    import logging

    if kind in (None, "cvxpy"):
        try:
            import cvxpy as cp

            if name.upper() in cp.installed_solvers():
                return "cvxpy"
        except Exception:  # noqa: BLE001
            pass
    if kind in (None, "pyomo"):
        try:
            import pyomo.environ as pyo

            logs = [logging.getLogger(n) for n in ("pyomo", "pyomo.opt", "pyomo.solvers")]
            levels = [lg.level for lg in logs]
            for lg in logs:
                lg.setLevel(logging.CRITICAL)
            try:
                opt = pyo.SolverFactory(name)
                ok = opt is not None and opt.available(exception_flag=False)
            finally:
                for lg, lv in zip(logs, levels):
                    lg.setLevel(lv)
            if ok and type(opt).__name__ != "UnknownSolver":
                return "pyomo"
        except Exception:  # noqa: BLE001
            pass
    return None


def resolve_solver(solver: str, kind: str | None = None) -> str:
    """The canonical name of ``solver`` (a registered backend, an alias, or an installed Pyomo /
    CVXPY solver passed through). Raises :class:`SolverNotAvailable` for an unknown or absent one,
    :class:`ValidationError` when it does not take ``kind`` models."""
    name = _ALIASES.get(solver.lower(), solver.lower())
    if name not in BACKENDS:
        if _passthrough(solver, kind) is not None:
            return solver
        raise SolverNotAvailable(f"unknown solver {solver!r}; known: {', '.join(BACKENDS)} (or any "
                                 "installed Pyomo / CVXPY solver name)")
    b = BACKENDS[name]
    if kind is not None and kind not in b.kinds:
        usable = [x.name for x in BACKENDS.values() if kind in x.kinds]
        raise ValidationError(f"solver {name!r} does not take {kind} models; use one of {usable}", "solver")
    if b.probe() is None:
        raise SolverNotAvailable(f"solver {name!r} is not installed here; install it with: {b.install}")
    return name


def _check_class(b: Backend, kind: str, model: Any) -> None:
    """A model class the backend cannot take raises, naming the backends that can."""
    if b.name == "cp-sat" or (b.name == "scip" and kind == "pyomo"):
        return  # CP-SAT takes only CpModels; SCIP through Pyomo every class
    from slopt.solvers.classes import COVERED_BY, problem_class

    cls = problem_class(model)
    if COVERED_BY.get(cls, {cls}) & set(b.classes):
        return
    can = [x.name for x in BACKENDS.values() if kind in x.kinds and COVERED_BY.get(cls, {cls}) & set(x.classes)]
    raise ValidationError(f"solver {b.name!r} cannot solve a {cls} ({kind} model); "
                          f"solvers that can: {', '.join(can) or 'none registered'}", "solver")


def solve(
    model: Any,
    solver: str | None = None,
    time_limit: float | None = None,
    mip_gap: float | None = None,
    options: dict[str, Any] | None = None,
    tee: bool = False,
    *,
    solver_options: dict[str, Any] | None = None,
    verbose: bool | None = None,
) -> SolveResult:
    """Solve a Pyomo ``ConcreteModel``, a ``cvxpy.Problem`` or an OR-Tools ``CpModel``, and
    certify the answer (:mod:`slopt.solvers.certify`).

    Parameters
    ----------
    model : the formulation; on success its variables hold the solution (for CP-SAT, read them
        from ``result.raw``, the ``CpSolver``).
    solver : backend name (see :func:`available_solvers`); default HiGHS (SCIP for NLP/MINLP,
        Clarabel for conic CVXPY problems, CP-SAT for CpModel). Any other Pyomo or CVXPY solver
        installed here (``gurobi``, ``cplex``, ``mosek``...) is passed through by name.
    time_limit : wall-clock limit in seconds. Hitting it returns the incumbent (status
        ``feasible``) with its bound and gap, or ``no_solution`` with the bound; it never raises.
    mip_gap : relative optimality gap at which a MIP solver may stop; ``optimal`` is then
        accepted up to this gap. None: the solver's default (:data:`DEFAULT_GAP`).
    solver_options : solver-specific options, the solver's own names (``options`` is the older
        name of the same argument). An option the solver does not know raises (HiGHS through
        CVXPY, SCIP, GLPK, CP-SAT) or warns (HiGHS, CBC), naming it.
    tee : stream the solver log (``verbose`` is a synonym).

    Raises
    ------
    SolverNotAvailable
        The solver is not installed (the message names the install command) or unknown.
    ValidationError
        A bad ``time_limit`` / ``mip_gap``, an unknown solver option, or a model class the solver
        cannot take (the message names the solvers that can).
    """
    kind = model_kind(model)
    if options is not None and solver_options is not None:
        raise ValidationError("pass solver options as solver_options or options, not both", "solver_options")
    opts = solver_options if solver_options is not None else options
    from slopt.methods import call_defaults, check_solve_args

    check_solve_args(None, time_limit, mip_gap, opts)   # the same checks as every method's
    tee = bool(tee or verbose)
    call = call_defaults()   # solver_options / tee given to the method that calls solve()
    if call is not None:
        call["solves"] += 1
        if call.get("solver_options"):
            opts = {**(opts or {}), **call["solver_options"]}   # the user's options win
        tee = tee or bool(call.get("tee"))
    if solver is None:
        from slopt.solvers.classes import problem_class

        solver = default_solver(kind, problem_class(model) if kind != "cpsat" else "IP")
    name = resolve_solver(solver, kind)
    b = BACKENDS.get(name)
    if b is not None:
        _check_class(b, kind, model)
    opts = dict(opts or {})
    # the gap limit concerns integer models; an LP, QP or conic "optimal" is at gap 0
    gap_limit = (float(mip_gap) if mip_gap is not None else DEFAULT_GAP.get(name, 0.0)) if _is_mip(model, kind) else 0.0
    t0 = time.perf_counter()
    try:
        if kind == "pyomo":
            res = _solve_pyomo(model, name, time_limit, mip_gap, gap_limit, opts, tee)
        elif kind == "cvxpy":
            res = _solve_cvxpy(model, name, time_limit, mip_gap, gap_limit, opts, tee)
        else:
            res = _solve_cpsat(model, time_limit, mip_gap, gap_limit, opts, tee)
    except (SolverNotAvailable, ValidationError):
        raise
    except Exception as exc:  # a solver crash is reported, not raised
        msg = f"{type(exc).__name__}: {exc}"
        bad = [k for k in opts if str(k) in str(exc)]
        if bad:
            raise ValidationError(f"solver option {bad[0]!r} rejected by {name}: {msg}", "solver_options") from exc
        res = SolveResult("error", message=msg, termination="other_error", has_primal=False)
    res.seconds = time.perf_counter() - t0
    res.solver = b.name if b is not None else name
    return res


def _is_mip(model: Any, kind: str) -> bool:
    if kind == "cpsat":
        return True
    if kind == "cvxpy":
        return bool(model.is_mixed_integer())
    return _has_integers(model)


def _warn_options(name: str, unknown: list[str]) -> None:
    if unknown:
        warnings.warn(f"{name} does not know the option(s) {', '.join(map(repr, unknown))}; "
                      "they were ignored", UserWarning, stacklevel=4)


@functools.lru_cache(maxsize=None)
def _highs_option_names() -> frozenset[str]:
    import highspy

    return frozenset(a for a in dir(highspy.HighsOptions()) if not a.startswith("_"))


@functools.lru_cache(maxsize=None)
def _scip_param_names() -> frozenset[str]:
    import pyscipopt

    return frozenset(pyscipopt.Model().getParams())


@functools.lru_cache(maxsize=None)
def _glpk_option_names() -> frozenset[str]:
    import re
    import subprocess

    exe = glpsol_executable()
    if not exe:
        return frozenset()
    out = subprocess.run([exe, "--help"], capture_output=True, text=True).stdout
    return frozenset(re.findall(r"--([A-Za-z][\w-]*)", out))


def _check_options(name: str, opts: dict[str, Any], strict: bool = True) -> None:
    """Unknown option names: a ValidationError (SCIP, GLPK), a warning (HiGHS: its Python binding
    lists most but not all options)."""
    if not opts:
        return
    if name == "highs":
        unknown = [k for k in opts if k not in _highs_option_names()]
        _warn_options("HiGHS", unknown)
        return
    if name == "scip":
        known = _scip_param_names()
    elif name == "glpk":
        known = _glpk_option_names()
        if not known:
            return
    else:
        return
    unknown = [k for k in opts if k not in known]
    if unknown and strict:
        close = difflib.get_close_matches(unknown[0], known, n=3)
        raise ValidationError(f"{name} has no option {unknown[0]!r}" + (f"; did you mean {close}?" if close else ""),
                              "solver_options")


# --------------------------------------------------------------------------- Pyomo
_PYOMO_NAMES = {"highs": "appsi_highs", "glpk": "glpk", "scip": "scip_direct", "ipopt": "ipopt"}


def glpsol_executable() -> str | None:
    """``glpsol``: ``SLOPT_GLPK`` (a path) when set, else ``glpsol`` on PATH (neither outside the
    Python environment under ``SLOPT_PIP_ONLY=1``)."""
    sel = os.environ.get("SLOPT_GLPK", "").strip()
    p = (sel if os.path.exists(sel) else shutil.which(sel)) if sel else shutil.which("glpsol")
    return p if p and (not pip_only() or in_environment(p)) else None


def _pyomo_options(name: str, time_limit: float | None, mip_gap: float | None) -> dict[str, Any]:
    """Map time limit (s) and relative gap to each solver's own option names."""
    o: dict[str, Any] = {}
    if name == "highs":
        o["log_to_console"] = False  # the banner would spoil --json output; ``tee`` turns it back on
        if mip_gap is not None:
            o["mip_rel_gap"] = float(mip_gap)
            o["mip_abs_gap"] = 0.0  # the relative gap asked for, not HiGHS's default 1e-6 absolute
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


def _pyomo_termination(tc: Any, name: str) -> str:
    from pyomo.opt import TerminationCondition as TC

    if tc in (TC.optimal, TC.globallyOptimal):
        return "locally_optimal" if name == "ipopt" else "optimal"
    if tc == TC.locallyOptimal:
        return "locally_optimal"
    if tc in (TC.infeasible, TC.invalidProblem):
        return "infeasible"
    if tc == TC.unbounded:
        return "unbounded"
    if tc == TC.infeasibleOrUnbounded:
        return "infeasible_or_unbounded"
    if tc == TC.maxTimeLimit:
        return "time_limit"
    if tc in (TC.maxIterations, TC.maxEvaluations, TC.intermediateNonInteger, TC.feasible, TC.minFunctionValue,
              TC.minStepLength):
        return "iteration_limit"
    if tc == TC.userInterrupt:
        return "interrupted"
    return "other_error"


def _objective(m: Any) -> Any:
    import pyomo.environ as pyo

    objs = list(m.component_data_objects(pyo.Objective, active=True))
    if len(objs) != 1:
        raise ValidationError(f"model has {len(objs)} active objectives; exactly one is needed", "objective")
    return objs[0]


def _decide_pyomo(m: Any, obj: Any, run: Callable[[], str]) -> str:
    """Infeasible or unbounded? Solve the feasibility problem (objective 0) with ``run`` (which
    returns a termination): feasible means unbounded."""
    import pyomo.environ as pyo

    v = next(iter(m.component_data_objects(pyo.Var, active=True)), None)
    if v is None:
        return "infeasible_or_unbounded"
    obj.deactivate()
    m._slopt_feasibility = pyo.Objective(expr=v - v)
    try:
        t = run()
    finally:
        m.del_component("_slopt_feasibility")
        obj.activate()
    if t in ("optimal", "locally_optimal"):
        return "unbounded"
    if t == "infeasible":
        return "infeasible"
    return "infeasible_or_unbounded"


def _quiet_load(m: Any, results: Any) -> None:
    """Load a solver's point without Pyomo's warning about a stopped status (the status is ours to report)."""
    import logging

    log = logging.getLogger("pyomo.core")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        m.solutions.load_from(results)
    finally:
        log.setLevel(level)


def _huge_point(m: Any) -> bool:
    import pyomo.environ as pyo

    return any(v.value is not None and abs(v.value) >= _HUGE for v in m.component_data_objects(pyo.Var, active=True))


def _verify_verdict(m: Any, obj: Any, term: str, msg: str, rerun: Callable[[Any], str]) -> tuple[str, str]:
    """Check a solver's claim of unboundedness or (for a MILP) infeasibility.

    ``unbounded`` / ``infeasible_or_unbounded``: the feasibility problem decides (CBC and GLPK call
    a MILP unbounded when its LP relaxation is). ``infeasible`` of a MILP: when the feasibility
    problem has a solution the claim is wrong (cbcbox's CBC and SCIP called unbounded MILPs
    infeasible); the LP relaxation then decides between unbounded and an undecided error.
    ``rerun(model)`` solves ``model`` and returns its termination."""
    import pyomo.environ as pyo

    if term in ("unbounded", "infeasible_or_unbounded"):
        return _decide_pyomo(m, obj, lambda: rerun(m)), msg
    if term != "infeasible" or not _has_integers(m):
        return term, msg
    if _decide_pyomo(m, obj, lambda: rerun(m)) == "infeasible":
        return term, msg
    relaxed = m.clone()
    pyo.TransformationFactory("core.relax_integer_vars").apply_to(relaxed)
    lp = rerun(relaxed)
    if lp in ("unbounded", "infeasible_or_unbounded"):
        lp = _decide_pyomo(relaxed, _objective(relaxed), lambda: rerun(relaxed))
    if lp == "unbounded":
        return "unbounded", f"{msg}; but the model is feasible and its LP relaxation unbounded"
    return "other_error", f"{msg}; but the model has a feasible point: the verdict is discarded"


def _has_free_direction(m: Any) -> bool:
    import pyomo.environ as pyo

    return any(v.lb is None or v.ub is None for v in m.component_data_objects(pyo.Var, active=True) if not v.fixed)


def _has_integers(m: Any) -> bool:
    import pyomo.environ as pyo

    return any(not v.is_continuous() for v in m.component_data_objects(pyo.Var, active=True))


def _solve_pyomo(m: Any, name: str, time_limit: float | None, mip_gap: float | None, gap_limit: float,
                 options: dict[str, Any], tee: bool) -> SolveResult:
    import pyomo.environ as pyo

    obj = _objective(m)
    minimize = obj.sense == pyo.minimize
    if name == "cbc":
        return _solve_cbc(m, obj, minimize, time_limit, mip_gap, gap_limit, options, tee)
    _check_options(name, options)
    if name == "ipopt" and not (shutil.which("ipopt") and (not pip_only() or in_environment(shutil.which("ipopt")))):
        opt = pyo.SolverFactory("cyipopt")
    elif name == "glpk":
        opt = pyo.SolverFactory("glpk", executable=glpsol_executable())
    else:
        opt = pyo.SolverFactory(_PYOMO_NAMES.get(name, name))
    opts = {**_pyomo_options(name, time_limit, mip_gap), **options}
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
    logdir = tempfile.mkdtemp(prefix="slopt-glpk-") if name == "glpk" else None
    if logdir:
        kwargs["logfile"] = os.path.join(logdir, "glpk.log")

    def run(model: Any = m) -> Any:
        return opt.solve(model, **kwargs)

    def term_of(results: Any) -> str:
        t = _pyomo_termination(results.solver.termination_condition, name)
        if name == "glpk" and t not in ("optimal", "infeasible", "unbounded"):
            t = _glpk_log_termination(_read(kwargs["logfile"])) if t == "other_error" or \
                "TIME LIMIT EXCEEDED" in _read(kwargs["logfile"]) else t
        return t

    try:
        results = run()
        term = term_of(results)
        if term == "infeasible_or_unbounded" and name == "highs":
            # HiGHS's presolve cannot tell the two apart: ask once more without presolve
            kwargs["options"] = {**opts, "presolve": "off"}
            results = run()
            term = term_of(results)
        msg = str(getattr(results.solver, "termination_message", None) or "")
        if not msg or msg == "<undefined>":
            msg = str(results.solver.termination_condition)
        glpk_bound = _glpk_log_bound(_read(kwargs["logfile"]), minimize) if logdir else math.nan
        if name == "glpk":
            msg = f"{msg} ({_glpk_summary(_read(kwargs['logfile']))})"
        has_point = len(getattr(results, "solution", [])) > 0 and term not in (
            "infeasible", "unbounded", "infeasible_or_unbounded")
        if has_point:
            for v in m.component_data_objects(pyo.Var, active=True):
                if not v.fixed:
                    v.set_value(None, skip_validation=True)
            _quiet_load(m, results)
            if _huge_point(m):
                term, msg = "infeasible_or_unbounded", f"{msg}; values beyond {_HUGE:g} (the solver's infinity) in its point"
        if name != "highs":  # HiGHS was honest on every class of the property suite
            term, msg = _verify_verdict(m, obj, term, msg, lambda model: term_of(run(model)))
        if name == "scip" and has_point and term in ("optimal", "time_limit", "iteration_limit") \
                and _has_integers(m) and _has_free_direction(m):
            # SCIP called some unbounded MILPs optimal: a feasible MILP whose LP relaxation is
            # unbounded is unbounded (rational data)
            saved = {id(v): v.value for v in m.component_data_objects(pyo.Var, active=True)}
            relaxed = m.clone()
            pyo.TransformationFactory("core.relax_integer_vars").apply_to(relaxed)
            if term_of(run(relaxed)) in ("unbounded", "infeasible_or_unbounded") and \
                    _decide_pyomo(relaxed, _objective(relaxed), lambda: term_of(run(relaxed))) == "unbounded":
                term, has_point = "unbounded", False
                msg = f"{msg}; but the point is feasible and the LP relaxation unbounded: the MILP is unbounded"
            for v in m.component_data_objects(pyo.Var, active=True):
                if v.value is None and saved.get(id(v)) is not None:
                    v.set_value(saved[id(v)], skip_validation=True)
        elif term == "infeasible_or_unbounded":
            term = _decide_pyomo(m, obj, lambda: term_of(run()))
    finally:
        if logdir:
            shutil.rmtree(logdir, ignore_errors=True)
    if term in ("infeasible", "unbounded", "infeasible_or_unbounded", "other_error") and not has_point:
        return finish(termination=term, cert=None, reported_objective=math.nan, bound=math.nan, minimize=minimize,
                      gap_limit=gap_limit, exact=True, message=msg, raw=results)
    if term in ("infeasible", "unbounded", "infeasible_or_unbounded"):
        return finish(termination=term, cert=None, reported_objective=math.nan, bound=math.nan, minimize=minimize,
                      gap_limit=gap_limit, exact=True, message=msg, raw=results)
    lb, ub = results.problem.lower_bound, results.problem.upper_bound
    rep, bnd = (ub, lb) if minimize else (lb, ub)
    if name == "glpk":
        bnd = glpk_bound if term != "optimal" else math.nan  # Pyomo's GLPK reader reports no bound
    cert = None
    if has_point:
        filled = fill_unused_pyomo(m, obj)
        cert = certify_pyomo(m, obj, tol=feas_tol(name), int_tol=feas_tol(name))
        if filled:
            cert.notes.append(f"{len(filled)} variable(s) in no row and not in the objective set within their bounds")
    if name == "ipopt" and term == "locally_optimal":
        msg = f"locally optimal ({msg})"
    b = BACKENDS.get(name)
    return finish(termination=term, cert=cert, reported_objective=_num(rep), bound=_num(bnd), minimize=minimize,
                  gap_limit=gap_limit, exact=b.exact if b else True, message=msg, raw=results,
                  abs_gap_tol=_abs_tol(name, mip_gap),
                  objective_tol=obj_tol(name))


def _num(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


def _read(path: str) -> str:
    try:
        return open(path).read()
    except OSError:
        return ""


_GLPK_WORDS = (("UNBOUNDED", "unbounded"), ("NO PRIMAL FEASIBLE", "infeasible"),
               ("NO INTEGER FEASIBLE", "infeasible"), ("NO FEASIBLE", "infeasible"),
               ("NO DUAL FEASIBLE", "infeasible_or_unbounded"), ("TIME LIMIT EXCEEDED", "time_limit"),
               ("OPTIMAL SOLUTION FOUND", "optimal"))


def _glpk_log_termination(text: str) -> str:
    """glpsol's verdict from its log (Pyomo's GLPK reader says ``other`` for several)."""
    for word, term in _GLPK_WORDS:
        if word in text:
            return term
    return "other_error"


def _glpk_summary(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if any(w in ln for w, _ in _GLPK_WORDS)]
    return lines[-1] if lines else "glpsol log without a verdict"


def _glpk_log_bound(text: str, minimize: bool) -> float:
    """The bound of glpsol's last progress line ``mip = <incumbent> >= <bound>`` (``<=`` for a
    maximisation); NaN when it printed none or ``tree is empty``."""
    import re

    pat = r"mip\s*=\s*(\S+)\s*" + (">=" if minimize else "<=") + r"\s*(\S+)"
    hits = re.findall(pat, text)
    if not hits:
        return math.nan
    return _num(hits[-1][1])


#: |values| at or beyond this are a solver's infinity, not a point (CBC's cbcbox build returns
#: unbounded LPs as "Optimal" with values near 1e21)
_HUGE = 1e15


def _solve_cbc(m: Any, obj: Any, minimize: bool, time_limit: float | None, mip_gap: float | None,
               gap_limit: float, options: dict[str, Any], tee: bool) -> SolveResult:
    """CBC through :mod:`slopt.solvers.cbc` (LP file in, CBC's solution file read by name)."""
    import pyomo.environ as pyo

    for v in m.component_data_objects(pyo.Var, active=True):
        if not v.fixed:
            v.set_value(None, skip_validation=True)
    def term_of(r: Any) -> str:
        # the cbcbox build calls unbounded LPs "Optimal" at about 1e21: values beyond HUGE are its infinity
        if r.termination in ("optimal", "time_limit", "iteration_limit") and any(
                abs(v) >= _HUGE for v in r.values.values()):
            return "infeasible_or_unbounded"
        return r.termination

    def rerun(model: Any) -> str:
        return term_of(run_cbc(model, minimize, time_limit, None, options, False)[0])

    run, smap = run_cbc(m, minimize, time_limit, mip_gap, options, tee)
    _warn_options("CBC", run.unknown_options)
    term = term_of(run)
    msg = f"CBC: {run.status_line or 'no solution file'}"
    if run.unknown_options:
        msg += f"; unknown option(s) ignored: {', '.join(run.unknown_options)}"
    if term == "infeasible_or_unbounded":
        msg += f"; values beyond {_HUGE:g} (CBC's infinity) in its point"
    term, msg = _verify_verdict(m, obj, term, msg, rerun)
    if term in ("infeasible", "unbounded", "infeasible_or_unbounded"):
        return finish(termination=term, cert=None, reported_objective=math.nan, bound=math.nan, minimize=minimize,
                      gap_limit=gap_limit, exact=True, message=msg, raw=run)
    cert = None
    if run.values:
        load_values(run, smap)
        filled = fill_unused_pyomo(m, obj)
        cert = certify_pyomo(m, obj, tol=feas_tol("cbc"), int_tol=feas_tol("cbc"))
        if filled:
            cert.notes.append(f"{len(filled)} variable(s) in no row and not in the objective set within their bounds")
    if term != "optimal" and not math.isfinite(run.bound):
        msg += "; CBC printed no bound"
    return finish(termination=term, cert=cert, reported_objective=run.objective, bound=run.bound, minimize=minimize,
                  gap_limit=gap_limit, exact=True, message=msg, raw=run, abs_gap_tol=_abs_tol("cbc", mip_gap))


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
            o["mip_abs_gap"] = 0.0
    elif name == "scip":
        params = {}
        if time_limit is not None:
            params["limits/time"] = float(time_limit)
        if mip_gap is not None:
            params["limits/gap"] = float(mip_gap)
        if params:
            o["scip_params"] = params
    return o


def _cvxpy_termination(st: str) -> str:
    import cvxpy as cp

    return {cp.OPTIMAL: "optimal", cp.OPTIMAL_INACCURATE: "optimal", cp.INFEASIBLE: "infeasible",
            cp.INFEASIBLE_INACCURATE: "infeasible", cp.UNBOUNDED: "unbounded",
            cp.UNBOUNDED_INACCURATE: "unbounded", cp.USER_LIMIT: "time_limit",
            getattr(cp, "INFEASIBLE_OR_UNBOUNDED", "infeasible_or_unbounded"): "infeasible_or_unbounded",
            cp.SOLVER_ERROR: "other_error"}.get(st, "other_error")


def _solve_cvxpy(prob: Any, name: str, time_limit: float | None, mip_gap: float | None, gap_limit: float,
                 options: dict[str, Any], tee: bool) -> SolveResult:
    import cvxpy as cp

    if name == "highs":
        _warn_options("HiGHS", [k for k in options if k not in _highs_option_names() and k not in _CVXPY_KWARGS])
    if name == "scip":
        _check_options("scip", dict(options.get("scip_params", {})))
    opts = _cvxpy_options(name, time_limit, mip_gap)
    if tee:
        opts.pop("log_to_console", None)
    options = dict(options)
    if "scip_params" in opts and "scip_params" in options:
        opts["scip_params"].update(options.pop("scip_params"))
    opts.update(options)
    solver = _CVXPY_NAMES.get(name, name.upper())
    minimize = isinstance(prob.objective, cp.Minimize)
    for v in prob.variables():
        v.value = None
    try:
        prob.solve(solver=solver, verbose=tee, **opts)
    except cp.error.SolverError as exc:
        # some solvers raise instead of returning a limit status
        return SolveResult("no_solution" if time_limit else "error", message=str(exc), raw=prob,
                           termination="time_limit" if time_limit else "other_error", has_primal=False)
    st = prob.status
    term = _cvxpy_termination(st)
    stats = getattr(prob, "solver_stats", None)
    extra = getattr(stats, "extra_stats", None)
    msg = str(st)
    # CVXPY maps SCIP's limits to OPTIMAL_INACCURATE
    if name == "scip" and isinstance(extra, dict) and str(extra.get("scip_status")) in (
            "timelimit", "nodelimit", "totalnodelimit", "stallnodelimit", "memlimit", "gaplimit", "sollimit",
            "bestsollimit", "userinterrupt"):
        term = "time_limit" if str(extra.get("scip_status")) == "timelimit" else "iteration_limit"
        msg += f" (SCIP: {extra.get('scip_status')})"
    if term == "infeasible_or_unbounded":
        feas = cp.Problem(cp.Minimize(0), prob.constraints)
        feas.solve(solver=solver, **{k: v for k, v in opts.items() if k != "verbose"})
        term = {"optimal": "unbounded", "infeasible": "infeasible"}.get(_cvxpy_termination(feas.status),
                                                                       "infeasible_or_unbounded")
    if term in ("infeasible", "unbounded", "infeasible_or_unbounded"):
        return finish(termination=term, cert=None, reported_objective=math.nan, bound=math.nan, minimize=minimize,
                      gap_limit=gap_limit, exact=True, message=msg, raw=prob)
    value = prob.value
    rep = _num(value)
    cert = None
    if all(v.value is not None for v in prob.variables()):
        cert = certify_cvxpy(prob, tol=feas_tol(name), int_tol=feas_tol(name))
    # primal - dual in the solver's own (minimisation) sense; CVXPY negates maximisations and
    # drops constants, so the bound is rebuilt from this difference
    diff = math.nan
    if name == "scip" and isinstance(extra, dict) and extra.get("model") is not None:
        mdl = extra["model"]
        diff = float(mdl.getPrimalbound()) - float(mdl.getDualbound())
    elif name == "highs" and prob.is_mixed_integer() and hasattr(extra, "mip_dual_bound"):
        diff = float(extra.objective_function_value) - float(extra.mip_dual_bound)
    bound = math.nan
    if math.isfinite(diff) and math.isfinite(rep):
        bound = rep - max(diff, 0.0) if minimize else rep + max(diff, 0.0)
    b = BACKENDS.get(name)
    return finish(termination=term, cert=cert, reported_objective=rep, bound=bound, minimize=minimize,
                  gap_limit=gap_limit, exact=b.exact if b else True, message=msg, raw=prob,
                  abs_gap_tol=_abs_tol(name, mip_gap),
                  objective_tol=obj_tol(name))


# --------------------------------------------------------------------------- CP-SAT
def _solve_cpsat(model: Any, time_limit: float | None, mip_gap: float | None, gap_limit: float,
                 options: dict[str, Any], tee: bool) -> SolveResult:
    from ortools.sat.python import cp_model

    s = cp_model.CpSolver()
    if time_limit is not None:
        s.parameters.max_time_in_seconds = float(time_limit)
    if mip_gap is not None:
        s.parameters.relative_gap_limit = float(mip_gap)
    options = dict(options)
    s.parameters.num_workers = int(options.pop("num_workers", 2))
    s.parameters.log_search_progress = tee
    for k, v in options.items():
        if not isinstance(k, str) or k.startswith("_") or not hasattr(s.parameters, k):
            names = [a for a in dir(s.parameters) if not a.startswith("_")]
            close = difflib.get_close_matches(str(k), names, n=3)
            raise ValidationError(f"CP-SAT has no parameter {k!r}" + (f"; did you mean {close}?" if close else ""),
                                  "solver_options")
        try:
            setattr(s.parameters, k, v)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"CP-SAT parameter {k!r} = {v!r}: {exc}", "solver_options") from exc
    st = s.solve(model)
    name = s.status_name(st)
    minimize = not (model.proto.objective.scaling_factor < 0)
    if _has(model.proto, "floating_point_objective"):
        minimize = not model.proto.floating_point_objective.maximize
    term = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "time_limit", cp_model.INFEASIBLE: "infeasible",
            cp_model.MODEL_INVALID: "other_error"}.get(st, "time_limit")
    msg = name if st != cp_model.MODEL_INVALID else f"{name}: {model.validate()}"
    if term == "infeasible" or st == cp_model.MODEL_INVALID:
        return finish(termination=term, cert=None, reported_objective=math.nan, bound=math.nan, minimize=minimize,
                      gap_limit=gap_limit, exact=True, message=msg, raw=s)
    cert = certify_cpsat(model, s) if st in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None
    has_obj = _has(model.proto, "objective") or _has(model.proto, "floating_point_objective")
    rep = float(s.objective_value) if cert is not None and has_obj else (cert.objective if cert else math.nan)
    # UNKNOWN (stopped before any search): CP-SAT's bound field holds no proof (0 for a stopped
    # maximisation whose optimum is positive)
    bnd = float(s.best_objective_bound) if has_obj and cert is not None else math.nan
    return finish(termination=term, cert=cert, reported_objective=rep, bound=bnd, minimize=minimize,
                  gap_limit=gap_limit, exact=True, message=msg, raw=s, abs_gap_tol=ABS_GAP["cp-sat"])
