"""SFT's method table: the wrappers that run each method and return a Plan, the public decoder
from a solved model to a Plan (:func:`plan_from_minlp`), and :data:`METHODS`."""

from __future__ import annotations

from typing import Any

import numpy as np

from slopt.methods import method
from slopt.plan import Plan
from slopt.solvers.result import SolveResult

from .algorithm import paper
from .baselines import baseline
from .exact import exact, exact_minlp, vertex_enumeration
from .instance import SFTInstance
from .system import make_plan

__all__ = ["METHODS", "plan_from_minlp"]


def plan_from_minlp(m: Any, inst: SFTInstance, result: SolveResult | None = None,
                    method: str = "minlp") -> Plan:
    """Decode a solved :func:`~slopt.models.sft.formulations.build_minlp` model into a Plan.

    Reads the keep ratios ``m.theta[n]`` (clipped to [theta_lb, 1]) and the integer blocks
    ``m.l[n]`` (rounded); the objective is recomputed by :func:`evaluate` on all of the
    instance's channel samples, so it is the value of the decision, not the model's (the model may
    use fewer samples or carry extra constraints); the status is the solver's ``result``."""
    th = np.array([m.theta[n].value for n in m.N], dtype=float)
    ll = np.array([round(m.l[n].value) for n in m.N])
    return make_plan(inst, method, np.clip(th, inst.theta_lb, 1), ll, solve_result=result)


def _method(name: str):
    @method
    def run(inst: SFTInstance, *, solver: str | None = None, time_limit: float | None = None,
            mip_gap: float | None = None) -> Plan:
        return baseline(inst, name)
    run.__name__ = name.replace("-", "_")
    return run


@method
def _demo_exact(inst: SFTInstance, *, solver: str | None = None, time_limit: float | None = None,
                mip_gap: float | None = None) -> Plan:
    return exact(inst, solver=solver, time_limit=time_limit, mip_gap=mip_gap)




METHODS = {"paper": paper, "exact": _demo_exact, "vertices": vertex_enumeration, "minlp": exact_minlp,
           **{b: _method(b) for b in ("sl", "sfl", "fl", "cpsl", "no-compression", "equal-spectrum", "fixed-split",
                                      "topk-only", "quant-only")}}
