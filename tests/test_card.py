"""Tests of models/card.py: the ten claims of spec §6 (card-delay-energy.md), formulations across
solvers, the §7 illustration, baselines, CLI registration and bad-input errors.

Counts: the cheap checks (closed form vs scipy, CARD vs exhaustive grid, CARD vs the Clarabel
enumeration, dominance over baselines) run >= 200 random examples / turns. The SCIP comparisons
(MISOCP and global MINLP, one solve each per turn) run 30 random turns by default and the full
200 with SLOPT_FULL=1 (marked slow).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import FULL, requires
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from slopt.errors import InfeasibleError, ValidationError
from slopt.models import card as C
from slopt.profiles import ModelGraph

SOLVER_TURNS = 200 if FULL else 30
SEEDS = st.integers(min_value=0, max_value=10**6)
CHEAP = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def paper():
    return C.load(None, None)


def one_turn(seed: int, **kw):
    """A single-turn random instance (M = N = 1) with a non-uniform layer profile."""
    return C.random_instance(seed, rounds=1, n_devices=1, **kw)


def grid_turn_optimum(inst, m: int, n: int) -> tuple[float, dict[int, tuple[float, float]]]:
    """Brute force P1(m, n): every cut in C_n x a 4001-point f grid, refined locally with scipy.

    Returns the optimum and, per cut, (best J, its f in Hz)."""
    tab = C._cut_tables(inst)
    A = C.freq_independent_delay_s(inst, tab, slice(m, m + 1))[0, n]
    G = tab["Gamma"]
    ok = ~tab["infeasible"][n]
    fg = np.linspace(inst.f_min, inst.f_max, 4001)
    T = A[:, None] + G[:, None] / fg[None, :]
    E = inst.kappa * G[:, None] * fg[None, :] ** 2
    if inst.scalarisation == "weighted":
        J = inst.omega_T * T + inst.omega_E * E
    else:
        J = np.maximum(inst.omega_T * T, inst.omega_E * E)
    if inst.t_max_s is not None:
        J = np.where(T <= inst.t_max_s, J, np.inf)
    J = np.where(ok[:, None], J, np.inf)
    best = np.inf
    per_cut = {}
    for k in np.flatnonzero(np.isfinite(J).any(axis=1)):
        i = int(np.argmin(J[k]))
        lo, hi = fg[max(i - 1, 0)], fg[min(i + 1, fg.size - 1)]

        def obj(fghz, k=k):
            f = fghz * 1e9
            t = A[k] + G[k] / f
            e = inst.kappa * G[k] * f ** 2
            v = inst.omega_T * t + inst.omega_E * e if inst.scalarisation == "weighted" \
                else max(inst.omega_T * t, inst.omega_E * e)
            return v if (inst.t_max_s is None or t <= inst.t_max_s) else 1e30

        r = minimize_scalar(obj, bounds=(lo / 1e9, hi / 1e9), method="bounded", options={"xatol": 1e-12})
        per_cut[int(tab["cuts"][k])] = (float(r.fun), float(r.x) * 1e9) if r.fun < J[k, i] else (J[k, i], fg[i])
        best = min(best, J[k, i], float(r.fun))
    return best, per_cut


def with_delay_limit(inst, u: float):
    """The same instance with a T_max between the fastest feasible delay and CARD's delay (one turn)."""
    c, f, _ = C.card_decide(inst)
    T_card = float(C.evaluate(inst, c, f).delay_s.max())
    tab = C._cut_tables(inst)
    A = C.freq_independent_delay_s(inst, tab)[0, 0]
    fastest = float(np.min(np.where(tab["infeasible"][0], np.inf, A + tab["Gamma"] / inst.f_max)))
    return inst.replace(t_max_s=fastest + u * max(T_card - fastest, 0.0) * 1.0 + 1e-9 * fastest)


VARIANTS = ["weighted", "tchebycheff", "delay-limit", "memory-cap"]


