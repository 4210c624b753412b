"""Analytic per-block profiles of transformers: GPT-2 and LLaMA-style decoders, ViT encoders.

The profile is a chain ``embedding -> block.0 -> ... -> block.{L-1} -> head`` whose ``block``
labels equal the vertex names. Every figure is **per sample** (one sequence of ``seq_len``
tokens; for a ViT one image of ``(image/patch)^2 + 1`` tokens).

What is counted
---------------
* **FLOP** (multiply-add = 2 FLOP): the matrix products only, exactly the operators that
  ``torch.utils.flop_counter.FlopCounterMode`` counts (linear layers, the two attention products
  ``Q K^T`` and ``P V``, the patch-embedding convolution, the LM/classification head). Norms,
  softmax, activation functions, rotary embeddings and the loss are element-wise and not counted
  (together < 1 % of the total for the shipped configurations). This is what makes the analytic
  profile agree with :func:`slopt.profiles.from_torch` (``tests/test_profiles_agreement.py``).

  Per block, with ``s`` tokens, hidden size ``d``, key/value width ``d_kv = kv_heads * d / heads``
  and feed-forward size ``f``::

      forward = 2 s d (d + 2 d_kv + d)        (Q, K, V, output projections)
              + 4 s^2 d                        (Q K^T and P V over all heads)
              + 2 s d f * (2 for GELU MLPs, 3 for SwiGLU: gate, up, down)
              + 2 s r (d_in + d_out)           per LoRA adapter of rank r

* **Backward** is derived operator by operator from what autograd computes: a linear layer
  ``y = x W`` costs one GEMM of the forward size for the input gradient when ``x`` depends on a
  trainable parameter, and one for the weight gradient when ``W`` is trainable; the attention
  products cost one GEMM per operand that requires a gradient. Full fine-tuning therefore gives
  backward = 2x forward in every block; a frozen base with LoRA gives about 1x (input gradients
  only, plus the adapters' own GEMMs). Upstream of the first trainable parameter nothing needs a
  gradient: with a frozen embedding, the Q/K/V projections of ``block.0`` have no input gradient.
* **Parameters**: every weight and bias, ``dtype_bytes`` each; ``param_count`` in an extra column.
  GPT-2 ties its LM head to the token embedding: the shared matrix is counted once, at the
  ``embedding`` vertex (as ``module.parameters()`` does), so GPT-2 small has 124,439,808
  parameters. ``trainable_param_bytes`` is every weight for full fine-tuning, the LoRA adapters
  only (plus the head when ``trainable_head``) otherwise.
* **activation_bytes**: the vertex's output tensor, ``s * d * dtype_bytes`` for the embedding and
  the blocks; the logits (``s * V`` or ``n_classes`` values) for the head.
* **saved_activation_bytes** (extra column): activations kept for backward, per sample, following
  Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models"
  (arXiv:2205.05198), Sec. 4.1: ``s b h (34 + 5 a s / h)`` bytes per block at 16 bit with dropout
  and ``f = 4h``. The same term-by-term count is generalised to ``p = dtype_bytes`` bytes per
  element, 1-byte dropout masks (GPT-2 and ViT; none for LLaMA), grouped K/V and SwiGLU MLPs::

      attention: p s d (QKV input) + p s (d + d_kv) (Q, K) + p a s^2 (softmax output)
                 [+ a s^2 (dropout mask) + p a s^2 (dropout output)] + p s d_kv (V)
                 + p s d (output-projection input) [+ s d (dropout mask)]
      MLP GELU:  p s d (input) + 2 p s f (GELU input and output) [+ s d (dropout mask)]
      MLP SwiGLU: p s d (input) + 4 p s f (gate, SiLU(gate), up, their product)
      norms:     2 p s d

  With ``p = 2``, ``d_kv = d``, ``f = 4 d`` and dropout this is exactly ``34 s d + 5 a s^2``.
  Frozen-base (LoRA) reading: the input of a frozen linear layer is saved only for its weight
  gradient, so the QKV input, the output-projection input, the MLP input and the down-projection
  input are dropped unless a LoRA adapter sits on that layer (the adapter needs it), and each
  adapter adds its rank-r intermediate ``p s r``.
* **optimizer_bytes** (extra column): ``optimizer_bytes_per_param`` bytes per trainable parameter
  (default 16: fp32 gradient 4 + fp32 master copy 4 + Adam first and second moments 4 + 4; the
  mixed-precision Adam count of Rajbhandari et al. 2020, "ZeRO", Sec. 3.1, with fp32 gradients).
* **lora_param_count** (extra column): ``r (d_in + d_out)`` per adapted matrix.

Examples
--------
>>> g = transformer("gpt2", seq_len=1024)
>>> round(float(g.extra["param_count"].sum()) / 1e6, 1)
124.4
>>> g.names[:3], g.names[-1]
(['embedding', 'block.0', 'block.1'], 'head')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from slopt.errors import ValidationError
from slopt.profiles.graph import ModelGraph
from slopt.validate import check_int

__all__ = ["TransformerConfig", "PRESETS", "transformer", "LORA_TARGETS", "hf_config",
           "config_from_hf"]

KINDS = ("gpt2", "llama", "vit")

#: LoRA target names (logical projections): attention q, k, v, o; MLP up, gate (LLaMA), down.
LORA_TARGETS = ("q", "k", "v", "o", "up", "gate", "down")


@dataclass(frozen=True)
class TransformerConfig:
    """Architecture of a GPT-2 / LLaMA decoder or a ViT encoder (see :data:`PRESETS`)."""

    kind: str            # "gpt2" | "llama" | "vit"
    n_layers: int        # transformer blocks L
    hidden: int          # d (h)
    heads: int           # a
    ffn: int             # feed-forward inner size (4d for GPT-2; 11008 for LLaMA-2-7B)
    vocab: int = 0       # V (0 for ViT)
    n_ctx: int = 0       # learned positional table length (GPT-2); 0 if none
    kv_heads: int | None = None
    patch: int = 16      # ViT patch size
    image: int = 224     # ViT image side
    n_classes: int = 1000
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValidationError(f"kind = {self.kind!r}; expected one of {KINDS}", "kind")
        for f in ("n_layers", "hidden", "heads", "ffn"):
            check_int(f, getattr(self, f), lo=1)
        if self.hidden % self.heads:
            raise ValidationError(f"hidden = {self.hidden} is not a multiple of heads = {self.heads}",
                                  "hidden")
        kv = self.n_kv_heads
        check_int("kv_heads", kv, lo=1)
        if self.heads % kv:
            raise ValidationError(f"heads = {self.heads} is not a multiple of kv_heads = {kv}",
                                  "kv_heads")
        if self.kind in ("gpt2", "llama"):
            check_int("vocab", self.vocab, lo=1)
        if self.kind == "gpt2":
            check_int("n_ctx", self.n_ctx, lo=1)
        if self.kind == "vit":
            check_int("patch", self.patch, lo=1)
            check_int("image", self.image, lo=self.patch)
            check_int("n_classes", self.n_classes, lo=1)

    @property
    def n_kv_heads(self) -> int:
        return self.heads if self.kv_heads is None else int(self.kv_heads)

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def kv_dim(self) -> int:
        """Width of the K and V projections: ``kv_heads * head_dim``."""
        return self.n_kv_heads * self.head_dim

    @property
    def n_patches(self) -> int:
        return (self.image // self.patch) ** 2

    @property
    def tokens(self) -> int | None:
        """Sequence length fixed by the architecture (ViT: patches + CLS), else None."""
        return self.n_patches + 1 if self.kind == "vit" else None


#: Published architectures and tiny test configurations (same code paths, seconds to trace).
PRESETS: dict[str, TransformerConfig] = {
    # Radford et al. 2019 (GPT-2); Hugging Face GPT2Config defaults: V = 50257, n_ctx = 1024.
    "gpt2": TransformerConfig("gpt2", 12, 768, 12, 3072, vocab=50257, n_ctx=1024, name="gpt2"),
    "gpt2-medium": TransformerConfig("gpt2", 24, 1024, 16, 4096, vocab=50257, n_ctx=1024,
                                     name="gpt2-medium"),
    "gpt2-large": TransformerConfig("gpt2", 36, 1280, 20, 5120, vocab=50257, n_ctx=1024,
                                    name="gpt2-large"),
    "gpt2-xl": TransformerConfig("gpt2", 48, 1600, 25, 6400, vocab=50257, n_ctx=1024,
                                 name="gpt2-xl"),
    # Touvron et al. 2023 (LLaMA 2), Table 1 / config.json: d = 4096, L = 32, f = 11008, V = 32000.
    "llama2-7b": TransformerConfig("llama", 32, 4096, 32, 11008, vocab=32000, name="llama2-7b"),
    "llama2-13b": TransformerConfig("llama", 40, 5120, 40, 13824, vocab=32000, name="llama2-13b"),
    # Dosovitskiy et al. 2021 (ViT), Table 1: Base L = 12, d = 768, a = 12, MLP 3072; Large 24/1024/16/4096.
    "vit-b16": TransformerConfig("vit", 12, 768, 12, 3072, patch=16, image=224, n_classes=1000,
                                 name="vit-b16"),
    "vit-l16": TransformerConfig("vit", 24, 1024, 16, 4096, patch=16, image=224, n_classes=1000,
                                 name="vit-l16"),
    # Tiny test configurations (used by the agreement tests against from_torch).
    "gpt2-tiny": TransformerConfig("gpt2", 2, 64, 4, 256, vocab=1000, n_ctx=128, name="gpt2-tiny"),
    "llama-tiny": TransformerConfig("llama", 2, 64, 4, 176, vocab=1000, kv_heads=2,
                                    name="llama-tiny"),
    "vit-tiny": TransformerConfig("vit", 2, 64, 4, 256, patch=8, image=32, n_classes=10,
                                  name="vit-tiny"),
}


def _config(config: TransformerConfig | str) -> TransformerConfig:
    if isinstance(config, TransformerConfig):
        return config
    try:
        return PRESETS[str(config)]
    except KeyError:
        raise ValidationError(f"config = {config!r} is not a preset; known: {sorted(PRESETS)}",
                              "config") from None


# ---------------------------------------------------------------------------- operator figures
@dataclass
class _Tally:
    """Running figures of one vertex."""

    fwd: float = 0.0
    bwd: float = 0.0
    params: float = 0.0
    trainable: float = 0.0
    lora: float = 0.0
    saved: float = 0.0


def _linear(t: _Tally, s: float, d_in: int, d_out: int, *, bias: bool, x_req: bool,
            w_train: bool, r: int | None) -> bool:
    """A linear layer on ``s`` tokens, optionally with a LoRA adapter of rank ``r``.

    Returns whether the output requires a gradient. The base GEMM is ``2 s d_in d_out`` FLOP
    forward; backward adds one such GEMM for the input gradient (if ``x_req``) and one for the
    weight gradient (if ``w_train``). An adapter ``x A B`` (A: d_in x r, B: r x d_out) adds
    ``2 s r (d_in + d_out)`` forward and, backward, both weight gradients, the input gradient of
    ``B`` (its input ``x A`` depends on the trainable ``A``) and that of ``A`` if ``x_req``.
    """
    g = 2.0 * s * d_in * d_out
    t.fwd += g
    t.bwd += (g if x_req else 0.0) + (g if w_train else 0.0)
    n = d_in * d_out + (d_out if bias else 0)
    t.params += n
    t.trainable += n if w_train else 0
    out_req = x_req or w_train
    if r:
        a, b = 2.0 * s * d_in * r, 2.0 * s * r * d_out
        t.fwd += a + b
        t.bwd += a + 2.0 * b + (a if x_req else 0.0)
        n_lora = r * (d_in + d_out)
        t.params += n_lora
        t.trainable += n_lora
        t.lora += n_lora
        out_req = True
    return out_req


def _matmul(t: _Tally, flop: float, a_req: bool, b_req: bool) -> bool:
    """A product of two activations: one GEMM of the forward size per operand needing a gradient."""
    t.fwd += flop
    t.bwd += flop * (int(a_req) + int(b_req))
    return a_req or b_req


def _norm(t: _Tally, cfg: TransformerConfig, train: bool) -> None:
    n = cfg.hidden if cfg.kind == "llama" else 2 * cfg.hidden   # RMSNorm: weight; LayerNorm: w, b
    t.params += n
    t.trainable += n if train else 0


def _block(cfg: TransformerConfig, s: int, p: int, full: bool, r: int | None,
           targets: frozenset[str], x_req: bool, dropout: bool) -> tuple[_Tally, bool]:
    """Figures of one transformer block; returns the tally and whether its output needs a gradient."""
    t = _Tally()
    d, f, dkv, a = cfg.hidden, cfg.ffn, cfg.kv_dim, cfg.heads
    bias = cfg.kind != "llama"

    def rank(name: str) -> int | None:
        return r if (r and name in targets) else None

    # attention sublayer
    _norm(t, cfg, full)
    q = _linear(t, s, d, d, bias=bias, x_req=x_req, w_train=full, r=rank("q"))
    k = _linear(t, s, d, dkv, bias=bias, x_req=x_req, w_train=full, r=rank("k"))
    v = _linear(t, s, d, dkv, bias=bias, x_req=x_req, w_train=full, r=rank("v"))
    # K and V are broadcast to all a heads (grouped-query attention): 2 s^2 d per product.
    scores = _matmul(t, 2.0 * s * s * d, q, k)
    att = _matmul(t, 2.0 * s * s * d, scores, v)
    o = _linear(t, s, d, d, bias=bias, x_req=att, w_train=full, r=rank("o"))
    x_req = x_req or o
    # MLP sublayer
    _norm(t, cfg, full)
    if cfg.kind == "llama":
        gate = _linear(t, s, d, f, bias=False, x_req=x_req, w_train=full, r=rank("gate"))
        up = _linear(t, s, d, f, bias=False, x_req=x_req, w_train=full, r=rank("up"))
        hidden_req = gate or up
    else:
        hidden_req = _linear(t, s, d, f, bias=True, x_req=x_req, w_train=full, r=rank("up"))
    down = _linear(t, s, f, d, bias=bias, x_req=hidden_req, w_train=full, r=rank("down"))
    x_req = x_req or down

    # activations saved for backward (Korthikanti et al. 2022, generalised; see module docstring)
    mask = 1 if dropout else 0
    keep = (lambda *names: True) if full else (lambda *names: any(n in targets for n in names))
    sd, sf, as2 = float(s * d), float(s * f), float(a * s * s)
    saved = (p * sd if keep("q", "k", "v") else 0.0) + p * s * (d + dkv) + p * as2
    saved += (mask * as2 + p * as2) if dropout else 0.0
    saved += p * s * dkv + (p * sd if keep("o") else 0.0) + mask * sd
    if cfg.kind == "llama":
        saved += (p * sd if keep("gate", "up") else 0.0) + 3 * p * sf
        saved += p * sf if keep("down") else 0.0
    else:
        saved += (p * sd if keep("up") else 0.0) + p * sf + (p * sf if keep("down") else 0.0)
        saved += mask * sd
    saved += 2 * p * sd
    if r:
        saved += sum(p * s * r for n in targets if n in _targets_of(cfg))
    t.saved = saved
    return t, x_req


def _targets_of(cfg: TransformerConfig) -> tuple[str, ...]:
    return LORA_TARGETS if cfg.kind == "llama" else tuple(x for x in LORA_TARGETS if x != "gate")


# ---------------------------------------------------------------------------- the profile
def transformer(config: TransformerConfig | str, seq_len: int | None = None, batch: int = 1,
                dtype_bytes: int = 2, lora_rank: int | None = None,
                lora_targets: tuple[str, ...] = ("q", "v"), optimizer_bytes_per_param: int = 16,
                *, trainable_head: bool | None = None, dropout: bool | None = None,
                name: str | None = None) -> ModelGraph:
    """Analytic chain profile ``embedding, block.0 .. block.{L-1}, head`` of a transformer.

    Parameters
    ----------
    config : TransformerConfig or str
        The architecture, or a key of :data:`PRESETS` (``"gpt2"``, ``"llama2-7b"``, ``"vit-b16"``...).
    seq_len : int
        Tokens per sample. ViT: ``None`` or ``(image/patch)^2 + 1`` (197 for ViT-B/16 at 224).
        GPT-2: at most ``n_ctx``.
    batch : int
        Mini-batch size, recorded in the provenance only (every figure is per sample).
    dtype_bytes : int
        Bytes per weight and per activation element (2 for fp16/bf16, 4 for fp32).
    lora_rank : int, optional
        Rank r of LoRA adapters on ``lora_targets`` of every block; the base weights are frozen.
        ``None``: full fine-tuning (every weight trainable).
    lora_targets : tuple of str
        Adapted projections among ``q, k, v, o, up, gate (LLaMA only), down``.
    optimizer_bytes_per_param : int
        Gradient + optimiser state per trainable parameter, bytes (default 16, see module doc).
    trainable_head : bool, optional
        Whether the head (final norm and output layer) is trained; default: only when
        ``lora_rank`` is None. (For GPT-2 the head weight is tied to the embedding.)
    dropout : bool, optional
        Count dropout masks in ``saved_activation_bytes``; default True for GPT-2 and ViT, False
        for LLaMA.
    name : str, optional
        Name of the graph (default: the config's name).

    Returns
    -------
    ModelGraph
        A chain with the columns described in the module docstring.
    """
    cfg = _config(config)
    s = _seq_len(cfg, seq_len)
    batch = check_int("batch", batch, lo=1)
    p = check_int("dtype_bytes", dtype_bytes, lo=1)
    obpp = check_int("optimizer_bytes_per_param", optimizer_bytes_per_param, lo=0)
    r = None if lora_rank is None else check_int("lora_rank", lora_rank, lo=1)
    if isinstance(lora_targets, str):
        lora_targets = (lora_targets,)
    allowed = _targets_of(cfg)
    for tgt in lora_targets:
        if tgt not in allowed:
            raise ValidationError(f"lora_targets: {tgt!r} is not a projection of a {cfg.kind} block; "
                                  f"choose among {allowed}", "lora_targets")
    if r is not None and not lora_targets:
        raise ValidationError("lora_targets is empty but lora_rank is given", "lora_targets")
    targets = frozenset(lora_targets) if r else frozenset()
    full = r is None
    head_train = full if trainable_head is None else bool(trainable_head)
    drop = (cfg.kind != "llama") if dropout is None else bool(dropout)
    d = cfg.hidden

    tallies: list[_Tally] = []
    # --- embedding
    e = _Tally()
    if cfg.kind == "vit":
        c_in, np_ = 3, cfg.n_patches
        g = 2.0 * np_ * c_in * cfg.patch ** 2 * d         # patch convolution (stride = kernel)
        e.fwd = g
        e.bwd = g if full else 0.0                         # weight gradient only: the image needs none
        e.params = c_in * cfg.patch ** 2 * d + d + d + (np_ + 1) * d   # conv w, b; CLS; positions
        e.saved = float(p * c_in * cfg.image ** 2) if full else 0.0
    else:
        e.params = cfg.vocab * d + (cfg.n_ctx * d if cfg.kind == "gpt2" else 0)
    e.trainable = e.params if full else 0.0
    # GPT-2's LM head is the token-embedding matrix: training the head trains that matrix, which
    # lives (and is counted) at the embedding; the embedding output then needs a gradient.
    tied_train = cfg.kind == "gpt2" and head_train and not full
    if tied_train:
        e.trainable = float(cfg.vocab * d)
    tallies.append(e)
    x_req = full or tied_train
    # --- blocks
    for _ in range(cfg.n_layers):
        t, x_req = _block(cfg, s, p, full, r, targets, x_req, drop)
        tallies.append(t)
    # --- head: final norm, output layer (LM head on every token / classifier on the CLS token)
    h = _Tally()
    _norm(h, cfg, head_train)
    if cfg.kind == "vit":
        n_out, rows = cfg.n_classes, 1
        _linear(h, rows, d, n_out, bias=True, x_req=x_req, w_train=head_train, r=None)
        h.saved = float(p * (s * d + d + n_out))
    else:
        n_out, rows = cfg.vocab, s
        _linear(h, rows, d, n_out, bias=False, x_req=x_req, w_train=head_train, r=None)
        if cfg.kind == "gpt2":                              # tied to wte: counted at the embedding
            h.params -= d * n_out
            h.trainable -= d * n_out if head_train else 0
        h.saved = float(p * (2 * s * d + s * n_out)) if head_train else float(p * (s * d + s * n_out))
    tallies.append(h)

    L = cfg.n_layers
    names = ["embedding", *(f"block.{i}" for i in range(L)), "head"]
    col = lambda attr: np.array([getattr(t, attr) for t in tallies], dtype=np.float64)  # noqa: E731
    params, trainable, lora = col("params"), col("trainable"), col("lora")
    act = np.full(L + 2, float(s * d * p))
    act[-1] = float(rows * n_out * p)
    import sys

    import slopt

    prov = {
        "tool": "slopt.profiles.transformer (analytic)",
        "versions": {"slopt": slopt.__version__, "python": sys.version.split()[0]},
        "input_shape": [s] if cfg.kind != "vit" else [3, cfg.image, cfg.image],
        "config": asdict(cfg),
        "seq_len": s,
        "batch": batch,
        "dtype_bytes": p,
        "lora_rank": r,
        "lora_targets": sorted(targets),
        "trainable_head": head_train,
        "optimizer_bytes_per_param": obpp,
        "flop_convention": "multiply-add = 2 FLOP; matrix products only (as FlopCounterMode)",
        "saved_activation_formula": "Korthikanti et al. 2022 (arXiv:2205.05198) Sec. 4.1, generalised",
        "per_sample": True,
    }
    return ModelGraph.chain(
        forward_flop=col("fwd"), backward_flop=col("bwd"), param_bytes=params * p,
        trainable_param_bytes=trainable * p, activation_bytes=act, names=names, block=names,
        extra={"saved_activation_bytes": col("saved"), "optimizer_bytes": trainable * obpp,
               "lora_param_count": lora, "param_count": params},
        name=name or cfg.name or cfg.kind, provenance=prov)


def _seq_len(cfg: TransformerConfig, seq_len: int | None) -> int:
    if cfg.kind == "vit":
        if seq_len is not None and int(seq_len) != cfg.tokens:
            raise ValidationError(f"seq_len = {seq_len}; a ViT with image {cfg.image} and patch "
                                  f"{cfg.patch} has {cfg.tokens} tokens (pass None)", "seq_len")
        return int(cfg.tokens)  # type: ignore[arg-type]
    if seq_len is None:
        raise ValidationError(f"seq_len is required for a {cfg.kind} model", "seq_len")
    s = check_int("seq_len", seq_len, lo=1)
    if cfg.kind == "gpt2" and s > cfg.n_ctx:
        raise ValidationError(f"seq_len = {s} exceeds the positional table n_ctx = {cfg.n_ctx}",
                              "seq_len")
    return s


# ---------------------------------------------------------------------------- Hugging Face bridge
def hf_config(config: TransformerConfig | str, **overrides: Any) -> Any:
    """The ``transformers`` config of the same architecture (random weights; never downloads).

    GPT-2 -> ``GPT2Config``, LLaMA -> ``LlamaConfig``, ViT -> ``ViTConfig`` with eager attention
    (the CPU SDPA kernel is not counted by ``FlopCounterMode`` in torch 2.13).
    """
    cfg = _config(config)
    import transformers as tf

    if cfg.kind == "gpt2":
        c = tf.GPT2Config(n_layer=cfg.n_layers, n_embd=cfg.hidden, n_head=cfg.heads,
                          n_inner=cfg.ffn, vocab_size=cfg.vocab, n_positions=cfg.n_ctx, **overrides)
    elif cfg.kind == "llama":
        c = tf.LlamaConfig(num_hidden_layers=cfg.n_layers, hidden_size=cfg.hidden,
                           num_attention_heads=cfg.heads, num_key_value_heads=cfg.n_kv_heads,
                           intermediate_size=cfg.ffn, vocab_size=cfg.vocab, **overrides)
    else:
        c = tf.ViTConfig(num_hidden_layers=cfg.n_layers, hidden_size=cfg.hidden,
                         num_attention_heads=cfg.heads, intermediate_size=cfg.ffn,
                         patch_size=cfg.patch, image_size=cfg.image, num_labels=cfg.n_classes,
                         **overrides)
    c._attn_implementation = "eager"
    return c


def config_from_hf(c: Any, name: str = "") -> TransformerConfig:
    """A :class:`TransformerConfig` from a ``GPT2Config``, ``LlamaConfig`` or ``ViTConfig``."""
    mt = getattr(c, "model_type", "")
    if mt == "gpt2":
        return TransformerConfig("gpt2", c.n_layer, c.n_embd, c.n_head, c.n_inner or 4 * c.n_embd,
                                 vocab=c.vocab_size, n_ctx=c.n_positions, name=name or "gpt2")
    if mt == "llama":
        return TransformerConfig("llama", c.num_hidden_layers, c.hidden_size, c.num_attention_heads,
                                 c.intermediate_size, vocab=c.vocab_size,
                                 kv_heads=c.num_key_value_heads, name=name or "llama")
    if mt == "vit":
        return TransformerConfig("vit", c.num_hidden_layers, c.hidden_size, c.num_attention_heads,
                                 c.intermediate_size, patch=c.patch_size, image=c.image_size,
                                 n_classes=c.num_labels, name=name or "vit")
    raise ValidationError(f"model_type = {mt!r}: only gpt2, llama and vit configs are supported",
                          "model_type")


def with_layers(config: TransformerConfig | str, n_layers: int) -> TransformerConfig:
    """The same architecture with another number of blocks."""
    return replace(_config(config), n_layers=check_int("n_layers", n_layers, lo=1))
