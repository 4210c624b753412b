"""Three-tier formulations: the fixed-cut MILP of P1 (spec §4.1, "Linear form for fixed
(l_u, l_e)") in Pyomo, its ``define_*`` blocks named after the spec's symbols, and
:func:`formulations` for ``slopt compare``."""

from __future__ import annotations

import math
from collections.abc import Callable
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


def define_constraints(m: Any, inst: Instance, d: PairDelays, symmetry: bool = True) -> None:
    """C2-C4, the epigraphs of the four maxima and (``symmetry``) the spec's ordering of the full
    rounds by z_t^U + z_t^B."""
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
    _define_epigraphs(m, inst, d, per="user")

    if not symmetry:
        return
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


#: ``extra_constraints(model, instance) -> None``: adds rows (or variables) to a built model.
ExtraConstraints = Callable[[Any, Instance], None]


def build_fixed_cut(inst: Instance, l_u: int, l_e: int, *, strong: bool = False, symmetry: bool = True,
                    cutoff: float | None = None, extra_constraints: ExtraConstraints | None = None) -> Any:
    """The MILP of P1 for a fixed cut pair (spec §4.1, 'Linear form for fixed (l_u, l_e)').

    ``strong=False`` is the spec's linear form (with its ordering of the full rounds when
    ``symmetry``). ``strong=True`` keeps the same variables x_{n,e}^t and z_t and adds
    :func:`define_edge_epigraphs`, :func:`define_sorted_bounds` and, when ``symmetry``,
    :func:`define_symmetry_breaking` in place of the spec's ordering row. ``cutoff`` (s) adds
    T_epoch <= cutoff (an incumbent's value). ``extra_constraints(model, inst)`` is called last.
    Leave ``symmetry`` off when an extra constraint tells rounds or identical edges apart.
    """
    import pyomo.environ as pyo

    l_u, l_e = check_cut_pair(inst, l_u, l_e)
    d = pair_delays(inst, l_u, l_e)
    m = pyo.ConcreteModel(name=f"three-tier P1 fixed cut ({l_u}, {l_e})")
    m.cut_pair = (l_u, l_e)
    define_sets(m, inst)
    define_variables(m, inst)
    define_constraints(m, inst, d, symmetry=symmetry and not strong)
    define_objective(m, inst, d)
    if strong:
        define_edge_epigraphs(m, inst, d)
        define_sorted_bounds(m, inst, d)
        if symmetry:
            define_symmetry_breaking(m, inst, d)
    if cutoff is not None and math.isfinite(cutoff):
        m.cutoff = pyo.Constraint(expr=m.T_epoch.expr <= float(cutoff))
    if extra_constraints is not None:
        extra_constraints(m, inst)
    return m


def _define_epigraphs(m: Any, inst: Instance, d: PairDelays, per: str) -> None:
    """z_t >= sum value_{n,e} x_{n,e}^t, summed over the edges e of each user n (``per="user"``:
    rows ``epi_U``, ``epi_B``...) or over the users n of each edge e (``per="edge"``: rows
    ``epi_U_edge``...), for the upload, backward and (with aggregation) adapter terms."""
    import pyomo.environ as pyo

    outer, suffix = (m.N, "") if per == "user" else (m.E, "_edge")

    def epi(z, val):
        if per == "user":
            return lambda m, n, t: z[t] >= sum(float(val[n, e]) * m.x[n, e, t] for e in m.E)
        return lambda m, e, t: z[t] >= sum(float(val[n, e]) * m.x[n, e, t] for n in m.N)
    terms = [("U", m.zU, d.U), ("B", m.zB, d.Bk)]
    if inst.include_aggregation:
        terms += [("Au", m.zAu, d.a_up), ("Ad", m.zAd, d.a_dn)]
    for name, z, val in terms:
        m.add_component(f"epi_{name}{suffix}", pyo.Constraint(outer, m.T, rule=epi(z, val)))


