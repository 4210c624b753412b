"""Declared input schemas, validated once at the door, and the one error wording they share.

Every file or parameter set a user hands to slopt is described by a pydantic model here or next
to the code that reads it (the scenario file: :mod:`slopt.scenarios.schema`; the profile file:
:mod:`slopt.profiles.schema`; the sweep spec: :class:`slopt.sweep.SweepSpecModel`). The models
are *strict where it matters*:

* no bool where a number is wanted, no float where an index is wanted, no string for a number;
* no NaN or infinity unless the field says so (memory written ``inf`` = unconstrained);
* no unknown keys: the error suggests the closest known key ("did you mean") and lists them all.

:func:`validate` turns pydantic's errors into one :class:`slopt.errors.ValidationError` whose
message names the source, the field path (``devices[2].position_m[0]``) and the value.

:func:`load_yaml` reads YAML as YAML 1.2 does (``5.0e6`` is a float; ``yes``/``no``/``on`` stay
strings; ``1_000`` is a string; duplicate keys are an error), so a number never turns into text.

``slopt schema NAME`` prints the JSON Schema of any input (:func:`schemas`).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from pydantic import ValidationError as PydanticValidationError
from pydantic.functional_validators import BeforeValidator

from slopt.errors import ValidationError

__all__ = ["Strict", "Number", "FiniteNumber", "NonNegative", "Positive", "PositiveOrInf", "Index",
           "validate", "load_yaml", "did_you_mean", "unknown_key_error", "schemas", "register_schema",
           "StrictBool", "StrictInt", "StrictStr", "Field", "Literal"]

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base of every input schema: unknown keys forbidden, values checked strictly."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


def _no_bool(x: Any) -> Any:
    if isinstance(x, bool):
        raise ValueError("a number is required, not a bool")
    return x


def _finite(x: Any) -> Any:
    x = _no_bool(x)
    if isinstance(x, float) and not math.isfinite(x):
        raise ValueError("a finite number is required (NaN and infinity are not allowed here)")
    return x


def _inf_word(x: Any) -> Any:
    if isinstance(x, str) and x.strip().lower() in ("inf", ".inf", "infinity"):
        return math.inf
    x = _no_bool(x)
    if isinstance(x, float) and math.isnan(x):
        raise ValueError("NaN is not a number here (write inf for unconstrained)")
    return x


#: A real number (int or float; never bool or str), NaN and inf rejected.
Number = Annotated[float, BeforeValidator(_finite), Field(allow_inf_nan=False)]
FiniteNumber = Number
#: A finite number >= 0.
NonNegative = Annotated[float, BeforeValidator(_finite), Field(ge=0, allow_inf_nan=False)]
#: A finite number > 0.
Positive = Annotated[float, BeforeValidator(_finite), Field(gt=0, allow_inf_nan=False)]
#: A number > 0 or infinity (written ``inf`` in files): an optional capacity such as memory.
PositiveOrInf = Annotated[float, BeforeValidator(_inf_word), Field(gt=0)]
#: A non-negative integer index (never bool, never float).
Index = Annotated[int, BeforeValidator(_no_bool), Field(ge=0)]


def did_you_mean(key: str, known: list[str] | tuple[str, ...] | set[str]) -> str:
    """``" did you mean 'x'?"`` for the closest known key, or ``""``."""
    close = difflib.get_close_matches(str(key), sorted(map(str, known)), n=1, cutoff=0.6)
    return f" did you mean {close[0]!r}?" if close else ""


def unknown_key_error(key: str, known: list[str] | tuple[str, ...] | set[str], where: str = "",
                      source: str = "") -> ValidationError:
    """The error for an unknown key, with "did you mean" and the accepted keys."""
    path = f"{where}.{key}" if where else str(key)
    head = f"{source}: " if source else ""
    return ValidationError(f"{head}unknown field {path!r};{did_you_mean(key, known)} accepted: "
                           f"{', '.join(sorted(map(str, known)))}", path)


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "float", "int", "str", "bool", "list", "tuple", "dict",
                                   "literal", "union", "nullable", "constrained")) and out:
            continue   # pydantic's internal step names (union members, validators)
        else:
            out += ("." if out else "") + str(part)
    return out


def _short(value: Any, limit: int = 80) -> str:
    r = repr(value)
    return r if len(r) <= limit else r[:limit - 3] + "..."


def _known_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """The accepted keys at ``loc[:-1]`` of ``model`` (for an ``extra_forbidden`` error)."""
    cur: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not (isinstance(cur, type) and issubclass(cur, BaseModel)):
            return None
        f = cur.model_fields.get(str(part))
        if f is None:
            return None
        ann = f.annotation
        cur = _model_in(ann)
    if isinstance(cur, type) and issubclass(cur, BaseModel):
        return [f.alias or k for k, f in cur.model_fields.items()]
    return None


def _model_in(ann: Any) -> Any:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for a in getattr(ann, "__args__", ()) or ():
        m = _model_in(a)
        if m is not None:
            return m
    return None


def validate(model: type[M], data: Any, source: str = "") -> M:
    """``model.model_validate(data)``, with pydantic's errors as one slopt :class:`ValidationError`
    naming ``source``, the field path and the value (at most three errors are listed)."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise from_pydantic(exc, model, source) from None


