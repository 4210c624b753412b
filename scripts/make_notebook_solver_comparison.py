"""Write notebooks/solver_comparison.ipynb (executed by tests/test_notebooks.py)."""

from pathlib import Path

import nbformat as nbf

cells = [
    nbf.v4.new_markdown_cell(
        "# Solver comparison\n\n"
        "Every registered problem offers formulations (Pyomo, CVXPY, CP-SAT) of the same instances. "
        "`slopt.compare.compare` runs each through every installed backend that covers its class and "
        "flags any answer that disagrees with the best proven bound. Under `SLOPT_FAST=1` (the tests) "
        "the instance counts and time limits are small."),
    nbf.v4.new_code_cell(
        "import os\n"
        "import pandas as pd\n"
        "import matplotlib\n"
        "matplotlib.use('Agg')\n"
        "import matplotlib.pyplot as plt\n"
        "from slopt.compare import compare\n"
        "from slopt.problems import problems\n"
        "from slopt.solvers import available_solvers\n"
        "FAST = os.environ.get('SLOPT_FAST') == '1'\n"
        "pd.DataFrame(available_solvers())[['solver', 'available', 'version', 'classes', 'exact']]"),
    nbf.v4.new_code_cell(
        "INSTANCES = 1 if FAST else 5\n"
        "TIME_LIMIT = 20 if FAST else 120\n"
        "frames = []\n"
        "for name, p in problems().items():\n"
        "    if p.formulations is None or p.random_instance is None:\n"
        "        continue\n"
        "    df = compare(name, instances=INSTANCES, seed=0, time_limit=TIME_LIMIT)\n"
        "    frames.append(df.assign(problem=name))\n"
        "res = pd.concat(frames, ignore_index=True)\n"
        "res[['problem', 'instance', 'formulation', 'class', 'solver', 'status', 'objective', 'gap', 'seconds', 'flag']]"),
    nbf.v4.new_markdown_cell("## Time per backend and formulation"),
    nbf.v4.new_code_cell(
        "t = res[res.status.isin(['optimal', 'feasible'])].pivot_table(\n"
        "    index=['problem', 'formulation'], columns='solver', values='seconds', aggfunc='median')\n"
        "ax = t.plot.barh(logx=True, figsize=(8, 0.4 * len(t) + 2))\n"
        "ax.set_xlabel('median seconds per solve')\n"
        "plt.tight_layout()\n"
        "t"),
    nbf.v4.new_markdown_cell("## Disagreements\n\nRows whose `flag` is set: first-order conic solvers "
                             "(SCS, OSQP) stop at about 1e-5 relative accuracy and are expected here; an "
                             "exact backend in this list would be a bug."),
    nbf.v4.new_code_cell(
        "flagged = res[res.flag != '']\n"
        "from slopt.solvers import BACKENDS\n"
        "exact_flagged = flagged[flagged.solver.map(lambda s: BACKENDS[s].exact)]\n"
        "print(f'{len(flagged)} flagged, {len(exact_flagged)} from exact backends')\n"
        "assert exact_flagged.empty, exact_flagged\n"
        "flagged[['problem', 'instance', 'formulation', 'solver', 'objective', 'best_bound', 'flag']]"),
]
nb = nbf.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
out = Path(__file__).resolve().parents[1] / "notebooks" / "solver_comparison.ipynb"
nbf.write(nb, out)
print(out)