def variant_instance(seed: int, variant: str, u: float = 0.5):
    if variant == "tchebycheff":
        return one_turn(seed, scalarisation="tchebycheff")
    if variant == "delay-limit":
        return with_delay_limit(one_turn(seed), u)
    if variant == "memory-cap":
        inst = one_turn(seed)
        k = 1 + seed % max(1, inst.L - 2)      # cap so that c_max = k
        cap = float(inst.Mem[k]) * 1.0000001
        return one_turn(seed, device_memory_bytes=cap)
    return one_turn(seed)


# ------------------------------------------------------------------ §7 illustration (regression)
def test_paper_setting_reproduces_spec_illustration(paper):
    p = C.card(paper)
    assert p.decision["f_star_hz"] == pytest.approx(0.997e9, rel=1e-3)
    assert (np.asarray(p.decision["cut"]) == 1).all()                  # §5.4 boundary effect
    assert p.metrics["delay_s"] == pytest.approx(8.7, abs=0.05)
    assert p.metrics["server_energy_j"] == pytest.approx(164, abs=1)
    v = C.vanilla_sl(paper)
    assert v.metrics["delay_s"] == pytest.approx(36.9, abs=0.1)
    assert v.metrics["server_energy_j"] == pytest.approx(169, abs=1)
    a = C.adaptive_fmax(paper)
    assert a.metrics["delay_s"] == pytest.approx(8.4, abs=0.05)
    assert a.metrics["server_energy_j"] == pytest.approx(327, abs=1)
    assert 1 - p.metrics["server_energy_j"] / a.metrics["server_energy_j"] == pytest.approx(0.500, abs=1e-3)
    assert 1 - p.metrics["delay_s"] / v.metrics["delay_s"] == pytest.approx(0.76, abs=0.01)


def test_layer_figures_match_spec_table(paper):
    assert paper.L == 32 and paper.N == 5 and paper.M == 200
    assert paper.phi_flop[1] == pytest.approx(2 * 4.19e11, rel=1e-3)     # (1 + rho_B) x forward
    assert paper.act_bits[0] == pytest.approx(6.71e7, rel=1e-3)          # D_act = b S H q
    assert paper.delta_bits[3] == pytest.approx(2.10e6, rel=1e-2)        # 2 Z (P + Q) q
    assert paper.phi_head_flop == 0.0
    head = C.load(None, None, rounds=1, include_head=True)
    assert head.phi_head_flop == pytest.approx(5.37e11, rel=1e-2)        # spec §7 LM-head figure


# ------------------------------------------------------------------ claim 1: closed form
@CHEAP
@given(wT=st.floats(1e-3, 1e3), wE=st.floats(1e-6, 1.0), kappa=st.floats(1e-27, 1e-23),
       fmin=st.floats(0.05e9, 1e9), span=st.floats(0.0, 3e9), Gamma=st.floats(1e6, 1e11), A=st.floats(0, 100))
def test_claim1_closed_form_equals_bounded_scalar_minimisation(wT, wE, kappa, fmin, span, Gamma, A):
    fmax = fmin + span
    f = C.optimal_frequency_hz(wT, wE, kappa, fmin, fmax)
    # P2(c): the f-dependent part only (A adds a constant that would hide the flat optimum)
    r = minimize_scalar(lambda x: C.inner_objective(x * 1e9, Gamma, 0.0, wT, wE, kappa),
                        bounds=(fmin / 1e9, fmax / 1e9), method="bounded", options={"xatol": 1e-11})
    P2_closed = C.inner_objective(f, Gamma, 0.0, wT, wE, kappa)
    assert P2_closed <= r.fun * (1 + 1e-9)
    assert P2_closed == pytest.approx(r.fun, rel=1e-6)
    assert f == pytest.approx(r.x * 1e9, rel=1e-6, abs=1e-6 * fmax)
    assert C.inner_objective(f, Gamma, A, wT, wE, kappa) == pytest.approx(
        C.inner_objective(r.x * 1e9, Gamma, A, wT, wE, kappa), rel=1e-6)


