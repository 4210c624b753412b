"""The paper's own method (spec Section 5): Algorithm 3 (SmallTimescaleSQP, :func:`p2_sqp`), the
theta-step at fixed blocks (face vertices of Claim 11, greedy vertices, local SLSQP,
:func:`theta_star`), Algorithm 2 (LargeTimescaleALM with integer recovery, :func:`alm`) and
Algorithm 1 (:func:`paper`, with the per-slot frame of :func:`simulate_frame`)."""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from slopt.methods import method
from slopt.plan import Plan

from .instance import SFTInstance
from .system import (_phases, accuracy_weights, delay_and_grad, expected_delay, full_band_snr, make_plan,
                     memory_bytes, p2_solve, rate_bps, rate_prime)

__all__ = ["p2_sqp", "theta_vertices", "greedy_vertices", "theta_local", "theta_star", "ALMResult", "alm",
           "simulate_frame", "paper"]


def p2_sqp(t: np.ndarray, S: np.ndarray, snr: np.ndarray, B_hz: float, rate_model: str = "shannon",
           x_lo: float = 1e-9, ftol: float = 1e-12, maxiter: int = 200) -> tuple[float, np.ndarray, Any]:
    """Algorithm 3 (SmallTimescaleSQP): SLSQP on the epigraph form of P2-U (or P2-D), one slot.

    Scaled units (Mbit, MHz, s). Start x_n = 1/N, z = max_n t_n + S_n / R_n(1/N). Returns
    (z*, x*, scipy result).
    """
    t = np.asarray(t, float)
    Sm = np.asarray(S, float) / 1e6
    c = np.asarray(snr, float)
    Bm = B_hz / 1e6
    N = t.size

    def R(x: np.ndarray) -> np.ndarray:
        return rate_bps(np.maximum(x, x_lo), c, Bm, rate_model)

    def cons(v: np.ndarray) -> np.ndarray:
        return v[N] - t - Sm / R(v[:N])

    def cons_jac(v: np.ndarray) -> np.ndarray:
        x = np.maximum(v[:N], x_lo)
        J = np.zeros((N, N + 1))
        J[np.arange(N), np.arange(N)] = Sm * rate_prime(x, c, Bm, rate_model) / R(x) ** 2
        J[:, N] = 1.0
        return J

    x0 = np.full(N, 1.0 / N)
    v0 = np.concatenate([x0, [float((t + Sm / R(x0)).max())]])
    res = minimize(lambda v: v[N], v0, jac=lambda v: np.eye(N + 1)[N], method="SLSQP",
                   bounds=[(x_lo, 1.0)] * N + [(None, None)],
                   constraints=[{"type": "ineq", "fun": cons, "jac": cons_jac},
                                {"type": "ineq", "fun": lambda v: 1 - v[:N].sum(),
                                 "jac": lambda v: np.concatenate([-np.ones(N), [0.0]])}],
                   options={"ftol": ftol, "maxiter": maxiter})
    x = np.clip(res.x[:N], x_lo, 1.0)
    x = x / max(x.sum(), 1.0)
    z = float((t + Sm / R(x)).max())            # the delay the allocation actually achieves
    return z, x, res


# =========================================================================== theta-step (fixed l)
def theta_vertices(inst: SFTInstance, l: np.ndarray) -> np.ndarray:
    """Vertices of the accuracy face {sum w~ theta = theta_req, theta_lb <= theta <= 1} (Claim 11).

    All devices but one at a bound (theta_lb or 1), the free one solving the active coupling
    constraint; plus theta = theta_lb when that already meets the requirement. Exponential in N
    (N 2^(N-1) candidates): for the exact small-N baseline.
    """
    N = inst.N
    lb = inst.theta_lb
    if inst.theta_req <= 0 or float((accuracy_weights(inst, l) * lb).sum()) >= inst.theta_req - 1e-15:
        return lb[None, :].copy()
    wt = accuracy_weights(inst, l)
    out = []
    for k in range(N):
        others = [m for m in range(N) if m != k]
        for bits in itertools.product((0, 1), repeat=N - 1):
            th = lb.copy()
            for m, bt in zip(others, bits):
                if bt:
                    th[m] = 1.0
            rest = inst.theta_req - float(sum(wt[m] * th[m] for m in others))
            tk = rest / wt[k]
            if lb[k] - 1e-12 <= tk <= 1 + 1e-12:
                th[k] = min(max(tk, lb[k]), 1.0)
                out.append(th)
    return np.unique(np.array(out), axis=0) if out else lb[None, :].copy()


