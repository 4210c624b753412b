"""Write docs/reference.md: every declared input (scenario, profile, sweep spec, each problem's
parameters) as a table generated from its schema. ``tests/test_params.py``-style check:
``tests/test_schema_docs.py`` fails when the file is out of date.

    python scripts/make_schema_docs.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "docs" / "reference.md"


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in prop:
        return " or ".join(_type(p, defs) for p in prop["anyOf"] if p.get("type") != "null")
    if "enum" in prop:
        return " / ".join(repr(v) for v in prop["enum"])
    if "const" in prop:
        return repr(prop["const"])
    t = prop.get("type", "any")
    if t == "array" and "items" in prop:
        n = f"[{prop['minItems']}]" if prop.get("minItems") and prop.get("minItems") == prop.get("maxItems") else ""
        return f"list{n} of {_type(prop['items'], defs)}"
    return str(t)


def _range(prop: dict[str, Any]) -> str:
    parts = []
    for src in [prop, *prop.get("anyOf", [])]:
        for k, sym in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
            if k in src:
                parts.append(f"{sym} {src[k]:g}" if isinstance(src[k], (int, float)) else f"{sym} {src[k]}")
    return ", ".join(dict.fromkeys(parts))


def _table(schema: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    req = set(schema.get("required", []))
    lines = ["| field | type | range | default | description |", "|---|---|---|---|---|"]
    for name, prop in schema.get("properties", {}).items():
        default = "required" if name in req else repr(prop.get("default")) if "default" in prop else ""
        desc = str(prop.get("description", "")).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{name}` | {_type(prop, defs)} | {_range(prop)} | {default} | {desc} |")
    return lines


def render() -> str:
    from slopt.schema import schemas

    out = ["# Input reference", "",
           "Generated from the declared schemas by `scripts/make_schema_docs.py` (do not edit by hand).",
           "`slopt schema NAME` prints the full JSON Schema of each. Units are in the descriptions.", ""]
    for name, model in schemas().items():
        js = model.model_json_schema()
        defs = js.get("$defs", {})
        out += [f"## `{name}`", "", (model.__doc__ or "").strip().splitlines()[0], ""]
        out += _table(js, defs)
        for dname, d in defs.items():
            out += ["", f"### `{name}`: {dname}", "", (d.get("description") or "").strip().splitlines()[0]
                    if d.get("description") else "", ""]
            out += _table(d, defs)
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if OUT.read_text() == text else 1)
    OUT.write_text(text)
    print(f"wrote {OUT}")
