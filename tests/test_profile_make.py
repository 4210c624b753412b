"""Profiling models the project does not ship: encoder-decoders, LayerDrop-style control flow,
an LSTM LM, a custom autograd.Function, an invalid backward, unknown operators, user files
through ``slopt profile make``, hf: targets, the profile cache. Every figure is checked against
a count that does not use the profiler: a hand formula or ``FlopCounterMode`` on the whole model.
"""

from __future__ import annotations

import json
import textwrap
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from slopt.errors import SloptError, ValidationError  # noqa: E402
from slopt.profiles import from_torch, read  # noqa: E402


def whole_model_flop(m, args, kwargs=None):
    """Forward and backward FLOP of one training step, counted by torch on the whole model."""
    kwargs = kwargs or {}
    c = FlopCounterMode(display=False)
    with c:
        out = m(*args, **kwargs)
    fwd = c.get_total_flops()
    loss = out.loss if getattr(out, "loss", None) is not None else out.float().sum()
    c2 = FlopCounterMode(display=False)
    with c2:
        loss.backward()
    m.zero_grad(set_to_none=True)
    return fwd, c2.get_total_flops()


# ---------------------------------------------------------------------------- encoder-decoders
def test_t5_default_config_profiles_with_cache_off():
    tf = pytest.importorskip("transformers")
    cfg = tf.T5Config(d_model=32, d_ff=64, num_layers=2, num_heads=2, d_kv=16, vocab_size=64,
                      decoder_start_token_id=0)
    assert cfg.use_cache is True                       # the default that used to break tracing
    torch.manual_seed(0)
    m = tf.T5ForConditionalGeneration(cfg).train()
    ids = torch.zeros(2, 8, dtype=torch.long)
    g = from_torch(m, ids, {"labels": ids})
    assert "use_cache" in g.provenance and cfg.use_cache is True      # restored afterwards
    fwd, bwd = whole_model_flop(m, (ids,), {"labels": ids})
    assert g.forward_flop.sum() * 2 == fwd
    assert g.backward_flop.sum() * 2 == bwd
    assert g.param_bytes.sum() == 4 * sum(p.numel() for p in set(m.parameters()))


def test_whisper_default_config_profiles():
    tf = pytest.importorskip("transformers")
    cfg = tf.WhisperConfig(d_model=32, encoder_layers=1, decoder_layers=1,
                           encoder_attention_heads=2, decoder_attention_heads=2,
                           encoder_ffn_dim=64, decoder_ffn_dim=64, max_source_positions=16,
                           num_mel_bins=8)
    cfg._attn_implementation = "eager"    # torch's own counter has no formula for CPU SDPA
    torch.manual_seed(0)
    m = tf.WhisperForConditionalGeneration(cfg).train()
    x, labels = torch.zeros(1, 8, 32), torch.zeros(1, 4, dtype=torch.long)
    g = from_torch(m, x, {"labels": labels})
    assert "use_cache" in g.provenance
    fwd, bwd = whole_model_flop(m, (x,), {"labels": labels})
    assert g.forward_flop.sum() == fwd
    assert g.backward_flop.sum() == bwd


