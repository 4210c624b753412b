"""Profiles of ONNX models: :func:`from_onnx`.

The model is loaded without its external weight data (only shapes are needed), symbolic input
dimensions are fixed (``input_shapes``, default 1), ONNX shape inference gives every tensor's shape
and type, and each operator gets a forward FLOP figure from its shapes (multiply-add = 2 FLOP):

=========================  =====================================================================
operator                   forward FLOP (per batch, before division by the batch size)
=========================  =====================================================================
Conv                       2 * numel(Y) * (C_in / group) * prod(kernel)     (bias not counted)
ConvTranspose              2 * numel(X) * (C_out / group) * prod(kernel)
Gemm                       2 * M * N * K                                    (bias not counted)
MatMul                     2 * numel(Y) * K  (K = last dim of A; batched, broadcast)
elementwise (Add, Relu..)  1 per output element                    (``elementwise=True`` only)
Softmax, LogSoftmax        5 per element: max, subtract, exp, sum, divide (reconstructed)
LayerNormalization,        7 per element: mean, subtract, square, variance, normalise, scale,
Group/InstanceNorm         shift (reconstructed)
BatchNormalization         4 per element: subtract, divide, scale, shift (inference form)
MaxPool, AveragePool       numel(Y) * prod(kernel) (one compare / add per window element)
Global*Pool, Reduce*       numel(X)
data movement              0 (Reshape, Transpose, Concat, Slice, Gather, Cast, ...)
anything else              0, and listed in a ``UserWarning`` (and ``provenance["unknown_ops"]``)
=========================  =====================================================================

With ``elementwise=False`` only Conv, ConvTranspose, Gemm and MatMul are counted - exactly the
operators ``torch.utils.flop_counter`` counts, so that the figures equal those of
:func:`slopt.profiles.from_torch` on the same model (``tests/test_profiles_onnx.py``).

ONNX has no backward graph; backward FLOP are derived per operator the way autograd runs: a
product (Conv, Gemm, MatMul) costs one GEMM of its forward size per operand that needs a gradient
(an operand needs one iff it is a trainable initializer or depends on one; graph inputs do not);
any other counted operator costs its forward figure again if one of its inputs needs a gradient.
Initializers are trainable unless listed in ``frozen``.

Vertices: one per operator that depends on a graph input (``granularity="op"``), or the
operators of one module (``"module"``: the ``pkg.torch.onnx.name_scopes`` metadata of the torch
exporter, or the ``/a/a.0/conv1/Conv`` node names of the legacy exporter), grouped as in
:func:`slopt.profiles.from_torch`. Operators that depend on no input (shape arithmetic,
constants) are folded into their first consumer.
"""

from __future__ import annotations

import ast
import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from slopt.errors import ValidationError
from slopt.profiles.graph import ModelGraph
from slopt.profiles.torch_loader import auto_block

__all__ = ["from_onnx", "ELEMENTWISE", "ZERO_FLOP"]

ELEMENTWISE = frozenset({
    "Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu", "PRelu", "Sigmoid", "Tanh", "Erf", "Exp",
    "Log", "Sqrt", "Reciprocal", "Neg", "Abs", "Pow", "Max", "Min", "Clip", "Gelu", "HardSigmoid",
    "HardSwish", "Elu", "Selu", "Celu", "Softplus", "Softsign", "Mish", "Sum", "Mean", "Sin", "Cos",
    "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Not", "And", "Or", "Xor", "Sign",
    "Floor", "Ceil", "Round", "Mod", "ThresholdedRelu", "Swish",
})
#: Operators that move or reshape data (no arithmetic).
ZERO_FLOP = frozenset({
    "Reshape", "Flatten", "Transpose", "Concat", "Split", "Slice", "Gather", "GatherElements",
    "GatherND", "Squeeze", "Unsqueeze", "Identity", "Shape", "Size", "Constant", "ConstantOfShape",
    "Cast", "CastLike", "Expand", "Dropout", "Range", "Pad", "Tile", "Where", "ScatterND",
    "ScatterElements", "Trilu", "DepthToSpace", "SpaceToDepth", "OneHot", "EyeLike",
})
_PER_ELEMENT = {"Softmax": 5, "LogSoftmax": 5, "LayerNormalization": 7, "GroupNormalization": 7,
                "InstanceNormalization": 7, "BatchNormalization": 4}
