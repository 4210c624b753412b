"""from_onnx on hand-built ONNX graphs: FLOP formulas, unknown operators, frozen weights, bad files."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from slopt.errors import ValidationError  # noqa: E402
from slopt.profiles import from_onnx  # noqa: E402


def _init(name, *shape):
    return numpy_helper.from_array(np.zeros(shape, dtype=np.float32), name)


def _model(with_unknown: bool = False, batch: int | str = "N"):
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="/stem/conv/Conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="/stem/relu/Relu"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="/pool/MaxPool", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], name="/body/body.0/conv/Conv", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "p1"], ["a2"], name="/body/body.0/Add"),
        helper.make_node("GlobalAveragePool", ["a2"], ["g"], name="/gap/GlobalAveragePool"),
        helper.make_node("Flatten", ["g"], ["f"], name="/Flatten"),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["logits"], name="/fc/Gemm", transB=1),
        helper.make_node("LayerNormalization", ["logits", "ln_s", "ln_b"], ["ln"], name="/ln/LN"),
        helper.make_node("Softmax", ["ln"], ["y"], name="/Softmax"),
    ]
    if with_unknown:
        nodes.append(helper.make_node("Hardmax", ["y"], ["h"], name="/Hardmax"))
        nodes.append(helper.make_node("Hardmax", ["h"], ["z"], name="/Hardmax_1"))
    out = "z" if with_unknown else "y"
    g = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 8, 8])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [batch, 10])],
        [_init("w1", 8, 3, 3, 3), _init("b1", 8), _init("w2", 8, 8, 3, 3), _init("wf", 10, 8),
         _init("bf", 10), _init("ln_s", 10), _init("ln_b", 10)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_operator_flop_formulas():
    g = from_onnx(_model(), input_shapes={"x": [4, 3, 8, 8]})
    f = dict(zip(g.names, g.forward_flop))
    assert f["/stem/conv/Conv"] == 2 * 8 * 64 * 27           # per sample, bias not counted
    assert f["/stem/relu/Relu"] == 8 * 64
    assert f["/pool/MaxPool"] == 8 * 16 * 4
    assert f["/body/body.0/conv/Conv"] == 2 * 8 * 16 * 72
    assert f["/body/body.0/Add"] == 8 * 16
    assert f["/gap/GlobalAveragePool"] == 8 * 16
    assert f["/Flatten"] == 0
    assert f["/fc/Gemm"] == 2 * 8 * 10
    assert f["/ln/LN"] == 7 * 10 and f["/Softmax"] == 5 * 10
    b = dict(zip(g.names, g.backward_flop))
    assert b["/stem/conv/Conv"] == f["/stem/conv/Conv"]          # weight gradient only
    assert b["/body/body.0/conv/Conv"] == 2 * f["/body/body.0/conv/Conv"]
    assert g.provenance["batch_size"] == 4
    assert g.activation_bytes[g.index("/stem/conv/Conv")] == 8 * 64 * 4
    assert g.param_bytes.sum() == 4 * (8 * 27 + 8 + 8 * 72 + 80 + 10 + 20)
    assert g.n == 10 and len(g.inputs) == 1 and len(g.outputs) == 1
    assert g.m == 10                                          # chain + the skip p1 -> Add
    # products only (what torch's FlopCounterMode counts)
    p = from_onnx(_model(), elementwise=False)
    assert p.forward_flop.sum() == 2 * 8 * 64 * 27 + 2 * 8 * 16 * 72 + 2 * 80


def test_module_granularity_and_blocks():
    g = from_onnx(_model(), granularity="module")
    assert "stem.conv" in g.names and "body.0.conv" in g.names
    blocks = dict(zip(g.names, g.block))
    assert blocks["body.0.conv"] == blocks["body.0"] == "body.0"


def test_unknown_operators_are_warned_and_counted_zero():
    with pytest.warns(UserWarning, match=r"zero FLOP.*Hardmax x2"):
        g = from_onnx(_model(with_unknown=True))
    assert g.provenance["unknown_ops"] == {"Hardmax": 2}
    assert g.forward_flop[g.index("/Hardmax")] == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_onnx(_model())                                   # nothing unknown: no warning


def test_frozen_initializers():
    g = from_onnx(_model(), frozen={"w1", "b1", "w2"})
    b = dict(zip(g.names, g.backward_flop))
    assert b["/stem/conv/Conv"] == 0
    assert b["/body/body.0/conv/Conv"] == 0                   # nothing upstream is trainable
    assert g.trainable_param_bytes[g.index("/stem/conv/Conv")] == 0
    assert g.trainable_param_bytes.sum() == 4 * (80 + 10 + 20)


def test_file_round_trip_and_bad_files(tmp_path):
    path = tmp_path / "tiny.onnx"
    onnx.save(_model(), str(path))
    assert from_onnx(path).forward_flop.sum() == from_onnx(_model()).forward_flop.sum()
    data = path.read_bytes()
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValidationError,
                       match=r"truncated\.onnx.*truncated or corrupt.*field 'graph\.\w+\[\d+\]'") as e:
        from_onnx(bad)
    assert e.value.field.startswith("graph.")
    bad.write_bytes(data[:40])
    with pytest.raises(ValidationError, match=r"field 'graph\.node\[0\]'"):
        from_onnx(bad)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x0f\xff not onnx at all" * 10)
    with pytest.raises(ValidationError, match=r"junk\.onnx.*field"):
        from_onnx(junk)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ValidationError, match=r"empty\.onnx.*field 'graph'"):
        from_onnx(empty)
    with pytest.raises(ValidationError, match="does not exist"):
        from_onnx(tmp_path / "missing.onnx")
    with pytest.raises(ValidationError, match="input_shapes"):
        from_onnx(_model(), input_shapes={"x": [1, 3]})
