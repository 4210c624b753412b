"""Split-training runtime: cut a PyTorch model at a dag-split plan and train it for real.

* :func:`split_model` — the device part and the server part of a model as two modules
  (``torch.export`` graph cut at the plan's device set; :mod:`slopt.runtime.partition`);
* :class:`SplitSession` / :func:`run_split_training` — the two parts in two processes on a
  loopback socket through an emulated link (token bucket per direction, latency, optional SFT
  compressor; :mod:`slopt.runtime.train`, :mod:`slopt.runtime.link`);
* :func:`measure_peak_memory` — peak tensor memory of a step, the same way on every side
  (:mod:`slopt.runtime.memory`);
* :func:`validate_plan` — dag-split's predicted delays against a measured run, per component,
  over a sweep of rates (:mod:`slopt.runtime.validate`), with or without the runtime's calibrated
  per-message hand-off (:meth:`SplitSession.calibrate`, :class:`LinkCalibration`; not a term of
  Eq. 6); models to run in :mod:`slopt.runtime.models`.

Needs torch (``pip install slopt[torch]``); the names are imported on first use, so that
``import slopt.runtime`` (and the CLI) stays light. Everything runs on this machine.
"""

from importlib import import_module
from typing import Any

_WHERE = {
    "Link": "link", "TokenBucket": "link", "check_rate": "link",
    "MemoryPeak": "memory", "MemoryTracker": "memory", "measure_peak_memory": "memory",
    "Part": "partition", "SplitModel": "partition", "Traced": "partition", "device_mask": "partition",
    "split_model": "partition", "trace": "partition", "vertex_part": "partition",
    "IterationRecord": "train", "RunResult": "train", "SplitSession": "train",
    "cross_entropy_loss": "train", "reference_step": "train", "run_split_training": "train",
    "synthetic_inputs": "train", "synthetic_target": "train", "LinkCalibration": "train",
    "validate_plan": "validate", "predict": "validate", "plot_validation": "validate",
    "ValidationResult": "validate", "COMPONENTS": "validate", "MESSAGES_PER_DIRECTION": "validate",
    "sft_payload_bytes": "validate",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"slopt.runtime.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'slopt.runtime' has no attribute {name!r}")
