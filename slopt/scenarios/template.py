"""A commented scenario file written from the declared schema (``slopt scenario template``).

Every field of :class:`slopt.scenarios.schema.ScenarioSpec` appears with its description (unit
included), its default, and whether it is required; the file reads back as a valid scenario.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from slopt.scenarios.schema import ChannelSpec, DeviceSpec, LinkSpec, PathLossSpec, ScenarioSpec, ServerSpec

__all__ = ["template"]

#: Example values of the required fields (the shipped default scenario's first device and server).
EXAMPLE: dict[str, dict[str, Any]] = {
    "DeviceSpec": {"name": "d0", "compute_flops": 6.7e11},
    "ServerSpec": {"name": "e0", "compute_flops": 1.0e13},
    "ChannelSpec": {"uplink_bandwidth_hz": 2.0e7},
    "LinkSpec": {"src": "e0", "dst": "cloud", "rate_bps": 1.0e9},
}


def _value(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, float):
        return "inf" if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return v if v else "''"
    return str(v)


def _fields(model: type[BaseModel], indent: str, first_prefix: str = "") -> list[str]:
    lines: list[str] = []
    prefix = first_prefix
    for name, f in model.model_fields.items():
        desc = f.description or ""
        required = f.default is PydanticUndefined and f.default_factory is None
        if required:
            value = EXAMPLE.get(model.__name__, {}).get(name)
            lines.append(f"{indent}{prefix}{name}: {_value(value)}  # required: {desc}")
        elif isinstance(f.default, BaseModel) or f.default_factory is PathLossSpec:
            lines.append(f"{indent}{prefix}{name}:  # {desc}")
            lines += _fields(PathLossSpec, indent + "  ")
        else:
            lines.append(f"{indent}{prefix}{name}: {_value(f.default)}  # {desc}")
        prefix = " " * len(prefix)
    return lines


def template() -> str:
    """The commented YAML scenario template (one device, one edge server, no links)."""
    lines = ["# slopt scenario file (YAML 1.2). Units are in every field's description.",
             "# Validate with: slopt solve PROBLEM --scenario this.yaml; schema: slopt schema scenario",
             "devices:  # " + (ScenarioSpec.model_fields["devices"].description or "")]
    lines += _fields(DeviceSpec, "  ", "- ")
    lines.append("servers:  # " + (ScenarioSpec.model_fields["servers"].description or ""))
    lines += _fields(ServerSpec, "  ", "- ")
    lines.append("channel:  # " + (ScenarioSpec.model_fields["channel"].description or ""))
    lines += _fields(ChannelSpec, "  ")
    lines.append("links: []  # " + (ScenarioSpec.model_fields["links"].description or "") +
                 "; each: {src, dst, rate_bps}")
    lines.append("name: my-scenario  # " + (ScenarioSpec.model_fields["name"].description or ""))
    lines.append("seed: 0  # " + (ScenarioSpec.model_fields["seed"].description or ""))
    _ = LinkSpec
    return "\n".join(lines) + "\n"