def define_edge_epigraphs(m: Any, inst: Instance, d: PairDelays) -> None:
    """z_t >= sum_n value_{n,e} x_{n,e}^t for every edge e: the same maxima as the per-user rows
    on integer points; in a full round (sum_n x_{n,e}^t = 1) a convex combination in the LP."""
    import pyomo.environ as pyo

    _define_epigraphs(m, inst, d, per="edge")


def define_sorted_bounds(m: Any, inst: Instance, d: PairDelays) -> None:
    """The sorted-value bound of :func:`~slopt.models.three_tier.system.lower_bound` as rows.

    For a per-user value v_n (pi_n = min_e (U + Bk), min_e a_up, min_e a_dn)
    sorted decreasing, v_(1) >= ... >= v_(N), let w_{k,t} in [0, 1] be at least y_{(j)}^t =
    sum_e x_{(j),e}^t for every j <= k ("round t holds one of the k largest"). Then
    z_t >= sum_k (v_(k) - v_(k+1)) w_{k,t}, sum_{j<=k} y_{(j)}^t <= min(k, E_t) w_{k,t}, and the k
    largest need ceil(k / E) rounds: sum_t w_{k,t} >= ceil(k / E). On integer points w is the
    indicator and the rows are implied; the LP bound is at least the sorted bound. The pi chain's
    w is binary (branching on "round t holds one of the k slowest" closes the gap fastest; chains
    on U and Bk separately slowed HiGHS down, measured in ``benchmarks/three_tier.py``).
    """
    import pyomo.environ as pyo

    sizes = inst.round_sizes
    y = {(n, t): sum(m.x[n, e, t] for e in m.E) for n in m.N for t in m.T}
    chains = [("pi", (d.U + d.Bk).min(axis=1), lambda t: m.zU[t] + m.zB[t])]
    if inst.include_aggregation:
        chains += [("Au", d.a_up.min(axis=1), lambda t: m.zAu[t]), ("Ad", d.a_dn.min(axis=1), lambda t: m.zAd[t])]
    K_ = range(inst.N)
    for name, v, z in chains:
        order = np.argsort(-v, kind="stable")
        vs = np.append(v[order], 0.0)
        w = pyo.Var(K_, m.T, bounds=(0, 1), domain=pyo.Binary if name == "pi" else pyo.Reals,
                    doc=f"round t holds one of the k largest {name}")
        m.add_component(f"w_{name}", w)
        m.add_component(f"w_{name}_chain", pyo.Constraint(
            K_, m.T, rule=lambda m, k, t: w[k, t] >= (w[k - 1, t] if k else 0)))
        m.add_component(f"w_{name}_member", pyo.Constraint(
            K_, m.T, rule=lambda m, k, t: w[k, t] >= y[int(order[k]), t]))
        m.add_component(f"w_{name}_count", pyo.Constraint(
            K_, m.T, rule=lambda m, k, t: sum(y[int(order[j]), t] for j in range(k + 1))
            <= min(k + 1, sizes[t]) * w[k, t]))
        m.add_component(f"w_{name}_cover", pyo.Constraint(
            K_, rule=lambda m, k: sum(w[k, t] for t in m.T) >= -(-(k + 1) // inst.E)))
        m.add_component(f"z_{name}_sorted", pyo.Constraint(
            m.T, rule=lambda m, t: z(t) >= sum(float(vs[k] - vs[k + 1]) * w[k, t] for k in K_)))


def edge_classes(d: PairDelays) -> list[list[int]]:
    """Groups of edges whose U, Bk, a_up and a_dn columns are equal (interchangeable edges)."""
    E = d.U.shape[1]
    cols = [np.concatenate([d.U[:, e], d.Bk[:, e], d.a_up[:, e], d.a_dn[:, e]]) for e in range(E)]
    classes: list[list[int]] = []
    for e in range(E):
        for c in classes:
            if np.array_equal(cols[c[0]], cols[e]):
                c.append(e)
                break
        else:
            classes.append([e])
    return classes


def define_symmetry_breaking(m: Any, inst: Instance, d: PairDelays) -> None:
    """Interchangeable full rounds ordered by their first member, identical edges by their user.

    Users are ranked by pi_n = min_e (U + Bk), largest first (Algorithm B's order). Full round
    t >= 1 may hold the user of rank k only if round t - 1 holds a user of smaller rank (rounds
    sorted by their best-ranked member: one representative of every reordering of the full
    rounds). Within a full round, of two identical edges (:func:`edge_classes`) the first gets
    the better-ranked user. Both orderings keep one optimum of every class, so the optimum is
    unchanged; they assume no extra constraint tells rounds or identical edges apart.
    """
    import pyomo.environ as pyo

    sizes = inst.round_sizes
    order = np.argsort(-(d.U + d.Bk).min(axis=1), kind="stable")
    rank = np.empty(inst.N, dtype=int)
    rank[order] = np.arange(inst.N)
    full = [t for t in m.T if sizes[t] == inst.E]
    y = {(n, t): sum(m.x[n, e, t] for e in m.E) for n in m.N for t in m.T}
    m.sym_rounds = pyo.Constraint(
        range(inst.N), full[1:],
        rule=lambda m, k, t: y[int(order[k]), t] <= sum(y[int(order[j]), t - 1] for j in range(k)))
    pairs = [(c[i], c[i + 1]) for c in edge_classes(d) for i in range(len(c) - 1)]
    m.sym_edges = pyo.Constraint(
        range(len(pairs)), full,
        rule=lambda m, i, t: sum(int(rank[n]) * m.x[n, pairs[i][0], t] for n in m.N) + 1
        <= sum(int(rank[n]) * m.x[n, pairs[i][1], t] for n in m.N))


def schedule_from_model(inst: Instance, m: Any) -> list[np.ndarray]:
    """The rounds of (user, edge) pairs with x_{n,e}^t = 1 in a solved fixed-cut model
    (unvalued variables count as 0); check it with :func:`~.system.check_schedule`."""
    rounds = []
    for t in range(inst.T_ep):
        pairs = [(n, e) for n in range(inst.N) for e in range(inst.E)
                 if m.x[n, e, t].value is not None and m.x[n, e, t].value > 0.5]
        rounds.append(np.array(pairs, dtype=int).reshape(-1, 2))
    return rounds


_schedule_from_x = schedule_from_model


def solve_fixed_cut(inst: Instance, l_u: int, l_e: int, solver: str | None = None,
                    time_limit: float | None = None, mip_gap: float | None = None, *, strong: bool = False,
                    symmetry: bool = True, cutoff: float | None = None,
                    extra_constraints: ExtraConstraints | None = None, options: dict[str, Any] | None = None,
                    tee: bool = False) -> tuple[SolveResult, list[np.ndarray] | None]:
    """Build (:func:`build_fixed_cut`) and solve the fixed-cut MILP through :func:`slopt.solvers.solve`."""
    m = build_fixed_cut(inst, l_u, l_e, strong=strong, symmetry=symmetry, cutoff=cutoff,
                        extra_constraints=extra_constraints)
    res = solve(m, solver=solver, time_limit=time_limit, mip_gap=mip_gap, options=options, tee=tee)
    return res, (schedule_from_model(inst, m) if res.ok else None)


def formulations(inst: Instance) -> dict[str, Any]:
    """The fixed-cut MILP at the exact method's cut pair (its optimum is P1's optimum), in the
    spec's linear form and in the strong form."""
    from .methods import exact

    plan = exact(inst)
    l_u, l_e = plan.decision["l_u"], plan.decision["l_e"]
    return {"fixed-cut-milp": lambda: build_fixed_cut(inst, l_u, l_e),
            "fixed-cut-milp-strong": lambda: build_fixed_cut(inst, l_u, l_e, strong=True)}


