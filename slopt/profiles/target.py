"""``slopt profile make TARGET``: resolve a target to a model and example inputs, then profile it.

A TARGET is one of

* a zoo name (``resnet50``, ``gpt2``, ... see :mod:`slopt.profiles.zoo`);
* ``module:attribute`` or ``path/file.py:attribute`` -- a ``torch.nn.Module`` instance, or a
  zero-argument factory (a class or function; ``--set key=value`` become its keyword
  arguments) returning a module or a ``(module, example_inputs[, example_kwargs])`` tuple;
* a ``.onnx`` file (profiled by :func:`slopt.profiles.from_onnx`);
* ``hf:<model_type>`` -- a ``transformers`` model built from its default config with random
  weights (nothing is downloaded); ``--set`` overrides config fields
  (``hf:bert --set num_hidden_layers=6``).

Example inputs, unless the factory gives them: ``input_shape`` (per sample, without the batch)
when given; else the module's own ``example_inputs`` attribute; else guessed from the first
layer (``Embedding`` -> token ids of ``seq_len`` tokens, ``Conv2d`` -> a 224x224 image with its
input channels, ``Linear`` -> a vector, ``LSTM``/``GRU``/``RNN`` -> a sequence of ``seq_len``
steps). Hugging Face models get their main input (``input_ids``, ``pixel_values``,
``input_features``, ``input_values``) and labels, so that the profiled step is a training step
with the model's own loss.

Every failure is a :class:`~slopt.errors.ValidationError` naming the target and what was tried.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slopt.errors import SloptError, ValidationError
from slopt.profiles.graph import ModelGraph

__all__ = ["make_profile", "resolve", "Resolved", "DTYPES", "DEFAULT_SEQ_LEN", "DEFAULT_IMAGE"]

#: ``--dtype`` names.
DTYPES = ("float32", "float16", "bfloat16", "float64")
#: Sequence length when none is given (tokens or steps): BERT's common fine-tuning length.
DEFAULT_SEQ_LEN = 128
#: Image side when none is given: the ImageNet resolution of the zoo's CNNs.
DEFAULT_IMAGE = 224
#: Wav2Vec2-style raw audio: one second at 16 kHz.
DEFAULT_AUDIO = 16000


@dataclass
class Resolved:
    """A resolved target: the module, its example inputs and what was done to get them."""

    module: Any
    args: tuple
    kwargs: dict
    batch_size: int | None
    kind: str
    provenance: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


def _torch_dtype(name: str | None) -> Any:
    if name is None:
        return None
    import torch

    if name not in DTYPES:
        raise ValidationError(f"dtype = {name!r}; expected one of {', '.join(DTYPES)}", "dtype")
    return getattr(torch, name)


def _granularity(g: str | int | None) -> str | int | None:
    if g is None or isinstance(g, int):
        return g
    s = str(g).strip()
    if s in ("op", "module"):
        return s
    if s.isdigit() and int(s) >= 1:
        return int(s)
    raise ValidationError(f"granularity = {g!r}; expected 'op', 'module' or a depth k >= 1",
                          "granularity")


# ---------------------------------------------------------------------------- import targets
def _load_attr(target: str, sets: dict[str, Any]) -> tuple[Any, str]:
    left, _, attr = target.rpartition(":")
    tried = []
    if left.endswith(".py") or "/" in left or "\\" in left:
        path = Path(left)
        tried.append(f"file {path}")
        if not path.is_file():
            raise ValidationError(f"TARGET {target!r}: file {str(path)!r} does not exist", "target")
        name = f"_slopt_target_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ValidationError(f"TARGET {target!r}: cannot import {str(path)!r}", "target")
        mod = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(path.resolve().parent))
        sys.modules[name] = mod
        try:
            spec.loader.exec_module(mod)
        except Exception as exc:  # noqa: BLE001
            raise ValidationError(f"TARGET {target!r}: importing {str(path)!r} failed: "
                                  f"{type(exc).__name__}: {exc}", "target") from exc
        finally:
            sys.path.remove(str(path.resolve().parent))
        where = str(path)
    else:
        tried.append(f"module {left}")
        sys.path.insert(0, str(Path.cwd()))
        try:
            mod = importlib.import_module(left)
        except ImportError as exc:
            raise ValidationError(f"TARGET {target!r}: cannot import module {left!r} ({exc})",
                                  "target") from exc
        finally:
            sys.path.remove(str(Path.cwd()))
        where = left
    obj: Any = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(mod) if not n.startswith("_")]
            raise ValidationError(f"TARGET {target!r}: {where} has no attribute {attr!r} "
                                  f"(it has: {', '.join(names[:20])})", "target")
        obj = getattr(obj, part)
    import torch

    if isinstance(obj, torch.nn.Module):
        if sets:
            raise ValidationError(f"TARGET {target!r} is a module instance: --set {sets} needs a "
                                  f"factory (a class or function)", "set")
        return obj, "instance"
    if callable(obj):
        try:
            return obj(**sets), "factory"
        except TypeError as exc:
            raise ValidationError(f"TARGET {target!r}: calling {attr}({', '.join(sets)}) failed: "
                                  f"{exc}; a factory must take no required arguments", "target") \
                from exc
    raise ValidationError(f"TARGET {target!r}: {attr} is a {type(obj).__name__}, not a "
                          f"torch.nn.Module or a factory of one", "target")


def _guess_inputs(module: Any, batch: int, seq_len: int | None, dtype: Any) -> tuple[tuple, int | None, str]:
    """Example inputs from the first layer with parameters."""
    import torch
    from torch import nn

    for name, m in module.named_modules():
        if isinstance(m, nn.Embedding):
            s = seq_len or DEFAULT_SEQ_LEN
            return (torch.zeros(batch, s, dtype=torch.long),), batch, \
                f"token ids ({batch}, {s}) for {name or 'the model'} (Embedding)"
        if isinstance(m, nn.Conv2d):
            x = torch.zeros(batch, m.in_channels, DEFAULT_IMAGE, DEFAULT_IMAGE, dtype=dtype)
            return (x,), batch, f"images {tuple(x.shape)} for {name} (Conv2d)"
        if isinstance(m, nn.Conv1d):
            x = torch.zeros(batch, m.in_channels, seq_len or DEFAULT_SEQ_LEN, dtype=dtype)
            return (x,), batch, f"sequences {tuple(x.shape)} for {name} (Conv1d)"
        if isinstance(m, nn.Conv3d):
            x = torch.zeros(batch, m.in_channels, 16, 112, 112, dtype=dtype)
            return (x,), batch, f"clips {tuple(x.shape)} for {name} (Conv3d)"
        if isinstance(m, nn.RNNBase):
            s = seq_len or DEFAULT_SEQ_LEN
            shape = (batch, s, m.input_size) if m.batch_first else (s, batch, m.input_size)
            return (torch.zeros(*shape, dtype=dtype),), batch, \
                f"sequences {shape} for {name} ({type(m).__name__})"
        if isinstance(m, nn.Linear):
            return (torch.zeros(batch, m.in_features, dtype=dtype),), batch, \
                f"vectors ({batch}, {m.in_features}) for {name} (Linear)"
    raise ValidationError(f"cannot guess the input of {type(module).__name__}: no Embedding, "
                          f"Conv, RNN or Linear layer; pass input_shape (--input-shape)",
                          "input_shape")


def _float_dtype(module: Any) -> Any:
    import torch

    for p in module.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def _user_inputs(module: Any, batch: int | None, seq_len: int | None,
                 input_shape: Sequence[int] | None, input_dtype: str | None) -> tuple:
    import torch

    b = batch or 1
    fdt = _float_dtype(module)
    if input_shape is not None:
        dt = torch.long if input_dtype in ("long", "int64") else (
            _torch_dtype(input_dtype) if input_dtype else None)
        if dt is None:
            dt = torch.long if _first_is_embedding(module) else fdt
        x = torch.zeros(b, *[int(d) for d in input_shape], dtype=dt)
        return (x,), {}, b, f"input_shape {list(input_shape)} + batch {b}"
    ex = getattr(module, "example_inputs", None)
    if callable(ex):
        ex = ex()
    if ex is not None:
        args = ex if isinstance(ex, tuple) else (ex,)
        return args, {}, None, "the module's example_inputs"
    args, bs, how = _guess_inputs(module, b, seq_len, fdt)
    return args, {}, bs, how


def _first_is_embedding(module: Any) -> bool:
    from torch import nn

    for m in module.modules():
        if isinstance(m, nn.Embedding):
            return True
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.RNNBase)):
            return False
    return False


# ---------------------------------------------------------------------------- Hugging Face
#: Heads tried in order for ``hf:<model_type>`` (the first the model type has).
HF_HEADS = ("AutoModelForSeq2SeqLM", "AutoModelForSpeechSeq2Seq", "AutoModelForCTC",
            "AutoModelForImageClassification", "AutoModelForMaskedLM", "AutoModelForCausalLM",
            "AutoModel")


def _hf(model_type: str, sets: dict[str, Any], device: str, dtype: Any) -> tuple[Any, str, dict]:
    try:
        import transformers as tf
    except ImportError as exc:  # pragma: no cover
        raise ValidationError("hf: targets need the transformers package", "target") from exc
    import torch

    try:
        config = tf.AutoConfig.for_model(model_type, **sets)
    except ValueError as exc:
        known = sorted(getattr(tf.models.auto.configuration_auto, "CONFIG_MAPPING_NAMES", {}))
        close = [k for k in known if model_type.lower()[:3] in k][:12]
        raise ValidationError(f"TARGET 'hf:{model_type}': transformers knows no model type "
                              f"{model_type!r}" + (f" (similar: {', '.join(close)})" if close
                                                   else ""), "target") from exc
    except TypeError as exc:
        raise ValidationError(f"TARGET 'hf:{model_type}': bad --set {sets}: {exc}", "set") from exc
    notes: dict[str, Any] = {"config_overrides": dict(sets)}
    if getattr(config, "use_cache", None) is True:
        config.use_cache = False
        notes["use_cache"] = "set to False (training step; a cache object cannot be traced)"
    for attr in ("layerdrop", "encoder_layerdrop", "decoder_layerdrop"):
        if attr not in sets and (getattr(config, attr, 0) or 0) > 0:
            notes[attr] = f"{getattr(config, attr)} -> 0 (every layer is profiled, none dropped)"
            setattr(config, attr, 0.0)
    if getattr(config, "is_encoder_decoder", False) and getattr(
            config, "decoder_start_token_id", None) is None:
        config.decoder_start_token_id = config.pad_token_id or 0
        notes["decoder_start_token_id"] = f"{config.decoder_start_token_id} (the pad token)"
    errors = []
    for head in HF_HEADS:
        cls = getattr(tf, head, None)
        if cls is None:
            continue
        try:
            with torch.device(device):
                m = cls.from_config(config)
        except ValueError as exc:   # the model type has no such head
            errors.append(f"{head}: {str(exc).splitlines()[0][:80]}")
            continue
        if dtype is not None:
            m = m.to(dtype)
        notes["head"] = f"{head} -> {type(m).__name__}"
        return m.train(), head, notes
    raise ValidationError(f"TARGET 'hf:{model_type}': no model class could be built "
                          f"({'; '.join(errors)})", "target")


def _hf_inputs(m: Any, head: str, batch: int, seq_len: int | None,
               input_shape: Sequence[int] | None) -> tuple[tuple, dict, str]:
    import torch

    c = m.config
    main = getattr(m, "main_input_name", "input_ids")
    fdt = _float_dtype(m)
    if main == "input_ids":
        s = seq_len or DEFAULT_SEQ_LEN
        ids = torch.zeros(batch, s, dtype=torch.long)
        kw = {"labels": ids} if head != "AutoModel" else {}
        return (ids,), kw, f"input_ids ({batch}, {s})" + (" and labels" if kw else "")
    if main == "pixel_values":
        side = getattr(c, "image_size", DEFAULT_IMAGE)
        side = side if isinstance(side, (list, tuple)) else (side, side)
        shape = tuple(input_shape) if input_shape else (getattr(c, "num_channels", 3), *side)
        x = torch.zeros(batch, *shape, dtype=fdt)
        kw = {"labels": torch.zeros(batch, dtype=torch.long)} \
            if head == "AutoModelForImageClassification" else {}
        return (x,), kw, f"pixel_values {tuple(x.shape)}" + (" and labels" if kw else "")
    if main == "input_features":
        frames = 2 * int(getattr(c, "max_source_positions", 1500))
        shape = tuple(input_shape) if input_shape else (getattr(c, "num_mel_bins", 80), frames)
        x = torch.zeros(batch, *shape, dtype=fdt)
        s = seq_len or 32
        kw = {"labels": torch.zeros(batch, s, dtype=torch.long)} if head != "AutoModel" else {}
        return (x,), kw, f"input_features {tuple(x.shape)}, labels ({batch}, {s})"
    if main == "input_values":
        n = int(input_shape[0]) if input_shape else (seq_len or DEFAULT_AUDIO)
        x = torch.zeros(batch, n, dtype=fdt)
        kw = {"labels": torch.ones(batch, 8, dtype=torch.long)} if head == "AutoModelForCTC" else {}
        return (x,), kw, f"input_values ({batch}, {n})" + (", CTC labels (8 tokens)" if kw else "")
    raise ValidationError(f"{type(m).__name__}: unknown main input {main!r}; pass a model file "
                          f"target with its own example inputs", "target")


# ---------------------------------------------------------------------------- LoRA
def _lora(module: Any, rank: int, targets: Sequence[str] | None, alpha: float | None) -> Any:
    try:
        import peft
    except ImportError as exc:  # pragma: no cover
        raise ValidationError("LoRA needs the peft package: pip install peft", "lora_rank") from exc
    if rank < 1:
        raise ValidationError(f"lora_rank = {rank}; it must be >= 1", "lora_rank")
    cfg = peft.LoraConfig(r=int(rank), lora_alpha=alpha if alpha is not None else 2 * rank,
                          target_modules=list(targets) if targets else "all-linear",
                          lora_dropout=0.0)
    try:
        return peft.get_peft_model(module, cfg)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"LoRA targets {targets or 'all-linear'}: {exc}", "lora_targets") \
            from exc


# ---------------------------------------------------------------------------- entry points
def resolve(target: str, *, batch: int | None = None, seq_len: int | None = None,
            input_shape: Sequence[int] | None = None, input_dtype: str | None = None,
            dtype: str | None = None, sets: dict[str, Any] | None = None,
            device: str = "meta") -> Resolved:
    """The module and example inputs of a torch TARGET (not ``.onnx``)."""
    import torch

    sets = dict(sets or {})
    tdt = _torch_dtype(dtype)
    if batch is not None and int(batch) < 1:
        raise ValidationError(f"batch = {batch}; it must be >= 1", "batch")
    if seq_len is not None and int(seq_len) < 1:
        raise ValidationError(f"seq_len = {seq_len}; it must be >= 1", "seq_len")
    b = int(batch or 1)
    if target.startswith("hf:"):
        mt = target[3:]
        m, head, notes = _hf(mt, sets, device, tdt)
        args, kwargs, how = _hf_inputs(m, head, b, seq_len, input_shape)
        return Resolved(m, args, kwargs, b, "hf", {"target": target, "inputs": how, **notes})
    from slopt.profiles import zoo

    if zoo._canonical(target) in zoo.MODELS:
        name = zoo._canonical(target)
        if name.endswith("-analytic"):
            raise ValidationError(f"TARGET {target!r} is an analytic profile: use "
                                  f"slopt.profiles.make({target!r})", "target")
        if sets:
            raise ValidationError(f"TARGET {target!r}: --set applies to hf: and factory targets",
                                  "set")
        m, x, kwargs = zoo.build_module(name, device=device, dtype=tdt)
        if tdt is not None:
            m = m.to(tdt)
            x = x.to(tdt) if x.is_floating_point() else x
        if seq_len is not None and not x.is_floating_point():
            x = torch.zeros(x.shape[0], int(seq_len), dtype=x.dtype, device=x.device)
            kwargs = {k: x for k in kwargs}
        if input_shape is not None:
            x = torch.zeros(1, *[int(d) for d in input_shape], dtype=x.dtype, device=x.device)
        if b != x.shape[0]:
            x = x.expand(b, *x.shape[1:]).contiguous()
            kwargs = {k: x for k in kwargs}
        return Resolved(m, (x,), kwargs, b, "zoo", {"target": name, "zoo_model": name,
                                                     "description": zoo.MODELS[name]},
                        {k: v for k, v in zoo._OPTIONS[name].items()})
    if ":" in target and not target.startswith(":"):
        obj, how = _load_attr(target, sets)
        kwargs: dict[str, Any] = {}
        if isinstance(obj, tuple):
            if not obj or not isinstance(obj[0], torch.nn.Module):
                raise ValidationError(f"TARGET {target!r}: the factory returned a tuple whose "
                                      f"first item is not a torch.nn.Module", "target")
            m = obj[0]
            args = obj[1] if len(obj) > 1 else None
            kwargs = dict(obj[2]) if len(obj) > 2 else {}
            args = args if isinstance(args, tuple) or args is None else (args,)
            bs = None
            inputs = "given by the factory"
        elif isinstance(obj, torch.nn.Module):
            m, args = obj, None
        else:
            raise ValidationError(f"TARGET {target!r}: the factory returned a "
                                  f"{type(obj).__name__}, not a torch.nn.Module", "target")
        if tdt is not None:
            m = m.to(tdt)
        if args is None:
            args, kwargs, bs, inputs = _user_inputs(m, batch, seq_len, input_shape, input_dtype)
        return Resolved(m.train() if how == "factory" else m, args, kwargs, bs, "module",
                        {"target": target, "inputs": inputs, "built_by": how})
    raise ValidationError(
        f"unknown TARGET {target!r}: not a zoo model ({', '.join(zoo.available())}), not an "
        f".onnx file, not hf:<model_type>, and not module:attribute or file.py:attribute",
        "target")


def make_profile(target: str, *, batch: int | None = None, seq_len: int | None = None,
                 input_shape: Sequence[int] | None = None, input_dtype: str | None = None,
                 dtype: str | None = None, lora_rank: int | None = None,
                 lora_targets: Sequence[str] | None = None, lora_alpha: float | None = None,
                 granularity: str | int | None = None, measure: bool = False,
                 sets: dict[str, Any] | None = None, cache: bool | str = True,
                 device: str = "meta", name: str | None = None) -> ModelGraph:
    """Profile a TARGET (see the module docstring) with the options of ``slopt profile make``.

    ``batch`` samples per step (figures are per sample), ``seq_len`` tokens/steps, or
    ``input_shape`` per sample; ``dtype`` of weights and float inputs; ``lora_rank`` /
    ``lora_targets`` wrap the model with ``peft`` LoRA adapters (base frozen); ``granularity``
    'op', 'module' or a depth k; ``measure`` asks ``from_torch`` for measured per-layer times;
    ``cache`` reuses a profile of the same model, config, inputs and options; ``device`` where
    torch models are built ('meta': nothing allocated; retried on 'cpu' when the model's own
    code needs real values).
    """
    gran = _granularity(granularity)
    if str(target).lower().endswith(".onnx"):
        return _onnx(target, batch, input_shape, gran, dtype, lora_rank, measure, name)
    from slopt.profiles.torch_loader import from_torch

    kw: dict[str, Any] = {}
    if measure:
        if "measure" not in inspect.signature(from_torch).parameters:
            raise SloptError("measured per-layer times (--measure) are not available in this "
                             "version of slopt.profiles.from_torch")
        kw["measure"] = True
        device = "cpu"
        cache = False              # times belong to this machine and this moment
    last: Exception | None = None
    for dev in dict.fromkeys([device, "cpu"]):
        r = resolve(target, batch=batch, seq_len=seq_len, input_shape=input_shape,
                    input_dtype=input_dtype, dtype=dtype, sets=sets, device=dev)
        m = r.module
        prov = dict(r.provenance)
        if lora_rank:
            m = _lora(m, int(lora_rank), lora_targets, lora_alpha)
            prov["lora"] = {"rank": int(lora_rank), "targets": list(lora_targets or ["all-linear"]),
                            "alpha": lora_alpha if lora_alpha is not None else 2 * int(lora_rank)}
        elif lora_targets:
            raise ValidationError("lora_targets given without lora_rank", "lora_rank")
        opts = dict(r.options)
        if gran is not None:
            opts["granularity"] = gran
        prov["built_on"] = dev
        try:
            return from_torch(m, r.args, r.kwargs, batch_size=r.batch_size,
                              name=name or target.rpartition(":")[2] or target, cache=cache,
                              provenance=prov, **opts, **kw)
        except ValidationError as exc:
            last = exc
            if dev == "meta" and "meta" in str(exc) or dev == "meta" and "eager" in str(exc):
                continue                   # the model's code needs real values: build on CPU
            raise
    assert last is not None
    raise last


def _onnx(target: str, batch: int | None, input_shape: Sequence[int] | None, gran: Any,
          dtype: str | None, lora_rank: int | None, measure: bool, name: str | None) -> ModelGraph:
    path = Path(target)
    if not path.is_file():
        raise ValidationError(f"TARGET {target!r}: ONNX file does not exist", "target")
    for opt, val in (("dtype", dtype), ("lora_rank", lora_rank), ("measure", measure or None)):
        if val:
            raise ValidationError(f"{opt} does not apply to an ONNX target ({target!r})", opt)
    from slopt.profiles.onnx_loader import from_onnx

    shapes = None
    if input_shape is not None or batch is not None:
        import onnx

        m = onnx.load(str(path), load_external_data=False)
        init = {t.name for t in m.graph.initializer}
        first = next((i for i in m.graph.input if i.name not in init), None)
        if first is None:
            raise ValidationError(f"TARGET {target!r}: the ONNX graph has no input", "target")
        dims = [d.dim_value if d.HasField("dim_value") else 1
                for d in first.type.tensor_type.shape.dim]
        per = list(input_shape) if input_shape is not None else dims[1:]
        shapes = {first.name: [int(batch or (dims[0] or 1)), *[int(d) for d in per]]}
    return from_onnx(str(path), input_shapes=shapes, batch_size=batch,
                     granularity=gran if gran is not None else "op", name=name or path.stem)
