"""Problem parameters: one declared table per problem, one vocabulary for the shared concepts.

Each problem declares the keys that ``slopt solve PROBLEM --set key=value`` and
``load(**params)`` accept as a table of :class:`Param` (type, default, unit and description, the
source of the default). :func:`params_model` turns the table into a strict pydantic model, so every
entry point validates the same way: no bool where a number is wanted, no float where an integer is,
no NaN, infinity or negative value where the unit forbids it, no unknown key (with "did you mean"
and the accepted keys). ``slopt schema <problem>`` prints the model's JSON Schema.

The shared concepts have one name across the five problems (:data:`VOCABULARY`, documented in
``docs/conventions.md``); a problem's own symbols keep the spec's names. A former per-problem
name (``n_clients``, ``n_users``, ...) listed in :data:`ALIASES` keeps working for one release
with a ``DeprecationWarning`` naming the new key.
"""

from __future__ import annotations

import difflib
import math
import warnings
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal, Optional, Union

import numpy as np

from pydantic import BaseModel, ConfigDict, create_model
from pydantic import Field as PField
from pydantic.functional_validators import AfterValidator, BeforeValidator

from slopt.errors import ValidationError
from slopt.schema import validate

__all__ = ["Param", "VOCABULARY", "ALIASES", "params_model", "check_params", "rename_aliases", "ParamTable",
           "scenario_arg", "profile_arg", "transformer_config"]


def _plain(x: Any) -> Any:
    """numpy scalars and arrays as Python numbers and lists (a numpy bool stays a bool)."""
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


def _no_bool(x: Any) -> Any:
    x = _plain(x)
    if isinstance(x, bool):
        raise ValueError("a number is required, not a bool")
    if isinstance(x, float) and math.isnan(x):
        raise ValueError("NaN is not allowed")
    return x


def _ordered(x: Any) -> Any:
    if isinstance(x, list) and len(x) == 2 and x[0] > x[1]:
        raise ValueError(f"a range [lo, hi] needs lo <= hi, got [{x[0]!r}, {x[1]!r}]")
    return x


def _finite_array(x: Any) -> Any:
    """Nested lists (or an array) of numbers, as a 1-D or 2-D float array (the problem checks the shape
    and the values element by element, so its error names the element)."""
    x = _plain(x)
    if isinstance(x, (bool, str, bytes, dict)) or x is None:
        raise ValueError("an array of numbers is required")
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"an array of numbers is required ({exc})") from None
    flat = np.asarray(x, dtype=object).ravel() if arr.size else ()
    if any(isinstance(v, (bool, np.bool_)) for v in flat):
        raise ValueError("an array of numbers is required, not of bools")
    if arr.ndim not in (1, 2):
        raise ValueError(f"a 1-D or 2-D array of numbers is required, got {arr.ndim} dimension(s)")
    if arr.size == 0:
        raise ValueError("a non-empty array of numbers is required")
    return arr


def _as_list(x: Any) -> Any:
    x = _plain(x)
    return list(x) if isinstance(x, tuple) else x


