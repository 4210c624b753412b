"""Problem parameters: each problem's declared table (``PARAMS``), validated once at ``load()``.

A seeded fuzz over every problem's keys (wrong types bool / str / None / list / dict, NaN / inf /
negative / huge, floats for integers, unknown and misspelt keys): every outcome is an instance
that builds or a SloptError naming the key and the value, never another exception. CI runs a fixed
example set (derandomized); ``SLOPT_FULL=1`` runs more. Plus: former names keep working with a
DeprecationWarning, the schemas are registered, and ``--set`` with a misspelt key exits 2 with
"did you mean".
"""

from __future__ import annotations

import importlib
import math
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slopt.errors import SloptError
from slopt.params import ALIASES, VOCABULARY, Param
from slopt.problems import get

from conftest import FULL

N = 2000 if FULL else 80          # examples per problem (5 problems: 10,000 under SLOPT_FULL=1)
FUZZ = settings(max_examples=N, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                database=None)

#: A small, fast base instance of each problem (load only; nothing is solved here).
BASE: dict[str, dict[str, Any]] = {
    "card": {"rounds": 2, "n_devices": 2},
    "dag-split": {},
    "gsfl": {"n_devices": 4, "n_edges": 2},
    "sft": {"n_devices": 2, "H": 2, "n_slots": 2, "n_blocks": 4},
    "three-tier": {"seed": 0, "n_devices": 3, "n_edges": 2},
}
MODULES = {"card": "card", "dag-split": "dag_split", "gsfl": "gsfl", "sft": "sft", "three-tier": "three_tier"}

ODD: list[Any] = [True, False, None, "12", "", "é漢", [], [1, 2], [2, 1], [[1.0]], {"a": 1}, (0.5, 2.0),
                  math.nan, math.inf, -math.inf, -1, -0.5, 0, 0.5, 1.5, 2.0, 3, 7, 1e308, -1e308, 1e-308,
                  2**70, 1j, "weighted", "q", ["q", "v"], [0, 1], ["a", 0]]


def table(problem: str) -> dict[str, Param]:
    return importlib.import_module(f"slopt.models.{MODULES[problem]}.instance").PARAMS


def _valid(p: Param, draw: Any) -> Any:
    """A value inside the declared range (to exercise acceptance, not only refusal)."""
    lo = p.lo if p.lo is not None else -10.0
    hi = p.hi if p.hi is not None else lo + 1e3
    if p.kind == "int":
        return draw(st.integers(int(math.ceil(lo)) + (1 if p.lo_open else 0), int(min(hi, lo + 12))))
    if p.kind in ("float", "floats"):
        return draw(st.floats(max(lo, 1e-3) if p.lo_open or lo >= 0 else lo, hi, allow_nan=False))
    if p.kind == "bool":
        return draw(st.booleans())
    if p.kind == "choice":
        return draw(st.sampled_from(p.choices))
    if p.kind == "range":
        a = draw(st.floats(max(lo, 1e-3), hi, allow_nan=False))
        return [a, a * draw(st.floats(1.0, 4.0))]
    if p.kind == "strs" and p.choices:
        return draw(st.lists(st.sampled_from(p.choices), min_size=1, max_size=3, unique=True))
    return p.default


def _names_value(msg: str, value: Any) -> bool:
    forms = {repr(value), str(value)}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        for f in ("g", ".3g", ".4g", ".6g", ".12g"):
            try:
                forms.add(format(value, f))
            except (TypeError, ValueError):
                pass
        if float(value) == int(value) if math.isfinite(float(value)) else False:
            forms.add(str(int(value)))
    if isinstance(value, (list, tuple)):
        forms |= {repr(v) for v in value} | {str(v) for v in value}
    return any(f and f in msg for f in forms)


def _outcome(problem: str, key: str, value: Any, params: dict[str, Any], unknown: bool = False) -> None:
    P = get(problem)
    declared = not unknown
    if declared:     # is the value itself inside the declared type and range?
        try:
            importlib.import_module(f"slopt.models.{MODULES[problem]}.instance").TABLE.check({key: value})
        except SloptError:
            declared = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inst = P.load(None, None, **params)
    except SloptError as exc:
        msg = str(exc)
        if declared:       # a declared value the instance as a whole cannot meet: the error names its field
            assert key in msg or getattr(exc, "field", None) or getattr(exc, "constraint", None), (key, value, msg)
            return
        assert key in msg, (key, value, msg)
        if unknown:
            assert "accepted:" in msg, msg
        else:
            assert _names_value(msg, value), (key, value, msg)
        return
    assert inst is not None


