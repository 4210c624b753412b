"""Exact methods of P1: brute force over ancestor-closed sets (spec §8.1) and the MILP / LP
relaxation of §4.3 (with threshold rounding, Claim 6.4; memory row of §4.4) through ``solve()``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from slopt.errors import InfeasibleError, SloptError, ValidationError
from slopt.solvers import SolveResult, solve

from .formulations import build_cvxpy, build_pyomo
from .instance import SplitInstance, forced_device
from .system import delays_of_sets


def closed_sets(inst: SplitInstance, max_sets: int = 2_000_000) -> np.ndarray:
    """Every feasible D (ancestor-closed, containing the device pins, avoiding the server pins)
    as rows of a boolean matrix, enumerated vectorised over a topological order (spec §8.1).

    Raises :class:`ValidationError` (field ``max_sets``) when more than ``max_sets`` exist.
    """
    g = inst.graph
    order = g.topological_order
    pos = np.empty(g.n, dtype=np.int64)
    pos[order] = np.arange(g.n)
    preds: list[list[int]] = [[] for _ in range(g.n)]
    for u, w in zip(pos[g.src].tolist(), pos[g.dst].tolist()):
        preds[w].append(u)
    rows = np.zeros((1, g.n), dtype=bool)
    for i, v in enumerate(order.tolist()):
        can = rows[:, preds[i]].all(axis=1) if preds[i] else np.ones(rows.shape[0], dtype=bool)
        if inst.device_pin[v]:
            rows = rows[can & ~inst.server_pin[v]]
            rows[:, i] = True
        elif not inst.server_pin[v]:
            inc = rows[can].copy()
            inc[:, i] = True
            rows = np.concatenate([rows, inc])
        if rows.shape[0] > max_sets:
            raise ValidationError(f"brute force: more than max_sets = {max_sets} ancestor-closed "
                                  f"sets after {i + 1} of {g.n} layers", "max_sets")
    return rows[:, pos]


def brute_force(inst: SplitInstance, max_sets: int = 2_000_000) -> tuple[np.ndarray, float, int]:
    """Exhaustive search (spec §8.1): the best feasible D (memory limit respected), its T and
    the number of closed sets enumerated."""
    X = closed_sets(inst, max_sets)
    T = delays_of_sets(inst, X)
    if not math.isinf(inst.device_memory_bytes):
        mem = X @ inst.memory_bytes
        T = np.where(mem <= inst.device_memory_bytes * (1 + 1e-12), T, np.inf)
    if X.shape[0] == 0 or not np.isfinite(T).any():
        raise _memory_infeasible(inst)
    i = int(np.argmin(T))
    return X[i], float(T[i]), int(X.shape[0])


def _memory_infeasible(inst: SplitInstance) -> InfeasibleError:
    need = float(inst.memory_bytes[forced_device(inst)].sum())
    return InfeasibleError(
        f"memory (§4.4): the layers that must run on the device need {need:.6g} bytes, "
        f"{need - inst.device_memory_bytes:.6g} bytes above device_memory_bytes = "
        f"{inst.device_memory_bytes:.6g}", "memory", need - inst.device_memory_bytes)


def _x_values(model: Any, n: int) -> np.ndarray:
    if type(model).__module__.startswith("cvxpy"):
        var = next(v for v in model.variables() if v.name() == "x")
        return np.asarray(var.value, dtype=float).reshape(-1)
    return np.array([model.x[v].value for v in range(n)], dtype=float)


def threshold_rounding(inst: SplitInstance, xval: np.ndarray) -> np.ndarray:
    """Claim 6.4: the best feasible D_theta = {v : x_v >= theta} over the distinct values of x."""
    xr = np.clip(np.round(np.nan_to_num(xval), 7), 0.0, 1.0)
    thetas = np.unique(xr[xr > 0])
    if thetas.size == 0:
        thetas = np.array([1.0])
    X = xr[None, :] >= thetas[:, None]
    T = delays_of_sets(inst, X)
    g = inst.graph
    ok = (~(X[:, g.dst] & ~X[:, g.src])).all(axis=1) & (X[:, inst.device_pin]).all(axis=1) \
        & ~(X[:, inst.server_pin]).any(axis=1)
    if not math.isinf(inst.device_memory_bytes):
        ok &= X @ inst.memory_bytes <= inst.device_memory_bytes * (1 + 1e-12)
    if not ok.any():
        raise InfeasibleError("threshold rounding found no feasible D_theta (solver tolerance?)",
                              "rounding")
    T = np.where(ok, T, np.inf)
    return X[int(np.argmin(T))]


def _solve_formulation(inst: SplitInstance, relax: bool, kind: str, solver: str | None,
                       time_limit: float | None, mip_gap: float | None
                       ) -> tuple[np.ndarray, SolveResult]:
    model = build_pyomo(inst, relax) if kind == "pyomo" else build_cvxpy(inst, relax)
    options: dict[str, Any] = {}
    is_highs = (solver or "highs").lower() in ("highs", "appsi_highs")
    if is_highs:
        # delays span many decades (1e-7 s next to 1e2 s): HiGHS' default tolerances (1e-7, and
        # an absolute MIP gap of 1e-6) accept a split 2e-7 s worse; tightened so that the
        # re-evaluated split equals the optimum to 1e-9 relative
        options.update(primal_feasibility_tolerance=1e-9, dual_feasibility_tolerance=1e-10)
        if not relax:
            options.update(mip_feasibility_tolerance=1e-9)
            if not mip_gap:
                options["mip_abs_gap"] = 0.0
    elif (solver or "").lower() in ("cbc", "coin-cbc"):
        # same reason for CBC (measured: a split 1.7e-7 s worse with the defaults)
        options.update(primalTolerance=1e-9, dualTolerance=1e-10)
        if not relax:
            options["integerTolerance"] = 1e-9
            if not mip_gap:
                options["allowableGap"] = 0
    if not relax and is_highs and math.isinf(inst.device_memory_bytes):
        # the §4.3 matrix is totally unimodular (difference constraints after y' = x - y), so the
        # root LP is integral; HiGHS' MIP presolve dominates the time (measured on a 10^3-layer
        # random DAG: 2.5 s with presolve, 0.08 s without), hence it is switched off
        options["presolve"] = "off"
    res = solve(model, solver=solver, time_limit=time_limit,
                mip_gap=(0.0 if mip_gap is None else mip_gap) if not relax else None, options=options)
    if res.status == "infeasible":
        if not math.isinf(inst.device_memory_bytes):
            raise _memory_infeasible(inst)
        raise InfeasibleError(f"the {'LP' if relax else 'MILP'} is infeasible ({res.message})", "pins")
    if not res.ok:
        raise SloptError(f"{res.solver} returned {res.status}: {res.message}")
    xv = _x_values(model, inst.n)
    # a pinned layer is determined by its pin row (x_v = 1 or 0); a solver may leave such a
    # column out of its solution after presolve (seen with a 1-layer graph under CI load), so the
    # pins are written back before rounding
    xv = np.where(inst.device_pin, 1.0, np.where(inst.server_pin, 0.0, xv))
    x = threshold_rounding(inst, xv) if relax else xv > 0.5
    return x, res


def milp(inst: SplitInstance, solver: str | None = None, kind: str = "pyomo",
         time_limit: float | None = None, mip_gap: float | None = None
         ) -> tuple[np.ndarray, SolveResult]:
    """The MILP of §4.3 (with the §4.4 memory row when M_dev is finite) through ``solve()``.
    ``mip_gap`` defaults to 0 (proven optimal)."""
    return _solve_formulation(inst, False, kind, solver, time_limit, mip_gap)


def lp_relaxation(inst: SplitInstance, solver: str | None = None, kind: str = "pyomo",
                  time_limit: float | None = None) -> tuple[np.ndarray, SolveResult]:
    """The LP relaxation of §4.3 (tight, Claim 6.3) and threshold rounding (Claim 6.4)."""
    if not math.isinf(inst.device_memory_bytes):
        raise ValidationError("lp: the LP relaxation is not tight with the §4.4 memory row; use milp",
                              "device_memory_bytes")
    return _solve_formulation(inst, True, kind, solver, time_limit, None)
