"""SFT (spec shared/papers/sft-two-timescale.md): claims of §6, P2 solvers agreeing, the paper's
two-timescale algorithm vs the exact baseline, the global MINLP, baselines and bad input.

The gap study runs 4 random instances by default; SLOPT_FULL=1 runs 100 (benchmarks/sft.py prints
the full statistics)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import FULL, requires
from hypothesis import given, settings
from hypothesis import strategies as st

from slopt.errors import InfeasibleError, ValidationError
from slopt.models import sft
from slopt.problems import get
from slopt.solvers import solve


@pytest.fixture(scope="module")
def inst():
    return sft.load(None, None, n_devices=4, H=8, n_slots=5)


@pytest.fixture(scope="module")
def small():
    return sft.random_instance(3)


# --------------------------------------------------------------------------- structural claims
def test_claim1_cut_volume_independent_of_l(inst):
    th = np.full(inst.N, 0.3)
    m1 = sft.evaluate(inst, th, np.ones(inst.N))[1]
    m3 = sft.evaluate(inst, th, np.full(inst.N, 3))[1]
    assert m1["communication_bits_per_iteration"] == m3["communication_bits_per_iteration"]
    lb = sft.lora_bits(inst, np.arange(1, 6))
    assert np.allclose(np.diff(lb), lb[0])                       # Eq. 10 linear in l


def test_claim2_size_model_monotone(inst):
    from slopt.compression import theta_critical

    q = inst.q
    tc = theta_critical(q)
    th = np.linspace(1e-4, 1, 20001)
    S = sft.uplink_bits(inst, th)
    inc = th <= tc - 1e-4
    assert np.all(np.diff(S[inc]) > 0)
    assert np.allclose(S[th >= tc + 1e-4], inst.E * q + inst.hdr_bits)
    assert np.all(S < inst.S0_bits)                              # below raw for q < beta0
    from slopt.compression import eq7_bits
    thu = th[th < 2 ** q / (1 + 2 ** q)]
    assert np.all(np.diff(eq7_bits(inst.E, thu, q, clip=False)) > 0)


def test_claim3_memory_affine_and_cap(inst):
    l = np.arange(0, 12)
    M = sft.memory_bytes(inst, l)
    assert np.allclose(np.diff(M), inst.m_block_bytes)
    for n in range(inst.N):
        feasible = [k for k in range(1, inst.L) if sft.memory_bytes(inst, k) <= inst.M_max_bytes[n]]
        assert inst.l_cap[n] == max(feasible)


def test_memory_figures_match_spec(inst):
    """ViT-B/16, b = 16, beta_w = 32 (spec §3.5): m_w 28.3 MB, m_lora 0.39 MB, m_act 119.6 MB, m_buf 9.7 MB,
    M_emb 7.8 MB (m_w from the analytic profile includes biases/norms: 28.45 MB)."""
    p = inst.m_parts_bytes
    assert p["m_w"] / 1e6 == pytest.approx(28.3, rel=0.01)
    assert p["m_lora"] / 1e6 == pytest.approx(0.393, rel=0.01)
    assert p["m_act"] / 1e6 == pytest.approx(119.6, rel=0.001)
    assert inst.m_buf_bytes / 1e6 == pytest.approx(9.68, rel=0.001)
    assert inst.M_emb_bytes / 1e6 == pytest.approx(7.8, rel=0.01)
    assert inst.theta_req == pytest.approx(0.170, abs=1e-3)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), N=st.integers(2, 8))
def test_claim4_p2_solvers_agree(seed, N):
    """P2-U is DCP; CVXPY (CLARABEL, scaled units) = bisection = Newton = SQP (SLSQP) to 1e-6."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.05, 0.3, N)
    S = rng.uniform(1e6, 3e7, N)
    c = rng.uniform(1.0, 1e4, N)
    B = 20e6
    zb, xb = sft.p2_bisection(t, S, c, B)
    zn, xn, pi = sft.p2_solve(t, S, c, B)
    zs, xs, _ = sft.p2_sqp(t, S, c, B)
    prob, x, z = sft.build_p2_cvxpy(t, S, c, B)
    assert prob.is_dcp()
    # CLARABEL's default tolerances leave ~1e-5 s epigraph violations that solve() rejects: tighten them
    res = solve(prob, solver="clarabel", options={"tol_gap_abs": 1e-9, "tol_gap_rel": 1e-9, "tol_feas": 1e-9})
    assert res.status == "optimal"
    for other in (zn, zs, res.objective):
        assert float(other) == pytest.approx(float(zb), rel=1e-6)
    # Claim 5: equalisation, no slack bandwidth
    assert xn.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.allclose(t + S / sft.rate_bps(xn, c, B), zn, rtol=1e-9)
    assert pi.sum() == pytest.approx(1.0)