def _fuzz(problem: str) -> Any:
    @FUZZ
    @given(data=st.data())
    def run(data: Any) -> None:
        keys = sorted(table(problem))
        kind = data.draw(st.sampled_from(["odd", "odd", "odd", "valid", "valid", "unknown", "misspelt"]))
        key = data.draw(st.sampled_from(keys))
        params = dict(BASE[problem])
        if kind == "unknown":
            key, value = "zz_not_a_key", 1
        elif kind == "misspelt":
            key, value = key[:-1] + ("x" if key[-1] != "x" else "y"), params.get(key, 1)
        elif kind == "valid":
            value = _valid(table(problem)[key], data.draw)
        else:
            value = data.draw(st.sampled_from(ODD))
        params[key] = value
        _outcome(problem, key, value, params, kind in ("unknown", "misspelt"))

    return run


test_fuzz_card = _fuzz("card")
test_fuzz_dag_split = _fuzz("dag-split")
test_fuzz_gsfl = _fuzz("gsfl")
test_fuzz_sft = _fuzz("sft")
test_fuzz_three_tier = _fuzz("three-tier")


# ------------------------------------------------------------------ the tables themselves
@pytest.mark.parametrize("problem", sorted(BASE))
def test_table_declares_every_key_with_its_unit_and_vocabulary(problem: str) -> None:
    t = table(problem)
    assert len(t) >= 10
    for name, p in t.items():
        assert p.description, name
        if name in VOCABULARY:       # a shared concept keeps the vocabulary's unit
            assert p.unit == VOCABULARY[name].unit, name
    for old, new in ALIASES.get(problem, {}).items():
        assert new in t and old not in t, (old, new)
    # the declared defaults are accepted by the table itself
    mod = importlib.import_module(f"slopt.models.{MODULES[problem]}.instance")
    defaults = {k: p.default for k, p in t.items() if p.default is not None}
    assert mod.TABLE.check(defaults).keys() >= {mod.TABLE.internal.get(k, k) for k in defaults}


def test_schemas_are_registered_and_list_the_keys() -> None:
    from slopt.schema import schemas

    reg = schemas()
    for problem in BASE:
        props = reg[problem].model_json_schema()["properties"]
        assert set(props) == set(table(problem)), problem
    assert reg["card"].model_json_schema()["properties"]["rounds"]["minimum"] == 1


