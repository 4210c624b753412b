"""GSFL formulations (spec §4): the exact MISOCP for a fixed cut (CVXPY, Pyomo), the equal-bandwidth
makespan MILP (Pyomo), the same grouping in CP-SAT, the convex bandwidth split (CVXPY), and
:func:`formulations` for ``slopt compare``."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .instance import Instance
from .system import _coeffs, cut_figures, separable, sync_s


# =====================================================================================
# 6. Formulations (spec §4)
# =====================================================================================
def _symmetric(a: np.ndarray) -> bool:
    return bool(np.all(a == a[:, :1]))

def build_bandwidth_cvxpy(A: Any, C: Any) -> Any:
    """The convex bandwidth split as a CVXPY problem (the check of Alg. 5): min T s.t.
    T >= A_k + C_k inv_pos(α_k), Σ α_k <= 1 (non-empty groups only)."""
    import cvxpy as cp

    A, C = np.asarray(A, dtype=float), np.asarray(C, dtype=float)
    alpha = cp.Variable(A.shape[0], nonneg=True, name="alpha")
    T = cp.Variable(name="T")
    cons = [cp.sum(alpha) <= 1]
    for k in range(A.shape[0]):
        cons.append(T >= A[k] + C[k] * cp.inv_pos(alpha[k]) if C[k] > 0 else T >= A[k])
    return cp.Problem(cp.Minimize(T), cons)



def build_misocp_cvxpy(a: Any, C: Any, M: int, *, sync: float = 0.0, n_groups: int | None = None,
                       symmetry: str = "first-index", upper_bound: float | None = None) -> Any:
    """The exact MISOCP of §4 for a fixed cut, in CVXPY.

    minimise T + sync·z  s.t.  T >= Σ_n a_{n,k} x_{n,k} + u_k;  quad_over_lin(√C ∘ x_k, α_k) <= u_k
    (u_k α_k >= Σ_n C_n x_{n,k}², rotated SOC);  Σ_k x_{n,k} = 1;  Σ_k α_k <= 1;  x binary.
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
        cons.append(cp.quad_over_lin(cp.multiply(np.sqrt(C), x[:, k]), alpha[k]) <= u[k])  # rotated SOC
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
    return cp.Problem(cp.Minimize(obj), cons)


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
                       symmetry: str = "first-index", upper_bound: float | None = None) -> Any:
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
    obj = m.T
    if sync > 0 and n_groups is None:
        m.w = pyo.Var(m.K, domain=pyo.Binary, doc="w_k: group k non-empty")
        m.z = pyo.Var(domain=pyo.Binary, doc="z: two or more groups (sync charged)")
        m.used = pyo.Constraint(m.N, m.K, rule=lambda m, n, k: m.w[k] >= m.x[n, k])
        m.multi = pyo.Constraint(expr=(M - 1) * m.z >= sum(m.w[k] for k in m.K) - 1,
                                 doc="(M-1) z >= Σ_k w_k - 1: z = 1 when two or more groups are used")
        obj = m.T + float(sync) * m.z
    elif sync > 0 and n_groups >= 2:
        obj = m.T + float(sync)
    m.obj = pyo.Objective(expr=obj, sense=pyo.minimize)
    if upper_bound is not None:
        m.cutoff = pyo.Constraint(expr=obj <= float(upper_bound), doc="incumbent cut-off")
    return m


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


def build_milp_pyomo(p: Any, K: int, *, n_groups: int | None = None, symmetry: str = "first-index") -> Any:
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
    return m


#: CP-SAT needs integers: processing times are scaled so that the total load is about this many
#: units (int64-safe; rounding error per client <= 0.5 unit, i.e. ~1e-9 relative).
CPSAT_UNITS = 1e9


def build_cpsat(p: Any, K: int, *, n_groups: int | None = None, symmetry: str = "first-index") -> Any:
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
    return m


def _x_from_pyomo(m: Any, N: int, K: int) -> np.ndarray:
    import pyomo.environ as pyo

    X = np.array([[pyo.value(m.x[n, k]) for k in range(K)] for n in range(N)])
    return np.argmax(X, axis=1)


def _x_from_cvxpy(prob: Any) -> np.ndarray:
    x = next(v for v in prob.variables() if v.name() == "x")
    return np.argmax(x.value, axis=1)


def formulations(inst: Instance) -> dict[str, Callable[[], Any]]:
    """Zero-argument builders of the exact MISOCP (CVXPY and Pyomo) at the instance's cut
    (shared band), or of the makespan MILP at the exact cut and group count (``shared_band=False``).

    The MISOCP is per cut; its optimum (with the z term for T^dist + T^agg) is the problem's
    optimum when the cut is fixed. Without a fixed cut the builders use the exact method's cut
    (found by solving), so their optimum again equals the problem's optimum.
    """
    from .exact import exact

    if inst.rate_model != "fixed-se" or inst.intra_group != "sequential":
        return {}
    if not inst.shared_band:
        # each group has its own band: P is the makespan MILP with p = a + C over K slots (see
        # _exact_milp_own_band); at the exact method's cut and group count its optimum is the
        # optimal training-phase makespan, so MILP backends (HiGHS, CBC, GLPK, SCIP) compare on it
        c, x = exact(inst)[:2]
        a, C = separable(inst, c)
        K = int(np.unique(x).size)
        ng = inst.n_groups if inst.n_groups is not None and inst.n_groups == K else None
        return {f"makespan-milp[c={c},K={K}]":
                lambda: build_milp_pyomo(a + C[:, None], K, n_groups=ng)}
    c = inst.cut if inst.cut is not None else exact(inst)[0]
    a, C = separable(inst, c)
    sync = sum(sync_s(inst, cut_figures(inst.profile, c), 2))
    return {
        f"misocp-cvxpy[c={c}]": lambda: build_misocp_cvxpy(a, C, inst.M, sync=sync, n_groups=inst.n_groups),
        f"misocp-pyomo[c={c}]": lambda: build_misocp_pyomo(a, C, inst.M, sync=sync, n_groups=inst.n_groups),
    }


