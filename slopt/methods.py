"""What every problem's methods share: argument checks, timing and the time budget.

A problem's method is a function ``f(instance, *, solver=None, time_limit=None, mip_gap=None,
**options) -> Plan``. Decorating it with :func:`method` gives it, in one place for all five
problems:

- the checks of ``solver`` (a name :func:`slopt.solvers.solve` knows and finds installed, or any
  installed Pyomo/CVXPY name passed through; otherwise :class:`~slopt.errors.SolverNotAvailable`),
  ``time_limit`` (seconds, finite and > 0), ``mip_gap`` (relative, in [0, 1)), ``solver_options``
  (a dict) and ``tee``/``verbose`` (bool), each a :class:`~slopt.errors.ValidationError` naming
  the argument and the value;
- ``plan.seconds`` filled with the wall-clock time when the method did not set it.

- ``solver_options``, ``tee`` and ``verbose`` on *every* method, with the names Pyomo and
  gurobi-optimods users know: a method whose own signature does not take them still accepts them;
  they then become the defaults of every :func:`slopt.solvers.solve` call made inside the method
  (:func:`call_defaults`). ``verbose=True`` also shows the method's progress records (the
  ``slopt`` loggers, :mod:`slopt.progress`) for the duration of the call. ``solver_options`` given
  to a method that ends without calling a solver is reported with a warning.

Methods that call a solver several times share one budget through :class:`Deadline`.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import math
import time
import warnings
from collections.abc import Callable
from typing import Any

from slopt.errors import ValidationError
from slopt.plan import Plan

__all__ = ["method", "check_solve_args", "Deadline", "call_defaults"]

_CALL: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("slopt_method_call", default=None)


def call_defaults() -> dict[str, Any] | None:
    """The ``solver_options`` / ``tee`` of the method call in progress (read by ``solve()``, which
    also counts its calls in ``"solves"``), or None outside a decorated method."""
    return _CALL.get()


def check_solve_args(solver: Any = None, time_limit: Any = None, mip_gap: Any = None,
                     solver_options: Any = None, tee: Any = None) -> None:
    """Check the solver arguments of a method before any work.

    Raises :class:`ValidationError` for a malformed ``solver``, ``time_limit`` (s, finite and
    > 0), ``mip_gap`` (relative, in [0, 1)), ``solver_options`` (a dict) or ``tee`` (a bool), and
    :class:`~slopt.errors.SolverNotAvailable` for a solver name that is neither a registered
    backend (installed) nor an installed Pyomo / CVXPY solver.
    """
    if solver is not None:
        if not isinstance(solver, str) or not solver.strip():
            raise ValidationError(f"solver must be a solver name (see `slopt solvers`), got {solver!r}", "solver")
        from slopt.solvers.backends import resolve_solver

        resolve_solver(solver)
    for name, value in (("time_limit", time_limit), ("mip_gap", mip_gap)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError(f"{name} must be a number, got {value!r}", name)
        v = float(value)
        if name == "time_limit" and not (math.isfinite(v) and v > 0):
            raise ValidationError(f"time_limit must be a finite number of seconds > 0, got {value!r}", name)
        if name == "mip_gap" and not (0.0 <= v < 1.0):
            raise ValidationError(f"mip_gap must be a relative gap in [0, 1), got {value!r}", name)
    if solver_options is not None and not isinstance(solver_options, dict):
        raise ValidationError(f"solver_options must be a dict of the solver's own option names, got "
                              f"{solver_options!r}", "solver_options")
    if tee is not None and not isinstance(tee, (bool, int)):
        raise ValidationError(f"tee must be True or False, got {tee!r}", "tee")


def method(fn: Callable[..., Plan] | None = None, *, check_args: bool = True) -> Any:
    """Decorator for a problem method: checks the solver arguments and fills ``plan.seconds``.

    Use as ``@method`` or ``@method(check_args=False)``.
    """

    def wrap(f: Callable[..., Plan]) -> Callable[..., Plan]:
        try:
            params = inspect.signature(f).parameters
        except (TypeError, ValueError):
            params = {}
        takes_var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        own = {k for k in ("solver_options", "tee", "verbose") if k in params or takes_var_kw}

        @functools.wraps(f)
        def run(inst: Any, *args: Any, **kw: Any) -> Plan:
            if check_args:
                check_solve_args(kw.get("solver"), kw.get("time_limit"), kw.get("mip_gap"),
                                 kw.get("solver_options"), kw.get("tee", kw.get("verbose")))
            taken = {k: kw.pop(k) for k in ("solver_options", "tee", "verbose") if k in kw and k not in own}
            outer = _CALL.get()
            ctx = {"solver_options": taken.get("solver_options", (outer or {}).get("solver_options")),
                   "tee": bool(taken.get("tee") or taken.get("verbose") or (outer or {}).get("tee")),
                   "solves": 0}
            token = _CALL.set(ctx)
            handler = None
            if taken.get("verbose") or kw.get("verbose"):
                from slopt.progress import enable

                root = logging.getLogger("slopt")
                had = list(root.handlers)
                handler = enable(logging.INFO)
                if handler in had:
                    handler = None   # the caller enabled logging already: leave it on
            t0 = time.perf_counter()
            try:
                plan = f(inst, *args, **kw)
            finally:
                _CALL.reset(token)
                if outer is not None:
                    outer["solves"] += ctx["solves"]
                if handler is not None:
                    logging.getLogger("slopt").removeHandler(handler)
            if taken.get("solver_options") and ctx["solves"] == 0:
                warnings.warn(f"{f.__name__} called no solver: solver_options {taken['solver_options']!r} "
                              "had no effect", UserWarning, stacklevel=2)
            if isinstance(plan, Plan) and not plan.seconds:
                plan.seconds = time.perf_counter() - t0
            return plan

        run.__slopt_method__ = True  # type: ignore[attr-defined]
        return run

    return wrap(fn) if fn is not None else wrap


class Deadline:
    """A time budget shared by the solver calls of one method.

    ``Deadline(None)`` never expires. ``remaining()`` is the time left in seconds (None without a
    limit; never below ``floor_s`` so that a solver still gets a positive limit), ``expired`` is
    True once the budget is spent.
    """

    def __init__(self, time_limit: float | None, floor_s: float = 1e-3) -> None:
        self.time_limit = time_limit
        self.floor_s = floor_s
        self.t0 = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    @property
    def expired(self) -> bool:
        """The budget is spent, or a stop was requested (first Ctrl-C, :mod:`slopt.progress`)."""
        from slopt.progress import stop_requested

        return stop_requested() or (self.time_limit is not None and self.elapsed >= self.time_limit)

    def remaining(self) -> float | None:
        if self.time_limit is None:
            return None
        return max(self.time_limit - self.elapsed, self.floor_s)
