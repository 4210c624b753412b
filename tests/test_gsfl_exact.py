"""GSFL exact methods against an independently written brute force (latency recomputed from the
spec's equations 1-13, not through slopt's evaluator), the default instance proven optimal, time
limits, progress logging, Alg. 4's group-to-server reassignment, extra constraints and decoders."""

from __future__ import annotations

import itertools
import logging
import math
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import installed, requires

from slopt.models import gsfl
from slopt.profiles import ModelGraph
from slopt.solvers import solve

DOCS = Path(__file__).resolve().parents[1] / "docs" / "gsfl.md"


# --------------------------------------------------------------------------- independent truth
def _spec_round_latency(inst, c, x):
    """T_round of assignment x at cut c with the optimal bandwidth split, from spec §3.3 directly.

    Per client: I_n [b Φ^F/f_n + b s_c/r^U + b (Ψ^F + Ψ^B)/F_k + b g_c/r^D + b Φ^B/f_n] + W_c/r^D + W_c/r^U
    with r = α B η (Eqs. 1-8); group time = the sum over its clients (Eq. 9); T^train = max (Eq. 10);
    the best α by bisection on T with α_k(T) the fraction that makes group k finish at T; sync
    (Eqs. 11-12) when two or more groups are used.
    """
    g = inst.profile
    order = list(g.topological_order)
    fwd = [float(g.forward_flop[i]) for i in order]
    bwd = [float(g.backward_flop[i]) for i in order]
    par = [float(g.param_bytes[i]) for i in order]
    phi_f, phi_b = sum(fwd[:c]), sum(bwd[:c])
    psi = sum(fwd[c:]) + sum(bwd[c:])
    W_c, W_S = 8 * sum(par[:c]), 8 * sum(par[c:])
    s_up = 8 * float(g.activation_bytes[order[c - 1]])
    s_dn = 8 * float(g.gradient_bytes[order[c - 1]])
    b = inst.batch

    def turn(n, k, alpha):
        I = inst.epochs * math.ceil(inst.n_samples[n] / b)
        ru = alpha * inst.uplink_bandwidth_hz * inst.eta_up[n]
        rd = alpha * inst.downlink_bandwidth_hz * inst.eta_down[n]
        f = inst.client_flops[n]
        return (I * (b * phi_f / f + b * s_up / ru + b * psi / inst.edge_flops[k] + b * s_dn / rd + b * phi_b / f)
                + W_c / rd + W_c / ru)

    groups = {k: [n for n in range(inst.N) if x[n] == k] for k in set(x)}
    # group time is A_k + C_k / α (spec §3.3): read A_k, C_k off the latency at α = 1 and α = 1/2
    AC = {}
    for k, mem in groups.items():
        t1 = sum(turn(n, k, 1.0) for n in mem)
        t2 = sum(turn(n, k, 0.5) for n in mem)
        AC[k] = (2 * t1 - t2, t2 - t1)
    lo = max(A for A, _ in AC.values())
    hi = lo + sum(C for _, C in AC.values())
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        need = sum(C / (mid - A) if mid > A else math.inf for A, C in AC.values())
        lo, hi = (lo, mid) if need <= 1 else (mid, hi)
    sync = (W_S / inst.backhaul_bps + (W_S + W_c) / inst.backhaul_bps) if len(groups) >= 2 else 0.0
    return hi + sync


def spec_brute_force(inst, keep=lambda x: True):
    """Every cut (1..L-1, or the fixed one) and every one of the M^N assignments."""
    cuts = [inst.cut] if inst.cut is not None else range(1, inst.L)
    best = math.inf
    for x in itertools.product(range(inst.M), repeat=inst.N):
        if inst.n_groups is not None and len(set(x)) != inst.n_groups:
            continue
        if not keep(x):
            continue
        for c in cuts:
            best = min(best, _spec_round_latency(inst, c, x))
    return best


