"""ModelGraph: construction, validation at the door (each error names the field), JSON form."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slopt.errors import ValidationError
from slopt.profiles import ModelGraph, from_dict, read, shipped, to_dict, write
from slopt.profiles import synthetic


def cols(n: int, **over: object) -> dict:
    base = dict(forward_flop=np.ones(n), backward_flop=np.ones(n), param_bytes=np.ones(n),
                activation_bytes=np.ones(n))
    base.update(over)
    return base


def test_chain_basics() -> None:
    g = ModelGraph.chain(**cols(4), names=list("abcd"))
    assert (g.n, g.m, g.is_chain) == (4, 3, True)
    assert g.inputs.tolist() == [0] and g.outputs.tolist() == [3]
    assert g.successors("b").tolist() == [2] and g.predecessors("c").tolist() == [1]
    assert g.topological_order.tolist() == [0, 1, 2, 3]
    assert np.array_equal(g.trainable_param_bytes, g.param_bytes)
    assert np.array_equal(g.gradient_bytes, g.activation_bytes)


def test_unsorted_dag_topological_order() -> None:
    g = ModelGraph(**cols(4), src=[3, 3, 1], dst=[1, 2, 0])
    order = g.topological_order.tolist()
    pos = {v: i for i, v in enumerate(order)}
    assert all(pos[u] < pos[w] for u, w in zip(g.src, g.dst))
    assert not g.is_chain or g.m == 3


@pytest.mark.parametrize("field", ["forward_flop", "backward_flop", "param_bytes", "activation_bytes"])
@pytest.mark.parametrize("bad,word", [(-1.0, "negative"), (np.nan, "NaN"), (np.inf, "infinite")])
def test_bad_figures_name_field_vertex_value(field: str, bad: float, word: str) -> None:
    arr = np.ones(3)
    arr[1] = bad
    with pytest.raises(ValidationError) as e:
        ModelGraph.chain(**cols(3, **{field: arr}), names=["in", "conv", "out"])
    msg = str(e.value)
    assert field in msg and "'conv'" in msg and word in msg
    assert e.value.field == field


def test_cycle_is_shown() -> None:
    with pytest.raises(ValidationError, match=r"cycle: 'b' -> 'c' -> 'd' -> 'b'|cycle: 'c' -> 'd' -> 'b' -> 'c'|cycle: 'd' -> 'b' -> 'c' -> 'd'") as e:
        ModelGraph(**cols(4), names=list("abcd"), src=[0, 1, 2, 3], dst=[1, 2, 3, 1])
    assert e.value.field == "edges"


def test_self_loop_unknown_vertex_empty_duplicates() -> None:
    with pytest.raises(ValidationError, match="self-loop on vertex 'b'"):
        ModelGraph(**cols(2), names=["a", "b"], src=[0, 1], dst=[1, 1])
    with pytest.raises(ValidationError, match="unknown vertex index 7"):
        ModelGraph(**cols(2), src=[0], dst=[7])
    with pytest.raises(ValidationError, match="empty"):
        ModelGraph(**cols(0))
    with pytest.raises(ValidationError, match="duplicate vertex name 'a'"):
        ModelGraph.chain(**cols(3), names=["a", "b", "a"])
    with pytest.raises(ValidationError, match="trainable_param_bytes"):
        ModelGraph.chain(**cols(2, trainable_param_bytes=[2.0, 0.0]))
    with pytest.raises(ValidationError, match="backward_flop: expected 3 values"):
        ModelGraph.chain(**cols(3, backward_flop=[1.0, 2.0]))


def test_networkx_round_trip() -> None:
    g = synthetic.inception()
    G = g.to_networkx()
    h = ModelGraph.from_networkx(G)
    assert h.names == g.names
    assert np.allclose(h.forward_flop, g.forward_flop)
    assert sorted(G.edges) == sorted(h.to_networkx().edges)
    G2 = nx.DiGraph()
    G2.add_node("x", forward_flop=1.0)
    G2.add_node("y")
    with pytest.raises(ValidationError, match="forward_flop missing on vertex 'y'"):
        ModelGraph.from_networkx(G2)


def test_frames_round_trip() -> None:
    g = synthetic.residual_chain()
    h = ModelGraph.from_frames(g.to_frame(), g.edges_frame()[["src_name", "dst_name"]]
                               .rename(columns={"src_name": "src", "dst_name": "dst"}))
    assert h.names == g.names and np.array_equal(h.src, g.src) and list(h.block) == list(g.block)


def test_json_round_trip_and_shipped(tmp_path) -> None:
    g = synthetic.residual_chain()
    p = write(g, tmp_path / "r.json")
    h = read(p)
    assert h.names == g.names and np.array_equal(h.dst, g.dst)
    assert h.provenance == g.provenance and list(h.block) == list(g.block)
    for name in ("chain", "residual_chain", "inception"):
        assert name in shipped()
        assert read(name).provenance["tool"].startswith("slopt.profiles.synthetic")


def test_json_errors_name_file_and_field(tmp_path) -> None:
    p = tmp_path / "bad.json"
    text = json.dumps(to_dict(synthetic.chain()))
    p.write_text(text[: len(text) // 2])
    with pytest.raises(ValidationError, match="bad.json.*not valid JSON"):
        read(p)
    d = to_dict(synthetic.chain())
    del d["vertices"]["activation_bytes"]
    with pytest.raises(ValidationError, match="x.json: missing field 'vertices.activation_bytes'"):
        from_dict(d, source="x.json")
    d = to_dict(synthetic.chain())
    d["vertices"]["forward_flop"][2] = -5
    with pytest.raises(ValidationError, match=r"x.json: forward_flop of vertex 'conv2'"):
        from_dict(d, source="x.json")
    with pytest.raises(ValidationError, match="does not exist"):
        read(tmp_path / "nope.json")


def test_block_codes() -> None:
    g = synthetic.inception(n_blocks=2)
    codes, names = g.block_codes
    assert names == ["stem", "inc0", "inc1", "head"]
    assert codes.max() == 3 and (codes[g.index("inc1.concat")] == 2)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 30), st.floats(0, 1), st.integers(0, 10_000))
def test_random_dags_are_valid_and_ordered(n: int, p: float, seed: int) -> None:
    g = synthetic.random_dag(n, p, seed)
    assert g.inputs.size >= 1 and set(g.inputs.tolist()) == {0} | set(g.inputs.tolist())
    G = g.to_networkx()
    assert nx.is_directed_acyclic_graph(G)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)  # relabel: edges no longer go to higher indices
    inv = np.argsort(perm)
    h = ModelGraph(forward_flop=g.forward_flop[perm], backward_flop=g.backward_flop[perm],
                   param_bytes=g.param_bytes[perm], activation_bytes=g.activation_bytes[perm],
                   src=inv[g.src], dst=inv[g.dst])
    pos = np.empty(n, dtype=int)
    pos[h.topological_order] = np.arange(n)
    assert (pos[h.src] < pos[h.dst]).all()


def test_large_graph_loads_from_arrays() -> None:
    n = 200_000
    idx = np.arange(n - 1)
    g = ModelGraph(**cols(n), src=idx, dst=idx + 1)
    assert g.is_chain and g.n == n


def test_edge_list_errors() -> None:
    with pytest.raises(ValidationError, match="duplicate edge 'a' -> 'b'"):
        ModelGraph(**cols(2), names=["a", "b"], src=[0, 0], dst=[1, 1])
    with pytest.raises(ValidationError, match="src of edge 0 is 0.7"):
        ModelGraph(**cols(2), src=[0.7], dst=[1])
    G = nx.DiGraph()
    G.add_node("x", forward_flop=1.0, backward_flop=1.0, param_bytes=1.0, activation_byte=1.0)
    with pytest.raises(ValidationError, match="activation_bytes missing on every vertex"):
        ModelGraph.from_networkx(G)