def test_claim1_zero_weight_limits():
    assert C.optimal_frequency_hz(1.0, 0.0, 1e-25, 1e8, 2e9) == 2e9      # omega_E = 0 -> f_max
    assert C.optimal_frequency_hz(0.0, 1.0, 1e-25, 1e8, 2e9) == 1e8      # omega_T = 0 -> f_min


# ------------------------------------------------------------------ claim 2: convexity in f
@settings(max_examples=50, deadline=None)
@given(seed=SEEDS)
def test_claim2_strictly_convex_in_f(seed):
    inst = one_turn(seed)
    tab = C._cut_tables(inst)
    A = C.freq_independent_delay_s(inst, tab)[0, 0]
    f = np.linspace(0.05e9, 5e9, 400)
    h = 1e-3 * f
    for k in range(tab["cuts"].size):
        J = lambda x: C.inner_objective(x, tab["Gamma"][k], A[k], inst.omega_T, inst.omega_E, inst.kappa)  # noqa: E731
        d2 = (J(f + h) - 2 * J(f) + J(f - h)) / h ** 2
        assert (d2 > 0).all()


# ------------------------------------------------------------------ claim 3: CARD = exhaustive = solvers
@CHEAP
@given(seed=SEEDS, variant=st.sampled_from(VARIANTS), u=st.floats(0.05, 0.95))
def test_claim3_card_equals_exhaustive_grid(seed, variant, u):
    inst = variant_instance(seed, variant, u)
    c, f, J = C.card_decide(inst)
    ev = C.evaluate(inst, c, f)
    np.testing.assert_allclose(ev.J, J, rtol=1e-12)                      # CARD's J is evaluate()'s J
    assert ev.delay_excess_s.max() <= 1e-9 * inst.t_max_s if inst.t_max_s else True
    brute, per_cut = grid_turn_optimum(inst, 0, 0)
    assert J[0, 0] <= brute * (1 + 1e-9)
    assert J[0, 0] == pytest.approx(brute, rel=1e-6)
    # the same (c, f) when the best cut is clear by more than the tolerance
    ranked = sorted(per_cut.items(), key=lambda kv: kv[1][0])
    if len(ranked) == 1 or ranked[1][1][0] > ranked[0][1][0] * (1 + 1e-5):
        assert c[0, 0] == ranked[0][0]
        assert f[0, 0] == pytest.approx(ranked[0][1][1], rel=1e-3)


@requires("clarabel", "scip")
@pytest.mark.slow
@settings(max_examples=200 if FULL else 25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=SEEDS, variant=st.sampled_from(VARIANTS), u=st.floats(0.05, 0.95),
       solver=st.sampled_from(["clarabel", "scip"]))
def test_claim3_card_equals_per_cut_cvxpy_inner_problems(seed, variant, u, solver):
    """(a) as written: P2(c) for every cut of the turn with CVXPY, then the best cut."""
    inst = variant_instance(seed, variant, u)
    c, f, J = C.card_decide(inst)
    tab = C._cut_tables(inst)
    A = C.freq_independent_delay_s(inst, tab)[0, 0]
    best = np.inf
    for k, cut in enumerate(tab["cuts"]):
        if tab["infeasible"][0, k]:
            continue   # outside C_n (C4)
        if inst.t_max_s is not None and A[k] + tab["Gamma"][k] / inst.f_max > inst.t_max_s:
            continue   # spec §5.1: cuts that miss T_max at f_max are skipped
        res = C.solve(C.build_inner(inst, 0, 0, int(cut)), solver=solver)
        assert res.status == "optimal", (cut, res.message)
        best = min(best, res.objective)
    assert best == pytest.approx(J[0, 0], rel=1e-6)


