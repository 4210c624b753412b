"""The spec's system equations: crossing indicator z_u(D) (Eq. 5), the per-iteration training
delay T(D) (Eq. 6) with its breakdown and the feasibility rules C1/C2/pins/§4.4 (:func:`evaluate`),
and T(D) of many splits at once (:func:`delays_of_sets`)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp

from slopt.errors import InfeasibleError, ValidationError
from slopt.dyadic import dyadic, exact_sum  # noqa: F401  (re-exported: exact Eq. 6 sums)
from slopt.profiles import ModelGraph

from .instance import SplitInstance, _mask, make_instance


def split_terms(inst: SplitInstance, x: np.ndarray) -> np.ndarray:
    """The non-negative terms of Eq. 6 for the split x: tau_dev of D, tau_srv of S and tau_com of
    every crossing tensor (z_u = 1), the form without cancellation."""
    z = crossing(inst, x)
    return np.concatenate([inst.tau_dev_s[x], inst.tau_srv_s[~x], inst.tau_com_s[z]])


def exact_delay(inst: SplitInstance, device_set: Any) -> Fraction:
    """T(D) of Eq. 6 in exact rational arithmetic (tau_com_u = ``inst.tau_com_s``, Eq. 3)."""
    return exact_sum(split_terms(inst, _as_mask(inst, device_set)))


def _as_mask(inst: SplitInstance, device_set: Any) -> np.ndarray:
    if isinstance(device_set, np.ndarray) and device_set.dtype == bool:
        if device_set.shape != (inst.n,):
            raise ValidationError(f"device_set: mask of shape {device_set.shape}, expected ({inst.n},)",
                                  "device_set")
        return device_set
    return _mask(inst.graph, device_set, "device_set")


def crossing(inst: SplitInstance, x: np.ndarray) -> np.ndarray:
    """z_u(D) of Eq. 5: u on the device with at least one successor on the server."""
    g = inst.graph
    z = np.zeros(inst.n, dtype=bool)
    z[g.src[x[g.src] & ~x[g.dst]]] = True
    return z


def evaluate(inst: SplitInstance | ModelGraph, device_set: Any, *, check: bool = True,
             check_memory: bool = True, **params: Any) -> dict[str, Any]:
    """Per-iteration training delay T(D) of Eq. 6 and its breakdown.

    Parameters
    ----------
    inst : an instance, or a :class:`ModelGraph` plus the keywords of :func:`make_instance`
    device_set : D as layer names, indices or a boolean mask
    check : raise :class:`InfeasibleError` when D breaks C1, C2, a pin or (with
        ``check_memory``) the memory limit of §4.4

    Returns
    -------
    dict with ``delay_s`` (Eq. 6), ``device_compute_s``, ``server_compute_s``, ``upload_s``,
    ``download_s``, ``communication_s``, ``cut_tensors`` (indices u with z_u = 1, Eq. 5),
    ``device_memory_bytes``, ``feasible`` and ``violations`` (list of text).
    """
    if isinstance(inst, ModelGraph):
        inst = make_instance(inst, **params)
    x = _as_mask(inst, device_set)
    g = inst.graph
    z = crossing(inst, x)
    dev_s = float(inst.tau_dev_s[x].sum())
    srv_s = float(inst.tau_srv_s[~x].sum())
    up_s = float(inst.tau_up_s[z].sum())
    dn_s = float(inst.tau_dn_s[z].sum())
    mem = float(inst.memory_bytes[x].sum())
    violations: list[str] = []
    bad = inst.device_pin & ~x
    if bad.any():
        violations.append(f"C1/device pin: layer {g.names[int(np.flatnonzero(bad)[0])]!r} must be on the "
                          f"device ({int(bad.sum())} such layer(s))")
    back = ~x[g.src] & x[g.dst]
    if back.any():
        i = int(np.flatnonzero(back)[0])
        violations.append(f"C2: layer {g.names[int(g.dst[i])]!r} is on the device but its input "
                          f"{g.names[int(g.src[i])]!r} is on the server ({int(back.sum())} such edge(s))")
    bad = inst.server_pin & x
    if bad.any():
        violations.append(f"server pin: layer {g.names[int(np.flatnonzero(bad)[0])]!r} must be on the "
                          f"server ({int(bad.sum())} such layer(s))")
    if mem > inst.device_memory_bytes * (1 + 1e-12):
        violations.append(f"memory (§4.4): device layers need {mem:.6g} bytes, "
                          f"{mem - inst.device_memory_bytes:.6g} bytes above device_memory_bytes = "
                          f"{inst.device_memory_bytes:.6g}")
    fatal = violations if check_memory else [v for v in violations if not v.startswith("memory")]
    if check and fatal:
        raise InfeasibleError("infeasible split: " + "; ".join(fatal), fatal[0].split(":")[0])
    return {
        # Eq. 6 as the exact sum of its non-negative terms, rounded once (Fraction -> float)
        "delay_s": float(exact_sum(split_terms(inst, x))),
        "device_compute_s": dev_s,
        "server_compute_s": srv_s,
        "upload_s": up_s,
        "download_s": dn_s,
        "communication_s": up_s + dn_s,
        "cut_tensors": np.flatnonzero(z),
        "n_device_layers": int(x.sum()),
        "device_memory_bytes": mem,
        "feasible": not violations,
        "violations": violations,
    }


def delays_of_sets(inst: SplitInstance, X: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """T(D) of Eq. 6 for every row of a boolean matrix (vectorised), summed in the form without
    cancellation (device, server and crossing terms are all non-negative), so each value is
    within about 3n units in the last place of its own exact value; exact comparisons of close
    candidates use :func:`exact_delay`."""
    g = inst.graph
    inc = sp.csr_matrix((np.ones(g.m), (np.arange(g.m), g.src)), shape=(g.m, g.n))
    out = np.empty(X.shape[0])
    for a in range(0, X.shape[0], chunk):
        x = X[a:a + chunk]
        cross = (x[:, g.src] & ~x[:, g.dst]).astype(float)
        z = (inc.T @ cross.T).T > 0
        out[a:a + chunk] = x @ inst.tau_dev_s + (~x) @ inst.tau_srv_s + z @ inst.tau_com_s
    return out


def exact_best(inst: SplitInstance, X: np.ndarray, T: np.ndarray) -> int:
    """Row of ``X`` with the exactly smallest T(D); -1 when no value is finite.

    ``T`` are float values of Eq. 6 in the form without cancellation (:func:`delays_of_sets`),
    each within (3n + 8) units in the last place of its exact value; every row within that margin
    of the smallest is compared in exact rational arithmetic (:func:`exact_delay`). Tie rule:
    among exactly equal delays the smallest device set (fewest layers; for the ancestor-closed
    optima of P1 it is the unique minimal optimal D, the intersection of all optimal ones).
    """
    fin = np.isfinite(T)
    if not fin.any():
        return -1
    tmin = float(T[fin].min())
    tol = (3 * inst.n + 8) * 2.0 ** -52
    cand = np.flatnonzero(fin & (T <= tmin * (1 + 2 * tol)))
    if cand.size == 1:
        return int(cand[0])
    return min((exact_delay(inst, X[i]), int(X[i].sum()), int(i)) for i in cand.tolist())[2]
