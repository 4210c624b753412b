"""docs/reference.md is generated from the declared schemas and must be up to date."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_reference_is_generated_from_the_schemas() -> None:
    spec = importlib.util.spec_from_file_location("make_schema_docs", ROOT / "scripts" / "make_schema_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = mod.render()
    for name in ("scenario", "profile", "sweep", "compare", "card", "dag-split", "gsfl", "sft", "three-tier"):
        assert f"## `{name}`" in text
    assert "`compute_flops`" in text and "FLOP/s" in text
    assert (ROOT / "docs" / "reference.md").read_text() == text, \
        "docs/reference.md is out of date: run python scripts/make_schema_docs.py"
