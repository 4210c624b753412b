"""GSFL (spec shared/papers/gsfl-latency.md): regression instances, claims C1-C8, Alg. 5 = CVXPY,
exact formulations across solvers, brute force = exact, every plan re-evaluated, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import FULL, installed, requires
from hypothesis import given, settings
from hypothesis import strategies as st

from slopt.errors import InfeasibleError, ValidationError
from slopt.models import gsfl
from slopt.profiles import ModelGraph, synthetic
from slopt.solvers import solve


# --------------------------------------------------------------------------- fixtures
def hand_instance(**kw):
    """The spec's hand-checkable regression instance (§6): N = 4, M = 4, cut 1."""
    prof = ModelGraph.chain(forward_flop=[1e6, 1e7], backward_flop=[2e6, 2e7],
                            param_bytes=[1e5 / 8, 1e6 / 8], activation_bytes=[1e4 / 8, 10.0])
    args = dict(eta_up=np.full(4, 5.0), eta_down=np.full(4, 5.0), edge_flops=1e10, n_edges=4,
                server_flops=1e10, uplink_bandwidth_hz=1e6, backhaul_bps=1e8, batch=10, epochs=1, cut=1)
    args.update(kw)
    return gsfl.make_instance(prof, np.full(4, 1e9), np.full(4, 100), **args)


def tiny(seed, n=None, m=None, **kw):
    """A tiny random instance on a 4-layer chain (3 cuts)."""
    rng = np.random.default_rng(seed)
    n = n or int(rng.integers(2, 6))
    m = m or int(rng.integers(1, 4))
    return gsfl.random_instance(seed, n_devices=n, n_edges=m, profile=synthetic.chain(4),
                                n_samples=int(rng.integers(50, 400)), **kw)


HET_A = np.array([1.0, 2.0, 1.5, 0.5, 3.0])
HET_C = np.array([0.4, 0.2, 0.6, 0.3, 0.1])


# --------------------------------------------------------------------------- regression (spec §6)
def test_hand_instance_values():
    inst = hand_instance()
    a, C = gsfl.separable(inst, 1)
    assert np.allclose(a, 0.6) and np.allclose(C, 0.44)
    assert gsfl.evaluate(inst, scheme="sl").round_s == pytest.approx(4.16)
    assert gsfl.evaluate(inst, 1, np.zeros(4, int)).round_s == pytest.approx(4.16)
    k2 = gsfl.evaluate(inst, 1, [0, 0, 1, 1], [0.5, 0.5, 0, 0])
    assert k2.training_s == pytest.approx(2.96)
    assert k2.breakdown_s["distribution_s"] == pytest.approx(0.01)
    assert k2.breakdown_s["aggregation_s"] == pytest.approx(0.011)
    assert k2.round_s == pytest.approx(2.981)
    k4 = gsfl.evaluate(inst, 1, [0, 1, 2, 3], np.full(4, 0.25))
    assert (k4.training_s, k4.round_s) == (pytest.approx(2.36), pytest.approx(2.381))
    fl = gsfl.evaluate(inst, scheme="fl")
    assert fl.breakdown_s["model_download_s"] == pytest.approx(0.22)
    assert fl.breakdown_s["model_upload_s"] == pytest.approx(0.88)
    assert fl.round_s == pytest.approx(4.40)
    assert gsfl.evaluate(inst, scheme="splitfed").round_s == pytest.approx(3.20)


def test_breakdown_sums_to_round():
    inst = gsfl.load(n_devices=7, n_edges=3, seed=3)
    for scheme in gsfl.SCHEMES:
        lat = gsfl.evaluate(inst, 3, np.arange(7) % 3, scheme=scheme)
        assert sum(lat.breakdown_s.values()) == pytest.approx(lat.round_s)
        assert set(lat.breakdown_s) == set(gsfl.COMPONENTS)


