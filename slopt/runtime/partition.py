"""Split a PyTorch model at a dag-split plan: the device part and the server part as two modules.

The model is captured with ``torch.export`` (non-strict), exactly as
:func:`slopt.profiles.from_torch` captures it, and its ATen operators are grouped into the same
vertices (same ``granularity``, same names, same edges; checked against the profile). A device
set D (any ancestor-closed set of vertices, not only a chain prefix) then assigns every operator
to a side and the exported graph is cut into two ``torch.fx.GraphModule`` s:

* data operators (those depending on a user input) run on the side of their vertex;
* operators that depend on no input (weight transposes, masks built from ``arange``) are
  recomputed on every side that needs them; an in-place update without users (BatchNorm's
  ``num_batches_tracked += 1``) runs on the side that owns the buffer;
* a value produced on the device and read on the server is a **cut tensor**: it crosses the
  link forward (activation up) and its gradient crosses back (download).

Each part is an ``nn.Module`` (:class:`Part`) that owns copies of its parameters and buffers and
maps a dict of named input values to a dict of named output values. A trainable parameter read on
both sides (a tied embedding / LM head) cannot be split and raises :class:`ValidationError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from slopt.errors import ValidationError
from slopt.profiles.graph import ModelGraph
from slopt.profiles.torch_loader import _module_path  # the same vertex grouping as from_torch

__all__ = ["Traced", "Part", "SplitModel", "trace", "split_model", "vertex_part", "device_mask"]

DEVICE, SERVER = 0, 1




def first_difference(got: Sequence[str], want: Sequence[str]) -> tuple[int, str, str]:
    """The first index where two vertex-name lists differ and the two names there (``"<end>"``
    past the end of a list); for errors that say which vertex of a profile is not the model's."""
    k = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    return k, (got[k] if k < len(got) else "<end>"), (want[k] if k < len(want) else "<end>")


@dataclass
class Traced:
    """A model captured with ``torch.export`` and its operators grouped into profile vertices.

    Attributes
    ----------
    ep : the ``ExportedProgram``
    module : the original module (parameters and buffers are read from it)
    names, src, dst : vertices and edges, as :func:`slopt.profiles.from_torch` builds them
    vertex_of : operator (fx node name) -> vertex index, for the data operators that form vertices
    placeholders : placeholder name -> ("param" | "buffer" | "constant" | "input", target)
    in_spec, out_spec : pytree specs of the user inputs / outputs
    """

    ep: Any
    module: Any
    names: list[str]
    src: np.ndarray
    dst: np.ndarray
    vertex_of: dict[str, int]
    placeholders: dict[str, tuple[str, str]]
    data: dict[str, bool]
    out_spec: Any = None
    n_user_inputs: int = 0

    def check_profile(self, graph: ModelGraph) -> None:
        """Raise :class:`ValidationError` when ``graph`` is not the profile of this model."""
        if list(graph.names) != self.names:
            diff, got, want = first_difference(graph.names, self.names)
            raise ValidationError(
                f"the profile does not match the model: {graph.n} vertices vs {len(self.names)} traced; "
                f"first difference at vertex {diff}: profile {got!r}, model {want!r} (trace the model "
                f"with the granularity the profile was made with)", "graph")
        mine = set(zip(self.src.tolist(), self.dst.tolist()))
        theirs = set(zip(graph.src.tolist(), graph.dst.tolist()))
        if mine != theirs:
            e = sorted(mine ^ theirs)[0]
            raise ValidationError(f"the profile does not match the model: edge {self.names[e[0]]!r} -> "
                                  f"{self.names[e[1]]!r} is in only one of them", "graph")


