"""The problem registry: each problem module registers itself once; the CLI knows none by name.

A problem module (``models/<name>.py``, imported as ``slopt.models.<name>``) calls
:func:`register` at import time with a :class:`Problem`. :func:`problems` imports every module of
``slopt.models`` and returns the registry.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slopt.errors import ValidationError
from slopt.plan import Plan

__all__ = ["Problem", "register", "problems", "get"]

_REGISTRY: dict[str, "Problem"] = {}


@dataclass(frozen=True)
class Problem:
    """A registered problem.

    Attributes
    ----------
    name : CLI name, e.g. ``"dag-split"``
    summary : one line shown by ``slopt demo`` and ``slopt solve --help``
    load : ``load(profile: str | None, scenario: str | None, **params) -> instance``; builds the
        instance from shipped defaults when ``profile``/``scenario`` are None
    methods : ``{"paper": f, "exact": g, "<baseline>": h}``; each ``f(instance, *, solver=None,
        time_limit=None, mip_gap=None) -> Plan``
    demo_methods : methods ``slopt demo`` runs (default: paper and exact)
    commands : optional ``commands(app: typer.Typer)`` adding problem-specific CLI commands
    random_instance : optional ``random_instance(seed: int, **params) -> instance`` (a small
        random instance, used by ``slopt compare --instances N`` and by sweeps)
    formulations : optional ``formulations(instance) -> {name: builder}`` where each zero-argument
        ``builder()`` returns a fresh Pyomo model, cvxpy.Problem or CpModel of the instance
        whose optimum is the problem's optimum (used by ``slopt compare``)
    extra : free-form hooks, e.g. ``{"demo_plot": f(out_dir) -> path}``
    """

    name: str
    summary: str
    load: Callable[..., Any]
    methods: dict[str, Callable[..., Plan]]
    demo_methods: tuple[str, ...] = ("paper", "exact")
    commands: Callable[[Any], None] | None = None
    random_instance: Callable[..., Any] | None = None
    formulations: Callable[[Any], dict[str, Callable[[], Any]]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def run(self, method: str = "paper", profile: str | None = None, scenario: str | None = None,
            solver: str | None = None, time_limit: float | None = None, mip_gap: float | None = None,
            solver_options: dict[str, Any] | None = None, tee: bool | None = None, verbose: bool | None = None,
            **params: Any) -> Plan:
        """Load the instance and run one method; fills ``plan.seconds`` if the method did not.

        ``solver``, ``time_limit`` (s) and ``mip_gap`` are checked before the instance is loaded
        (:func:`slopt.methods.check_solve_args`). ``solver_options`` and ``tee`` (``verbose`` is a
        synonym) are passed to methods whose signature takes them (by either name); a method that
        takes neither raises :class:`ValidationError` for ``solver_options`` and ignores ``tee``
        with a warning.
        """
        from slopt.methods import check_solve_args

        if method not in self.methods:
            raise ValidationError(f"method {method!r} is not a method of {self.name!r}; "
                                  f"choose one of {sorted(self.methods)}", "method")
        log = tee if tee is not None else verbose
        check_solve_args(solver, time_limit, mip_gap, solver_options, log)
        fn = self.methods[method]
        try:
            takes = set(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            takes = set()
        if getattr(fn, "__slopt_method__", False):   # @slopt.methods.method accepts all three
            takes |= {"solver_options", "tee", "verbose"}
        kw: dict[str, Any] = {"solver": solver, "time_limit": time_limit, "mip_gap": mip_gap}
        if solver_options is not None:
            if "solver_options" in takes:
                kw["solver_options"] = solver_options
            elif "options" in takes:
                kw["options"] = solver_options
            else:
                raise ValidationError(f"method {method!r} of {self.name!r} takes no solver_options "
                                      f"(got {solver_options!r})", "solver_options")
        if log is not None:
            name = "tee" if "tee" in takes else ("verbose" if "verbose" in takes else None)
            if name is not None:
                kw[name] = bool(log)
            elif log:
                warnings.warn(f"method {method!r} of {self.name!r} has no solver log to show (tee ignored)",
                              UserWarning, stacklevel=2)
        inst = self.load(profile, scenario, **params)
        t0 = time.perf_counter()
        plan = fn(inst, **kw)
        if not plan.seconds:
            plan.seconds = time.perf_counter() - t0
        return plan


def register(problem: Problem) -> Problem:
    """Add ``problem`` to the registry (idempotent for the same name; returns it)."""
    _REGISTRY[problem.name] = problem
    return problem


def _discover() -> None:
    import slopt.models as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"slopt.models.{info.name}")


def problems() -> dict[str, Problem]:
    """Every registered problem, after importing all of ``slopt.models``."""
    _discover()
    return dict(sorted(_REGISTRY.items()))


def get(name: str) -> Problem:
    """One problem by name (raises a clear error listing the known names)."""
    reg = problems()
    if name not in reg:
        raise ValidationError(f"unknown problem {name!r}; registered: {', '.join(reg) or 'none'}", "problem")
    return reg[name]
