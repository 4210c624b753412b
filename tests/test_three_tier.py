"""Three-tier split fine-tuning (spec three-tier-llm-sl.md): memory/delay models, the claims of
§5, Algorithm B against exact baselines, the MILP across solvers, baselines, bad input, CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import slopt.models.three_tier as tt
from conftest import FULL, installed, requires
from slopt.errors import InfeasibleError, ValidationError
from slopt.problems import get
from slopt.profiles.transformer import PRESETS, transformer

GIB = 2 ** 30
HS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def spec6():
    return tt.spec6_instance(include_labels=False)


def _schedule(inst):
    """Users in index order, round-robin over the edges (C2-C4)."""
    out, n = [], 0
    for k in inst.round_sizes:
        out.append([(n + i, i) for i in range(k)])
        n += k
    return out


# ------------------------------------------------------------------------ §8.2 regression values
def test_spec_8_2_intermediate_quantities(spec6):
    f = spec6.fig
    assert f.param_count[1] == 12_596_224 and f.param_count[0] == 52_511_744
    assert f.param_count[-1] == 51_465_216
    assert f.act_bytes[1] == 155_189_248 and f.act_bytes[-1] == 617_558_016


def test_spec_8_2_memory_table(spec6):
    df = tt.memory_comparison(spec6, 4, 12).set_index("scheme")
    gib = df["peak_gib"]
    split = df.loc["SplitLLM"].set_index("node")["peak_gib"]
    assert split["user"] == pytest.approx(0.776, abs=5e-4)
    assert split["edge"] == pytest.approx(1.348, abs=5e-4)
    assert split["cloud"] == pytest.approx(7.324, abs=5e-4)
    assert gib["SplitFed"] == pytest.approx(40.406, abs=5e-4)
    assert gib["shared server (PSL)"] == pytest.approx(35.233, abs=5e-4)
    assert gib["vanilla SL"] == pytest.approx(4.041, abs=5e-4)
    assert gib["FedLoRA"] == pytest.approx(4.720, abs=5e-4)
    assert df.loc["SplitFed", "reduction"] == pytest.approx(0.819, abs=5e-4)
    assert df.loc["shared server (PSL)", "reduction"] == pytest.approx(0.792, abs=5e-4)
    assert df.loc["vanilla SL", "reduction"] == pytest.approx(-0.812, abs=5e-4)
    assert df.loc["FedLoRA", "reduction"] == pytest.approx(0.836, abs=5e-4)
    shared = tt.baseline_memory(spec6.with_(sfl_weights="shared"), "splitfed")
    assert shared["server_bytes"] / GIB == pytest.approx(35.320, abs=5e-4)


def test_spec_8_2_delays(spec6):
    m, d = tt.evaluate(spec6, 4, 12, _schedule(spec6))
    assert m["d_act_bits"] / 1e6 == pytest.approx(33.55, abs=0.01)
    assert spec6.rate_up_bps[0, 0] / 1e6 == pytest.approx(133.2, abs=0.05)
    r = d["rounds"]
    assert r["iteration_s"].iloc[0] == pytest.approx(0.859, abs=5e-4)
    assert r["round_s"].iloc[0] == pytest.approx(8.67, abs=5e-3)
    assert r["iteration_s"].iloc[3] == pytest.approx(0.836, abs=5e-4)
    assert r["round_s"].iloc[3] == pytest.approx(8.43, abs=5e-3)
    assert m["epoch_delay_s"] == pytest.approx(34.43, abs=5e-3)
    parts = ["epoch_user_compute_s", "epoch_edge_compute_s", "epoch_cloud_compute_s", "epoch_wireless_s",
             "epoch_backhaul_s", "epoch_aggregation_s"]
    assert sum(m[k] for k in parts) == pytest.approx(m["epoch_delay_s"], rel=1e-12)
    labelled = tt.spec6_instance()
    ml, dl = tt.evaluate(labelled, 4, 12, _schedule(labelled))
    assert dl["rounds"]["iteration_s"].iloc[0] == pytest.approx(0.860, abs=5e-4)
    assert ml["epoch_delay_s"] == pytest.approx(34.44, abs=5e-3)
    sfl = tt.baseline_delay(spec6, "splitfed")
    assert sfl["iteration_s"] == pytest.approx(1.734, abs=5e-4)
    assert sfl["epoch_delay_s"] == pytest.approx(17.51, abs=5e-3)


# ----------------------------------------------------------- spec figures vs the analytic profile
@pytest.mark.parametrize("name", ["gpt2-medium", "llama2-7b", "gpt2-tiny"])
def test_layer_figures_agree_with_transformer_profile(name):
    cfg = PRESETS[name]
    s, b, r = 128, 3, 8
    fig = tt.layer_figures(cfg, s, b, r, ("q", "v"), p_a=2, include_lora_flop=True)
    g = transformer(cfg, s, dtype_bytes=2, lora_rank=r, lora_targets=("q", "v"))
    lora = g.extra["lora_param_count"]
    assert np.allclose(fig.lora_count[1:-1], lora[1:-1])
    assert np.allclose(fig.param_count[1:-1], g.extra["param_count"][1:-1] - lora[1:-1])   # Eq. 1a/1b
    assert np.allclose(fig.fwd_flop[1:], b * g.forward_flop[1:])                         # Eq. 11
    full = transformer(cfg, s, dtype_bytes=2)                                            # Eq. 3 = full count
    if cfg.kind == "gpt2":
        assert np.allclose(fig.act_bytes[1:-1], b * full.extra["saved_activation_bytes"][1:-1])
        assert fig.param_count[0] == g.extra["param_count"][0]                          # Eq. 1c
    prof = tt.layer_figures(cfg, s, b, r, ("q", "v"), p_a=2, activation_model="profile")
    assert np.all(prof.act_bytes[1:-1] < fig.act_bytes[1:-1])    # frozen inputs are not saved


# --------------------------------------------------------------------------------- claims of §5
def test_claim_5_memory_monotone_in_the_cuts(spec6):
    df = tt.cut_pair_memory(spec6)
    mu = df.groupby("l_u")["user_bytes"].first()
    assert np.all(np.diff(mu.values) >= 0)
    mc = df.groupby("l_e")["cloud_bytes"].first()
    assert np.all(np.diff(mc.values) <= 0)
    assert df.groupby(df["l_e"] - df["l_u"])["edge_bytes"].nunique().max() == 1


@pytest.mark.parametrize("reading", ["per-stream", "shared"])
def test_claim_6_cloud_memory_linear_in_streams_and_independent_of_n(reading):
    inst = tt.spec6_instance(cloud_adapter=reading)
    l_e = 12
    vals = [tt.memory_cloud(inst, l_e, E)["total_bytes"] for E in range(1, 8)]
    slope = float(inst.fig.act_bytes[l_e + 1:].sum())
    if reading == "per-stream":
        slope += inst.p_t * float(inst.fig.lora_count[l_e + 1:].sum())
    assert np.allclose(np.diff(vals), slope, rtol=1e-12)
    assert tt.memory_cloud(tt.spec6_instance(n_users=40, cloud_adapter=reading), l_e)["total_bytes"] == vals[2]
    sfl = [tt.baseline_memory(tt.spec6_instance(n_users=n), "splitfed")["server_bytes"] for n in (5, 6, 7, 8)]
    assert np.allclose(np.diff(np.diff(sfl)), 0, atol=1)


def test_claim_7_degenerate_cases(spec6):
    one = spec6.with_(edge_flops=spec6.edge_flops[:1], edge_memory_bytes=spec6.edge_memory_bytes[:1],
                      edge_up_bandwidth_hz=spec6.edge_up_bandwidth_hz[:1],
                      edge_down_bandwidth_hz=spec6.edge_down_bandwidth_hz[:1],
                      edge_tx_power_w=spec6.edge_tx_power_w[:1], gain=spec6.gain[:, :1],
                      backhaul_up_bps=spec6.backhaul_up_bps[:1], backhaul_down_bps=spec6.backhaul_down_bps[:1])
    for l_e in (5, 12, 24):
        assert tt.memory_cloud(one, l_e)["total_bytes"] == tt.baseline_memory(one, "sl", l_c=l_e)["server_bytes"]
    N = spec6.N
    shared = spec6.with_(sfl_weights="shared")
    for l_u in (2, 4, 10):     # empty edge part (l_e = l_u) and E = N: an SFL server with shared weights
        assert tt.memory_cloud(shared, l_u, N)["total_bytes"] == pytest.approx(
            tt.baseline_memory(shared, "splitfed", l_c=l_u)["server_bytes"], rel=1e-12)


def test_claim_8_reduction_approaches_the_activation_ratio():
    # activations dominate for large b s: 1 - M_srv / M_SFL -> 1 - E A(L_c) / (N A(L_s))
    red = []
    for N in (10, 20, 40):
        inst = tt.spec6_instance(n_users=N, batch=64, seq_len=1024, sfl_weights="shared")
        df = tt.memory_comparison(inst, 4, 12).set_index("scheme")
        A = inst.fig.act_bytes
        approx = 1 - inst.E * A[13:].sum() / (N * A[5:].sum())
        assert df.loc["SplitFed", "reduction"] == pytest.approx(approx, abs=0.01)
        red.append(df.loc["SplitFed", "reduction"])
    assert red[0] < red[1] < red[2]


def test_claim_4_paper_74_percent_lies_inside_the_models_range():
    """The paper's "up to 74 %" is reached by the reconstructed model for some (N, E): below it at
    N/E = 2, above it at the §6 setting (N/E = 10/3)."""
    def red(N, E):
        df = tt.memory_comparison(tt.spec6_instance(n_users=N, n_edges=E), 4, 12).set_index("scheme")
        return df.loc["SplitFed", "reduction"]
    assert red(8, 4) < 0.74 < red(10, 3)


def test_claim_9_cut_payload(spec6):
    for p_a in (2, 4):
        inst = spec6.with_(p_a=p_a)
        d = tt.pair_delays(inst, 3, 9)
        assert d.d_act_bits == 8 * p_a * inst.batch * inst.seq_len * inst.cfg.hidden
    d = tt.pair_delays(tt.spec6_instance(), 3, 9)
    assert d.d_lab_bits == 4 * 512 * math.ceil(math.log2(50257))


def test_claims_2_and_3_rounds_and_aggregation():
    inst = tt.random_instance(3, n_users=7, n_edges=3)
    plan = tt.algorithm_b(inst)
    sizes = [len(r) for r in plan.decision["schedule"]]
    assert sizes == [3, 3, 1]                                   # min(E, remaining) per round
    rng = np.random.default_rng(0)
    ads = [{"A": rng.normal(size=(4, 2)), "B": rng.normal(size=(2, 4))} for _ in range(3)]
    avg = tt.aggregate_adapters(ads, [5, 5, 5])
    assert np.allclose(avg["A"], np.mean([a["A"] for a in ads], axis=0))
    w = tt.aggregate_adapters(ads, [1, 0, 3])
    assert np.allclose(w["B"], 0.25 * ads[0]["B"] + 0.75 * ads[2]["B"])


def _identical_edges(seed: int, N: int, E: int):
    """Identical edges, users whose compute and channel are ordered alike, no aggregation term:
    the special case of spec §4.3 in which Algorithm B is exact."""
    inst = tt.random_instance(seed, n_users=N, n_edges=E, include_aggregation=False)
    rng = np.random.default_rng(seed)
    f = np.sort(rng.uniform(1e8, 1e9, N))
    g = np.sort(rng.uniform(1e-12, 1e-9, N))
    return inst.with_(user_flops=f, gain=np.repeat(g[:, None], E, axis=1),
                      edge_flops=np.full(E, 3e10), edge_tx_power_w=np.full(E, 0.5),
                      backhaul_up_bps=np.full(E, 5e8), backhaul_down_bps=np.full(E, 5e8))


@settings(max_examples=100, **HS)
@given(seed=st.integers(0, 10 ** 6), N=st.integers(2, 8), E=st.integers(1, 3))
def test_claim_10_algorithm_b_exact_with_identical_edges(seed, N, E):
    E = min(E, N)
    inst = _identical_edges(seed, N, E)
    b = tt.algorithm_b(inst)
    bf = tt.brute_force(inst)
    assert b.objective == pytest.approx(bf.objective, rel=1e-9)


@settings(max_examples=60, **HS)
@given(seed=st.integers(0, 10 ** 6), N=st.integers(2, 7), E=st.integers(1, 3), L=st.integers(2, 5))
def test_algorithm_b_feasible_and_never_below_brute_force(seed, N, E, L):
    inst = tt.random_instance(seed, n_users=N, n_edges=min(E, N), n_layers=L)
    b, bf = tt.algorithm_b(inst), tt.brute_force(inst)
    tt.check_schedule(inst, b.decision["schedule"])
    assert b.objective >= bf.objective * (1 - 1e-12)
    # the bound used to prune the exact method's enumeration is valid at every cut pair
    for l_u, l_e in [(1, L), (L - 1, L)]:
        d = tt.pair_delays(inst, l_u, l_e)
        T, _ = tt.brute_force_fixed_cut(inst, l_u, l_e)
        assert tt.lower_bound(inst, d) <= T * (1 + 1e-12)


@requires("highs")
@settings(max_examples=25, **HS)
@given(seed=st.integers(0, 10 ** 6), N=st.integers(2, 6), E=st.integers(1, 3))
def test_milp_equals_brute_force_on_tiny_instances(seed, N, E):
    inst = tt.random_instance(seed, n_users=N, n_edges=min(E, N), n_layers=3)
    l_u, l_e = 1, 2
    res, rounds = tt.solve_fixed_cut(inst, l_u, l_e, "highs", mip_gap=0)
    T_bf, _ = tt.brute_force_fixed_cut(inst, l_u, l_e)
    assert res.termination == "optimal" and res.gap <= tt.OPT_TOL   # "feasible" when the bound is 1e-9 off
    T = tt.epoch_delay(inst, tt.pair_delays(inst, l_u, l_e), tt.check_schedule(inst, [r.tolist() for r in rounds]))
    # re-evaluated plan = solver objective, to HiGHS's feasibility tolerance (1e-7 per epigraph row,
    # times K, on delays of ~0.1 s: relative 1e-5)
    assert T == pytest.approx(res.objective, rel=1e-5)
    assert T == pytest.approx(T_bf, rel=1e-5)
    ex, bf = tt.exact(inst), tt.brute_force(inst)
    assert ex.objective == pytest.approx(bf.objective, rel=1e-5)


N_CROSS = 300 if FULL else 100


@pytest.mark.slow
@pytest.mark.parametrize("solvers", [installed("highs", "cbc")])
def test_exact_agrees_across_two_solvers(solvers):
    """The fixed-cut MILP at a random cut pair, HiGHS vs CBC: 100 random instances by
    default, 300 with SLOPT_FULL=1 (about 20 s for 100)."""
    if len(solvers) < 2:
        pytest.skip("needs HiGHS and CBC")
    rng = np.random.default_rng(2026)
    for k in range(N_CROSS):
        N = int(rng.integers(2, 6))
        E = int(rng.integers(1, min(3, N) + 1))
        L = int(rng.integers(2, 5))
        inst = tt.random_instance(int(rng.integers(0, 10 ** 6)), n_users=N, n_edges=E, n_layers=L)
        l_u = int(rng.integers(1, L))
        l_e = int(rng.integers(l_u + 1, L + 1))
        objs = []
        for s in solvers:
            res, rounds = tt.solve_fixed_cut(inst, l_u, l_e, s, mip_gap=0)
            # CBC's log rounds its bound to 5 digits; slopt.solvers then cannot certify the gap and
            # says "feasible" -- the point is still checked and must agree with HiGHS
            assert res.status == "optimal" or (res.status == "feasible" and (s == "cbc" or res.gap <= tt.OPT_TOL)), \
                (k, s, res.message)
            objs.append(tt.epoch_delay(inst, tt.pair_delays(inst, l_u, l_e), rounds))
        assert objs[0] == pytest.approx(objs[1], rel=1e-5), k


@requires("highs", "cbc")
def test_exact_method_same_plan_value_with_highs_and_cbc():
    inst = tt.random_instance(11, n_users=4, n_edges=2, n_layers=3)
    a, b = tt.exact(inst, solver="highs"), tt.exact(inst, solver="cbc")
    assert a.objective == pytest.approx(b.objective, rel=1e-5)
    assert a.status == b.status == "optimal"


# ------------------------------------------------------------------------------------ P2
def test_memory_first_minimises_server_peak():
    inst = tt.load(cloud_memory_bytes=20 * GIB)
    plan = tt.memory_first(inst)
    df = tt.feasible_cut_pairs(inst)
    assert plan.objective == df["server_peak_bytes"].min()
    assert plan.objective == plan.metrics["server_peak_bytes"]
    fast = tt.algorithm_b(inst).objective
    lim = tt.memory_first(inst.with_(t_max_s=1.02 * fast))
    assert lim.metrics["epoch_delay_s"] <= 1.02 * fast
    assert lim.objective >= plan.objective
    with pytest.raises(InfeasibleError, match="T\\^max") as ei:
        tt.memory_first(inst.with_(t_max_s=0.5 * fast))
    assert ei.value.constraint == "T_max" and ei.value.shortfall > 0


# ------------------------------------------------------------------------------ baselines
def test_baselines_in_the_same_models(spec6):
    sl, sfl = tt.baseline_sl(spec6), tt.baseline_splitfed(spec6)
    psl, fed = tt.baseline_shared_server(spec6), tt.baseline_fed_lora(spec6)
    assert sl.metrics["server_peak_bytes"] < psl.metrics["server_peak_bytes"] < sfl.metrics["server_peak_bytes"]
    assert sl.objective > sfl.objective                     # SL: lowest server memory, longest delay
    assert fed.metrics["user_peak_bytes"] > tt.memory_user(spec6, 4)["total_bytes"]
    assert fed.metrics["server_peak_bytes"] == spec6.N * 4 * spec6.fig.lora_count.sum()
    edge = tt.baseline_edge_sfl(spec6)                       # ceil(10/3) = 4 users on the busiest edge
    assert edge.metrics["server_peak_bytes"] == tt.node_memory(spec6, slice(5, spec6.L + 2), 4, 4, 4)["total_bytes"]
    assert not edge.metrics["memory_feasible"]                # 16.16 GiB > the 16 GiB edge budget
    assert np.bincount(tt.edge_sfl_assignment(spec6)).max() == 4


# ------------------------------------------------------------------------------ plans
def test_plans_are_reevaluated_and_methods_run_on_defaults():
    inst = tt.load()
    paper, ex = tt.algorithm_b(inst), tt.exact(inst)
    for p in (paper, ex):
        m, _ = tt.evaluate(inst, p.decision["l_u"], p.decision["l_e"], p.decision["schedule"])
        assert p.objective == m["epoch_delay_s"]
        assert p.metrics["memory_feasible"]
    assert ex.objective <= paper.objective * (1 + 1e-9)
    ri = tt.random_instance(0)
    er = tt.exact(ri)
    assert er.metrics["solver_objective_s"] == pytest.approx(er.objective, rel=1e-5)   # MILP value = evaluate()
    assert ex.status == "optimal" and ex.solve.solver == "highs"


def test_fixed_cut_pair_is_respected():
    inst = tt.load(l_u=2, l_e=5)
    p = tt.algorithm_b(inst)
    assert (p.decision["l_u"], p.decision["l_e"]) == (2, 5)


def test_cloud_adapter_reading_changes_memory_by_the_spec_amount(spec6):
    a = tt.memory_cloud(spec6, 12)["total_bytes"]
    b = tt.memory_cloud(spec6.with_(cloud_adapter="shared"), 12)["total_bytes"]
    assert a - b == (spec6.E - 1) * spec6.p_t * spec6.fig.lora_count[13:].sum()


# ------------------------------------------------------------------------------ bad input
def test_memory_budget_no_cut_pair_satisfies_names_tier_and_bytes():
    inst = tt.spec6_instance(user_memory_bytes=0.2 * GIB)
    with pytest.raises(InfeasibleError, match=r"user tier is short by [\d,]+ bytes") as ei:
        tt.algorithm_b(inst)
    need = tt.memory_user(inst, 1)["total_bytes"] - 0.2 * GIB
    assert ei.value.constraint.startswith("C5") and ei.value.shortfall == pytest.approx(need)
    inst = tt.spec6_instance(user_memory_bytes=0.5 * GIB, edge_memory_bytes=0.55 * GIB, cloud_memory_bytes=9 * GIB)
    with pytest.raises(InfeasibleError, match=r"edge short by [\d,]+ bytes|cloud short by [\d,]+ bytes"):
        tt.exact(inst)
    with pytest.raises(InfeasibleError, match=r"fixed cut pair \(l_u, l_e\) = \(4, 12\) violates.*cloud short by"):
        tt.algorithm_b(tt.spec6_instance(l_u=4, l_e=12, cloud_memory_bytes=GIB))


def test_more_edges_than_users_and_cut_out_of_range():
    with pytest.raises(ValidationError, match="n_edges = 4 exceeds n_users = 3") as ei:
        tt.spec6_instance(n_users=3, n_edges=4)
    assert ei.value.field == "n_edges"
    with pytest.raises(ValidationError, match="l_e = 30 is out of range") as ei:
        tt.load(l_u=3, l_e=30)
    assert ei.value.field == "l_e"
    with pytest.raises(ValidationError, match="l_u = 0 is out of range"):
        tt.load(l_u=0, l_e=3)
    with pytest.raises(ValidationError, match="l_e = 3 is out of range"):
        tt.evaluate(tt.load(), 3, 3, [[(0, 0)]])
    with pytest.raises(ValidationError, match="cloud_adapter"):
        tt.load(cloud_adapter="both")
    with pytest.raises(ValidationError, match="unknown parameter"):
        tt.load(batchsize=3)
    inst = tt.random_instance(0, n_users=4, n_edges=2)
    with pytest.raises(ValidationError, match="exactly once"):
        tt.evaluate(inst, 1, 2, [[(0, 0), (1, 1)], [(0, 0), (3, 1)]])
    with pytest.raises(ValidationError, match="pairs an edge with two users"):
        tt.evaluate(inst, 1, 2, [[(0, 0), (1, 0)], [(2, 0), (3, 1)]])


# ------------------------------------------------------------------------------ CLI
def test_registered_methods_run():
    p = get("three-tier")
    assert set(p.methods) >= {"paper", "exact", "memory-first", "sl", "splitfed", "shared-server", "fed-lora"}
    for m in ("memory-first", "sl", "splitfed", "shared-server", "fed-lora", "edge-sfl"):
        plan = p.run(m, scenario="spec6")
        assert math.isfinite(plan.objective) and plan.to_dict()["method"] == m
    assert p.random_instance(1).N == 5
    f = p.formulations(p.random_instance(2, n_users=3))
    assert "fixed-cut-milp" in f


def test_cli_json():
    out = subprocess.run([sys.executable, "-m", "slopt.cli", "solve", "three-tier", "--method", "paper", "--json",
                          "--set", "cloud_adapter=shared"], capture_output=True, text=True, check=True)
    d = json.loads(out.stdout)
    assert d["problem"] == "three-tier" and d["metrics"]["epoch_delay_s"] == d["objective"]
