"""The "Extend a formulation" examples of the docs run as written, for all five problems.

Each ``docs/<problem>.md`` has a section ``## Extend a formulation`` whose first ``python`` code
block is a complete program: it adds a constraint through the ``extra_constraints`` hook, solves,
and asserts what the added constraint changes. This test executes that block.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PROBLEM_DOCS = ["dag_split", "gsfl", "sft", "card", "three_tier"]


def extend_example(text: str) -> str | None:
    m = re.search(r"^## Extend a formulation\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    if m is None:
        return None
    code = re.search(r"```python\n(.*?)```", m.group(1), re.S)
    return code.group(1) if code else None


@pytest.mark.parametrize("name", PROBLEM_DOCS)
def test_extend_example_runs(name: str) -> None:
    src = extend_example((DOCS / f"{name}.md").read_text())
    assert src, f"docs/{name}.md has no '## Extend a formulation' section with a python block"
    assert "extra_constraints" in src
    exec(compile(src, f"docs/{name}.md", "exec"), {"__name__": "__extend_example__"})


def test_extend_page_links_every_problem() -> None:
    text = (DOCS / "extend.md").read_text()
    for name in PROBLEM_DOCS:
        assert f"{name}.md#extend-a-formulation" in text
