"""A cache of measured profiles: one JSON file per (model, configuration, input shapes, options).

The folder is ``$SLOPT_CACHE`` (default ``~/.cache/slopt``), files under ``profiles/``. The key
is a SHA-256 over

* the module's class (qualified name) and the source file of that class (its bytes), so a
  changed ``forward`` gives a new key;
* ``repr(module)`` (the layer structure with its hyper-parameters) and a Hugging Face
  ``config`` when the module has one;
* every parameter's and buffer's name, shape, dtype and ``requires_grad`` flag (frozen layers
  and LoRA adapters change the key), not their values;
* the shapes and dtypes of the example inputs (and the values of non-tensor inputs);
* the profiling options, and the versions of torch, transformers and the profiler's source.

Figures depend on shapes only, never on weight values, so random weights hit the same entry.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from pathlib import Path
from typing import Any

from slopt.profiles.graph import ModelGraph

__all__ = ["cache_dir", "key", "get", "put", "clear"]


def cache_dir(folder: str | os.PathLike[str] | None = None) -> Path:
    """The profile cache folder (created on first write)."""
    if folder is not None:
        return Path(folder)
    root = os.environ.get("SLOPT_CACHE")
    return Path(root) / "profiles" if root else Path.home() / ".cache" / "slopt" / "profiles"


def _file_digest(path: str | None) -> str:
    if not path:
        return ""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def _describe(x: Any) -> Any:
    import torch

    if isinstance(x, torch.Tensor):
        return ["tensor", list(x.shape), str(x.dtype), bool(x.requires_grad)]
    if isinstance(x, (list, tuple)):
        return [_describe(y) for y in x]
    if isinstance(x, dict):
        return {str(k): _describe(v) for k, v in sorted(x.items(), key=lambda kv: str(kv[0]))}
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return repr(x)


def key(module: Any, args: Any, kwargs: Any, options: dict[str, Any]) -> str:
    """The cache key (hex SHA-256) of a profiling run."""
    import torch

    cls = type(module)
    try:
        src_file = inspect.getsourcefile(cls)
    except TypeError:
        src_file = None
    config = getattr(module, "config", None)
    cfg = None
    if config is not None and hasattr(config, "to_json_string"):
        try:
            cfg = config.to_json_string(use_diff=False)
        except Exception:  # noqa: BLE001
            cfg = repr(config)
    versions = {"torch": torch.__version__}
    try:
        import transformers

        versions["transformers"] = transformers.__version__
    except ImportError:  # pragma: no cover
        pass
    here = Path(__file__).resolve().parent
    payload = {
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "class_source": _file_digest(src_file),
        "repr": repr(module),
        "config": cfg,
        "training": bool(module.training),
        "state": [[k, list(t.shape), str(t.dtype), bool(t.requires_grad)]
                  for k, t in list(module.named_parameters(remove_duplicate=False))
                  + list(module.named_buffers(remove_duplicate=False))],
        "inputs": _describe([list(args), dict(kwargs)]),
        "options": _describe(options),
        "versions": versions,
        "profiler": [_file_digest(str(here / f)) for f in ("torch_loader.py", "graph.py")],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=repr).encode()).hexdigest()


def get(k: str, folder: str | os.PathLike[str] | None = None) -> ModelGraph | None:
    """The cached profile of key ``k``, or None (also for an unreadable entry)."""
    from slopt.profiles.io import read

    path = cache_dir(folder) / f"{k}.json"
    if not path.is_file():
        return None
    try:
        g = read(path)
    except Exception:  # noqa: BLE001 - a broken entry is a miss
        return None
    prov = dict(g.provenance)
    prov["cache"] = {"hit": True, "file": str(path)}
    return g.replace(provenance=prov)


def put(k: str, graph: ModelGraph, folder: str | os.PathLike[str] | None = None) -> Path:
    """Store a profile under key ``k`` (atomically: write then rename)."""
    from slopt.profiles.io import write

    d = cache_dir(folder)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{k}.json"
    tmp = d / f".{k}.{os.getpid()}.tmp.json"
    write(graph, tmp)
    os.replace(tmp, path)
    return path


def clear(folder: str | os.PathLike[str] | None = None) -> int:
    """Delete every cached profile; returns how many were deleted."""
    d = cache_dir(folder)
    n = 0
    for p in d.glob("*.json") if d.is_dir() else ():
        p.unlink(missing_ok=True)
        n += 1
    return n