def test_spec_section9_default_instance():
    """§9: VGG-11, N = 20, f = 1 GFLOP/s, η = 8, cut 2; C8's ordering GSFL < SFL < SL < FL."""
    inst = gsfl.load("vgg11-spec", None, device_flops=1e9, eta=8, cut=2)
    x, al = np.arange(20) % 4, np.full(4, 0.25)
    sl, sfl, fl = (gsfl.evaluate(inst, 2, scheme=s).round_s for s in ("sl", "splitfed", "fl"))
    g = gsfl.evaluate(inst, 2, x, al)
    assert sl == pytest.approx(1346.3, abs=0.05)
    assert g.round_s == pytest.approx(585.7, abs=0.05) and g.training_s == pytest.approx(585.1, abs=0.05)
    assert sfl == pytest.approx(817.5, abs=0.05)
    assert fl == pytest.approx(2358.1, abs=0.05)
    assert g.round_s < sfl < sl < fl
    assert gsfl.evaluate(inst, 1, scheme="sl").round_s == pytest.approx(2330.5, abs=0.05)
    assert gsfl.evaluate(inst, 1, x, al).round_s == pytest.approx(1577.3, abs=0.05)
    assert gsfl.evaluate(inst, 4, x, al).round_s == pytest.approx(1840.2, abs=0.05)


def test_spec_vgg11_totals():
    g = gsfl.spec_vgg11()
    assert g.forward_flop.sum() == 305_815_562
    assert g.param_bytes.sum() / 4 == 9_225_610


def test_heterogeneous_instance():
    """§6 heterogeneous instance, M = 2: optimum 5.6 (two optimal partitions), LPT 6.1 / 5.7434."""
    a, C = HET_A, HET_C
    assert gsfl.brute_force_ac(a, C, 2)[0] == pytest.approx(5.6)
    for part in ([0, 1, 0, 0, 1], [1, 0, 0, 0, 1]):
        assert gsfl.train_time_ac(a, C, [part], 2)[0] == pytest.approx(5.6)
    x = gsfl.lpt_groups(a + 2 * C, 2)
    assert {frozenset(np.flatnonzero(x == k)) for k in (0, 1)} == {frozenset({0, 3, 4}), frozenset({1, 2})}
    assert np.bincount(x, weights=a + 2 * C).max() == pytest.approx(6.1)
    T, alpha = gsfl.bandwidth_split(np.bincount(x, weights=a), np.bincount(x, weights=C))
    assert float(T) == pytest.approx(5.7434, abs=1e-4)
    assert sorted(alpha) == [pytest.approx(0.3566, abs=1e-4), pytest.approx(0.6434, abs=1e-4)]
    assert gsfl.heuristic_ac(a, C, 2)[0] == pytest.approx(5.6)
    # SL: one group, α = 1
    assert gsfl.train_time_ac(a, C, [np.zeros(5, int)], 2)[0] == pytest.approx(9.6)


@requires("scip")
@pytest.mark.parametrize("formulation", ["cvxpy", "pyomo"])
def test_heterogeneous_misocp(formulation):
    res, x = gsfl.solve_misocp(HET_A, HET_C, 2, formulation=formulation)
    assert res.status == "optimal" and res.objective == pytest.approx(5.6, rel=1e-6)
    assert gsfl.train_time_ac(HET_A, HET_C, [x], 2)[0] == pytest.approx(5.6, rel=1e-9)


@pytest.mark.parametrize("solver", installed("highs", "cbc", "glpk", "cp-sat"))
def test_heterogeneous_equal_bandwidth_milp(solver):
    x, res = gsfl._solve_makespan(np.repeat((HET_A + 2 * HET_C)[:, None], 2, 1), 2, None, solver, None, None,
                                  "first-index")
    assert res.status == "optimal" and res.objective == pytest.approx(5.6, rel=1e-7)
    assert {frozenset(np.flatnonzero(x == k)) for k in (0, 1)} == {frozenset({0, 2, 3}), frozenset({1, 4})}


