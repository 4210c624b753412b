"""Profiles of PyTorch modules: :func:`from_torch`.

The module is captured with ``torch.export`` (non-strict) into a DAG of ATen operators; every
node carries the module hierarchy it came from (``nn_module_stack``). The graph is then **run**,
one operator at a time, on real (or ``meta``) tensors:

* forward FLOP of each operator: measured with ``torch.utils.flop_counter.FlopCounterMode``
  around the operator's call (a multiply-add counts as 2 FLOP);
* backward FLOP: measured the same way by **running backward** through that operator alone, with
  the operator's inputs marked ``requires_grad`` exactly as in the real forward pass (an input
  needs a gradient iff it depends on a trainable parameter; a parameter iff ``requires_grad``).
  Frozen weights (LoRA bases) therefore get no weight-gradient FLOP. The sum over operators is
  checked against one ordinary forward + backward of the whole module under the same counter
  (``provenance["check"]``);
* activation bytes from the real output shapes and dtypes, per sample (divided by the batch);
* parameter and trainable-parameter bytes of the weights each operator reads (a tied weight is
  counted once, at its first reader).

Operators that depend on no input (masks built from ``arange``, weight transposes) are folded
into their first consumer. Operators are grouped into vertices by ``granularity``: ``"op"`` (one
vertex per ATen operator), ``"module"`` (the operators of one innermost module call, e.g. one
``Conv2d``, or the functional code of a parent such as a residual ``add``), or an int ``k`` (the
module path cut to ``k`` components, e.g. ``k=2`` gives ``layer1.0`` for a torchvision-style
ResNet). A vertex is a maximal run of consecutive operators (in execution order) with the same
key, so grouping never creates a cycle. ``block`` labels come from the module hierarchy too.

``meta`` tensors work: build a big model under ``torch.device("meta")`` and pass meta inputs;
FLOP and bytes are exact, nothing is allocated.

Two additions to ``FlopCounterMode``'s table of torch 2.13: the CPU kernel of
``scaled_dot_product_attention`` (counted with torch's own SDPA formulas; the backward formula
counts the recomputation of the scores, i.e. 5 products instead of 4), and a corrected
``convolution_backward`` whose weight gradient of a grouped convolution is not multiplied by the
number of groups (torch's formula treats it as an ungrouped convolution).
"""

from __future__ import annotations

import operator
import re
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from slopt.errors import ValidationError
from slopt.profiles.graph import ModelGraph

__all__ = ["from_torch", "auto_block", "flop_totals"]

_NUM = re.compile(r"^\d+$")


def auto_block(path: str) -> str | None:
    """Default block label of a module path: the path up to the first numbered child that has
    children itself (``layer1.0.conv1`` -> ``layer1.0``, ``transformer.h.3.attn`` ->
    ``transformer.h.3``, ``encoder.layer.5.output.dense`` -> ``encoder.layer.5``); else None
    (the vertex becomes a block of its own)."""
    parts = path.split(".") if path else []
    for i, p in enumerate(parts):
        if _NUM.match(p):
            return ".".join(parts[:i + 1])
    return None


