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

Speed: by default (``cost_on="meta"``) the operators are run on ``meta`` copies of the
weights and inputs (only shapes and dtypes: the FLOP formulas are exact and no arithmetic is
done), and the whole-model check runs the eager module through ``torch.func.functional_call``
on the same meta copies; an operator without a meta kernel sends the run back to the inputs'
own device. ``cache=True`` stores the profile under ``$SLOPT_CACHE`` (default
``~/.cache/slopt/profiles``) keyed by the model's structure, weights' shapes, input shapes and
options (:mod:`slopt.profiles.cache`).

Graceful degradation:

* generation models: a Hugging Face config with ``use_cache=True`` is switched to
  ``use_cache=False`` while profiling (a cache object in the output cannot be traced), and the
  profile's provenance says so;
* data-dependent Python control flow (LayerDrop's ``if torch.rand(()) < p``, ``labels.max()``
  checks, ``isfinite(x).all()``) stops ``torch.export``; the profile then falls back to a
  **module-level** profile from one eager forward and backward pass: every ATen operator is
  recorded with the module it runs in (forward hooks), forward FLOP per operator as above, the
  backward FLOP of each module measured by ``FlopCounterMode``'s module tracking; a
  ``UserWarning`` names the construct and its source line (``fallback=False`` raises instead);
* recurrent layers: the CPU kernels ``mkldnn_rnn_layer`` / ``mkldnn_rnn_layer_backward`` (LSTM)
  are counted (2 FLOP per multiply-add of the gate products, every layer and direction; GRU and
  plain RNN decompose into counted matrix products); every other operator that does arithmetic
  but has no formula is listed in a ``UserWarning`` and in ``provenance["uncounted_ops"]``;
* a custom ``autograd.Function`` whose backward does other work than autograd's rule for its
  forward operators: the whole-model check sees the difference; the backward FLOP of the modules
  concerned are replaced by what the eager backward ran (``provenance["backward_from_eager"]``),
  or, when the difference cannot be placed in a module, a ``ValidationError`` gives both figures;
* a model whose own backward fails raises a ``ValidationError`` naming the error.

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
import warnings
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


def _rnn_layer_flop(x: Any, w_ih: Any, w_hh: Any, batch_first: bool) -> int:
    """FLOP of one layer and direction of an LSTM/GRU/RNN over the whole sequence: the gate
    products ``W_ih x_t`` and ``W_hh h_{t-1}`` at every step, 2 FLOP per multiply-add (biases and
    the element-wise gate arithmetic are not counted, as for ``nn.Linear``)."""
    if len(x) == 3:
        steps, batch = (x[1], x[0]) if batch_first else (x[0], x[1])
    else:                                      # unbatched (T, in)
        steps, batch = x[0], 1
    return 2 * int(steps) * int(batch) * (int(w_ih[0]) * int(w_ih[1]) + int(w_hh[0]) * int(w_hh[1]))


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

    rnn = getattr(aten, "mkldnn_rnn_layer", None)
    rnn_bwd = getattr(aten, "mkldnn_rnn_layer_backward", None)
    if rnn is not None:
        # the CPU LSTM kernel (one layer, one direction); the meta and CUDA-free composite path
        # runs the same products as addmm/mm, which FlopCounterMode counts
        def rnn_layer(x, w_ih, w_hh, *args, out_shape=None, **kwargs):  # noqa: ANN001
            batch_first = kwargs.get("batch_first", args[11] if len(args) > 11 else False)
            return _rnn_layer_flop(x, w_ih, w_hh, bool(batch_first))
        mapping[rnn] = rnn_layer
    if rnn_bwd is not None:
        # gradients of the input, the hidden state and both weights: two products per forward
        # product (the kernel always computes all four)
        def rnn_layer_bwd(x, w_ih, w_hh, *args, out_shape=None, **kwargs):  # noqa: ANN001
            batch_first = kwargs.get("batch_first", args[18] if len(args) > 18 else False)
            return 2 * _rnn_layer_flop(x, w_ih, w_hh, bool(batch_first))
        mapping[rnn_bwd] = rnn_layer_bwd
    return mapping


def _counter() -> Any:
    from torch.utils.flop_counter import FlopCounterMode

    return FlopCounterMode(display=False, custom_mapping=_flop_mapping())


_REGISTRY: dict[Any, Callable[..., int]] | None = None

#: Name fragments of ATen operators that do no multiply-add work worth counting (data movement,
#: normalisation, pooling, reductions, losses, random numbers): left at 0 FLOP by convention,
#: as in ``torch.utils.flop_counter``. Any other uncounted operator is reported.
_CHEAP = ("view", "reshape", "permute", "transpose", "expand", "squeeze", "select", "slice",
          "index", "gather", "scatter", "cat", "stack", "split", "chunk", "unbind", "copy",
          "clone", "contiguous", "detach", "alias", "lift", "zeros", "ones", "full", "empty",
          "arange", "linspace", "scalar_tensor", "fill", "where", "masked", "pad", "repeat",
          "flip", "roll", "tril", "triu", "embedding", "norm", "pool", "softmax", "dropout",
          "bernoulli", "rand", "normal", "uniform", "loss", "sort", "topk", "arg", "cumsum",
          "cumprod", "upsample", "sym_", "_assert", "one_hot", "unfold", "im2col", "col2im",
          "nonzero", "item", "_local_scalar", "shuffle", "new_", "resize", "set_", "as_strided",
          "narrow", "diagonal", "movedim", "flatten", "tile", "bucketize", "searchsorted",
          "histc", "bincount", "_unsafe", "align", "cross_entropy", "record_stream",
          "_foreach", "unique", "logsumexp", "_to_copy", "sdp_choice")
