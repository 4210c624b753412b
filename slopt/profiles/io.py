"""Plain JSON form of a :class:`ModelGraph` (``data/profiles/*.json``).

Columnar layout, so that large profiles load quickly::

    {
      "format": "slopt.profile/1",
      "name": "resnet18",
      "provenance": {"tool": "...", "versions": {...}, "input_shape": [...]},
      "units": {"forward_flop": "FLOP per sample (multiply-add = 2 FLOP)", ...},
      "vertices": {"name": [...], "forward_flop": [...], "backward_flop": [...],
                   "param_bytes": [...], "trainable_param_bytes": [...],
                   "activation_bytes": [...], "block": [...], <optional extra columns>},
      "edges": {"src": [vertex indices], "dst": [vertex indices]}
    }

``edges.src`` / ``edges.dst`` may also hold vertex names.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from slopt.errors import ValidationError
from slopt.profiles.graph import COLUMNS, UNITS, ModelGraph, _names_to_index

__all__ = ["read", "write", "to_dict", "from_dict", "FORMAT", "shipped", "load_shipped"]

FORMAT = "slopt.profile/1"
DATA_DIR = Path(str(resources.files("slopt.data"))) / "profiles"  # top-level data/, packaged as slopt.data


def to_dict(graph: ModelGraph) -> dict[str, Any]:
    """The JSON-safe columnar dictionary of a graph."""
    vertices: dict[str, Any] = {"name": graph.names}
    for key in COLUMNS:
        vertices[key] = graph.column(key).tolist()
    for key, arr in graph.extra.items():
        vertices[key] = arr.tolist()
    if graph.block is not None:
        vertices["block"] = list(graph.block)
    return {
        "format": FORMAT,
        "name": graph.name,
        "provenance": graph.provenance,
        "units": {k: UNITS[k] for k in (*COLUMNS, *graph.extra) if k in UNITS},
        "vertices": vertices,
        "edges": {"src": graph.src.tolist(), "dst": graph.dst.tolist()},
    }


def from_dict(data: Any, source: str = "<dict>") -> ModelGraph:
    """Build a graph from the dictionary form, validated by
    :class:`slopt.profiles.schema.ProfileFileSpec` and its vectorised column checks; errors name
    ``source``, the field path and the value."""
    from slopt.profiles.schema import ProfileFileSpec, check_columns
    from slopt.schema import validate

    if not isinstance(data, dict):
        raise ValidationError(f"{source}: a profile is a mapping with vertices and edges, got "
                              f"{type(data).__name__}", "profile")
    spec = validate(ProfileFileSpec, data, source)
    v, e = spec.vertices, spec.edges
    check_columns(v, e, source)
    names = list(v["name"]) if "name" in v else None
    cols = {k: v[k] for k in COLUMNS if k in v}
    extra = {k: val for k, val in v.items() if k not in COLUMNS and k not in ("name", "block")}
    src, dst = e.src, e.dst
    try:
        if names is not None and any(isinstance(x, str) for x in (*src[:1], *dst[:1])):
            src, dst = _names_to_index(names, src, "src"), _names_to_index(names, dst, "dst")
        return ModelGraph(src=np.asarray(src, dtype=np.int64), dst=np.asarray(dst, dtype=np.int64),
                          names=names, block=v.get("block"), extra=extra or None,
                          name=spec.name, provenance=spec.provenance, **cols)
    except ValidationError as exc:
        raise ValidationError(f"{source}: {exc}", exc.field) from exc
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"{source}: {exc}", None) from exc


def write(graph: ModelGraph, path: str | Path) -> Path:
    """Write ``graph`` as JSON to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        json.dump(to_dict(graph), fh, separators=(",", ":"))
    return path


def read(path: str | Path) -> ModelGraph:
    """Read a profile JSON file (or the name of a shipped profile, e.g. ``"resnet18"``).

    Raises
    ------
    ValidationError
        Naming the file and the field for a corrupt, truncated or incomplete file.
    """
    p = Path(path)
    if not p.exists():
        cand = DATA_DIR / f"{path}.json"
        if cand.exists():
            p = cand
        else:
            raise ValidationError(f"profile file {str(path)!r} does not exist (shipped profiles: "
                                  f"{', '.join(shipped()) or 'none'})", "profile")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{p}: cannot read the profile file ({exc})", "file") from exc
    try:
        data = json.loads(text)
    except RecursionError as exc:
        raise ValidationError(f"{p}: nesting too deep to parse", "file") from exc
    except json.JSONDecodeError as exc:
        keys = re.findall(r'"(\w+)"\s*:', text[:exc.pos])
        field = keys[-1] if keys else "json"
        raise ValidationError(f"{p}: not valid JSON (truncated or corrupt) in field {field!r} at line "
                              f"{exc.lineno} column {exc.colno}: {exc.msg}", field) from exc
    return from_dict(data, source=str(p))


def shipped() -> list[str]:
    """Names of the profiles shipped in ``data/profiles/``."""
    return sorted(p.stem for p in DATA_DIR.glob("*.json"))


def load_shipped(name: str) -> ModelGraph:
    """Load a shipped profile by name (e.g. ``"residual_chain"``)."""
    return read(DATA_DIR / f"{name}.json")