def trace(module: Any, example_inputs: Any, example_kwargs: Mapping[str, Any] | None = None, *,
          granularity: str | int | Callable[[str], str] = "module") -> Traced:
    """Export ``module`` and group its operators into vertices the way ``from_torch`` does."""


    from slopt.profiles.torch_loader import _last_op_mode, _untraceable

    if not isinstance(module, torch.nn.Module):
        raise ValidationError(f"module must be a torch.nn.Module, got {type(module).__name__}", "module")
    args = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    last_op = _last_op_mode()
    try:                          # the module itself (not a meta copy): devices in the graph are real
        with last_op():
            ep = torch.export.export(module, args, kwargs=dict(example_kwargs or {}), strict=False)
    except Exception as exc:  # noqa: BLE001 - every export failure becomes a ValidationError
        raise _untraceable(module, exc, last_op.last) from exc
    sig = ep.graph_signature
    ph: dict[str, tuple[str, str]] = {}
    for k, v in sig.inputs_to_parameters.items():
        ph[k] = ("param", v)
    for k, v in sig.inputs_to_buffers.items():
        ph[k] = ("buffer", v)
    for k, v in getattr(sig, "inputs_to_lifted_tensor_constants", {}).items():
        ph[k] = ("constant", v)
    data: dict[str, bool] = {}
    order: list[Any] = []
    outputs: set[str] = set()
    users: dict[str, list[str]] = {}
    n_user = 0
    for node in ep.graph.nodes:
        if node.op == "placeholder":
            if node.name not in ph:
                ph[node.name] = ("input", node.name)
                n_user += 1
            data[node.name] = ph[node.name][0] == "input"
        elif node.op == "get_attr":
            ph[node.name] = ("attr", str(node.target))
            data[node.name] = False
        elif node.op == "output":
            for a in torch.utils._pytree.tree_leaves(node.args):
                if isinstance(a, torch.fx.Node):
                    outputs.add(a.name)
        else:
            data[node.name] = any(data.get(a.name, False) for a in node.all_input_nodes)
            order.append(node)
            for a in node.all_input_nodes:
                users.setdefault(a.name, []).append(node.name)
    calls = {n.name for n in order}
    keep = [n for n in order if data[n.name] and (any(u in calls for u in users.get(n.name, ()))
                                                   or n.name in outputs)]
    path = {n.name: _module_path(n) for n in order}

    def key(nm: str) -> str:
        p = path[nm]
        if granularity == "op":
            return nm
        if granularity == "module":
            return p
        if callable(granularity):
            return str(granularity(p))
        return ".".join(p.split(".")[:int(granularity)]) if p else ""

    groups: list[list[str]] = []
    prev = None
    for n in keep:
        k = key(n.name)
        if not groups or k != prev:
            groups.append([])
        groups[-1].append(n.name)
        prev = k
    vertex_of = {nm: gi for gi, g in enumerate(groups) for nm in g}
    names: list[str] = []
    seen: dict[str, int] = {}
    for g in groups:
        base = g[0] if granularity == "op" else (key(g[0]) or g[0])
        if granularity == "op" and path[g[0]]:
            base = f"{path[g[0]]}:{g[0]}"
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    edges = {(vertex_of[nm], vertex_of[u]) for nm in vertex_of for u in users.get(nm, ())
             if u in vertex_of and vertex_of[u] != vertex_of[nm]}
    e = np.array(sorted(edges), dtype=np.int64).reshape(-1, 2)
    return Traced(ep, module, names, e[:, 0], e[:, 1], vertex_of, ph, data,
                  getattr(ep.call_spec, "out_spec", None), n_user)


def device_mask(graph: ModelGraph, device_set: Any) -> np.ndarray:
    """D as a boolean mask over the profile's vertices (names, indices, a mask or a dag-split
    ``Plan``), checked to be ancestor-closed (C2) and to hold every input vertex (C1)."""
    decision = getattr(device_set, "decision", None)
    if isinstance(decision, Mapping) and "device_layers" in decision:
        device_set = decision["device_layers"]
    if isinstance(device_set, np.ndarray) and device_set.dtype == bool:
        if device_set.shape != (graph.n,):
            raise ValidationError(f"device_set: mask of shape {device_set.shape}, expected ({graph.n},)",
                                  "device_set")
        x = device_set.copy()
    else:
        x = np.zeros(graph.n, dtype=bool)
        items = [device_set] if isinstance(device_set, (str, int, np.integer)) else list(device_set)
        for v in items:
            try:
                x[graph.index(v)] = True
            except ValidationError as exc:
                raise ValidationError(f"device_set: {exc}", "device_set") from None
    back = x[graph.dst] & ~x[graph.src]
    if back.any():
        i = int(np.flatnonzero(back)[0])
        raise ValidationError(
            f"device_set is not ancestor-closed (C2): layer {graph.names[int(graph.dst[i])]!r} is on the "
            f"device but its input {graph.names[int(graph.src[i])]!r} is not ({int(back.sum())} such "
            f"edge(s)); the forward pass cannot return from the server to the device", "device_set")
    miss = graph.inputs[~x[graph.inputs]]
    if miss.size:
        raise ValidationError(f"device_set misses input layer {graph.names[int(miss[0])]!r} (C1: raw "
                              f"samples stay on the device)", "device_set")
    return x


