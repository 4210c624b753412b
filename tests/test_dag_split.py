"""Tests of the dag-split problem (spec min-cut-splitting.md): hand examples of §6, property
tests against brute force / MILP / LP, block-wise variants, monotonicity, bad input, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import FULL, installed, requires
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slopt.errors import InfeasibleError, ValidationError
from slopt.models import dag_split as ds
from slopt.profiles import ModelGraph, load_shipped, shipped

REL = 1e-9


def close(a: float, b: float, rel: float = REL) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


# --------------------------------------------------------------------------- hand examples (§6)
def claim_6_2(**kw):
    return ds.instance_from_delays(4, [0, 1, 2, 0], [1, 2, 3, 3], names=["1", "2", "3", "4"],
                                   tau_dev_s=[7, 1, 5, 6], tau_srv_s=[6, 1, 2, 6],
                                   tau_com_s=[7, 2, 2, 2], **kw)


def test_claim_6_2_reverse_edges_are_necessary():
    inst = claim_6_2()
    X = ds.closed_sets(inst)
    got = {tuple(np.flatnonzero(r) + 1): t for r, t in zip(X, ds.delays_of_sets(inst, X))}
    assert got == {(1,): 23, (1, 2): 25, (1, 2, 3): 28, (1, 2, 3, 4): 19}
    for backend in ("ortools", "networkx"):
        x, cut = ds.algorithm_a(inst, backend)
        assert cut == pytest.approx(19, rel=1e-15) and x.all()
    # without line 12 the cut is 18 with source side {1, 2, 4}: infeasible (3 on the server feeds 4)
    x, cut = ds.min_cut(ds.flow_network(inst, reverse_edges=False))
    assert cut == pytest.approx(18, rel=1e-15)
    assert np.flatnonzero(x).tolist() == [0, 1, 3]
    assert not ds.evaluate(inst, x, check=False)["feasible"]


def claim_6_5():
    return ds.instance_from_delays(5, [0, 1, 2, 0, 3], [1, 2, 3, 3, 4], names=list("12345"),
                                   tau_dev_s=[1, 1, 1, 0.5, 3], tau_srv_s=[0.2, 0.2, 0.2, 0.1, 0.1],
                                   tau_com_s=[6, 0.5, 0.5, 1, 0])


def test_claim_6_5_communication_counted_once():
    inst = claim_6_5()
    want = {"1": 7.6, "12": 8.9, "123": 9.7, "1234": 4.6, "12345": 6.5}
    for d, t in want.items():
        assert ds.evaluate(inst, list(d))["delay_s"] == pytest.approx(t, abs=1e-12)
    # layer 1's output goes up once although 2 and 4 are on the server (per edge: 13.6)
    assert ds.evaluate(inst, ["1"])["cut_tensors"].tolist() == [0]
    for method in ("a", "a-networkx", "brute", "milp", "lp", "b2"):
        plan = ds.METHODS[method](inst)
        assert plan.objective == pytest.approx(4.6, abs=1e-12), method
    plan = ds.METHODS["a"](inst)
    assert plan.decision["device_layers"] == ["1", "2", "3", "4"]
    assert plan.decision["cut_tensors"] == ["4"]


def claim_6_7():
    names = ["in", "r2", "b2", "r3", "b3", "x", "h"]
    return ds.instance_from_delays(
        7, [0, 1, 0, 3, 2, 4, 5], [1, 2, 3, 4, 5, 5, 6], names=names,
        tau_dev_s=[1, 1, 4, 1, 4, 1, 4], tau_srv_s=[0, 0.5, 1, 0.5, 1, 0.5, 1],
        tau_com_s=[10, 1, 5, 1, 5, 10, 0], block=["in", "B", "B", "B", "B", "B", "h"])


def test_claim_6_7_b1_suboptimal_b2_exact():
    inst = claim_6_7()
    for d, t in ((["in"], 15.5), (["in", "r2", "b2", "r3", "b3", "x"], 23.0),
                 (list(inst.graph.names), 16.0), (["in", "r2", "r3"], 8.5)):
        assert ds.evaluate(inst, d)["delay_s"] == pytest.approx(t, abs=1e-12)
    assert ds.METHODS["a"](inst).objective == pytest.approx(8.5, abs=1e-12)
    b2 = ds.METHODS["b2"](inst)
    assert b2.objective == pytest.approx(8.5, abs=1e-12)
    assert sorted(b2.decision["device_layers"]) == ["in", "r2", "r3"]
    assert ds.METHODS["b1"](inst).objective == pytest.approx(15.5, abs=1e-12)
    assert ds.METHODS["brute"](inst).objective == pytest.approx(8.5, abs=1e-12)


# --------------------------------------------------------------------------- random instances
def random_dag_instance(seed: int, max_n: int = 12, pins: bool = True, check: bool = True):
    """A random DAG of <= max_n layers with random non-negative delays (zeros, integers and
    floats over nine decades) and random pins."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, max_n + 1))
    p = rng.uniform(0.1, 0.7)
    iu = np.triu_indices(n, 1)
    keep = rng.random(iu[0].size) < p
    src, dst = iu[0][keep], iu[1][keep]
    perm = rng.permutation(n)  # vertex ids not in topological order
    src, dst = perm[src], perm[dst]

    def delays():
        kind = rng.integers(0, 3)
        if kind == 0:
            return rng.integers(0, 10, n).astype(float)
        v = rng.uniform(0, 1, n) * 10.0 ** rng.uniform(-6, 3, n)
        return np.where(rng.random(n) < 0.2, 0.0, v) if kind == 2 else v

    # pins on about a third of the instances (so that contradictory pins stay a minority)
    server_pins = np.flatnonzero(rng.random(n) < 0.15) if pins and rng.random() < 0.3 else None
    device_pins = np.flatnonzero(rng.random(n) < 0.15) if pins and rng.random() < 0.3 else None
    return ds.instance_from_delays(n, src, dst, tau_dev_s=delays(), tau_srv_s=delays(),
                                   tau_com_s=delays(), tau_dn_s=delays(), server_pins=server_pins,
                                   device_pins=device_pins, pin_inputs=bool(rng.random() < 0.9),
                                   check=check)


