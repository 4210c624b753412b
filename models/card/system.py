"""CARD system model (spec §3), vectorised over turns: rates (Eq. R-5), device delay (R-2), server
cycles (R-3), communication delay (R-6), training delay (R-7), server energy (R-9), device energy
(§3.7), the per-cut tables with prefix sums (§5.3), and :func:`evaluate` for any decision.

Cut arrays broadcast against (M, N); units: FLOP, bits, seconds, joules, Hz.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from slopt.errors import ValidationError
from slopt.scenarios.radio import shannon_rate_bps

from .instance import CardInstance

def rates_bps(inst: CardInstance) -> tuple[np.ndarray, np.ndarray]:
    """Eq. R-5: uplink and downlink Shannon rates r^U, r^D over the whole band, shape (M, N)."""
    r_U = shannon_rate_bps(inst.B_U, inst.p_n[None, :], inst.h, inst.N_0)
    r_D = shannon_rate_bps(inst.B_D, inst.p_s, inst.h, inst.N_0)
    return r_U, r_D


def device_delay_s(inst: CardInstance, c: np.ndarray) -> np.ndarray:
    """Eq. R-2: T^dev = I Phi(c) / F_n (c broadcast against devices on the last axis)."""
    return inst.iterations * inst.Phi[c] / inst.F_n


def server_cycles(inst: CardInstance, c: np.ndarray) -> np.ndarray:
    """Eq. R-3: Gamma(c) = I (Phi(L) - Phi(c) + phi_head) / g_s, cycles."""
    Phi = inst.Phi
    return inst.iterations * (Phi[-1] - Phi[c] + inst.phi_head_flop) / inst.g_s


def comm_delay_s(inst: CardInstance, c: np.ndarray, r_U: np.ndarray, r_D: np.ndarray) -> np.ndarray:
    """Eq. R-6: adapter download, I activation uploads, I gradient downloads, adapter upload."""
    D_ad = inst.D_ad[c]
    I = inst.iterations
    return D_ad / r_D + I * inst.act_bits[c - 1] / r_U + I * inst.grad_bits[c - 1] / r_D + D_ad / r_U


def server_energy_j(inst: CardInstance, Gamma: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Eq. R-9: E = kappa Gamma f^2 (server communication and idle power ignored, §3.6)."""
    return inst.kappa * Gamma * f ** 2


def device_energy_j(inst: CardInstance, c: np.ndarray, r_U: np.ndarray) -> np.ndarray:
    """§3.7 (reporting only): kappa_n (I Phi(c)/g_n) f_n^2 + p_n (I D_act(c) + D_ad(c)) / r^U."""
    comp = inst.kappa_n * (inst.iterations * inst.Phi[c] / inst.g_n) * inst.f_n ** 2
    return comp + inst.p_n * (inst.iterations * inst.act_bits[c - 1] + inst.D_ad[c]) / r_U


@dataclass
class Evaluation:
    """Per-turn metrics of a decision (arrays of shape (M, N)) and their means."""

    cut: np.ndarray
    freq_hz: np.ndarray
    device_delay_s: np.ndarray
    comm_delay_s: np.ndarray
    server_delay_s: np.ndarray
    delay_s: np.ndarray
    server_energy_j: np.ndarray
    device_energy_j: np.ndarray
    J: np.ndarray                     # per-turn scalarised objective
    delay_excess_s: np.ndarray        # max(0, T - T_max) (zeros without C3)
    r_U: np.ndarray
    r_D: np.ndarray

    @property
    def objective(self) -> float:
        """P0: (1 / (M N)) sum of the per-turn objectives."""
        return float(self.J.mean())

    def metrics(self) -> dict[str, float]:
        """Per-turn means (delay, energies, components), the per-round delay (Eq. R-8), C3 misses."""
        M, N = self.J.shape
        return {
            "delay_s": float(self.delay_s.mean()),                    # per-turn mean (§3.5)
            "round_delay_s": float(self.delay_s.sum(axis=1).mean()),  # Eq. R-8, mean over rounds
            "server_energy_j": float(self.server_energy_j.mean()),
            "device_energy_j": float(self.device_energy_j.mean()),
            "device_delay_s": float(self.device_delay_s.mean()),
            "comm_delay_s": float(self.comm_delay_s.mean()),
            "server_delay_s": float(self.server_delay_s.mean()),
            "mean_cut": float(self.cut.mean()),
            "mean_freq_hz": float(self.freq_hz.mean()),
            # (C3) misses beyond a 1e-9 relative tolerance (solver points sit on the limit)
            "delay_limit_violations": int((self.delay_excess_s > 1e-9 * self.delay_s).sum()),
            "turns": M * N,
        }

    def frame(self) -> pd.DataFrame:
        """One row per turn: round, device, decision, delay, energies, objective, rates."""
        M, N = self.J.shape
        return pd.DataFrame({
            "round": np.repeat(np.arange(M), N), "device": np.tile(np.arange(N), M),
            "cut": self.cut.ravel(), "freq_hz": self.freq_hz.ravel(), "delay_s": self.delay_s.ravel(),
            "server_energy_j": self.server_energy_j.ravel(), "device_energy_j": self.device_energy_j.ravel(),
            "objective": self.J.ravel(), "rate_up_bps": self.r_U.ravel(), "rate_down_bps": self.r_D.ravel(),
        })