class Part(torch.nn.Module):
    """One side of a split model: ``forward(feed) -> dict`` of named values.

    ``inputs`` lists the values the part reads from outside (cut tensors from the device, user
    inputs); its parameters and buffers are registered under their placeholder names
    (``param_names`` maps them to the original module's names).
    """

    def __init__(self, gm: Any, inputs: list[str], outputs: list[str], params: dict[str, Any],
                 buffers: dict[str, Any], param_names: dict[str, str], order: list[str]):
        super().__init__()
        self.gm = gm
        self.inputs, self.outputs, self.order = list(inputs), list(outputs), list(order)
        self.param_names = dict(param_names)
        for k, p in params.items():
            self.register_parameter(k, p)
        for k, b in buffers.items():
            self.register_buffer(k, b)

    def forward(self, feed: Mapping[str, Any]) -> dict[str, Any]:
        own = dict(self.named_parameters(recurse=False))
        own.update(dict(self.named_buffers(recurse=False)))
        vals = [own[k] if k in own else feed[k] for k in self.order]
        out = self.gm(*vals)
        return dict(zip(self.outputs, out))

    def named_grads(self) -> dict[str, Any]:
        """Gradients by the original module's parameter names."""
        return {self.param_names[k]: p.grad for k, p in self.named_parameters(recurse=False)}


@dataclass
class SplitModel:
    """A model cut into device and server parts at a device set.

    Attributes
    ----------
    device, server : the two :class:`Part` modules (``server`` is None when D = V)
    cut : names of the values sent device -> server (activations up, gradients down), in order
    cut_vertex : the vertex index that produced each cut value
    raw_inputs : user inputs read directly by a server operator (sent up as well, not a cut tensor
        of the profile)
    user_outputs : the graph outputs (produced by the server, or by the device when D = V)
    mask : D as a boolean mask over the vertices
    cut_meta : for every cut value and raw input, ``(shape, dtype, needs_grad)`` at the example
        batch, from the exported graph (``needs_grad``: a floating value downstream of a
        trainable parameter, whose gradient is sent back)
    """

    device: Any
    server: Any
    cut: list[str]
    cut_vertex: list[int]
    raw_inputs: list[str]
    user_outputs: list[str]
    user_inputs: list[str]
    mask: np.ndarray
    out_spec: Any = None
    names: list[str] = field(default_factory=list)
    cut_meta: dict[str, tuple[tuple[int, ...], str, bool]] = field(default_factory=dict)


def _cut_meta(tr: Traced, module: Any, wanted: Sequence[str]) -> dict[str, tuple[tuple[int, ...], str, bool]]:
    """Shape, dtype and whether a gradient flows back, of the named values (exported meta)."""
    named_p = dict(module.named_parameters(remove_duplicate=False))
    grad: dict[str, bool] = {}
    for n in tr.ep.graph.nodes:
        kind, target = tr.placeholders.get(n.name, ("", ""))
        if n.op == "placeholder":
            grad[n.name] = kind == "param" and bool(named_p[target].requires_grad)
        elif n.op == "call_function":
            grad[n.name] = any(grad.get(a.name, False) for a in n.all_input_nodes)
    by_name = {n.name: n for n in tr.ep.graph.nodes}
    out: dict[str, tuple[tuple[int, ...], str, bool]] = {}
    for w in wanted:
        val = by_name[w].meta.get("val") if w in by_name else None
        if isinstance(val, torch.Tensor):
            out[w] = (tuple(int(d) for d in val.shape), str(val.dtype).removeprefix("torch."),
                      bool(grad.get(w, False) and val.is_floating_point()))
    return out