def random_case(seed):
    """Own generator: chains with FLOPs over three decades and zero-parameter layers, clients with
    spectral efficiencies 1-12 bit/s/Hz, identical or heterogeneous edge servers, near-ties
    (identical clients) and forced group counts."""
    rng = np.random.default_rng(seed)
    L = int(rng.integers(2, 5))
    f = 10 ** rng.uniform(5, 8, L)
    params = np.where(rng.random(L) < 0.3, 0.0, 10 ** rng.uniform(3, 6, L))
    prof = ModelGraph.chain(forward_flop=f, backward_flop=2 * f, param_bytes=params,
                            activation_bytes=10 ** rng.uniform(2, 5, L))
    N, M = int(rng.integers(2, 7)), int(rng.integers(1, 4))
    kind = seed % 4
    client_flops = np.full(N, 1e9) if kind == 3 else rng.uniform(0.3e9, 3e9, N)     # 3: near-ties
    eta = np.full(N, 6.0) if kind == 3 else rng.uniform(1, 12, N)
    edge = list(rng.uniform(5e9, 2e11, M)) if kind in (1, 2) else 1e11
    kw = dict(n_groups=int(rng.integers(1, min(N, M) + 1))) if kind == 2 else {}
    return gsfl.make_instance(prof, client_flops, rng.integers(20, 500, N), eta_up=eta, eta_down=eta[::-1].copy(),
                              edge_flops=edge, n_edges=None if kind in (1, 2) else M, batch=int(rng.integers(4, 33)),
                              uplink_bandwidth_hz=float(rng.uniform(1e6, 2e7)), backhaul_bps=1e8, **kw)


# --------------------------------------------------------------------------- exact = brute force
@pytest.mark.parametrize("block", range(4))
def test_exact_equals_independent_brute_force(block):
    """Set-partitioning exact = the spec-equation brute force on 40 random instances (identical and
    heterogeneous servers, near-ties, forced K): zero disagreements beyond the stated tolerance."""
    for seed in range(10 * block, 10 * block + 10):
        inst = random_case(seed)
        plan = gsfl.method_exact(inst)
        truth = spec_brute_force(inst)
        assert plan.status == "optimal"
        assert plan.objective <= truth * (1 + 1e-9)
        assert plan.objective >= truth * (1 - gsfl.PARTITION_TOL)
        assert plan.solve.bound <= truth * (1 + 1e-9)


def test_exact_on_synthetic_heterogeneous_equals_brute_force():
    for seed in range(8):
        rng = np.random.default_rng(100 + seed)
        inst = gsfl.random_instance(seed, n_devices=int(rng.integers(3, 7)), n_edges=3,
                                    edge_flops=list(rng.uniform(1e10, 2e11, 3)))
        assert gsfl.method_exact(inst).objective == pytest.approx(spec_brute_force(inst), rel=1e-6)


def test_default_instance_is_proven_optimal():
    """`slopt solve gsfl --method exact` on the shipped defaults (N = 20, M = 4): optimal within 1e-6."""
    inst = gsfl.load()
    plan = gsfl.method_exact(inst)
    assert plan.status == "optimal"
    assert plan.solve.gap <= gsfl.PARTITION_TOL * (1 + 1e-9)
    assert plan.solve.bound <= plan.objective
    assert plan.objective <= gsfl.method_paper(inst).objective
    lat = gsfl.evaluate(inst, plan.decision["cut"], plan.decision["assignment"], plan.decision["alpha"])
    assert lat.round_s == pytest.approx(plan.objective, rel=1e-12)


def test_time_limit_returns_incumbent_bound_and_gap():
    inst = gsfl.load(seed=2)
    plan = gsfl.method_exact(inst, time_limit=0.05)
    assert plan.status in ("feasible", "no_solution")
    if plan.status == "feasible":
        assert plan.solve.bound <= plan.objective
        assert 0 < plan.solve.gap < 1
        assert math.isfinite(plan.objective)


def test_progress_is_logged_and_shown(caplog, capsys):
    inst = gsfl.random_instance(3, n_devices=7, n_edges=3)
    with caplog.at_level(logging.INFO, logger="slopt.models.gsfl"):
        gsfl.method_exact(inst)
    text = " ".join(r.getMessage() for r in caplog.records if r.name == "slopt.models.gsfl")
    assert "incumbent" in text and "bound" in text
    capsys.readouterr()
    gsfl.method_exact(inst, tee=True)
    assert "incumbent" in capsys.readouterr().out


