"""Three-tier split fine-tuning of an LLM with LoRA: user / edge / cloud (SplitLLM).

Spec: ``shared/papers/three-tier-llm-sl.md`` (S. Zhang et al., "SplitLLM: Hierarchical Split
Learning for Large Language Model over Wireless Network", arXiv:2501.13318). Every equation of
the spec is a reconstruction; this package implements it as written and exposes the spec's
alternative readings as instance parameters (see ``docs/three_tier.md``):

* ``cloud_adapter``: ``"per-stream"`` (default, one LoRA replica per stream at the cloud, Eq. 9
  with rho_T = E) or ``"shared"`` (one shared adapter, rho_T = 1) -- spec §9 item 2;
* ``sfl_weights``: ``"copies"`` (default, SplitFed keeps N full server-side copies, rho_W = N) or
  ``"shared"`` (rho_W = 1) -- spec §7 item 2, §9 item 3;
* ``activation_model``: ``"korthikanti"`` (default, Eq. 3 times gamma, Eq. 4, Eq. 5) or
  ``"profile"`` (the frozen-base/LoRA count of :func:`slopt.profiles.transformer.transformer`,
  which drops the inputs of frozen linear layers) -- spec §9 item 9;
* ``include_labels`` (Eq. 15 D_lab travels with the activations, §9 item 4), ``include_lora_flop``
  (Eq. 11 LoRA FLOP "may be included"), ``include_aggregation`` (Eq. 19; off = the "aggregation
  time neglected" special case of §4.3).

Files: ``instance.py`` (§3.3 per-layer figures, the instance, §6 defaults, loaders),
``system.py`` (§3.3 memory, §3.4 delay, ``evaluate()``, Eq. 21, the measured memory check),
``formulations.py`` (§4.1 fixed-cut MILP), ``algorithm.py`` (§4.3 Algorithm B),
``baselines.py`` (§7), ``exact.py`` (§4.1/§4.4 exact P1, P2, brute force), ``methods.py`` (the
methods returning a ``Plan``), ``plots.py``.

Indices: layer index 0 is the embedding, 1..L the blocks, L+1 the head (final norm, LM head,
loss). Cut pair (l_u, l_e): the user runs 0..l_u, the edge l_u+1..l_e, the cloud l_e+1..L+1.
"""

from __future__ import annotations

from slopt.errors import InfeasibleError, ValidationError
from slopt.plan import Plan
from slopt.problems import Problem, register
from slopt.solvers import SolveResult, solve

from .algorithm import (_algorithm_b, _b_schedule, _memory_pruned_pairs, _perfect_matching_size,
                        bottleneck_assignment, cut_pair_table)
from .baselines import (_two_tier_radio, baseline_delay, baseline_memory, best_fixed_cut, edge_sfl_assignment,
                        headline_table, memory_comparison)
from .exact import OPT_TOL, ExactResult, _brute_force, _exact, _memory_first, brute_force_fixed_cut
from .formulations import (ExtraConstraints, _schedule_from_x, build_fixed_cut, define_constraints,
                           define_edge_epigraphs, define_objective, define_sets, define_sorted_bounds,
                           define_symmetry_breaking, define_variables, edge_classes, formulations,
                           schedule_from_model, solve_fixed_cut)
from .instance import (_OPTION_KEYS, _TRAINING_KEYS, GIB, PROBLEM, READINGS, SPEC6, Instance, LayerFigures,
                       _finish, _model, _split_params, _target_dims, check_cut_pair, check_instance,
                       from_scenario, layer_figures, load, random_instance, random_scenario, spec6_instance)
from .methods import (METHODS, _baseline, _plan, algorithm_b, plan_from_model, baseline_edge_sfl, baseline_fed_lora,
                      baseline_shared_server, baseline_sl, baseline_splitfed, brute_force, exact, memory_first)
from .plots import demo_plot
from .system import (PairDelays, _cloud_layers, _edge_layers, _measure, _user_layers, aggregate_adapters,
                     check_schedule, cut_pair_memory, epoch_delay, evaluate, feasible_cut_pairs, lower_bound,
                     measure_memory, memory_cloud, memory_edge, memory_user, node_memory, pair_delays,
                     payload_bits, round_time)

__all__ = [
    "Instance", "LayerFigures", "layer_figures", "load", "random_instance", "spec6_instance",
    "node_memory", "memory_user", "memory_edge", "memory_cloud", "cut_pair_memory",
    "PairDelays", "pair_delays", "round_time", "evaluate", "feasible_cut_pairs",
    "build_fixed_cut", "solve_fixed_cut", "exact", "memory_first", "algorithm_b", "brute_force",
    "baseline_sl", "baseline_splitfed", "baseline_shared_server", "baseline_fed_lora", "baseline_edge_sfl",
    "edge_sfl_assignment",
    "baseline_memory", "memory_comparison", "aggregate_adapters", "measure_memory",
    "lower_bound", "cut_pair_table", "PROBLEM", "schedule_from_model", "plan_from_model", "edge_classes",
    "ExtraConstraints", "best_fixed_cut", "headline_table",
]

register(Problem(
    name=PROBLEM,
    summary="three-tier LoRA split fine-tuning: cut pair + user-edge pairing per round (min epoch delay)",
    load=load,
    methods=dict(METHODS),
    random_instance=random_instance,
    formulations=formulations,
    extra={"demo_plot": demo_plot},
))
