"""Exact methods of SFT: the enumeration over block allocations x vertices of the theta face
(Claim 11) and the global MINLP of P0 (SCIP)."""

from __future__ import annotations

import itertools
import time

import numpy as np

from slopt.errors import InfeasibleError, SloptError, ValidationError
from slopt.methods import method
from slopt.plan import Plan
from slopt.solvers import solve

from .algorithm import alm, theta_local, theta_vertices
from .formulations import build_minlp
from .instance import SFTInstance
from .system import expected_delay, make_plan

__all__ = ["block_allocations", "exact", "exact_minlp"]


# =========================================================================== exact baselines
def block_allocations(inst: SFTInstance) -> np.ndarray:
    """Every l in prod_n {1..l_cap_n} (per-device) or {1..min cap} (common)."""
    if inst.p("split") == "common":
        return np.repeat(np.arange(1, int(inst.l_cap.min()) + 1)[:, None], inst.N, axis=1)
    return np.array(list(itertools.product(*[range(1, int(c) + 1) for c in inst.l_cap])), dtype=float)


@method
def exact(inst: SFTInstance, *, solver: str | None = None, time_limit: float | None = None,
          mip_gap: float | None = None, max_pairs: int = 2_000_000, top: int = 3) -> Plan:
    """Exact small-N baseline: enumerate every block allocation l and every vertex of the theta
    face (Claim 11) in one vectorised pass, then polish theta locally (SLSQP) for the ``top`` best
    allocations. ``solver="scip"`` solves the global MINLP of :func:`build_minlp` instead."""
    if solver is not None and solver not in ("enumeration",):
        return exact_minlp(inst, solver=solver, time_limit=time_limit, mip_gap=mip_gap)
    t0 = time.perf_counter()
    Ls = block_allocations(inst)
    if inst.p("accuracy") == "depth":
        pairs = [(ll, th) for ll in Ls for th in theta_vertices(inst, ll)]
        Lc = np.array([p[0] for p in pairs])
        Tc = np.array([p[1] for p in pairs])
    else:
        V = theta_vertices(inst, Ls[0])
        Lc = np.repeat(Ls, len(V), axis=0)
        Tc = np.tile(V, (len(Ls), 1))
    if len(Lc) > max_pairs:
        raise ValidationError(f"exact enumeration needs {len(Lc)} (l, theta-vertex) pairs (> max_pairs = "
                              f"{max_pairs}); use fewer devices or --method paper", "n_devices")
    J = expected_delay(inst, Tc, Lc)
    order = np.argsort(J)
    best_th, best_l, best_J = Tc[order[0]], Lc[order[0]], float(J[order[0]])
    seen = set()
    for i in order[: 4 * top]:
        key = tuple(Lc[i])
        if key in seen:
            continue
        seen.add(key)
        if len(seen) > top:
            break
        if inst.theta_req > 0:
            th2 = theta_local(inst, Lc[i], Tc[i])
            J2 = float(expected_delay(inst, th2, Lc[i])[0])
            if J2 < best_J:
                best_th, best_l, best_J = th2, Lc[i], J2
    return make_plan(inst, "exact", best_th, best_l, seconds=time.perf_counter() - t0,
                     extra_metrics={"enumerated_pairs": float(len(Lc))})


@method
def exact_minlp(inst: SFTInstance, *, solver: str | None = "scip", time_limit: float | None = None,
                mip_gap: float | None = None) -> Plan:
    """Global MINLP of :func:`build_minlp` (SCIP), re-evaluated with :func:`evaluate`.

    Without ``time_limit`` a limit of 120 s applies (reconstructed default: with the log-rate of
    Eq. 5 SCIP rarely closes the gap beyond N = 2; the incumbent then comes back as ``feasible``)."""
    time_limit = 120.0 if time_limit is None else time_limit
    t0 = time.perf_counter()
    ub = alm(inst).J * (1 + 1e-6)
    m = build_minlp(inst, upper_bound_s=ub)
    res = solve(m, solver=solver or "scip", time_limit=time_limit, mip_gap=mip_gap if mip_gap is not None else 1e-6)
    if res.status == "infeasible":
        raise InfeasibleError(f"MINLP of P0 is infeasible ({res.message})", "P0")
    if not res.ok:
        raise SloptError(f"MINLP of P0: solver {res.solver or solver} returned status {res.status} without an "
                         f"incumbent within {time_limit:g} s ({res.message}); use a smaller instance "
                         "(n_devices, H) or --method exact")
    th = np.array([m.theta[n].value for n in m.N])
    ll = np.array([round(m.l[n].value) for n in m.N])
    return make_plan(inst, "exact", np.clip(th, inst.theta_lb, 1), ll, seconds=time.perf_counter() - t0,
                     solve_result=res)