SEEDS = st.integers(0, 2**32 - 1)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SEEDS)
def test_a_both_backends_equal_brute_force(seed):
    """Claim 6.1 on 600 random DAGs (about 10 % with contradictory pins, so >= 500 are compared):
    A (OR-Tools, networkx, and the netted network) = brute force to 1e-9, the split is feasible
    and evaluate() of it equals the cut value; contradictory pins raise, and then brute force
    confirms that no feasible split exists."""
    try:
        inst = random_dag_instance(seed)
    except InfeasibleError:
        raw = random_dag_instance(seed, check=False)
        assert ds.closed_sets(raw).shape[0] == 0  # the error is right: no feasible split exists
        return
    x_bf, t_bf, _ = ds.brute_force(inst)
    for backend in ("ortools", "networkx"):
        x, cut = ds.algorithm_a(inst, backend)
        ev = ds.evaluate(inst, x)  # raises if infeasible
        assert ev["feasible"]
        assert close(ev["delay_s"], t_bf), (backend, ev["delay_s"], t_bf)
        assert close(cut, ev["delay_s"], 1e-12), (backend, cut, ev["delay_s"])
    x, cut = ds.algorithm_a(inst, net_terminals=True)  # the equivalent netted network
    assert close(ds.evaluate(inst, x)["delay_s"], t_bf) and close(cut, t_bf)


SOLVER_EXAMPLES = 500 if FULL else 60
SOLVERS = installed("highs", "cbc", "glpk")


