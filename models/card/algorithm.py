"""The paper's method, CARD (spec §5): the closed-form server frequency of the inner problem
(Eq. R-10/R-11), its Tchebycheff variant (§5.1), and the exhaustive cut search with prefix sums
(§5.2), vectorised over rounds x devices x cuts. :func:`card_decide` returns the decision; the
:class:`~slopt.Plan` wrapper ``card`` is in :mod:`.methods`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from slopt.errors import InfeasibleError

from .instance import CardInstance
from .system import _cut_tables, evaluate, freq_independent_delay_s, rates_bps, server_cycles


def optimal_frequency_hz(omega_T: float, omega_E: float, kappa: float, f_min: float, f_max: float) -> float:
    """Eq. R-10/R-11: f* = clip((omega_T / (2 kappa omega_E))^(1/3), f_min, f_max).

    omega_E = 0 (or kappa = 0) gives f° = +inf (f_max); omega_T = 0 gives f° = 0 (f_min).
    """
    if omega_E == 0 or kappa == 0:
        f0 = math.inf
    elif omega_T == 0:
        f0 = 0.0
    else:
        f0 = (omega_T / (2.0 * kappa * omega_E)) ** (1.0 / 3.0)
    return float(min(f_max, max(f_min, f0)))


def inner_objective(f_hz: Any, Gamma: float, A: float, omega_T: float, omega_E: float, kappa: float) -> Any:
    """P2(c) plus its f-independent part: omega_T (A + Gamma/f) + omega_E kappa Gamma f^2."""
    f = np.asarray(f_hz, dtype=float)
    return omega_T * (A + Gamma / f) + omega_E * kappa * Gamma * f ** 2


def tchebycheff_frequency_hz(A: Any, Gamma: Any, omega_T: float, omega_E: float, kappa: float,
                             f_lo: Any = 0.0, f_hi: Any = math.inf) -> np.ndarray:
    """§5.1 min-max variant: the positive root of omega_E kappa Gamma f^3 - omega_T A f - omega_T Gamma = 0,
    clipped to [f_lo, f_hi] (vectorised; Gamma = 0 gives f_lo).

    Dividing by omega_E kappa Gamma gives the depressed cubic f^3 + p f + q = 0 with p <= 0 and
    q < 0: one sign change, so exactly one positive root, which is the largest real root. It is
    taken from Cardano's formula (one real root) or the trigonometric form (three real roots)
    and polished with two Newton steps.
    """
    A = np.asarray(A, dtype=float)
    G = np.asarray(Gamma, dtype=float)
    pos = G > 0
    Gs = np.where(pos, G, 1.0)
    a3 = omega_E * kappa * Gs
    p = -omega_T * A / a3
    q = -omega_T * Gs / a3
    disc = (q / 2.0) ** 2 + (p / 3.0) ** 3
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        sq = np.sqrt(np.maximum(disc, 0.0))
        one = np.cbrt(-q / 2.0 + sq) + np.cbrt(-q / 2.0 - sq)
        rr = np.sqrt(np.maximum(-p / 3.0, 0.0))
        arg = np.clip(np.where(rr > 0, (-q / 2.0) / np.where(rr > 0, rr ** 3, 1.0), 1.0), -1.0, 1.0)
        three = 2.0 * rr * np.cos(np.arccos(arg) / 3.0)
    x = np.where(disc >= 0, one, three)
    for _ in range(2):  # Newton polish of f^3 + p f + q
        d = 3.0 * x ** 2 + p
        x = np.where(d > 0, x - (x ** 3 + p * x + q) / np.where(d > 0, d, 1.0), x)
    return np.where(pos, np.clip(x, f_lo, f_hi), np.broadcast_to(f_lo, x.shape))


def card_decide(inst: CardInstance, *, chunk_elems: int = 1 << 17) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CARD (spec §5.2): per turn, closed-form frequency and exhaustive search over the cut set.

    Vectorised over rounds x devices x cuts with numpy, in chunks of rounds of about
    ``chunk_elems`` elements (no Python loop over layers or devices). Ties go to the smallest
    cut (``argmin`` returns the first). Returns (cut (M, N), freq_hz (M, N), J (M, N)).

    Raises
    ------
    InfeasibleError
        With (C3): a turn (m, n) where even f_max misses T_max, with the shortfall in seconds.
    """
    tab = _cut_tables(inst)
    cuts, Gamma = tab["cuts"], tab["Gamma"]
    wT, wE, kap = inst.omega_T, inst.omega_E, inst.kappa
    f_star = optimal_frequency_hz(wT, wE, kap, inst.f_min, inst.f_max)
    r_U, r_D = rates_bps(inst)
    sU, sD = wT / r_U, wT / r_D
    fast = inst.scalarisation == "weighted" and inst.t_max_s is None
    if fast:
        # J(c) = omega_T (T_dev + up/r_U + down/r_D) + [omega_T Gamma/f* + omega_E kappa Gamma f*^2]
        base = wT * tab["T_dev"] + (wT * Gamma / f_star + wE * kap * Gamma * f_star ** 2)[None, :]
        base = np.where(tab["infeasible"], np.inf, base)
    K = cuts.shape[0]
    step = max(1, chunk_elems // max(1, inst.N * K))
    best_k = np.empty((inst.M, inst.N), dtype=np.int64)
    best_f = np.empty((inst.M, inst.N))
    best_J = np.empty((inst.M, inst.N))
    if fast:
        buf, buf2 = np.empty(step * inst.N * K), np.empty(step * inst.N * K)
    for m0 in range(0, inst.M, step):
        sl = slice(m0, min(inst.M, m0 + step))
        if fast:
            # J = base + (omega_T / r^U) up_bits + (omega_T / r^D) down_bits, in preallocated buffers
            n_m = sl.stop - sl.start
            J, tmp = buf[: n_m * inst.N * K].reshape(n_m, inst.N, K), buf2[: n_m * inst.N * K].reshape(n_m, inst.N, K)
            np.multiply(sU[sl, :, None], tab["up_bits"], out=J)
            np.multiply(sD[sl, :, None], tab["down_bits"], out=tmp)
            J += tmp
            J += base
            k = np.argmin(J, axis=-1)
            best_k[sl] = k
            best_f[sl] = f_star
            best_J[sl] = np.take_along_axis(J, k[..., None], axis=-1)[..., 0]
            continue
        A = freq_independent_delay_s(inst, tab, sl, (r_U, r_D))       # (m, N, K)
        f_lo = np.full(A.shape, inst.f_min)
        feasible = np.broadcast_to(~tab["infeasible"], A.shape).copy()
        if inst.t_max_s is not None:
            slack = inst.t_max_s - A
            with np.errstate(divide="ignore", invalid="ignore"):
                f_lb = np.where(slack > 0, Gamma / np.where(slack > 0, slack, 1.0), np.inf)
            f_lb = np.where(Gamma > 0, f_lb, np.where(slack >= 0, 0.0, np.inf))
            feasible &= f_lb <= inst.f_max * (1 + 1e-12)
            f_lo = np.maximum(f_lo, np.minimum(f_lb, inst.f_max))
        if inst.scalarisation == "weighted":
            f = np.clip(np.full(A.shape, f_star), f_lo, inst.f_max)   # Eq. R-11 (C3 variant)
            f = np.where(Gamma > 0, f, inst.f_min)
            J = wT * (A + Gamma / f) + wE * kap * Gamma * f ** 2
        else:
            f = tchebycheff_frequency_hz(A, Gamma, wT, wE, kap, f_lo, inst.f_max)
            J = np.maximum(wT * (A + Gamma / f), wE * kap * Gamma * f ** 2)
        J = np.where(feasible, J, np.inf)
        k = np.argmin(J, axis=-1)
        Jk = np.take_along_axis(J, k[..., None], axis=-1)[..., 0]
        if not np.isfinite(Jk).all():
            mm, nn = map(int, np.argwhere(~np.isfinite(Jk))[0])
            raise _delay_limit_error(inst, m0 + mm, nn, A[mm, nn])
        best_k[sl] = k
        best_f[sl] = np.take_along_axis(f, k[..., None], axis=-1)[..., 0]
        best_J[sl] = Jk
    best_f = np.where(Gamma[best_k] > 0, best_f, inst.f_min)   # Eq. R-11: Gamma(c) = 0 -> f_min
    return cuts[best_k], best_f, best_J



def _frequency_for(inst: CardInstance, cut: np.ndarray) -> np.ndarray:
    """CARD's frequency rule for a given cut per turn (R-11 or its C3 / Tchebycheff variants)."""
    ev = evaluate(inst, cut, inst.f_min)
    A = ev.device_delay_s + ev.comm_delay_s
    Gamma = server_cycles(inst, ev.cut)
    lo = np.full(A.shape, inst.f_min)
    if inst.t_max_s is not None:
        slack = inst.t_max_s - A
        with np.errstate(divide="ignore", invalid="ignore"):
            lo = np.maximum(lo, np.where(slack > 0, Gamma / np.where(slack > 0, slack, 1), inst.f_max))
        lo = np.minimum(lo, inst.f_max)
    if inst.scalarisation == "weighted":
        f = np.clip(optimal_frequency_hz(inst.omega_T, inst.omega_E, inst.kappa, inst.f_min, inst.f_max),
                    lo, inst.f_max)
        return np.where(Gamma > 0, f, inst.f_min)
    return tchebycheff_frequency_hz(A, Gamma, inst.omega_T, inst.omega_E, inst.kappa, lo, inst.f_max)



def _delay_limit_error(inst: CardInstance, m: int, n: int, A: np.ndarray | None = None) -> InfeasibleError:
    """(C3) cannot be met in turn (m, n): the error names the turn and the shortfall in seconds."""
    tab = _cut_tables(inst)
    if A is None:
        A = freq_independent_delay_s(inst, tab, slice(m, m + 1))[0, n]
    need = float(np.min(np.where(tab["infeasible"][n], np.inf, A + tab["Gamma"] / inst.f_max)))
    short = need - float(inst.t_max_s)
    return InfeasibleError(
        f"t_max_s: device turn (round {m}, device {n} {inst.device_names[n]!r}) cannot meet the delay "
        f"limit T_max = {inst.t_max_s:g} s (C3): its fastest decision (best cut at f_max) takes "
        f"{need:.6g} s, {short:.6g} s too long", constraint="C3 t_max_s", shortfall=short)


