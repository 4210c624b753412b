"""CARD: joint cut layer and server frequency for delay/energy-efficient split fine-tuning of LLMs.

Implements ``shared/papers/card-delay-energy.md`` (Li, Wu, Li, Zhang, "Energy-Efficient Split
Learning for Fine-Tuning Large Language Models in Edge Networks", arXiv:2412.00090, IEEE
Networking Letters 2025). Only the paper's structure was recovered; every equation below is the
spec's reconstruction (Eq. R-k) and every number a "reconstructed default, spec §7".

The package reads like the spec (one file per part, see ``docs/card.md``):

* ``instance.py`` §2/§7  :class:`CardInstance` -- the data of one horizon (M rounds x N devices), built at the
  door by :func:`make_instance` from any *chain* :class:`~slopt.profiles.ModelGraph` (default:
  the analytic LLaMA-2-7B LoRA profile of :mod:`slopt.profiles.transformer`) and a
  :class:`~slopt.scenarios.Scenario` (default: :func:`paper_setting`).
* ``system.py`` §3  the system model, vectorised over turns: device delay (R-2), server cycles (R-3),
  rates (R-5), communication delay (R-6), training delay (R-7), server energy (R-9), device
  energy (§3.7), and :func:`evaluate` for any decision.
* ``algorithm.py`` §5  :func:`optimal_frequency_hz` (R-10/R-11), :func:`tchebycheff_frequency_hz` (§5.1),
  :func:`card_decide` (exhaustive cut search with prefix sums, numpy over rounds x devices x cuts)
  and :func:`card` (the paper's method as a :class:`~slopt.Plan`).
* ``formulations.py`` §4.3  explicit formulations: (a) :func:`build_inner` (CVXPY DCP, one cut) and
  :func:`build_enumeration` (all turns x cuts in one DCP problem), (b) :func:`build_misocp`
  (perspective MISOCP, CVXPY, for SCIP), (c) :func:`build_minlp` (naive non-convex MINLP,
  Pyomo, for SCIP's global search); ``exact.py`` solves one of them (:func:`exact`).
* ``baselines.py`` §8  baselines :func:`vanilla_sl`, :func:`fixed_dvfs`, :func:`adaptive_fmax`,
  :func:`random_scheme`, all through the same :func:`evaluate`.
* ``methods.py`` / ``plots.py`` §4.1  :func:`pareto_front` (weight sweep) and :func:`plot_pareto`.

Units: FLOP (multiply-add = 2 FLOP), bits inside rate computations only, seconds, joules, Hz.
Solver scaling (spec §4.3): solvers see f in GHz, Gamma in gigacycles and kappa * 1e27.

Spec readings chosen (parameter that switches each in brackets; see ``docs/card.md``):

* one (c, f) per device turn, turns independent (§4.1, §10.7);
* layer figures: the graph's ``embedding`` vertex (if first) is merged into layer 1, its
  ``head`` vertex (if last) is the server-only phi_head, neglected by default as in §7
  [``include_head``]; phi_l = (1 + rho_B) * forward_l with rho_B = 1 [``rho_B``; None uses the
  profile's own backward FLOP];
* D_act(c) is read per cut from the graph (activation_bytes of layer c, gradient_bytes for the
  return), so non-uniform chains are handled; for a transformer it does not depend on c;
* device memory for (C4): Mem(c) = sum_{l<=c} param_bytes + optimizer_bytes + b *
  saved_activation_bytes (activation_bytes when absent) [``device_memory_bytes``];
* the random baseline draws f uniformly in [f_min, f_max] [``random_frequency="fmax"``];
* fixed-cut baselines use c = L // 2 clipped into each device's cut set [``fixed_cut``].
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from slopt.errors import InfeasibleError, SloptError, ValidationError
from slopt.plan import Plan
from slopt.problems import Problem, register
from slopt.profiles import ModelGraph
from slopt.scenarios import Channel, Device, Scenario, Server
from slopt.scenarios.radio import dbm_to_w, rayleigh_power, shannon_rate_bps
from slopt.solvers import SolveResult, solve
from slopt.validate import as_float_array, check_int, check_nonneg, check_positive

from .instance import (DEFAULTS, GHZ, KAPPA_SCALE, PARAMS, PROBLEM, TABLE, _INSTANCE_KEYS, _PROFILE_KEYS, _SCENARIO_KEYS,
                       _SERVER_KEYS, CardInstance, _check_instance, _check_server_params, _num, _per_device,
                       layer_figures, load, make_instance, paper_setting, random_instance)
from .system import (Evaluation, _cut_tables, comm_delay_s, device_delay_s, device_energy_j, evaluate,
                     freq_independent_delay_s, rates_bps, server_cycles, server_energy_j)
from .algorithm import (_delay_limit_error, _frequency_for, card_decide, inner_objective, optimal_frequency_hz,
                        tchebycheff_frequency_hz)
from .formulations import CvxpyModel, ExtraConstraints, _turn_data, build_enumeration, build_inner, build_minlp, build_misocp
from .formulations import formulations as _formulations
from .exact import CERTIFIED_GAP, SCIP_TIGHT, _raise_status, inner_bounds, read_minlp, read_misocp, solve_exact, solve_turn
from .baselines import (_fixed_cut, adaptive_fmax_decision, fixed_dvfs_decision, random_decision,
                        tuned_vanilla_sl_decision, vanilla_sl_decision)
from .methods import (METHODS, PAPER_HEADLINE, _plan, adaptive_fmax, card, compare_schemes, fixed_dvfs,
                      headline_table, pareto_front, plan_from_minlp, plan_from_misocp, random_scheme, to_plan,
                      tuned_vanilla_sl, vanilla_sl)
from .methods import exact as _exact
from .plots import demo_plot, plot_cuts, plot_pareto

# the functions, not the submodules of the same name, are the package's ``exact`` / ``formulations``
exact = _exact
formulations = _formulations

__all__ = [
    "CardInstance", "DEFAULTS", "make_instance", "paper_setting", "load", "random_instance",
    "layer_figures", "evaluate", "Evaluation",
    "optimal_frequency_hz", "tchebycheff_frequency_hz", "card_decide", "card",
    "build_inner", "build_enumeration", "build_misocp", "build_minlp", "exact", "formulations",
    "vanilla_sl", "fixed_dvfs", "adaptive_fmax", "random_scheme", "compare_schemes",
    "pareto_front", "plot_pareto", "plot_cuts", "get_problem", "to_plan", "solve_exact",
    "plan_from_minlp", "plan_from_misocp", "read_minlp", "read_misocp", "CvxpyModel", "ExtraConstraints",
    "tuned_vanilla_sl", "headline_table", "PAPER_HEADLINE",
]

_PROBLEM = register(Problem(
    name=PROBLEM,
    summary="CARD: cut layer + server GPU frequency per device turn, delay/energy split LLM fine-tuning",
    load=load,
    methods=dict(METHODS),
    demo_methods=("paper", "exact"),
    random_instance=random_instance,
    formulations=formulations,
    extra={"demo_plot": demo_plot},
))


def get_problem() -> Problem:
    """The registered ``card`` problem (for ``Problem.run``)."""
    return _PROBLEM