# --------------------------------------------------------------------------- claims C1-C7
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.integers(1, 3))
def test_c1_one_group_is_sl(seed, cut):
    inst = tiny(seed)
    inst = inst.replace(edge_flops=np.full(inst.M, inst.server_flops))
    g = gsfl.evaluate(inst, cut, np.zeros(inst.N, int), np.eye(inst.M)[0])
    assert g.round_s == pytest.approx(gsfl.evaluate(inst, cut, scheme="sl").round_s, rel=1e-12)
    assert g.breakdown_s["distribution_s"] == g.breakdown_s["aggregation_s"] == 0.0


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.integers(1, 3), rate=st.sampled_from(["fixed-se", "shannon"]))
def test_c2_singletons_are_splitfed(seed, cut, rate):
    inst = tiny(seed, rate_model=rate)
    N = inst.N
    rng = np.random.default_rng(seed)
    gamma = rng.dirichlet(np.ones(N)) * rng.uniform(0.5, 1.0)
    inst = inst.replace(edge_flops=np.full(N, inst.server_flops / N), n_edges=None)
    g = gsfl.evaluate(inst, cut, np.arange(N), gamma, relay="broadcast", sync=False)
    s = gsfl.evaluate(inst, cut, scheme="splitfed", gamma=gamma)
    assert g.round_s == pytest.approx(s.round_s, rel=1e-12)
    # charging each client's own broadcast inside its turn is never larger than Eq. 19
    own = gsfl.evaluate(inst, cut, np.arange(N), gamma, sync=False)
    own_bcast = own.clients["turn_s"] - own.clients["model_download_s"] + \
        gsfl._div(gsfl.cut_figures(inst.profile, cut).client_model_bits, gsfl.downlink_rate_bps(inst, np.ones(N)))
    assert own_bcast.max() <= s.round_s * (1 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(K=st.sampled_from([1, 2, 3, 6]), seed=st.integers(0, 1000))
def test_c3_homogeneous_scaling(K, seed):
    N = 6
    inst = gsfl.make_instance(synthetic.chain(4), np.full(N, 2e9), np.full(N, 300), np.full(N, 1e-10),
                              edge_flops=5e10, n_edges=6, server_flops=5e10,
                              backhaul_bps=float(np.random.default_rng(seed).uniform(1e7, 1e9)))
    a, C = gsfl.separable(inst, 2)
    x = np.arange(N) % K
    alpha = np.where(np.arange(6) < K, 1.0 / K, 0.0)
    lat = gsfl.evaluate(inst, 2, x, alpha)
    assert lat.training_s == pytest.approx(N / K * a[0, 0] + N * C[0], rel=1e-12)
    sl = gsfl.evaluate(inst, 2, scheme="sl").round_s
    sync = lat.breakdown_s["distribution_s"] + lat.breakdown_s["aggregation_s"]
    assert sl - lat.round_s == pytest.approx((1 - 1 / K) * N * a[0, 0] - sync, rel=1e-9, abs=1e-9)
    assert (lat.round_s <= sl + 1e-9) == (sync <= (1 - 1 / K) * N * a[0, 0] + 1e-9)


@settings(max_examples=300, deadline=None)
@given(A=st.lists(st.floats(0.0, 100.0), min_size=1, max_size=6), data=st.data())
def test_c4_bandwidth_split_equalises(A, data):
    K = len(A)
    C = np.array(data.draw(st.lists(st.floats(1e-3, 100.0), min_size=K, max_size=K)))
    A = np.array(A)
    T, alpha = gsfl.bandwidth_split(A, C, np.ones(K, bool))
    assert alpha.sum() == pytest.approx(1.0, rel=1e-9)
    assert np.allclose(A + C / alpha, T, rtol=1e-9)
    if np.allclose(A, A[0], rtol=1e-12, atol=0.0):      # equal A (np.allclose's default atol would
        assert float(T) == pytest.approx(A[0] + C.sum(), rel=1e-9)   # call A = [0, 1e-10] equal)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), K=st.integers(1, 5))
def test_c4_bisection_equals_cvxpy(seed, K):
    rng = np.random.default_rng(seed)
    A, C = rng.uniform(0, 10, K), rng.uniform(0.01, 10, K)
    T, _ = gsfl.bandwidth_split(A, C, np.ones(K, bool))
    res = solve(gsfl.build_bandwidth_cvxpy(A, C), solver="clarabel")
    assert res.status == "optimal" and res.objective == pytest.approx(float(T), rel=1e-6)


def test_c4_equal_finish_general_readings():
    """Alg. 5 for GSFL-P (fixed SE) and for the Shannon model: equal T_k, Σ α = 1."""
    for kw in ({"intra_group": "parallel"}, {"rate_model": "shannon"},
               {"rate_model": "shannon", "intra_group": "parallel"}):
        inst = tiny(5, n=6, m=3, **kw)
        x = np.array([0, 0, 1, 1, 1, 2])
        T, alpha = gsfl.bandwidth_split_general(inst, 2, x)
        lat = gsfl.evaluate(inst, 2, x, alpha)
        assert alpha.sum() == pytest.approx(1.0, rel=1e-6)
        assert np.allclose(lat.groups["time_s"], T, rtol=1e-6)
        assert lat.training_s == pytest.approx(T, rel=1e-6)


def test_c5_counterexample():
    """MILP with α = 1/2 gives 2.1 s, Alg. 5 on the singletons 1.11 s (spec C5)."""
    a, C = np.array([0.1, 0.1]), np.array([1.0, 0.01])
    assert np.max(np.bincount([0, 1], weights=a + 2 * C)) == pytest.approx(2.1)
    assert gsfl.train_time_ac(a, C, [[0, 1]], 2)[0] == pytest.approx(1.11)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 100_000), N=st.integers(2, 7), M=st.integers(1, 4))