def _flop_mapping() -> dict[Any, Callable[..., int]]:
    import torch
    from torch.utils import flop_counter as fc

    aten = torch.ops.aten
    mapping: dict[Any, Callable[..., int]] = {}
    fwd = getattr(aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    bwd = getattr(aten, "_scaled_dot_product_flash_attention_for_cpu_backward", None)
    if fwd is not None:
        def sdpa_cpu(q, k, v, *args, out_shape=None, **kwargs):  # noqa: ANN001
            return fc.sdpa_flop_count(q, k, v)
        mapping[fwd] = sdpa_cpu
    if bwd is not None:
        def sdpa_cpu_bwd(grad_out, q, k, v, *args, out_shape=None, **kwargs):  # noqa: ANN001
            return fc.sdpa_backward_flop_count(grad_out, q, k, v)
        mapping[bwd] = sdpa_cpu_bwd

    def conv_bwd(grad_out, x, w, _bias, _stride, _padding, _dilation, transposed, _out_pad,
                 _groups, output_mask, out_shape=None, **kwargs):  # noqa: ANN001
        # torch 2.13's formula computes the weight gradient of a grouped convolution as an
        # ungrouped one (``groups`` times too many FLOP); the weight gradient has exactly the
        # multiply-adds of the forward convolution.
        flop = 0
        if output_mask[0]:
            flop += fc.conv_flop_count(grad_out, w, out_shape[0], not transposed)
        if output_mask[1]:
            flop += fc.conv_flop_count(x, w, grad_out, transposed)
        return flop
    mapping[aten.convolution_backward] = conv_bwd
    return mapping


def _counter() -> Any:
    from torch.utils.flop_counter import FlopCounterMode

    return FlopCounterMode(display=False, custom_mapping=_flop_mapping())


def _last_op_mode() -> Any:
    from torch.overrides import TorchFunctionMode

    class LastOp(TorchFunctionMode):
        """Remembers the last torch function called (to name the operator an export fails on)."""

        last: str | None = None

        def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            caller = sys._getframe(1).f_code.co_filename
            if "/torch/" not in caller and not caller.endswith("torch_loader.py"):
                name = getattr(func, "__qualname__", None) or getattr(func, "__name__", repr(func))
                if not name.startswith(("Tensor.__get__", "_TensorBase.__get__")):
                    LastOp.last = name     # the last torch function called from model code
            return func(*args, **(kwargs or {}))

    return LastOp


def _untraceable(module: Any, exc: BaseException, last: str | None) -> ValidationError:
    """An error naming the operator and the user source line an export failed on."""
    msg = str(exc).strip()
    first = next((ln for ln in msg.splitlines() if ln.strip()), type(exc).__name__)
    op = None
    m_method = re.search(r"\.(\w+)\(\) is not supported", msg)
    m_aten = re.search(r"aten\.[A-Za-z_0-9.]+", msg)
    m_op = re.search(r"operator:? `?([A-Za-z_][\w.:]*)", msg)
    if "data-dependent" in msg:
        op = "Tensor.__bool__/item (Python control flow on a tensor value)"
    elif m_method:
        op = f"Tensor.{m_method.group(1)}"
    elif m_aten:
        op = m_aten.group(0)
    elif m_op:
        op = m_op.group(1)
    elif last:
        op = last
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if "/torch/" not in f.filename and f.filename != "<string>"
              and not f.filename.endswith("torch_loader.py")]
    where = f" at {frames[-1].filename}:{frames[-1].lineno} `{(frames[-1].line or '').strip()}`" \
        if frames else ""
    return ValidationError(
        f"from_torch: cannot trace {type(module).__name__}: failing operator {op or 'unknown'}"
        f"{where}: {type(exc).__name__}: {first}", "module")


def _export(module: Any, args: tuple, kwargs: dict) -> Any:
    import torch

    LastOp = _last_op_mode()
    try:
        with LastOp():
            return torch.export.export(module, args, kwargs=kwargs, strict=False)
    except Exception as exc:  # noqa: BLE001 - every export failure becomes a ValidationError
        raise _untraceable(module, exc, LastOp.last) from exc


def _nbytes(x: Any) -> int:
    import torch

    if isinstance(x, torch.Tensor):
        return int(x.numel()) * int(x.element_size())
    if isinstance(x, (tuple, list)):
        return sum(_nbytes(y) for y in x)
    return 0


def _tensors(x: Any) -> list[Any]:
    import torch

    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (tuple, list)):
        return [t for y in x for t in _tensors(y)]
    return []


def _detach(x: Any) -> Any:
    """Detach outputs into leaves that keep their ``requires_grad`` flag."""
    import torch

    if isinstance(x, torch.Tensor):
        need = bool(x.requires_grad)
        y = x.detach()
        return y.requires_grad_(need) if need and (y.is_floating_point() or y.is_complex()) else y
    if isinstance(x, tuple):
        return tuple(_detach(y) for y in x)
    if isinstance(x, list):
        return [_detach(y) for y in x]
    return x


def _module_path(node: Any) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    fqn = list(stack.values())[-1][0]
    return re.sub(r"@\d+$", "", str(fqn))


def _default_loss(out: Any) -> Any:
    loss = getattr(out, "loss", None)
    if loss is not None:
        return loss
    import torch

    leaves = [t for t in torch.utils._pytree.tree_leaves(out)
              if isinstance(t, torch.Tensor) and t.requires_grad]
    if not leaves:
        return None
    return sum(t.float().sum() for t in leaves)


