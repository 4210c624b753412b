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


def from_dict(data: dict[str, Any], source: str = "<dict>") -> ModelGraph:
    """Build a graph from the dictionary form; errors name ``source`` and the field."""
    def need(obj: Any, key: str, where: str) -> Any:
        if not isinstance(obj, dict) or key not in obj:
            raise ValidationError(f"{source}: missing field {where}{key!r}", key)
        return obj[key]

    fmt = data.get("format", FORMAT) if isinstance(data, dict) else None
    if fmt != FORMAT:
        raise ValidationError(f"{source}: field 'format' is {fmt!r}, expected {FORMAT!r}", "format")
    v = need(data, "vertices", "")
    e = need(data, "edges", "")
    names = [str(x) for x in v["name"]] if "name" in v else None
    cols = {k: need(v, k, "vertices.") for k in COLUMNS if k != "trainable_param_bytes"}
    if "trainable_param_bytes" in v:
        cols["trainable_param_bytes"] = v["trainable_param_bytes"]
    extra = {k: val for k, val in v.items() if k not in COLUMNS and k not in ("name", "block")}
    src, dst = need(e, "src", "edges."), need(e, "dst", "edges.")
    if names is not None and any(isinstance(x, str) for x in (*src[:1], *dst[:1])):
        src, dst = _names_to_index(names, src, "src"), _names_to_index(names, dst, "dst")
    try:
        return ModelGraph(src=np.asarray(src, dtype=np.int64), dst=np.asarray(dst, dtype=np.int64),
                          names=names, block=v.get("block"), extra=extra or None,
                          name=data.get("name", ""), provenance=data.get("provenance"), **cols)
    except ValidationError as exc:
        raise ValidationError(f"{source}: {exc}", exc.field) from exc
    except (TypeError, ValueError) as exc:
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
    text = p.read_text()
    try:
        data = json.loads(text)
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
