"""GSFL formulations (spec §4): the exact MISOCP for a fixed cut (CVXPY, Pyomo), the equal-bandwidth
makespan MILP (Pyomo), the same grouping in CP-SAT, the convex bandwidth split (CVXPY), and
:func:`formulations` for ``slopt compare``."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .instance import Instance
from .system import _coeffs, cut_figures, separable, sync_s


#: ``extra_constraints(model, instance) -> None``: called on every model a builder returns, after its
#: own constraints. Pyomo models and CP-SAT models are passed as built (add components / constraints
#: to them); CVXPY builders pass a namespace with the variables (``x``, ``alpha``, ``u``, ``T``, ...),
#: a mutable list ``constraints`` and ``objective``, from which the Problem is made afterwards.
ExtraConstraints = Callable[[Any, Any], None]


def _symmetric(a: np.ndarray) -> bool:
    return bool(np.all(a == a[:, :1]))


def _cvx_problem(objective: Any, cons: list[Any], variables: dict[str, Any],
                 extra_constraints: ExtraConstraints | None, instance: Any) -> Any:
    """cp.Problem(objective, cons) after ``extra_constraints`` saw the variables and the list."""
    import cvxpy as cp
    from types import SimpleNamespace

    if extra_constraints is not None:
        ns = SimpleNamespace(**variables, constraints=cons, objective=objective)
        extra_constraints(ns, instance)
        objective, cons = ns.objective, ns.constraints
    return cp.Problem(objective, cons)


def _extra(m: Any, extra_constraints: ExtraConstraints | None, instance: Any) -> Any:
    if extra_constraints is not None:
        extra_constraints(m, instance)
    return m


def build_bandwidth_cvxpy(A: Any, C: Any, *, extra_constraints: ExtraConstraints | None = None,
                          instance: Any = None) -> Any:
    """The convex bandwidth split as a CVXPY problem (the check of Alg. 5): min T s.t.
    T >= A_k + C_k / α_k, Σ α_k <= 1 (non-empty groups only)."""
    import cvxpy as cp

    A, C = np.asarray(A, dtype=float), np.asarray(C, dtype=float)
    alpha = cp.Variable(A.shape[0], nonneg=True, name="alpha")
    T = cp.Variable(name="T")
    u = cp.Variable(A.shape[0], nonneg=True, name="u")
    cons = [cp.sum(alpha) <= 1]
    for k in range(A.shape[0]):
        # u_k >= C_k / α_k as the rotated cone ||(2 √C_k, u_k - α_k)|| <= u_k + α_k: exact and free of the
        # division (inv_pos is a power-cone approximation; quad_over_lin is checked as C_k / α_k)
        cons.append(T >= A[k] + u[k])
        if C[k] > 0:
            cons.append(cp.norm(cp.hstack([2 * np.sqrt(C[k]), u[k] - alpha[k]]), 2) <= u[k] + alpha[k])
    return _cvx_problem(cp.Minimize(T), cons, {"alpha": alpha, "u": u, "T": T}, extra_constraints, instance)



def build_misocp_cvxpy(a: Any, C: Any, M: int, *, sync: float = 0.0, n_groups: int | None = None,
                       symmetry: str = "first-index", upper_bound: float | None = None,
                       extra_constraints: ExtraConstraints | None = None, instance: Any = None) -> Any:
    """The exact MISOCP of §4 for a fixed cut, in CVXPY.

    minimise T + sync·z  s.t.  T >= Σ_n a_{n,k} x_{n,k} + u_k;  ||(2 √C ∘ x_k, u_k - α_k)|| <= u_k + α_k
    (u_k α_k >= Σ_n C_n x_{n,k}², the rotated SOC; spec §4's quad_over_lin form without its 0/0 at an
    empty group);  Σ_k x_{n,k} = 1;  Σ_k α_k <= 1;  x binary.
    ``sync`` (T^dist + T^agg of the cut) is charged through (M-1) z >= Σ_k w_k - 1, w_k >= x_{n,k}
    (z = 1 when two or more groups are used; spec §4 "add a binary z"). ``n_groups`` forces exactly
    K groups (slots 0..K-1 non-empty). ``symmetry``: "first-index" (x_{n,k} = 0 for k > n),
    "size" (Σ_n x_{n,k} >= Σ_n x_{n,k+1}) or "none" -- never both (spec §4); only for identical
    edge servers (a without a k dependence).
    """
    import cvxpy as cp

    a, C = _coeffs(a, C, M)
    N = C.shape[0]
    x = cp.Variable((N, M), boolean=True, name="x")
    alpha = cp.Variable(M, nonneg=True, name="alpha")
    u = cp.Variable(M, nonneg=True, name="u")
    T = cp.Variable(name="T")
    cons = [cp.sum(x, axis=1) == 1, cp.sum(alpha) <= 1, alpha <= 1]                   # assignment, budget
    for k in range(M):
        cons.append(T >= a[:, k] @ x[:, k] + u[k])                                     # epigraph of Eq. 15
        # rotated SOC u_k α_k >= Σ_n C_n x_{n,k}² as ||(2 √C ∘ x_k, u_k - α_k)|| <= u_k + α_k (no 0/0 at an
        # empty group, where quad_over_lin(0, 0) would be evaluated)
        cons.append(cp.norm(cp.hstack([2 * cp.multiply(np.sqrt(C), x[:, k]), cp.hstack([u[k] - alpha[k]])]), 2)
                    <= u[k] + alpha[k])
        cons.append(u[k] >= C @ x[:, k])                                               # valid: α_k <= 1
    cons += _cvx_structure(cp, x, N, M, n_groups, symmetry if _symmetric(a) else "none")
    obj = T
    if sync > 0 and n_groups is None:
        w = cp.Variable(M, boolean=True, name="w")
        z = cp.Variable(boolean=True, name="z")
        cons += [w[k] >= x[n, k] for n in range(N) for k in range(M)]
        cons += [(M - 1) * z >= cp.sum(w) - 1]                                         # z = 1 if K >= 2
        obj = T + sync * z
    elif sync > 0:
        obj = T + (sync if n_groups >= 2 else 0.0)
    cons += [T >= lb for lb in _valid_bounds(a, C, M, n_groups)]                       # valid inequalities
    if upper_bound is not None:
        cons.append(obj <= upper_bound)                                                # incumbent cut-off
    return _cvx_problem(cp.Minimize(obj), cons, {"x": x, "alpha": alpha, "u": u, "T": T}, extra_constraints,
                        instance)


def _valid_bounds(a: np.ndarray, C: np.ndarray, M: int, n_groups: int | None) -> list[float]:
    """Valid lower bounds on T^train: T >= a_n + C_n (client n's group has α <= 1),
    T >= Σ_n C_n (C_k <= α_k (T - A_k) <= α_k T, summed with Σ α_k <= 1) and
    T >= Σ_n min_k a_{n,k} / K (the K groups share the computation)."""
    K = min(M, C.shape[0]) if n_groups is None else n_groups
    amin = a.min(axis=1)
    return [float(np.max(amin + C)), float(C.sum()), float(amin.sum()) / K]


def _cvx_structure(cp: Any, x: Any, N: int, M: int, n_groups: int | None, symmetry: str) -> list[Any]:
    cons = []
    if n_groups is not None:
        cons += [x[:, k] == 0 for k in range(n_groups, M)]
        cons += [cp.sum(x[:, k]) >= 1 for k in range(n_groups)]
    if symmetry == "first-index":
        cons += [x[n, k] == 0 for n in range(N) for k in range(M) if k > n]
    elif symmetry == "size":
        cons += [cp.sum(x[:, k]) >= cp.sum(x[:, k + 1]) for k in range(M - 1)]
    return cons


def build_misocp_pyomo(a: Any, C: Any, M: int, *, sync: float = 0.0, n_groups: int | None = None,
                       symmetry: str = "first-index", upper_bound: float | None = None,
                       extra_constraints: ExtraConstraints | None = None, instance: Any = None) -> Any:
    """The same MISOCP in Pyomo (u_k α_k >= Σ_n C_n x_{n,k}², for SCIP via scip_direct)."""
    import pyomo.environ as pyo

    a, C = _coeffs(a, C, M)
    N = C.shape[0]
    m = pyo.ConcreteModel(name="gsfl_misocp")
    m.N = pyo.Set(initialize=range(N), doc="clients 𝒩")
    m.K = pyo.Set(initialize=range(M), doc="group slots ℳ")
    m.x = pyo.Var(m.N, m.K, domain=pyo.Binary, doc="x_{n,k}: client n in group k")
    m.alpha = pyo.Var(m.K, bounds=(0, 1), doc="α_k: bandwidth fraction of group k")
    u_max = float(C.sum()) * 1e6 + 1.0
    m.u = pyo.Var(m.K, bounds=(0, u_max), doc="u_k >= C_k/α_k: communication time of group k")
    m.T = pyo.Var(domain=pyo.Reals, doc="T^train")

    @m.Constraint(m.K)
    def group_time(m, k):
        """Eq. 15 epigraph: T >= Σ_n a_{n,k} x_{n,k} + u_k."""
        return m.T >= sum(float(a[n, k]) * m.x[n, k] for n in m.N) + m.u[k]

    @m.Constraint(m.K)
    def cone(m, k):
        """Rotated SOC: u_k α_k >= Σ_n C_n x_{n,k}² (x binary: x = x²)."""
        return m.u[k] * m.alpha[k] >= sum(float(C[n]) * m.x[n, k] ** 2 for n in m.N)

    @m.Constraint(m.K)
    def comm_floor(m, k):
        """Valid: u_k >= C_k/α_k >= Σ_n C_n x_{n,k} since α_k <= 1 (tightens the relaxation)."""
        return m.u[k] >= sum(float(C[n]) * m.x[n, k] for n in m.N)

    @m.Constraint(m.N)
    def assign(m, n):
        """Σ_k x_{n,k} = 1: each client in exactly one group."""
        return sum(m.x[n, k] for k in m.K) == 1

    m.budget = pyo.Constraint(expr=sum(m.alpha[k] for k in m.K) <= 1, doc="Σ_k α_k <= 1")
    m.valid = pyo.Constraint(range(3), rule=lambda m, i: m.T >= _valid_bounds(a, C, M, n_groups)[i],
                             doc="valid lower bounds on T (see _valid_bounds)")
    _pyo_structure(pyo, m, N, M, n_groups, symmetry if _symmetric(a) else "none")
    obj = m.T + _pyo_sync_term(pyo, m, M, n_groups, sync)
    m.obj = pyo.Objective(expr=obj, sense=pyo.minimize)
    if upper_bound is not None:
        m.cutoff = pyo.Constraint(expr=obj <= float(upper_bound), doc="incumbent cut-off")
    return _extra(m, extra_constraints, instance)


def _pyo_sync_term(pyo: Any, m: Any, M: int, n_groups: int | None, sync: float) -> Any:
    """The synchronisation charge of the objective: ``sync`` when two or more groups are used.

    With a free group count, binaries w_k (group k non-empty) and z (two or more groups) with
    w_k >= x_{n,k} and (M-1) z >= Σ_k w_k - 1; with a fixed count, a constant."""
    if sync > 0 and n_groups is None:
        m.w = pyo.Var(m.K, domain=pyo.Binary, doc="w_k: group k non-empty")
        m.z = pyo.Var(domain=pyo.Binary, doc="z: two or more groups (sync charged)")
        m.used = pyo.Constraint(m.N, m.K, rule=lambda m, n, k: m.w[k] >= m.x[n, k])
        m.multi = pyo.Constraint(expr=(M - 1) * m.z >= sum(m.w[k] for k in m.K) - 1,
                                 doc="(M-1) z >= Σ_k w_k - 1: z = 1 when two or more groups are used")
        return float(sync) * m.z
    return float(sync) if sync > 0 and n_groups >= 2 else 0.0


def _pyo_structure(pyo: Any, m: Any, N: int, M: int, n_groups: int | None, symmetry: str) -> None:
    if n_groups is not None:
        m.unused = pyo.Constraint([(n, k) for n in range(N) for k in range(n_groups, M)],
                                  rule=lambda m, n, k: m.x[n, k] == 0, doc="slots beyond K unused")
        m.nonempty = pyo.Constraint(range(n_groups), rule=lambda m, k: sum(m.x[n, k] for n in m.N) >= 1,
                                    doc="exactly K groups: slots 0..K-1 non-empty")
    if symmetry == "first-index":
        pairs = [(n, k) for n in range(N) for k in range(M) if k > n]
        if pairs:
            m.sym = pyo.Constraint(pairs, rule=lambda m, n, k: m.x[n, k] == 0, doc="x_{n,k} = 0 for k > n")
    elif symmetry == "size":
        m.sym = pyo.Constraint(range(M - 1), rule=lambda m, k: sum(m.x[n, k] for n in m.N)
                               >= sum(m.x[n, k + 1] for n in m.N), doc="Σ_n x_{n,k} >= Σ_n x_{n,k+1}")


def build_deadline_milp(a: Any, C: Any, M: int, T: float, *, sync: float = 0.0, n_groups: int | None = None,
                        symmetry: str = "first-index", extra_constraints: ExtraConstraints | None = None,
                        instance: Any = None) -> Any:
    """The bandwidth a training deadline T needs (Eq. 15 read backwards), an exact MILP in Pyomo.

    For a fixed T, group k finishes by T iff C_k <= α_k (T - A_k), i.e.
    Σ_n C_n x_{n,k} + Σ_n a_{n,k} ω_{n,k} <= T α_k with ω_{n,k} = x_{n,k} α_k, which is linear and exact
    for binary x (ω <= α_k, ω <= x_{n,k}, ω >= α_k - (1 - x_{n,k}), ω >= 0). Objective
    T · Σ_k α_k + sync · z (z = 1 when two or more groups are used). With T the optimal training
    time T* of a grouped optimum, no partition needs less than the whole band (it would finish
    earlier), so the optimum is T* + sync: the problem's optimum, reached by any MILP solver.
    """
    import pyomo.environ as pyo

    a, C = _coeffs(a, C, M)
    N = C.shape[0]
    T = float(T)
    m = pyo.ConcreteModel(name="gsfl_deadline_milp")
    m.N = pyo.Set(initialize=range(N), doc="clients 𝒩")
    m.K = pyo.Set(initialize=range(M), doc="group slots ℳ")
    m.x = pyo.Var(m.N, m.K, domain=pyo.Binary, doc="x_{n,k}: client n in group k")
    m.alpha = pyo.Var(m.K, bounds=(0, 1), doc="α_k: bandwidth fraction of group k")
    m.xalpha = pyo.Var(m.N, m.K, bounds=(0, 1), doc="ω_{n,k} = x_{n,k} α_k")

    @m.Constraint(m.K)
    def deadline(m, k):
        """Eq. 15 at T: Σ_n C_n x_{n,k} <= T α_k - Σ_n a_{n,k} x_{n,k} α_k."""
        return sum(float(C[n]) * m.x[n, k] + float(a[n, k]) * m.xalpha[n, k] for n in m.N) <= T * m.alpha[k]

    m.prod_ub1 = pyo.Constraint(m.N, m.K, rule=lambda m, n, k: m.xalpha[n, k] <= m.alpha[k], doc="ω <= α_k")
    m.prod_ub2 = pyo.Constraint(m.N, m.K, rule=lambda m, n, k: m.xalpha[n, k] <= m.x[n, k], doc="ω <= x")
    m.prod_lb = pyo.Constraint(m.N, m.K, rule=lambda m, n, k: m.xalpha[n, k] >= m.alpha[k] - (1 - m.x[n, k]),
                               doc="ω >= α_k - (1 - x)")
    m.assign = pyo.Constraint(m.N, rule=lambda m, n: sum(m.x[n, k] for k in m.K) == 1,
                              doc="Σ_k x_{n,k} = 1: each client in exactly one group")
    _pyo_structure(pyo, m, N, M, n_groups, symmetry if _symmetric(a) else "none")
    obj = T * sum(m.alpha[k] for k in m.K) + _pyo_sync_term(pyo, m, M, n_groups, sync)
    m.obj = pyo.Objective(expr=obj, sense=pyo.minimize)
    return _extra(m, extra_constraints, instance)


def build_milp_pyomo(p: Any, K: int, *, n_groups: int | None = None, symmetry: str = "first-index",
                     extra_constraints: ExtraConstraints | None = None, instance: Any = None) -> Any:
    """The equal-bandwidth MILP (makespan, P||C_max; R||C_max if p depends on k) in Pyomo.

    ``p[n, k]`` = a_{n,k} + C_n/α with the fixed α (spec: α_k = 1/K, so p = a + K C);
    minimise T s.t. T >= Σ_n p_{n,k} x_{n,k} for every slot k < K, Σ_k x_{n,k} = 1.
    """
    import pyomo.environ as pyo

    p = np.asarray(p, dtype=float)
    p = np.repeat(p[:, None], K, axis=1) if p.ndim == 1 else p[:, :K]
    N = p.shape[0]
    m = pyo.ConcreteModel(name="gsfl_equal_bandwidth_milp")
    m.N = pyo.Set(initialize=range(N), doc="clients")
    m.K = pyo.Set(initialize=range(K), doc="group slots")
    m.x = pyo.Var(m.N, m.K, domain=pyo.Binary, doc="x_{n,k}")
    m.T = pyo.Var(domain=pyo.NonNegativeReals, doc="T^train (makespan)")

    @m.Constraint(m.K)
    def makespan(m, k):
        """T >= T_k = Σ_n x_{n,k}(a_n + C_n/α_k), α_k fixed (spec §4 MILP special case)."""
        return m.T >= sum(float(p[n, k]) * m.x[n, k] for n in m.N)

    @m.Constraint(m.N)
    def assign(m, n):
        """Σ_k x_{n,k} = 1."""
        return sum(m.x[n, k] for k in m.K) == 1

    _pyo_structure(pyo, m, N, K, n_groups, symmetry if _symmetric(p) else "none")
    m.obj = pyo.Objective(expr=m.T, sense=pyo.minimize)
    return _extra(m, extra_constraints, instance)


#: CP-SAT needs integers: processing times are scaled so that the total load is about this many
#: units (int64-safe; rounding error per client <= 0.5 unit, i.e. ~1e-9 relative).
CPSAT_UNITS = 1e9


def build_cpsat(p: Any, K: int, *, n_groups: int | None = None, symmetry: str = "first-index",
                extra_constraints: ExtraConstraints | None = None, instance: Any = None) -> Any:
    """The same grouping (equal bandwidth, makespan) as an OR-Tools CP-SAT model.

    Times are scaled to integers (``model.gsfl_scale`` units per second). Returns the CpModel.
    """
    from ortools.sat.python import cp_model

    p = np.asarray(p, dtype=float)
    p = np.repeat(p[:, None], K, axis=1) if p.ndim == 1 else p[:, :K]
    N = p.shape[0]
    scale = CPSAT_UNITS / max(float(p.max(axis=1).sum()), 1e-300)
    q = np.rint(p * scale).astype(np.int64)
    m = cp_model.CpModel()
    x = {(n, k): m.new_bool_var(f"x[{n},{k}]") for n in range(N) for k in range(K)}
    T = m.new_int_var(0, int(q.max(axis=1).sum()), "T")
    for n in range(N):
        m.add_exactly_one(x[n, k] for k in range(K))                         # Σ_k x_{n,k} = 1
    for k in range(K):
        m.add(T >= sum(int(q[n, k]) * x[n, k] for n in range(N)))            # makespan
    if n_groups is not None:
        for k in range(n_groups):
            m.add_bool_or([x[n, k] for n in range(N)])
    if symmetry == "first-index" and _symmetric(p):
        for n in range(N):
            for k in range(n + 1, K):
                m.add(x[n, k] == 0)
    elif symmetry == "size" and _symmetric(p):
        for k in range(K - 1):
            m.add(sum(x[n, k] for n in range(N)) >= sum(x[n, k + 1] for n in range(N)))
    m.minimize(T)
    m.gsfl_scale = scale
    m.gsfl_x = x
    return _extra(m, extra_constraints, instance)


def _x_from_pyomo(m: Any, N: int, K: int) -> np.ndarray:
    import pyomo.environ as pyo

    X = np.array([[pyo.value(m.x[n, k]) for k in range(K)] for n in range(N)])
    return np.argmax(X, axis=1)


def _x_from_cvxpy(prob: Any) -> np.ndarray:
    x = next(v for v in prob.variables() if v.name() == "x")
    return np.argmax(x.value, axis=1)


def formulations(inst: Instance, extra_constraints: ExtraConstraints | None = None) -> dict[str, Callable[[], Any]]:
    """Zero-argument builders whose optimum is the problem's optimum, for ``slopt compare``.

    Shared band: the MISOCP (CVXPY and Pyomo; SCIP) at the exact cut, and the deadline MILP at the
    exact cut and the optimal training time (HiGHS, CBC, GLPK, SCIP) when the optimum uses two or
    more groups. Own band per group (``shared_band=False``): the makespan MILP at the exact cut and
    group count. Without a fixed cut the builders use the exact method's cut (found by solving).
    ``extra_constraints(model, instance)`` is applied to every model built (and to the exact solve
    that picks the cut).
    """
    from .exact import exact

    if inst.rate_model != "fixed-se" or inst.intra_group != "sequential":
        return {}
    xc = extra_constraints
    if not inst.shared_band:
        # each group has its own band: P is the makespan MILP with p = a + C over K slots (see
        # _exact_milp_own_band); at the exact method's cut and group count its optimum is the
        # optimal training-phase makespan, so MILP backends (HiGHS, CBC, GLPK, SCIP) compare on it
        c, x = exact(inst, extra_constraints=xc)[:2]
        a, C = separable(inst, c)
        K = int(np.unique(x).size)
        ng = inst.n_groups if inst.n_groups is not None and inst.n_groups == K else None
        return {f"makespan-milp[c={c},K={K}]":
                lambda: build_milp_pyomo(a + C[:, None], K, n_groups=ng, extra_constraints=xc, instance=inst)}
    c, x, res, _ = exact(inst, extra_constraints=xc)
    c = inst.cut if inst.cut is not None else c
    a, C = separable(inst, c)
    sync = sum(sync_s(inst, cut_figures(inst.profile, c), 2))
    out = {
        f"misocp-cvxpy[c={c}]": lambda: build_misocp_cvxpy(a, C, inst.M, sync=sync, n_groups=inst.n_groups,
                                                           extra_constraints=xc, instance=inst),
        f"misocp-pyomo[c={c}]": lambda: build_misocp_pyomo(a, C, inst.M, sync=sync, n_groups=inst.n_groups,
                                                           extra_constraints=xc, instance=inst),
    }
    if np.unique(x).size >= 2:
        T = float(res.objective) - sync
        out[f"deadline-milp[c={c},T={T:.6g}]"] = lambda: build_deadline_milp(
            a, C, inst.M, T, sync=sync, n_groups=inst.n_groups, extra_constraints=xc, instance=inst)
    return out


# ------------------------------------------------------------------ set partitioning over client subsets
#: Objective scale of the set-partitioning MILP (HiGHS's absolute gap 1e-6 -> 1e-10 relative).
_COST_SCALE = 1e4


def _subset_sums(v: np.ndarray) -> np.ndarray:
    """s[S] = Σ_{n ∈ S} v_n for every subset S of range(N), bit n of the index S <-> client n."""
    s = np.zeros(1)
    for x in np.asarray(v, dtype=float):
        s = np.concatenate([s, s + x])
    return s


def _server_classes(inst: Instance) -> list[tuple[float, np.ndarray]]:
    """Edge servers grouped by speed F_k: [(F_j, slots of class j)]; identical servers are one class,
    so relabelling groups among them is never enumerated (the symmetry is removed, not broken)."""
    out: list[tuple[float, np.ndarray]] = []
    for F in np.unique(inst.edge_flops)[::-1]:
        out.append((float(F), np.flatnonzero(inst.edge_flops == F)))
    return out


def _separable_parts(inst: Instance, c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eq. 15 split per client: client computation p_n (s), server work w_n (FLOP, a_{n,k} = p_n + w_n/F_k)
    and communication at the full band C_n (s)."""
    fig = cut_figures(inst.profile, c)
    I, b = inst.iterations, inst.batch
    p = I * b * (fig.client_fwd_flop + fig.client_bwd_flop) / inst.client_flops
    w = I * b * (fig.server_fwd_flop + fig.server_bwd_flop) * np.ones(inst.N)
    return p, w, separable(inst, c)[1]


class _CutColumns:
    """Every client subset S of one cut as a candidate group on each server class j:
    A^j_S = Σ_S a_{n,j}, C_S = Σ_S C_n and the bandwidth it needs to finish by T,
    h^j_T(S) = C_S / (T - A^j_S) (Alg. 5's α_k for a deadline T)."""

    def __init__(self, inst: Instance, c: int, T_max: float) -> None:
        p, w, C = _separable_parts(inst, c)
        P, Q, self.Csum = _subset_sums(p), _subset_sums(w), _subset_sums(C)
        self.classes = _server_classes(inst)
        self.N = inst.N
        self.idx, self.A = [], []
        for F, _ in self.classes:
            A = P + Q / F
            ok = np.flatnonzero(A + self.Csum <= T_max * (1 + 1e-12))    # h <= 1 at T_max (α_k <= 1)
            ok = ok[ok > 0]
            self.idx.append(ok)
            self.A.append(A[ok])

    def h(self, j: int, T: float) -> np.ndarray:
        slack = T - self.A[j]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(slack > 0, self.Csum[self.idx[j]] / slack, np.inf)

    def pos(self, j: int, S: int) -> int:
        """Position of subset S among class j's candidates, -1 if it is not one (h > 1 at T_max)."""
        i = int(np.searchsorted(self.idx[j], S))
        return i if i < self.idx[j].size and self.idx[j][i] == S else -1

    def members(self, S: int) -> np.ndarray:
        return np.flatnonzero((S >> np.arange(self.N)) & 1)


def _master(cols: list[tuple[int, int]], costs: list[float], N: int, caps: list[int], n_groups: int | None,
            integer: bool, time_limit: float | None = None) -> tuple[Any, Any]:
    """The set-partitioning master over the given columns (S, class j) with costs h^j_T(S):
    min Σ h y  s.t.  Σ_{S ∋ n} y = 1 (each client in one group),  Σ_{S} y_{S,j} <= m_j (servers of
    class j),  Σ y = K if the number of groups is forced.  LP (with an artificial per client) or MILP."""
    from scipy.optimize import Bounds, LinearConstraint, linprog, milp
    from scipy.sparse import coo_matrix

    J = len(caps)
    rows, cidx = [], []
    for i, (S, _) in enumerate(cols):
        for n in np.flatnonzero((S >> np.arange(N)) & 1):
            rows.append(int(n))
            cidx.append(i)
    ncol = len(cols)
    A_eq = coo_matrix((np.ones(len(rows)), (rows, cidx)), shape=(N, ncol)).tocsr()
    cls = np.array([j for _, j in cols])
    A_ub = coo_matrix((np.ones(ncol), (cls, np.arange(ncol))), shape=(J, ncol)).tocsr()
    cost = np.asarray(costs, dtype=float)
    if not integer:
        from scipy.sparse import hstack, identity, vstack

        art = 1e3 * np.ones(N)                     # artificial columns keep the LP feasible
        A_eq = hstack([A_eq, identity(N)]).tocsr()
        A_ub = hstack([A_ub, coo_matrix((J, N))]).tocsr()
        cost = np.concatenate([cost, art])
        b_eq = np.ones(N)
        if n_groups is not None:
            A_eq = vstack([A_eq, np.concatenate([np.ones(ncol), np.zeros(N)])[None, :]]).tocsr()
            b_eq = np.concatenate([b_eq, [n_groups]])
        res = linprog(cost, A_ub=A_ub, b_ub=np.asarray(caps, dtype=float), A_eq=A_eq, b_eq=b_eq,
                      bounds=(0, None), method="highs")
        return res, None
    cons = [LinearConstraint(A_eq, 1, 1), LinearConstraint(A_ub, 0, np.asarray(caps, dtype=float))]
    if n_groups is not None:
        cons.append(LinearConstraint(np.ones((1, ncol)), n_groups, n_groups))
    opts: dict[str, Any] = {"mip_rel_gap": 0.0}
    if time_limit is not None:
        opts["time_limit"] = float(time_limit)
    res = milp(cost * _COST_SCALE, constraints=cons, integrality=np.ones(ncol), bounds=Bounds(0, 1), options=opts)
    return res, cost