@requires("clarabel")
@pytest.mark.parametrize("variant", ["weighted", "tchebycheff", "memory-cap"])
def test_claim3_card_equals_cvxpy_enumeration_on_200_turns(variant):
    """(a) the per-cut DCP problems for all turns in one Clarabel solve, then the outer search."""
    kw = {"scalarisation": "tchebycheff"} if variant == "tchebycheff" else {}
    inst = C.random_instance(11, rounds=50, n_devices=4, n_layers=9, **kw)
    if variant == "memory-cap":
        inst = C.random_instance(11, rounds=50, n_devices=4, n_layers=9,
                                 device_memory_bytes=[float(inst.Mem[k]) for k in (2, 4, 6, 8)])
        assert list(inst.c_max_n) == [2, 4, 6, 8]
    ex = C.exact(inst)
    paper = C.card(inst)
    assert ex.solve.status == "optimal" and inst.M * inst.N >= 200
    J_ex = C.evaluate(inst, ex.decision["cut"], ex.decision["freq_hz"]).J
    J_card = C.card_decide(inst)[2]
    np.testing.assert_allclose(J_ex, J_card, rtol=1e-6)
    assert ex.objective == pytest.approx(paper.objective, rel=1e-6)


@requires("clarabel", "scs")
@pytest.mark.parametrize("solver", ["clarabel", "scs"])
def test_claim3_and_5_every_turn_cut_pair_solved_separately(solver):
    """(a) without de-duplication: one inner problem per (turn, cut) pair (200 turns x 8 cuts);
    every pair's optimal frequency is f* (claim 5) and the outer search matches CARD."""
    inst = C.random_instance(12, rounds=50, n_devices=4, n_layers=9)
    prob, f, keep, inv = C.build_enumeration(inst, dedupe=False)
    res = C.solve(prob, solver=solver, options={"eps": 1e-9, "max_iters": 100000} if solver == "scs" else None)
    assert res.status == "optimal"
    f_star = C.optimal_frequency_hz(inst.omega_T, inst.omega_E, inst.kappa, inst.f_min, inst.f_max)
    tol = 1e-6 if solver == "clarabel" else 1e-3
    np.testing.assert_allclose(np.asarray(f.value) * 1e9, f_star, rtol=tol)
    J = np.full(keep.shape, np.inf)
    J[keep] = np.asarray(prob.card_terms.value)
    np.testing.assert_allclose(J.min(axis=1), C.card_decide(inst)[2].ravel(), rtol=1e-6)


