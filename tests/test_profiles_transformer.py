"""Analytic transformer profiles: published parameter counts, FLOP formulas, LoRA, memory."""

from __future__ import annotations

import numpy as np
import pytest

from slopt.errors import ValidationError
from slopt.profiles.transformer import PRESETS, TransformerConfig, transformer


@pytest.mark.parametrize("name, seq, params", [
    ("gpt2", 1024, 124_439_808),          # GPT-2 small, 124.4 M (tied LM head counted once)
    ("gpt2-medium", 1024, 354_823_168),   # GPT-2 medium, 355 M
    ("llama2-7b", 4096, 6_738_415_616),   # LLaMA-2-7B, 6.74 B
    ("vit-b16", None, 86_567_656),        # ViT-B/16 (1000 classes), 86.6 M
])
def test_published_parameter_counts(name, seq, params):
    g = transformer(name, seq)
    assert g.extra["param_count"].sum() == params
    assert g.param_bytes.sum() == 2 * params
    assert g.names == ["embedding", *(f"block.{i}" for i in range(PRESETS[name].n_layers)), "head"]
    assert list(g.block) == g.names and g.is_chain


def test_rounded_figures_of_the_issue():
    assert round(transformer("gpt2", 1024).extra["param_count"].sum() / 1e6, 1) == 124.4
    assert round(transformer("llama2-7b", 4096).extra["param_count"].sum() / 1e9, 2) == 6.74
    assert round(transformer("vit-b16").extra["param_count"].sum() / 1e6) in (86, 87)
    # ViT-B/16 forward: 17.6 GMAC = 35.1 GFLOP (Dosovitskiy et al. 2021 report ~17.6 GFLOPs as MAC)
    assert transformer("vit-b16").forward_flop.sum() == pytest.approx(35.1e9, rel=0.01)


def test_block_flop_formula_and_full_training_backward():
    s, d, f = 512, 768, 3072
    g = transformer("gpt2", s)
    assert g.forward_flop[1] == 24 * s * d * d + 4 * s * s * d   # f = 4d
    assert np.allclose(g.backward_flop[1:-1], 2 * g.forward_flop[1:-1])
    assert g.forward_flop[-1] == 2 * s * d * 50257
    assert g.forward_flop[0] == 0 and g.backward_flop[0] == 0
    llama = transformer("llama2-7b", 128)
    d, f, s = 4096, 11008, 128
    assert llama.forward_flop[1] == 2 * s * (4 * d * d + 3 * d * f) + 4 * s * s * d


def test_korthikanti_activation_memory():
    # s b h (34 + 5 a s / h) bytes per block at 16 bit (Korthikanti et al. 2022), b = 1
    s, h, a = 1024, 768, 12
    g = transformer("gpt2", s)
    assert g.extra["saved_activation_bytes"][1] == s * h * (34 + 5 * a * s / h)
    assert np.all(g.activation_bytes[:-1] == s * h * 2)
    assert g.activation_bytes[-1] == s * 50257 * 2          # logits


def test_lora_profile():
    full = transformer("llama2-7b", 512)
    lora = transformer("llama2-7b", 512, lora_rank=8, lora_targets=("q", "v"))
    d = 4096
    assert np.all(lora.extra["lora_param_count"][1:-1] == 8 * (d + d) * 2)
    assert lora.trainable_param_bytes.sum() == 2 * lora.extra["lora_param_count"].sum()
    assert lora.trainable_param_bytes[0] == 0 and lora.trainable_param_bytes[-1] == 0
    assert lora.extra["param_count"].sum() == full.extra["param_count"].sum() + 32 * 8 * 2 * 2 * d
    # frozen base: backward ~1x forward (input gradients only); full training: 2x
    ratio = lora.backward_flop[2:-1] / lora.forward_flop[2:-1]
    assert np.all((ratio > 1.0) & (ratio < 1.2))
    # block.0 has no input gradient for Q/K/V (the frozen embedding needs none)
    assert lora.backward_flop[1] < lora.backward_flop[2]
    assert np.all(lora.extra["saved_activation_bytes"][1:-1] < full.extra["saved_activation_bytes"][1:-1])
    assert lora.extra["optimizer_bytes"].sum() == 16 * lora.extra["lora_param_count"].sum()
    assert full.extra["optimizer_bytes"].sum() == 16 * full.extra["param_count"].sum()


def test_trainable_head_option():
    g = transformer("vit-b16", lora_rank=4, trainable_head=True)
    assert g.trainable_param_bytes[-1] == g.param_bytes[-1] > 0


def test_bad_input():
    with pytest.raises(ValidationError, match="seq_len"):
        transformer("gpt2", 2048)
    with pytest.raises(ValidationError, match="seq_len"):
        transformer("vit-b16", 100)
    with pytest.raises(ValidationError, match="lora_targets"):
        transformer("gpt2", 64, lora_rank=4, lora_targets=("gate",))
    with pytest.raises(ValidationError, match="config"):
        transformer("gpt5", 64)
    with pytest.raises(ValidationError, match="kv_heads"):
        TransformerConfig("llama", 2, 64, 4, 128, vocab=10, kv_heads=3)
    with pytest.raises(ValidationError, match="lora_rank"):
        transformer("gpt2", 64, lora_rank=0)


def test_profiles_import_without_optional_extras():
    """torch, onnx and transformers stay optional: importing the profiles package loads none."""
    import subprocess
    import sys

    code = ("import sys, slopt.profiles, slopt.profiles.transformer, slopt.profiles.zoo; "
            "bad = [m for m in ('torch', 'onnx', 'transformers') if m in sys.modules]; "
            "assert not bad, bad")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_trainable_tied_head_of_gpt2_lives_at_the_embedding():
    g = transformer("gpt2", 128, lora_rank=4, trainable_head=True)
    assert g.trainable_param_bytes[0] == 2 * 50257 * 768        # wte, tied to the LM head
    assert g.trainable_param_bytes[-1] == g.param_bytes[-1] == 2 * 2 * 768   # ln_f
    frozen_head = transformer("gpt2", 128, lora_rank=4)
    # with a trainable embedding, block 0 computes its Q/K/V input gradient too
    assert g.backward_flop[1] == g.backward_flop[2] > frozen_head.backward_flop[1]
