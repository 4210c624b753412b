"""Every explicit formulation of SFT: P2-U / P2-D as CVXPY (DCP) and Pyomo NLP models (spec §4.2,
Claim 4), P0 in SAA form as a Pyomo MINLP (spec §4.1, §5), and :func:`formulations` for
``slopt compare``. Variables and constraints carry the spec's symbols."""

from __future__ import annotations

import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

from .instance import SFTInstance
from .system import LN2, _phases, band_for_rate, downlink_bits, full_band_snr, rate_bps, uplink_bits

__all__ = ["ExtraConstraints", "build_p2_cvxpy", "build_p2_pyomo", "build_minlp", "formulations"]

#: ``extra_constraints(model, instance) -> None``: adds constraints to a model a builder made.
ExtraConstraints = Callable[[Any, Any], None]


def build_p2_cvxpy(t: np.ndarray, S: np.ndarray, snr: np.ndarray, B_hz: float, rate_model: str = "shannon", *,
                   extra_constraints: ExtraConstraints | None = None, instance: SFTInstance | None = None):
    """P2-U (or P2-D) as a DCP problem in scaled units (Mbit, MHz, s) (spec Claim 4).

    R_n = (B / ln 2) (-rel_entr(x_n, x_n + c_n)) is concave; t_n + S_n inv_pos(R_n) <= z is convex.
    ``extra_constraints(model, instance)`` receives a namespace with the variables ``x``, ``z`` and
    the list ``constraints`` (append CVXPY constraints to it) before the problem is built.
    Returns (problem, x, z).
    """
    import cvxpy as cp

    t = np.asarray(t, float)
    Sm = np.asarray(S, float) / 1e6
    c = np.asarray(snr, float)
    Bm = B_hz / 1e6
    N = t.size
    x = cp.Variable(N, nonneg=True, name="x")
    z = cp.Variable(name="z")
    if rate_model == "fixed-snr":
        R = cp.multiply(Bm * np.log2(1 + c), x)
    else:
        R = (Bm / LN2) * (-cp.rel_entr(x, x + c))
    cons = [t + cp.multiply(Sm, cp.inv_pos(R)) <= z, cp.sum(x) <= 1]     # P2-U epigraph, C3
    if extra_constraints is not None:
        extra_constraints(SimpleNamespace(x=x, z=z, constraints=cons), instance)
    prob = cp.Problem(cp.Minimize(z), cons)
    return prob, x, z


def build_p2_pyomo(t: np.ndarray, S: np.ndarray, snr: np.ndarray, B_hz: float, rate_model: str = "shannon", *,
                   extra_constraints: ExtraConstraints | None = None, instance: SFTInstance | None = None):
    """P2-U (or P2-D) as a Pyomo NLP (epigraph form of Algorithm 3), scaled units; for SCIP (global)
    or IPOPT. Returns the model; ``m.z`` is the optimal delay of the phase."""
    import pyomo.environ as pyo

    t = np.asarray(t, float)
    Sm = np.asarray(S, float) / 1e6
    c = np.asarray(snr, float)
    Bm = B_hz / 1e6
    m = pyo.ConcreteModel(name="SFT-P2")
    m.N = pyo.Set(initialize=range(t.size), doc="devices")
    m.x = pyo.Var(m.N, bounds=(1e-9, 1.0), initialize=1.0 / t.size, doc="band share (C3)")
    z_hi = float((t + Sm / rate_bps(1.0 / t.size, c, Bm, rate_model)).max())
    m.z = pyo.Var(bounds=(0.0, z_hi), initialize=z_hi, doc="epigraph of max_n (Eq. 13)")

    def R(n):
        if rate_model == "fixed-snr":
            return m.x[n] * Bm * math.log2(1 + c[n])
        return m.x[n] * Bm * pyo.log(1 + c[n] / m.x[n]) / LN2                 # Eq. 5

    m.delay = pyo.Constraint(m.N, rule=lambda m, n: Sm[n] <= (m.z - t[n]) * R(n),
                             doc="t_n + S_n / R_n(x_n) <= z (Eq. 13)")
    m.C3 = pyo.Constraint(expr=sum(m.x[n] for n in m.N) <= 1, doc="C3")
    m.obj = pyo.Objective(expr=m.z, sense=pyo.minimize)
    if extra_constraints is not None:
        extra_constraints(m, instance)
    return m


