"""Exact methods of P1: brute force over ancestor-closed sets (spec §8.1) and the MILP / LP
relaxation of §4.3 (with threshold rounding, Claim 6.4; memory row of §4.4) through ``solve()``."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from slopt.errors import InfeasibleError, SloptError, ValidationError
from slopt.solvers import SolveResult, solve
from slopt.solvers.result import relative_gap

from .formulations import ExtraConstraints, build_cvxpy, build_pyomo, flow_network, min_cut_exact
from .instance import SplitInstance, check_pins, forced_device, forced_server
from .system import delays_of_sets, exact_best, exact_delay


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
    the number of closed sets enumerated.

    Exact: every set is priced in the form without cancellation and the near-best ones are
    compared in exact rational arithmetic (:func:`exact_best`; tie rule: the smallest optimal
    D). T is the exact optimum rounded once. No closed set at all means contradictory pins
    (:class:`InfeasibleError` naming them); closed sets that all break the memory row, memory.
    """
    check_pins(inst)
    X = closed_sets(inst, max_sets)
    if X.shape[0] == 0:
        raise InfeasibleError("contradictory pins: no ancestor-closed set holds every device pin "
                              "and avoids every server pin", "pins")
    T = delays_of_sets(inst, X)
    if not math.isinf(inst.device_memory_bytes):
        mem = X @ inst.memory_bytes
        T = np.where(mem <= inst.device_memory_bytes * (1 + 1e-12), T, np.inf)
    i = exact_best(inst, X, T)
    if i < 0:
        raise _memory_infeasible(inst)
    return X[i], float(exact_delay(inst, X[i])), int(X.shape[0])


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
    """Claim 6.4: the best feasible D_theta = {v : x_v >= theta} over the distinct values of x,
    compared exactly (:func:`exact_best`; tie rule: the smallest D)."""
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
    return X[exact_best(inst, X, np.where(ok, T, np.inf))]


def objective_scale(inst: SplitInstance) -> float:
    """A power of two (exact scaling) that brings T of the better extreme split (device-only or
    minimal-device) near 1, so that the solvers' absolute tolerances (about 1e-9) act relative to
    the optimum's order of magnitude rather than to 1 s."""
    ref = [T for T in (exact_delay(inst, ~forced_server(inst)), exact_delay(inst, forced_device(inst)))
           if T > 0]
    if not ref:
        return 1.0
    k = -math.frexp(float(min(ref)))[1]
    return math.ldexp(1.0, max(-400, min(400, k)))


def certify_split(inst: SplitInstance, x: np.ndarray, res: SolveResult, tight: bool) -> SolveResult:
    """The exact certificate of a split returned by a float solver.

    The objective becomes the exact T(x) (rounded once). With ``tight`` (the §4.3 model without
    memory row or extra constraints) the exact minimum cut (:func:`min_cut`, an exact maximum
    flow: a dual solution of the LP) is the exact optimum T*, so the status is ``optimal`` iff
    T(x) = T* exactly and ``feasible`` with the exact gap otherwise. Without ``tight`` the cut is
    a valid bound and the solver's status stands.
    """
    T = exact_delay(inst, x)
    if not tight:
        bound = res.bound if math.isfinite(res.bound) else math.nan
        return replace(res, objective=float(T), bound=bound,
                       gap=relative_gap(float(T), bound) if math.isfinite(bound) else res.gap)
    _, lb_exact = min_cut_exact(flow_network(inst))
    lb = float(lb_exact)
    if T == lb_exact:
        return replace(res, status="optimal", objective=float(T), bound=float(T), gap=0.0,
                       message=res.message + "; certified exactly by a maximum flow of equal value")
    return replace(res, status="feasible", objective=float(T), bound=lb, gap=relative_gap(float(T), lb),
                   message=res.message + f"; the split is {float(T - lb_exact):.3g} s above the exact "
                           "optimum (maximum-flow certificate): solver tolerance")


def decode_x(inst: SplitInstance, model: Any, relax: bool) -> np.ndarray:
    """The device mask of a solved §4.3 model (Pyomo or CVXPY): pins written back (a solver may
    drop a fixed column after presolve), x > 1/2 for the MILP, threshold rounding for the LP."""
    xv = _x_values(model, inst.n)
    xv = np.where(inst.device_pin, 1.0, np.where(inst.server_pin, 0.0, xv))
    return threshold_rounding(inst, xv) if relax else xv > 0.5