@dataclass(frozen=True)
class Param:
    """One parameter of a problem.

    kind : ``"float"``, ``"int"``, ``"bool"``, ``"str"``, ``"choice"``, ``"range"`` (a pair lo <= hi),
        ``"floats"`` (a number or a list of numbers, one per device), ``"span"`` (a number or a
        range [lo, hi] drawn uniformly), ``"ints"`` (an integer or a
        list of integers), ``"strs"`` (a string or a list of strings, each in ``choices`` when
        given), ``"layers"`` (layer names or indices, or a boolean mask), ``"array"`` (a 1-D or 2-D
        nested list of numbers; shape and values checked element by element by the problem), ``"any"`` (checked by the problem itself)
    unit : the unit (``"s"``, ``"bit/s"``, ``"Hz"``, ``"W"``, ``"bytes"``, ``"FLOP/s"``, ``""``)
    lo, hi : bounds (``lo_open``: strict lower bound); ``allow_inf``: infinity allowed (capacities)
    choices : the values of a ``"choice"`` (or of each element of ``"strs"``)
    length : the exact length of a list (``"ints"``/``"floats"``: then a list is required)
    default : the default (``None``: the problem's own default, from its instance module)
    source : where the default comes from (spec section, paper table, standard)
    nullable : None is a value of its own (e.g. "off", "unconstrained"); otherwise None is refused
    """

    kind: str
    description: str
    unit: str = ""
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    allow_inf: bool = False
    choices: tuple[Any, ...] = ()
    default: Any = None
    source: str = ""
    nullable: bool = True
    length: int | None = None

    def annotation(self) -> Any:
        num: dict[str, Any] = {} if self.allow_inf else {"allow_inf_nan": False}   # NaN: refused by _no_bool
        if self.lo is not None:
            num["gt" if self.lo_open else "ge"] = self.lo
        if self.hi is not None:
            num["le"] = self.hi
        ibound = {k: v for k, v in num.items() if k != "allow_inf_nan"}
        # constraints first, validators after: the JSON Schema then shows minimum / maximum
        fnum = Annotated[float, PField(strict=False, **num), BeforeValidator(_no_bool)]
        inum = Annotated[int, PField(strict=True, **ibound), BeforeValidator(_no_bool)]
        lst = {"min_length": self.length, "max_length": self.length} if self.length else {"min_length": 1}
        if self.kind == "float":
            t: Any = fnum
        elif self.kind == "int":
            t = inum
        elif self.kind == "bool":
            t = Annotated[bool, PField(strict=True), BeforeValidator(_plain)]
        elif self.kind == "str":
            t = Annotated[str, PField(strict=True)]
        elif self.kind == "choice":
            t = Literal[self.choices]  # type: ignore[valid-type]
        elif self.kind == "range":
            t = Annotated[list[fnum], PField(min_length=2, max_length=2), BeforeValidator(_as_list),  # type: ignore[valid-type]
                          AfterValidator(_ordered)]
        elif self.kind == "span":
            rng = Annotated[list[fnum], PField(min_length=2, max_length=2), BeforeValidator(_as_list),  # type: ignore[valid-type]
                            AfterValidator(_ordered)]
            t = Union[fnum, rng]  # type: ignore[valid-type]
        elif self.kind in ("floats", "ints"):
            one = fnum if self.kind == "floats" else inum
            many = Annotated[list[one], PField(**lst), BeforeValidator(_as_list)]  # type: ignore[valid-type]
            t = many if self.length else Union[one, many]  # type: ignore[valid-type]
        elif self.kind == "strs":
            one_s: Any = Literal[self.choices] if self.choices else Annotated[str, PField(strict=True)]  # type: ignore[valid-type]
            t = Union[one_s, Annotated[list[one_s], PField(min_length=1), BeforeValidator(_as_list)]]  # type: ignore[valid-type]
        elif self.kind == "layers":
            idx = Annotated[int, PField(strict=True, ge=0), BeforeValidator(_no_bool)]
            name = Annotated[str, PField(strict=True)]
            mask = Annotated[bool, PField(strict=True)]
            t = Union[name, idx, Annotated[list[Union[name, idx]], BeforeValidator(_as_list)],  # type: ignore[valid-type]
                      Annotated[list[mask], BeforeValidator(_as_list)]]
        elif self.kind == "array":
            t = Annotated[Any, BeforeValidator(_finite_array)]
        else:
            t = Any
        return Optional[t] if self.nullable else t

    def like(self, **changes: Any) -> "Param":
        """This parameter with some attributes changed (a problem's default, source or narrower kind)."""
        return replace(self, **changes)