@pytest.mark.slow
@pytest.mark.skipif(len(SOLVERS) < 2, reason="needs HiGHS and CBC or GLPK")
@settings(max_examples=SOLVER_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SEEDS)
def test_milp_and_lp_equal_a(seed):
    """MILP (§4.3) and its LP relaxation (Claim 6.3, rounding Claim 6.4) in Pyomo and CVXPY,
    across two solvers, equal Algorithm A to 1e-9 (500 examples with SLOPT_FULL=1)."""
    try:
        inst = random_dag_instance(seed)
    except InfeasibleError:
        return
    x, _ = ds.algorithm_a(inst)
    t_a = ds.evaluate(inst, x)["delay_s"]
    other = SOLVERS[1 + seed % (len(SOLVERS) - 1)]
    runs = [("milp", "pyomo", "highs"), ("lp", "cvxpy", "highs"), ("milp", "pyomo", other),
            ("lp", "pyomo", other)]
    for what, kind, solver in runs:
        if what == "milp":
            xs, res = ds.milp(inst, solver, kind)
        else:
            xs, res = ds.lp_relaxation(inst, solver, kind)
        t = ds.evaluate(inst, xs)["delay_s"]
        assert res.objective == t  # the exact T of the returned split, rounded once
        if solver == "highs":
            assert res.status == "optimal", (what, kind, solver, res.message)
        # 'optimal' is certified by an exact maximum flow: never a worse split called optimal
        assert (res.status == "optimal") == (ds.exact_delay(inst, xs) == ds.exact_delay(inst, x)), \
            (what, kind, solver, res.status, t, t_a)
        assert res.status in ("optimal", "feasible")
        if res.status == "optimal":
            assert t == t_a


def test_integer_scaling_extreme_magnitudes():
    """Delays spanning 18 decades: the integer-scaled cut re-evaluated in float is optimal."""
    rng = np.random.default_rng(7)
    for _ in range(30):
        n = 10
        iu = np.triu_indices(n, 1)
        keep = rng.random(iu[0].size) < 0.4
        f = lambda: rng.uniform(0, 1, n) * 10.0 ** rng.integers(-12, 6, n)  # noqa: E731
        inst = ds.instance_from_delays(n, iu[0][keep], iu[1][keep], tau_dev_s=f(), tau_srv_s=f(),
                                       tau_com_s=f())
        _, t_bf, _ = ds.brute_force(inst)
        for backend in ("ortools", "networkx"):
            x, _ = ds.algorithm_a(inst, backend)
            assert close(ds.evaluate(inst, x)["delay_s"], t_bf)


# --------------------------------------------------------------------------- block-wise
def macro_chain_instance(seed: int, residual_only: bool = False, faster_server: bool = False,
                         pins: bool = True):
    """stem -> blocks (drawn from <= 3 templates, so blocks repeat) -> head, random delays."""
    rng = np.random.default_rng(seed)

    def template():
        if residual_only:
            k, edges = 3, [(-1, 0), (0, 1), (1, 2), (-1, 2)]
        else:
            k = int(rng.integers(1, 6))
            edges = []
            for j in range(k):
                preds = [u for u in range(-1, j) if rng.random() < 0.4] or [int(rng.integers(-1, j))]
                edges += [(u, j) for u in preds]
            has_succ = {u for u, _ in edges}
            edges += [(j, k - 1) for j in range(k - 1) if j not in has_succ]
        dev = rng.uniform(0, 5, k) * (rng.random(k) > 0.1)
        srv = dev * rng.uniform(0, 1, k) if faster_server else rng.uniform(0, 5, k)
        com = rng.uniform(0, 8, k) * (rng.random(k) > 0.1)
        return k, edges, dev, srv, com

    temps = [template() for _ in range(int(rng.integers(1, 4)))]
    names, src, dst, block = ["stem"], [], [], ["stem"]
    dev, srv, com = [rng.uniform(0, 3)], [rng.uniform(0, 3)], [rng.uniform(0, 8)]
    prev = 0
    for b in range(int(rng.integers(1, 6))):
        k, edges, d, s, c = temps[int(rng.integers(len(temps)))]
        base = len(names)
        names += [f"b{b}.{j}" for j in range(k)]
        block += [f"b{b}"] * k
        dev += d.tolist()
        srv += s.tolist()
        com += c.tolist()
        for u, w in edges:
            src.append(prev if u < 0 else base + u)
            dst.append(base + w)
        prev = base + k - 1
    names.append("head")
    block.append("head")
    hd = rng.uniform(0, 3)
    dev.append(hd)
    srv.append(hd * rng.uniform(0, 1) if faster_server else rng.uniform(0, 3))
    com.append(0.0)
    src.append(prev)
    dst.append(len(names) - 1)
    n = len(names)
    server_pins = np.flatnonzero(rng.random(n) < 0.05) if pins else None
    return ds.instance_from_delays(n, src, dst, names=names, block=block, tau_dev_s=dev,
                                   tau_srv_s=srv, tau_com_s=com, server_pins=server_pins)


