"""The profile file's declared schema (``slopt schema profile``) and its vectorised column checks.

The file's structure (format tag, name, provenance, units, the vertex columns and the edge lists)
is a pydantic model; the columns themselves are checked with numpy in one pass each
(:func:`check_columns`), so a 10^6-vertex profile still loads in well under a second. Both raise
the same :class:`slopt.errors.ValidationError`, naming the field path and the value:

* a number column holds ints or floats only (no bool, string or null): ``vertices.param_bytes[7]``;
* ``edges.src`` / ``edges.dst`` hold integer vertex indices or vertex names, never floats or bools;
* the required columns are present (``trainable_param_bytes`` defaults to ``param_bytes``).
"""

from __future__ import annotations

from typing import Any, Literal

from slopt.errors import ValidationError
from slopt.schema import Field, Strict, StrictStr, register_schema

__all__ = ["ProfileFileSpec", "EdgesSpec", "check_columns", "FORMAT"]

FORMAT = "slopt.profile/1"
REQUIRED = ("forward_flop", "backward_flop", "param_bytes", "activation_bytes")


class EdgesSpec(Strict):
    """The edge list: ``src[k] -> dst[k]`` (the output of ``src`` is an input of ``dst``)."""

    # list contents are checked by check_columns (one C-level pass), not element by element here
    src: Any = Field(description="list: vertex index (int >= 0) or vertex name of each edge's tail",
                     json_schema_extra={"type": "array"})
    dst: Any = Field(description="list: vertex index (int >= 0) or vertex name of each edge's head",
                     json_schema_extra={"type": "array"})


class ProfileFileSpec(Strict):
    """A profile file (columnar JSON)."""

    format: Literal["slopt.profile/1"] = Field(FORMAT, description="format tag")
    name: StrictStr = Field("", description="model name")
    provenance: dict[str, Any] = Field(default_factory=dict, description="how the profile was made")
    units: dict[str, StrictStr] = Field(default_factory=dict, description="unit of each column (informative)")
    vertices: dict[str, Any] = Field(
        description="columns of equal length: name, forward_flop and backward_flop (FLOP per sample, "
                    "multiply-add = 2 FLOP), param_bytes, trainable_param_bytes (bytes), activation_bytes "
                    "(bytes per sample), optional block labels and extra numeric columns "
                    "(gradient_bytes, device_time_s, server_time_s...)")
    edges: EdgesSpec = Field(description="the edge list")


def _first_not(values: list[Any], types: tuple[type, ...]) -> int | None:
    """Index of the first entry whose exact type is not in ``types`` (bool is not int), or None.

    One C-level pass (``set(map(type, values))``); the index is searched only on failure."""
    if set(map(type, values)) <= set(types):
        return None
    return next(i for i, x in enumerate(values) if type(x) not in types)


def _bad_number(values: list[Any]) -> int | None:
    """Index of the first entry that is not an int/float (bool, str, None, list...), or None."""
    return _first_not(values, (int, float))


def check_columns(vertices: dict[str, list[Any]], edges: EdgesSpec, source: str = "") -> None:
    """Vectorised type checks of the columns (see the module docstring)."""
    head = f"{source}: " if source else ""
    for key in REQUIRED:
        if key not in vertices:
            raise ValidationError(f"{head}missing field 'vertices.{key}'", f"vertices.{key}")
    for key, col in vertices.items():
        if not isinstance(col, list):
            raise ValidationError(f"{head}vertices.{key} = {col!r:.60}: a list (one entry per vertex) is "
                                  "required", f"vertices.{key}")
        if key in ("name", "block"):
            continue
        i = _bad_number(col)
        if i is not None:
            raise ValidationError(f"{head}vertices.{key}[{i}] = {col[i]!r}: a number is required", f"vertices.{key}")
    if "name" in vertices:
        names = vertices["name"]
        i = _first_not(names, (str,))
        if i is not None:
            raise ValidationError(f"{head}vertices.name[{i}] = {names[i]!r}: a string is required",
                                  "vertices.name")
    for end in ("src", "dst"):
        vals = getattr(edges, end)
        if not isinstance(vals, list):
            raise ValidationError(f"{head}edges.{end} = {vals!r:.60}: a list is required", f"edges.{end}")
        if not vals:
            continue
        as_names = isinstance(vals[0], str)
        i = _first_not(vals, (str,) if as_names else (int,))
        if i is not None:
            want = "a vertex name (the list holds names)" if as_names else "an integer vertex index"
            raise ValidationError(f"{head}edges.{end}[{i}] = {vals[i]!r}: {want} is required", f"edges.{end}")
        if not as_names:
            i = next((i for i, x in enumerate(vals) if not -2**62 < x < 2**62), None) \
                if max(vals) >= 2**62 or min(vals) <= -2**62 else None
            if i is not None:
                raise ValidationError(f"{head}edges.{end}[{i}] = {vals[i]!r}: not a vertex index (too large)",
                                      f"edges.{end}")
        if as_names and "name" not in vertices:
            raise ValidationError(f"{head}edges.{end} holds vertex names but vertices.name is missing",
                                  "vertices.name")


register_schema("profile", lambda: ProfileFileSpec)
