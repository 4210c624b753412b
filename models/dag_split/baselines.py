"""The baselines of spec §8: device-only / minimal-device extremes (§8.6), the chain /
Neurosurgeon-style prefix splits (§8.3) and greedy growth (§8.4)."""

from __future__ import annotations

import numpy as np

from slopt.errors import ValidationError

from .instance import SplitInstance, forced_device, forced_server


def device_only(inst: SplitInstance) -> np.ndarray:
    """§8.6: D = V (local training, no traffic), minus descendants of server pins."""
    return ~forced_server(inst)


def minimal_device(inst: SplitInstance) -> np.ndarray:
    """§8.6: the smallest feasible D: the input layers and the ancestors of device pins."""
    return forced_device(inst)


def chain_split(inst: SplitInstance, order: np.ndarray | None = None, model: str = "exact"
                ) -> np.ndarray:
    """§8.3: the best prefix D_k = {v_1..v_k} of one topological order (O(n + m), vectorised).

    ``model="exact"``: each prefix priced with Eq. 6 (all crossing tensors);
    ``model="chain"``: Neurosurgeon-style, the prefix priced as if the model were a chain (only
    the output of v_k is sent), then the chosen split is re-priced exactly by the caller.
    """
    g = inst.graph
    order = g.topological_order if order is None else np.asarray(order, dtype=np.int64)
    n = g.n
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    dev = np.concatenate([[0.0], np.cumsum(inst.tau_dev_s[order])])
    srv = float(inst.tau_srv_s.sum()) - np.concatenate([[0.0], np.cumsum(inst.tau_srv_s[order])])
    if model == "exact":
        maxsucc = np.full(n, -1, dtype=np.int64)
        np.maximum.at(maxsucc, g.src, pos[g.dst])
        has = maxsucc >= 0
        diff = np.zeros(n + 2)
        np.add.at(diff, pos[has] + 1, inst.tau_com_s[has])
        np.add.at(diff, maxsucc[has] + 1, -inst.tau_com_s[has])
        com = np.cumsum(diff)[: n + 1]
    elif model == "chain":
        com = np.concatenate([[0.0], inst.tau_com_s[order]])
        com[-1] = 0.0
    else:
        raise ValidationError(f"model = {model!r}; use 'exact' or 'chain'", "model")
    T = dev + srv + com
    ks = np.arange(n + 1)
    lo = pos[inst.device_pin].max() + 1 if inst.device_pin.any() else 0
    hi = pos[inst.server_pin].min() if inst.server_pin.any() else n
    T[(ks < lo) | (ks > hi)] = np.inf
    k = int(np.argmin(T))
    x = np.zeros(n, dtype=bool)
    x[order[:k]] = True
    return x


def greedy_split(inst: SplitInstance, max_steps: int | None = None) -> np.ndarray:
    """§8.4: greedy growth from the minimal device set; repeatedly add the layer (all inputs on
    the device) that lowers T most; stop when none does. Fast per step, not optimal."""
    g = inst.graph
    x = minimal_device(inst)
    blocked = forced_server(inst)
    com = inst.tau_com_s
    steps = 0
    while max_steps is None or steps < max_steps:
        steps += 1
        on_srv_succ = np.bincount(g.src, weights=~x[g.dst], minlength=g.n)
        preds_srv = np.bincount(g.dst, weights=~x[g.src], minlength=g.n)
        cand = ~x & ~blocked & (preds_srv == 0)
        if not cand.any():
            break
        # adding v: pay tau_dev - tau_srv, upload v's output if it has successors, and save the
        # upload of each predecessor u whose only server-side consumer was v
        save = np.bincount(g.dst, weights=np.where(x[g.src] & (on_srv_succ[g.src] == 1), com[g.src], 0.0),
                           minlength=g.n)
        delta = inst.tau_dev_s - inst.tau_srv_s + np.where(g.out_degree > 0, com, 0.0) - save
        delta = np.where(cand, delta, np.inf)
        v = int(np.argmin(delta))
        if not delta[v] < -1e-15:
            break
        x[v] = True
    return x
