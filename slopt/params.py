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

import math
import warnings
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, create_model
from pydantic import Field as PField
from pydantic.functional_validators import BeforeValidator

from slopt.errors import ValidationError
from slopt.schema import unknown_key_error, validate

__all__ = ["Param", "VOCABULARY", "ALIASES", "params_model", "check_params", "rename_aliases"]


def _no_bool(x: Any) -> Any:
    if isinstance(x, bool):
        raise ValueError("a number is required, not a bool")
    if isinstance(x, float) and math.isnan(x):
        raise ValueError("NaN is not allowed")
    return x


@dataclass(frozen=True)
class Param:
    """One parameter of a problem.

    kind : ``"float"``, ``"int"``, ``"bool"``, ``"str"``, ``"choice"``, ``"range"`` (a pair lo <= hi),
        ``"floats"`` (a number or a list of numbers, one per device), ``"any"`` (checked by the
        problem itself)
    unit : the unit (``"s"``, ``"bit/s"``, ``"Hz"``, ``"W"``, ``"bytes"``, ``"FLOP/s"``, ``""``)
    lo, hi : bounds (``lo_open``: strict lower bound); ``allow_inf``: infinity allowed (capacities)
    choices : the values of a ``"choice"``
    default : the default (``None``: the problem's own default, from its instance module)
    source : where the default comes from (spec section, paper table, standard)
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

    def annotation(self) -> Any:
        num = {"allow_inf_nan": self.allow_inf}
        if self.lo is not None:
            num["gt" if self.lo_open else "ge"] = self.lo
        if self.hi is not None:
            num["le"] = self.hi
        if self.kind == "float":
            t: Any = Annotated[float, BeforeValidator(_no_bool), PField(strict=False, **num)]
        elif self.kind == "int":
            t = Annotated[int, BeforeValidator(_no_bool), PField(strict=True, **{k: v for k, v in num.items()
                                                                                   if k != "allow_inf_nan"})]
        elif self.kind == "bool":
            t = Annotated[bool, PField(strict=True)]
        elif self.kind == "str":
            t = Annotated[str, PField(strict=True)]
        elif self.kind == "choice":
            t = Literal[self.choices]  # type: ignore[valid-type]
        elif self.kind == "range":
            one = Annotated[float, BeforeValidator(_no_bool), PField(**num)]
            t = Annotated[list[one], PField(min_length=2, max_length=2)]  # type: ignore[valid-type]
        elif self.kind == "floats":
            one = Annotated[float, BeforeValidator(_no_bool), PField(**num)]
            t = Union[one, list[one]]  # type: ignore[valid-type]
        else:
            t = Any
        return Optional[t] if self.nullable else t


#: The shared concepts: one name, one unit, one meaning in every problem.
VOCABULARY: dict[str, Param] = {
    "n_devices": Param("int", "number of devices (clients, users)", "", lo=1),
    "n_edges": Param("int", "number of edge servers", "", lo=1),
    "device_flops": Param("floats", "device training throughput (one value, or one per device)", "FLOP/s",
                          lo=0, lo_open=True),
    "server_flops": Param("floats", "server training throughput", "FLOP/s", lo=0, lo_open=True),
    "device_memory_bytes": Param("floats", "device memory budget (one value, a range or one per device)",
                                 "bytes", lo=0, lo_open=True, allow_inf=True),
    "uplink_bps": Param("float", "device-to-server rate", "bit/s", lo=0, lo_open=True),
    "downlink_bps": Param("float", "server-to-device rate", "bit/s", lo=0, lo_open=True),
    "bandwidth_hz": Param("float", "total uplink bandwidth", "Hz", lo=0, lo_open=True),
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


def rename_aliases(problem: str, params: dict[str, Any]) -> dict[str, Any]:
    """Replace former names by the vocabulary's, with a DeprecationWarning for each."""
    out = dict(params)
    for old, new in ALIASES.get(problem, {}).items():
        if old in out:
            warnings.warn(f"{problem}: parameter {old!r} is now {new!r}; the old name will be removed in the "
                          "next release", DeprecationWarning, stacklevel=3)
            if new in out:
                raise ValidationError(f"{problem}: both {old!r} and its new name {new!r} are given", new)
            out[new] = out.pop(old)
    return out


def check_params(problem: str, table: dict[str, Param], params: dict[str, Any],
                 model: type[BaseModel] | None = None) -> dict[str, Any]:
    """Validate ``params`` against the problem's table; return them (aliases renamed, values
    converted: an int written for a float becomes a float). Unknown keys: "did you mean"."""
    params = rename_aliases(problem, params)
    unknown = [k for k in params if k not in table]
    if unknown:
        raise unknown_key_error(unknown[0], list(table) + list(ALIASES.get(problem, {})), source=problem)
    m = validate(model or params_model(problem, table), params, problem)
    return {k: getattr(m, k) for k in params}


@dataclass
class ParamTable:
    """A problem's table and its model (built once)."""

    problem: str
    table: dict[str, Param]
    model: type[BaseModel] = field(init=False)

    def __post_init__(self) -> None:
        self.model = params_model(self.problem, self.table)

    def check(self, params: dict[str, Any]) -> dict[str, Any]:
        return check_params(self.problem, self.table, params, self.model)