#: The shared concepts: one name, one unit, one meaning in every problem.
VOCABULARY: dict[str, Param] = {
    "n_devices": Param("int", "number of devices (clients, users); at most 10^6 (per-device arrays are held "
                       "in memory)", "", lo=1, hi=10**6),
    "n_edges": Param("int", "number of edge servers; at most 10^6", "", lo=1, hi=10**6),
    "device_flops": Param("floats", "device training throughput (one value, one per device, or a [lo, hi] "
                          "range where devices are drawn at random)", "FLOP/s", lo=0, lo_open=True),
    "server_flops": Param("floats", "server training throughput", "FLOP/s", lo=0, lo_open=True),
    "device_memory_bytes": Param("floats", "device memory budget (one value, a range or one per device)",
                                 "bytes", lo=0, lo_open=True, allow_inf=True),
    "uplink_bps": Param("float", "device-to-server rate", "bit/s", lo=0, lo_open=True),
    "downlink_bps": Param("float", "server-to-device rate", "bit/s", lo=0, lo_open=True),
    "bandwidth_hz": Param("float", "total uplink bandwidth (the downlink's too unless downlink_bandwidth_hz "
                          "is given)", "Hz", lo=0, lo_open=True),
    "downlink_bandwidth_hz": Param("float", "total downlink bandwidth", "Hz", lo=0, lo_open=True),
    "device_tx_power_w": Param("float", "device transmit power", "W", lo=0),
    "server_tx_power_w": Param("float", "server (access point) transmit power", "W", lo=0),
    "noise_psd_dbm_hz": Param("float", "noise power spectral density", "dBm/Hz"),
    "batch": Param("int", "mini-batch size", "samples", lo=1),
    "seed": Param("int", "seed of the random draws", "", lo=0),
}

#: Former per-problem names of shared concepts -> the vocabulary's name (kept for one release).
ALIASES: dict[str, dict[str, str]] = {
    "gsfl": {"n_clients": "n_devices", "client_flops": "device_flops", "client_memory_bytes": "device_memory_bytes",
             "client_power_w": "device_tx_power_w", "ap_power_w": "server_tx_power_w",
             "uplink_bandwidth_hz": "bandwidth_hz"},
    "three-tier": {"n_users": "n_devices", "user_memory_bytes": "device_memory_bytes"},
}


def params_model(problem: str, table: dict[str, Param]) -> type[BaseModel]:
    """A strict pydantic model of ``table`` (every field optional: None = the problem's default)."""
    fields: dict[str, Any] = {}
    for name, p in table.items():
        desc = p.description + (f", {p.unit}" if p.unit else "") + (f" (default from {p.source})" if p.source else "")
        fields[name] = (p.annotation(), PField(p.default, description=desc))
    model = create_model(f"{problem.title().replace('-', '')}Params",
                         __config__=ConfigDict(extra="forbid", frozen=True), **fields)
    model.__doc__ = f"Parameters of `slopt solve {problem} --set key=value` and of its load(**params)."
    return model


def _warn_alias(problem: str, old: str, new: str, stacklevel: int) -> None:
    warnings.warn(f"{problem}: parameter {old!r} is now {new!r}; the old name will be removed in the "
                  "next release", DeprecationWarning, stacklevel=stacklevel + 1)


def rename_aliases(problem: str, params: dict[str, Any], stacklevel: int = 3) -> dict[str, Any]:
    """Replace former names by the vocabulary's, with a DeprecationWarning for each."""
    out = dict(params)
    for old, new in ALIASES.get(problem, {}).items():
        if old in out:
            _warn_alias(problem, old, new, stacklevel + 1)
            if new in out:
                raise ValidationError(f"{problem}: both {old!r} and its new name {new!r} are given", new)
            out[new] = out.pop(old)
    return out


def _unknown(problem: str, key: Any, table: dict[str, Param], label: str | None) -> ValidationError:
    aliases = ALIASES.get(problem, {})
    close = difflib.get_close_matches(str(key), sorted(list(table) + list(aliases)), n=1, cutoff=0.6)
    hint = ""
    if close:
        hint = f" did you mean {aliases.get(close[0], close[0])!r}?"
    head = f"unknown {label} parameter" if label else f"{problem}: unknown parameter"
    return ValidationError(f"{head} {str(key)!r};{hint} accepted: {', '.join(sorted(table))}", str(key))


def check_params(problem: str, table: dict[str, Param], params: dict[str, Any],
                 model: type[BaseModel] | None = None, label: str | None = None,
                 stacklevel: int = 3) -> dict[str, Any]:
    """Validate ``params`` against the problem's table; return them (aliases renamed, values
    converted: an int written for a float becomes a float, numpy values Python ones). Unknown keys:
    "did you mean" and the accepted keys."""
    params = rename_aliases(problem, params, stacklevel + 1)
    unknown = [k for k in params if k not in table]
    if unknown:
        raise _unknown(problem, unknown[0], table, label)
    m = validate(model or params_model(problem, table), params, problem)
    return {k: getattr(m, k) for k in params}