@settings(max_examples=200, deadline=None)
@given(SEEDS)
def test_b2_equals_a_on_macro_chains(seed):
    """Claim 6.8: B2 (with and without memoisation) = A on random macro-chains."""
    try:
        inst = macro_chain_instance(seed)
    except InfeasibleError:
        return
    x, _ = ds.algorithm_a(inst)
    t_a = ds.evaluate(inst, x)["delay_s"]
    for memo in (True, False):
        xb, tb, info = ds.algorithm_b2(inst, memo=memo, strict=True)
        assert info["fallback"] is None
        ev = ds.evaluate(inst, xb)
        assert close(ev["delay_s"], t_a), (memo, ev["delay_s"], t_a)
        assert close(tb, ev["delay_s"])


@settings(max_examples=200, deadline=None)
@given(SEEDS)
def test_b1_equals_a_under_claim_6_6(seed):
    """Claim 6.6: residual blocks (identity skip) with tau_srv <= tau_dev: B1 = A."""
    inst = macro_chain_instance(seed, residual_only=True, faster_server=True, pins=False)
    x, _ = ds.algorithm_a(inst)
    xb, _ = ds.algorithm_b1(inst)
    assert close(ds.evaluate(inst, xb)["delay_s"], ds.evaluate(inst, x)["delay_s"])


def test_b2_memoises_repeated_blocks():
    g = ds.block_model(200, stages=4)
    inst = ds.make_instance(g, device_flops=1e11, uplink_bps=5e8, downlink_bps=1e9)
    x, t, info = ds.algorithm_b2(inst, strict=True)
    assert info["n_units"] == 202 and info["n_subproblems"] <= 12
    xa, _ = ds.algorithm_a(inst)
    assert close(ds.evaluate(inst, x)["delay_s"], ds.evaluate(inst, xa)["delay_s"])


def test_b2_falls_back_on_non_macro_chain():
    inst = ds.instance_from_delays(3, [0, 0], [1, 2], tau_dev_s=1, tau_srv_s=0.1, tau_com_s=0.5,
                                   block=["a", "b", "b"])
    x, t, info = ds.algorithm_b2(inst)
    assert info["fallback"] == "A" and "output layers" in info["reason"]
    with pytest.raises(ValidationError, match="macro-chain"):
        ds.algorithm_b2(inst, strict=True)


# --------------------------------------------------------------------------- shipped profiles
@pytest.mark.parametrize("name", shipped())
def test_every_shipped_profile_can_be_split(name):
    """A, B2 and the MILP (CVXPY + HiGHS) agree on every shipped profile; plans re-evaluate."""
    g = load_shipped(name)
    inst = ds.make_instance(g, device_flops=2e11, uplink_bps=2e8, downlink_bps=4e8)
    plans = [ds.METHODS[m](inst) for m in ("a", "b2", "milp-cvxpy")]
    for p in plans:
        x = np.isin(np.asarray(g.names), p.decision["device_layers"])
        assert p.objective == ds.evaluate(inst, x)["delay_s"]
    assert close(plans[0].objective, plans[1].objective, 1e-9)
    assert close(plans[0].objective, plans[2].objective, 1e-9)
    # the paper's chain-like baselines are never better than the optimum (Claim 6.9)
    for m in ("chain", "neurosurgeon", "greedy", "device-only", "server-only"):
        assert ds.METHODS[m](inst).objective >= plans[0].objective * (1 - 1e-12)


def test_chain_baseline_is_optimal_on_chains():
    """Claim 6.9: on a chain, the best prefix equals A."""
    g = load_shipped("chain") if "chain" in shipped() else ModelGraph.chain(
        forward_flop=np.ones(5), backward_flop=np.ones(5), param_bytes=np.ones(5),
        activation_bytes=np.ones(5))
    for up in (1e6, 1e7, 1e8, 1e9, 1e10):
        inst = ds.make_instance(g, uplink_bps=up, downlink_bps=2 * up, device_flops=1e11)
        assert close(ds.METHODS["chain"](inst).objective, ds.METHODS["a"](inst).objective)


