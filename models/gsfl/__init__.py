"""GSFL: group-based split federated learning -- per-round latency and its optimisation.

Spec: ``shared/papers/gsfl-latency.md`` (S. Zhang, W. Wu, P. Hu, S. Li, N. Zhang, "Split Federated
Learning: Speed up Model Training in Resource-Limited Wireless Networks", arXiv:2305.18889).
Only the paper's abstract was recovered; the latency model, problem P and Algorithms 2-5 are the
spec's reconstruction and are implemented here as written. Equation numbers are the spec's.

The package reads like the spec (one file per part, see ``docs/gsfl.md``):

* ``instance.py``      the instance (clients, edge servers, channel; the check at the door)   spec §2, §7
* ``system.py``        cut figures (Φ, Ψ, W_c, W_S, s_c), rates, per-step latency, round latency,
                       baselines SL/FL/SFL/CPSL (Alg. 2), separable form (a_n, C_n), Alg. 5   spec §3, §4
* ``formulations.py``  MISOCP (CVXPY, Pyomo), equal-bandwidth MILP (Pyomo), CP-SAT             spec §4
* ``algorithm.py``     LPT + local search (Alg. 4)                                             spec §5
* ``baselines.py``     SL/FL/SplitFed/CPSL at their best cut, the un-optimised scheme, K = 1,
                       the equal-bandwidth optimum                                             spec §8
* ``exact.py``         exact (Alg. 3) and brute force                                          spec §5
* ``methods.py``       methods returning ``slopt.Plan``; ``plots.py`` the demo figure

Readings chosen where the spec leaves a choice (each has a switch; see ``docs/gsfl.md``):

* ``intra_group = "sequential"`` (Reading A, default) or ``"parallel"`` (GSFL-P, Eq. 21), spec §10.1;
* ``rate_model = "fixed-se"`` (default; the exact solvers' model, so every exact objective is
  reproduced by :func:`evaluate`) or ``"shannon"``, spec §3.2;
* ``shared_band = True`` (groups share B^U, B^D by FDMA fractions α_k, default) or False (each
  group has its own full band, α_k = 1), spec §10.5;
* ``shared_backhaul = False`` (edge servers fed in parallel, default) or True (×K), Eq. 11-12;
* ``relay = "per-turn"`` (every client downloads and uploads W_c, default) or ``"broadcast"``
  (the per-turn download replaced by one broadcast max_n W_c/r^D_n(1)), spec §3.1, §3.4, C2.
"""

from __future__ import annotations

from slopt.problems import Problem, register

from .algorithm import (_ks, _neighbours, best_server_mapping, _slots_for, _surrogate, heuristic, heuristic_ac, local_search,
                        lpt_groups)
from .baselines import (SCHEME_DEFAULT_CUT, _solve_makespan, baseline, equal_bandwidth, scheme_only,
                        single_group)
from .exact import (LOG, PARTITION_MAX_CLIENTS, PARTITION_TOL, _all_assignments, _deadline_partition,
                    _meet_in_the_middle, exact_partition, _cut_lower_bound, _exact_milp_own_band, brute_force, brute_force_ac,
                    exact, set_partitions, solve_misocp)
from .formulations import (CPSAT_UNITS, ExtraConstraints, _CutColumns, _master, _subset_sums, build_deadline_milp, _coeffs, _cvx_structure, _pyo_structure, _symmetric, _valid_bounds,
                           _x_from_cvxpy, _x_from_pyomo, build_bandwidth_cvxpy, build_cpsat, build_milp_pyomo,
                           build_misocp_cvxpy, build_misocp_pyomo, formulations)
from .instance import (BISECTION_STEPS, BITS_PER_BYTE, BRUTE_FORCE_MAX_CLIENTS, DEFAULTS, PROBLEM, SCHEMES,
                       SHANNON_INNER_STEPS, SHANNON_TOL, _LOAD_KEYS, Instance, _choice, _chain_columns,
                       _default_profile, _memory_shortfall, _read_profile, load, make_instance, random_instance,
                       spec_vgg11)
from .methods import (METHODS, assignment_from_model, method_exact_misocp, plan_from_assignment, plan_from_model, _baseline_method, _final, _plan, method_brute_force, method_equal_bandwidth,
                      method_exact, method_exact_cvxpy, method_paper, method_scheme)
from .plots import demo_plot, plot_latency_by_cut
from .system import (COMPONENTS, _TURN, CutFigures, Latency, _alpha_needed_shannon, _bisect, _check_alpha,
                     _check_assignment, _div, _evaluate_fl, _gamma, _group_times, _latency, _onehot,
                     _round_batch, _steps, _train_time_fixed_se, bandwidth_split, bandwidth_split_general,
                     cut_figures, downlink_rate_bps, evaluate, separable, sync_s, train_time_ac,
                     train_time_batch, uplink_rate_bps)

__all__ = [
    "Instance", "make_instance", "load", "random_instance", "spec_vgg11", "CutFigures", "cut_figures",
    "uplink_rate_bps", "downlink_rate_bps", "Latency", "evaluate", "separable", "sync_s",
    "bandwidth_split", "bandwidth_split_general", "build_bandwidth_cvxpy", "build_misocp_cvxpy",
    "build_misocp_pyomo", "build_milp_pyomo", "build_cpsat", "train_time_batch", "lpt_groups",
    "local_search", "heuristic", "heuristic_ac", "brute_force_ac", "train_time_ac", "solve_misocp", "exact", "single_group", "equal_bandwidth", "brute_force", "set_partitions",
    "baseline", "scheme_only", "formulations", "exact_partition", "best_server_mapping", "build_deadline_milp",
    "plan_from_model", "plan_from_assignment", "assignment_from_model", "ExtraConstraints",
]


register(Problem(
    name=PROBLEM,
    summary="GSFL: cut, client groups and bandwidth minimising split-federated round latency",
    load=load,
    methods=METHODS,
    demo_methods=("paper", "exact", "sl", "splitfed", "fl"),
    random_instance=random_instance,
    formulations=formulations,
    extra={"demo_plot": demo_plot},
))