def from_pydantic(exc: PydanticValidationError, model: type[BaseModel] | None = None,
                  source: str = "") -> ValidationError:
    """One slopt error from a pydantic error (the first three problems, each with path and value)."""
    errs = exc.errors(include_url=False)
    parts = []
    first_path = ""
    for e in errs[:3]:
        path = _path(tuple(e["loc"]))
        first_path = first_path or path
        if e["type"] == "extra_forbidden":
            key = str(e["loc"][-1])
            known = _known_fields(model, tuple(e["loc"])) if model is not None else None
            hint = (f";{did_you_mean(key, known)} accepted: {', '.join(sorted(known))}" if known else "")
            parts.append(f"unknown field {path!r}{hint}")
        elif e["type"] == "missing":
            parts.append(f"missing field {path!r}")
        else:
            msg = e["msg"]
            msg = msg[0].lower() + msg[1:] if msg else msg
            parts.append(f"{path or 'value'} = {_short(e.get('input'))}: {msg}")
    more = f" (and {len(errs) - 3} more)" if len(errs) > 3 else ""
    head = f"{source}: " if source else ""
    return ValidationError(head + "; ".join(parts) + more, first_path or None)


# --------------------------------------------------------------------------- YAML 1.2
class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with the YAML 1.2 core schema's scalars and no duplicate keys."""


_Yaml12Loader.yaml_implicit_resolvers = {}
_RESOLVERS = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
     list("-+0123456789.")),
]
for _tag, _rx, _first in _RESOLVERS:
    _Yaml12Loader.add_implicit_resolver(_tag, re.compile(_rx), _first)


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    v = loader.construct_scalar(node)
    if v.startswith("0o"):
        return int(v[2:], 8)
    if v.startswith("0x"):
        return int(v[2:], 16)
    return int(v)


def _construct_float(loader: yaml.SafeLoader, node: yaml.Node) -> float:
    v = str(loader.construct_scalar(node)).lower()
    if v.endswith(".inf"):
        return -math.inf if v.startswith("-") else math.inf
    if v == ".nan":
        return math.nan
    return float(v)


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Yaml12Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def load_yaml(text: str, source: str = "<yaml>") -> Any:
    """Parse YAML text with the YAML 1.2 core schema; a parse error names ``source`` and the line."""
    try:
        return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as exc:
        raise ValidationError(f"{source}: cannot parse YAML ({exc})".replace("\n", " "), "file") from exc
    except RecursionError as exc:
        raise ValidationError(f"{source}: nesting too deep to parse", "file") from exc


# --------------------------------------------------------------------------- the registry
_SCHEMAS: dict[str, Callable[[], type[BaseModel]]] = {}


def register_schema(name: str, model: Callable[[], type[BaseModel]]) -> None:
    """Make ``slopt schema NAME`` know an input (``model`` is called lazily)."""
    _SCHEMAS[name] = model


def schemas() -> dict[str, type[BaseModel]]:
    """Every declared input schema by name (``scenario``, ``profile``, ``sweep``...)."""
    import slopt.compare  # noqa: F401  (registers "compare")
    import slopt.profiles.schema  # noqa: F401  (registers "profile")
    import slopt.scenarios.schema  # noqa: F401  (registers "scenario")
    import slopt.sweep  # noqa: F401  (registers "sweep")
    from slopt.problems import problems

    problems()   # each problem's parameter table registers "<problem>"

    return {k: f() for k, f in sorted(_SCHEMAS.items())}