@requires("scip")
@pytest.mark.parametrize("seed", range(3))
def test_p2_pyomo_scip_agrees_with_bisection(seed):
    """Second solver family for P2: the Pyomo NLP solved globally by SCIP equals bisection (1e-6)."""
    rng = np.random.default_rng(seed)
    N = 4
    t, S, c = rng.uniform(0.05, 0.3, N), rng.uniform(1e6, 3e7, N), rng.uniform(1.0, 1e4, N)
    zb, _ = sft.p2_bisection(t, S, c, 20e6)
    res = solve(sft.build_p2_pyomo(t, S, c, 20e6), solver="scip", mip_gap=1e-9)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(float(zb), rel=1e-6)


def test_claim6_fixed_snr_closed_form():
    rng = np.random.default_rng(0)
    N, a, B = 5, 0.2, 10e6
    S = rng.uniform(1e6, 1e7, N)
    c = rng.uniform(1, 100, N)
    z, x, _ = sft.p2_solve(np.full(N, a), S, c, B, "fixed-snr")
    assert float(z) == pytest.approx(a + (S / (B * np.log2(1 + c))).sum(), rel=1e-12)
    assert np.allclose(x, S / (B * np.log2(1 + c) * (z - a)))


def test_claim8_monotone_convex_in_l_and_gradient(inst):
    rng = np.random.default_rng(2)
    th = rng.uniform(0.05, 0.6, inst.N)
    l = rng.uniform(1, 3, inst.N)
    J, gth, gl = sft.delay_and_grad(inst, th, l)
    assert np.all(gth > 0)                                       # nondecreasing in theta
    eps = 1e-5
    for n in range(inst.N):
        e = np.eye(inst.N)[n]
        assert (sft.expected_delay(inst, th + eps * e, l)[0] - J) / eps == pytest.approx(gth[n], rel=1e-3)
        assert (sft.expected_delay(inst, th, l + eps * e)[0] - J) / eps == pytest.approx(gl[n], rel=1e-3, abs=1e-3)
    # convex in relaxed l (midpoint test) for fixed theta
    for _ in range(10):
        l1, l2 = rng.uniform(1, 4, (2, inst.N))
        Js = sft.expected_delay(inst, np.array([th] * 3), np.array([l1, l2, (l1 + l2) / 2]))
        assert Js[2] <= 0.5 * (Js[0] + Js[1]) + 1e-9 * Js[2]