_POOL = {"MaxPool", "AveragePool", "LpPool"}
_GLOBAL = {"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "ReduceMean", "ReduceSum",
           "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare",
           "ReduceLogSum", "ReduceLogSumExp", "ArgMax", "ArgMin"}
_PRODUCTS = {"Conv", "ConvTranspose", "Gemm", "MatMul"}


_MODEL_FIELDS = {1: "ir_version", 2: "producer_name", 3: "producer_version", 4: "domain",
                 5: "model_version", 6: "doc_string", 7: "graph", 8: "opset_import",
                 14: "metadata_props", 20: "training_info", 25: "functions",
                 26: "configuration"}
_GRAPH_FIELDS = {1: "node", 2: "name", 5: "initializer", 10: "doc_string", 11: "input",
                 12: "output", 13: "value_info", 14: "quantization_annotation",
                 15: "sparse_initializer", 16: "metadata_props"}


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(buf):
            raise IndexError
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def _broken_field(buf: bytes, names: dict[int, str], prefix: str = "", depth: int = 0) -> str | None:
    """Name the first field of a protobuf message whose bytes are cut or malformed (wire walk)."""
    i, count = 0, {}
    while i < len(buf):
        try:
            key, i = _varint(buf, i)
        except IndexError:
            return f"{prefix}<tag at byte {i}>"
        num, wire = key >> 3, key & 7
        nm = names.get(num, f"field#{num}")
        k = count.get(nm, 0)
        count[nm] = k + 1
        label = f"{prefix}{nm}" + (f"[{k}]" if nm in ("node", "initializer", "input", "output",
                                                        "value_info", "opset_import") else "")
        try:
            if wire == 0:
                _, i = _varint(buf, i)
            elif wire == 1:
                i += 8
            elif wire == 5:
                i += 4
            elif wire == 2:
                n, i = _varint(buf, i)
                if i + n > len(buf):
                    if depth == 0 and nm == "graph":
                        inner = _broken_field(buf[i:], _GRAPH_FIELDS, "graph.", 1)
                        return inner or label
                    return label
                if depth == 0 and nm == "graph":
                    inner = _broken_field(buf[i:i + n], _GRAPH_FIELDS, "graph.", 1)
                    if inner:
                        return inner
                i += n
            else:
                return label
        except IndexError:
            return label
        if i > len(buf):
            return label
    return None


def _load(src: Any) -> tuple[Any, str]:
    import onnx
    from google.protobuf.message import DecodeError

    if isinstance(src, onnx.ModelProto):
        return src, "<onnx.ModelProto>"
    path = Path(src)
    if not path.exists():
        raise ValidationError(f"ONNX file {str(path)!r} does not exist", "path")
    data = path.read_bytes()
    if not data:
        raise ValidationError(f"{path}: the file is empty (field 'graph' missing)", "graph")
    m = onnx.ModelProto()
    try:
        m.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        field = _broken_field(data, _MODEL_FIELDS) or "ModelProto"
        raise ValidationError(f"{path}: not a valid ONNX file (truncated or corrupt): field "
                              f"{field!r} cannot be parsed ({len(data)} bytes; {exc})",
                              field) from exc
    return m, str(path)


def _check(m: Any, source: str) -> None:
    import onnx

    if not m.HasField("graph"):
        raise ValidationError(f"{source}: field 'graph' is missing (truncated or not an ONNX "
                              "model)", "graph")
    if not m.graph.node:
        raise ValidationError(f"{source}: field 'graph.node' is empty", "graph.node")
    if not m.opset_import:
        raise ValidationError(f"{source}: field 'opset_import' is missing", "opset_import")
    external = any(t.data_location == onnx.TensorProto.EXTERNAL for t in m.graph.initializer)
    try:
        # a file path lets the checker find external weight files beside the model
        onnx.checker.check_model(source if external and Path(source).exists() else m)
    except onnx.checker.ValidationError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValidationError(f"{source}: invalid ONNX model: {first}", "graph") from exc


def _dims(t: Any) -> tuple[int | str | None, ...] | None:
    if not t.type.HasField("tensor_type") or not t.type.tensor_type.HasField("shape"):
        return None
    out: list[int | str | None] = []
    for d in t.type.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            out.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            out.append(d.dim_param)
        else:
            out.append(None)
    return tuple(out)


