"""Model profiles: :class:`ModelGraph` and its loaders.

``read``/``write`` handle the JSON form shipped in ``data/profiles/``; ``synthetic`` builds small
test models. Loaders from PyTorch and ONNX and the analytic transformer profile live in their own
modules and are imported lazily (torch and onnx are optional extras).
"""

from typing import Any

from slopt.profiles.graph import COLUMNS, UNITS, ModelGraph
from slopt.profiles.io import from_dict, load_shipped, read, shipped, to_dict, write

__all__ = ["ModelGraph", "COLUMNS", "UNITS", "read", "write", "to_dict", "from_dict",
           "shipped", "load_shipped", "from_torch", "from_onnx", "transformer", "make"]


def from_torch(*args: Any, **kwargs: Any) -> ModelGraph:
    """Profile a PyTorch module (see :func:`slopt.profiles.torch_loader.from_torch`; needs torch)."""
    from slopt.profiles.torch_loader import from_torch as f

    return f(*args, **kwargs)


def from_onnx(*args: Any, **kwargs: Any) -> ModelGraph:
    """Profile an ONNX model (see :func:`slopt.profiles.onnx_loader.from_onnx`; needs onnx)."""
    from slopt.profiles.onnx_loader import from_onnx as f

    return f(*args, **kwargs)


def transformer(*args: Any, **kwargs: Any) -> ModelGraph:
    """Analytic transformer/LoRA profile (see :func:`slopt.profiles.transformer.transformer`)."""
    from slopt.profiles.transformer import transformer as f

    return f(*args, **kwargs)


def make(name: str, **kwargs: Any) -> ModelGraph:
    """Profile of a known architecture by name (see :mod:`slopt.profiles.zoo`)."""
    from slopt.profiles.zoo import make as f

    return f(name, **kwargs)