def _solve_formulation(inst: SplitInstance, relax: bool, kind: str, solver: str | None,
                       time_limit: float | None, mip_gap: float | None,
                       extra_constraints: ExtraConstraints | None = None
                       ) -> tuple[np.ndarray | None, SolveResult]:
    check_pins(inst)
    scale = objective_scale(inst)
    build = build_pyomo if kind == "pyomo" else build_cvxpy
    model = build(inst, relax, extra_constraints=extra_constraints, objective_scale=scale)
    options: dict[str, Any] = {}
    is_highs = (solver or "highs").lower() in ("highs", "appsi_highs")
    if is_highs:
        # tolerances tightened (defaults 1e-7 and an absolute MIP gap of 1e-6); with the
        # objective scaled to order 1 they act relative to the optimum
        options.update(primal_feasibility_tolerance=1e-9, dual_feasibility_tolerance=1e-10)
        if not relax:
            options.update(mip_feasibility_tolerance=1e-9)
            if not mip_gap:
                options["mip_abs_gap"] = 0.0
    elif (solver or "").lower() in ("cbc", "coin-cbc"):
        options.update(primalTolerance=1e-9, dualTolerance=1e-10)
        if not relax:
            options["integerTolerance"] = 1e-9
            if not mip_gap:
                options["allowableGap"] = 0
    tight = math.isinf(inst.device_memory_bytes) and extra_constraints is None
    if not relax and is_highs and tight:
        # the §4.3 matrix is totally unimodular (difference constraints after y' = x - y), so the
        # root LP is integral; HiGHS' MIP presolve dominates the time (measured on a 10^3-layer
        # random DAG: 2.5 s with presolve, 0.08 s without), hence it is switched off
        options["presolve"] = "off"
    res = solve(model, solver=solver, time_limit=time_limit,
                mip_gap=(0.0 if mip_gap is None else mip_gap) if not relax else None, options=options)
    if scale != 1.0:  # back to seconds (exact: a power of two)
        res = replace(res, objective=res.objective / scale, bound=res.bound / scale,
                      reported_objective=res.reported_objective / scale)
    if res.status == "infeasible":
        if not math.isinf(inst.device_memory_bytes):
            raise _memory_infeasible(inst)
        raise InfeasibleError(f"the {'LP' if relax else 'MILP'} is infeasible ({res.message})",
                              "extra_constraints" if extra_constraints is not None else "pins")
    if res.status == "no_solution":
        return None, res
    if not res.ok:
        raise SloptError(f"{res.solver} returned {res.status}: {res.message}")
    x = decode_x(inst, model, relax)
    return x, certify_split(inst, x, res, tight)


def milp(inst: SplitInstance, solver: str | None = None, kind: str = "pyomo",
         time_limit: float | None = None, mip_gap: float | None = None,
         extra_constraints: ExtraConstraints | None = None) -> tuple[np.ndarray | None, SolveResult]:
    """The MILP of §4.3 (with the §4.4 memory row when M_dev is finite, and the rows of
    ``extra_constraints(model, inst)``) through ``solve()``, then the exact certificate
    (:func:`certify_split`). ``mip_gap`` defaults to 0. Under a time limit without an incumbent
    the mask is None and the result's status ``no_solution``."""
    return _solve_formulation(inst, False, kind, solver, time_limit, mip_gap, extra_constraints)


def lp_relaxation(inst: SplitInstance, solver: str | None = None, kind: str = "pyomo",
                  time_limit: float | None = None,
                  extra_constraints: ExtraConstraints | None = None
                  ) -> tuple[np.ndarray | None, SolveResult]:
    """The LP relaxation of §4.3 (tight, Claim 6.3), threshold rounding (Claim 6.4) and the
    exact certificate. ``extra_constraints`` are refused (ValidationError) like the memory row:
    with other rows the relaxation need not be tight and a rounded split need not satisfy them."""
    if extra_constraints is not None:
        raise ValidationError("lp: the LP relaxation is not tight with extra constraints; use milp",
                              "extra_constraints")
    if not math.isinf(inst.device_memory_bytes):
        raise ValidationError("lp: the LP relaxation is not tight with the §4.4 memory row; use milp",
                              "device_memory_bytes")
    return _solve_formulation(inst, True, kind, solver, time_limit, None, extra_constraints)
