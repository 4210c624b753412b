"""Exactness of the dag-split methods against an independent exact oracle.

The oracle below shares no code with ``slopt.models.dag_split``: it enumerates every subset of
layers with Python bit masks, applies C1 (its own reading of the non-computing-input rule),
C2 and the pins itself, and prices Eq. 6 in ``fractions.Fraction`` arithmetic from the raw
delays. The generators are this file's own: random DAGs with several inputs and outputs and
fan-out up to 6 on permuted ids, lattices, series-parallel graphs and macro-chains of blocks;
delays over many decades, zeros, and near-ties (values equal up to 1 + k eps, eps down to 2^-40)
next to delays twelve decades larger.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from conftest import FULL, installed

from slopt.errors import InfeasibleError
from slopt.models import dag_split as ds

N_CASES = 400 if FULL else 120
N_SOLVER = 60 if FULL else 15


# --------------------------------------------------------------------------- independent oracle
def oracle(n, edges, dev, srv, com, dev_pins=(), srv_pins=(), pin_inputs=True):
    """(T*, smallest optimal device set as a sorted tuple) or None when infeasible."""
    pred, succ = [0] * n, [0] * n
    for u, w in edges:
        pred[w] |= 1 << u
        succ[u] |= 1 << w
    fd, fs, fc = ([Fraction(v) for v in a] for a in (dev, srv, com))
    need = 0
    for v in dev_pins:
        need |= 1 << v
    if pin_inputs:
        idle = [dev[v] == 0 and srv[v] == 0 for v in range(n)]
        raw = 0
        for v in _topo(n, pred):  # inputs and the raw closure in a topological sweep
            if pred[v] == 0:
                need |= 1 << v
                if idle[v]:
                    raw |= 1 << v
            elif idle[v] and pred[v] & ~raw == 0:
                raw |= 1 << v
        for u in range(n):
            if raw >> u & 1:
                need |= 1 << u | succ[u]
    forbid = 0
    for v in srv_pins:
        forbid |= 1 << v
    best = None
    for mask in range(1 << n):
        if mask & need != need or mask & forbid:
            continue
        if any(mask >> w & 1 and pred[w] & ~mask for w in range(n)):
            continue
        T = sum(fd[v] if mask >> v & 1 else fs[v] for v in range(n))
        T += sum(fc[u] for u in range(n) if mask >> u & 1 and succ[u] & ~mask)
        key = (T, bin(mask).count("1"))
        if best is None or key < best[0]:
            best = (key, mask)
    if best is None:
        return None
    return best[0][0], tuple(v for v in range(n) if best[1] >> v & 1)


def _topo(n, pred):
    done, order = 0, []
    while len(order) < n:
        for v in range(n):
            if not done >> v & 1 and pred[v] & ~done == 0:
                done |= 1 << v
                order.append(v)
    return order


# --------------------------------------------------------------------------- generators
def g_random(rng):
    n = int(rng.integers(2, 11))
    edges = set()
    for w in range(1, n):
        for u in range(w):
            if rng.random() < 0.35:
                edges.add((u, w))
    # fan-out at most 6
    out = {}
    for u, w in sorted(edges):
        out.setdefault(u, []).append(w)
    edges = [(u, w) for u, ws in out.items() for w in ws[:6]]
    return n, edges, None


def g_lattice(rng):
    r, c = int(rng.integers(1, 4)), int(rng.integers(2, 5))
    idx = lambda i, j: i * c + j  # noqa: E731
    edges = [(idx(i, j), idx(i, j + 1)) for i in range(r) for j in range(c - 1)]
    edges += [(idx(i, j), idx(i + 1, j)) for i in range(r - 1) for j in range(c)]
    return r * c, edges, None


def g_series_parallel(rng):
    edges, count = [], [2]

    def sp(a, b, depth):  # a series-parallel graph between the existing vertices a and b
        r = rng.random()
        if depth == 0 or r < 0.3 or count[0] >= 10:
            edges.append((a, b))
        elif r < 0.65:  # series
            m = count[0]
            count[0] += 1
            sp(a, m, depth - 1)
            sp(m, b, depth - 1)
        else:  # parallel
            sp(a, b, depth - 1)
            sp(a, b, depth - 1)

    sp(0, 1, 4)
    return count[0], sorted(set(edges)), None


def g_macro_chain(rng):
    n, edges, block, prev = 1, [], ["stem"], 0
    for b in range(int(rng.integers(1, 4))):
        k = int(rng.integers(1, 4))
        base = n
        for j in range(k):
            preds = [u for u in [prev] + list(range(base, base + j)) if rng.random() < 0.5]
            edges += [(u, base + j) for u in (preds or [prev if j == 0 else base + j - 1])]
        has = {u for u, _ in edges}
        edges += [(base + j, base + k - 1) for j in range(k - 1) if base + j not in has]
        block += [f"b{b}"] * k
        n += k
        prev = base + k - 1
    edges.append((prev, n))
    block.append("head")
    return n + 1, sorted(set(edges)), block


def delays(rng, n, kind):
    if kind == "decades":
        v = 10.0 ** rng.uniform(-9, 6, n) * rng.uniform(0.5, 1, n)
        return np.where(rng.random(n) < 0.15, 0.0, v)
    if kind == "near-tie":  # values equal up to (1 + k eps), next to a value 12 decades larger
        eps = float(rng.choice([1e-6, 1e-8, 1e-10, 2.0 ** -40]))
        base = rng.choice([1e-6, 2e-6, 3e-6], n) * (1 + eps * rng.integers(0, 3, n))
        big = rng.random(n) < 0.15
        return np.where(big, 1e6, base)
    return rng.integers(0, 4, n).astype(float)  # small integers: exact ties


def case(seed):
    rng = np.random.default_rng(seed)
    gen = [g_random, g_lattice, g_series_parallel, g_macro_chain][seed % 4]
    n, edges, block = gen(rng)
    perm = rng.permutation(n) if block is None else np.arange(n)  # permuted ids
    edges = [(int(perm[u]), int(perm[w])) for u, w in edges]
    kind = ["decades", "near-tie", "ints"][(seed // 4) % 3]
    dev, srv, com = (delays(rng, n, kind) for _ in range(3))
    srv_pins = [int(v) for v in np.flatnonzero(rng.random(n) < 0.1)] if rng.random() < 0.3 else []
    dev_pins = [int(v) for v in np.flatnonzero(rng.random(n) < 0.1)] if rng.random() < 0.3 else []
    return dict(n=n, edges=edges, dev=dev, srv=srv, com=com, block=block, srv_pins=srv_pins,
                dev_pins=dev_pins)


def instance(c, **kw):
    src = [u for u, _ in c["edges"]]
    dst = [w for _, w in c["edges"]]
    return ds.instance_from_delays(c["n"], src, dst, tau_dev_s=c["dev"], tau_srv_s=c["srv"],
                                   tau_com_s=c["com"], block=c["block"], server_pins=c["srv_pins"],
                                   device_pins=c["dev_pins"], check=False, **kw)


def solve_oracle(c):
    return oracle(c["n"], c["edges"], c["dev"], c["srv"], c["com"], c["dev_pins"], c["srv_pins"])


# --------------------------------------------------------------------------- tests
@pytest.mark.parametrize("chunk", range(4))
def test_combinatorial_methods_are_exact(chunk):
    """A (OR-Tools, networkx, netted network), brute force and B2 return the oracle's smallest
    optimal set (the documented tie rule) and report the exact optimum rounded once; B1's split
    is feasible and never better. Infeasible pins raise on every path."""
    agree = infeasible = 0
    for seed in range(chunk, N_CASES, 4):
        c = case(seed)
        inst = instance(c)
        want = solve_oracle(c)
        if want is None:
            for f in (lambda: ds.algorithm_a(inst), lambda: ds.algorithm_a(inst, "networkx"),
                      lambda: ds.brute_force(inst), lambda: ds.algorithm_b2(inst, min_layers=0)):
                with pytest.raises(InfeasibleError):
                    f()
            infeasible += 1
            continue
        T, D = want
        for name, (x, value) in {
                "a": ds.algorithm_a(inst), "a-networkx": ds.algorithm_a(inst, "networkx"),
                "a-netted": ds.algorithm_a(inst, net_terminals=True),
                "brute": ds.brute_force(inst)[:2], "b2": ds.algorithm_b2(inst, min_layers=0)[:2]}.items():
            got = tuple(np.flatnonzero(x).tolist())
            assert ds.exact_delay(inst, x) == T, (seed, name, got, D)
            assert got == D, (seed, name, got, D)
            if name != "b2":
                assert value == float(T), (seed, name, value, float(T))
        plan = ds.METHODS["a"](inst)
        assert plan.objective == float(T) == plan.metrics["cut_value_s"]
        xb, _ = ds.algorithm_b1(inst) if c["block"] else (None, None)
        if xb is not None and ds.evaluate(inst, xb, check=False)["feasible"]:
            assert ds.exact_delay(inst, xb) >= T
        agree += 1
    assert agree + infeasible == len(range(chunk, N_CASES, 4)) and agree > infeasible


def _case_with_solution(seed):
    while True:
        c = case(seed)
        if solve_oracle(c) is not None:
            return c
        seed += 10_000


@pytest.mark.skipif(not installed("highs"), reason="needs HiGHS")
def test_milp_and_lp_are_certified():
    """HiGHS MILP / LP (Pyomo): the reported objective is the exact T of the returned split;
    'optimal' only when it equals the exact optimum (never a worse split called optimal)."""
    n_opt = 0
    for seed in range(N_SOLVER):
        c = _case_with_solution(seed)
        inst = instance(c)
        T, _ = solve_oracle(c)
        for f in (ds.milp, ds.lp_relaxation):
            x, res = f(inst, "highs", "pyomo")
            Tx = ds.exact_delay(inst, x)
            assert res.objective == float(Tx)
            assert (res.status == "optimal") == (Tx == T), (seed, f.__name__, res.status, Tx, T)
            assert res.status in ("optimal", "feasible")
            n_opt += res.status == "optimal"
    assert n_opt >= N_SOLVER  # most solves are exactly optimal


def reproducer():
    """The minimal near-tie case: chain 0 -> 1 -> 2; optimum D = {0, 1}, T = 4e-6 s."""
    return ds.instance_from_delays(3, [0, 1], [1, 2], tau_dev_s=[1e-6, 1e-6, 1e6],
                                   tau_srv_s=[1e-6] * 3, tau_com_s=[1e-6 + 2e-13, 1e-6, 0])


@pytest.mark.parametrize("method", ["a", "a-networkx", "b2", "brute", "exact", "milp", "lp"])
def test_near_tie_reproducer(method):
    if method in ("milp", "lp") and not installed("highs"):
        pytest.skip("needs HiGHS")
    inst = reproducer()
    assert oracle(3, [(0, 1), (1, 2)], [1e-6, 1e-6, 1e6], [1e-6] * 3, [1e-6 + 2e-13, 1e-6, 0]) \
        == (Fraction(1e-6) * 3 + Fraction(1e-6), (0, 1))
    plan = ds.METHODS[method](inst)
    assert plan.decision["device_layers"] == ["v0", "v1"], method
    if method == "b2":  # the block path itself, not only the small-graph shortcut to A
        x, _, info = ds.algorithm_b2(inst, min_layers=0)
        assert info["fallback"] is None and np.flatnonzero(x).tolist() == [0, 1]
    assert plan.objective == float(ds.exact_delay(inst, [0, 1])) == pytest.approx(4e-6, rel=1e-15)
    assert plan.status == "optimal"
    # the other split is exactly 2e-13 s worse (up to the float value of 1e-6 + 2e-13)
    assert ds.exact_delay(inst, [0]) - ds.exact_delay(inst, [0, 1]) == \
        Fraction(1e-6 + 2e-13) - Fraction(1e-6)


def contradictory():
    """Server-pinned 'b' is an ancestor of device-pinned 'c'."""
    return ds.instance_from_delays(3, [0, 1], [1, 2], names=["a", "b", "c"], tau_dev_s=1,
                                   tau_srv_s=1, tau_com_s=1, server_pins=["b"], device_pins=["c"],
                                   block=["a", "b", "c"], check=False)


@pytest.mark.parametrize("method", sorted(ds.METHODS))
def test_contradictory_pins_raise_on_every_method(method):
    if method in ("milp", "lp", "milp-cvxpy", "lp-cvxpy") and not installed("highs"):
        pytest.skip("needs HiGHS")
    with pytest.raises(InfeasibleError, match="contradictory pins|pins"):
        ds.METHODS[method](contradictory())


def test_contradictory_pins_raise_in_the_algorithms():
    inst = contradictory()
    for f in (ds.algorithm_a, lambda i: ds.algorithm_a(i, "networkx"), ds.algorithm_b1,
              ds.algorithm_b2, ds.brute_force):
        with pytest.raises(InfeasibleError) as err:
            f(inst)
        assert "memory" not in str(err.value)


def test_non_computing_input_does_not_satisfy_c1():
    """A zero-FLOP input vertex (a reshape) before a costly first layer: with the default
    rule its consumer is pinned, so the raw input is never the uploaded tensor; the old reading
    (c1_rule='inputs') uploads it."""
    kw = dict(tau_dev_s=[0, 5, 3], tau_srv_s=[0, 0.1, 0.1], tau_com_s=[1, 1, 0],
              names=["reshape", "conv", "fc"])
    inst = ds.instance_from_delays(3, [0, 1], [1, 2], **kw)
    assert inst.device_pin.tolist() == [True, True, False]
    plan = ds.METHODS["a"](inst)
    assert plan.decision["cut_tensors"] == ["conv"] and plan.objective == pytest.approx(6.1)
    old = ds.instance_from_delays(3, [0, 1], [1, 2], c1_rule="inputs", **kw)
    assert ds.METHODS["a"](old).decision["cut_tensors"] == ["reshape"]
    for m in ("brute", "b2", "milp"):
        assert ds.METHODS[m](inst).objective == pytest.approx(6.1), m
    # a non-computing layer that mixes raw and computed inputs gets the pin but passes it on no
    # further: 0 (idle input) -> 1 (conv) -> 2 (idle add, also fed by 0) -> 3
    g = ds.instance_from_delays(4, [0, 1, 0, 2], [1, 2, 2, 3], tau_dev_s=[0, 1, 0, 1],
                                tau_srv_s=[0, 1, 0, 1], tau_com_s=1)
    assert g.device_pin.tolist() == [True, True, True, False]


def test_time_limit_without_incumbent_is_no_solution(monkeypatch):
    """exact / milp / lp stopped before any split: a Plan with status no_solution, never an
    exception."""
    from slopt.solvers import SolveResult

    import slopt.models.dag_split.exact as ex

    monkeypatch.setattr(ex, "solve", lambda *a, **k: SolveResult(
        "no_solution", termination="time_limit", has_primal=False, message="time limit"))
    inst = ds.random_instance(1, n_layers=30)
    for m in ("exact", "milp", "lp", "milp-cvxpy", "lp-cvxpy"):
        plan = ds.METHODS[m](inst, time_limit=0.01)
        assert plan.status == "no_solution", m
        assert math.isnan(plan.objective) and plan.decision["device_layers"] == []


@pytest.mark.skipif(not installed("highs"), reason="needs HiGHS")
def test_tiny_time_limit_never_raises():
    inst = ds.random_instance(2, n_layers=400, edge_prob=0.05)
    plan = ds.METHODS["milp"](inst, time_limit=1e-6)
    assert plan.status in ("optimal", "feasible", "no_solution")
    if plan.status == "no_solution":
        assert math.isnan(plan.objective)


def test_exponent_range_beyond_int64_refinement():
    """Delays 10^-300 next to 10^10 s (over 1,000 bits apart): the exact path falls back to
    exact Python integers and still returns the oracle's split."""
    rng = np.random.default_rng(5)
    for _ in range(10):
        n = 6
        edges = [(u, w) for w in range(1, n) for u in range(w) if rng.random() < 0.5]
        dev, srv, com = (np.where(rng.random(n) < 0.5, 1e-300, 1e10) * rng.uniform(1, 2, n)
                         for _ in range(3))
        c = dict(n=n, edges=edges, dev=dev, srv=srv, com=com, block=None, srv_pins=[], dev_pins=[])
        T, D = solve_oracle(c)
        inst = instance(c)
        for backend in ("ortools", "networkx"):
            x, v = ds.algorithm_a(inst, backend)
            assert tuple(np.flatnonzero(x).tolist()) == D and v == float(T)