@pytest.mark.parametrize("problem,old,new,value", [
    ("gsfl", "n_clients", "n_devices", 5), ("gsfl", "client_flops", "device_flops", [1e9, 2e9]),
    ("gsfl", "client_power_w", "device_tx_power_w", 0.1), ("gsfl", "ap_power_w", "server_tx_power_w", 2.0),
    ("gsfl", "client_memory_bytes", "device_memory_bytes", 1e12),
    ("three-tier", "n_users", "n_devices", 4), ("three-tier", "user_memory_bytes", "device_memory_bytes", 8 * 2**30),
])
def test_former_names_warn_and_build_the_same_instance(problem: str, old: str, new: str, value: Any) -> None:
    P = get(problem)
    base = dict(BASE[problem])
    base.pop(new, None)
    with pytest.warns(DeprecationWarning, match=f"'{old}' is now '{new}'"):
        a = P.load(None, None, **base, **{old: value})
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        b = P.load(None, None, **base, **{new: value})
    for f in ("client_flops", "client_power_w", "ap_power_w", "client_memory_bytes", "user_flops",
              "user_memory_bytes", "gain"):
        if hasattr(a, f):
            assert repr(getattr(a, f)) == repr(getattr(b, f)), f
    assert (a.N if hasattr(a, "N") else None) == (b.N if hasattr(b, "N") else None)
    with pytest.raises(SloptError, match=f"both '{old}' and its new name '{new}'"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        P.load(None, None, **base, **{old: value, new: value})


def test_gsfl_former_uplink_key_keeps_its_uplink_only_meaning() -> None:
    P = get("gsfl")
    with pytest.warns(DeprecationWarning, match="'uplink_bandwidth_hz' is now 'bandwidth_hz'"):
        old = P.load(None, None, n_devices=4, n_edges=2, uplink_bandwidth_hz=5e6)
    new = P.load(None, None, n_devices=4, n_edges=2, bandwidth_hz=5e6, downlink_bandwidth_hz=20e6)
    assert old.uplink_bandwidth_hz == new.uplink_bandwidth_hz == 5e6
    assert old.downlink_bandwidth_hz == new.downlink_bandwidth_hz == 20e6


def test_unknown_key_suggests_the_new_name_of_a_former_one() -> None:
    with pytest.raises(SloptError, match="did you mean 'n_devices'"):
        get("three-tier").load(None, None, n_user=3)
    with pytest.raises(SloptError, match=r"did you mean 'uplink_bps'\?.*accepted: .*downlink_bps"):
        get("dag-split").load(None, None, upllink_bps=1e9)


def test_cli_misspelt_key_exits_2_with_did_you_mean() -> None:
    from typer.testing import CliRunner

    from slopt.cli import app

    r = CliRunner().invoke(app, ["solve", "dag-split", "--set", "upllink_bps=1e9"])
    assert r.exit_code == 2, r.output
    out = " ".join(r.output.split())
    assert "did you mean 'uplink_bps'" in out and "Traceback" not in r.output
    r = CliRunner().invoke(app, ["solve", "dag-split", "--set", "uplink_bps=true"])
    assert r.exit_code == 2 and "uplink_bps" in r.output


# ------------------------------------------------------------------ load() takes objects
@pytest.mark.parametrize("problem", sorted(BASE))
def test_load_takes_a_scenario_object(problem: str, tmp_path: Any) -> None:
    from slopt.scenarios import Scenario, write

    P = get(problem)
    sc = Scenario.random(seed=1, n_devices=3, n_edges=2, cloud=True)
    params = {k: v for k, v in BASE[problem].items() if k in ("H", "n_slots", "n_blocks", "rounds")}
    a = P.load(None, sc, **params)
    path = tmp_path / "s.yaml"
    write(sc, path)
    b = P.load(None, str(path), **params)
    assert type(a) is type(b)
    with pytest.raises(SloptError, match="scenario"):
        P.load(None, 12, **params)


@pytest.mark.parametrize("problem,profile", [("card", "tiny-chain"), ("dag-split", "tiny-chain"),
                                             ("gsfl", "tiny-chain"), ("sft", "vit-tiny"),
                                             ("three-tier", "gpt2-tiny")])
def test_load_takes_a_modelgraph_object(problem: str, profile: str) -> None:
    from slopt.profiles import ModelGraph
    from slopt.profiles.transformer import transformer

    P = get(problem)
    if profile == "tiny-chain":
        g = transformer("gpt2-tiny", seq_len=16, lora_rank=4)
    else:
        g = transformer(profile, seq_len=None if profile.startswith("vit") else 32, lora_rank=4)
    params = dict(BASE[problem])
    if problem == "sft":
        params.pop("n_blocks")
    inst = P.load(g, None, **params)
    assert inst is not None
    if problem in ("sft", "three-tier"):     # the architecture of the graph, like its preset name
        by_name = P.load(profile, None, **params)
        assert repr(getattr(inst, "cfg", None)) == repr(getattr(by_name, "cfg", None))
        assert getattr(inst, "L", None) == getattr(by_name, "L", None)
        bare = ModelGraph.chain(forward_flop=[1.0, 2.0, 3.0], backward_flop=[2.0, 4.0, 6.0],
                                param_bytes=[1.0, 1.0, 1.0], activation_bytes=[4.0, 4.0, 4.0])
        with pytest.raises(SloptError, match="transformer"):
            P.load(bare, None, **params)


def test_make_instance_goes_through_the_table() -> None:
    """dag-split and CARD's make_instance check their keywords with the same declared table as
    load() and --set (gsfl's make_instance takes per-client arrays under its own names and checks
    them itself; sft and three-tier build from a scenario object only)."""
    from slopt.errors import ValidationError
    from slopt.models import card, dag_split
    from slopt.profiles import read
    from slopt.scenarios import Scenario

    g = read("resnet18")
    for kw, key in (({"uplink_bps": True}, "uplink_bps"), ({"batch": float("nan")}, "batch"),
                    ({"device_flops": -1.0}, "device_flops")):
        with pytest.raises(ValidationError, match=f"make_instance: {key} = "):
            dag_split.make_instance(g, **kw)
    from slopt.profiles import ModelGraph

    chain = ModelGraph.chain(forward_flop=[1e9, 1e9], backward_flop=[2e9, 2e9], param_bytes=[1e6, 1e6],
                             activation_bytes=[1e5, 1e5])
    sc = Scenario.random(0, n_devices=2)
    for kw, key in (({"rounds": True}, "rounds"), ({"omega_E": -1.0}, "omega_E"), ({"kappa": math.inf}, "kappa")):
        with pytest.raises(ValidationError, match=f"make_instance: {key} = "):
            card.make_instance(chain, sc, **kw)