def test_c5_exact_bounds_heuristic_and_graham(seed, N, M):
    rng = np.random.default_rng(seed)
    a, C = rng.uniform(0.1, 5, N), rng.uniform(0.01, 2, N)
    opt = gsfl.brute_force_ac(a, C, M)[0]
    assert opt <= gsfl.heuristic_ac(a, C, M)[0] * (1 + 1e-9)
    eq = []
    for K in range(1, min(M, N) + 1):
        X = gsfl.set_partitions(N, K)
        loads = np.stack([np.bincount(x, weights=a + K * C, minlength=K).max() for x in X])
        opt_k = loads.min()
        eq.append(opt_k)
        lpt = np.bincount(gsfl.lpt_groups(a + K * C, K), weights=a + K * C, minlength=K).max()
        assert lpt <= (4 / 3 - 1 / (3 * K)) * opt_k * (1 + 1e-12)
    assert opt <= min(eq) * (1 + 1e-9)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), which=st.sampled_from(["bandwidth", "f", "F", "backhaul", "M"]))
def test_c6_monotonicity(seed, which):
    inst = tiny(seed, n=4, m=2)
    c, x, v = gsfl.brute_force(inst)
    up = {"bandwidth": dict(uplink_bandwidth_hz=2 * inst.uplink_bandwidth_hz,
                            downlink_bandwidth_hz=2 * inst.downlink_bandwidth_hz),
          "f": dict(client_flops=inst.client_flops * 1.5),
          "F": dict(edge_flops=inst.edge_flops * 1.5, server_flops=inst.server_flops * 1.5),
          "backhaul": dict(backhaul_bps=inst.backhaul_bps * 3),
          "M": dict(edge_flops=np.full(3, inst.edge_flops[0]))}[which]
    better = inst.replace(**up)
    if which != "M":     # the same decision does not get slower
        alpha = gsfl.bandwidth_split_general(inst, c, x)[1]
        assert gsfl.evaluate(better, c, x, alpha).round_s <= gsfl.evaluate(inst, c, x, alpha).round_s * (1 + 1e-12)
    assert gsfl.brute_force(better)[2] <= v * (1 + 1e-9)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.integers(1, 3))
def test_c7_same_work_per_round(seed, cut):
    inst = tiny(seed)
    x = np.arange(inst.N) % inst.M
    flops = [sum(gsfl.evaluate(inst, cut, x, scheme=s).flop.values()) for s in gsfl.SCHEMES]
    assert np.allclose(flops, flops[0], rtol=1e-12)


def test_shannon_never_slower_than_fixed_se():
    """η is computed at the full band, so Shannon's rate at α < 1 is at least α B η."""
    fixed = tiny(2, n=5, m=3)
    shan = fixed.replace(rate_model="shannon")
    x = np.array([0, 1, 2, 0, 1])
    al = np.array([0.5, 0.3, 0.2])
    assert gsfl.evaluate(shan, 2, x, al).round_s <= gsfl.evaluate(fixed, 2, x, al).round_s


def test_parallel_singletons_equal_sequential():
    seq = tiny(4, n=4, m=4)
    par = seq.replace(intra_group="parallel")
    x, al = np.arange(4), np.full(4, 0.25)
    assert gsfl.evaluate(par, 2, x, al).round_s == pytest.approx(gsfl.evaluate(seq, 2, x, al).round_s)


# --------------------------------------------------------------------------- exact methods
def _misocp_case(seed):
    inst = tiny(seed, cut=int(np.random.default_rng(seed).integers(1, 4)))
    return inst


N_MISOCP = 400 if FULL else 100


