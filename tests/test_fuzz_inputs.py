"""Seeded fuzzing of every input door: each outcome is accepted-and-valid or a SloptError that
names the field (a key on the mutated path) or the file, never another exception and never a hang.

Doors: the profile file (dict and JSON text), ``ModelGraph`` from arrays, networkx and frames, the
scenario file (dict and YAML 1.2 text), the sweep spec (dict and YAML text), and the CLI's odd
values (``--time-limit``, ``--set``, unknown keys). Mutation classes: dropped keys, renamed
(misspelt) keys, wrong types (bool, str, complex, datetime, None, list, dict), NaN / inf /
negative / huge, non-integer and out-of-range indices, unicode, empty containers, deep nesting,
truncated text, YAML oddities (``.nan``, ``0x10``, ``1_000``, ``yes``/``no``, anchors, duplicate
keys). CI runs a fixed example set (derandomized); ``SLOPT_FULL=1`` runs more than 10,000 cases.
"""

from __future__ import annotations

import copy
import datetime
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slopt.errors import SloptError
from slopt.profiles import ModelGraph
from slopt.profiles.io import from_dict as profile_from_dict
from slopt.profiles.io import to_dict as profile_to_dict
from slopt.scenarios import Scenario
from slopt.sweep import SweepSpec

from conftest import FULL

N = 2500 if FULL else 120       # examples per door (6 doors of dict mutations + text doors)
FUZZ = settings(max_examples=N, deadline=5000, suppress_health_check=list(HealthCheck), derandomize=True,
                database=None)

ODD_VALUES: list[Any] = [True, False, None, "12", "", "inf", "nan", "é漢🙂", 1j, datetime.date(2020, 1, 1),
                         math.nan, math.inf, -math.inf, -1, -0.5, 0, 0.5, 1e308, -1e308, 1e-308, 2**70,
                         [], {}, [1, 2], {"a": 1}, [[[[[]]]]]]


def _profile_doc() -> dict[str, Any]:
    g = ModelGraph(forward_flop=[1e6, 2e6, 3e6, 1e6], backward_flop=[2e6, 4e6, 6e6, 2e6],
                   param_bytes=[1e3, 2e3, 0.0, 5e2], activation_bytes=[4e3, 2e3, 2e3, 1e2],
                   src=[0, 0, 1, 2], dst=[1, 2, 3, 3], names=["in", "a", "b", "out"], name="diamond")
    return profile_to_dict(g)


def _scenario_doc() -> dict[str, Any]:
    sc = Scenario.random(seed=3, n_devices=2, n_edges=1, cloud=True)
    return json.loads(json.dumps(sc.to_dict()))


def _sweep_doc() -> dict[str, Any]:
    return {"problem": "card", "methods": ["paper"], "grid": {"n_devices": [2, 3], "omega_E": [0.1, 1.0]},
            "seeds": {"start": 0, "count": 2}, "time_limit": 5, "output": "out", "format": "csv"}


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:6]):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(doc: Any, path: tuple, kind: str, value: Any) -> Any:
    doc = copy.deepcopy(doc)
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    key = path[-1]
    if kind == "drop" and isinstance(parent, dict):
        del parent[key]
    elif kind == "rename" and isinstance(parent, dict):
        parent[str(key)[:-1] + "x" if str(key) else "x"] = parent.pop(key)
    elif kind == "nest":
        parent[key] = [[[[[parent[key]]]]]]
    else:
        parent[key] = value
    return doc


mutations = st.tuples(st.sampled_from(["drop", "rename", "value", "value", "value", "nest"]),
                      st.sampled_from(ODD_VALUES), st.integers(0, 10**6))


def _check_outcome(fn: Any, doc: Any, path: tuple, validate_ok: Any = None) -> None:
    try:
        out = fn(doc)
    except SloptError as exc:
        msg = str(exc)
        names = [str(p) for p in path if isinstance(p, str)] + [str(p) for p in path if isinstance(p, int)]
        names += [str(path[-1])[:-1] + "x"] if isinstance(path[-1], str) else []   # a renamed key
        assert any(n in msg for n in names) or "file" in msg.lower(), (path, msg)
        return
    if validate_ok is not None:
        validate_ok(out)