def _solver_check(seed: int, variant: str, u: float, formulation: str) -> None:
    inst = variant_instance(seed, variant, u)
    J_card = float(C.card_decide(inst)[2][0, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c, f, res = C.solve_turn(inst, 0, 0, formulation)
    assert res.status == "optimal", res.message
    J_solver_plan = float(C.evaluate(inst, [[c]], [[f]]).J[0, 0])        # re-evaluated plan
    if inst.t_max_s is not None:
        # the solver's point may sit on T_max within SCIP's feasibility tolerance
        assert float(C.evaluate(inst, [[c]], [[f]]).delay_excess_s[0, 0]) <= 1e-6 * inst.t_max_s
    assert J_solver_plan == pytest.approx(res.objective, rel=1e-6)       # reported = evaluate()
    assert res.objective == pytest.approx(J_card, rel=1e-6)
    assert J_solver_plan >= J_card * (1 - 1e-6)


@requires("scip")
@pytest.mark.slow
@settings(max_examples=SOLVER_TURNS, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=SEEDS, variant=st.sampled_from(VARIANTS), u=st.floats(0.05, 0.95))
def test_claim3_card_equals_misocp_scip(seed, variant, u):
    _solver_check(seed, variant, u, "misocp")


@requires("scip")
@pytest.mark.slow
@settings(max_examples=SOLVER_TURNS, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=SEEDS, variant=st.sampled_from(VARIANTS), u=st.floats(0.05, 0.95))
def test_claim3_card_equals_global_minlp_scip(seed, variant, u):
    _solver_check(seed, variant, u, "minlp")


@requires("scip")
def test_exact_methods_reevaluated_on_paper_setting():
    inst = C.load(None, None, rounds=1, n_devices=2)
    paper = C.card(inst)
    for form in ("enumeration", "misocp", "minlp"):
        ex = C.exact(inst.replace(exact_formulation=form))
        assert ex.decision["formulation"] == form
        assert ex.objective == pytest.approx(paper.objective, rel=1e-6)
        assert ex.solve.objective == pytest.approx(ex.objective, rel=1e-6)


# ------------------------------------------------------------------ claim 4: decomposition
@requires("scip")
@pytest.mark.parametrize("formulation", ["misocp", "minlp"])
def test_claim4_joint_formulation_is_mean_of_turn_optima(formulation):
    """P0 solved jointly over all turns (2 rounds x 2 devices) = mean of the per-turn optima."""
    inst = C.random_instance(5, rounds=2, n_devices=2, n_layers=5)
    prob = C.formulations(inst)[formulation]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opts = {"scip_params": dict(C.SCIP_TIGHT)} if formulation == "misocp" else dict(C.SCIP_TIGHT)
        res = C.solve(prob, solver="scip", options=opts)
    assert res.status == "optimal"
    card = C.card(inst)
    assert res.objective == pytest.approx(card.objective, rel=1e-6)
    assert card.objective == pytest.approx(C.card_decide(inst)[2].mean(), rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=SEEDS, perm_seed=st.integers(0, 1000))
def test_claim4_visiting_order_does_not_matter(seed, perm_seed):
    inst = C.random_instance(seed, rounds=3, n_devices=3)
    perm = np.random.default_rng(perm_seed).permutation(inst.N)
    moved = inst.replace(F_n=inst.F_n[perm], p_n=inst.p_n[perm], g_n=inst.g_n[perm], f_n=inst.f_n[perm],
                         kappa_n=inst.kappa_n[perm], c_max_n=inst.c_max_n[perm], h=inst.h[:, perm],
                         device_names=tuple(inst.device_names[i] for i in perm))
    assert C.card(moved).objective == pytest.approx(C.card(inst).objective, rel=1e-12)


# ------------------------------------------------------------------ claim 5: frequency invariance
@settings(max_examples=50, deadline=None)
@given(seed=SEEDS)
def test_claim5_frequency_invariant_over_cuts_devices_channels(seed):
    inst = C.random_instance(seed, rounds=3, n_devices=3)
    c, f, _ = C.card_decide(inst)
    f_star = C.optimal_frequency_hz(inst.omega_T, inst.omega_E, inst.kappa, inst.f_min, inst.f_max)
    assert np.all(f == f_star)
    rng = np.random.default_rng(seed)
    for _ in range(3):   # CARD's frequency rule for arbitrary cuts
        cut = rng.integers(inst.c_min, inst.c_max_n + 1, size=(inst.M, inst.N))
        assert np.allclose(C._frequency_for(inst, cut), f_star, rtol=0)


# ------------------------------------------------------------------ claim 6: monotone trade-off
@settings(max_examples=40, deadline=None)
@given(seed=SEEDS)
def test_claim6_monotone_trade_off(seed):
    inst = C.random_instance(seed, rounds=3, n_devices=3)
    ws = np.logspace(-5, 0, 30)
    front = C.pareto_front(inst, omega_E=ws)
    f = front["f_star_hz"].to_numpy()
    assert (np.diff(f) <= 1e-9 * f[:-1]).all()
    inside = (f > inst.f_min * (1 + 1e-9)) & (f < inst.f_max * (1 - 1e-9))
    ratio = f[inside] / (inst.omega_T / ws[inside]) ** (1 / 3)
    if ratio.size:
        assert np.allclose(ratio, ratio[0], rtol=1e-9)
    E, T = front["server_energy_j"].to_numpy(), front["delay_s"].to_numpy()
    assert (np.diff(E) <= 1e-9 * E[:-1]).all()
    assert (np.diff(T) >= -1e-9 * T[:-1]).all()


# ------------------------------------------------------------------ claim 7: energy-ratio identity
@settings(max_examples=50, deadline=None)
@given(seed=SEEDS)
def test_claim7_energy_ratio_identity(seed):
    inst = C.random_instance(seed, rounds=3, n_devices=3)
    card, base = C.card(inst), C.adaptive_fmax(inst)
    same = np.asarray(card.decision["cut"]) == np.asarray(base.decision["cut"])
    Ec = card.details["turns"]["server_energy_j"].to_numpy().reshape(inst.M, inst.N)
    Eb = base.details["turns"]["server_energy_j"].to_numpy().reshape(inst.M, inst.N)
    f_star = C.optimal_frequency_hz(inst.omega_T, inst.omega_E, inst.kappa, inst.f_min, inst.f_max)
    np.testing.assert_allclose(1 - Ec[same] / Eb[same], 1 - (f_star / inst.f_max) ** 2, rtol=1e-9, atol=1e-12)


def test_claim7_on_paper_setting(paper):
    card, base = C.card(paper), C.adaptive_fmax(paper)
    assert (np.asarray(card.decision["cut"]) == np.asarray(base.decision["cut"])).all()
    red = 1 - card.metrics["server_energy_j"] / base.metrics["server_energy_j"]
    assert red == pytest.approx(1 - (card.decision["f_star_hz"] / paper.f_max) ** 2, rel=1e-12)


# ------------------------------------------------------------------ claim 8: boundary optimum
@settings(max_examples=60, deadline=None)
@given(seed=SEEDS, L=st.integers(3, 40), cap_layers=st.integers(1, 39))
def test_claim8_uniform_layers_give_boundary_cuts(seed, L, cap_layers):
    rng = np.random.default_rng(seed)
    fwd = float(rng.uniform(1e10, 2e11))
    g = ModelGraph.chain(forward_flop=np.full(L, fwd), backward_flop=np.full(L, fwd),
                         param_bytes=np.full(L, 4e8), trainable_param_bytes=np.full(L, 2.6e5),
                         activation_bytes=np.full(L, 2.1e6))
    cap = min(cap_layers, L - 1) * 4e8 * 1.0000001 + 4 * 2.1e6 * min(cap_layers, L - 1)
    inst = C.load(g, None, rounds=4, device_flops=rng.uniform(1e11, 1e15, 5),
                  omega_E=float(10 ** rng.uniform(-4, -1)), seed=seed,
                  device_memory_bytes=[math.inf, math.inf, cap, cap, math.inf])
    c, _, _ = C.card_decide(inst)
    ends = (c == inst.c_min) | (c == inst.c_max_n[None, :])
    assert ends.all()


# ------------------------------------------------------------------ claim 9: dominance
@CHEAP
@given(seed=SEEDS, tch=st.booleans())
def test_claim9_baselines_never_better_than_card(seed, tch):
    inst = C.random_instance(seed, scalarisation="tchebycheff" if tch else "weighted")
    J_card = C.card_decide(inst)[2]
    for name in ("vanilla-sl", "fixed-dvfs", "adaptive-fmax", "random"):
        plan = C.METHODS[name](inst)
        J = plan.details["turns"]["objective"].to_numpy().reshape(inst.M, inst.N)
        assert (J >= J_card * (1 - 1e-12)).all(), name
        assert plan.objective >= C.card(inst).objective * (1 - 1e-12)


# ------------------------------------------------------------------ claim 10: Tchebycheff
@CHEAP
@given(A=st.floats(0, 200), Gamma=st.floats(1e6, 1e11), wT=st.floats(1e-3, 1e3), wE=st.floats(1e-6, 1.0),
       kappa=st.floats(1e-27, 1e-23))
def test_claim10_tchebycheff_root(A, Gamma, wT, wE, kappa):
    f = float(C.tchebycheff_frequency_hz(A, Gamma, wT, wE, kappa))
    # exactly one positive root, and the closed form finds it (scaled to GHz for numpy.roots)
    s = 1e9
    roots = np.roots([wE * kappa * Gamma * s ** 3, 0.0, -wT * A * s, -wT * Gamma])
    pos = [r.real for r in roots if abs(r.imag) <= 1e-9 * abs(r) and r.real > 0]
    assert len(pos) == 1
    assert f == pytest.approx(pos[0] * s, rel=1e-6)
    # at the unclipped optimum the two weighted objectives are equal
    assert wT * (A + Gamma / f) == pytest.approx(wE * kappa * Gamma * f ** 2, rel=1e-8)
    # and it minimises the max over any bracket containing it
    r = minimize_scalar(lambda x: max(wT * (A + Gamma / (x * s)), wE * kappa * Gamma * (x * s) ** 2),
                        bounds=(f / s / 10, f / s * 10), method="bounded", options={"xatol": 1e-12})
    assert max(wT * (A + Gamma / f), wE * kappa * Gamma * f ** 2) <= r.fun * (1 + 1e-9)


# ------------------------------------------------------------------ delay-limit / memory variants
def test_delay_limit_raises_f_above_f_star():
    inst = with_delay_limit(one_turn(3), 0.3)
    c, f, _ = C.card_decide(inst)
    ev = C.evaluate(inst, c, f)
    assert ev.delay_excess_s.max() <= 1e-9
    assert ev.delay_s[0, 0] <= inst.t_max_s * (1 + 1e-12)


def test_infeasible_delay_limit_names_turn_and_shortfall():
    inst = C.load(None, None, rounds=3)
    with pytest.raises(InfeasibleError) as e:
        C.card_decide(inst.replace(t_max_s=5.0))
    msg = str(e.value)
    assert "round 0" in msg and "device 0" in msg and "T_max = 5 s" in msg and "too long" in msg
    assert e.value.shortfall > 0 and e.value.constraint.startswith("C3")
    with pytest.raises(InfeasibleError, match="round"):
        C.get_problem().run("paper", rounds=2, t_max_s=1.0)
    with pytest.raises(InfeasibleError, match="too long"):
        C.exact(inst.replace(t_max_s=5.0))


@requires("scip")
@pytest.mark.parametrize("formulation", ["misocp", "minlp"])
def test_solvers_report_infeasible_delay_limit_with_turn(formulation):
    inst = C.load(None, None, rounds=1, n_devices=1, t_max_s=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(InfeasibleError, match=r"round 0, device 0") as e:
            C.solve_turn(inst, 0, 0, formulation)
    assert e.value.shortfall > 0


def test_memory_cap_limits_cut_and_empty_cut_set_is_an_error():
    inst = C.load(None, None, rounds=2, device_memory_bytes=3e9)
    assert (inst.c_max_n < inst.L - 1).all() and (inst.c_max_n >= 1).all()
    with pytest.raises(InfeasibleError, match="device_memory_bytes") as e:
        C.load(None, None, rounds=2, device_memory_bytes=1e8)
    assert "empties its cut set" in str(e.value) and e.value.shortfall > 0


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("params, field", [
    ({"f_min_hz": 2e9, "f_max_hz": 1e9}, "f_min_hz"),
    ({"omega_T": 0.0, "omega_E": 0.0}, "omega_T"),
    ({"kappa": -1e-25}, "kappa"),
    ({"scalarisation": "lexicographic"}, "scalarisation"),
    ({"omega_E": 0.0, "scalarisation": "tchebycheff"}, "omega_E"),
    ({"t_max_s": -1.0}, "t_max_s"),
    ({"fixed_cut": 40}, "fixed_cut"),
    ({"bogus": 1}, "bogus"),
])
def test_bad_input_names_the_parameter(params, field):
    with pytest.raises(ValidationError) as e:
        C.load(None, None, rounds=1, **params)
    assert e.value.field == field
    assert field in str(e.value)


def test_bad_decision_and_profile():
    inst = C.load(None, None, rounds=1)
    with pytest.raises(ValidationError, match="cut"):
        C.evaluate(inst, 0, inst.f_max)
    with pytest.raises(ValidationError, match="freq_hz"):
        C.evaluate(inst, 1, inst.f_max * 2)
    from slopt.profiles.synthetic import residual_chain

    with pytest.raises(ValidationError, match="chain"):
        C.load(residual_chain(), None, rounds=1)


# ------------------------------------------------------------------ plans, CLI, registry
def test_every_method_returns_a_reevaluated_plan():
    prob = C.get_problem()
    for method in ("paper", "exact", "vanilla-sl", "fixed-dvfs", "adaptive-fmax", "random"):
        plan = prob.run(method, rounds=2)
        inst = C.load(None, None, rounds=2)
        ev = C.evaluate(inst, plan.decision["cut"], plan.decision["freq_hz"])
        assert plan.objective == pytest.approx(ev.objective, rel=1e-12)
        assert plan.to_dict()["metrics"]["delay_s"] > 0


def test_cli_solve_json():
    import json

    from typer.testing import CliRunner

    from slopt.cli import app

    out = CliRunner().invoke(app, ["solve", "card", "--method", "paper", "--json", "--set", "rounds=3"])
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)
    assert d["problem"] == "card" and d["decision"]["f_star_hz"] == pytest.approx(0.997e9, rel=1e-3)
    bad = CliRunner().invoke(app, ["solve", "card", "--set", "f_min_hz=2e9", "--set", "f_max_hz=1e9"])
    assert bad.exit_code == 2 and "f_min_hz" in bad.output


def test_transformer_profile_with_head_and_rho_none():
    inst = C.load(None, None, rounds=2, include_head=True, rho_B=None, model="gpt2", seq_len=128)
    assert inst.L == 12 and inst.phi_head_flop > 0
    assert C.card(inst).objective <= C.vanilla_sl(inst).objective


def test_scenario_file_and_random_instance():
    inst = C.load(None, "default", rounds=4)
    assert inst.N == 5 and inst.h.shape == (4, 5)
    with pytest.raises(ValidationError, match="device_flops"):
        C.load(None, "default", rounds=4, device_flops=[1e12] * 5)
    r = C.random_instance(3)
    assert C.card(r).objective > 0
    shipped_chain = C.load("chain", None, rounds=2)          # any chain profile (VGG-like convs)
    assert shipped_chain.L == 8 and C.exact(shipped_chain).objective == pytest.approx(
        C.card(shipped_chain).objective, rel=1e-6)


# ------------------------------------------------------------------ fair headline (paper vs best-tuned)
def test_headline_table_shows_paper_ours_and_the_best_tuned_baseline(paper):
    t = C.headline_table(paper).set_index("metric")
    delay = t.loc["mean training delay per turn"]
    assert delay["paper"] == 0.708 and t.loc["mean server energy per turn", "paper"] == 0.531
    assert delay["vs_vanilla_sl"] == pytest.approx(0.764, abs=1e-3)          # against c = L // 2 at f_max
    # independent check: vanilla SL at every fixed cut at f_max, scored by evaluate(); the best is
    # about 4.1 % faster than CARD, which trades delay for energy
    best = min(C.evaluate(paper, np.minimum(c, paper.c_max_n)[None, :], paper.f_max).delay_s.mean()
               for c in range(1, paper.L))
    card_delay = C.card(paper).metrics["delay_s"]
    assert delay["vs_tuned_for_metric"] == pytest.approx(1 - card_delay / best, rel=1e-9)
    assert delay["vs_tuned_for_metric"] == pytest.approx(-0.041, abs=1e-3)
    # tuned for CARD's own objective, one fixed cut and one frequency match CARD here (c = 1 everywhere)
    assert abs(t.loc["objective J (P0)", "vs_tuned_for_objective"]) < 1e-9
    assert delay["tuned_for_objective_cut"] == 1


def test_committed_notebook_has_figures_and_the_headline_table():
    import json
    from pathlib import Path

    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "card.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] for c in code), "the notebook is committed executed"
    assert not any("matplotlib.use" in "".join(c["source"]) for c in code)
    for c in code:
        if "plt.show()" in "".join(c["source"]):
            assert sum("image/png" in o.get("data", {}) for o in c["outputs"]) == 1
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for c in code for o in c["outputs"])
    assert "70.8%" in html and "53.1%" in html and "76.4%" in html and "-4.1%" in html