@requires("scip")
@pytest.mark.parametrize("block", range(N_MISOCP // 25))
def test_misocp_cvxpy_pyomo_brute_force_agree(block):
    """MISOCP via CVXPY+SCIP and Pyomo+SCIP = brute force on 100 tiny random instances (400 with
    SLOPT_FULL=1), in blocks of 25. Each solution is re-evaluated with evaluate()."""
    for seed in range(25 * block, 25 * block + 25):
        inst = _misocp_case(seed)
        c = inst.cut
        a, C = gsfl.separable(inst, c)
        sync = sum(gsfl.sync_s(inst, gsfl.cut_figures(inst.profile, c), 2))
        bf = gsfl.brute_force(inst)[2]
        for form in ("cvxpy", "pyomo"):        # the bare MISOCP: no incumbent, no pruning
            res, x = gsfl.solve_misocp(a, C, inst.M, sync=sync, formulation=form)
            assert res.status == "optimal"
            assert res.objective == pytest.approx(bf, rel=1e-6)
            alpha = gsfl.bandwidth_split_general(inst, c, x)[1]
            assert gsfl.evaluate(inst, c, x, alpha).round_s == pytest.approx(res.objective, rel=1e-6)


@requires("scip")
def test_exact_method_equals_brute_force():
    """The full Alg. 3 (all cuts, pruning by the Alg. 4 incumbent) = enumeration; plans re-evaluated."""
    for seed in range(8):
        inst = tiny(seed + 500)
        bf = gsfl.method_brute_force(inst)
        for form in ("cvxpy", "pyomo"):
            plan = gsfl.method_exact(inst, formulation=form)
            assert plan.status == "optimal"
            assert plan.objective == pytest.approx(bf.objective, rel=1e-6)
            assert plan.objective <= plan.decision["single_group_s"] * (1 + 1e-9)   # compared with K = 1
            d = plan.decision
            assert gsfl.evaluate(inst, d["cut"], d["assignment"], d["alpha"]).round_s == pytest.approx(plan.objective)


@requires("scip")
def test_misocp_without_pruning_and_forced_groups():
    """The MISOCP itself (no incumbent cut-off), with the z term and with n_groups forced."""
    for seed in range(2):
        inst = tiny(seed + 100, n=5, m=3, cut=2)
        a, C = gsfl.separable(inst, 2)
        sync = sum(gsfl.sync_s(inst, gsfl.cut_figures(inst.profile, 2), 2))
        bf = gsfl.brute_force(inst)[2]
        for form in ("cvxpy", "pyomo"):
            res, x = gsfl.solve_misocp(a, C, 3, sync=sync, formulation=form)
            assert res.status == "optimal" and res.objective == pytest.approx(bf, rel=1e-6)
        for K in (1, 2, 3):
            forced = inst.replace(n_groups=K)
            res, x = gsfl.solve_misocp(a, C, 3, sync=sync, n_groups=K, symmetry="size")
            assert len(np.unique(x)) == K
            assert res.objective == pytest.approx(gsfl.brute_force(forced)[2], rel=1e-6)


N_MILP = 100


@pytest.mark.parametrize("solvers", [installed("highs", "cp-sat"), installed("cbc")])
def test_equal_bandwidth_milp_agrees(solvers):
    """Equal-bandwidth MILP (HiGHS, CBC) and CP-SAT = enumeration on 100 random instances."""
    count = N_MILP
    for seed in range(count):
        rng = np.random.default_rng(seed)
        N, K = int(rng.integers(2, 8)), int(rng.integers(1, 4))
        p = rng.uniform(0.1, 10, N)
        best = min(np.bincount(x, weights=p, minlength=K).max() for x in gsfl.set_partitions(N, K))
        for s in solvers:
            x, res = gsfl._solve_makespan(np.repeat(p[:, None], K, 1), K, None, s, None, 1e-9, "first-index")
            assert res.status == "optimal"
            assert np.bincount(x, weights=p, minlength=K).max() == pytest.approx(best, rel=1e-7)


@pytest.mark.parametrize("symmetry", ["first-index", "size", "none"])
def test_symmetry_breaking_keeps_the_optimum(symmetry):
    """Either symmetry-breaking family (never both) leaves the optimum unchanged (spec §4)."""
    for seed in range(15):
        rng = np.random.default_rng(seed)
        N, K = int(rng.integers(3, 8)), int(rng.integers(2, 4))
        p = rng.uniform(0.1, 10, N)
        best = min(np.bincount(x, weights=p, minlength=K).max() for x in gsfl.set_partitions(N, K))
        x, res = gsfl._solve_makespan(np.repeat(p[:, None], K, 1), K, None, "highs", None, 1e-9, symmetry)
        assert res.status == "optimal"
        assert np.bincount(x, weights=p, minlength=K).max() == pytest.approx(best, rel=1e-7)
    if installed("scip"):
        inst = tiny(21, n=5, m=3, cut=2)
        a, C = gsfl.separable(inst, 2)
        res, _ = gsfl.solve_misocp(a, C, 3, symmetry=symmetry)
        assert res.objective == pytest.approx(gsfl.brute_force_ac(a, C, 3)[0], rel=1e-6)


def test_brute_force_partitions_count():
    # Bell numbers restricted to <= k blocks: S(5,1..3) = 1 + 15 + 25
    assert gsfl.set_partitions(5, 3).shape[0] == 41
    assert gsfl.set_partitions(6, 6).shape[0] == 203


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_heuristic_never_below_brute_force_and_plans_reevaluate(seed):
    inst = tiny(seed)
    bf = gsfl.method_brute_force(inst)
    pa = gsfl.method_paper(inst)
    assert bf.objective <= pa.objective * (1 + 1e-9)
    for plan in (bf, pa):
        d = plan.decision
        assert gsfl.evaluate(inst, d["cut"], d["assignment"], d["alpha"]).round_s == pytest.approx(plan.objective)


@pytest.mark.parametrize("kw", [{"intra_group": "parallel"}, {"rate_model": "shannon"}, {"shared_band": False},
                                {"shared_backhaul": True}])
def test_variants_brute_force_vs_heuristic(kw):
    for seed in range(2):
        inst = tiny(seed + 7, n=3 if "rate_model" in kw else 4, m=2, **kw)
        bf = gsfl.method_exact(inst)            # routed to enumeration (or the MILP without a shared band)
        pa = gsfl.method_paper(inst)
        assert bf.objective <= pa.objective * (1 + 1e-6)
        d = bf.decision
        assert gsfl.evaluate(inst, d["cut"], d["assignment"], d["alpha"]).round_s == pytest.approx(bf.objective)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), K=st.integers(1, 3))