def _door(doc_fn: Any, fn: Any, validate_ok: Any = None) -> Any:
    doc = doc_fn()
    paths = _paths(doc)

    @FUZZ
    @given(m=mutations)
    def run(m: tuple) -> None:
        kind, value, pick = m
        path = paths[pick % len(paths)]
        _check_outcome(fn, _mutate(doc, path, kind, value), path, validate_ok)

    return run


def _graph_ok(g: ModelGraph) -> None:
    assert isinstance(g, ModelGraph)
    g.validate()
    for c in ("forward_flop", "backward_flop", "param_bytes", "activation_bytes"):
        arr = g.column(c)
        assert np.isfinite(arr).all() and (arr >= 0).all()
    assert g.src.dtype.kind == "i" and ((g.src >= 0) & (g.src < g.n)).all()


def _scenario_ok(sc: Scenario) -> None:
    assert isinstance(sc, Scenario) and sc.devices and sc.servers
    for d in sc.devices:
        assert isinstance(d.compute_flops, float) and d.compute_flops > 0 and math.isfinite(d.compute_flops)
        assert d.position_m is None or all(isinstance(x, float) for x in d.position_m)


def _sweep_ok(sp: SweepSpec) -> None:
    assert isinstance(sp["problem"], str) and sp["methods"] and all(isinstance(s, int) for s in sp["seeds"])
    assert sp.get("time_limit") is None or sp["time_limit"] > 0


test_profile_dict = _door(_profile_doc, lambda d: profile_from_dict(d, "p.json"), _graph_ok)
test_scenario_dict = _door(_scenario_doc, lambda d: Scenario.from_dict(d, "s.yaml"), _scenario_ok)
test_sweep_dict = _door(_sweep_doc, SweepSpec.load, _sweep_ok)


def _graph_from_arrays(doc: dict[str, Any]) -> ModelGraph:
    import inspect

    cols, edges = doc.get("vertices"), doc.get("edges")
    if not isinstance(cols, dict) or not isinstance(edges, dict):
        raise SloptError("file: the harness needs vertices and edges mappings")   # not a door of slopt
    known = set(inspect.signature(ModelGraph).parameters)
    kw = {k: v for k, v in cols.items() if k != "name"}
    required = {"forward_flop", "backward_flop", "param_bytes", "activation_bytes"}
    if not set(kw) <= known or not required <= set(kw):
        raise SloptError("file: Python itself rejects these keyword arguments")   # a TypeError by the language
    return ModelGraph(**kw, src=edges.get("src", ()), dst=edges.get("dst", ()), names=cols.get("name"))


def _arrays_doc() -> dict[str, Any]:
    d = _profile_doc()
    return {"vertices": {k: v for k, v in d["vertices"].items()}, "edges": d["edges"]}


test_graph_arrays = _door(_arrays_doc, _graph_from_arrays, _graph_ok)


def _frames(doc: dict[str, Any]) -> ModelGraph:
    v = doc.get("vertices")
    if not isinstance(v, dict) or not isinstance(doc.get("edges"), dict):
        raise SloptError("file: the harness needs vertices and edges mappings")
    try:
        vertices = pd.DataFrame(v)
        edges = pd.DataFrame(doc["edges"])
    except (ValueError, TypeError) as exc:   # pandas refuses ragged columns before slopt sees them
        raise SloptError(f"file: frames {exc}") from None
    return ModelGraph.from_frames(vertices, edges)


test_graph_frames = _door(_arrays_doc, _frames, _graph_ok)