def test_warm_paths_equal_the_oracle():
    """The cached paths (A's network structure and OR-Tools solver, B2's decomposition and memo
    partition, all kept per graph) re-used while only the delays change, and the same after the
    caches are cleared, against the oracle."""
    F = __import__("sys").modules["slopt.models.dag_split.formulations"]
    A = __import__("sys").modules["slopt.models.dag_split.algorithm"]
    checked = 0
    for seed in range(3, 200, 4):  # macro-chains
        c = case(seed)
        g = instance(c).graph
        rng = np.random.default_rng(seed)
        for step in range(4):
            # new delays, same zero pattern and pins (the warm case); every other step also
            # a new zero pattern (the structure must be rebuilt)
            scale = rng.uniform(0.5, 2.0)
            d = dict(c, dev=c["dev"] * scale, srv=c["srv"] * rng.uniform(0.5, 2.0),
                     com=c["com"] * (rng.uniform(0.5, 2.0) if step % 2 else scale))
            if step == 3:
                d["com"] = np.where(rng.random(c["n"]) < 0.3, 0.0, d["com"])
            want = solve_oracle(d)
            if want is None:
                break
            inst = ds.instance_from_delays(g, tau_dev_s=d["dev"], tau_srv_s=d["srv"],
                                           tau_com_s=d["com"], server_pins=d["srv_pins"],
                                           device_pins=d["dev_pins"], check=False)
            for clear in (False, True):
                if clear:
                    F._STRUCTURES.pop(g, None)
                    A._CLASS_CACHE.pop(g, None)
                xa, va = ds.algorithm_a(inst)
                xb, _, info = ds.algorithm_b2(inst, min_layers=0)
                for x in (xa, xb):
                    assert tuple(np.flatnonzero(x).tolist()) == want[1], (seed, step, clear)
                assert va == float(want[0])
            checked += 1
    assert checked >= 60