def test_forced_number_of_groups(seed, K):
    inst = tiny(seed, n=5, m=3, n_groups=K)
    pa, bf = gsfl.method_paper(inst), gsfl.method_brute_force(inst)
    assert pa.decision["n_groups"] == bf.decision["n_groups"] == K
    assert bf.objective <= pa.objective * (1 + 1e-9)


@requires("scip")
def test_formulations_hook():
    inst = tiny(3, n=4, m=2, cut=2)
    opt = gsfl.method_brute_force(inst).objective
    for name, build in gsfl.formulations(inst).items():
        res = solve(build(), solver="scip")
        assert res.status == "optimal" and res.objective == pytest.approx(opt, rel=1e-6), name


def test_all_methods_reevaluate():
    inst = tiny(11, n=5, m=2)
    for name, f in gsfl.METHODS.items():
        if name in ("exact", "exact-cvxpy") and not installed("scip"):
            continue
        plan = f(inst)
        d = plan.decision
        if name in ("sl", "fl", "splitfed", "cpsl"):
            ref = gsfl.baseline(inst, name).round_s
        else:
            ref = gsfl.evaluate(inst, d["cut"], d["assignment"], d["alpha"]).round_s
        assert plan.objective == pytest.approx(ref), name
        json.dumps(plan.to_dict())


@pytest.mark.parametrize("solver", installed("highs", "cbc", "cp-sat"))
def test_equal_bandwidth_method_solvers(solver):
    inst = tiny(3, n=5, m=3)
    plans = gsfl.method_equal_bandwidth(inst, solver=solver)
    assert plans.status == "optimal"
    assert gsfl.method_brute_force(inst).objective <= plans.objective * (1 + 1e-9)


