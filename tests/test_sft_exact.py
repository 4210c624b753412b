"""SFT exact methods: the proven branch-and-bound (``exact``), the vertex enumeration of Claim 11
(``vertices``, exact only where its conditions hold) and the MINLP under limits.

Truth that shares no code with the methods: a dense grid over the accuracy face for every block
allocation, and at its best point an evaluator of J written here from the spec's equations
(Eq. 2-4, 5-6, 7, 9, 10, 13-15, P2 by root finding with scipy's brentq)."""

from __future__ import annotations

import itertools
import logging
import math

import numpy as np
import pytest
from conftest import FULL, requires
from scipy.optimize import brentq

from slopt.errors import ValidationError
from slopt.models import sft
from slopt.solvers.result import SolveResult

REGRESSION = dict(n_devices=2, n_blocks=8, H=8, device_memory_bytes=(0.4e9, 0.75e9), downlink="raw")


# --------------------------------------------------------------------------- independent truth
def _phase(t, S, c, B):
    """min_x max_n t_n + S_n / R_n(x_n), sum x <= 1, R = x B log2(1 + c / x): root of sum x_n(z) = 1."""
    def x_of(z, n):
        need = S[n] / (z - t[n])
        rate = lambda x: x * B * math.log2(1 + c[n] / x) - need  # noqa: E731
        if rate(1.0) < 0:
            return 2.0
        return brentq(rate, 1e-300, 1.0, xtol=1e-300, rtol=1e-15)
    lo = max(t[n] + S[n] / (B * math.log2(1 + c[n])) for n in range(len(t)))
    hi = lo * 2 + 1
    while sum(x_of(hi, n) for n in range(len(t))) > 1:
        hi *= 2
    return brentq(lambda z: sum(x_of(z, n) for n in range(len(t))) - 1, lo, hi, xtol=1e-14, rtol=1e-15)


def independent_J(inst, theta, l):
    """Expected total delay from the spec's equations, with its own P2 solver."""
    theta, l = np.asarray(theta, float), np.asarray(l, float)
    b, phi, kB = inst.b, inst.phi_F_flop, inst.kappa_B
    tF = b * (inst.phi_emb_flop + l * phi) / inst.f_flops                                # Eq. 2
    tB = b * kB * l * phi / inst.f_flops                                                 # Eq. 3
    tS = sum(b * (1 + kB) * ((inst.L - ln) * phi + inst.phi_head_flop) for ln in l) / inst.F_s_flops  # Eq. 4
    H2 = -theta * np.log2(theta) - (1 - theta) * np.log2(1 - theta) if np.all(theta < 1) else \
        np.array([0.0 if t >= 1 else -t * math.log2(t) - (1 - t) * math.log2(1 - t) for t in theta])
    SU = inst.E * np.minimum(theta * inst.q + H2, inst.q) + inst.hdr_bits               # Eq. 7
    SD = theta * inst.E * inst.q_g + (inst.hdr_bits if inst.q_g < inst.beta0 else 0.0)  # Eq. 9
    SL = l * inst.lora_bits_per_block                                                   # Eq. 10
    tot = 0.0
    for g in inst.gains:
        cU = inst.p_w * g / (inst.B_U_hz * inst.N0_w_hz)
        cD = inst.P_s_w * g / (inst.B_D_hz * inst.N0_w_hz)
        D = _phase(tF, SU, cU, inst.B_U_hz) + tS + _phase(tB, SD, cD, inst.B_D_hz)       # Eq. 13
        agg = _phase(np.zeros(inst.N), SL, cU, inst.B_U_hz) + _phase(np.zeros(inst.N), SL, cD, inst.B_D_hz)
        tot += inst.p("K_it") * D + inst.n_agg * agg                                     # Eq. 14-15
    return tot / inst.H


def dense_search(inst, points=400):
    """Best point of a dense grid over {sum w theta = theta_req, theta_lb <= theta <= 1} (N = 2: a
    line; N = 3: a triangle grid) for every allocation; J by expected_delay (batch)."""
    best = (math.inf, None, None)
    caps = [range(1, int(c) + 1) for c in inst.l_cap]
    for l in itertools.product(*caps):
        l = np.array(l, float)
        w = sft.accuracy_weights(inst, l)
        lb = inst.theta_lb
        grids = [np.linspace(lb[n], 1.0, points) for n in range(inst.N - 1)]
        free = np.array(list(itertools.product(*grids))) if inst.N > 2 else grids[0][:, None]
        last = (inst.theta_req - free @ w[:-1]) / w[-1]
        T = np.c_[free, np.maximum(last, lb[-1])]
        T = T[(T[:, -1] <= 1.0) & (T @ w >= inst.theta_req * (1 - 1e-12))]
        J = sft.expected_delay(inst, T, np.broadcast_to(l, T.shape))
        i = int(np.argmin(J))
        if J[i] < best[0]:
            best = (float(J[i]), T[i], l)
    return best


