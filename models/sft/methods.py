"""SFT's method table: the wrappers that run each method and return a Plan, and :data:`METHODS`."""

from __future__ import annotations

from slopt.methods import method
from slopt.plan import Plan

from .algorithm import paper
from .baselines import baseline
from .exact import exact, exact_minlp
from .instance import SFTInstance

__all__ = ["METHODS"]


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




METHODS = {"paper": paper, "exact": _demo_exact, "minlp": exact_minlp,
           **{b: _method(b) for b in ("sl", "sfl", "fl", "cpsl", "no-compression", "equal-spectrum", "fixed-split",
                                      "topk-only", "quant-only")}}
