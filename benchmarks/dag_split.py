"""Running times of the dag-split algorithms (spec min-cut-splitting.md §5.4, §6.11, §9).

Prints, in one run (medians of repeated calls; the ratios are what to compare, since the
machine may be shared):

1. Algorithm A end-to-end (delays of Eqs. 1-3, pins, network, exact minimum cut, mask,
   re-evaluation) on synthetic random DAGs (``synthetic.random_dag(n, 0.2, seed=1,
   max_back=8)``) of 10^5 and 10^6 layers, cold (first call on the graph) and warm (network
   structure and solver cached, only the rates changed), beside the *previous path* (network
   built by concatenating capacity arrays, one int64-rounded OR-Tools max flow, float
   re-evaluation: not exact); targets 30 ms and 0.3 s. Two classes: ``flop`` (the target's
   class: per-layer delays from FLOP and uniform throughputs; the server is 20x faster on every
   layer, so D* is the input alone) and ``hetero`` (stress class: per-layer device and server
   times drawn independently, lognormal(-9, 1.5) s per sample, so most layers are cheaper on
   one side or the other and D* is large);
2. where the time goes at 10^6 (build, max flow phases, extraction, re-evaluation);
3. the compiled max-flow codes available on the package registry on the same int64 network
   (OR-Tools ``SimpleMaxFlow``, igraph ``Graph.maxflow_value``, PyMaxflow's Boykov-Kolmogorov,
   ``scipy.sparse.csgraph.maximum_flow``), each where installed;
4. B2 (default: small graphs go straight to A; and the block path forced) against A on every
   shipped profile (target B2 <= A), and on ResNet-type block models up to 10^5 layers
   (target A / B2 >= 10 at 10^5);
5. the dynamic-study re-split time per slot (same graph, new rates; spec §7.2).

Usage: ``python benchmarks/dag_split.py [--quick] [--sections 1,4]`` (``--quick``: 10^5 layers
at most; ``--sections``: only those sections).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np

import slopt.maxflow as MF
from slopt.models import dag_split as ds
from slopt.profiles import load_shipped, shipped
from slopt.profiles.synthetic import random_dag

F = sys.modules["slopt.models.dag_split.formulations"]
#: spec §7.2 defaults, with a faster link for the random DAGs so that the cut is not trivial
PARAMS = dict(ds.DEFAULTS)
SYNTH = dict(PARAMS, uplink_bps=5e9, downlink_bps=1e10)
BLOCK = dict(PARAMS, device_flops=1e11, uplink_bps=5e8, downlink_bps=1e9)
#: block-model parameter classes: the slow device of ``BLOCK`` (D* = the input alone) and a
#: device 4x slower than the server on a 10 Mbit/s uplink (at 9,002 layers D* ends at a stage
#: boundary; push-relabel's hard case)
BLOCK_CLASSES = {"dev 1e11, 500M": BLOCK,
                 "dev 5e12, 10M": dict(PARAMS, device_flops=5e12, uplink_bps=1e7, downlink_bps=2e7)}


def median_time(f: Callable[[], Any], repeats: int, budget_s: float = 20.0) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
        if sum(times) > budget_s:
            break
    return statistics.median(times), out


def interleaved(fs: list[Callable[[], Any]], repeats: int) -> list[tuple[float, Any]]:
    """Median seconds of each function, called in turn (A, B, A, B, ...) so that a change of
    machine load affects all of them alike."""
    times: list[list[float]] = [[] for _ in fs]
    outs: list[Any] = [None] * len(fs)
    for _ in range(repeats):
        for i, f in enumerate(fs):
            t0 = time.perf_counter()
            outs[i] = f()
            times[i].append(time.perf_counter() - t0)
    return [(statistics.median(ts), o) for ts, o in zip(times, outs)]


def ms(s: float | None) -> str:
    return "      —" if s is None else f"{s * 1e3:9.2f}"


# --------------------------------------------------------------------------- previous path
def previous_network(inst):
    """The network as built before the structure cache: capacities concatenated per call."""
    g = inst.graph
    n, src, dst = g.n, g.src, g.dst
    multi = g.out_degree > 1
    aux = np.flatnonzero(multi)
    aux_of = np.full(n, -1, dtype=np.int64)
    aux_of[aux] = n + np.arange(aux.size)
    s, t = n + aux.size, n + aux.size + 1
    V = np.arange(n)
    em = multi[src]
    com = inst.tau_com_s
    tail = np.concatenate([np.full(n, s), V, aux, aux_of[src[em]], src[~em], dst])
    head = np.concatenate([V, np.full(n, t), aux_of[aux], dst[em], dst[~em], src])
    cap = np.concatenate([np.where(inst.device_pin, np.inf, inst.tau_srv_s),
                          np.where(inst.server_pin, np.inf, inst.tau_dev_s), com[aux],
                          np.full(int(em.sum()), np.inf), com[src[~em]], np.full(src.size, np.inf)])
    keep = cap > 0
    return ds.FlowNetwork(n, t + 1, s, t, tail[keep], head[keep], cap[keep], aux_of)


def a_previous(graph, params):
    from ortools.graph.python import max_flow

    inst = ds.make_instance(graph, **params)
    net = previous_network(inst)
    cap, scale, _ = ds._integer_capacities(net)
    mf = max_flow.SimpleMaxFlow()
    mf.add_arcs_with_capacity(net.tail, net.head, cap)
    mf.add_arc_with_capacity(net.t, net.s, 0)
    mf.solve(net.s, net.t)
    x = np.zeros(net.n_nodes, dtype=bool)
    x[np.asarray(mf.get_source_side_min_cut())] = True
    x = x[:graph.n]
    z = ds.crossing(inst, x)
    return float(inst.tau_dev_s[x].sum() + inst.tau_srv_s[~x].sum() + inst.tau_com_s[z].sum())


def a_end_to_end(graph, params):
    inst = ds.make_instance(graph, **params)
    x, _ = ds.algorithm_a(inst)
    return ds.evaluate(inst, x, check=False)["delay_s"]


def synthetic(n: int, kind: str = "flop"):
    """The random DAG of section 1; ``hetero`` adds independent per-layer device and server
    times (s per sample), so that the optimal split is not trivial."""
    g = random_dag(n, 0.2, seed=1, max_back=8)
    if kind == "hetero":
        rng = np.random.default_rng(7)
        g.extra["device_time_s"] = rng.lognormal(-9, 1.5, n)
        g.extra["server_time_s"] = rng.lognormal(-9, 1.5, n)
    return g


def section_a(sizes: list[int], repeats: int, hetero_sizes: list[int]) -> None:
    print("\n## 1. Algorithm A end-to-end, random DAGs (edge_prob 0.2, max_back 8), "
          "R_up 5 Gbit/s, R_dn 10 Gbit/s  (median ms)")
    print(f"{'class':>6} | {'layers':>9} | {'arcs':>9} | {'|D*|':>7} | {'A cold':>9} | {'A warm':>9} | "
          f"{'previous':>9} | {'warm/prev':>9} | {'target':>7} | T* (s)")
    for kind, n in [("flop", n) for n in sizes] + [("hetero", n) for n in hetero_sizes]:
        g = synthetic(n, kind)
        F._STRUCTURES.pop(g, None)
        t0 = time.perf_counter()
        t_new = a_end_to_end(g, SYNTH)
        cold = time.perf_counter() - t0
        rates = iter(np.linspace(4e9, 6e9, 64))
        a_previous(g, SYNTH)
        (warm, _), (prev, t_prev) = interleaved(
            [lambda: a_end_to_end(g, dict(SYNTH, uplink_bps=next(rates))),
             lambda: a_previous(g, SYNTH)], repeats if n < 10**6 else 3)
        inst = ds.make_instance(g, **SYNTH)
        net = ds.flow_network(inst)
        d_star = int(ds.algorithm_a(inst)[0].sum())
        target = f"{(0.03 if n <= 10**5 else 0.3) * 1e3:5.0f}ms" if kind == "flop" else "     —"
        print(f"{kind:>6} | {n:9d} | {net.n_arcs:9d} | {d_star:7d} | {ms(cold)} | {ms(warm)} | "
              f"{ms(prev)} | {warm / prev:8.2f}x | {target:>7} | {t_new:.6f} (previous {t_prev:.6f})")


def section_profile(n: int, kind: str = "flop") -> None:
    print(f"\n## 2. Where the time goes, A at {n} layers, class {kind} (warm: after three calls "
          "that settle the max-flow directions; one call, ms)")
    g = synthetic(n, kind)
    for r in (4.2e9, 4.4e9, 4.6e9):
        a_end_to_end(g, dict(SYNTH, uplink_bps=r))
    calls: list[tuple[int, float]] = []
    orig = MF.ortools_maxflow

    def timed(*a: Any, **k: Any) -> Any:
        t0 = time.perf_counter()
        out = orig(*a, **k)
        calls.append((a[0].size, time.perf_counter() - t0))
        return out

    MF.ortools_maxflow = timed
    try:
        t0 = time.perf_counter()
        inst = ds.make_instance(g, **dict(SYNTH, uplink_bps=4.5e9))
        t1 = time.perf_counter()
        net = ds.flow_network(inst)
        t2 = time.perf_counter()
        x, _ = ds.min_cut(net)
        t3 = time.perf_counter()
        ds.evaluate(inst, x, check=False)
        t4 = time.perf_counter()
    finally:
        MF.ortools_maxflow = orig
    flows = sum(c[1] for c in calls)
    st = F._STRUCTURES[g]
    dirs = [("phase 1", st.get("phase1", {}).get("seconds")), ("refinement", st.get("refine_seconds"))]
    print("max-flow seconds seen per direction (s->t, t->s): " + "; ".join(
        f"{k} " + ("—" if v is None else ", ".join("—" if x != x else f"{x * 1e3:.1f} ms" for x in v))
        for k, v in dirs))
    print(f"delays + pins {ms(t1 - t0)} | network {ms(t2 - t1)} | exact min cut {ms(t3 - t2)} "
          f"(max flows {ms(flows)} in {len(calls)} phase(s): "
          + ", ".join(f"{a} arcs {s * 1e3:.1f}" for a, s in calls)
          + f"; bookkeeping {ms(t3 - t2 - flows)}) | re-evaluation {ms(t4 - t3)}")


# --------------------------------------------------------------------------- max-flow codes
def section_maxflow(cases: list[tuple[str, int]]) -> None:
    print("\n## 3. Compiled max-flow codes on the network of A, int64 capacities with a 2^48 sum "
          "(build + solve, median ms)")
    have = {m: importlib.util.find_spec(m) is not None for m in ("igraph", "maxflow")}
    print(f"{'class':>6} | {'layers':>9} | {'OR-Tools':>9} | {'igraph':>9} | {'PyMaxflow':>9} | "
          f"{'scipy dinic':>11}  (— = not installed / skipped; scipy needs int32 capacities)")
    for kind, n in cases:
        g = synthetic(n, kind)
        net = ds.flow_network(ds.make_instance(g, **SYNTH))
        fin = np.isfinite(net.capacity_s)
        cap = np.zeros(net.n_arcs, dtype=np.int64)   # 2^48-sum budget: exact in every code
        cap[fin] = np.floor(net.capacity_s[fin] * (2.0 ** 48 / net.capacity_s[fin].sum()))
        cap[~fin] = int(cap.sum()) + 1
        ref = []

        def ortools():
            from ortools.graph.python import max_flow
            mf = max_flow.SimpleMaxFlow()
            mf.add_arcs_with_capacity(net.tail, net.head, cap)
            mf.solve(net.s, net.t)
            return mf.optimal_flow()

        def igraph_():
            import igraph as ig
            G = ig.Graph(n=net.n_nodes, edges=np.stack([net.tail, net.head], 1), directed=True)
            return G.maxflow_value(net.s, net.t, capacity=cap.astype(float).tolist())

        def bk():
            import maxflow
            inner = (net.tail != net.s) & (net.head != net.t)
            idx = np.cumsum(np.isin(np.arange(net.n_nodes), [net.s, net.t], invert=True)) - 1
            G = maxflow.GraphFloat()
            G.add_nodes(net.n_nodes - 2)
            G.add_edges(idx[net.tail[inner]], idx[net.head[inner]], cap[inner].astype(float),
                        np.zeros(int(inner.sum())))
            src_c = np.zeros(net.n_nodes - 2)
            snk_c = np.zeros(net.n_nodes - 2)
            a = net.tail == net.s
            np.add.at(src_c, idx[net.head[a]], cap[a].astype(float))
            b = net.head == net.t
            np.add.at(snk_c, idx[net.tail[b]], cap[b].astype(float))
            G.add_grid_tedges(np.arange(net.n_nodes - 2), src_c, snk_c)
            return G.maxflow()

        def scipy_():
            from scipy.sparse import csr_matrix
            from scipy.sparse.csgraph import maximum_flow
            c32 = np.minimum(cap, 2 ** 31 - 1).astype(np.int32)
            A = csr_matrix((c32, (net.tail, net.head)), shape=(net.n_nodes, net.n_nodes))
            return maximum_flow(A, net.s, net.t, method="dinic").flow_value

        cells = []
        for name, f, ok in (("ortools", ortools, True), ("igraph", igraph_, have["igraph"] and n <= 10**5),
                            ("bk", bk, have["maxflow"]), ("scipy", scipy_, True)):
            if not ok:
                cells.append(None)
                continue
            t, v = median_time(f, 3 if n < 10**6 else 1)
            ref.append((name, v))
            cells.append(t)
        agree = len({round(float(v)) for _, v in ref if _ != "scipy"}) == 1
        print(f"{kind:>6} | {n:9d} | {ms(cells[0])} | {ms(cells[1])} | {ms(cells[2])} | {ms(cells[3]):>11}"
              f"  values agree: {agree}")


# --------------------------------------------------------------------------- B2
def _varied(g, params, k: int = 8):
    """k instances of one graph whose link rates differ (x0.8 ... x1.25): each timed call gets
    new delays, so the warm path is the one the dynamic study uses (structure cached, delays
    new)."""
    return [ds.make_instance(g, **dict(params, uplink_bps=params["uplink_bps"] * f,
                                       downlink_bps=params["downlink_bps"] * f))
            for f in np.geomspace(0.8, 1.25, k)]


def _cycling(f, insts):
    """f applied to the next instance of ``insts`` on every call."""
    it = iter(range(10 ** 9))
    return lambda: f(insts[next(it) % len(insts)])


def section_b2(repeats: int, block_sizes: list[int]) -> None:
    print("\n## 4. B2 (warm: decomposition and network cached, new delays on every call: link "
          "rates x0.8-1.25 in turn) vs A (median ms)")
    print(f"{'model':20s} | {'layers':>7} | {'A':>9} | {'B2':>9} | {'A/B2':>6} | "
          f"{'B2 blocks':>9} | {'A/blocks':>8} | B2 path")
    worst = np.inf
    for name in shipped():
        g = load_shipped(name)
        insts = _varied(g, PARAMS)
        for inst in insts:
            ds.algorithm_b2(inst), ds.algorithm_b2(inst, min_layers=0), ds.algorithm_a(inst)
        (t_a, (xa, _)), (t_b, (xb, _, info)), (t_k, (xk, _, _)) = interleaved(
            [_cycling(ds.algorithm_a, insts), _cycling(ds.algorithm_b2, insts),
             _cycling(lambda i: ds.algorithm_b2(i, min_layers=0), insts)], repeats * 5)
        for inst in insts[:2]:
            xa, xb, xk = (ds.algorithm_a(inst)[0], ds.algorithm_b2(inst)[0],
                          ds.algorithm_b2(inst, min_layers=0)[0])
            assert ds.exact_delay(inst, xa) == ds.exact_delay(inst, xb) == ds.exact_delay(inst, xk)
        worst = min(worst, t_a / t_b)
        print(f"{name:20s} | {g.n:7d} | {ms(t_a)} | {ms(t_b)} | {t_a / t_b:5.2f}x | {ms(t_k)} | "
              f"{t_a / t_k:7.2f}x | {'A (small graph)' if info['fallback'] else 'blocks'}")
    print(f"shipped profiles: min A/B2 = {worst:.2f} (target >= 1, i.e. B2 <= A; ratios of two "
          "calls of the same A within timing noise read about 1)")
    print(f"{'block model':20s} | {'layers':>7} | {'|D*|':>7} | {'A':>9} | {'B2':>9} | {'A/B2':>6} | "
          "subproblems")
    for label, params in BLOCK_CLASSES.items():
        for nb in block_sizes:
            g = ds.block_model(nb)
            insts = _varied(g, params)
            for inst in insts:
                ds.algorithm_b2(inst), ds.algorithm_a(inst)
            (t_a, _), (t_b, (_, _, info)) = interleaved(
                [_cycling(ds.algorithm_a, insts), _cycling(ds.algorithm_b2, insts)], repeats)
            xa, xb = ds.algorithm_a(insts[0])[0], ds.algorithm_b2(insts[0])[0]
            assert ds.exact_delay(insts[0], xa) == ds.exact_delay(insts[0], xb)
            print(f"{label:20s} | {g.n:7d} | {int(xa.sum()):7d} | {ms(t_a)} | {ms(t_b)} | "
                  f"{t_a / t_b:5.1f}x | {info['n_subproblems']}/{info['n_units']}")
    print("target: A/B2 >= 10 on the 10^5-layer block model")


def section_dynamic(n_slots: int) -> None:
    print(f"\n## 5. Dynamic study: re-split time per slot (same graph, new R_up, R_dn, f_dev; "
          f"{n_slots} slots, mean ms)")
    cases = [(name, load_shipped(name), PARAMS) for name in ("resnet50", "googlenet", "gpt2")
             if name in shipped()]
    cases.append(("block_model 10^5", ds.block_model(33333), BLOCK))
    for name, g, params in cases:
        _, summ = ds.dynamic_study(g, n_slots=n_slots, seed=0, methods=("a", "b2"), **params)
        row = dict(zip(summ["method"], summ["mean_t_alg_s"]))
        print(f"{name:20s} | layers {g.n:7d} | A {ms(row['a'])} | B2 {ms(row['b2'])}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="10^5 layers at most")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--sections", default="1,2,3,4,5", help="comma-separated section numbers")
    args = ap.parse_args()
    run = {int(k) for k in args.sections.split(",")}
    sizes = [10**5] if args.quick else [10**5, 10**6]
    warm = ds.make_instance(load_shipped("chain"))
    ds.algorithm_a(warm), ds.algorithm_a(warm, "networkx")
    if 1 in run:
        section_a(sizes, args.repeats, sizes)
    if 2 in run:
        section_profile(sizes[-1])
        section_profile(10**5, "hetero")
    if 3 in run:
        section_maxflow([("flop", n) for n in sizes] + [("hetero", 10**5)])
    if 4 in run:
        section_b2(args.repeats, [300, 3000, 33333])
    if 5 in run:
        section_dynamic(20 if args.quick else 50)


if __name__ == "__main__":
    main()