#: Base names (exact) of other cheap operators: reductions and the few element-wise ones that
#: carry no ``pointwise`` tag.
_CHEAP_EXACT = {"sum", "mean", "max", "min", "amax", "amin", "var", "std", "var_mean", "prod",
                "all", "any", "t", "clamp", "abs", "gelu", "silu", "relu", "hardtanh", "mish",
                "threshold", "glu", "elu", "softplus", "leaky_relu", "isfinite", "isnan", "isinf",
                "count_nonzero", "zero_", "square", "dense_dim", "_conj", "conj", "mse_loss",
                "rsub", "std_mean", "aminmax", "norm", "linalg_vector_norm", "cross_entropy_loss"}


def _registry() -> dict[Any, Callable[..., int]]:
    global _REGISTRY
    if _REGISTRY is None:
        from torch.utils import flop_counter as fc

        reg = dict(fc.flop_registry)
        reg.update({(getattr(k, "_overloadpacket", k)): fc.shape_wrapper(v)
                    for k, v in _flop_mapping().items()})
        _REGISTRY = reg
    return _REGISTRY


def _is_cheap(func: Any) -> bool:
    import torch

    if getattr(func, "is_view", False) or torch.Tag.pointwise in getattr(func, "tags", ()):
        return True
    name = str(func).removeprefix("aten.")
    base = name.split(".")[0]
    for suffix in ("_backward_data", "_backward"):
        base = base.removesuffix(suffix)
    if base in _CHEAP_EXACT or base.rstrip("_") in _CHEAP_EXACT:
        return True
    if not str(func).startswith("aten."):
        return False                    # custom and other namespaces: always reported
    # backward kernels of cheap operators (``native_layer_norm_backward``, ...) are cheap too;
    # those of counted operators have formulas of their own
    return any(c in base for c in _CHEAP)