def greedy_vertices(inst: SFTInstance, l: np.ndarray, scores: list[np.ndarray]) -> np.ndarray:
    """Vertices filled greedily in the order of each score (cheapest marginal delay per unit of
    accuracy weight first): the polynomial vertex candidates used by the paper's algorithm."""
    lb = inst.theta_lb
    wt = accuracy_weights(inst, l)
    out = []
    for sc in scores:
        th = lb.copy()
        need = inst.theta_req - float((wt * lb).sum())
        for n in np.argsort(sc / wt):
            if need <= 1e-15:
                break
            inc = min(1 - th[n], need / wt[n])
            th[n] += inc
            need -= inc * wt[n]
        out.append(th)
    return np.array(out)


def theta_local(inst: SFTInstance, l: np.ndarray, theta0: np.ndarray, maxiter: int = 100) -> np.ndarray:
    """Local solve of the theta-subproblem at fixed l (SLSQP, analytic gradient), from ``theta0``."""
    lb = inst.theta_lb
    wt = accuracy_weights(inst, l)
    J0 = max(expected_delay(inst, theta0, l)[0], 1e-9)

    def fg(th: np.ndarray) -> tuple[float, np.ndarray]:
        J, gth, _ = delay_and_grad(inst, np.clip(th, lb, 1.0), l)
        return J / J0, gth / J0

    cons = []
    if inst.theta_req > 0:
        cons = [{"type": "ineq", "fun": lambda th: (wt @ th - inst.theta_req) / max(inst.theta_req, 1e-12),
                 "jac": lambda th: wt / max(inst.theta_req, 1e-12)}]
    res = minimize(fg, np.clip(theta0, lb, 1.0), jac=True, method="SLSQP", bounds=list(zip(lb, np.ones(inst.N))),
                   constraints=cons, options={"ftol": 1e-12, "maxiter": maxiter})
    th = np.clip(res.x, lb, 1.0)
    if inst.theta_req > 0 and wt @ th < inst.theta_req:        # restore exact feasibility
        short = inst.theta_req - wt @ th
        room = (1 - th) * wt
        th = th + (1 - th) * min(1.0, short / max(room.sum(), 1e-300)) * (room > 0)
    return th


def theta_star(inst: SFTInstance, l: np.ndarray, theta_warm: np.ndarray | None = None, *,
               exhaustive: bool = False, polish: bool = True) -> tuple[np.ndarray, float]:
    """theta*(l) of Algorithm 2 step 6: best of the vertex candidates (all face vertices when
    ``exhaustive``, else the greedy ones) and of a local solve warm-started at ``theta_warm``."""
    l = np.asarray(l, float)
    if inst.theta_req <= 0:                     # per-device bounds only: theta = theta_lb (Claim 7)
        th = inst.theta_lb.copy()
        return th, float(expected_delay(inst, th, l)[0])
    if exhaustive:
        cands = theta_vertices(inst, l)
    else:
        _, g0, _ = delay_and_grad(inst, inst.theta_lb, l)
        scores = [g0, np.arange(inst.N, dtype=float), -inst.gains.mean(0)]
        if theta_warm is not None:
            _, gw, _ = delay_and_grad(inst, theta_warm, l)
            scores.append(gw)
        cands = greedy_vertices(inst, l, scores)
    if theta_warm is not None:
        wt = accuracy_weights(inst, l)
        if wt @ theta_warm >= inst.theta_req - 1e-12:
            cands = np.vstack([cands, theta_warm])
    Js = expected_delay(inst, cands, np.broadcast_to(l, cands.shape))
    best = int(np.argmin(Js))
    th, J = cands[best], float(Js[best])
    if polish:
        for start in {best, *([len(cands) - 1] if theta_warm is not None else [])}:
            th2 = theta_local(inst, l, cands[start])
            J2 = float(expected_delay(inst, th2, l)[0])
            if J2 < J - 1e-12 * abs(J):
                th, J = th2, J2
    return th, J


