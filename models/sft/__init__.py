"""Split fine-tuning (SFT) of a transformer over a wireless cell: activation compression, block
allocation and spectrum allocation minimising the fine-tuning delay (two timescales).

Spec: ``shared/papers/sft-two-timescale.md`` (S. Zhang et al., "Split Fine-Tuning for Large Language
Models in Wireless Networks", arXiv:2501.09237 / IEEE JSTSP 2025). Every equation is the spec's
reconstruction; equation numbers are the spec's own.

The module reads top to bottom like the spec:

* Section 3.2 computation (Eq. 1-4), 3.3 communication (Eq. 5-6), 3.4 compression (Eq. 7-10),
  3.5 memory (Eq. 11), 3.6 accuracy (Eq. 12), 3.7 delay (Eq. 13-15): :func:`evaluate`;
* Section 4.2 P2 (spectrum, one slot): exact Newton/bisection (:func:`p2_bisection`,
  :func:`p2_solve`), SQP (:func:`p2_sqp`, Algorithm 3) and CVXPY (:func:`build_p2_cvxpy`);
* Section 4.1 P0 as a Pyomo MINLP over SAA channel samples (:func:`build_minlp`, SCIP);
* Section 5 the two-timescale algorithm (:func:`alm`, Algorithm 2; :func:`paper`, Algorithm 1);
* the exact small-N baseline (:func:`exact`), the baselines of Section 8.

Readings chosen where the spec lists alternatives (each a parameter of :func:`load`):
``split`` = "per-device" | "common"; ``size_model`` = "eq7" | "direct-rate"; ``accuracy`` =
"eq12" | "per-device" | "depth" | "variance"; ``rate_model`` = "shannon" | "fixed-snr";
``downlink`` = "quantized" | "raw"; ``activation_memory`` = "eq11" | "profile".
See ``docs/sft.md``.
"""

from __future__ import annotations

from slopt.problems import Problem, register

from .instance import (  # noqa: F401
    DEFAULTS, _CHOICES, SFTInstance, define_backbone, section7_scenario, make_instance, load, random_instance,
)
from .system import (  # noqa: F401
    LN2, compute_times, uplink_bits, uplink_bits_grad, downlink_bits, downlink_bits_grad, lora_bits, memory_bytes, accuracy_weights, accuracy, full_band_snr, rate_bps, rate_prime, band_for_rate, p2_bisection, p2_solve, _phases, expected_delay, delay_and_grad, evaluate, make_plan,
)
from .formulations import (  # noqa: F401
    ExtraConstraints, build_p2_cvxpy, build_p2_pyomo, build_minlp, formulations,
)
from .algorithm import (  # noqa: F401
    p2_sqp, theta_vertices, greedy_vertices, theta_local, theta_star, ALMResult, alm, simulate_frame, paper,
)
from .exact import (  # noqa: F401
    block_allocations, claim11_conditions, _reduce, _face_point, exact, _no_solution, vertex_enumeration,
    exact_minlp, log,
)
from .baselines import (  # noqa: F401
    baseline, _score, _theta_star_scored, _best_blocks_fixed_theta,
)
from .methods import (  # noqa: F401
    plan_from_minlp, _method, _demo_exact, METHODS,
)
from .plots import (  # noqa: F401
    delay_bars, demo_plot,
)

__all__ = ["SFTInstance", "load", "random_instance", "evaluate", "p2_bisection", "p2_solve", "p2_sqp", "build_p2_pyomo",
           "build_p2_cvxpy", "build_minlp", "alm", "paper", "exact", "exact_minlp", "baseline",
           "expected_delay", "theta_vertices", "vertex_enumeration", "claim11_conditions",
           "plan_from_minlp", "ExtraConstraints"]

register(Problem(
    name="sft",
    summary="Split fine-tuning: keep ratio + block allocation (ALM) and spectrum (SQP), min delay (arXiv:2501.09237)",
    load=load,
    methods=dict(METHODS),
    demo_methods=("paper", "exact"),
    random_instance=random_instance,
    formulations=formulations,
    extra={"demo_plot": demo_plot},
))
