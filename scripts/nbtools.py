"""What every ``scripts/make_notebook_*.py`` shares: cells in, an (optionally executed) notebook out.

A generator lists its cells as ``("md", text)`` / ``("code", source)`` pairs and ends with::

    if __name__ == "__main__":
        write(CELLS, "card")            # notebooks/card.ipynb; --execute runs it and keeps outputs

``--execute`` runs the notebook in a fresh kernel (the full configuration unless ``SLOPT_FAST`` is
set in the environment) so that it is committed with its figures and tables.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat as nbf

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def notebook(cells: Sequence[tuple[str, str]]) -> nbf.NotebookNode:
    """A notebook of ``("md" | "code", source)`` cells with the python3 kernelspec."""
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    for kind, src in cells:
        if kind not in ("md", "code"):
            raise ValueError(f"cell kind must be 'md' or 'code', got {kind!r}")
        nb.cells.append(nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src))
    return nb


def execute(nb: nbf.NotebookNode, timeout_s: float = 1800.0) -> nbf.NotebookNode:
    """Run ``nb`` in a fresh python3 kernel (working directory ``notebooks/``) and return it."""
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=int(timeout_s), kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def write(cells: Sequence[tuple[str, str]], name: str, argv: Sequence[str] | None = None) -> Path:
    """Write ``notebooks/<name>.ipynb``; with ``--execute`` in ``argv`` (default ``sys.argv``) run it first."""
    argv = sys.argv[1:] if argv is None else list(argv)
    nb = notebook(cells)
    if "--execute" in argv:
        execute(nb)
    out = NOTEBOOKS / f"{name}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    nbf.write(nb, out)
    print(f"wrote {out}")
    return out
