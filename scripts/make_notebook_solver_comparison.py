"""Write notebooks/solver_comparison.ipynb (executed by tests/test_notebooks.py).

    python scripts/make_notebook_solver_comparison.py [--execute]
"""

from nbtools import write

CELLS = [
    ("md", "# Solver comparison\n\n"
           "Every registered problem offers formulations (Pyomo, CVXPY, CP-SAT) of the same instances. "
           "`slopt.compare.compare` runs each through every installed backend that covers its class and "
           "flags any answer that disagrees with the best proven bound. Under `SLOPT_FAST=1` (the tests) "
           "the instance counts and time limits are small."),
    ("code", "import os\n"
             "import pandas as pd\n"
             "import matplotlib.pyplot as plt\n"
             "from slopt.compare import compare\n"
             "from slopt.problems import problems\n"
             "from slopt.solvers import available_solvers\n"
             "%matplotlib inline\n"
             "FAST = os.environ.get('SLOPT_FAST') == '1'\n"
             "pd.DataFrame(available_solvers())[['solver', 'available', 'version', 'classes', 'exact']]"),
    ("code", "INSTANCES = 1 if FAST else 3\n"
             "TIME_LIMIT = 20 if FAST else 60\n"
             "frames = []\n"
             "for name, p in problems().items():\n"
             "    if p.formulations is None or p.random_instance is None:\n"
             "        continue\n"
             "    df = compare(name, instances=INSTANCES, seed=0, time_limit=TIME_LIMIT)\n"
             "    frames.append(df.assign(problem=name))\n"
             "res = pd.concat(frames, ignore_index=True)\n"
             "res[['problem', 'instance', 'formulation', 'class', 'solver', 'status', 'objective', 'gap', 'seconds', 'flag']]"),
    ("md", "## Time per backend and formulation"),
    ("code", "t = res[res.status.isin(['optimal', 'feasible'])].pivot_table(\n"
             "    index=['problem', 'formulation'], columns='solver', values='seconds', aggfunc='median')\n"
             "fig, ax = plt.subplots(figsize=(8, 0.4 * len(t) + 2))\n"
             "t.plot.barh(logx=True, ax=ax)\n"
             "ax.set_xlabel('median seconds per solve')\n"
             "fig.tight_layout()\n"
             "plt.show()\n"
             "t"),
    ("md", "## Disagreements\n\nRows whose `flag` is set: first-order conic solvers "
           "(SCS, OSQP) stop at about 1e-5 relative accuracy and are expected here; an "
           "exact backend in this list would be a bug."),
    ("code", "flagged = res[res.flag != '']\n"
             "from slopt.solvers import BACKENDS\n"
             "exact_flagged = flagged[flagged.solver.map(lambda s: BACKENDS[s].exact)]\n"
             "print(f'{len(flagged)} flagged, {len(exact_flagged)} from exact backends')\n"
             "assert exact_flagged.empty, exact_flagged\n"
             "flagged[['problem', 'instance', 'formulation', 'solver', 'objective', 'best_bound', 'flag']]"),
]

if __name__ == "__main__":
    write(CELLS, "solver_comparison")