def _count_mode() -> Any:
    """A dispatch mode that counts FLOP with ``FlopCounterMode``'s formulas (plus the ones
    above) and records every operator that has no formula and is not cheap by convention."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    aten = torch.ops.aten
    skip = {aten.sym_is_contiguous.default, aten.is_contiguous.default,
            aten.is_contiguous.memory_format, aten.is_strides_like_format.default,
            aten.is_non_overlapping_and_dense.default, aten.size.default, aten.sym_size.default,
            aten.stride.default, aten.sym_stride.default, aten.storage_offset.default,
            aten.sym_storage_offset.default, aten.numel.default, aten.sym_numel.default,
            aten.dim.default, torch.ops.prim.layout.default}
    reg = _registry()

    class Count(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.flop = 0
            self.unknown: dict[str, int] = {}

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            kwargs = kwargs or {}
            if func in skip:
                return NotImplemented
            packet = getattr(func, "_overloadpacket", func)
            if packet not in reg and func is not torch.ops.prim.device.default \
                    and hasattr(func, "decompose"):
                with self:
                    r = func.decompose(*args, **kwargs)
                    if r is not NotImplemented:
                        return r
            out = func(*args, **kwargs)
            if packet in reg:
                self.flop += int(reg[packet](*args, **kwargs, out_val=out))
            elif not _is_cheap(func):
                key = str(packet)
                self.unknown[key] = self.unknown.get(key, 0) + 1
            return out

    return Count()


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
    err = ValidationError(
        f"from_torch: cannot trace {type(module).__name__}: failing operator {op or 'unknown'}"
        f"{where}: {type(exc).__name__}: {first}", "module")
    err.construct = f"{op or 'unknown'}{where}"          # type: ignore[attr-defined]
    err.data_dependent = bool(re.search(                 # type: ignore[attr-defined]
        r"data-dependent|data dependent|GuardOnDataDependent|Could not guard|"
        r"unbacked|_local_scalar_dense|\.item\(\)", msg + type(exc).__name__))
    return err


def _meta_copy(module: Any) -> Any:
    """A copy of the module whose parameters and buffers are meta tensors (no data copied)."""
    import copy

    import torch

    memo: dict[int, Any] = {}
    for p in module.parameters():
        memo[id(p)] = torch.nn.Parameter(torch.empty_like(p, device="meta"),
                                         requires_grad=p.requires_grad)
    for b in module.buffers():
        memo[id(b)] = torch.empty_like(b, device="meta")
    return copy.deepcopy(module, memo)


def _export(module: Any, args: tuple, kwargs: dict, meta: bool = True) -> Any:
    """``torch.export`` (non-strict), first of a meta copy (fast: no real weights to fakify),
    then of the module itself."""
    import logging

    import torch

    LastOp = _last_op_mode()
    import contextlib
    import io

    before = logging.root.manager.disable        # torch logs the graph of a failed export
    logging.disable(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            return _export_quiet(module, args, kwargs, meta, LastOp)
    finally:
        logging.disable(before)


def _export_quiet(module: Any, args: tuple, kwargs: dict, meta: bool, LastOp: Any) -> Any:
    import torch

    if meta and any(t.device.type != "meta" for t in module.parameters()):
        try:
            with warnings.catch_warnings(), LastOp():
                warnings.simplefilter("ignore")
                return torch.export.export(_meta_copy(module), _meta_like(args),
                                           kwargs=_meta_like(kwargs), strict=False)
        except Exception as exc:  # noqa: BLE001 - else retried on the module itself
            err = _untraceable(module, exc, LastOp.last)
            if getattr(err, "data_dependent", False):
                raise err from exc
    try:
        with LastOp(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"The tensor attributes .* were assigned "
                                    r"during export")      # nn.LSTM's _flat_weights
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
               provenance: Mapping[str, Any] | None = None, cost_on: str = "meta",
               fallback: bool = True, cache: bool | str | Any = False, measure: bool = False,
               measure_options: Mapping[str, Any] | None = None) -> ModelGraph:
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
    cost_on : "meta" or "inputs"
        Run the operators on meta copies (default: exact FLOP and bytes, no arithmetic) or on
        the example inputs' own device.
    fallback : bool
        On data-dependent control flow that ``torch.export`` cannot trace, profile at module
        level from one eager pass (with a warning) instead of raising.
    cache : bool or path
        Reuse / store the profile in the profile cache (:mod:`slopt.profiles.cache`); a path
        chooses the cache folder.
    measure : bool
        Also time every vertex's forward and backward on this machine (real tensors needed) and
        fill the per-layer time columns (:func:`slopt.profiles.measure.measure`;
        ``measure_options``: ``side``, ``warmup``, ``repeats``, ``threads``).

    Raises
    ------
    ValidationError
        If the module cannot be traced (naming the failing operator and source line), if its
        own backward fails, or if a custom backward's FLOP cannot be placed in a module.
    """
    import torch

    if measure:                  # measured per-layer times: profile first, then time each vertex
        from slopt.profiles.measure import measure as timed

        g = from_torch(module, example_inputs, example_kwargs, granularity=granularity, block=block,
                       batch_size=batch_size, loss_fn=loss_fn, check=check, name=name,
                       provenance=provenance, cost_on=cost_on, fallback=fallback, cache=cache)
        return timed(g, module, example_inputs, example_kwargs, granularity=granularity,
                     **dict(measure_options or {}))
    if not isinstance(module, torch.nn.Module):
        raise ValidationError(f"module must be a torch.nn.Module, got {type(module).__name__}",
                              "module")
    args = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    kwargs = dict(example_kwargs or {})
    if (isinstance(granularity, str) and granularity not in ("op", "module")) or not (
            isinstance(granularity, (str, int)) or callable(granularity)):
        raise ValidationError(f"granularity = {granularity!r}; expected 'op', 'module' or an int",
                              "granularity")
    if cost_on not in ("meta", "inputs"):
        raise ValidationError(f"cost_on = {cost_on!r}; expected 'meta' or 'inputs'", "cost_on")
    flat = [t for t in torch.utils._pytree.tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
    if batch_size is None:
        batch_size = int(flat[0].shape[0]) if flat and flat[0].dim() > 0 else 1
    if batch_size < 1:
        raise ValidationError(f"batch_size = {batch_size}; it must be >= 1", "batch_size")
    if cost_on == "meta" and _home(module, args, kwargs).type != "meta" and any(
            isinstance(m, torch.nn.RNNBase) for m in module.modules()):
        cost_on = "inputs"      # meta kernels unroll every time step of an RNN: far slower
    gran_label = granularity if isinstance(granularity, (str, int)) \
        else getattr(granularity, "__name__", "callable")
    key = None
    if cache:
        from slopt.profiles import cache as profile_cache

        if not callable(granularity) or isinstance(granularity, (str, int)):
            key = profile_cache.key(module, args, kwargs, {
                "granularity": gran_label, "block": block if not callable(block) else
                getattr(block, "__qualname__", "callable"), "batch_size": batch_size,
                "check": check, "loss_fn": getattr(loss_fn, "__qualname__", None),
                "name": name, "provenance": dict(provenance or {}), "cost_on": cost_on,
                "fallback": fallback})
            hit = profile_cache.get(key, None if cache is True else cache)
            if hit is not None:
                return hit

    notes: dict[str, Any] = {}
    saved_buffers = {k: b.detach().clone() for k, b in module.named_buffers()}
    fallback_info: dict[str, Any] | None = None
    uncounted: dict[str, int] = {}
    totals, check_on, eager_bwd = None, None, None
    try:
        with _generation_cache_off(module, kwargs, notes):
            try:
                ep = _export(module, args, kwargs, meta=cost_on == "meta")
            except ValidationError as exc:
                if not (fallback and getattr(exc, "data_dependent", False)):
                    raise
                ep = None
                fallback_info = {"reason": str(exc), "construct": getattr(exc, "construct", "")}
                warnings.warn(
                    f"from_torch: torch.export cannot trace {type(module).__name__}: data-dependent"
                    f" control flow, {fallback_info['construct']}; profiled at module level from "
                    f"one eager forward/backward pass instead (vertices = module calls; pass "
                    f"fallback=False to raise)", UserWarning, stacklevel=2)
            if ep is not None:
                ep, nodes, run_on, uncounted = _run_anywhere(ep, module, args, kwargs, cost_on)
                if check:
                    try:
                        totals, eager_bwd, check_on = _whole_model_detail(
                            module, args, kwargs, loss_fn, cost_on)
                    except _ForwardFailed as exc:  # e.g. .item() in eager code: use the graph
                        totals, _, _ = _whole_model_detail(_unlifted(ep, module), args, kwargs,
                                                           loss_fn, cost_on)
                        check_on = f"exported graph (eager module failed: {exc})"
            else:
                nodes, run_on, uncounted, totals, eager_bwd = _eager_ops(
                    module, args, kwargs, loss_fn, cost_on)
                check_on = f"{run_on} (the same eager pass, torch's FlopCounterMode)"
    finally:
        with torch.no_grad():
            for k, b in module.named_buffers():
                if k in saved_buffers:
                    b.copy_(saved_buffers[k])
    fixed: dict[str, Any] = {}
    if totals is not None and ep is not None:
        fixed = _reconcile_backward(module, nodes, totals, eager_bwd)
    if uncounted:
        warnings.warn(
            f"from_torch: {type(module).__name__}: operators without a FLOP formula were counted "
            f"as 0 FLOP: {', '.join(f'{k} (x{v})' for k, v in sorted(uncounted.items()))}",
            UserWarning, stacklevel=2)
    graph = _build(nodes, {}, granularity, block, batch_size)
    prov: dict[str, Any] = {
        "tool": "slopt.profiles.from_torch (torch.export + FlopCounterMode, forward and backward "
                "run operator by operator)" if ep is not None else
                "slopt.profiles.from_torch module-level fallback (one eager forward/backward pass, "
                "operators recorded per module by hooks, FlopCounterMode module tracking)",
        "versions": _versions(),
        "model": type(module).__name__,
        "input_shapes": [list(t.shape) for t in flat],
        "input_dtypes": [str(t.dtype) for t in flat],
        "batch_size": batch_size,
        "granularity": gran_label,
        "device": str(flat[0].device) if flat else "cpu",
        "operators_run_on": run_on,
        "flop_convention": "multiply-add = 2 FLOP (torch.utils.flop_counter)",
        "per_sample": True,
    }
    prov.update(notes)
    if fallback_info is not None:
        prov["fallback"] = fallback_info
    if uncounted:
        prov["uncounted_ops"] = dict(sorted(uncounted.items()))
    if fixed:
        prov["backward_from_eager"] = fixed
    if totals is not None:
        prov["check"] = {"whole_model_forward_flop": totals[0] / batch_size,
                         "whole_model_backward_flop": totals[1] / batch_size,
                         "sum_forward_flop": float(graph["forward_flop"].sum()),
                         "sum_backward_flop": float(graph["backward_flop"].sum()),
                         "run_on": check_on}
    prov.update(provenance or {})
    g = ModelGraph(name=name or type(module).__name__, provenance=prov, **graph)
    if key is not None:
        profile_cache.put(key, g, None if cache is True else cache)
    return g


class _ForwardFailed(Exception):
    """The eager forward pass of the whole-model check failed."""


def _generation_cache_off(module: Any, kwargs: dict, notes: dict) -> Any:
    """Context: a Hugging Face config's ``use_cache`` (and ``return_dict`` cache outputs) off."""
    import contextlib

    @contextlib.contextmanager
    def ctx() -> Any:
        cfgs = []
        for m in module.modules():
            c = getattr(m, "config", None)
            if c is not None and getattr(c, "use_cache", False) is True and "use_cache" not in kwargs:
                cfgs.append(c)
        for c in {id(c): c for c in cfgs}.values():
            c.use_cache = False
        if cfgs:
            notes["use_cache"] = ("set to False while profiling (a generation cache object in "
                                  "the output cannot be traced; training does not use it)")
        try:
            yield
        finally:
            for c in cfgs:
                c.use_cache = True

    return ctx()


def _meta_like(x: Any, memo: dict[int, Any] | None = None) -> Any:
    """A meta tensor of the same shape, dtype and ``requires_grad`` (tensors within pytrees)."""
    import torch

    memo = {} if memo is None else memo

    def one(t: Any) -> Any:
        if not isinstance(t, torch.Tensor):
            return t
        if id(t) not in memo:                # the source is kept: its id cannot be reused
            m = torch.empty_like(t, device="meta")
            if t.requires_grad and (m.is_floating_point() or m.is_complex()):
                m.requires_grad_(True)
            memo[id(t)] = (t, m)
        return memo[id(t)][1]

    return torch.utils._pytree.tree_map(one, x)


def _home(module: Any, args: Any, kwargs: Any) -> Any:
    """The device the model's inputs (else weights) live on."""
    import torch

    for t in list(torch.utils._pytree.tree_leaves((args, kwargs))) + list(module.parameters()):
        if isinstance(t, torch.Tensor):
            return t.device
    return torch.device("cpu")


def _sdpa_as_on(home: Any) -> Callable[..., Any] | None:
    """``scaled_dot_product_attention`` on meta tensors with the kernel the ``home`` device
    would choose (on CPU the flash kernel, whose backward recomputes the scores, when its
    conditions hold; else the math path), so that meta runs count what the device runs."""
    import torch

    if home.type != "cpu":
        return None
    from torch.nn.attention import SDPBackend

    plain = torch.nn.functional.scaled_dot_product_attention

    def sdpa(q: Any, k: Any, v: Any, attn_mask: Any = None, dropout_p: float = 0.0,
             is_causal: bool = False, scale: float | None = None, enable_gqa: bool = False) -> Any:
        if q.device.type != "meta":
            return plain(q, k, v, attn_mask, dropout_p, is_causal, scale=scale,
                         enable_gqa=enable_gqa)
        def probe_of(t: Any) -> Any:   # same shape, dtype and requires_grad, on the CPU
            p = torch.empty(t.shape, dtype=t.dtype)
            return p.requires_grad_(True) if t.requires_grad and p.is_floating_point() else p
        probe = [probe_of(t) for t in (q, k, v)]
        mask = None if attn_mask is None else probe_of(attn_mask)
        try:
            choice = torch._fused_sdp_choice(*probe, mask, dropout_p, is_causal, scale=scale,
                                             enable_gqa=enable_gqa)
        except Exception:  # noqa: BLE001
            choice = None
        if choice == SDPBackend.FLASH_ATTENTION.value:
            return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
                q, k, v, dropout_p, is_causal, attn_mask=attn_mask, scale=scale)[0]
        return plain(q, k, v, attn_mask, dropout_p, is_causal, scale=scale, enable_gqa=enable_gqa)

    return sdpa