# --------------------------------------------------------------------------- monotonicity (§6.10)
def test_monotonicity_and_limits():
    g = load_shipped("inception") if "inception" in shipped() else ds.block_model(4)
    grid = np.geomspace(1e5, 1e11, 13)
    base = dict(device_flops=2e11, server_flops=2e13, uplink_bps=5e7, downlink_bps=1e8)
    for key in ("uplink_bps", "downlink_bps", "server_flops", "device_flops"):
        vals = grid if "bps" in key else np.geomspace(1e10, 1e15, 11)
        t = [ds.evaluate(ds.make_instance(g, **{**base, key: v}),
                         ds.algorithm_a(ds.make_instance(g, **{**base, key: v}))[0])["delay_s"]
             for v in vals]
        assert all(b <= a * (1 + 1e-12) for a, b in zip(t, t[1:])), key
    slow = ds.make_instance(g, uplink_bps=1.0, downlink_bps=1.0)
    assert ds.algorithm_a(slow)[0].all()  # rates -> 0: everything on the device
    fast = ds.make_instance(g, uplink_bps=1e18, downlink_bps=1e18, device_flops=1e9, server_flops=1e16)
    x, _ = ds.algorithm_a(fast)
    assert np.flatnonzero(x).tolist() == g.inputs.tolist()  # only V_in on the device


# --------------------------------------------------------------------------- memory (§4.4)
@requires("highs")
def test_memory_constrained_milp_matches_brute_force():
    rng = np.random.default_rng(3)
    checked = 0
    for seed in range(40):
        inst = random_dag_instance(seed, max_n=10, pins=False)
        mem = rng.uniform(1, 10, inst.n)
        limit = float(mem[ds.forced_device(inst)].sum() + rng.uniform(0, mem.sum() / 2))
        inst = ds.SplitInstance(inst.graph, inst.tau_dev_s, inst.tau_srv_s, inst.tau_up_s,
                                inst.tau_dn_s, inst.device_pin, inst.server_pin, mem, limit, {})
        _, t_bf, _ = ds.brute_force(inst)
        for kind in ("pyomo", "cvxpy"):
            x, res = ds.milp(inst, "highs", kind)
            ev = ds.evaluate(inst, x)
            assert ev["feasible"] and close(ev["delay_s"], t_bf)
        checked += 1
    assert checked == 40
    tight = ds.SplitInstance(inst.graph, inst.tau_dev_s, inst.tau_srv_s, inst.tau_up_s, inst.tau_dn_s,
                             inst.device_pin, inst.server_pin, mem,
                             float(mem[ds.forced_device(inst)].sum()) * 0.5, {})
    with pytest.raises(InfeasibleError, match="memory"):
        ds.milp(tight, "highs")
    with pytest.raises(InfeasibleError, match="memory"):
        ds.brute_force(tight)


def test_memory_model_of_profile():
    g = load_shipped("residual_chain") if "residual_chain" in shipped() else ds.block_model(3)
    inst = ds.make_instance(g, batch=8)
    m = g.param_bytes + g.trainable_param_bytes + 2 * g.trainable_param_bytes + 8 * g.activation_bytes
    assert np.allclose(inst.memory_bytes, m)
    lim = ds.make_instance(g, device_memory_bytes=float(m.sum()) / 3)
    plan = ds.METHODS["milp"](lim)
    assert plan.metrics["device_memory_bytes"] <= float(m.sum()) / 3 * (1 + 1e-12)
    assert plan.metrics["memory_violation_bytes"] == 0
    a = ds.METHODS["a"](lim)  # A ignores §4.4 and reports the excess
    assert a.metrics["memory_violation_bytes"] == pytest.approx(
        max(0.0, a.metrics["device_memory_bytes"] - float(m.sum()) / 3))
    assert a.objective <= plan.objective * (1 + 1e-12)
    with pytest.raises(InfeasibleError, match="memory"):
        ds.evaluate(lim, np.ones(g.n, dtype=bool))


