"""CARD explicit formulations (spec §4.3), scaled for the solvers: f in GHz, Gamma in gigacycles,
kappa * 1e27 (J per gigacycle per GHz^2).

* (a) :func:`build_inner` -- P2(c) of one turn and cut, CVXPY (DCP); :func:`build_enumeration`
  -- every (turn, cut) inner problem in one separable DCP problem;
* (b) :func:`build_misocp` -- the perspective MISOCP, CVXPY (SCIP);
* (c) :func:`build_minlp` -- the naive non-convex MINLP, Pyomo (SCIP's global search);
* :func:`formulations` -- zero-argument builders whose optimum is P0 (for ``slopt compare``).

Every builder takes ``extra_constraints``, a callback ``(model, instance) -> None`` called once on
the model before it is returned, to add constraints of one's own (see "Extend a formulation" in
``docs/card.md``). For the Pyomo builder (c) ``model`` is the ``ConcreteModel`` (add components
to it). For the CVXPY builders (a), (b) a CVXPY problem cannot be changed after it is built, so
``model`` is a :class:`CvxpyModel`: the variables by the spec's names (GHz for f) and the list
``constraints`` that the callback appends to; the problem is built after the callback.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slopt.errors import ValidationError

from .algorithm import card_decide
from .instance import GHZ, KAPPA_SCALE, CardInstance
from .system import _cut_tables, freq_independent_delay_s

#: the type of the ``extra_constraints`` callbacks: ``(model, instance) -> None``
ExtraConstraints = Callable[[Any, CardInstance], None]


@dataclass
class CvxpyModel:
    """What an ``extra_constraints`` callback receives from a CVXPY builder.

    ``variables``: the builder's CVXPY variables by name (``f`` in GHz for (a); for (b) per turn
    ``x[(m, n)]`` (one-hot over ``cuts[(m, n)]``), ``f[(m, n)]`` (the per-cut frequency copies,
    GHz), ``y``, ``e``); ``expressions``: ``T`` / ``E`` (delay s, server energy J) where the builder
    has them; ``constraints``: the list the callback appends CVXPY constraints to; ``data``: the
    builder's per-cut data (cuts, A, Gamma in gigacycles) per turn.
    """

    variables: dict[str, Any]
    expressions: dict[str, Any] = field(default_factory=dict)
    constraints: list[Any] = field(default_factory=list)
    data: dict[Any, Any] = field(default_factory=dict)


def _apply_cvxpy(extra: ExtraConstraints | None, inst: CardInstance, view: CvxpyModel) -> list[Any]:
    """Run the callback on ``view`` and return the constraints it added."""
    n0 = len(view.constraints)
    if extra is not None:
        extra(view, inst)
    return view.constraints[n0:]

def _turn_data(inst: CardInstance, m: int, n: int) -> dict[str, Any]:
    """Per-cut data of turn (m, n) restricted to C_n, scaled for the solvers (§4.3)."""
    tab = _cut_tables(inst)
    mask = ~tab["infeasible"][n]
    A = freq_independent_delay_s(inst, tab, slice(m, m + 1))[0, n]
    return {"cuts": tab["cuts"][mask], "A": A[mask], "Gamma_G": tab["Gamma"][mask] / GHZ,
            "kappa_s": inst.kappa * KAPPA_SCALE, "f_min_G": inst.f_min / GHZ, "f_max_G": inst.f_max / GHZ}


def build_inner(inst: CardInstance, m: int, n: int, c: int,
                extra_constraints: ExtraConstraints | None = None) -> Any:
    """(a) P2(c) of turn (m, n) in CVXPY (DCP): the per-cut convex inner problem.

    minimise omega_T (A + Gamma inv_pos(f)) + omega_E kappa Gamma f^2   (weighted; the
    Tchebycheff variant minimises the max of the two terms), s.t. f_min <= f <= f_max (C2) and,
    with (C3), A + Gamma inv_pos(f) <= T_max. ``problem.value`` is J(c, f*(c)).
    """
    import cvxpy as cp

    d = _turn_data(inst, m, n)
    k = int(np.flatnonzero(d["cuts"] == c)[0]) if (d["cuts"] == c).any() else None
    if k is None:
        raise ValidationError(f"cut c = {c} is not in C_n of device {n}", "cut")
    A, G, ks = float(d["A"][k]), float(d["Gamma_G"][k]), d["kappa_s"]
    f = cp.Variable(name="f_GHz")
    T = A + G * cp.inv_pos(f)                                   # Eq. R-7
    E = ks * G * cp.square(f)                                   # Eq. R-9
    cons = [f >= d["f_min_G"], f <= d["f_max_G"]]               # (C2)
    if inst.t_max_s is not None:
        cons.append(T <= inst.t_max_s)                          # (C3)
    obj = inst.omega_T * T + inst.omega_E * E if inst.scalarisation == "weighted" \
        else cp.maximum(inst.omega_T * T, inst.omega_E * E)
    cons += _apply_cvxpy(extra_constraints, inst, CvxpyModel({"f": f}, {"T": T, "E": E}, list(cons),
                                                             {(m, n): d}))
    return cp.Problem(cp.Minimize(obj), cons)


def build_enumeration(inst: CardInstance, dedupe: bool = True,
                      extra_constraints: ExtraConstraints | None = None) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """(a) for the whole horizon: P2(c) of every (turn, cut) pair in ONE separable DCP problem.

    One variable f (GHz) per distinct inner problem; the objective is the sum of the inner
    objectives, so each variable solves its own P2. Pairs outside C_n, and with (C3) pairs that
    miss T_max even at f_max (spec §5.1: skipped in the cut search), are left out. With
    ``dedupe``, pairs whose inner problem has the same data are solved once: with the weighted
    objective and no (C3) that data is Gamma(c) alone (A only adds a constant), with the
    Tchebycheff objective or (C3) it is (Gamma(c), A_{m,n}(c)).

    Returns (problem, f variable, mask (M N, K) of the pairs included, index of each included
    pair's variable). ``problem.card_terms`` holds the inner objectives (with the A of the
    representative pair). With ``extra_constraints`` there is no de-duplication (one variable
    per included pair, so a constraint can name one turn); the callback sees ``f`` and the
    ``pairs`` array (turn index m N + n, cut) of each variable in ``data``.
    """
    import cvxpy as cp

    tab = _cut_tables(inst)
    A = freq_independent_delay_s(inst, tab).reshape(inst.M * inst.N, -1)
    G = np.broadcast_to(tab["Gamma"] / GHZ, A.shape)
    keep = np.repeat(~tab["infeasible"][None], inst.M, axis=0).reshape(A.shape)
    if inst.t_max_s is not None:
        # the cut search's feasibility rule (f_lb <= f_max (1 + 1e-12), spec §5.1), so that both
        # agree on a turn whose fastest decision meets T_max to rounding
        slack = inst.t_max_s - A
        keep &= np.where(G > 0, (slack > 0) & (G <= slack * (inst.f_max / GHZ) * (1 + 1e-12)), slack >= 0)
    Gk, Ak = G[keep], A[keep]
    only_gamma = inst.scalarisation == "weighted" and inst.t_max_s is None
    if dedupe and extra_constraints is None:
        key = Gk[:, None] if only_gamma else np.column_stack([Gk, Ak])
        _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    else:
        first, inv = np.arange(Gk.shape[0]), np.arange(Gk.shape[0])
    Gv, Av = Gk[first], Ak[first]
    ks = inst.kappa * KAPPA_SCALE
    f = cp.Variable(Gv.shape[0], name="f_GHz")
    T = Av + cp.multiply(Gv, cp.inv_pos(f))                       # Eq. R-7
    E = ks * cp.multiply(Gv, cp.square(f))                        # Eq. R-9
    cons = [f >= inst.f_min / GHZ, f <= inst.f_max / GHZ]         # (C2)
    if inst.t_max_s is not None:
        cons.append(T <= inst.t_max_s)                            # (C3)
    terms = inst.omega_T * T + inst.omega_E * E if inst.scalarisation == "weighted" \
        else cp.maximum(inst.omega_T * T, inst.omega_E * E)
    pairs = np.argwhere(keep)[first]
    pairs[:, 1] = tab["cuts"][pairs[:, 1]]
    cons += _apply_cvxpy(extra_constraints, inst, CvxpyModel({"f": f}, {"T": T, "E": E}, list(cons),
                                                             {"pairs": pairs}))
    prob = cp.Problem(cp.Minimize(cp.sum(terms)), cons)
    prob.card_terms = terms
    prob.card_A = Av
    return prob, f, keep, np.asarray(inv).reshape(-1)


def build_misocp(inst: CardInstance, turns: list[tuple[int, int]] | None = None,
                 extra_constraints: ExtraConstraints | None = None) -> tuple[Any, dict]:
    """(b) the perspective MISOCP of spec §4.3(b) in CVXPY, for a MISOCP solver (SCIP).

    For each turn (m, n) in ``turns`` (default: one turn, (0, 0); pass all turns for the joint
    P0 of claim 4): binaries x_c (one-hot over C_n), frequency copies f_c with
    f_min x_c <= f_c <= f_max x_c, server-time epigraphs y_c f_c >= Gamma_c x_c^2 and energy
    epigraphs e_c x_c >= kappa Gamma_c f_c^2 (rotated cones, the perspectives of Gamma/f and
    kappa Gamma f^2, written as second-order cones). Objective: (1/|turns|) sum over turns of
    omega_T [sum_c x_c A_c + sum_c y_c] + omega_E sum_c e_c (Tchebycheff: an epigraph z_t of the
    max). Returns (problem, {turn: (x, f_c, cuts)}).
    """
    import cvxpy as cp

    turns = [(0, 0)] if turns is None else list(turns)
    cons: list[Any] = []
    terms = []
    handles: dict[tuple[int, int], tuple[Any, Any, np.ndarray]] = {}
    view = CvxpyModel({"x": {}, "f": {}, "y": {}, "e": {}}, {"T": {}, "E": {}}, [], {})
    for (m, n) in turns:
        d = _turn_data(inst, m, n)
        K = d["cuts"].shape[0]
        x = cp.Variable(K, boolean=True, name=f"x_{m}_{n}")
        fc = cp.Variable(K, name=f"f_{m}_{n}")
        y = cp.Variable(K, nonneg=True, name=f"y_{m}_{n}")
        e = cp.Variable(K, nonneg=True, name=f"e_{m}_{n}")
        cons += [cp.sum(x) == 1,                                             # one cut (C1)
                 fc >= d["f_min_G"] * x, fc <= d["f_max_G"] * x]             # (C2) on the copy
        for k in range(K):
            # rotated cones as SOCs, ||(2 u, a - b)|| <= a + b  <=>  a b >= u^2, a, b >= 0, which
            # stay finite at x_c = f_c = 0 (quad_over_lin would evaluate 0/0 there)
            G = float(d["Gamma_G"][k])
            cons.append(cp.norm(cp.hstack([2.0 * math.sqrt(G) * x[k], y[k] - fc[k]]), 2)
                        <= y[k] + fc[k])                                           # y f >= G x^2
            cons.append(cp.norm(cp.hstack([2.0 * math.sqrt(d["kappa_s"] * G) * fc[k], e[k] - x[k]]), 2)
                        <= e[k] + x[k])                                            # e x >= kappa G f^2
        T = d["A"] @ x + cp.sum(y)
        E = cp.sum(e)
        if inst.t_max_s is not None:
            cons.append(T <= inst.t_max_s)                                   # (C3)
        if inst.scalarisation == "weighted":
            terms.append(inst.omega_T * T + inst.omega_E * E)
        else:
            z = cp.Variable(name=f"z_{m}_{n}")
            cons += [z >= inst.omega_T * T, z >= inst.omega_E * E]
            terms.append(z)
        handles[(m, n)] = (x, fc, d["cuts"])
        for key, v in (("x", x), ("f", fc), ("y", y), ("e", e)):
            view.variables[key][(m, n)] = v
        view.expressions["T"][(m, n)], view.expressions["E"][(m, n)] = T, E
        view.data[(m, n)] = d
    view.constraints = list(cons)
    cons += _apply_cvxpy(extra_constraints, inst, view)
    return cp.Problem(cp.Minimize(cp.sum(cp.hstack(terms)) / len(turns)), cons), handles


def build_minlp(inst: CardInstance, turns: list[tuple[int, int]] | None = None,
                extra_constraints: ExtraConstraints | None = None) -> Any:
    """(c) the naive non-convex MINLP of spec §4.3(c) in Pyomo, for a global solver (SCIP).

    Sets: T (the device turns (m, n); default one turn, (0, 0)) and TC (turn, cut) pairs with
    c in C_n. Variables per turn: x_{t,c} binary (one-hot), one f_t in [f_min, f_max] GHz, y_t
    (server time, s) and e_t (server energy, J); the bounds on y and e are implied by the data
    and only help the global solver. Objective: the mean over T of the turn objectives (P0 when
    T is every turn). ``extra_constraints(model, inst)`` is called on the finished model.
    """
    import pyomo.environ as pyo

    turns = [(0, 0)] if turns is None else [(int(m), int(n)) for (m, n) in turns]
    data = {t: _turn_data(inst, *t) for t in turns}
    f_lo, f_hi, ks = inst.f_min / GHZ, inst.f_max / GHZ, inst.kappa * KAPPA_SCALE
    mdl = pyo.ConcreteModel(name="card_minlp")
    mdl.T = pyo.Set(initialize=turns, dimen=2, ordered=True, doc="device turns (m, n)")
    mdl.TC = pyo.Set(dimen=3, ordered=True, doc="(m, n, c) with c in C_n (C1, C4)",
                     initialize=[(m, n, int(c)) for (m, n) in turns for c in data[(m, n)]["cuts"]])
    mdl.A = pyo.Param(mdl.TC, doc="A_{m,n}(c), s", initialize={
        (m, n, int(c)): float(a) for (m, n) in turns for c, a in zip(data[(m, n)]["cuts"], data[(m, n)]["A"])})
    mdl.Gamma = pyo.Param(mdl.TC, doc="Gamma(c), gigacycles", initialize={
        (m, n, int(c)): float(g) for (m, n) in turns for c, g in zip(data[(m, n)]["cuts"], data[(m, n)]["Gamma_G"])})
    mdl.x = pyo.Var(mdl.TC, domain=pyo.Binary, doc="x_{t,c} = 1 iff turn t cuts after layer c")
    mdl.f = pyo.Var(mdl.T, bounds=(f_lo, f_hi), doc="server frequency, GHz (C2)")
    mdl.y = pyo.Var(mdl.T, doc="server time, s", bounds=lambda b, m, n: (
        float(data[(m, n)]["Gamma_G"].min()) / f_hi, float(data[(m, n)]["Gamma_G"].max()) / f_lo))
    mdl.e = pyo.Var(mdl.T, doc="server energy, J", bounds=lambda b, m, n: (
        0.0, ks * float(data[(m, n)]["Gamma_G"].max()) * f_hi ** 2))

    def cuts_of(b: Any, m: int, n: int) -> list[int]:
        return [int(c) for c in data[(m, n)]["cuts"]]

    @mdl.Constraint(mdl.T, doc="one cut layer per turn (C1)")
    def one_cut(b: Any, m: int, n: int) -> Any:
        return sum(b.x[m, n, c] for c in cuts_of(b, m, n)) == 1

    @mdl.Constraint(mdl.T, doc="server time y f >= Gamma(c) (Eq. R-4)")
    def server_time(b: Any, m: int, n: int) -> Any:
        return b.y[m, n] * b.f[m, n] >= sum(b.Gamma[m, n, c] * b.x[m, n, c] for c in cuts_of(b, m, n))

    @mdl.Constraint(mdl.T, doc="server energy e >= kappa f^2 Gamma(c) (Eq. R-9)")
    def server_energy(b: Any, m: int, n: int) -> Any:
        return b.e[m, n] >= ks * b.f[m, n] ** 2 * sum(b.Gamma[m, n, c] * b.x[m, n, c] for c in cuts_of(b, m, n))

    @mdl.Expression(mdl.T, doc="training delay T_{m,n} (Eq. R-7)")
    def delay(b: Any, m: int, n: int) -> Any:
        return sum(b.A[m, n, c] * b.x[m, n, c] for c in cuts_of(b, m, n)) + b.y[m, n]

    if inst.t_max_s is not None:
        @mdl.Constraint(mdl.T, doc="delay limit (C3)")
        def delay_limit(b: Any, m: int, n: int) -> Any:
            return b.delay[m, n] <= inst.t_max_s

    if inst.scalarisation == "weighted":
        mdl.obj = pyo.Objective(sense=pyo.minimize, expr=sum(
            inst.omega_T * mdl.delay[t] + inst.omega_E * mdl.e[t] for t in mdl.T) / len(turns))
    else:
        mdl.z = pyo.Var(mdl.T, doc="max of the weighted objectives (Tchebycheff, §5.1)")
        mdl.z_T = pyo.Constraint(mdl.T, rule=lambda b, m, n: b.z[m, n] >= inst.omega_T * b.delay[m, n])
        mdl.z_E = pyo.Constraint(mdl.T, rule=lambda b, m, n: b.z[m, n] >= inst.omega_E * b.e[m, n])
        mdl.obj = pyo.Objective(expr=sum(mdl.z[t] for t in mdl.T) / len(turns), sense=pyo.minimize)
    if extra_constraints is not None:
        extra_constraints(mdl, inst)
    return mdl


def formulations(inst: CardInstance) -> dict[str, Any]:
    """Zero-argument builders of formulations whose optimum is P0 of ``inst`` (for ``slopt compare``).

    ``misocp``: the perspective MISOCP (b) over all turns (CVXPY; SCIP); ``minlp``: the naive
    MINLP (c) over all turns (Pyomo; SCIP global); ``inner-at-card-cuts``: the convex inner
    problems (a) at the cuts CARD chose, averaged over turns (CVXPY; Clarabel, SCS, SCIP). The
    full enumeration (a) is not listed: its optimum is a sum over every (turn, cut) pair, not P0.
    """
    turns = [(m, n) for m in range(inst.M) for n in range(inst.N)]

    def inner_at_card_cuts() -> Any:
        # (a) at the cuts CARD chose: P0 decomposes per turn and CARD's cut search is exhaustive
        # (claim 3), so the sum of the inner convex problems at those cuts has P0's optimum;
        # conic backends (Clarabel, SCS, SCIP) can then be compared on the same instance
        c, _, _ = card_decide(inst)
        probs = [build_inner(inst, m, n, int(c[m, n])) for m, n in turns]
        return sum(probs[1:], probs[0]) / len(turns)

    return {"misocp": lambda: build_misocp(inst, turns)[0], "minlp": lambda: build_minlp(inst, turns),
            "inner-at-card-cuts": inner_at_card_cuts}


