"""Every notebook in notebooks/ runs, draws each figure inline, and (paper notebooks) tabulates the
paper's figure beside ours.

Two checks per notebook:

* the committed file is executed: every plotting cell carries an image output;
* a fresh run (fast configuration, ``SLOPT_FAST=1`` in the kernel's environment) raises no error,
  every plotting cell produces at least one image, and a paper notebook shows a table (HTML or
  text) whose text names the paper.

A *plotting cell* is a code cell whose source calls matplotlib or a slopt plot function
(:data:`PLOT_CALL`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
#: Notebooks that reproduce a paper and must show the paper's number beside ours.
PAPER_NOTEBOOKS = {"card", "dag_split", "gsfl", "sft", "three_tier"}
PLOT_CALL = re.compile(r"\bplt\.|\.plot\(|\bplot_\w*\(|\bplots\.\w+\(|\.subplots\(|\.imshow\(|\.bar\(|"
                       r"\.scatter\(|\.hist\(|\bdemo_plot\(|\bpareto_front\(|\bbreakdown_bars\(")


def _plotting_cells(nb: nbformat.NotebookNode) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and PLOT_CALL.search(c.source)
            and not c.source.lstrip().startswith("import")]


def _images(cell: nbformat.NotebookNode) -> int:
    return sum(1 for o in cell.get("outputs", []) if "image/png" in o.get("data", {}))


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for o in cell.get("outputs", []):
        data = o.get("data", {})
        parts.append(str(data.get("text/html", "")) + str(data.get("text/plain", "")) + str(o.get("text", "")))
    return "\n".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_is_executed(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    cells = _plotting_cells(nb)
    assert cells, f"{path.name}: no plotting cell"
    missing = [i for i in cells if _images(nb.cells[i]) == 0]
    assert not missing, f"{path.name}: plotting cells {missing} have no image in the committed file"
    assert not any("matplotlib.use(" in c.source for c in nb.cells if c.cell_type == "code"), \
        f"{path.name}: matplotlib.use(...) stops inline figures"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_draws(path: Path, tmp_path: Path) -> None:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    os.environ.setdefault("SLOPT_FAST", "1")
    os.environ.pop("MPLBACKEND", None)   # the kernel's inline backend must draw into the notebook
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    cells = _plotting_cells(nb)
    missing = [i for i in cells if _images(nb.cells[i]) == 0]
    assert not missing, f"{path.name}: plotting cells {missing} drew no image"
    if path.stem in PAPER_NOTEBOOKS:
        tables = [_text(c) for c in nb.cells if c.cell_type == "code"]
        assert any(re.search(r"paper", t, re.I) and ("<table" in t or "\n" in t) for t in tables), \
            f"{path.name}: no table shows the paper's figure beside ours"


def test_validate_notebook_tabulates_prediction_beside_measurement() -> None:
    """notebooks/validate.ipynb (committed, full configuration): the totals table of the three
    models carries the measured seconds beside Eq. 6's prediction and the same-window prediction,
    and the summary line counts the totals within the 15 % target for both profiles."""
    path = Path(__file__).resolve().parents[1] / "notebooks" / "validate.ipynb"
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(_text(c) for c in nb.cells if c.cell_type == "code")
    for model in ("ResNet-18", "inception DAG", "GPT-2 small"):
        assert model in text, model
    for col in ("measured_s", "predicted_eq6_s", "error_eq6", "predicted_window_s", "error_window"):
        assert col in text, col
    m = re.search(r"profile before the runs (\d+)/(\d+), same-window profile (\d+)/(\d+)", text)
    assert m, "no count of the totals within 15 %"
    assert int(m.group(2)) == int(m.group(4)) == 9          # three models x three rates
