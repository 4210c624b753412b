"""Optimal DAG model splitting for split learning as a minimum s-t cut.

Spec: ``shared/papers/min-cut-splitting.md`` (Li, Wu, Wu, Zhang, Wang, Shen, "Fast AI Model
Splitting over Edge Networks", arXiv:2507.01041). Only the paper's front matter survived; the
system model below is the spec's reconstruction (its Eqs. 1-7, problem P1, Algorithms A/B1/B2).

The package reads like the spec:

* ``instance.py`` -- per-layer delays (Eqs. 1-3), the instance (pins C1 and V_srv, optional
  memory, §4.4), defaults, ``make_instance``, ``load``, ``random_instance``, ``block_model``;
* ``system.py`` -- :func:`evaluate`: T(D) of Eq. 6 and its breakdown, with C1/C2/pins;
* ``formulations.py`` -- the restructured flow network H of Algorithm A (§5.1) and its minimum
  s-t cut (OR-Tools ``SimpleMaxFlow`` on integer-scaled capacities, or networkx), the MILP / LP
  of §4.3 (and the §4.4 row) in Pyomo and CVXPY;
* ``algorithm.py`` -- Algorithm A and the block-wise Algorithms B1, B2 (§5.3);
* ``baselines.py`` -- chain / Neurosurgeon-style prefix splits, greedy, device-only,
  minimal-device (§8);
* ``exact.py`` -- brute force over ancestor-closed sets (§8.1), the MILP and LP relaxation;
* ``methods.py`` -- ``method_*`` wrappers returning :class:`~slopt.plan.Plan`, ``METHODS``, the
  dynamic-network study of §7, the ``slopt split PROFILE`` command;
* ``plots.py`` -- the split DAG figure, DOT output, the demo figure;
* this file registers the problem (``slopt solve dag-split``).

Convention of the spec: the source s of the flow network is the device, the sink t the server;
``x[v] = True`` means layer v runs on the device (v in D).

Readings chosen where the spec leaves a choice (each documented in ``docs/dag_split.md``):

* inputs (in-degree 0) are pinned to the device (C1, ``pin_inputs=True``); nothing is pinned to
  the server unless ``server_pins`` (or ``pin_outputs=True``) says so (spec §10.5);
* the gradient of a cut tensor has ``gradient_bytes`` (default: the activation size, spec §2);
* a layer with a single successor uses one edge (u, w) of capacity tau_com_u instead of an
  auxiliary vertex (explicitly allowed by spec §5.1, "the result is identical");
* finite arcs of capacity 0 are dropped from the network (they can carry no flow and add nothing
  to any cut);
* "infinity" is the big-M of spec §5.1, M = 1 + sum of all finite (scaled) capacities.
"""

from __future__ import annotations

import numpy as np  # noqa: F401  (re-exported: importable before the split)
import pandas as pd  # noqa: F401

from .instance import (  # noqa: F401
    PROBLEM, DEFAULTS, DYNAMIC_RANGES, OPTIMIZER_STATE_FACTOR, BITS_PER_BYTE, SplitInstance,
    define_layer_delays, define_layer_memory, _mask, _check_rates, make_instance,
    instance_from_delays, _reach, forced_device, forced_server, check_pins, block_model,
    _scenario_params, load, random_instance,
)
from .system import (  # noqa: F401
    dyadic, exact_sum, split_terms, exact_delay, exact_best,
    _as_mask, crossing, evaluate, delays_of_sets,
)
from .formulations import (  # noqa: F401
    FlowNetwork, flow_network, _integer_capacities, min_cut, min_cut_exact, ExtraConstraints,
    _milp_data, build_pyomo, build_cvxpy,
    formulations,
)
from .algorithm import (  # noqa: F401
    algorithm_a, _units, algorithm_b1, B2_MIN_LAYERS, MacroChain, _MACRO_CACHE, macro_chain,
    _macro_chain,
    _solve_units, _delay_classes, algorithm_b2,
)
from .baselines import (  # noqa: F401
    device_only, minimal_device, chain_split, greedy_split,
)
from .exact import (  # noqa: F401
    closed_sets, brute_force, _memory_infeasible, _x_values, threshold_rounding,
    _solve_formulation, milp, lp_relaxation, objective_scale, certify_split, decode_x,
)
from .methods import (  # noqa: F401
    no_solution_plan, plan_from_model,
    make_plan, _timed, method_a, method_a_networkx, method_b1, method_b2, method_brute,
    _method_formulation, method_exact, _method_simple, method_chain, method_neurosurgeon,
    method_greedy, method_device_only, method_minimal_device, method_paper, METHODS, _draw_states,
    dynamic_study, CLI_METHODS, commands,
)
from .plots import (  # noqa: F401
    to_dot, plot_split, demo_plot,
)

__all__ = [
    "DEFAULTS", "SplitInstance", "define_layer_delays", "define_layer_memory", "make_instance",
    "instance_from_delays", "load", "random_instance", "evaluate", "check_pins", "FlowNetwork",
    "flow_network", "min_cut", "algorithm_a", "algorithm_b1", "algorithm_b2", "macro_chain",
    "closed_sets", "brute_force", "build_pyomo", "build_cvxpy", "milp", "lp_relaxation",
    "threshold_rounding", "chain_split", "greedy_split", "device_only", "minimal_device",
    "dynamic_study", "block_model", "to_dot", "plot_split", "PROBLEM", "DYNAMIC_RANGES",
    "METHODS", "make_plan", "MacroChain", "delays_of_sets", "forced_device", "forced_server",
    "crossing", "demo_plot", "formulations", "commands",
]


def _register() -> None:
    from slopt.problems import Problem, register

    register(Problem(
        name=PROBLEM,
        summary="optimal DAG model split device/server as a minimum s-t cut (arXiv:2507.01041)",
        load=load, methods=METHODS, demo_methods=("paper", "exact"), commands=commands,
        random_instance=random_instance, formulations=formulations,
        extra={"demo_plot": demo_plot}))


_register()