# --------------------------------------------------------------------------- algorithm vs exact
N_GAP = 100 if FULL else 4


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(N_GAP))
def test_claim9_paper_vs_exact(seed):
    """Algorithm 1/2 (ALM + integer recovery) vs the proven branch-and-bound on random small instances
    (3-5 devices with SLOPT_FULL, else 3-4; 6-12 blocks); both plans re-evaluated by evaluate();
    Claim 7: accuracy active."""
    inst = sft.random_instance(seed, **({} if FULL else {"n_devices": 3 + seed % 2}))
    e = sft.exact(inst)
    p = sft.paper(inst, n_slots=2)
    for plan in (e, p):
        obj, _, _ = sft.evaluate(inst, plan.decision["theta"], plan.decision["blocks"])
        assert obj == pytest.approx(plan.objective, rel=1e-12)
        assert plan.metrics["feasible"] == 1.0
        assert max(plan.decision["blocks"]) <= inst.L - 1
    assert p.objective >= e.objective * (1 - 1e-9)
    assert p.objective <= e.objective * (1 + 0.01)
    wt = sft.accuracy_weights(inst, np.array(e.decision["blocks"]))
    assert wt @ np.array(e.decision["theta"]) == pytest.approx(inst.theta_req, rel=1e-6)


@requires("scip")
@pytest.mark.parametrize("seed,N,L,rate", [(0, 3, 6, "fixed-snr"), (1, 3, 6, "fixed-snr"), (0, 2, 4, "shannon")])
def test_minlp_global_agrees_with_enumeration(seed, N, L, rate):
    """P0 (SAA) as a Pyomo MINLP solved to global optimality by SCIP equals the enumeration baseline.
    One channel sample; with Eq. 5's log-rate SCIP closes the gap only for N = 2 within a test budget
    (at N = 3, H = 2 it finds the same incumbent but stops at a ~5 % gap after 120 s; docs/sft.md)."""
    inst = sft.random_instance(seed, n_devices=N, n_blocks=L, H=1, aggregation=False, rate_model=rate)
    e = sft.exact(inst)
    m = sft.exact_minlp(inst, time_limit=60)
    assert m.solve.status == "optimal"
    assert m.objective == pytest.approx(e.objective, rel=1e-5)
    assert m.solve.objective == pytest.approx(m.objective, rel=1e-5)     # re-evaluated by evaluate()
    assert m.decision["blocks"] == e.decision["blocks"]


@pytest.mark.parametrize("variant", [{"split": "common"}, {"size_model": "direct-rate"},
                                     {"accuracy": "per-device"}, {"accuracy": "depth"},
                                     {"accuracy": "variance"}, {"downlink": "raw"}])
def test_variants_paper_vs_exact(variant):
    inst = sft.random_instance(5, n_devices=3, n_blocks=6, H=4, **variant)
    e = sft.exact(inst)
    p = sft.paper(inst, n_slots=1)
    assert p.metrics["feasible"] == 1.0 and e.metrics["feasible"] == 1.0
    assert p.objective >= e.objective * (1 - 1e-6)
    assert p.objective <= e.objective * 1.02
    if variant.get("accuracy") == "per-device":                 # Claim 7: theta_n* = theta_min
        assert np.allclose(e.decision["theta"], inst.theta_lb)
    if variant.get("split") == "common":
        assert len(set(e.decision["blocks"])) == 1


def test_claim10_orderings(small):
    p = sft.paper(small, n_slots=5)
    base = {b: sft.baseline(small, b) for b in ("no-compression", "sl", "sfl", "cpsl", "equal-spectrum", "fixed-split")}
    assert p.objective <= base["no-compression"].objective
    assert p.objective <= base["sl"].objective
    assert p.objective <= base["cpsl"].objective
    assert base["cpsl"].objective <= base["sl"].objective * (1 + 1e-9)
    assert p.objective <= base["equal-spectrum"].objective * (1 + 1e-9)
    assert p.objective <= base["fixed-split"].objective * (1 + 1e-9)
    fr = p.details["frame"]
    assert np.all(fr["delay_s"] <= fr["equal_spectrum_delay_s"] * (1 + 1e-9))
    for plan in base.values():
        kw = _eval_kw(plan.method)
        if plan.method == "cpsl":
            kw = {"scheme": "cpsl", "compression": "none", "clusters": plan.decision["clusters"]}
        obj, _, _ = sft.evaluate(small, plan.decision["theta"], plan.decision["blocks"], **kw)
        assert obj == pytest.approx(plan.objective, rel=1e-12)
    fl = sft.baseline(small, "fl")
    assert fl.metrics["memory_violation_bytes"] > 0               # whole model does not fit