def _sdpa_mode(home: Any) -> Any:
    """A function mode that routes ``F.scaled_dot_product_attention`` through
    :func:`_sdpa_as_on` (for eager runs on meta copies)."""
    import contextlib

    import torch
    from torch.overrides import TorchFunctionMode

    fn = _sdpa_as_on(home)
    if fn is None:
        return contextlib.nullcontext()
    target = torch.nn.functional.scaled_dot_product_attention

    class Mode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            if func is target:
                return fn(*args, **(kwargs or {}))
            return func(*args, **(kwargs or {}))

    return Mode()


def _meta_state(module: Any) -> dict[str, Any]:
    memo: dict[int, Any] = {}
    state = {k: _meta_like(p, memo) for k, p in module.named_parameters(remove_duplicate=False)}
    state.update({k: _meta_like(b, memo) for k, b in module.named_buffers(remove_duplicate=False)})
    return state


def _run_anywhere(ep: Any, module: Any, args: tuple, kwargs: dict,
                  cost_on: str) -> tuple[Any, dict[str, _Node], str, dict[str, int]]:
    """Operator-by-operator run on meta copies, or on the inputs' device if meta fails (then
    the module itself is exported again: a meta copy's graph may hold meta constants)."""
    if cost_on == "meta":
        try:
            nodes, unknown = _run(ep, module, args, kwargs, meta=True)
            return ep, nodes, "meta", unknown
        except ValidationError:
            ep = _export(module, args, kwargs, meta=False)
    nodes, unknown = _run(ep, module, args, kwargs, meta=False)
    return ep, nodes, "inputs' device", unknown