def _networkx(doc: dict[str, Any]) -> ModelGraph:
    import networkx as nx

    v = doc.get("vertices")
    if not isinstance(v, dict) or not isinstance(doc.get("edges"), dict):
        raise SloptError("file: the harness needs vertices and edges mappings")
    G = nx.DiGraph()
    names = v.get("name") if isinstance(v.get("name"), list) else None
    n = len(v["forward_flop"]) if isinstance(v.get("forward_flop"), list) else 0
    for i in range(n):
        attrs = {k: col[i] for k, col in v.items() if k != "name" and isinstance(col, list) and i < len(col)}
        G.add_node(names[i] if names and i < len(names) and isinstance(names[i], str) else i, **attrs)
    nodes = list(G.nodes)
    src, dst = doc["edges"].get("src"), doc["edges"].get("dst")
    for s, d in zip(src if isinstance(src, list) else [], dst if isinstance(dst, list) else []):
        if isinstance(s, int) and isinstance(d, int) and 0 <= s < n and 0 <= d < n:
            G.add_edge(nodes[s], nodes[d])
    if n == 0:
        raise SloptError("file: forward_flop: no vertex")
    return ModelGraph.from_networkx(G)


test_graph_networkx = _door(_arrays_doc, _networkx, _graph_ok)


# ------------------------------------------------------------------ text doors
YAML_ODDITIES = [".nan", ".inf", "-.inf", "0x10", "0o17", "1_000", "yes", "no", "on", "off", "~", "null",
                 "'5e11'", "5.0e6", "1e400", "2020-01-01", "&a 1", "*a", "[1, 2", "{a: 1", "!!python/none",
                 "\"\\u00e9\"", "-0", "+1", "0b101"]


@FUZZ
@given(field=st.sampled_from(["compute_flops", "memory_bytes", "distance_m", "n_samples", "tx_power_w",
                              "position_m", "name", "unknown_field"]),
       odd=st.sampled_from(YAML_ODDITIES), dup=st.booleans())
def test_scenario_yaml_text(tmp_path_factory: Any, field: str, odd: str, dup: bool) -> None:
    from slopt.scenarios import read

    p = tmp_path_factory.mktemp("s") / "s.yaml"
    extra = f"\n    {field}: {odd}" + (f"\n    {field}: 1" if dup else "")
    p.write_text("devices:\n  - name: d0\n    compute_flops: 1.0e11" + (extra if field != "compute_flops" else
                 f"\n    memory_bytes: inf") + ("" if field != "compute_flops" else f"\n    {field}: {odd}") +
                 "\nservers:\n  - {name: e0, compute_flops: 1.0e13}\nchannel: {uplink_bandwidth_hz: 2.0e7}\n")
    try:
        sc = read(p)
    except SloptError as exc:
        assert field in str(exc) or "s.yaml" in str(exc), str(exc)
        return
    _scenario_ok(sc)


@FUZZ
@given(cut=st.integers(0, 10**6))
def test_profile_truncated_text(tmp_path_factory: Any, cut: int) -> None:
    from slopt.profiles import read

    text = json.dumps(_profile_doc())
    p = tmp_path_factory.mktemp("p") / "p.json"
    p.write_text(text[: cut % len(text)])
    with pytest.raises(SloptError, match="p.json"):
        read(p)


def test_deep_nesting_is_a_clear_error(tmp_path: Any) -> None:
    from slopt.profiles import read as read_profile
    from slopt.scenarios import read as read_scenario

    p = tmp_path / "deep.json"
    p.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SloptError, match="deep.json"):
        read_profile(p)
    q = tmp_path / "deep.yaml"
    q.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(SloptError, match="deep.yaml"):
        read_scenario(q)


def test_yaml_12_numbers() -> None:
    from slopt.schema import load_yaml

    d = load_yaml("a: 5.0e6\nb: 1e7\nc: 0x10\nd: yes\ne: 1_000\nf: .nan\ng: -.inf\nh: on\n")
    assert d["a"] == 5.0e6 and isinstance(d["a"], float) and d["b"] == 1e7 and isinstance(d["b"], float)
    assert d["c"] == 16 and d["d"] == "yes" and d["e"] == "1_000" and d["h"] == "on"
    assert math.isnan(d["f"]) and d["g"] == -math.inf
    with pytest.raises(SloptError, match="duplicate key 'a'"):
        load_yaml("a: 1\na: 2\n")
