"""The baselines of spec Section 8, all scored by :func:`~slopt.models.sft.system.evaluate`."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from slopt.errors import ValidationError
from slopt.plan import Plan

from .algorithm import alm, greedy_vertices, theta_star, theta_vertices
from .instance import SFTInstance
from .system import delay_and_grad, evaluate, expected_delay, make_plan

__all__ = ["baseline"]


# =========================================================================== baselines (Section 8)
def baseline(inst: SFTInstance, name: str) -> Plan:
    """The Section 8 baselines, all through :func:`evaluate`:

    * ``sl``: vanilla split learning, sequential devices, raw activations, best common split;
    * ``sfl``: SplitFed, parallel devices with per-device server copies, raw, equal spectrum, best common split;
    * ``fl``: federated LoRA, whole model on every device (memory reported, usually violated);
    * ``cpsl``: cluster-based parallel SL, raw, C clusters of devices sorted by speed (C and a common
      split chosen best), Eq. 13 inside a cluster with the whole band, clusters in sequence;
    * ``no-compression``: the proposed split/spectrum with theta = 1 and raw fp32 activations;
    * ``topk-only`` / ``quant-only``: SFT with a single compression stage;
    * ``equal-spectrum``: (theta, l) optimised for x_n = y_n = 1/N every slot;
    * ``fixed-split``: l_n = min(floor(L/2), l_n^mem), theta and spectrum optimised.
    """
    t0 = time.perf_counter()
    N = inst.N
    ones = np.ones(N)
    if name in ("sl", "sfl"):
        best = None
        for lc in range(1, int(inst.l_cap.min()) + 1):
            obj, _, _ = evaluate(inst, ones, np.full(N, lc), scheme=name, spectrum="equal", compression="none")
            if best is None or obj < best[0]:
                best = (obj, lc)
        return make_plan(inst, name, ones, np.full(N, best[1]), time.perf_counter() - t0, scheme=name,
                         spectrum="equal", compression="none")
    if name == "fl":
        return make_plan(inst, name, ones, np.full(N, inst.L), time.perf_counter() - t0, scheme="fl",
                         compression="none")
    if name == "cpsl":        # C clusters of devices sorted by compute speed, best (C, common split)
        order = np.argsort(-inst.f_flops)
        best = None
        for C in range(1, N + 1):
            cl = np.empty(N, dtype=int)
            cl[order] = np.arange(N) * C // N
            for lc in range(1, int(inst.l_cap.min()) + 1):
                obj, _, _ = evaluate(inst, ones, np.full(N, lc), scheme="cpsl", compression="none", clusters=cl)
                if best is None or obj < best[0]:
                    best = (obj, lc, cl)
        plan = make_plan(inst, name, ones, np.full(N, best[1]), time.perf_counter() - t0, scheme="cpsl",
                         compression="none", clusters=best[2])
        plan.decision["clusters"] = best[2].tolist()
        return plan
    if name in ("no-compression", "quant-only"):
        comp = "none" if name == "no-compression" else "quant"
        sub = dataclasses.replace(inst, theta_lb=ones, theta_req=0.0)
        l = _best_blocks_fixed_theta(sub, comp)
        return make_plan(inst, name, ones, l, time.perf_counter() - t0, compression=comp)
    if name == "topk-only":
        l = alm(inst).l
        th, _ = _theta_star_scored(inst, l, lambda T, Lb: _score(inst, T, Lb, compression="topk"))
        return make_plan(inst, name, th, l, time.perf_counter() - t0, compression="topk")
    if name == "equal-spectrum":
        res = alm(inst)
        l = res.l.astype(float)
        score = lambda T, Lb: _score(inst, T, Lb, spectrum="equal")  # noqa: E731
        th, J = _theta_star_scored(inst, l, score)
        improved = True
        while improved:           # greedy +-1 block search under equal spectrum
            improved = False
            for n in range(N):
                for s in (1, -1):
                    l2 = l.copy()
                    l2[n] += s
                    if 1 <= l2[n] <= inst.l_cap[n]:
                        th2, J2 = _theta_star_scored(inst, l2, score)
                        if J2 < J - 1e-12 * J:
                            l, th, J, improved = l2, th2, J2, True
        return make_plan(inst, name, th, l, time.perf_counter() - t0, spectrum="equal")
    if name == "fixed-split":
        l = np.minimum(inst.L // 2, inst.l_cap).astype(float)
        if inst.p("split") == "common":
            l = np.full(N, l.min())
        th, _ = theta_star(inst, l, None, exhaustive=N <= 6)
        return make_plan(inst, name, th, l, time.perf_counter() - t0)
    raise ValidationError(f"unknown baseline {name!r}", "method")


def _score(inst: SFTInstance, T: np.ndarray, Lb: np.ndarray, **kw: Any) -> np.ndarray:
    return np.array([evaluate(inst, t, lb, **kw)[0] for t, lb in zip(T, Lb)])


def _theta_star_scored(inst: SFTInstance, l: np.ndarray, score) -> tuple[np.ndarray, float]:
    cands = theta_vertices(inst, l) if inst.N <= 6 else greedy_vertices(
        inst, l, [delay_and_grad(inst, inst.theta_lb, l)[1], -inst.gains.mean(0)])
    Js = score(cands, np.broadcast_to(l, cands.shape))
    i = int(np.argmin(Js))
    return cands[i], float(Js[i])


def _best_blocks_fixed_theta(inst: SFTInstance, compression: str) -> np.ndarray:
    """Greedy +-1 block search from the memory/half-depth start for fixed theta and a compression variant."""
    N = inst.N
    th = np.ones(N)
    l = np.minimum(inst.L // 2, inst.l_cap).astype(float)
    J = float(expected_delay(inst, th, l, compression=compression)[0])
    while True:
        cands = []
        for n in range(N):
            for s in (1, -1):
                l2 = l.copy()
                l2[n] += s
                if 1 <= l2[n] <= inst.l_cap[n]:
                    cands.append(l2)
        if inst.p("split") == "common":
            cands = [np.full(N, l[0] + s) for s in (1, -1) if 1 <= l[0] + s <= inst.l_cap.min()]
        if not cands:
            return l
        C = np.array(cands)
        Js = expected_delay(inst, np.ones_like(C), C, compression=compression)
        i = int(np.argmin(Js))
        if Js[i] >= J - 1e-12 * J:
            return l
        l, J = C[i], float(Js[i])


