"""Three-tier formulations: the fixed-cut MILP of P1 (spec §4.1, "Linear form for fixed
(l_u, l_e)") in Pyomo, its ``define_*`` blocks named after the spec's symbols, and
:func:`formulations` for ``slopt compare``."""

from __future__ import annotations

from typing import Any

import numpy as np

from slopt.solvers import SolveResult, solve

from .instance import Instance, check_cut_pair
from .system import PairDelays, pair_delays

# =============================================================================================
# §4.1 -- fixed-cut MILP of P1 (Pyomo)
# =============================================================================================
def define_sets(m: Any, inst: Instance) -> None:
    """Users n in N, edges e in E, rounds t = 1..T_ep."""
    import pyomo.environ as pyo

    m.N = pyo.Set(initialize=range(inst.N), doc="users")
    m.E = pyo.Set(initialize=range(inst.E), doc="edge servers")
    m.T = pyo.Set(initialize=range(inst.T_ep), doc="rounds of one epoch")


def define_variables(m: Any, inst: Instance) -> None:
    """x_{n,e}^t binary; z_t^U, z_t^B, z_t^{A up}, z_t^{A down} >= 0 (the per-round maxima)."""
    import pyomo.environ as pyo

    m.x = pyo.Var(m.N, m.E, m.T, domain=pyo.Binary, doc="user n trains with edge e in round t")
    m.zU = pyo.Var(m.T, domain=pyo.NonNegativeReals, doc="max U of round t (Eq. 18)")
    m.zB = pyo.Var(m.T, domain=pyo.NonNegativeReals, doc="max Bk of round t (Eq. 18)")
    m.zAu = pyo.Var(m.T, domain=pyo.NonNegativeReals, doc="upload max of round t (Eq. 19)")
    m.zAd = pyo.Var(m.T, domain=pyo.NonNegativeReals, doc="download max of round t (Eq. 19)")


def define_constraints(m: Any, inst: Instance, d: PairDelays) -> None:
    """C2-C4, the epigraphs of the four maxima and symmetry breaking among the full rounds."""
    import pyomo.environ as pyo

    sizes, last = inst.round_sizes, inst.T_ep - 1

    # C2: a user joins at most one edge per round
    m.c2 = pyo.Constraint(m.N, m.T, rule=lambda m, n, t: sum(m.x[n, e, t] for e in m.E) <= 1)

    # C3: every edge trains one user in every full round, at most one in the (short) last round
    def c3(m, e, t):
        s = sum(m.x[n, e, t] for n in m.N)
        return s == 1 if sizes[t] == inst.E else s <= 1
    m.c3 = pyo.Constraint(m.E, m.T, rule=c3)
    # C3 (last round): sum x^{T_ep} = N - (T_ep - 1) E, so E_t is a known constant in every round
    m.c3_last = pyo.Constraint(expr=sum(m.x[n, e, last] for n in m.N for e in m.E) == sizes[last])

    # C4: each user trains exactly once per epoch
    m.c4 = pyo.Constraint(m.N, rule=lambda m, n: sum(m.x[n, e, t] for e in m.E for t in m.T) == 1)

    # Linear form of the maxima of Eqs. 18-19: z_t >= value_{n,e} x_{n,e}^t. Written per user,
    # z_t >= sum_e value_{n,e} x_{n,e}^t, which equals the spec's pairwise form on every integer
    # point (C2: at most one e per user and round) and has a tighter LP relaxation.
    def epi(z, val):
        return lambda m, n, t: z[t] >= sum(float(val[n, e]) * m.x[n, e, t] for e in m.E)
    m.epi_U = pyo.Constraint(m.N, m.T, rule=epi(m.zU, d.U))
    m.epi_B = pyo.Constraint(m.N, m.T, rule=epi(m.zB, d.Bk))
    if inst.include_aggregation:
        m.epi_Au = pyo.Constraint(m.N, m.T, rule=epi(m.zAu, d.a_up))
        m.epi_Ad = pyo.Constraint(m.N, m.T, rule=epi(m.zAd, d.a_dn))

    # Symmetry breaking among the full rounds: z_1^U + z_1^B >= z_2^U + z_2^B >= ...
    full = [t for t in m.T if sizes[t] == inst.E]
    m.sym = pyo.Constraint(range(max(0, len(full) - 1)),
                           rule=lambda m, i: m.zU[full[i]] + m.zB[full[i]] >= m.zU[full[i + 1]] + m.zB[full[i + 1]])


def define_objective(m: Any, inst: Instance, d: PairDelays) -> None:
    """Eq. 20: min sum_t [K (z_t^U + (1+beta) t_c^F(E_t) + z_t^B) + z_t^{A up} + z_t^{A down}]."""
    import pyomo.environ as pyo

    K, beta, sizes = inst.local_iterations, inst.beta, inst.round_sizes
    const = sum(K * (1 + beta) * sizes[t] * d.tc_one for t in range(inst.T_ep))
    m.T_epoch = pyo.Objective(
        expr=sum(K * (m.zU[t] + m.zB[t]) + m.zAu[t] + m.zAd[t] for t in m.T) + const, sense=pyo.minimize)


def build_fixed_cut(inst: Instance, l_u: int, l_e: int) -> Any:
    """The MILP of P1 for a fixed cut pair (spec §4.1, 'Linear form for fixed (l_u, l_e)')."""
    import pyomo.environ as pyo

    l_u, l_e = check_cut_pair(inst, l_u, l_e)
    d = pair_delays(inst, l_u, l_e)
    m = pyo.ConcreteModel(name=f"three-tier P1 fixed cut ({l_u}, {l_e})")
    define_sets(m, inst)
    define_variables(m, inst)
    define_constraints(m, inst, d)
    define_objective(m, inst, d)
    return m


def _schedule_from_x(inst: Instance, m: Any) -> list[np.ndarray]:
    rounds = []
    for t in range(inst.T_ep):
        pairs = [(n, e) for n in range(inst.N) for e in range(inst.E) if m.x[n, e, t].value > 0.5]
        rounds.append(np.array(pairs, dtype=int).reshape(-1, 2))
    return rounds


def solve_fixed_cut(inst: Instance, l_u: int, l_e: int, solver: str | None = None,
                    time_limit: float | None = None, mip_gap: float | None = None
                    ) -> tuple[SolveResult, list[np.ndarray] | None]:
    """Build and solve the fixed-cut MILP through :func:`slopt.solvers.solve`."""
    m = build_fixed_cut(inst, l_u, l_e)
    res = solve(m, solver=solver, time_limit=time_limit, mip_gap=mip_gap)
    return res, (_schedule_from_x(inst, m) if res.ok else None)



def formulations(inst: Instance) -> dict[str, Any]:
    """The fixed-cut MILP at the exact method's cut pair (its optimum is P1's optimum)."""
    from .methods import exact

    plan = exact(inst)
    l_u, l_e = plan.decision["l_u"], plan.decision["l_e"]
    return {"fixed-cut-milp": lambda: build_fixed_cut(inst, l_u, l_e)}