# --------------------------------------------------------------------------- delays (Eqs. 1-3)
def test_delays_from_flops_and_measured_times():
    g = ModelGraph(forward_flop=[1e9, 2e9], backward_flop=[2e9, 4e9], param_bytes=[0, 0],
                   activation_bytes=[1e6, 10], src=[0], dst=[1],
                   extra={"gradient_bytes": [5e5, 10]})
    inst = ds.make_instance(g, device_flops=1e12, server_flops=1e13, uplink_bps=1e8,
                            downlink_bps=2e8, batch=4)
    assert inst.tau_dev_s.tolist() == pytest.approx([4 * 3e9 / 1e12, 4 * 6e9 / 1e12])
    assert inst.tau_srv_s.tolist() == pytest.approx([4 * 3e9 / 1e13, 4 * 6e9 / 1e13])
    assert inst.tau_up_s[0] == pytest.approx(4 * 8e6 / 1e8)
    assert inst.tau_dn_s[0] == pytest.approx(4 * 4e6 / 2e8)
    ev = ds.evaluate(inst, [0])
    assert ev["upload_s"] == pytest.approx(0.32) and ev["download_s"] == pytest.approx(0.08)
    meas = g.replace(extra={"device_time_s": [0.01, 0.02], "server_time_s": [0.001, 0.002]})
    inst = ds.make_instance(meas, batch=4)
    assert inst.tau_dev_s.tolist() == pytest.approx([0.04, 0.08])
    assert inst.tau_srv_s.tolist() == pytest.approx([0.004, 0.008])


# --------------------------------------------------------------------------- bad input
def test_bad_input_errors():
    g = load_shipped(shipped()[0])
    with pytest.raises(ValidationError, match="uplink_bps"):
        ds.make_instance(g, uplink_bps=float("nan"))
    with pytest.raises(ValidationError, match="device_flops"):
        ds.make_instance(g, device_flops=0)
    with pytest.raises(ValidationError, match="server_flops"):
        ds.make_instance(g, server_flops=-1)
    with pytest.raises(ValidationError, match="batch"):
        ds.make_instance(g, batch=0)
    with pytest.raises(ValidationError, match="cycle"):
        ds.instance_from_delays(3, [0, 1, 2], [1, 2, 0], tau_dev_s=1, tau_srv_s=1, tau_com_s=1)
    with pytest.raises(ValidationError, match="tau_dev_s"):
        ds.instance_from_delays(2, [0], [1], tau_dev_s=[1, -1], tau_srv_s=1, tau_com_s=1)
    with pytest.raises(ValidationError, match="server_pins"):
        ds.make_instance(g, server_pins=["no-such-layer"])
    # contradictory pins: server-pinned layer 1 is an ancestor of device-pinned layer 2
    with pytest.raises(InfeasibleError, match="contradictory pins") as err:
        ds.instance_from_delays(3, [0, 1], [1, 2], names=["a", "b", "c"], tau_dev_s=1, tau_srv_s=1,
                                tau_com_s=1, server_pins=["b"], device_pins=["c"])
    assert "'b'" in str(err.value) and "'c'" in str(err.value)
    with pytest.raises(InfeasibleError, match="C2"):
        ds.evaluate(claim_6_5(), ["1", "3"])


# --------------------------------------------------------------------------- registry, CLI, output
def test_registered_problem_and_formulations():
    from slopt.problems import get

    p = get("dag-split")
    for method in ("paper", "exact", "b2", "chain"):
        plan = p.run(method)
        assert plan.objective > 0 and plan.problem == "dag-split"
    inst = p.random_instance(3)
    t_a = ds.METHODS["a"](inst).objective
    from slopt.solvers import solve

    for name, build in p.formulations(inst).items():
        res = solve(build(), solver="highs", mip_gap=0.0 if name.startswith("milp") else None)
        assert res.status == "optimal" and abs(res.objective - t_a) <= 1e-6 * max(1, t_a), name
    assert p.load(None, None, seed=5).params["uplink_bps"] != ds.DEFAULTS["uplink_bps"]
    assert p.load(None, "default").params["device_flops"] > 0