# ---------------------------------------------------------------------------- control flow
class LayerDrop(nn.Module):
    """Wav2Vec2-style LayerDrop and a ``labels.max()`` check: data-dependent Python control flow."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p
        self.layers = nn.ModuleList([nn.Linear(16, 16) for _ in range(3)])
        self.head = nn.Linear(16, 4)

    def forward(self, x, labels=None):
        for layer in self.layers:
            if self.training and torch.rand(()) < self.p:
                continue
            x = torch.relu(layer(x))
        y = self.head(x)
        if labels is not None and labels.max() >= 4:
            raise ValueError("label out of range")
        return y


def test_layerdrop_falls_back_to_a_module_level_profile():
    m = LayerDrop().train()
    with pytest.warns(UserWarning, match=r"data-dependent.*torch\.rand\(\(\)\) < self\.p"):
        g = from_torch(m, torch.randn(2, 16), {"labels": torch.zeros(2, dtype=torch.long)})
    assert "fallback" in g.provenance and "torch.rand" in g.provenance["fallback"]["construct"]
    # hand count per sample: Linear 16->16 = 2*16*16 FLOP; the first layer's input is data
    # (weight gradient only), the others also pass the input gradient back
    lin, head = 2 * 16 * 16, 2 * 16 * 4
    for i in range(3):
        v = g.index(f"layers.{i}")
        assert g.forward_flop[v] == lin
        assert g.backward_flop[v] == (lin if i == 0 else 2 * lin)
    assert g.forward_flop[g.index("head")] == head and g.backward_flop[g.index("head")] == 2 * head
    assert g.forward_flop.sum() == 3 * lin + head
    assert g.param_bytes.sum() == 4 * sum(p.numel() for p in m.parameters())
    c = g.provenance["check"]
    assert c["sum_forward_flop"] == c["whole_model_forward_flop"]
    assert c["sum_backward_flop"] == c["whole_model_backward_flop"]
    chain = ["layers.0", "relu", "layers.1", "relu_1", "layers.2", "relu_2", "head"]
    for u, w in zip(chain, chain[1:]):                  # the data path, in order
        assert g.index(w) in g.successors(u), (u, w)
    with pytest.raises(ValidationError, match=r"failing operator.*torch\.rand"):
        from_torch(m, torch.randn(2, 16), fallback=False)


# ---------------------------------------------------------------------------- recurrent layers
class LSTMLM(nn.Module):
    def __init__(self, vocab=50, d_in=64, hidden=128, layers=2, bidirectional=False) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, d_in)
        self.rnn = nn.LSTM(d_in, hidden, layers, batch_first=True, bidirectional=bidirectional)
        self.fc = nn.Linear(hidden * (2 if bidirectional else 1), vocab)

    def forward(self, x):
        y, _ = self.rnn(self.emb(x))
        return self.fc(y)


def lstm_closed_form(d_in, hidden, layers, steps, dirs=1):
    """Forward FLOP per sample: per step, layer and direction 4 gates x (W_ih x + W_hh h)."""
    total = 0
    for layer in range(layers):
        inp = d_in if layer == 0 else hidden * dirs
        total += dirs * 2 * steps * 4 * hidden * (inp + hidden)
    return total


def test_issue_lstm_figure():
    # the reference case: 2-layer 256 -> 512 LSTM on 64 steps, about 470 MFLOP per sample
    assert lstm_closed_form(256, 512, 2, 64) == 469_762_048


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_lm_flop_match_the_closed_form(bidirectional):
    m = LSTMLM(bidirectional=bidirectional).train()
    steps = 16
    g = from_torch(m, torch.zeros(2, steps, dtype=torch.long))
    dirs = 2 if bidirectional else 1
    rnn = lstm_closed_form(64, 128, 2, steps, dirs)
    fc = 2 * steps * 128 * dirs * 50
    v = g.index("rnn")
    assert abs(g.forward_flop[v] - rnn) <= 0.01 * rnn
    # backward: input, hidden-state and weight gradients: two products per forward product
    assert abs(g.backward_flop[v] - 2 * rnn) <= 0.01 * 2 * rnn
    assert g.forward_flop[g.index("fc")] == fc
    assert g.forward_flop.sum() == g.provenance["check"]["whole_model_forward_flop"]


def test_gru_and_rnn_layers_are_counted():
    for cls, gates in ((nn.GRU, 3), (nn.RNN, 1)):
        m = cls(8, 16, 2, batch_first=True)
        g = from_torch(nn.Sequential(m), torch.zeros(2, 5, 8), loss_fn=lambda out: out[0].sum())
        want = sum(2 * 5 * gates * 16 * (i + 16) for i in (8, 16))
        assert g.forward_flop.sum() == want, cls.__name__


# ---------------------------------------------------------------------------- custom autograd
class Heavy(torch.autograd.Function):
    """x @ w whose backward also computes two extra products (as a recomputing kernel would)."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x @ w

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        extra = (g @ w.t()) @ w
        return g @ w.t() + 0 * (extra @ w.t()), x.t() @ g


class HeavyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(16, 16))
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        return self.fc(Heavy.apply(x, self.w))