def _itemsize(elem_type: int) -> int:
    from onnx import helper

    try:
        return int(np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)).itemsize)
    except (KeyError, TypeError, ValueError):
        return 0


def _attr(node: Any, name: str, default: Any = None) -> Any:
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _module_path(node: Any) -> str:
    for p in node.metadata_props:
        if p.key == "pkg.torch.onnx.name_scopes":
            try:
                scopes = ast.literal_eval(p.value)
            except (ValueError, SyntaxError):
                break
            inner = [s for s in scopes[1:-1] if s]
            return inner[-1] if inner else ""
    name = node.name or ""
    if name.startswith("/"):
        path = ""
        for seg in name.strip("/").split("/")[:-1]:
            if path and seg.startswith(path + "."):
                path = seg
            elif not path:
                path = seg
            else:
                path = f"{path}.{seg}"
        return path
    return ""


def from_onnx(model: Any, *, input_shapes: Mapping[str, Iterable[int]] | None = None,
              batch_size: int | None = None, elementwise: bool = True,
              frozen: Iterable[str] | Callable[[str], bool] | None = None,
              granularity: str | int = "op",
              block: int | Callable[[str], str | None] | None = None,
              name: str | None = None, warn: bool = True) -> ModelGraph:
    """Profile an ONNX model (a file path or an ``onnx.ModelProto``).

    Parameters
    ----------
    model : str, Path or onnx.ModelProto
    input_shapes : mapping, optional
        Concrete shapes for graph inputs with symbolic dimensions (other symbolic dims -> 1).
    batch_size : int, optional
        Samples in one run (default: first dimension of the first graph input); figures are
        divided by it (per sample).
    elementwise : bool
        Count element-wise, normalisation and pooling operators (default True). False counts
        only Conv/ConvTranspose/Gemm/MatMul, like ``torch.utils.flop_counter``.
    frozen : names of initializers (or a predicate) that receive no gradient (e.g. a LoRA base).
    granularity : "op", "module" or int depth (see module docstring).
    block : None (auto from the module path), an int depth, or a function of the module path.
    warn : emit the ``UserWarning`` listing operators counted as zero FLOP because unknown.

    Raises
    ------
    ValidationError
        A missing, empty, truncated or corrupt file (naming the file and the field).
    """
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover
        raise ValidationError("from_onnx needs the onnx package: pip install onnx", "onnx") from exc
    m, source = _load(model)
    _check(m, source)
    g = m.graph
    init = {t.name: t for t in g.initializer}
    # fix symbolic input dims, then infer shapes
    m = onnx.ModelProto.FromString(m.SerializeToString())
    g = m.graph
    shapes_in = {k: list(v) for k, v in (input_shapes or {}).items()}
    real_inputs = [i for i in g.input if i.name not in init]
    for i in real_inputs:
        dims = i.type.tensor_type.shape.dim
        want = shapes_in.get(i.name)
        if want is not None and len(want) != len(dims):
            raise ValidationError(f"input_shapes[{i.name!r}] has {len(want)} dims, the model input "
                                  f"has {len(dims)}", "input_shapes")
        for k, d in enumerate(dims):
            if want is not None:
                d.ClearField("dim_param")
                d.dim_value = int(want[k])
            elif not d.HasField("dim_value"):
                d.ClearField("dim_param")
                d.dim_value = 1
    try:
        inferred = onnx.shape_inference.infer_shapes(m, data_prop=True)
    except Exception as exc:  # noqa: BLE001
        raise ValidationError(f"{source}: ONNX shape inference failed: {exc}", "graph") from exc
    gi = inferred.graph
    vinfo: dict[str, tuple[tuple | None, int]] = {}
    for v in [*gi.input, *gi.value_info, *gi.output]:
        vinfo[v.name] = (_dims(v), v.type.tensor_type.elem_type)
    for t in gi.initializer:
        vinfo[t.name] = (tuple(int(d) for d in t.dims), t.data_type)

    def shape(nm: str) -> tuple | None:
        s = vinfo.get(nm, (None, 0))[0]
        if s is None or any(not isinstance(d, int) for d in s):
            return None
        return s

    def numel(nm: str) -> int | None:
        s = shape(nm)
        return None if s is None else int(math.prod(s))

    def nbytes(nm: str) -> int:
        n_ = numel(nm)
        return 0 if n_ is None else n_ * _itemsize(vinfo.get(nm, (None, 0))[1])

    if batch_size is None:
        s0 = shape(real_inputs[0].name) if real_inputs else None
        batch_size = int(s0[0]) if s0 else 1
    if batch_size < 1:
        raise ValidationError(f"batch_size = {batch_size}; it must be >= 1", "batch_size")
    is_frozen = frozen if callable(frozen) else (lambda n, s=frozenset(frozen or ()): n in s)
    float_types = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE,
                   onnx.TensorProto.BFLOAT16}
    req: dict[str, bool] = {}
    data: dict[str, bool] = {i.name: True for i in real_inputs}
    params: dict[str, tuple[int, bool]] = {}
    for nm, t in init.items():
        trainable = t.data_type in float_types and not is_frozen(nm)
        req[nm] = trainable
        if t.data_type in float_types:
            params[nm] = (int(math.prod(t.dims)) * _itemsize(t.data_type), trainable)

    unknown: dict[str, int] = {}
    nodes: list[dict[str, Any]] = []
    producer: dict[str, int] = {}
    for k, node in enumerate(gi.node):
        op = node.op_type
        ins = [x for x in node.input if x]
        outs = [x for x in node.output if x]
        f, unknown_shape = 0.0, False
        try:
            if op == "Conv":
                w = shape(ins[1])
                f = 2.0 * numel(outs[0]) * math.prod(w[1:])
            elif op == "ConvTranspose":
                w = shape(ins[1])
                f = 2.0 * numel(ins[0]) * math.prod(w[1:])
            elif op == "Gemm":
                a = shape(ins[0])
                kdim = a[0] if _attr(node, "transA", 0) else a[1]
                f = 2.0 * numel(outs[0]) * kdim
            elif op == "MatMul":
                a = shape(ins[0])
                f = 2.0 * numel(outs[0]) * a[-1]
            elif not elementwise or op in ZERO_FLOP:
                f = 0.0
            elif op in ELEMENTWISE:
                f = float(numel(outs[0]))
            elif op in _PER_ELEMENT:
                f = float(_PER_ELEMENT[op] * numel(outs[0]))
            elif op in _POOL:
                f = float(numel(outs[0]) * math.prod(_attr(node, "kernel_shape", [1])))
            elif op in _GLOBAL:
                f = float(numel(ins[0]))
            else:
                unknown[op] = unknown.get(op, 0) + 1
        except (TypeError, IndexError):     # a shape the inference could not give
            unknown_shape = True
            f = 0.0
        if unknown_shape and (op in _PRODUCTS or elementwise):
            key = f"{op} (shape unknown)"
            unknown[key] = unknown.get(key, 0) + 1
        # backward (see module docstring)
        if op in _PRODUCTS:
            operands = ins[:2]
            b = f * sum(bool(req.get(x, False)) for x in operands)
        else:
            b = f if any(req.get(x, False) for x in ins) else 0.0
        out_float = [vinfo.get(o, (None, 0))[1] in float_types for o in outs]
        r = any(req.get(x, False) for x in ins) and op not in ("Shape", "Size")
        for o, fl in zip(outs, out_float):
            req[o] = r and fl
        is_data = any(data.get(x, False) for x in ins)
        for o in outs:
            data[o] = is_data
            producer[o] = k
        nodes.append({"name": node.name or f"{op}_{k}", "op": op, "fwd": f, "bwd": b,
                      "ins": ins, "outs": outs, "data": is_data, "path": _module_path(node),
                      "params": {x: params[x] for x in ins if x in params}})
    if unknown and warn:
        listed = ", ".join(f"{op} x{c}" for op, c in sorted(unknown.items()))
        warnings.warn(f"from_onnx({source}): operators counted as zero FLOP (unknown to slopt): "
                      f"{listed}", UserWarning, stacklevel=2)

    graph_outputs = {o.name for o in gi.output}
    users: dict[int, list[int]] = {k: [] for k in range(len(nodes))}
    for k, nd in enumerate(nodes):
        for x in nd["ins"]:
            if x in producer:
                users[producer[x]].append(k)
    # owners of input-independent nodes: first data-dependent consumer
    owner: dict[int, int | None] = {}
    for k in range(len(nodes) - 1, -1, -1):
        if nodes[k]["data"]:
            owner[k] = k
            continue
        cands = [owner[u] for u in users[k] if owner.get(u) is not None]
        owner[k] = min(cands) if cands else None
    keep = [k for k in range(len(nodes)) if nodes[k]["data"]]
    keep_set = set(keep)
    fwd = {k: nodes[k]["fwd"] for k in keep}
    bwd = {k: nodes[k]["bwd"] for k in keep}
    prm = {k: dict(nodes[k]["params"]) for k in keep}
    for k in range(len(nodes)):
        o = owner.get(k)
        if k not in keep_set and o is not None:
            fwd[o] += nodes[k]["fwd"]
            bwd[o] += nodes[k]["bwd"]
            prm[o].update(nodes[k]["params"])

    def key(k: int) -> str:
        nd = nodes[k]
        if granularity == "op":
            return f"#{k}"
        if granularity == "module":
            return nd["path"]
        if isinstance(granularity, int):
            return ".".join(nd["path"].split(".")[:granularity]) if nd["path"] else ""
        raise ValidationError(f"granularity = {granularity!r}; expected 'op', 'module' or an int",
                              "granularity")

    groups: list[list[int]] = []
    prev = None
    group_of: dict[int, int] = {}
    for k in keep:
        kk = key(k)
        if not groups or kk != prev:
            groups.append([])
        groups[-1].append(k)
        group_of[k] = len(groups) - 1
        prev = kk
    names: list[str] = []
    blocks: list[str] = []
    seen: dict[str, int] = {}
    counted: set[str] = set()
    n_v = len(groups)
    F, B, PB, TB, A = (np.zeros(n_v) for _ in range(5))
    src: list[int] = []
    dst: list[int] = []
    for gi_, grp in enumerate(groups):
        first = nodes[grp[0]]
        base = first["name"] if granularity == "op" else (key(grp[0]) or first["name"])
        seen[base] = seen.get(base, 0) + 1
        nm = base if seen[base] == 1 else f"{base}#{seen[base]}"
        names.append(nm)
        path = first["path"]
        lab = (auto_block(path) if block is None else block(path) if callable(block)
               else (".".join(path.split(".")[:int(block)]) if path else None))
        blocks.append(lab or nm)
        gset = set(grp)
        for k in grp:
            F[gi_] += fwd[k]
            B[gi_] += bwd[k]
            for pn, (nb, tr) in prm[k].items():
                if pn not in counted:
                    counted.add(pn)
                    PB[gi_] += nb
                    TB[gi_] += nb if tr else 0
            for o in nodes[k]["outs"]:
                ext = [u for u in users[k] if u in keep_set and u not in gset and o in nodes[u]["ins"]]
                if ext or o in graph_outputs:
                    A[gi_] += nbytes(o)
                for u in ext:
                    src.append(gi_)
                    dst.append(group_of[u])
        if A[gi_] == 0:
            A[gi_] = sum(nbytes(o) for o in nodes[grp[-1]]["outs"])
    e = np.unique(np.array([src, dst], dtype=np.int64).T, axis=0) if src else np.zeros((0, 2), np.int64)
    prov = {
        "tool": "slopt.profiles.from_onnx (ONNX shape inference + per-operator FLOP formulas)",
        "versions": {"onnx": onnx.__version__},
        "source": source,
        "producer": f"{m.producer_name} {m.producer_version}".strip(),
        "opset": [f"{o.domain or 'ai.onnx'}:{o.version}" for o in m.opset_import],
        "input_shapes": {i.name: list(shape(i.name) or []) for i in real_inputs},
        "batch_size": batch_size,
        "elementwise": elementwise,
        "granularity": granularity,
        "unknown_ops": unknown,
        "flop_convention": "multiply-add = 2 FLOP",
        "per_sample": True,
    }
    return ModelGraph(forward_flop=F / batch_size, backward_flop=B / batch_size, param_bytes=PB,
                      trainable_param_bytes=TB, activation_bytes=A / batch_size, src=e[:, 0],
                      dst=e[:, 1], names=names, block=blocks, name=name or (g.name or "onnx"),
                      provenance=prov)