def test_cli_split_and_solve(tmp_path):
    from typer.testing import CliRunner

    from slopt.cli import _add_problem_commands, app

    _add_problem_commands()
    runner = CliRunner()
    dot, png = tmp_path / "g.dot", tmp_path / "g.png"
    r = runner.invoke(app, ["split", shipped()[0], "--uplink-bps", "1e9", "--json",
                            "--dot", str(dot), "--png", str(png)])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert {"delay_s", "device_layers", "cut_tensors", "breakdown"} <= set(d)
    assert dot.read_text().startswith("digraph") and png.stat().st_size > 0
    for method in ("b1", "b2", "lp", "brute", "chain"):
        r = runner.invoke(app, ["split", "residual_chain" if "residual_chain" in shipped()
                                else shipped()[0], "--method", method, "--json"])
        assert r.exit_code == 0, (method, r.output)
        assert math.isclose(json.loads(r.stdout)["delay_s"], d["delay_s"]) or method != "x"
    r = runner.invoke(app, ["split", shipped()[0], "--uplink-bps", "nan"])
    assert r.exit_code == 2 and "uplink_bps" in r.output
    r = runner.invoke(app, ["solve", "dag-split", "--method", "paper", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["problem"] == "dag-split"


def test_dynamic_study_small():
    g = load_shipped("residual_chain") if "residual_chain" in shipped() else ds.block_model(4)
    per_slot, summary = ds.dynamic_study(g, n_slots=6, seed=1, device_flops=1e11,
                                         methods=("a", "fixed", "chain", "greedy", "device-only"))
    a = per_slot[per_slot.method == "a"].delay_s.to_numpy()
    for m in ("fixed", "chain", "greedy", "device-only"):
        other = per_slot[per_slot.method == m].delay_s.to_numpy()
        assert (a <= other * (1 + 1e-12)).all(), m  # A is optimal in every slot
    assert set(summary.method) == {"a", "fixed", "chain", "greedy", "device-only"}
    _, s2 = ds.dynamic_study(g, n_slots=4, protocol="overhead", process="gauss-markov",
                             methods=("a", "device-only"))
    assert (s2.mean_delay_s > 0).all()


def test_b2_memo_is_exact_even_when_the_projection_collides(monkeypatch):
    """Force every unit into one proposed structure / memo class: the element-wise checks must
    split them again (covers the exactness fallback of macro_chain and _delay_classes)."""
    import pandas as pd

    real = pd.factorize
    monkeypatch.setattr(ds.pd, "factorize",
                        lambda key, *a, **k: (np.zeros(len(key), dtype=np.int64), real(key)[1][:1]))
    for seed in range(30):
        inst = macro_chain_instance(seed, pins=False)
        x, _ = ds.algorithm_a(inst)
        xb, tb, info = ds.algorithm_b2(inst, strict=True)
        assert close(ds.evaluate(inst, xb)["delay_s"], ds.evaluate(inst, x)["delay_s"])


def test_isolated_layers_and_unpinned_inputs():
    """Isolated layers (inputs, on the device by C1) and, without C1, free isolated layers."""
    inst = ds.instance_from_delays(5, [0, 1], [1, 2], tau_dev_s=[1, 2, 3, 1, 5],
                                   tau_srv_s=[0.5, 0.1, 0.1, 2, 0.1], tau_com_s=[0.3, 4, 0, 1, 1])
    _, t_bf, _ = ds.brute_force(inst)
    for backend in ("ortools", "networkx"):
        x, cut = ds.algorithm_a(inst, backend)
        assert close(ds.evaluate(inst, x)["delay_s"], t_bf) and close(cut, t_bf)
    x, _ = ds.milp(inst, "highs", "cvxpy")
    assert close(ds.evaluate(inst, x)["delay_s"], t_bf)
    free = ds.instance_from_delays(3, [0], [1], tau_dev_s=[1, 2, 3], tau_srv_s=[0.5, 0.1, 9],
                                   tau_com_s=[0.3, 4, 0], pin_inputs=False)
    x, cut = ds.algorithm_a(free)
    assert x.tolist() == [False, False, True] and close(cut, 0.5 + 0.1 + 3)