def _exclusive(tot: Mapping[str, float], glob: float, root: str) -> dict[str, float]:
    """Per-module FLOP without those of the child modules, from hierarchical per-module totals
    (``FlopCounterMode``'s keys ``Root``, ``Root.a``, ``Root.a.lin``), paths relative to the
    root. Module tracking in backward can miss a parent while a child runs; negative
    differences are clamped to 0 and the total is kept equal to ``glob``."""
    tot = {k: v for k, v in tot.items() if k != "Global"}
    parent: dict[str, str | None] = {}
    for k in tot:
        parts = k.split(".")
        parent[k] = next((".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)
                          if ".".join(parts[:i]) in tot), None)
    out = dict(tot)
    for k, p in parent.items():
        if p is not None:
            out[p] -= tot[k]
    rel: dict[str, float] = {}
    for k, v in out.items():
        r = "" if k == root else (k[len(root) + 1:] if k.startswith(root + ".") else k)
        rel[r] = rel.get(r, 0.0) + max(v, 0.0)
    rest = glob - sum(rel.values())
    if rest > 0:
        rel[""] = rel.get("", 0.0) + rest
    elif rest < 0 and sum(rel.values()) > 0:
        f = glob / sum(rel.values())
        rel = {k: v * f for k, v in rel.items()}
    return {k: v for k, v in rel.items() if v}


def _module_backward(counts: Mapping[str, Mapping[Any, int]],
                     fwd_counts: Mapping[str, Mapping[Any, int]], root: str,
                     bwd_total: float) -> dict[str, float]:
    """Backward FLOP per module path from counts after forward+backward and after forward."""
    hier = {k: float(sum(v.values())) - float(sum(fwd_counts.get(k, {}).values()))
            for k, v in counts.items()}
    return _exclusive(hier, bwd_total, root)


def _grad_targets(module_params: list[Any], args: Any) -> list[Any]:
    import torch

    return [p for p in module_params if p.requires_grad] + [
        t for t in torch.utils._pytree.tree_leaves(args)
        if isinstance(t, torch.Tensor) and t.requires_grad]