def from_torch(module: Any, example_inputs: Any, example_kwargs: Mapping[str, Any] | None = None,
               *, granularity: str | int | Callable[[str], str] = "module",
               block: int | Callable[[str], str | None] | None = None,
               batch_size: int | None = None, loss_fn: Callable[[Any], Any] | None = None,
               check: bool = True, name: str | None = None,
               provenance: Mapping[str, Any] | None = None) -> ModelGraph:
    """Profile a PyTorch module by tracing it and running forward and backward operator by operator.

    Parameters
    ----------
    module : torch.nn.Module
        The model, in the mode to profile (``.train()`` for training). Parameters with
        ``requires_grad=False`` are frozen: no weight gradient is computed or counted.
    example_inputs : tensor or tuple
        Positional example inputs; their first dimension is the batch (see ``batch_size``).
    example_kwargs : mapping, optional
        Keyword example inputs (e.g. ``{"labels": ids}`` for a Hugging Face model).
    granularity : "op", "module", int or callable
        Vertex = one ATen operator, one module call, the module path cut to that depth, or the
        key ``granularity(module_path)`` (consecutive operators with equal keys form a vertex).
    block : int, callable or None
        Block labels: None (:func:`auto_block`), an int depth of the module path, or a function
        of the module path returning a label (or None for a block of its own).
    batch_size : int, optional
        Samples in the example batch (default: first dimension of the first input tensor). All
        figures are divided by it (per sample).
    loss_fn : callable, optional
        ``loss_fn(output) -> scalar`` for the whole-model check (default: ``output.loss`` when
        present, else the sum of the outputs).
    check : bool
        Also run the whole module forward + backward and record the totals in
        ``provenance["check"]`` (the per-vertex sums must equal them).

    Raises
    ------
    ValidationError
        If the module cannot be traced (naming the failing operator and source line).
    """
    import torch

    if not isinstance(module, torch.nn.Module):
        raise ValidationError(f"module must be a torch.nn.Module, got {type(module).__name__}",
                              "module")
    args = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    kwargs = dict(example_kwargs or {})
    if (isinstance(granularity, str) and granularity not in ("op", "module")) or not (
            isinstance(granularity, (str, int)) or callable(granularity)):
        raise ValidationError(f"granularity = {granularity!r}; expected 'op', 'module' or an int",
                              "granularity")
    flat = [t for t in torch.utils._pytree.tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
    if batch_size is None:
        batch_size = int(flat[0].shape[0]) if flat and flat[0].dim() > 0 else 1
    if batch_size < 1:
        raise ValidationError(f"batch_size = {batch_size}; it must be >= 1", "batch_size")

    saved_buffers = {k: b.detach().clone() for k, b in module.named_buffers()}
    try:
        ep = _export(module, args, kwargs)
        nodes, measured = _run(ep, module, args, kwargs)
        totals, check_on = None, None
        if check:
            try:
                totals, check_on = _whole_model(module, args, kwargs, loss_fn), "module"
            except Exception as exc:  # noqa: BLE001 - e.g. .item() on meta tensors in eager code
                totals = _whole_model(_unlifted(ep, module), args, kwargs, loss_fn)
                check_on = f"exported graph (eager module failed: {type(exc).__name__}: " \
                           f"{str(exc).splitlines()[0] if str(exc) else ''})"
    finally:
        with torch.no_grad():
            for k, b in module.named_buffers():
                if k in saved_buffers:
                    b.copy_(saved_buffers[k])
    graph = _build(nodes, measured, granularity, block, batch_size)
    prov: dict[str, Any] = {
        "tool": "slopt.profiles.from_torch (torch.export + FlopCounterMode, forward and backward "
                "run operator by operator)",
        "versions": _versions(),
        "model": type(module).__name__,
        "input_shapes": [list(t.shape) for t in flat],
        "input_dtypes": [str(t.dtype) for t in flat],
        "batch_size": batch_size,
        "granularity": granularity if isinstance(granularity, (str, int))
        else getattr(granularity, "__name__", "callable"),
        "device": str(flat[0].device) if flat else "cpu",
        "flop_convention": "multiply-add = 2 FLOP (torch.utils.flop_counter)",
        "per_sample": True,
    }
    if totals is not None:
        prov["check"] = {"whole_model_forward_flop": totals[0] / batch_size,
                         "whole_model_backward_flop": totals[1] / batch_size,
                         "sum_forward_flop": float(graph["forward_flop"].sum()),
                         "sum_backward_flop": float(graph["backward_flop"].sum()),
                         "run_on": check_on}
    prov.update(provenance or {})
    return ModelGraph(name=name or type(module).__name__, provenance=prov, **graph)


def _versions() -> dict[str, str]:
    import sys

    import torch

    v = {"python": sys.version.split()[0], "torch": torch.__version__}
    try:
        import transformers

        v["transformers"] = transformers.__version__
    except ImportError:  # pragma: no cover
        pass
    return v


def _unlifted(ep: Any, module: Any) -> Any:
    """The exported graph as a module, with the original modules' ``requires_grad`` flags."""
    gm = ep.module()
    flags = {k: p.requires_grad for k, p in module.named_parameters(remove_duplicate=False)}
    for k, p in gm.named_parameters(remove_duplicate=False):
        p.requires_grad_(flags.get(k, p.requires_grad))
    return gm


def _whole_model(module: Any, args: tuple, kwargs: dict, loss_fn: Any) -> tuple[float, float]:
    """Forward and backward FLOP of one ordinary training step of the whole module."""
    import torch

    with torch.enable_grad():
        c = _counter()
        with c:
            out = module(*args, **kwargs)
        fwd = c.get_total_flops()
        loss = (loss_fn or _default_loss)(out)
        bwd = 0
        if loss is not None and getattr(loss, "requires_grad", False):
            params = [p for p in module.parameters() if p.requires_grad]
            params += [t for t in torch.utils._pytree.tree_leaves((args, kwargs))
                       if isinstance(t, torch.Tensor) and t.requires_grad]
            c2 = _counter()
            with c2:
                torch.autograd.grad(loss, params, allow_unused=True) if params else None
            bwd = c2.get_total_flops()
    return float(fwd), float(bwd)


class _Node:
    __slots__ = ("name", "op", "path", "fwd", "bwd", "params", "trainable", "out_bytes", "data",
                 "inputs", "users", "is_output")

    def __init__(self, name: str, op: str, path: str) -> None:
        self.name, self.op, self.path = name, op, path
        self.fwd = self.bwd = 0.0
        self.params: dict[int, tuple[int, bool]] = {}
        self.trainable = 0.0
        self.out_bytes = 0
        self.data = False
        self.inputs: list[str] = []
        self.users: list[str] = []
        self.is_output = False


def _run(ep: Any, module: Any, args: tuple, kwargs: dict) -> tuple[dict[str, _Node], dict]:
    """Execute the exported graph operator by operator; measure forward and backward FLOP."""
    import torch
    from torch.fx.node import map_aggregate

    sig = ep.graph_signature
    named = dict(module.named_parameters(remove_duplicate=False))
    named.update(dict(module.named_buffers(remove_duplicate=False)))
    lifted: dict[str, Any] = {}
    lifted.update({k: named[v] for k, v in sig.inputs_to_parameters.items()})
    lifted.update({k: named[v] for k, v in sig.inputs_to_buffers.items()})
    for k, v in getattr(sig, "inputs_to_lifted_tensor_constants", {}).items():
        lifted[k] = ep.constants[v]
    spec = getattr(ep.call_spec, "in_spec", None)
    if spec is not None and spec.num_children == 2 and kwargs:
        child = spec.child(1) if hasattr(spec, "child") else spec.children_specs[1]
        keys = list(child.context or [])                      # export orders kwargs its own way
        kwargs = {k: kwargs[k] for k in keys if k in kwargs}
    user_vals = list(torch.utils._pytree.tree_leaves((args, kwargs)))
    n_user = sum(1 for nd in ep.graph.nodes if nd.op == "placeholder" and nd.name not in lifted)
    if n_user != len(user_vals):
        raise ValidationError(f"from_torch: the exported graph has {n_user} user inputs but the "
                              f"example inputs flatten to {len(user_vals)} values", "example_inputs")
    user_tensor_vals = iter(user_vals)

    env: dict[str, Any] = {}
    nodes: dict[str, _Node] = {}
    param_nodes: dict[str, tuple[int, int, bool]] = {}   # node -> (id, bytes, trainable)
    depends: dict[str, bool] = {}
    outputs: set[str] = set()
    last_reader: dict[str, str] = {}              # free each value after its last reader
    for node in ep.graph.nodes:
        for a in node.all_input_nodes:
            last_reader[a.name] = node.name
    last_use: dict[str, list[str]] = {}
    for value, reader in last_reader.items():
        last_use.setdefault(reader, []).append(value)
    with torch.enable_grad():
        for node in ep.graph.nodes:
            if node.op == "placeholder":
                if node.name in lifted:
                    t = lifted[node.name]
                    env[node.name] = t.detach().requires_grad_(bool(t.requires_grad)) \
                        if isinstance(t, torch.nn.Parameter) and t.requires_grad else t.detach()
                    if isinstance(t, torch.nn.Parameter):
                        param_nodes[node.name] = (id(t), _nbytes(t), bool(t.requires_grad))
                    depends[node.name] = False
                else:
                    v = next(user_tensor_vals)
                    if isinstance(v, torch.Tensor):   # an input that asks for its gradient keeps it
                        v = v.detach().requires_grad_(True) if v.requires_grad else v.detach()
                    env[node.name] = v
                    depends[node.name] = True
                continue
            if node.op == "output":
                for a in torch.utils._pytree.tree_leaves(node.args):
                    if isinstance(a, torch.fx.Node):
                        outputs.add(a.name)
                continue
            if node.op == "get_attr":
                env[node.name] = getattr(ep.graph_module, node.target)
                depends[node.name] = False
                continue
            n = _Node(node.name, str(getattr(node.target, "__name__", node.target)), _module_path(node))
            inputs = [a.name for a in node.all_input_nodes]
            n.inputs = inputs
            n.data = any(depends.get(i, False) for i in inputs)
            depends[node.name] = n.data
            for i in inputs:
                if i in param_nodes:
                    pid, nb, tr = param_nodes[i]
                    n.params[pid] = (nb, tr)
            leaves: list[Any] = []

            def prep(a: Any) -> Any:
                v = env[a.name]
                if isinstance(v, torch.Tensor) and v.requires_grad:
                    leaves.append(v)
                    return v.clone()
                return v

            call_args = map_aggregate(node.args, lambda a: prep(a) if isinstance(a, torch.fx.Node) else a)
            call_kwargs = map_aggregate(node.kwargs,
                                        lambda a: prep(a) if isinstance(a, torch.fx.Node) else a)
            try:
                c = _counter()
                with c:
                    out = node.target(*call_args, **call_kwargs)
                n.fwd = float(c.get_total_flops())
                if node.target is not operator.getitem:
                    outs = [t for t in _tensors(out) if t.requires_grad]
                    if outs and leaves:
                        cb = _counter()
                        with cb:
                            torch.autograd.grad(outs, leaves, [torch.ones_like(t) for t in outs],
                                                allow_unused=True)
                        n.bwd = float(cb.get_total_flops())
            except Exception as exc:  # noqa: BLE001
                raise ValidationError(f"from_torch: running operator {node.target} (node "
                                      f"{node.name!r}, module {n.path or '<root>'}) failed: {exc}",
                                      "module") from exc
            env[node.name] = _detach(out)
            n.out_bytes = _nbytes(out)
            nodes[node.name] = n
            del out, call_args, call_kwargs, leaves
            for value in last_use.get(node.name, ()):
                env.pop(value, None)
    for n in nodes.values():
        for i in n.inputs:
            if i in nodes:
                nodes[i].users.append(n.name)
        n.is_output = n.name in outputs
    return nodes, {"outputs": outputs}


def _build(nodes: dict[str, _Node], measured: dict, granularity: Any,
           block: int | Callable[[str], str | None] | None, batch: int) -> dict[str, Any]:
    """Fold input-independent operators into consumers, group operators into vertices."""
    order = list(nodes)
    position = {nm: i for i, nm in enumerate(order)}
    # owner of an input-independent operator: its first data-dependent consumer (reverse pass)
    owner: dict[str, str | None] = {}
    for nm in reversed(order):
        n = nodes[nm]
        if n.data:
            owner[nm] = nm
            continue
        cands = [owner[u] for u in n.users if owner.get(u)]
        owner[nm] = min(cands, key=position.__getitem__) if cands else None
    keep = [nm for nm in order if nodes[nm].data and (nodes[nm].users or nodes[nm].is_output
                                                       or nodes[nm].fwd or nodes[nm].bwd)]
    keep_set = set(keep)
    fwd = {nm: nodes[nm].fwd for nm in keep}
    bwd = {nm: nodes[nm].bwd for nm in keep}
    params: dict[str, dict[int, tuple[int, bool]]] = {nm: dict(nodes[nm].params) for nm in keep}
    for nm in order:
        o = owner.get(nm)
        if nm in keep_set:
            continue
        if o is not None and o in keep_set:
            fwd[o] += nodes[nm].fwd
            bwd[o] += nodes[nm].bwd
            params[o].update(nodes[nm].params)

    def key(nm: str) -> str:
        n = nodes[nm]
        if granularity == "op":
            return nm
        if granularity == "module":
            return n.path
        if callable(granularity):
            return str(granularity(n.path))
        return ".".join(n.path.split(".")[:int(granularity)]) if n.path else ""

    # contiguous runs of equal keys
    group_of: dict[str, int] = {}
    groups: list[list[str]] = []
    prev = None
    for nm in keep:
        k = key(nm)
        if not groups or k != prev:
            groups.append([])
        groups[-1].append(nm)
        group_of[nm] = len(groups) - 1
        prev = k
    names: list[str] = []
    seen: dict[str, int] = {}
    blocks: list[str] = []
    for g in groups:
        first = nodes[g[0]]
        base = g[0] if granularity == "op" else (key(g[0]) or first.name)
        if granularity == "op" and first.path:
            base = f"{first.path}:{g[0]}"
        seen[base] = seen.get(base, 0) + 1
        nm = base if seen[base] == 1 else f"{base}#{seen[base]}"
        names.append(nm)
        path = first.path
        if block is None:
            lab = auto_block(path)
        elif callable(block):
            lab = block(path)
        else:
            lab = ".".join(path.split(".")[:int(block)]) if path else None
        blocks.append(lab if lab else nm)
    # parameters counted once, at their first reader
    counted: set[int] = set()
    n_v = len(groups)
    f = np.zeros(n_v)
    b = np.zeros(n_v)
    pb = np.zeros(n_v)
    tb = np.zeros(n_v)
    act = np.zeros(n_v)
    src, dst = [], []
    for gi, g in enumerate(groups):
        gset = set(g)
        for nm in g:
            f[gi] += fwd[nm]
            b[gi] += bwd[nm]
            for pid, (nb, tr) in params[nm].items():
                if pid in counted:
                    continue
                counted.add(pid)
                pb[gi] += nb
                tb[gi] += nb if tr else 0
            ext = [u for u in nodes[nm].users if u in keep_set and u not in gset]
            if ext or nodes[nm].is_output:
                act[gi] += nodes[nm].out_bytes
            for u in ext:
                src.append(gi)
                dst.append(group_of[u])
        if act[gi] == 0:
            act[gi] = nodes[g[-1]].out_bytes
    if src:
        e = np.unique(np.stack([src, dst], axis=1), axis=0)
        src_a, dst_a = e[:, 0], e[:, 1]
    else:
        src_a = dst_a = np.zeros(0, dtype=np.int64)
    return {"forward_flop": f / batch, "backward_flop": b / batch, "param_bytes": pb,
            "trainable_param_bytes": tb, "activation_bytes": act / batch, "src": src_a,
            "dst": dst_a, "names": names, "block": blocks}


def flop_totals(module: Any, example_inputs: Any, example_kwargs: Mapping[str, Any] | None = None,
                loss_fn: Callable[[Any], Any] | None = None) -> tuple[float, float]:
    """Forward and backward FLOP of one ordinary training step (whole batch), measured."""
    args = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    return _whole_model(module, args, dict(example_kwargs or {}), loss_fn)
