"""CARD baselines (spec §8), as decisions (cut (M, N), freq_hz (M, N)); the :class:`~slopt.Plan`
wrappers ``vanilla_sl``, ``fixed_dvfs``, ``adaptive_fmax``, ``random_scheme`` (all through the same
``evaluate()``) are in :mod:`.methods`.

* B1 vanilla SL: the same fixed cut (default L // 2) for every device and round, server at f_max;
* B2 fixed cut + DVFS: the fixed cut, frequency by CARD's rule (Eq. R-11 or its §5.1 variants);
* B3 adaptive cut at full speed: per turn the delay-optimal cut (omega_E = 0), server at f_max;
* B4 random: a uniform random cut in C_n and f uniform in [f_min, f_max] (or f_max), seeded.
"""

from __future__ import annotations

import numpy as np

from .algorithm import _frequency_for, card_decide
from .instance import CardInstance


def _fixed_cut(inst: CardInstance) -> np.ndarray:
    """The fixed cut (default L // 2) clipped into each device's cut set, shape (M, N)."""
    return np.broadcast_to(np.minimum(inst.fixed_cut, inst.c_max_n)[None, :], (inst.M, inst.N)).copy()


def vanilla_sl_decision(inst: CardInstance) -> tuple[np.ndarray, np.ndarray]:
    """B1: the same fixed cut for every device and round, server at f_max."""
    return _fixed_cut(inst), np.full((inst.M, inst.N), inst.f_max)


def fixed_dvfs_decision(inst: CardInstance) -> tuple[np.ndarray, np.ndarray]:
    """B2: fixed cut, frequency by CARD's rule (Eq. R-11, or its §5.1 variants under C3 / min-max).

    Under (C3) a fixed cut may miss T_max even at f_max; the plan then runs at f_max and the
    misses are counted in ``metrics["delay_limit_violations"]``.
    """
    cut = _fixed_cut(inst)
    return cut, _frequency_for(inst, cut)


def adaptive_fmax_decision(inst: CardInstance) -> tuple[np.ndarray, np.ndarray]:
    """B3: per turn the delay-optimal cut (omega_E = 0), server at f_max."""
    c, _, _ = card_decide(inst.replace(omega_T=1.0, omega_E=0.0, scalarisation="weighted", t_max_s=None))
    return c, np.full(c.shape, inst.f_max)


def random_decision(inst: CardInstance) -> tuple[np.ndarray, np.ndarray]:
    """B4: uniform random cut in C_n and uniform random f in [f_min, f_max] (or f_max), seeded."""
    rng = np.random.default_rng([inst.seed, 4])
    hi = inst.c_max_n[None, :] + 1
    c = rng.integers(inst.c_min, np.broadcast_to(hi, (inst.M, inst.N)))
    f = rng.uniform(inst.f_min, inst.f_max, size=c.shape) if inst.random_frequency == "uniform" \
        else np.full(c.shape, inst.f_max)
    return c, f


def tuned_vanilla_sl_decision(inst: CardInstance, target: str = "objective") -> tuple[np.ndarray, np.ndarray]:
    """Vanilla SL at its best: one fixed cut for every device and round (clipped into each C_n)
    and one server frequency for every turn, both chosen to minimise ``target`` over the horizon.

    ``target``: ``"objective"`` (CARD's own P0 objective: per cut, a bounded 1-D minimisation of
    the horizon mean over f, which is convex in f, plus both ends), ``"delay_s"`` (then f = f_max,
    delay falls with f) or ``"server_energy_j"`` (then f = f_min, energy grows with f). Ties go to
    the smallest cut. Every candidate is scored by :func:`~.system.evaluate`.
    """
    from scipy.optimize import minimize_scalar

    from .system import evaluate

    if target not in ("objective", "delay_s", "server_energy_j"):
        from slopt.errors import ValidationError

        raise ValidationError(f"target = {target!r}; use 'objective', 'delay_s' or 'server_energy_j'", "target")

    def score(c: int, f: float) -> float:
        cut = np.broadcast_to(np.minimum(c, inst.c_max_n)[None, :], (inst.M, inst.N))
        ev = evaluate(inst, cut, f)
        return ev.objective if target == "objective" else float(getattr(ev, target).mean())

    best = (np.inf, inst.c_min, inst.f_max)
    for c in range(inst.c_min, int(inst.c_max_n.max()) + 1):
        if target == "delay_s":
            cands = [inst.f_max]
        elif target == "server_energy_j":
            cands = [inst.f_min]
        else:
            lo, hi = inst.f_min / 1e9, inst.f_max / 1e9     # GHz for the 1-D search
            r = minimize_scalar(lambda g: score(c, g * 1e9), bounds=(lo, hi), method="bounded",
                                options={"xatol": 1e-10})
            cands = [inst.f_min, inst.f_max, float(r.x) * 1e9]
        for f in cands:
            v = score(c, f)
            if v < best[0]:
                best = (v, c, f)
    _, c, f = best
    cut = np.broadcast_to(np.minimum(c, inst.c_max_n)[None, :], (inst.M, inst.N)).copy()
    return cut, np.full((inst.M, inst.N), f)