def test_custom_function_is_costed_by_what_its_backward_runs():
    with pytest.warns(UserWarning, match="custom autograd.Function"):
        g = from_torch(HeavyNet().train(), torch.randn(2, 16))
    mm = 2 * 16 * 16                      # one 16x16 product per sample
    # the backward runs g w^T twice (once inside ``extra``), (g w^T) w, extra w^T and x^T g:
    # 5 such products per sample; autograd's rule for x @ w would run 1 (x needs no gradient)
    root = g.index("matmul")
    assert g.backward_flop[root] == 5 * mm
    assert g.provenance["backward_from_eager"]["<root>"]["rule_flop"] == 2 * mm   # batch of 2
    c = g.provenance["check"]
    assert c["sum_backward_flop"] == c["whole_model_backward_flop"]
    fwd, bwd = whole_model_flop(HeavyNet().train(), (torch.randn(2, 16),))
    assert g.backward_flop.sum() * 2 == bwd and g.forward_flop.sum() * 2 == fwd


class Broken(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g, g                       # one gradient too many: an invalid backward


class BrokenNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return Broken.apply(self.fc(x))


def test_invalid_backward_is_a_clear_error():
    with pytest.raises(ValidationError, match=r"backward pass of BrokenNet itself fails"):
        from_torch(BrokenNet().train(), torch.randn(2, 4))


class Inverse(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        a = self.fc(x).reshape(-1, 2, 2) + 3 * torch.eye(2)
        return torch.linalg.inv(a).sum((1, 2))


def test_unknown_operators_are_listed_when_left_at_zero():
    with pytest.warns(UserWarning, match=r"without a FLOP formula.*linalg_inv"):
        g = from_torch(Inverse().train(), torch.randn(2, 4))
    assert any("linalg_inv" in k for k in g.provenance["uncounted_ops"])
    assert g.forward_flop.sum() == 2 * 4 * 4                     # the Linear only


# ---------------------------------------------------------------------------- targets and CLI
MODEL_FILE = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self, width=32):
        super().__init__()
        self.emb = nn.Embedding(100, width)
        self.rnn = nn.GRU(width, width, batch_first=True)
        self.head = nn.Linear(width, 100)

    def forward(self, x):
        y, _ = self.rnn(self.emb(x))
        return self.head(y)

net = Net()
"""


def test_user_model_file_through_the_cli(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from slopt.cli import app

    monkeypatch.setenv("SLOPT_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "model.py"
    path.write_text(textwrap.dedent(MODEL_FILE))
    out = tmp_path / "net.json"
    r = CliRunner().invoke(app, ["profile", "make", f"{path}:net", "-o", str(out), "--batch", "2",
                                 "--seq-len", "10"])
    assert r.exit_code == 0, r.output
    g = read(out)
    s, w = 10, 32
    assert g.forward_flop[g.index("rnn")] == 2 * s * 3 * w * (w + w)     # GRU: 3 gates
    assert g.forward_flop[g.index("head")] == 2 * s * w * 100
    assert g.provenance["target"] == f"{path}:net"
    # a factory with --set, granularity op
    r = CliRunner().invoke(app, ["profile", "make", f"{path}:Net", "-o", str(out), "--set",
                                 "width=16", "--granularity", "op", "--seq-len", "4"])
    assert r.exit_code == 0, r.output
    g = read(out)
    assert g.forward_flop.sum() == 2 * 4 * 3 * 16 * 32 + 2 * 4 * 16 * 100
    for bad, msg in ((f"{path}:nothing", "has no attribute 'nothing'"),
                     ("no_such_module_xyz:net", "cannot import module"),
                     ("no-such-model", "unknown TARGET"),
                     (str(tmp_path / "missing.onnx"), "does not exist")):
        r = CliRunner().invoke(app, ["profile", "make", bad, "-o", str(out)])
        assert r.exit_code == 2 and msg in r.output.replace("\n", ""), (bad, r.output)


def test_hf_target_with_overrides_and_lora():
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    from slopt.profiles.target import make_profile

    sets = {"num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 2,
            "intermediate_size": 64, "vocab_size": 100, "max_position_embeddings": 64}
    g = make_profile("hf:bert", sets=sets, seq_len=16, batch=2, cache=False)
    d, f, s, v = 32, 64, 16, 100
    per_layer = 2 * s * (4 * d * d + 2 * d * f) + 2 * 2 * s * s * d     # projections + attention
    head = 2 * s * (d * d + d * v)                                       # transform + decoder
    assert g.forward_flop.sum() == 2 * per_layer + head
    lo = make_profile("hf:bert", sets=sets, seq_len=16, batch=2, cache=False, lora_rank=4,
                      lora_targets=["query", "value"])
    assert lo.provenance["lora"]["rank"] == 4
    # LoRA adds two rank-4 products per query/value projection; trainable bytes = adapters only
    assert lo.forward_flop.sum() == g.forward_flop.sum() + 2 * 2 * (2 * s * (d * 4 + 4 * d))
    assert lo.trainable_param_bytes.sum() == 4 * 2 * 2 * (d * 4 + 4 * d)
    with pytest.raises(ValidationError, match="knows no model type"):
        make_profile("hf:no_such_type", cache=False)


def test_measure_option_is_passed_or_refused(monkeypatch):
    import inspect

    from slopt.profiles import target, torch_loader

    if "measure" in inspect.signature(torch_loader.from_torch).parameters:
        def fake(*a, measure=False, **k):  # noqa: ANN001
            raise SloptError(f"measure={measure}")
    else:
        def fake(*a, **k):  # noqa: ANN001
            return None
    monkeypatch.setattr(torch_loader, "from_torch", fake)
    with pytest.raises(SloptError, match=r"measure=True|not available"):
        target.make_profile("resnet18", measure=True)


def test_profile_cache_hits_and_misses(tmp_path):
    m = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    g1 = from_torch(m, torch.randn(4, 8), cache=tmp_path)
    assert "cache" not in g1.provenance and len(list(tmp_path.glob("*.json"))) == 1
    g2 = from_torch(m, torch.randn(4, 8), cache=tmp_path)
    assert g2.provenance["cache"]["hit"] is True
    assert np.array_equal(g1.forward_flop, g2.forward_flop) and g1.names == g2.names
    g3 = from_torch(m, torch.randn(2, 8), cache=tmp_path)
    assert "cache" not in g3.provenance                   # another input shape: a new entry
    m[0].weight.requires_grad_(False)                     # frozen layer: another entry too
    g4 = from_torch(m, torch.randn(4, 8), cache=tmp_path)
    assert "cache" not in g4.provenance and g4.trainable_param_bytes[0] == 8 * 4
    assert len(list(tmp_path.glob("*.json"))) == 3
    json.loads(next(tmp_path.glob("*.json")).read_text())


def test_operator_costs_on_meta_equal_the_real_run():
    """The fast path (meta copies) and the real operators give the same figures."""
    from torch.nn import functional as F

    class Att(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(32, 96)
            self.norm = nn.LayerNorm(32)

        def forward(self, x):
            b, s, _ = x.shape
            q, k, v = self.qkv(self.norm(x)).view(b, s, 3, 4, 8).permute(2, 0, 3, 1, 4)
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    m, x = Att().train(), torch.randn(2, 16, 32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")              # nothing uncounted in this model
        fast = from_torch(m, x)
        slow = from_torch(m, x, cost_on="inputs")
    assert fast.provenance["operators_run_on"] == "meta"
    for col in ("forward_flop", "backward_flop", "activation_bytes", "param_bytes"):
        assert np.array_equal(getattr(fast, col), getattr(slow, col)), col


def test_onnx_target_with_input_shape(tmp_path):
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    from slopt.profiles.target import make_profile

    w = numpy_helper.from_array(np.zeros((8, 3, 3, 3), dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="/conv/Conv", pads=[1, 1, 1, 1])],
        "one-conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8, "H", "W"])], [w])
    path = tmp_path / "conv.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
                     .SerializeToString())
    g = make_profile(str(path), input_shape=[3, 16, 16], batch=4)
    assert g.forward_flop.sum() == 2 * 27 * 8 * 16 * 16               # per sample
    assert g.activation_bytes[0] == 4 * 8 * 16 * 16
    with pytest.raises(ValidationError, match="does not apply to an ONNX target"):
        make_profile(str(path), lora_rank=4)