def _eval_kw(method):
    return {"no-compression": {"compression": "none"}, "sl": {"scheme": "sl", "spectrum": "equal", "compression": "none"},
            "sfl": {"scheme": "sfl", "spectrum": "equal", "compression": "none"},
            "equal-spectrum": {"spectrum": "equal"}, "fixed-split": {}}.get(method, {})


def test_alm_history_and_sqp_frame(small):
    r = sft.alm(small)
    h = r.history
    assert h["violation"].iloc[-1] <= 1e-4
    assert list(h.columns[:3]) == ["outer", "J_s", "violation"]
    fr = sft.simulate_frame(small, r.theta, r.l, n_slots=4)
    ex = sft.simulate_frame(small, r.theta, r.l, n_slots=4, solver="exact")
    assert np.allclose(fr["delay_s"], ex["delay_s"], rtol=1e-6)


# --------------------------------------------------------------------------- bad input
def test_accuracy_target_unreachable():
    with pytest.raises(InfeasibleError, match=r"accuracy constraint C2.*exceeds.*by 0\.0") as ei:
        sft.load(None, None, A_min=0.95)
    assert ei.value.shortfall == pytest.approx(0.95 - (0.90 - 0.30 * np.exp(-20)), rel=1e-9)


def test_memory_below_embedding():
    with pytest.raises(InfeasibleError, match=r"memory constraint C1.*below the embedding's M_emb") as ei:
        sft.load(None, None, device_memory_bytes=(5e6, 6e6))
    assert ei.value.shortfall > 0


def test_nan_channel_gain(inst):
    g = np.ones((2, 3)) * 1e-10
    g[1, 2] = np.nan
    with pytest.raises(ValidationError, match=r"channel gain \(sample 1\) of device 'd2'.*NaN"):
        sft.load(None, None, n_devices=3, gains=g)


def test_unknown_parameter_and_choice():
    with pytest.raises(ValidationError, match="unknown SFT parameter"):
        sft.load(None, None, nonsense=1)
    with pytest.raises(ValidationError, match="split"):
        sft.load(None, None, split="diagonal")


# --------------------------------------------------------------------------- CLI
def test_registered_and_cli():
    p = get("sft")
    assert {"paper", "exact", "sl", "sfl", "fl", "no-compression", "equal-spectrum", "fixed-split"} <= set(p.methods)
    plan = p.run("sl", n_devices=3, H=4)
    json.dumps(plan.to_dict())
    out = subprocess.run([sys.executable, "-m", "slopt.cli", "solve", "sft", "--method", "fixed-split", "--json",
                          "--set", "n_devices=3", "--set", "H=4"], capture_output=True, text=True, timeout=120)
    if out.returncode != 0 and "No module named slopt.cli" in out.stderr:
        pytest.skip("slopt.cli not runnable as a module")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["problem"] == "sft" and d["method"] == "fixed-split"
    assert sorted(p.formulations(sft.random_instance(0, H=1))) == ["p0/minlp", "p2-uplink/cvxpy",
                                                                   "p2-uplink/pyomo"]


def test_claim8_common_split_identical_devices_at_endpoint():
    """Common split and identical f_n: D* is affine in l for fixed theta, so the optimum is l = 1 or
    the memory cap, never interior (Claim 8)."""
    for F in (2e12, 50e12):
        inst = sft.load(None, None, n_devices=3, H=4, split="common", device_flops=(1e12, 1e12),
                        server_flops=F, device_memory_bytes=(1.1e9, 1.2e9))
        e = sft.exact(inst)
        assert e.decision["blocks"][0] in (1, int(inst.l_cap.min()))