def _assign_sides(tr: Traced, x: np.ndarray) -> dict[str, int]:
    """Side of every call node: data operators by vertex; non-vertex data operators after their
    inputs; input-independent operators are recomputed where needed (None here) except in-place
    updates without users, which go with the other readers of their buffer."""
    side: dict[str, int] = {}
    nodes = [n for n in tr.ep.graph.nodes if n.op == "call_function"]
    for n in nodes:
        if n.name in tr.vertex_of:
            side[n.name] = DEVICE if x[tr.vertex_of[n.name]] else SERVER
        elif tr.data[n.name]:
            side[n.name] = max((side.get(a.name, DEVICE) for a in n.all_input_nodes
                                if a.op == "call_function"), default=DEVICE)
    for i, n in enumerate(nodes):          # in-place updates without users: with the next
        if n.name not in side and not n.users:     # operator of the same module (BatchNorm)
            p = _module_path(n)
            later = [m for m in nodes[i + 1:] if m.name in side]
            same = [m for m in later if _module_path(m) == p]
            side[n.name] = side[(same or later)[0].name] if (same or later) else DEVICE
    return side


def _build_part(tr: Traced, members: Sequence[Any], wanted: Sequence[str]) -> tuple[Any, list[str], list[str]]:
    """An fx GraphModule computing ``wanted`` from the members; returns (gm, order of its
    placeholders, outputs)."""

    import torch.fx as fx

    g = fx.Graph()
    env: dict[str, Any] = {}
    order: list[str] = []
    member_names = {n.name for n in members}

    def get(a: Any) -> Any:
        if a.name not in env:
            if a.name in member_names:
                raise ValidationError(f"internal: {a.name} used before it is computed", "graph")
            env[a.name] = g.placeholder(a.name)
            order.append(a.name)
        return env[a.name]

    for n in members:
        for a in n.all_input_nodes:
            if a.name not in env:
                get(a)
        env[n.name] = g.node_copy(n, lambda a: env[a.name])
    outs = [env[w] if w in env else get(_Named(w)) for w in wanted]
    g.output(tuple(outs))
    gm = fx.GraphModule(torch.nn.Module(), g)
    return gm, order, list(wanted)