def evaluate(inst: CardInstance, cut: Any, freq_hz: Any, *, check: bool = True) -> Evaluation:
    """Delay (R-7), server energy (R-9), device energy (§3.7) and the objective of a decision.

    Parameters
    ----------
    cut : int array (M, N) (or broadcastable: a scalar, one per device), c_{m,n}
    freq_hz : float array (M, N) (or broadcastable), f_{m,n} in Hz
    check : raise on a cut outside C_n (C1/C4) or a frequency outside [f_min, f_max] (C2; a
        relative slack of 1e-9 is allowed and clipped, for solver output).

    The objective is omega_T T + omega_E E per turn (weighted) or max(omega_T T, omega_E E)
    (Tchebycheff, §5.1); (C3) violations are reported in ``delay_excess_s``, not raised.
    """
    shape = (inst.M, inst.N)
    c = np.broadcast_to(np.asarray(cut), shape)
    if not np.issubdtype(c.dtype, np.integer):
        cr = np.rint(np.asarray(c, dtype=float))
        if check and not np.allclose(cr, c, atol=1e-6):
            raise ValidationError("cut: the cut layer must be an integer", "cut")
        c = cr
    c = c.astype(np.int64)
    f = np.broadcast_to(np.asarray(freq_hz, dtype=float), shape).copy()
    if check:
        bad = (c < inst.c_min) | (c > inst.c_max_n[None, :])
        if bad.any():
            m, n = map(int, np.argwhere(bad)[0])
            raise ValidationError(f"cut[{m}, {n}] = {c[m, n]} is outside C_n = {{{inst.c_min}..."
                                  f"{inst.c_max_n[n]}}} of device {inst.device_names[n]!r} (C1/C4)", "cut")
        tol = 1e-9 * inst.f_max
        bad = ~np.isfinite(f) | (f < inst.f_min - tol) | (f > inst.f_max + tol)
        if bad.any():
            m, n = map(int, np.argwhere(bad)[0])
            raise ValidationError(f"freq_hz[{m}, {n}] = {f[m, n]!r} Hz is outside [f_min, f_max] = "
                                  f"[{inst.f_min:g}, {inst.f_max:g}] Hz (C2)", "freq_hz")
        f = np.clip(f, inst.f_min, inst.f_max)
    c = np.clip(c, 1, inst.L)
    r_U, r_D = rates_bps(inst)
    T_dev = device_delay_s(inst, c)
    T_com = comm_delay_s(inst, c, r_U, r_D)
    Gamma = server_cycles(inst, c)
    T_srv = Gamma / f
    T = T_dev + T_com + T_srv
    E = server_energy_j(inst, Gamma, f)
    if inst.scalarisation == "weighted":
        J = inst.omega_T * T + inst.omega_E * E
    else:
        J = np.maximum(inst.omega_T * T, inst.omega_E * E)
    excess = np.zeros(shape) if inst.t_max_s is None else np.maximum(T - inst.t_max_s, 0.0)
    return Evaluation(c, f, T_dev, T_com, T_srv, T, E, device_energy_j(inst, c, r_U), J, excess, r_U, r_D)




def _cut_tables(inst: CardInstance) -> dict[str, np.ndarray]:
    """Per-cut data with prefix sums (§5.3): Gamma_k, device FLOP, uplink/downlink bits per cut."""
    cuts = inst.cuts
    I = inst.iterations
    D_ad = inst.D_ad[cuts]
    return {
        "cuts": cuts,
        "Gamma": server_cycles(inst, cuts),                         # (K,) R-3
        "T_dev": I * inst.Phi[cuts][None, :] / inst.F_n[:, None],     # (N, K) R-2
        "up_bits": D_ad + I * inst.act_bits[cuts - 1],                # adapter upload + I activations
        "down_bits": D_ad + I * inst.grad_bits[cuts - 1],             # adapter download + I gradients
        "infeasible": ~inst.cut_mask(),                               # (N, K) C1/C4
    }


def freq_independent_delay_s(inst: CardInstance, tab: dict[str, np.ndarray] | None = None,
                             rounds: slice = slice(None),
                             rates: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """A_{m,n}(c) = T^dev + T^com for every turn and candidate cut, shape (M', N, K)."""
    tab = tab or _cut_tables(inst)
    r_U, r_D = rates if rates is not None else rates_bps(inst)
    sU, sD = 1.0 / r_U[rounds], 1.0 / r_D[rounds]
    return tab["T_dev"][None] + sU[..., None] * tab["up_bits"] + sD[..., None] * tab["down_bits"]