# --------------------------------------------------------------------------- bad input
def test_bad_input():
    with pytest.raises(ValidationError, match="n_groups") as e:
        tiny(1, n=3, m=4, n_groups=4)
    assert e.value.field == "n_groups"
    with pytest.raises(ValidationError, match="uplink_bandwidth_hz"):
        tiny(1, bandwidth_hz=0)
    with pytest.raises(ValidationError, match="cut = 9"):
        tiny(1, cut=9)
    with pytest.raises(ValidationError, match="cut = 0"):
        gsfl.evaluate(tiny(1), 0, scheme="sl")
    inst = tiny(1, n=3, m=2)
    with pytest.raises(ValidationError, match="assignment"):
        gsfl.evaluate(inst, 1, [0, 5, 1])
    with pytest.raises(InfeasibleError, match="sum to"):
        gsfl.evaluate(inst, 1, [0, 1, 1], [0.7, 0.7])
    with pytest.raises(InfeasibleError, match="non-empty group"):
        gsfl.evaluate(inst, 1, [0, 1, 1], [1.0, 0.0])
    with pytest.raises(ValidationError, match="not a chain"):
        gsfl.make_instance(synthetic.residual_chain(1), [1e9], [10], [1e-9])
    with pytest.raises(ValidationError, match="intra_group"):
        tiny(1, intra_group="both")
    with pytest.raises(ValidationError, match="client_flops"):
        gsfl.make_instance(synthetic.chain(3), [1e9, 0.0], [10, 10], [1e-9, 1e-9])
    with pytest.raises(ValidationError, match="unknown gsfl parameter"):
        gsfl.load(n_client=3)


# --------------------------------------------------------------------------- CLI
def test_cli_solve_json():
    from typer.testing import CliRunner

    from slopt.cli import app

    r = CliRunner()
    for method in ("paper", "sl", "fl", "splitfed"):
        out = r.invoke(app, ["solve", "gsfl", "--method", method, "--json", "--set", "n_devices=6",
                             "--set", "n_edges=2"])
        assert out.exit_code == 0, out.output
        d = json.loads(out.output)
        assert d["problem"] == "gsfl" and d["objective"] > 0
    if installed("scip"):
        out = r.invoke(app, ["solve", "gsfl", "--method", "exact", "--json", "--set", "n_devices=4",
                             "--set", "n_edges=2", "--set", "cut=2"])
        assert out.exit_code == 0, out.output
        assert json.loads(out.output)["status"] == "optimal"
    out = r.invoke(app, ["solve", "gsfl", "--set", "n_groups=30"])
    assert out.exit_code == 2 and "n_groups" in out.output


def test_registered():
    from slopt.problems import get

    p = get("gsfl")
    assert {"paper", "exact", "sl", "fl", "splitfed"} <= set(p.methods)
    inst = p.random_instance(0)
    assert inst.N == 6


@requires("scip")
def test_heterogeneous_edge_servers():
    """Edge servers of different speeds (a_{n,k}, R||C_max-like): no symmetry breaking,
    all M^N assignments enumerated; MISOCP = enumeration <= Alg. 4."""
    for seed in range(3):
        inst = tiny(seed + 40, n=4, m=2)
        inst = inst.replace(edge_flops=np.array([3e10, 1e11]))
        assert not inst.identical_edges
        bf = gsfl.method_brute_force(inst)
        ex = gsfl.method_exact(inst)
        pa = gsfl.method_paper(inst)
        assert ex.objective == pytest.approx(bf.objective, rel=1e-6)
        assert bf.objective <= pa.objective * (1 + 1e-9)


def test_client_memory_restricts_cuts():
    """Optional constraint of P: W_c(c) + b s_c <= mem_n restricts the common cut."""
    inst = tiny(2, n=4, m=2)
    need = [gsfl.cut_figures(inst.profile, c).client_model_bits / 8
            + inst.batch * gsfl.cut_figures(inst.profile, c).smashed_bits / 8 for c in inst.cuts]
    mem = sorted(need)[1] * 1.0001                     # only the two smallest-footprint cuts fit
    small = inst.replace(client_memory_bytes=np.full(4, mem))
    assert sorted(small.cuts) == sorted(np.argsort(need)[:2] + 1)
    assert gsfl.method_paper(small).decision["cut"] in small.cuts
    assert gsfl.method_brute_force(small).decision["cut"] in small.cuts
    with pytest.raises(InfeasibleError, match="exceeds a client's memory") as e:
        inst.replace(client_memory_bytes=np.full(4, min(need) / 2))
    assert e.value.shortfall == pytest.approx(min(need) / 2)