# =========================================================================== Algorithm 2 (ALM)
@dataclass
class ALMResult:
    theta: np.ndarray
    l: np.ndarray
    theta_relaxed: np.ndarray
    l_relaxed: np.ndarray
    J: float
    history: pd.DataFrame
    recovery: pd.DataFrame = field(default_factory=pd.DataFrame)


def alm(inst: SFTInstance, *, mu0: float = 10.0, growth: float = 10.0, mu_max: float = 1e6, eps_feas: float = 1e-4,
        eps_rel: float = 1e-4, max_outer: int = 50, fixed_theta: np.ndarray | None = None,
        polish: bool | None = None, pair_moves_max: int = 6) -> ALMResult:
    """Algorithm 2 (LargeTimescaleALM): PHR augmented Lagrangian on the relaxed P1, then the
    integer recovery of step 6 (floor, re-optimised theta*(l), greedy +-1 search on l).

    Constraints (normalised, step 2): c_n^mem = (M_n(l_n) - M_n^max) / M_n^max, c^acc =
    (theta_req - sum_n w~_n theta_n) / theta_req. Box: theta_lb <= theta <= 1, 1 <= l <= L-1.
    Inner solver: L-BFGS-B with the envelope-theorem gradient of J. ``fixed_theta`` holds theta
    (no-compression baseline). With ``split="common"`` l is one variable.
    """
    N, L = inst.N, inst.L
    common = inst.p("split") == "common"
    lb = inst.theta_lb
    fix = fixed_theta is not None
    polish = (N <= 12) if polish is None else polish

    def unpack(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        th = np.asarray(fixed_theta, float) if fix else v[:N]
        ll = v[-1:] if common else v[-N:]
        return th, np.broadcast_to(ll, (N,)).astype(float)

    theta0 = np.ones(N) if not fix else np.asarray(fixed_theta, float)
    l0 = np.minimum(inst.l_cap, L // 2).astype(float)
    v = np.concatenate([[] if fix else theta0, [l0.min()] if common else l0])
    nv = v.size
    J0 = max(float(expected_delay(inst, *unpack(v))[0]), 1e-9)
    has_acc = inst.theta_req > 0 and not fix
    m_i = N + (1 if has_acc else 0)
    lam = np.zeros(m_i)
    mu = mu0
    wt_fn = lambda ll: accuracy_weights(inst, ll)  # noqa: E731

    def constraints(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        th, ll = unpack(v)
        c = list((memory_bytes(inst, ll) - inst.M_max_bytes) / inst.M_max_bytes)
        G = np.zeros((m_i, nv))
        for n in range(N):
            G[n, nv - 1 if common else nv - N + n] = inst.m_block_bytes / inst.M_max_bytes[n]
        if has_acc:
            wt = wt_fn(ll)
            c.append((inst.theta_req - wt @ th) / inst.theta_req)
            G[N, :N] = -wt / inst.theta_req
            if inst.p("accuracy") == "depth":
                eta = inst.p("depth_eta")
                dl = -inst.w * th * eta / inst.L / (1 + eta) / inst.theta_req
                if common:
                    G[N, -1] = dl.sum()
                else:
                    G[N, -N:] = dl
        return np.array(c), G

    def lagr(v: np.ndarray, lam: np.ndarray, mu: float) -> tuple[float, np.ndarray]:
        th, ll = unpack(v)
        J, gth, gl = delay_and_grad(inst, th, ll)
        grad = np.concatenate([[] if fix else gth, [gl.sum()] if common else gl]) / J0
        c, G = constraints(v)
        m = np.maximum(0.0, lam + mu * c)
        val = J / J0 + (np.sum(m ** 2) - np.sum(lam ** 2)) / (2 * mu)
        return val, grad + G.T @ m

    bounds = ([] if fix else list(zip(lb, np.ones(N)))) + [(1.0, L - 1.0)] * (1 if common else N)
    rows = []
    viol_prev = math.inf
    J_prev = J0
    for k in range(max_outer):
        res = minimize(lagr, v, args=(lam, mu), jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": 300, "gtol": 1e-8, "ftol": 1e-11})
        v = res.x
        c, _ = constraints(v)
        viol = float(np.max(np.abs(np.maximum(c, -lam / mu)))) if m_i else 0.0
        lam = np.maximum(0.0, lam + mu * c)
        J = float(expected_delay(inst, *unpack(v))[0])
        rows.append({"outer": k, "J_s": J, "violation": viol, "max_constraint": float(c.max()) if m_i else 0.0,
                     "mu": mu, "inner_iterations": int(res.nit)})
        if viol > 0.25 * viol_prev:
            mu = min(growth * mu, mu_max)
        viol_prev = viol
        if viol <= eps_feas and abs(J - J_prev) <= eps_rel * abs(J_prev):
            break
        J_prev = J
    th_rel, l_rel = unpack(v)

    # ---- step 6: integer recovery
    cap = inst.l_cap.astype(float)
    l_int = np.clip(np.minimum(np.floor(l_rel + 1e-9), cap), 1, None)
    if fix:
        th = np.asarray(fixed_theta, float)
        J = float(expected_delay(inst, th, l_int)[0])
        rescore = lambda ll, th_w: (th, float(expected_delay(inst, th, ll)[0]))  # noqa: E731
    else:
        rescore = lambda ll, th_w: theta_star(inst, ll, th_w, polish=polish, exhaustive=N <= 6)  # noqa: E731
        th, J = rescore(l_int, np.clip(th_rel, lb, 1))
    rec = [{"step": 0, "move": "floor", "blocks": l_int.astype(int).tolist(), "J_s": J}]
    moves = [np.full(N, s) for s in (1, -1)] if common else \
        [s * np.eye(N)[n] for n in range(N) for s in (1, -1)]
    # pair moves (two devices at once) are tried when no single move improves, for N <= pair_moves_max
    pairs = [] if common or N > pair_moves_max else \
        [s1 * np.eye(N)[i] + s2 * np.eye(N)[j] for i in range(N) for j in range(i + 1, N)
         for s1 in (1, -1) for s2 in (1, -1)]

    def local_search(l_int, th, J, tag):
        while True:
            best = None
            for group in (moves, pairs):
                for mv in group:
                    l2 = l_int + mv
                    if (l2 < 1).any() or (l2 > cap).any():
                        continue
                    th2, J2 = rescore(l2, th)
                    if J2 < J - 1e-12 * abs(J) and (best is None or J2 < best[2]):
                        best = (l2, th2, J2)
                if best is not None:
                    break
            if best is None:
                return l_int, th, J
            l_int, th, J = best
            rec.append({"step": len(rec), "move": tag, "blocks": l_int.astype(int).tolist(), "J_s": J})

    l_int, th, J = local_search(l_int, th, J, "+-1")
    # step 6b (our addition): for the recovered theta, J is convex in the relaxed l (Claim 8); solve
    # that relaxation, score the floor/ceil box of its solution (N <= 10; rounding above) and restart
    # the +-1 search from an improvement. Alternates at most 3 times.
    for _ in range(3):
        if fix or common:
            break
        res_l = minimize(lambda ll: (lambda J_, g_, gl_: (J_ / J0, gl_ / J0))(*delay_and_grad(inst, th, ll)),
                         l_int.astype(float), jac=True, method="L-BFGS-B", bounds=list(zip(np.ones(N), cap)))
        lc = res_l.x
        if N <= 10:
            box = np.array(list(itertools.product(*[sorted({np.floor(v), np.ceil(v)}) for v in lc])))
        else:
            box = np.round(lc)[None, :]
        box = np.clip(box, 1, cap)
        Jb = expected_delay(inst, np.broadcast_to(th, box.shape), box)
        lb_ = box[int(np.argmin(Jb))]
        th_b, J_b = rescore(lb_, th)
        if J_b >= J - 1e-12 * abs(J):
            break
        rec.append({"step": len(rec), "move": "relaxed-l", "blocks": lb_.astype(int).tolist(), "J_s": J_b})
        l_int, th, J = local_search(lb_, th_b, J_b, "+-1")
    return ALMResult(th, l_int.astype(int), th_rel, l_rel, J, pd.DataFrame(rows), pd.DataFrame(rec))


# =========================================================================== Algorithm 1 (two timescales)
def simulate_frame(inst: SFTInstance, theta: np.ndarray, l: np.ndarray, n_slots: int | None = None,
                   seed: int | None = None, solver: str = "sqp") -> pd.DataFrame:
    """Small timescale of Algorithm 1: per slot of the dynamic channel (``Scenario.snapshots``),
    observe g(t), allocate spectrum by SQP (Algorithm 3; ``solver="exact"`` uses :func:`p2_solve`),
    record the slot's delay D(t) of Eq. 13 and the allocation."""
    n_slots = inst.p("n_slots") if n_slots is None else n_slots
    tF, tB, tS, SU, SD = _phases(inst, theta, l)
    rm = inst.p("rate_model")
    rows = []
    for snap in inst.scenario.snapshots(n_slots, seed=inst.p("seed") + 104729 if seed is None else seed):
        g = snap.gain[:, 0]
        cU, cD = full_band_snr(inst, g)
        if solver == "sqp":
            z, x, _ = p2_sqp(tF, SU, cU, inst.B_U_hz, rm)
            w_, y, _ = p2_sqp(tB, SD, cD, inst.B_D_hz, rm)
        else:
            z, x, _ = p2_solve(tF, SU, cU, inst.B_U_hz, rm)
            w_, y, _ = p2_solve(tB, SD, cD, inst.B_D_hz, rm)
            z, w_ = float(z), float(w_)
        eq_z = float((tF + SU / rate_bps(1.0 / inst.N, cU, inst.B_U_hz, rm)).max())
        eq_w = float((tB + SD / rate_bps(1.0 / inst.N, cD, inst.B_D_hz, rm)).max())
        rows.append({"slot": snap.slot, "delay_s": z + tS + w_, "uplink_phase_s": z, "downlink_phase_s": w_,
                     "equal_spectrum_delay_s": eq_z + tS + eq_w, "x_min": float(np.min(x)),
                     "x_max": float(np.max(x))})
    return pd.DataFrame(rows)


@method
def paper(inst: SFTInstance, *, solver: str | None = None, time_limit: float | None = None,
          mip_gap: float | None = None, n_slots: int | None = None) -> Plan:
    """Algorithm 1: large timescale (theta, l) by the ALM of Algorithm 2 with integer recovery,
    small timescale spectrum per slot by SQP (Algorithm 3) on a simulated frame of the dynamic
    channel. The objective is the expected total delay of :func:`evaluate` (optimal P2 per sample)."""
    t0 = time.perf_counter()
    res = alm(inst)
    t_large = time.perf_counter() - t0
    frame = simulate_frame(inst, res.theta, res.l, n_slots)
    sec = time.perf_counter() - t0
    return make_plan(inst, "paper", res.theta, res.l, seconds=sec,
                     extra_details={"alm": res.history, "integer_recovery": res.recovery, "frame": frame},
                     extra_metrics={"large_timescale_s": t_large,
                                    "frame_mean_delay_s": float(frame["delay_s"].mean()),
                                    "frame_equal_spectrum_delay_s": float(frame["equal_spectrum_delay_s"].mean()),
                                    "alm_outer_iterations": float(len(res.history))})


