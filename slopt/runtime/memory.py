"""Peak memory of a computation, measured the same way on every side of a split.

:func:`measure_peak_memory` runs ``fn(*args, **kwargs)`` and reports the peak of the bytes held
by tensor storages while it runs:

* **CPU** — a ``TorchDispatchMode`` sees every ATen operator of the forward *and* of the backward
  pass (autograd runs the backward operators under the same mode); each new storage an operator
  returns is recorded with a weak reference (``StorageWeakRef``), and after every operator the
  live bytes are summed, so a storage counts from the operator that created it until it is freed.
  Storages alive before the call (parameters, buffers, gradients, optimiser state: pass them as
  ``baseline``) count from the start until they are freed (``zero_grad(set_to_none=True)``
  frees the old gradients inside the step). Views share their base's storage and count once.
  Tensors built outside ATen (``torch.frombuffer`` of received bytes) are added with
  ``tracker.add(t)``.
* **CUDA** (when the baseline tensors live there) — ``torch.cuda.max_memory_allocated`` of
  their device after ``reset_peak_memory_stats``: all allocations of the process on that device
  (the caching allocator's figure, not per storage). **Untested on the machine this package is
  tested on (no GPU).** Guarded: baseline tensors on several devices (CPU and CUDA, or two GPUs)
  are rejected, and an empty baseline means the CPU tracker (which counts the storages of any
  device the operators return, CUDA ones included). :class:`MemoryTracker` itself counts storages
  on any device.

The result also carries the process's RSS high-water mark (``ru_maxrss``), which includes the
interpreter and the libraries and serves only as a coarse cross-check.
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["MemoryPeak", "MemoryTracker", "measure_peak_memory", "tensor_bytes", "rss_peak_bytes"]


def rss_peak_bytes() -> int:
    """The process's resident-set high-water mark, bytes (``getrusage``; KiB on Linux)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(r if sys.platform == "darwin" else r * 1024)


@dataclass
class MemoryPeak:
    """Peak memory of one measured call, bytes.

    ``peak_bytes`` = most bytes held by tensor storages at any operator boundary (baseline
    included); ``baseline_bytes`` = storages alive at the start; ``allocated_bytes`` = bytes of
    all storages created during the call; ``rss_peak_bytes`` = the process's RSS high-water mark.
    """

    peak_bytes: int
    baseline_bytes: int
    allocated_bytes: int
    rss_peak_bytes: int
    method: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _storages(x: Any) -> Iterable[Any]:
    if isinstance(x, torch.Tensor):
        yield x
    elif isinstance(x, (list, tuple)):
        for y in x:
            yield from _storages(y)
    elif isinstance(x, dict):
        for y in x.values():
            yield from _storages(y)


def tensor_bytes(tensors: Iterable[Any]) -> int:
    """Bytes of the distinct storages of some tensors (views and tied tensors count once)."""
    seen: dict[int, int] = {}
    for t in _storages(list(tensors)):
        s = t.untyped_storage()
        seen[s.data_ptr()] = s.nbytes()
    return sum(seen.values())


class MemoryTracker(TorchDispatchMode):
    """Dispatch mode that tracks the live bytes of tensor storages (see the module docstring).

    ``baseline``: tensors alive before the tracked calls; a ``torch.nn.Module`` or
    ``torch.optim.Optimizer`` is expanded to its parameters, buffers and gradients (its state), as
    in :func:`measure_peak_memory` (without the expansion a module's weights would count only
    from the first operator that returns a view of them, e.g. ``Linear``'s transposed weight, and
    an embedding table never)."""

    def __init__(self, baseline: Iterable[Any] = ()) -> None:
        super().__init__()
        self.live: dict[int, tuple[Any, int]] = {}
        self.allocated = 0
        base: list[Any] = []
        for b in baseline:
            base.extend(_expand(b))
        for t in base:
            self._add(t, count=False)
        del base
        self.baseline = self.current()
        self.peak = self.baseline

    def _add(self, t: Any, count: bool = True) -> None:
        if not isinstance(t, torch.Tensor) or t.device.type == "meta":
            return
        try:
            s = t.untyped_storage()
        except (RuntimeError, NotImplementedError):       # sparse / wrapper tensors
            return
        key = s.data_ptr()
        old = self.live.get(key)
        if old is not None and not old[0].expired():
            return
        self.live[key] = (StorageWeakRef(s), s.nbytes())
        if count:
            self.allocated += s.nbytes()

    def add(self, t: Any) -> None:
        """Record a tensor created outside ATen (e.g. received bytes)."""
        for x in _storages(t):
            self._add(x)
        self._update()

    def current(self) -> int:
        dead = [k for k, (ref, _) in self.live.items() if ref.expired()]
        for k in dead:
            del self.live[k]
        return sum(nb for _, nb in self.live.values())

    def _update(self) -> None:
        cur = self.current()
        if cur > self.peak:
            self.peak = cur

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        out = func(*args, **(kwargs or {}))
        for t in _storages(out):
            self._add(t)
        self._update()
        return out


def measure_peak_memory(fn: Callable[..., Any], *args: Any, baseline: Iterable[Any] = (),
                        **kwargs: Any) -> tuple[Any, MemoryPeak]:
    """Run ``fn(*args, **kwargs)`` and measure the peak tensor memory; returns ``(result, peak)``.

    Parameters
    ----------
    fn : the computation (e.g. one training step: forward, loss, backward, optimiser step)
    baseline : tensors alive before the call that belong to the measured side (parameters,
        buffers, gradients, optimiser state; a ``torch.nn.Module`` or ``torch.optim.Optimizer``
        may be given and is expanded)

    Used by the split-training runtime on the device and on the server (one step per side), and
    callable for any tier of a split (e.g. the user / edge / cloud parts of a three-tier split).
    """
    base: list[Any] = []
    for b in baseline:
        base.extend(_expand(b))
    devices = {t.device for t in base if isinstance(t, torch.Tensor) and t.device.type != "meta"}
    if len(devices) > 1:
        from slopt.errors import ValidationError

        raise ValidationError(f"measure_peak_memory: baseline tensors on several devices "
                              f"{sorted(str(d) for d in devices)}; measure one side (one device) at a time",
                              "baseline")
    cuda = bool(devices) and next(iter(devices)).type == "cuda"
    if cuda:  # pragma: no cover - no GPU on the test machine: this branch is untested here
        dev = next(iter(devices))
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        start = torch.cuda.memory_allocated(dev)
        out = fn(*args, **kwargs)
        torch.cuda.synchronize(dev)
        peak = torch.cuda.max_memory_allocated(dev)
        return out, MemoryPeak(int(peak), int(start), int(peak - start), rss_peak_bytes(),
                               "torch.cuda.max_memory_allocated")
    tracker = MemoryTracker(base)
    del base                      # weak references only: old gradients may be freed in the call
    with tracker:
        out = fn(*args, **kwargs)
    return out, MemoryPeak(int(tracker.peak), int(tracker.baseline), int(tracker.allocated),
                           rss_peak_bytes(), "TorchDispatchMode storage tracking (CPU)")


def _expand(obj: Any) -> list[Any]:
    if isinstance(obj, torch.nn.Module):
        out = list(obj.parameters()) + list(obj.buffers())
        out += [p.grad for p in obj.parameters() if p.grad is not None]
        return out
    if isinstance(obj, torch.optim.Optimizer):
        return [v for st in obj.state.values() for v in st.values() if isinstance(v, torch.Tensor)]
    return list(_storages(obj))