def test_b2_warm_check_on_runs_of_repeated_units():
    """B2's warm path checks runs of identical units as blocks (no gather) and takes per-unit
    sums from the class representatives: a one-ulp change in one layer in the middle of a run,
    a changed exit upload (ignored by I_k) and a new pin must all give A's optimum (A is checked
    against the oracle above) and A's smallest optimal set."""
    A = __import__("sys").modules["slopt.models.dag_split.algorithm"]
    g = ds.block_model(200)
    base = ds.make_instance(g, device_flops=5e12, uplink_bps=1e7, downlink_bps=2e7)
    mc = ds.macro_chain(g)
    ds.algorithm_b2(base, min_layers=0)
    runs = A._CLASS_CACHE[g][2][0]
    assert any(units >= A._RUN_UNITS for _, units, _, _ in runs)   # the block path is exercised
    mid = mc.order[mc.start[mc.k // 2]]                            # first layer of a middle unit
    exit_mid = int(mc.exit[mc.k // 2])
    dev = base.tau_dev_s.copy()
    dev[mid] = np.nextafter(dev[mid], np.inf)
    com = base.tau_com_s.copy()
    com[exit_mid] *= 3.0
    srv_pin = np.zeros(g.n, dtype=bool)
    srv_pin[int(mc.exit[mc.k - 5])] = True
    variants = [dict(tau_dev_s=dev), dict(tau_com_s=com), dict(server_pins=np.flatnonzero(srv_pin)),
                dict(tau_dev_s=base.tau_dev_s * 0.5)]
    for kw in variants:
        args = dict(tau_dev_s=base.tau_dev_s, tau_srv_s=base.tau_srv_s, tau_com_s=base.tau_com_s)
        args.update(kw)
        inst = ds.instance_from_delays(g, check=False, **args)
        xa, va = ds.algorithm_a(inst)
        xb, vb, info = ds.algorithm_b2(inst, min_layers=0)
        assert info["fallback"] is None
        assert ds.exact_delay(inst, xb) == ds.exact_delay(inst, xa)
        assert np.array_equal(xa, xb)
        if kw is variants[0]:   # the one-ulp change was seen: that unit has a class of its own
            cls = A._CLASS_CACHE[g][1]
            assert (cls == cls[mc.k // 2]).sum() == 1
