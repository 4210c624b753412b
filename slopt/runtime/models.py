"""Models the runtime trains on this machine, built from code with random weights (nothing is
downloaded): a small CNN with residual blocks, a small inception-style DAG, a small transformer
LM in plain ``torch.nn``, a small GPT-2 from a ``transformers`` config (untied LM head: a tied
embedding cannot be split between device and server), and the zoo CNNs on CPU.

:func:`build` returns ``(module, example_inputs)`` for a spec ``{"model": name, ...}`` and
:func:`profile` the matching profile (``from_torch`` on the same module and batch, optionally with
measured times); the spec is stored in ``provenance["runtime_model"]`` so that ``slopt validate``
rebuilds the same model from the profile file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from slopt.errors import ValidationError
from slopt.profiles.graph import ModelGraph

__all__ = ["SmallCNN", "InceptionDAG", "TinyLM", "build", "profile", "MODELS"]


class _Res(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x: Any) -> Any:
        return torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))) + x)


class SmallCNN(nn.Module):
    """Stem, ``blocks`` residual blocks of ``width`` channels, global pool, classifier."""

    def __init__(self, width: int = 16, blocks: int = 2, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3, padding=1)
        self.layers = nn.Sequential(*[_Res(width) for _ in range(blocks)])
        self.fc = nn.Linear(width, classes)

    def forward(self, x: Any) -> Any:
        return self.fc(self.layers(torch.relu(self.stem(x))).mean((2, 3)))


class _Inception(nn.Module):
    def __init__(self, c_in: int, c: int) -> None:
        super().__init__()
        self.b1 = nn.Conv2d(c_in, c, 1)
        self.b3a, self.b3b = nn.Conv2d(c_in, c, 1), nn.Conv2d(c, c, 3, padding=1)
        self.b5a, self.b5b = nn.Conv2d(c_in, c, 1), nn.Conv2d(c, c, 5, padding=2)
        self.pool = nn.Conv2d(c_in, c, 1)

    def forward(self, x: Any) -> Any:
        p = self.pool(torch.nn.functional.max_pool2d(x, 3, 1, 1))
        return torch.relu(torch.cat([self.b1(x), self.b3b(torch.relu(self.b3a(x))),
                                     self.b5b(torch.relu(self.b5a(x))), p], 1))


class InceptionDAG(nn.Module):
    """Stem and ``modules`` inception modules (four parallel branches each), pool, classifier."""

    def __init__(self, width: int = 8, modules: int = 2, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4 * width, 3, padding=1)
        self.inc = nn.Sequential(*[_Inception(4 * width, width) for _ in range(modules)])
        self.fc = nn.Linear(4 * width, classes)

    def forward(self, x: Any) -> Any:
        return self.fc(self.inc(torch.relu(self.stem(x))).mean((2, 3)))


class _Block(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.heads = heads

    def forward(self, x: Any) -> Any:
        b, s, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (t.reshape(b, s, self.heads, d // self.heads).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / (d // self.heads) ** 0.5
        mask = torch.ones(s, s, dtype=torch.bool).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(b, s, d)
        x = x + self.proj(y)
        return x + self.out(torch.nn.functional.gelu(self.fc(self.ln2(x))))


class TinyLM(nn.Module):
    """Token + position embedding, ``layers`` pre-LN transformer blocks, LM head (untied)."""

    def __init__(self, vocab: int = 64, d: int = 32, heads: int = 2, layers: int = 2, seq: int = 16) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(seq, d)
        self.blocks = nn.Sequential(*[_Block(d, heads) for _ in range(layers)])
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)

    def forward(self, ids: Any) -> Any:
        pos = torch.arange(ids.shape[1])
        return self.head(self.ln(self.blocks(self.tok(ids) + self.pos(pos))))


#: name -> what it builds (``build`` options in brackets)
MODELS: dict[str, str] = {
    "small-cnn": "SmallCNN (width, blocks, classes), image_size x image_size RGB",
    "inception-dag": "InceptionDAG (width, modules, classes), image_size x image_size RGB",
    "tiny-lm": "TinyLM (vocab, d, heads, layers), seq_len tokens",
    "gpt2-small-random": "GPT-2 from a transformers config (n_layer, n_embd, n_head, vocab_size), "
                         "untied head, seq_len tokens",
    "resnet18": "the zoo's ResNet-18 on CPU, image_size x image_size RGB",
    "resnet50": "the zoo's ResNet-50 on CPU",
    "googlenet": "the zoo's Inception-v1 on CPU",
    "vgg11": "the zoo's VGG-11 (CIFAR) on CPU",
}


def build(spec: Mapping[str, Any] | str, seed: int = 0) -> tuple[Any, tuple[Any, ...]]:
    """``(module, example_inputs)`` of a runtime model spec (``{"model": name, "batch": B,
    "image_size": .., "seq_len": .., <constructor options>}``), fp32 on CPU, training mode."""
    spec = {"model": spec} if isinstance(spec, str) else dict(spec)
    name = str(spec.pop("model", "")).replace("_", "-")
    b = int(spec.pop("batch", 4))
    img = int(spec.pop("image_size", 32))
    seq = int(spec.pop("seq_len", 16))
    torch.manual_seed(seed)
    if name == "small-cnn":
        return SmallCNN(**spec).train(), (torch.randn(b, 3, img, img),)
    if name == "inception-dag":
        return InceptionDAG(**spec).train(), (torch.randn(b, 3, img, img),)
    if name == "tiny-lm":
        m = TinyLM(seq=seq, **spec).train()
        return m, (torch.randint(0, m.tok.num_embeddings, (b, seq)),)
    if name == "gpt2-small-random":
        import transformers as tf

        kw = {"n_layer": 2, "n_embd": 64, "n_head": 2, "vocab_size": 256, **spec}
        cfg = tf.GPT2Config(n_positions=max(seq, 16), tie_word_embeddings=False, use_cache=False,
                            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **kw)
        cfg._attn_implementation = "eager"
        m = tf.GPT2LMHeadModel(cfg).train()
        return m, (torch.randint(0, cfg.vocab_size, (b, seq)),)
    if name in ("resnet18", "resnet50", "googlenet", "vgg11"):
        from slopt.profiles.zoo import build_module

        m, x, _ = build_module(name, device="cpu", dtype=torch.float32)
        size = img if name != "vgg11" else 32
        return m.float().train(), (torch.randn(b, 3, size, size),)
    raise ValidationError(f"unknown runtime model {name!r}; known: {', '.join(MODELS)}", "model")


def profile(spec: Mapping[str, Any] | str, *, measure: bool = True, side: str = "both",
            seed: int = 0, **measure_options: Any) -> tuple[ModelGraph, Any, tuple[Any, ...]]:
    """``(graph, module, example_inputs)``: the profile of :func:`build`'s model (module
    granularity) with, when ``measure``, this machine's per-layer times for ``side``."""
    from slopt.profiles.measure import measure as timed
    from slopt.profiles.torch_loader import from_torch

    spec = {"model": spec} if isinstance(spec, str) else dict(spec)
    module, x = build(spec, seed)
    g = from_torch(module, x, name=str(spec["model"]), provenance={"runtime_model": spec})
    if measure:
        g = timed(g, module, x, side=side, **measure_options)
    return g, module, x