class _Named:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def split_model(module: Any, example_inputs: Any, graph: ModelGraph, device_set: Any, *,
                example_kwargs: Mapping[str, Any] | None = None,
                granularity: str | int | Callable[[str], str] | None = None,
                traced: Traced | None = None) -> SplitModel:
    """Cut ``module`` into a device part and a server part at the device set D of a dag-split plan.

    Parameters
    ----------
    module, example_inputs, example_kwargs : the model and an example batch (as for ``from_torch``)
    graph : the model's profile (``from_torch`` with the same granularity); vertices are matched
        by name and edges
    device_set : D as layer names, indices, a boolean mask or a dag-split ``Plan``
    granularity : as in ``from_torch`` (default: the profile's ``provenance["granularity"]`` when
        it is a string or int, else ``"module"``)

    Raises
    ------
    ValidationError
        D not ancestor-closed or missing an input layer; the profile does not match the model; a
        trainable parameter read on both sides (the model cannot be split at these tensors); the
        outputs split across sides.
    """


    x = device_mask(graph, device_set)
    if granularity is None:
        g0 = graph.provenance.get("granularity", "module") if graph.provenance else "module"
        granularity = g0 if isinstance(g0, int) or g0 in ("op", "module") else "module"
    tr = traced or trace(module, example_inputs, example_kwargs, granularity=granularity)
    tr.check_profile(graph)
    side = _assign_sides(tr, x)
    nodes = [n for n in tr.ep.graph.nodes if n.op == "call_function"]
    by_name = {n.name: n for n in tr.ep.graph.nodes}
    out_node = next(n for n in tr.ep.graph.nodes if n.op == "output")
    user_out = [a.name for a in torch.utils._pytree.tree_leaves(out_node.args) if isinstance(a, torch.fx.Node)]
    user_in = [k for k, (kind, _) in tr.placeholders.items() if kind == "input"]

    def closure(s: int) -> list[Any]:
        need = {n.name for n in nodes if side.get(n.name) == s}
        stack = list(need)
        while stack:                       # input-independent ancestors are recomputed here
            nm = stack.pop()
            for a in by_name[nm].all_input_nodes:
                if a.op == "call_function" and a.name not in side and a.name not in need:
                    need.add(a.name)
                    stack.append(a.name)
        return [n for n in nodes if n.name in need]

    dev_nodes, srv_nodes = closure(DEVICE), closure(SERVER)
    dev_set = {n.name for n in dev_nodes if side.get(n.name) == DEVICE}
    srv_reads = [a.name for n in srv_nodes for a in n.all_input_nodes]
    outs_on_dev = [o for o in user_out if o in dev_set]
    if outs_on_dev and len(outs_on_dev) < len(user_out):
        raise ValidationError(f"the model's outputs are split across sides ({outs_on_dev[0]!r} on the "
                              f"device): put every output layer on the server or D = V", "device_set")
    server_empty = not srv_nodes
    cut: list[str] = []
    for nm in dict.fromkeys(srv_reads):
        if nm in dev_set:
            cut.append(nm)
    raw = [nm for nm in dict.fromkeys(srv_reads) if tr.placeholders.get(nm, ("", ""))[0] == "input"]
    # parameters / buffers: owned by the side(s) that read them
    reads = {DEVICE: {a.name for n in dev_nodes for a in n.all_input_nodes},
             SERVER: {a.name for n in srv_nodes for a in n.all_input_nodes}}
    named_p = dict(module.named_parameters(remove_duplicate=False))
    named_b = dict(module.named_buffers(remove_duplicate=False))
    consts = getattr(tr.ep, "constants", {})
    parts: list[Any] = []
    for s, members in ((DEVICE, dev_nodes), (SERVER, srv_nodes)):
        if not members:
            parts.append(None)
            continue
        if s == DEVICE:
            wanted = (cut + raw) if not server_empty else user_out
        else:
            wanted = user_out
        gm, order, outs = _build_part(tr, members, wanted)
        params, buffers, pnames = {}, {}, {}
        for nm in order:
            kind, target = tr.placeholders.get(nm, ("value", nm))
            if kind == "param":
                p = named_p[target]
                other = reads[1 - s]
                if p.requires_grad and nm in other:
                    raise ValidationError(
                        f"the model cannot be split at these tensors: trainable parameter {target!r} is "
                        f"read on both sides (device and server); untie it (e.g. tie_word_embeddings="
                        f"False) or keep its readers on one side", "device_set")
                params[nm] = torch.nn.Parameter(p.detach().clone(), requires_grad=p.requires_grad)
                pnames[nm] = target
            elif kind == "buffer":
                buffers[nm] = named_b[target].detach().clone()
            elif kind == "constant":
                buffers[nm] = consts[target].detach().clone()
            elif kind == "attr":
                buffers[nm] = getattr(tr.ep.graph_module, target).detach().clone()
        parts.append(Part(gm, [o for o in order if o not in params and o not in buffers], outs, params,
                           buffers, pnames, order))
    cut_vertex = [tr.vertex_of.get(c, -1) for c in cut]
    return SplitModel(parts[0], parts[1], cut, cut_vertex, raw, user_out, user_in, x, tr.out_spec,
                      tr.names, _cut_meta(tr, module, cut + raw))


def vertex_part(tr: Traced, v: int) -> tuple[Any, list[str], list[str]]:
    """The operators of vertex ``v`` (plus the input-independent ones it needs) as one
    GraphModule: ``(gm, placeholder order, outputs)``; outputs are the values read outside the
    vertex (or graph outputs)."""


    nodes = [n for n in tr.ep.graph.nodes if n.op == "call_function"]
    mine = {nm for nm, g in tr.vertex_of.items() if g == v}
    by_name = {n.name: n for n in tr.ep.graph.nodes}
    need = set(mine)
    stack = list(mine)
    while stack:
        nm = stack.pop()
        for a in by_name[nm].all_input_nodes:
            if a.op == "call_function" and not tr.data[a.name] and a.name not in need:
                need.add(a.name)
                stack.append(a.name)
    members = [n for n in nodes if n.name in need]
    out_node = next(n for n in tr.ep.graph.nodes if n.op == "output")
    user_out = {a.name for a in torch.utils._pytree.tree_leaves(out_node.args) if isinstance(a, torch.fx.Node)}
    wanted = [n.name for n in members if n.name in mine and (
        n.name in user_out or any(u.name not in mine for u in n.users if u.op == "call_function"))]
    return _build_part(tr, members, wanted)