def build_minlp(inst: SFTInstance, H: int | None = None, upper_bound_s: float | None = None, *,
                extra_constraints: ExtraConstraints | None = None):
    """P0 of spec §4.1 in its SAA form (P1 + per-sample P2) as an explicit Pyomo MINLP.

    Integer l_n, continuous theta_n, per-sample spectrum shares x_nh, y_nh, epigraph variables
    z_h, w_h (and za_h, wa_h of the aggregation slot); the delay constraints in the nonconvex
    product form S_n <= (z_h - t_n) R_nh(x_nh) (spec §5). Units: Mbit, MHz, s. The clipped Eq. 7 is
    modelled with a binary "dense mode" switch delta_n. Solve globally with SCIP.

    ``upper_bound_s``: the delay of any feasible decision (e.g. the paper algorithm's); it bounds
    z_h, w_h <= H J_ub / K_it and, through the smallest payloads, the shares from below. These
    bounds are valid for every solution at least as good as J_ub and let SCIP close the gap.

    ``extra_constraints(model, instance)`` is called on the finished model (add Pyomo components
    to it); :func:`~slopt.models.sft.methods.plan_from_minlp` decodes a solved model into a Plan.
    """
    import pyomo.environ as pyo

    H = inst.H if H is None else min(H, inst.H)
    g = inst.gains[:H]
    cU, cD = full_band_snr(inst, g)
    rm = inst.p("rate_model")
    BU, BD = inst.B_U_hz / 1e6, inst.B_D_hz / 1e6
    E_M = inst.E / 1e6
    hdr = inst.hdr_bits / 1e6
    b, phi, kB = inst.b, inst.phi_F_flop, inst.kappa_B
    m = pyo.ConcreteModel(name="SFT-P0-SAA")
    m.N = pyo.Set(initialize=range(inst.N), doc="devices")
    m.H = pyo.Set(initialize=range(H), doc="channel samples (SAA)")
    common = inst.p("split") == "common"

    # ---- variables
    def l_bounds(m, n):
        return (1, int(inst.l_cap[n]))
    m.l = pyo.Var(m.N, domain=pyo.Integers, bounds=l_bounds, doc="blocks on device n (C5)")
    m.theta = pyo.Var(m.N, bounds=lambda m, n: (float(inst.theta_lb[n]), 1.0), doc="Top-K keep ratio (C6)")
    sU_max = inst.S0_bits / 1e6 * 2
    m.sU = pyo.Var(m.N, bounds=(0, sU_max), doc="uplink Mbit (Eq. 7)")
    m.x = pyo.Var(m.N, m.H, bounds=(1e-6, 1.0), doc="uplink band share (C3)")
    m.y = pyo.Var(m.N, m.H, bounds=(1e-6, 1.0), doc="downlink band share (C4)")
    zub = None if upper_bound_s is None else H * upper_bound_s / inst.p("K_it")
    m.z = pyo.Var(m.H, bounds=(0, zub), doc="uplink epigraph (P2-U)")
    m.w = pyo.Var(m.H, bounds=(0, zub), doc="downlink epigraph (P2-D)")
    if zub is not None:     # R(x) >= S_min / z_ub  ->  x >= x_min (valid below J_ub)
        smin_U = float(uplink_bits(inst, inst.theta_lb).min())
        smin_D = float(downlink_bits(inst, inst.theta_lb).min())
        xmin = band_for_rate(smin_U / zub, cU, inst.B_U_hz, rm)
        ymin = band_for_rate(smin_D / zub, cD, inst.B_D_hz, rm)
        for n in range(inst.N):
            for h in range(H):
                m.x[n, h].setlb(max(1e-6, 0.999 * float(xmin[h, n])))
                m.y[n, h].setlb(max(1e-6, 0.999 * float(ymin[h, n])))
    if common:
        m.l_common = pyo.Constraint(m.N, rule=lambda m, n: m.l[n] == m.l[0] if n > 0 else pyo.Constraint.Skip,
                                    doc="common split point (spec §10.1 flag)")

    # ---- expressions of Section 3
    def tF(m, n):
        return b * (inst.phi_emb_flop + m.l[n] * phi) / inst.f_flops[n]         # Eq. 2
    def tB(m, n):
        return b * kB * m.l[n] * phi / inst.f_flops[n]                          # Eq. 3
    def tS(m):
        return sum(b * (1 + kB) * ((inst.L - m.l[n]) * phi + inst.phi_head_flop) for n in m.N) / inst.F_s_flops  # Eq. 4

    def R(share, c, B):
        if rm == "fixed-snr":
            return share * B * math.log2(1 + c)
        return share * B * pyo.log(1 + c / share) / LN2                         # Eq. 5-6

    # ---- Eq. 7 (clipped) with a dense-mode switch; direct-rate: S = theta S0
    if inst.p("size_model") == "direct-rate":
        m.size = pyo.Constraint(m.N, rule=lambda m, n: m.sU[n] >= m.theta[n] * inst.S0_bits / 1e6)
        sD = lambda m, n: m.theta[n] * inst.S0_bits / 1e6  # noqa: E731
    else:
        q = inst.q
        m.delta = pyo.Var(m.N, domain=pyo.Binary, doc="1 = dense mode (no mask), clipped Eq. 7")
        eps = 1e-9

        def H2(th):
            return -(th * pyo.log(th) + (1 - th) * pyo.log(1 - th + eps)) / LN2
        m.size_sparse = pyo.Constraint(m.N, rule=lambda m, n: m.sU[n] >= E_M * (m.theta[n] * q + H2(m.theta[n]))
                                       + hdr - E_M * (q + 1) * m.delta[n], doc="Eq. 7, mask mode")
        m.size_dense = pyo.Constraint(m.N, rule=lambda m, n: m.sU[n] >= (E_M * q + hdr) * m.delta[n],
                                      doc="Eq. 7 clip, dense mode")
        hdrD = hdr if inst.q_g < inst.beta0 else 0.0
        sD = lambda m, n: m.theta[n] * E_M * inst.q_g + hdrD  # noqa: E731   Eq. 9

    # ---- delay epigraphs (Eq. 13 / P2 in product form)
    m.uplink = pyo.Constraint(m.N, m.H, rule=lambda m, n, h: m.sU[n] <= (m.z[h] - tF(m, n)) * R(m.x[n, h], cU[h, n], BU),
                              doc="Eq. 13: t^F_n + S^U_n / R^U_n <= z")
    m.downlink = pyo.Constraint(m.N, m.H, rule=lambda m, n, h: sD(m, n) <= (m.w[h] - tB(m, n)) * R(m.y[n, h], cD[h, n], BD),
                                doc="Eq. 13: S^D_n / R^D_n + t^B_n <= w")
    m.z_pos = pyo.Constraint(m.N, m.H, rule=lambda m, n, h: m.z[h] >= tF(m, n))
    m.w_pos = pyo.Constraint(m.N, m.H, rule=lambda m, n, h: m.w[h] >= tB(m, n))
    m.C3 = pyo.Constraint(m.H, rule=lambda m, h: sum(m.x[n, h] for n in m.N) <= 1, doc="C3 uplink spectrum")
    m.C4 = pyo.Constraint(m.H, rule=lambda m, h: sum(m.y[n, h] for n in m.N) <= 1, doc="C4 downlink spectrum")
    # ---- C1 memory (Eq. 11), C2 accuracy (Eq. 12)
    m.C1 = pyo.Constraint(m.N, rule=lambda m, n: inst.M_emb_bytes / 1e9 + m.l[n] * inst.m_block_bytes / 1e9
                          + inst.m_buf_bytes / 1e9 <= inst.M_max_bytes[n] / 1e9, doc="C1 memory, Eq. 11 (GB)")
    if inst.theta_req > 0:
        if inst.p("accuracy") == "depth":
            eta = inst.p("depth_eta")
            m.C2 = pyo.Constraint(expr=sum(inst.w[n] * (1 + eta * m.l[n] / inst.L) / (1 + eta) * m.theta[n]
                                           for n in m.N) >= inst.theta_req, doc="C2 accuracy (depth model)")
        else:
            m.C2 = pyo.Constraint(expr=sum(inst.w[n] * m.theta[n] for n in m.N) >= inst.theta_req,
                                  doc="C2 accuracy, Eq. 12 -> sum w theta >= theta_req")
    K = inst.p("K_it")
    obj = K * (sum(m.z[h] + m.w[h] for h in m.H) / H + tS(m))
    if inst.n_agg:
        m.xa = pyo.Var(m.N, m.H, bounds=(1e-6, 1.0))
        m.ya = pyo.Var(m.N, m.H, bounds=(1e-6, 1.0))
        aub = None if upper_bound_s is None else H * upper_bound_s / max(inst.n_agg, 1)
        m.za = pyo.Var(m.H, bounds=(0, aub))
        m.wa = pyo.Var(m.H, bounds=(0, aub))
        lb_M = inst.lora_bits_per_block / 1e6
        m.agg_up = pyo.Constraint(m.N, m.H, rule=lambda m, n, h: m.l[n] * lb_M <= m.za[h] * R(m.xa[n, h], cU[h, n], BU),
                                  doc="Eq. 14 uplink of the LoRA payload (Eq. 10)")
        m.agg_down = pyo.Constraint(m.N, m.H, rule=lambda m, n, h: m.l[n] * lb_M <= m.wa[h] * R(m.ya[n, h], cD[h, n], BD),
                                    doc="Eq. 14 downlink")
        m.agg_C3 = pyo.Constraint(m.H, rule=lambda m, h: sum(m.xa[n, h] for n in m.N) <= 1)
        m.agg_C4 = pyo.Constraint(m.H, rule=lambda m, h: sum(m.ya[n, h] for n in m.N) <= 1)
        obj = obj + inst.n_agg * sum(m.za[h] + m.wa[h] for h in m.H) / H
    m.obj = pyo.Objective(expr=obj, sense=pyo.minimize, doc="Eq. 15: expected total delay (SAA)")
    if extra_constraints is not None:
        extra_constraints(m, inst)
    return m


def formulations(inst: SFTInstance) -> dict[str, Any]:
    """Builders for ``slopt compare``, in two families (compared within a family only):

    ``p0/minlp``: the Pyomo MINLP of P0 (SAA), whose optimum is the problem's optimum (SCIP);
    ``p2-uplink/cvxpy`` and ``p2-uplink/pyomo``: the small-timescale spectrum problem P2-U of
    the first channel sample at the paper's decision (convex; Clarabel, SCS, SCIP).
    """
    def p2_data() -> tuple[Any, ...]:
        from .algorithm import paper

        plan = paper(inst)
        theta, l = np.asarray(plan.decision["theta"], float), np.asarray(plan.decision["blocks"], float)
        tF, _, _, SU, _ = _phases(inst, theta, l)
        cU, _ = full_band_snr(inst)
        return tF, SU, cU[0], inst.B_U_hz, inst.p("rate_model")

    return {"p0/minlp": lambda: build_minlp(inst),
            "p2-uplink/cvxpy": lambda: build_p2_cvxpy(*p2_data())[0],
            "p2-uplink/pyomo": lambda: build_p2_pyomo(*p2_data())}