def _one_pass(module: Any, args: tuple, kwargs: dict, loss_fn: Any, meta: bool,
              recorder: Any = None) -> tuple[tuple[float, float], dict[str, float], Any]:
    """One forward + backward under ``FlopCounterMode``: totals and per-module backward FLOP."""
    import copy

    import torch

    if meta:
        state = _meta_state(module)
        a, kw = _meta_like((args, kwargs))
        mode = _sdpa_mode(_home(module, args, kwargs))

        def call() -> Any:
            with mode:
                return torch.func.functional_call(module, state, a, kw, strict=False)
        params = list({id(t): t for t in state.values()}.values())
    else:   # detached aliases (shared storage): gradients land on them, not on the model
        memo: dict[int, Any] = {}

        def alias(t: Any) -> Any:
            if not isinstance(t, torch.Tensor):
                return t
            if id(t) not in memo:
                d = t.detach()
                memo[id(t)] = (t, d.requires_grad_(True) if t.requires_grad else d)
            return memo[id(t)][1]
        state = {k: alias(p) for k, p in module.named_parameters(remove_duplicate=False)}
        state.update(dict(module.named_buffers(remove_duplicate=False)))
        a, kw = torch.utils._pytree.tree_map(alias, (args, kwargs))
        if recorder is not None:
            recorder.params = {id(alias(p)): id(p) for p in module.parameters()}
            recorder.mark_inputs((a, kw))

        def call() -> Any:
            return torch.func.functional_call(module, state, a, kw, strict=False)
    params = list({id(t): t for t in state.values()}.values())
    root = type(module).__name__
    with torch.enable_grad():
        c = _counter()
        with c:
            try:
                if recorder is not None:
                    with recorder:
                        out = call()
                else:
                    out = call()
            except Exception as exc:  # noqa: BLE001
                raise _ForwardFailed(f"{type(exc).__name__}: "
                                     f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
            fwd_counts = copy.deepcopy(c.get_flop_counts())
            fwd = float(sum(fwd_counts.get("Global", {}).values()))
            loss = (loss_fn or _default_loss)(out)
            if loss is not None and getattr(loss, "requires_grad", False):
                targets = _grad_targets(params, (a, kw))
                try:   # .backward(inputs=): autograd.grad does not support module tracking hooks
                    loss.backward(inputs=targets)
                except Exception as exc:  # noqa: BLE001 - the model's own backward
                    raise _BackwardFailed(exc) from exc
            counts = c.get_flop_counts()
            total = float(sum(counts.get("Global", {}).values()))
            bwd_by_path = _module_backward(counts, fwd_counts, root, total - fwd)
    return (fwd, total - fwd), bwd_by_path, out


class _BackwardFailed(Exception):
    def __init__(self, exc: BaseException) -> None:
        super().__init__(f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}")
        self.exc = exc


def _whole_model_detail(module: Any, args: tuple, kwargs: dict, loss_fn: Any,
                        cost_on: str) -> tuple[tuple[float, float], dict[str, float], str]:
    """Totals and per-module backward FLOP of one ordinary training step of the whole module,
    on meta copies first (``cost_on="meta"``), else on the inputs' device."""
    if cost_on == "meta":
        try:
            totals, per, _ = _one_pass(module, args, kwargs, loss_fn, meta=True)
            return totals, per, "module (eager, meta copies)"
        except (_ForwardFailed, _BackwardFailed):
            pass
    try:
        totals, per, _ = _one_pass(module, args, kwargs, loss_fn, meta=False)
    except _BackwardFailed as exc:
        raise ValidationError(f"from_torch: the backward pass of {type(module).__name__} itself "
                              f"fails ({exc}); the model cannot be trained as given", "module") \
            from exc.exc
    return totals, per, "module (eager)"


def _spread(nodes: list[Any], total: float) -> None:
    """Set the backward FLOP of ``nodes`` to ``total``, in proportion to their forward FLOP."""
    f = sum(n.fwd for n in nodes)
    for n in nodes:
        n.bwd = 0.0
    if f > 0:
        for n in nodes:
            n.bwd = total * n.fwd / f
    elif nodes:
        nodes[-1].bwd = total


def _tol(x: float) -> float:
    return 0.5 + 1e-9 * abs(x)


def _reconcile_backward(module: Any, nodes: dict[str, Any], totals: tuple[float, float],
                        eager: Mapping[str, float] | None) -> dict[str, Any]:
    """Where autograd's rule (per operator) and the eager backward disagree (a custom
    ``autograd.Function``), cost the modules concerned by what the eager backward ran."""
    rule = sum(n.bwd for n in nodes.values())
    if abs(rule - totals[1]) <= _tol(totals[1]) or eager is None:
        return {}
    by_path: dict[str, list[Any]] = {}
    for n in nodes.values():
        by_path.setdefault(n.path, []).append(n)
    rule_by = {p: sum(n.bwd for n in ns) for p, ns in by_path.items()}
    diff = [p for p in set(rule_by) | set(eager)
            if abs(rule_by.get(p, 0.0) - eager.get(p, 0.0)) > _tol(eager.get(p, 0.0))]
    where = ", ".join(f"{p or '<root>'}: rule {rule_by.get(p, 0.0):.6g}, eager "
                      f"{eager.get(p, 0.0):.6g}" for p in sorted(diff))
    missing = [p for p in diff if p not in by_path and eager.get(p, 0.0)]
    if missing:
        raise ValidationError(
            f"from_torch: {type(module).__name__}: the eager backward runs {totals[1]:.6g} FLOP, "
            f"autograd's rule for the traced operators gives {rule:.6g} FLOP (a custom "
            f"autograd.Function?), and the difference is in modules without traced operators "
            f"({where})", "module")
    fixed = {}
    for p in diff:
        fixed[p or "<root>"] = {"rule_flop": rule_by.get(p, 0.0), "eager_flop": eager.get(p, 0.0)}
        if p in by_path:
            _spread(by_path[p], eager.get(p, 0.0))
    new = sum(n.bwd for n in nodes.values())
    if abs(new - totals[1]) > _tol(totals[1]):
        raise ValidationError(
            f"from_torch: {type(module).__name__}: the eager backward runs {totals[1]:.6g} FLOP, "
            f"autograd's rule for the traced operators gives {rule:.6g} FLOP, and the difference "
            f"cannot be placed ({where})", "module")
    warnings.warn(f"from_torch: {type(module).__name__}: the backward differs from autograd's rule "
                  f"for the traced forward operators (a custom autograd.Function); costed by what "
                  f"the eager backward runs: {where}", UserWarning, stacklevel=3)
    return fixed


def _eager_ops(module: Any, args: tuple, kwargs: dict, loss_fn: Any, cost_on: str) -> tuple:
    """Module-level fallback: one eager forward (operators recorded with their module by hooks)
    and backward (per-module FLOP from ``FlopCounterMode``'s module tracking)."""
    import torch

    def attempt(meta: bool) -> tuple:
        rec = _recorder(module)
        if meta:
            state = _meta_state(module)
            real = dict(module.named_parameters(remove_duplicate=False))
            rec.params = {id(t): id(real[k]) for k, t in state.items() if k in real}
            a, kw = _meta_like((args, kwargs))
        else:
            a, kw = args, kwargs
        if meta:
            rec.mark_inputs((a, kw))
        totals, per, out = _one_pass(module, a, kw, loss_fn, meta=False, recorder=rec) \
            if not meta else _one_pass_state(module, state, a, kw, loss_fn, rec,
                                                          _home(module, args, kwargs))
        return rec, totals, per, out

    try:
        if cost_on != "meta":
            raise _ForwardFailed("")
        rec, totals, per, out = attempt(True)
        run_on = "meta"
    except _ForwardFailed:
        try:
            rec, totals, per, out = attempt(False)
        except _ForwardFailed as exc:
            raise ValidationError(f"from_torch: module-level fallback: the eager forward pass of "
                                  f"{type(module).__name__} fails: {exc}", "module") from exc
        except _BackwardFailed as exc:
            raise ValidationError(f"from_torch: the backward pass of {type(module).__name__} "
                                  f"itself fails ({exc}); the model cannot be trained as given",
                                  "module") from exc.exc
        run_on = "inputs' device"
    except _BackwardFailed as exc:
        raise ValidationError(f"from_torch: the backward pass of {type(module).__name__} itself "
                              f"fails ({exc}); the model cannot be trained as given",
                              "module") from exc.exc
    nodes = rec.finish(module, out)
    by_path: dict[str, list[Any]] = {}          # operators on the data path (kept as vertices)
    for n in nodes.values():
        if n.data:
            by_path.setdefault(n.path, []).append(n)
    data_nodes = [n for n in nodes.values() if n.data]
    for p, v in per.items():
        q = p
        while q not in by_path and q:
            q = q.rpartition(".")[0]
        target = by_path.get(q) or data_nodes[-1:]
        f = sum(n.fwd for n in target)
        for n in target:
            n.bwd += v * n.fwd / f if f > 0 else 0.0
        if f <= 0 and target:
            target[-1].bwd += v
    return nodes, run_on, rec.unknown, totals, per


def _one_pass_state(module: Any, state: dict, a: Any, kw: Any, loss_fn: Any,
                    rec: Any, home: Any) -> tuple:
    """:func:`_one_pass` on given meta state and inputs (the recorder knows their ids)."""
    import copy

    import torch

    root = type(module).__name__
    with torch.enable_grad():
        c = _counter()
        with c:
            try:
                with rec, _sdpa_mode(home):
                    out = torch.func.functional_call(module, state, a, kw, strict=False)
            except Exception as exc:  # noqa: BLE001
                raise _ForwardFailed(f"{type(exc).__name__}: {exc}") from exc
            fwd_counts = copy.deepcopy(c.get_flop_counts())
            fwd = float(sum(fwd_counts.get("Global", {}).values()))
            loss = (loss_fn or _default_loss)(out)
            if loss is not None and getattr(loss, "requires_grad", False):
                targets = _grad_targets(list({id(t): t for t in state.values()}.values()), (a, kw))
                try:
                    loss.backward(inputs=targets)
                except Exception as exc:  # noqa: BLE001
                    raise _BackwardFailed(exc) from exc
            counts = c.get_flop_counts()
            total = float(sum(counts.get("Global", {}).values()))
    return (fwd, total - fwd), _module_backward(counts, fwd_counts, root, total - fwd), out


def _recorder(module: Any) -> Any:
    """A dispatch mode recording every ATen operator of a forward pass as a :class:`_Node`, with
    the innermost module it runs in (global module hooks), its inputs and forward FLOP."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.weak import WeakIdKeyDictionary

    names: dict[int, str] = {}
    for nm, m in module.named_modules(remove_duplicate=False):
        names.setdefault(id(m), nm)
    reg = _registry()

    class Rec(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []
            self.nodes: dict[str, _Node] = {}
            self.producer = WeakIdKeyDictionary()
            self.inputs = WeakIdKeyDictionary()
            self.params: dict[int, int] = {}      # id of a tensor seen -> id of the parameter
            self.unknown: dict[str, int] = {}
            self.hooks: list[Any] = []
            self.seen: dict[str, int] = {}

        def mark_inputs(self, x: Any) -> None:
            for t in torch.utils._pytree.tree_leaves(x):
                if isinstance(t, torch.Tensor):
                    self.inputs[t] = True

        def __enter__(self) -> Any:
            def pre(m: Any, _inp: Any) -> None:
                if id(m) in names:
                    self.stack.append(names[id(m)])

            def post(m: Any, _inp: Any, _out: Any) -> None:
                if id(m) in names and self.stack:
                    self.stack.pop()
            mm = torch.nn.modules.module
            self.hooks = [mm.register_module_forward_pre_hook(pre),
                          mm.register_module_forward_hook(post, always_call=True)]
            return super().__enter__()

        def __exit__(self, *exc: Any) -> Any:
            for h in self.hooks:
                h.remove()
            return super().__exit__(*exc)

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            kwargs = kwargs or {}
            packet = getattr(func, "_overloadpacket", func)
            if packet not in reg and hasattr(func, "decompose"):
                with self:
                    r = func.decompose(*args, **kwargs)
                    if r is not NotImplemented:
                        return r
            out = func(*args, **kwargs)
            if str(func).startswith(("aten.sym_", "aten.size", "aten.stride", "aten.dim",
                                     "aten.numel", "aten.is_", "prim.")):
                return out
            base = str(packet).rpartition(".")[2]
            self.seen[base] = self.seen.get(base, 0) + 1
            n = _Node(base if self.seen[base] == 1 else f"{base}_{self.seen[base] - 1}",
                      str(packet), self.stack[-1] if self.stack else "")
            if packet in reg:
                n.fwd = float(reg[packet](*args, **kwargs, out_val=out))
            elif not _is_cheap(func):
                self.unknown[str(packet)] = self.unknown.get(str(packet), 0) + 1
            for t in torch.utils._pytree.tree_leaves((args, kwargs)):
                if not isinstance(t, torch.Tensor):
                    continue
                if t in self.producer:
                    src = self.producer[t]
                    if src not in n.inputs:
                        n.inputs.append(src)
                        n.data = n.data or self.nodes[src].data
                elif t in self.inputs:
                    n.data = True
                elif id(t) in self.params:
                    n.params[self.params[id(t)]] = (_nbytes(t), bool(t.requires_grad))
            n.out_bytes = _nbytes(out)
            self.nodes[n.name] = n
            for t in _tensors(out):
                self.producer[t] = n.name
            return out

        def finish(self, module: Any, out: Any) -> dict[str, _Node]:
            outs = {self.producer[t] for t in torch.utils._pytree.tree_leaves(out)
                    if isinstance(t, torch.Tensor) and t in self.producer}
            for n in self.nodes.values():
                for i in n.inputs:
                    self.nodes[i].users.append(n.name)
                n.is_output = n.name in outs
            # parameters not seen as operator inputs (views, aliases): at the module's first op
            seen = {pid for n in self.nodes.values() for pid in n.params}
            first: dict[str, _Node] = {}
            for n in self.nodes.values():
                if n.data:
                    first.setdefault(n.path, n)
            for path, m in module.named_modules():
                for p in m.parameters(recurse=False):
                    if id(p) in seen or not first:
                        continue
                    q = path
                    while q not in first and q:
                        q = q.rpartition(".")[0]
                    host = first.get(q) or next(iter(first.values()))
                    host.params[id(p)] = (_nbytes(p), bool(p.requires_grad))
                    seen.add(id(p))
            return self.nodes

    return Rec()


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
    """Forward and backward FLOP of one ordinary training step of the whole module (eager)."""
    return _whole_model_detail(module, args, kwargs, loss_fn, "inputs")[0]


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


def _run(ep: Any, module: Any, args: tuple, kwargs: dict,
         meta: bool = False) -> tuple[dict[str, _Node], dict[str, int]]:
    """Execute the exported graph operator by operator; measure forward and backward FLOP.

    With ``meta``, every weight, input and created tensor is a meta tensor (same shapes and
    dtypes, no data). Returns the operators and the uncounted operators met (name -> calls)."""
    import torch
    from torch.fx.node import map_aggregate

    memo: dict[int, Any] = {}
    to_dev = (lambda x: _meta_like(x, memo)) if meta else (lambda x: x)
    meta_dev = torch.device("meta")
    unknown: dict[str, int] = {}
    sdpa = torch.ops.aten.scaled_dot_product_attention.default
    sdpa_home = _sdpa_as_on(_home(module, args, kwargs)) if meta else None

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
                    v = to_dev(t).detach()
                    if isinstance(t, torch.nn.Parameter) and t.requires_grad:
                        v = v.requires_grad_(True)
                    env[node.name] = v
                    if isinstance(t, torch.nn.Parameter):
                        param_nodes[node.name] = (id(t), _nbytes(t), bool(t.requires_grad))
                    depends[node.name] = False
                else:
                    v = next(user_tensor_vals)
                    if isinstance(v, torch.Tensor):   # an input that asks for its gradient keeps it
                        need = v.requires_grad
                        v = to_dev(v).detach()
                        v = v.requires_grad_(True) if need else v
                    env[node.name] = v
                    depends[node.name] = True
                continue
            if node.op == "output":
                for a in torch.utils._pytree.tree_leaves(node.args):
                    if isinstance(a, torch.fx.Node):
                        outputs.add(a.name)
                continue
            if node.op == "get_attr":
                env[node.name] = to_dev(getattr(ep.graph_module, node.target))
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

            def arg(a: Any) -> Any:
                if isinstance(a, torch.fx.Node):
                    return prep(a)
                if meta and isinstance(a, torch.device):
                    return meta_dev
                return a

            call_args = map_aggregate(node.args, arg)
            call_kwargs = map_aggregate(node.kwargs, arg)
            if meta and "device" in call_kwargs:
                call_kwargs = dict(call_kwargs, device=meta_dev)
            try:
                c = _count_mode()
                target = sdpa_home if node.target is sdpa and sdpa_home is not None \
                    else node.target
                with c:
                    out = target(*call_args, **call_kwargs)
                n.fwd = float(c.flop)
                for k, v in c.unknown.items():
                    unknown[k] = unknown.get(k, 0) + v
                if node.target is not operator.getitem:
                    outs = [t for t in _tensors(out) if t.requires_grad]
                    if outs and leaves:
                        cb = _count_mode()
                        with cb:
                            torch.autograd.grad(outs, leaves, [torch.ones_like(t) for t in outs],
                                                allow_unused=True)
                        n.bwd = float(cb.flop)
                        for k, v in cb.unknown.items():
                            unknown[k] = unknown.get(k, 0) + v
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
    return nodes, unknown


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