# --------------------------------------------------------------------------- Alg. 4 reassignment
def _reassign_case():
    """3 clients, 2 heterogeneous edge servers: LPT + moves/swaps put the large group on the slow server."""
    return gsfl.random_instance(0, n_devices=3, n_edges=2, edge_flops=[65511360295.53816, 30629737807.56768],
                                cut=2, n_samples=992)


def test_alg4_reassigns_groups_to_servers():
    inst = _reassign_case()
    opt = spec_brute_force(inst)
    assert gsfl.method_paper(inst).objective == pytest.approx(opt, rel=1e-9)
    c, x, _ = gsfl.heuristic(inst, remap=False)
    without = gsfl._final(inst, c, x)[0].round_s
    assert without > opt * 1.004                # 533.90 s vs 531.41 s: a whole group has to change server


def test_best_server_mapping_is_the_best_permutation():
    rng = np.random.default_rng(5)
    for _ in range(20):
        N, K = 7, 3
        a = rng.uniform(1, 10, (N, K))
        C = rng.uniform(0.1, 3, N)
        x = rng.integers(0, K, N)
        xs, T = gsfl.best_server_mapping(a, C, x, K)
        perms = [np.array(p)[x] for p in itertools.permutations(range(K))]
        best = min(gsfl.train_time_ac(a, C, p[None, :], K)[0] for p in perms)
        assert T == pytest.approx(best, rel=1e-12)
        assert gsfl.train_time_ac(a, C, xs[None, :], K)[0] == pytest.approx(best, rel=1e-12)


# --------------------------------------------------------------------------- extension hooks, decoders
@requires("scip")
def test_extra_constraints_reach_every_model_and_the_optimum_is_constrained():
    import pyomo.environ as pyo

    inst = gsfl.random_instance(4, n_devices=5, n_edges=3)
    calls = []

    def at_most_two(m, instance):
        calls.append(instance)
        m.cap = pyo.Constraint(m.K, rule=lambda m, k: sum(m.x[n, k] for n in m.N) <= 2)

    plan = gsfl.method_exact(inst, extra_constraints=at_most_two)
    assert plan.status == "optimal"
    assert max(len(g) for g in plan.decision["groups"].values()) <= 2
    assert calls and all(c is inst for c in calls)
    truth = spec_brute_force(inst, keep=lambda x: max(np.bincount(x)) <= 2)
    assert plan.objective == pytest.approx(truth, rel=1e-6)
    assert plan.objective >= gsfl.method_exact(inst).objective * (1 - 1e-9)


@requires("scip")
def test_decoder_from_a_solved_model():
    inst = gsfl.random_instance(1, n_devices=5, n_edges=2)
    c = gsfl.method_exact(inst).decision["cut"]
    a, C = gsfl.separable(inst, c)
    sync = sum(gsfl.sync_s(inst, gsfl.cut_figures(inst.profile, c), 2))
    m = gsfl.build_misocp_pyomo(a, C, inst.M, sync=sync)
    res = solve(m, solver="scip")
    plan = gsfl.plan_from_model(inst, m, c, res=res)
    assert plan.objective == pytest.approx(gsfl.method_exact(inst).objective, rel=1e-6)
    prob = gsfl.build_misocp_cvxpy(a, C, inst.M, sync=sync)
    solve(prob, solver="scip")
    assert gsfl.plan_from_model(inst, prob, c).objective == pytest.approx(plan.objective, rel=1e-6)


@pytest.mark.parametrize("solver", installed("highs", "cbc", "scip"))
def test_deadline_milp_reaches_the_optimum(solver):
    """formulations(): the deadline MILP has the problem's optimum, on every MILP backend."""
    inst = gsfl.random_instance(2, n_devices=6, n_edges=3)
    opt = gsfl.method_exact(inst).objective
    forms = gsfl.formulations(inst)
    name = next(k for k in forms if k.startswith("deadline-milp"))
    res = solve(forms[name](), solver=solver, mip_gap=0)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(opt, rel=1e-5)


def test_extend_a_formulation_docs_example_runs():
    text = DOCS.read_text()
    section = text.split("## Extend a formulation", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, str(DOCS), "exec"), {})