@dataclass
class ParamTable:
    """A problem's table and its model (built once; registered for ``slopt schema <problem>``).

    internal : vocabulary name -> the name the problem's own code uses (applied by :meth:`check`
        after validation, so the internals keep their names and behaviour)
    label : how the problem's error messages name it (``unknown <label> parameter 'x'``)
    """

    problem: str
    table: dict[str, Param]
    internal: dict[str, str] = field(default_factory=dict)
    label: str | None = None
    model: type[BaseModel] = field(init=False)

    def __post_init__(self) -> None:
        from slopt.schema import register_schema

        self.model = params_model(self.problem, self.table)
        register_schema(self.problem, lambda: self.model)

    def check(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validated ``params`` under the problem's internal names (None values kept)."""
        out = check_params(self.problem, self.table, params, self.model, self.label, stacklevel=4)
        return {self.internal.get(k, k): v for k, v in out.items()}

    def validate_args(self, args: dict[str, Any]) -> None:
        """Check the keyword arguments of a direct call (``make_instance``) that are in the table,
        under the table's names (None = the default; other keys are the caller's own). Values are
        not converted: the call proceeds with what it was given."""
        sub = {k: v for k, v in args.items() if k in self.table and v is not None}
        if sub:
            validate(self.model, sub, f"{self.problem} make_instance")

    def warn_alias(self, old: str, new: str) -> None:
        """The DeprecationWarning of a former name the problem translates itself."""
        _warn_alias(self.problem, old, new, 3)


# --------------------------------------------------------------------------- the inputs of load()
def scenario_arg(scenario: Any, what: str = "scenario") -> Any:
    """A :class:`~slopt.scenarios.Scenario` from a Scenario, a file or a shipped name (None stays None)."""
    from pathlib import Path

    from slopt.scenarios import Scenario
    from slopt.scenarios import read as read_scenario

    if scenario is None or isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, (str, Path)):
        return read_scenario(scenario)
    raise ValidationError(f"{what} = {scenario!r}: a Scenario, a scenario file or a shipped scenario name "
                          f"is required, not a {type(scenario).__name__}", what)


def profile_arg(profile: Any, what: str = "profile") -> Any:
    """A :class:`~slopt.profiles.ModelGraph` from a ModelGraph, a file or a shipped name (None stays None)."""
    from pathlib import Path

    from slopt.profiles import ModelGraph, read

    if profile is None or isinstance(profile, ModelGraph):
        return profile
    if isinstance(profile, (str, Path)):
        return read(profile)
    raise ValidationError(f"{what} = {profile!r}: a ModelGraph, a profile file or a shipped profile name "
                          f"is required, not a {type(profile).__name__}", what)


def transformer_config(profile: Any, problem: str) -> Any:
    """The architecture of a transformer profile: a preset name stays a name; a ModelGraph made by
    :func:`slopt.profiles.transformer.transformer` gives its :class:`TransformerConfig` (from its
    provenance); any other graph is refused with a clear error (the problem needs the block shape)."""
    from slopt.profiles import ModelGraph
    from slopt.profiles.transformer import TransformerConfig

    if isinstance(profile, (str, TransformerConfig)):
        return profile
    if isinstance(profile, ModelGraph):
        cfg = dict(profile.provenance or {}).get("config")
        if isinstance(cfg, dict):
            try:
                return TransformerConfig(**cfg)
            except (TypeError, ValueError) as exc:
                raise ValidationError(f"profile {profile.name!r}: its transformer config {cfg!r} is not "
                                      f"readable ({exc})", "profile") from None
        raise ValidationError(f"profile {profile.name!r}: {problem} needs a transformer's architecture "
                              "(hidden size, heads, sequence); give a preset name or a profile made by "
                              "slopt.profiles.transformer.transformer()", "profile")
    raise ValidationError(f"profile = {profile!r}: a transformer preset name or a transformer ModelGraph is "
                          f"required, not a {type(profile).__name__}", "profile")