# --------------------------------------------------------------------------- regression and properties
def test_regression_instance_223_exact_below_paper():
    inst = sft.random_instance(223, **REGRESSION)
    p = sft.paper(inst, n_slots=1)
    e = sft.exact(inst)
    v = sft.vertex_enumeration(inst)
    assert e.status == "optimal" and e.solve.gap <= 1e-6
    assert e.objective <= p.objective * (1 + 1e-12)
    assert e.objective == pytest.approx(506.173, abs=1e-3)           # the ALM value the old exact missed
    assert e.solve.bound <= e.objective
    assert v.status == "heuristic"                                    # Shannon rates: Claim 11 not shown
    assert not sft.claim11_conditions(inst, np.array([1.0, 1.0]))[0]
    assert v.objective > e.objective * (1 + 1e-3)                    # the vertices miss the optimum (511.687)
    J_dense, th, l = dense_search(inst, 4000)
    assert e.solve.bound <= J_dense * (1 + 1e-12)
    assert e.objective <= J_dense * (1 + 1e-6)
    assert independent_J(inst, e.decision["theta"], e.decision["blocks"]) == pytest.approx(e.objective, rel=1e-9)


N_PROP = 40 if FULL else 8


@pytest.mark.parametrize("seed", range(N_PROP))
def test_exact_below_paper_and_dense_search(seed):
    """Random small instances (N = 2, 4-8 blocks, memory-tight, raw or quantised downlink): exact
    <= paper, exact <= dense grid search (within the proven gap), the bound below both."""
    rng = np.random.default_rng(seed)
    kw = dict(n_devices=2, n_blocks=int(rng.integers(4, 9)), H=int(rng.integers(2, 9)),
              device_memory_bytes=(0.4e9, float(rng.uniform(0.5e9, 0.9e9))),
              downlink=str(rng.choice(["raw", "quantized"])), server_flops=float(rng.choice([5e12, 10e12, 50e12])))
    inst = sft.random_instance(1000 + seed, **kw)
    p = sft.paper(inst, n_slots=1)
    e = sft.exact(inst, incumbent=(p.decision["theta"], p.decision["blocks"]), seed_alm=False)
    assert e.status == "optimal"
    assert e.objective <= p.objective * (1 + 1e-12)
    J_dense, _, _ = dense_search(inst, 1500)
    assert e.solve.bound <= J_dense * (1 + 1e-12)
    assert e.objective <= J_dense * (1 + 1e-6)
    assert e.metrics["feasible"] == 1.0
    assert independent_J(inst, e.decision["theta"], e.decision["blocks"]) == pytest.approx(e.objective, rel=1e-9)


@pytest.mark.parametrize("seed", [0] if not FULL else range(6))
def test_exact_three_devices_dense(seed):
    inst = sft.random_instance(seed, n_devices=3, n_blocks=5, H=4, downlink="raw")
    e = sft.exact(inst)
    J_dense, _, _ = dense_search(inst, 60 if FULL else 30)
    assert e.status == "optimal"
    assert e.solve.bound <= J_dense * (1 + 1e-12)
    assert e.objective <= J_dense * (1 + 1e-6)


def test_claim11_conditions_make_vertices_exact():
    """Fixed-SNR rates, equal compute (identical devices, common split): J concave in theta, the
    vertex enumeration is proven and equals the branch-and-bound."""
    inst = sft.load(None, None, n_devices=3, H=4, split="common", rate_model="fixed-snr",
                    device_flops=(1e12, 1e12), n_blocks=6)
    for l in sft.block_allocations(inst):
        assert sft.claim11_conditions(inst, l)[0]
    v = sft.vertex_enumeration(inst)
    e = sft.exact(inst)
    assert v.status == "optimal" and e.status == "optimal"
    assert v.objective == pytest.approx(e.objective, rel=1e-6)
    assert v.objective <= e.objective * (1 + 1e-12) or e.objective <= v.objective * (1 + 1e-6)
    het = sft.load(None, None, n_devices=3, H=4, rate_model="fixed-snr", n_blocks=6)   # heterogeneous f_n
    ok, why = sft.claim11_conditions(het, np.ones(3))
    assert not ok and "compute times" in why
    assert sft.vertex_enumeration(het).status == "heuristic"


# --------------------------------------------------------------------------- limits, logging, non-finite
def test_exact_time_limit_returns_incumbent_bound_gap(caplog):
    inst = sft.random_instance(2)                      # N = 5: not proven in 1 s
    with caplog.at_level(logging.INFO, logger="slopt.models.sft"):
        e = sft.exact(inst, time_limit=1.0, seed_alm=False)
    assert e.status == "feasible"
    assert math.isfinite(e.objective) and math.isfinite(e.solve.bound)
    assert e.solve.bound <= e.objective and e.solve.gap > 0
    assert e.solve.termination == "time_limit"
    assert e.seconds < 30
    assert any("sft exact" in r.getMessage() and "bound" in r.getMessage() for r in caplog.records)


def test_non_finite_kappa_is_rejected_and_nan_never_optimal():
    with pytest.raises(ValidationError, match="kappa_B"):
        sft.load(None, None, kappa_B=1e308)
    inst = sft.random_instance(0, n_devices=2)
    res = SolveResult(status="optimal", objective=1.0, bound=1.0, gap=0.0)
    plan = sft.make_plan(inst, "exact", np.full(2, np.nan), np.ones(2), solve_result=res)
    assert not math.isfinite(plan.objective)
    assert plan.status != "optimal"


@requires("scip")
def test_minlp_time_limit_never_raises():
    inst = sft.random_instance(0, n_devices=3, H=2)
    m = sft.exact_minlp(inst, time_limit=0.05)
    assert m.status in ("feasible", "optimal", "no_solution")
    if m.status == "feasible":
        assert math.isfinite(m.objective)
    ext = sft.exact_minlp(inst, time_limit=0.05, extra_constraints=lambda mdl, i: None)
    assert ext.status in ("feasible", "optimal", "no_solution")
