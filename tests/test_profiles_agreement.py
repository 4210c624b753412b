"""Agreement of the three profile sources on the same small models.

* analytic ``transformer()`` vs ``from_torch`` on tiny GPT-2, LLaMA and ViT configurations built
  with ``transformers`` (random weights): FLOP within 2 % (they agree exactly), parameters exact,
  also with a frozen base and LoRA adapters (peft);
* ``from_onnx`` vs ``from_torch`` on a small CNN: exact when only products are counted, within
  1 % with the element-wise operators counted.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tf = pytest.importorskip("transformers")

from slopt.profiles import from_onnx, from_torch  # noqa: E402
from slopt.profiles.transformer import PRESETS, config_from_hf, hf_config, transformer  # noqa: E402

SEQ = 16


def _hf(name: str):
    torch.manual_seed(0)
    if name.startswith("vit"):
        m = tf.ViTForImageClassification(hf_config(name)).train()
        cfg = PRESETS[name]
        x = torch.randn(2, 3, cfg.image, cfg.image)
        return m, x, {"labels": torch.tensor([1, 2])}, None
    cls = tf.GPT2LMHeadModel if name.startswith("gpt2") else tf.LlamaForCausalLM
    m = cls(hf_config(name, use_cache=False)).train()
    ids = torch.randint(0, PRESETS[name].vocab, (2, SEQ))
    return m, ids, {"labels": ids}, SEQ


def _per_block(g):
    fr = g.to_frame()
    return fr.groupby("block", sort=False)[["forward_flop", "backward_flop", "param_bytes",
                                             "trainable_param_bytes"]].sum()


@pytest.mark.parametrize("name", ["gpt2-tiny", "llama-tiny", "vit-tiny"])
def test_transformer_matches_from_torch(name):
    m, x, kw, seq = _hf(name)
    measured = from_torch(m, x, kw)
    analytic = transformer(name, seq, dtype_bytes=4)
    assert config_from_hf(m.config) == PRESETS[name].__class__(**{
        **PRESETS[name].__dict__, "name": config_from_hf(m.config).name})
    n_params = sum(p.numel() for p in m.parameters())
    assert analytic.extra["param_count"].sum() == n_params          # exact
    assert measured.param_bytes.sum() == analytic.param_bytes.sum() == 4 * n_params
    for col in ("forward_flop", "backward_flop"):
        a, b = analytic.column(col).sum(), measured.column(col).sum()
        assert abs(a - b) <= 0.02 * b, (col, a, b)
    # block by block: the i-th transformer block of both profiles
    blocks = [b for b in _per_block(measured).index if b.split(".")[-1].isdigit()]
    per = _per_block(measured).loc[blocks]
    assert len(blocks) == PRESETS[name].n_layers
    assert np.allclose(per["forward_flop"].to_numpy(), analytic.forward_flop[1:-1], rtol=0.02)
    assert np.allclose(per["backward_flop"].to_numpy(), analytic.backward_flop[1:-1], rtol=0.02)
    assert np.array_equal(per["param_bytes"].to_numpy(), analytic.param_bytes[1:-1])


def test_lora_profile_matches_peft():
    peft = pytest.importorskip("peft")
    m, x, kw, seq = _hf("llama-tiny")
    m = peft.get_peft_model(m, peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"],
                                               lora_dropout=0.0))
    measured = from_torch(m, x, kw)
    analytic = transformer("llama-tiny", seq, dtype_bytes=4, lora_rank=4, lora_targets=("q", "v"))
    assert measured.param_bytes.sum() == analytic.param_bytes.sum()
    assert measured.trainable_param_bytes.sum() == analytic.trainable_param_bytes.sum()
    assert analytic.trainable_param_bytes.sum() == 4 * sum(
        p.numel() for p in m.parameters() if p.requires_grad)
    for col in ("forward_flop", "backward_flop"):
        a, b = analytic.column(col).sum(), measured.column(col).sum()
        assert abs(a - b) <= 0.02 * b, (col, a, b)
    c = measured.provenance["check"]
    assert c["sum_backward_flop"] == c["whole_model_backward_flop"]
    # frozen base: about 1x forward backward, not 2x
    assert 0.9 < measured.backward_flop.sum() / measured.forward_flop.sum() < 1.2


class SmallCNN(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, groups=2)
        self.conv3 = nn.Conv2d(64, 64, 3, padding=1)
        self.fc = nn.Linear(64 * 8 * 8, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        y = torch.relu(self.conv2(x))
        x = self.pool(torch.relu(self.conv3(y)) + y)
        return torch.softmax(self.fc(torch.flatten(x, 1)), -1)


@pytest.fixture(scope="module")
def cnn_onnx(tmp_path_factory):
    pytest.importorskip("onnx")
    torch.manual_seed(0)
    m = SmallCNN().eval()
    x = torch.randn(2, 3, 32, 32)
    path = tmp_path_factory.mktemp("onnx") / "cnn.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (x,), str(path), dynamo=False, input_names=["x"])
    return m, x, path


def test_from_onnx_agrees_with_from_torch(cnn_onnx):
    m, x, path = cnn_onnx
    t = from_torch(m, x)
    exact = from_onnx(path, elementwise=False)
    assert exact.forward_flop.sum() == t.forward_flop.sum()
    assert exact.backward_flop.sum() == t.backward_flop.sum()
    assert exact.param_bytes.sum() == t.param_bytes.sum()
    full = from_onnx(path)                                  # with element-wise operators
    assert abs(full.forward_flop.sum() - t.forward_flop.sum()) <= 0.01 * t.forward_flop.sum()
    assert full.forward_flop.sum() > t.forward_flop.sum()
    # module-level grouping of the ONNX graph gives the same vertices' FLOP as from_torch
    mod = from_onnx(path, elementwise=False, granularity="module")
    tf_ = dict(zip(t.names, t.forward_flop))
    of_ = dict(zip(mod.names, mod.forward_flop))
    for k in ("conv1", "conv2", "conv3", "fc"):
        assert of_[k] == tf_[k]
    assert np.isclose(mod.activation_bytes[mod.index("conv1")], t.activation_bytes[t.index("conv1")])


def test_lora_on_mlp_with_trainable_tied_head_matches_peft():
    """GPT-2: LoRA on the MLP up-projection (peft on Conv1D c_fc) and a trained LM head, which is
    the tied token embedding."""
    peft = pytest.importorskip("peft")
    m, x, kw, seq = _hf("gpt2-tiny")
    m = peft.get_peft_model(m, peft.LoraConfig(r=4, target_modules=["c_fc"], lora_dropout=0.0,
                                               fan_in_fan_out=True))
    base = m.base_model.model
    for p in [base.lm_head.weight, *base.transformer.ln_f.parameters()]:
        p.requires_grad_(True)
    measured = from_torch(m, x, kw)
    analytic = transformer("gpt2-tiny", seq, dtype_bytes=4, lora_rank=4, lora_targets=("up",),
                           trainable_head=True)
    for col in ("forward_flop", "backward_flop", "param_bytes", "trainable_param_bytes"):
        assert analytic.column(col).sum() == measured.column(col).sum(), col


def test_vit_lora_with_trained_classifier_matches_peft():
    """ViT fine-tuning as in split fine-tuning: LoRA on q, v; classifier and final norm trained."""
    peft = pytest.importorskip("peft")
    m, x, kw, _ = _hf("vit-tiny")
    m = peft.get_peft_model(m, peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"],
                                               lora_dropout=0.0, modules_to_save=["classifier"]))
    for n, p in m.named_parameters():
        if "vit.layernorm" in n:
            p.requires_grad_(True)
    measured = from_torch(m, x, kw)
    analytic = transformer("vit-tiny", dtype_bytes=4, lora_rank=4, lora_targets=("q", "v"),
                           trainable_head=True)
    for col in ("forward_flop", "backward_flop", "param_bytes", "trainable_param_bytes"):
        assert analytic.column(col).sum() == measured.column(col).sum(), col
