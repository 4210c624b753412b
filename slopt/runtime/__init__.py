"""Split-training runtime: cut a PyTorch model at a dag-split plan and train it for real.

* :func:`split_model` — the device part and the server part of a model as two modules
  (``torch.export`` graph cut at the plan's device set; :mod:`slopt.runtime.partition`);
* :class:`SplitSession` / :func:`run_split_training` — the two parts in two processes on a
  loopback socket through an emulated link (token bucket per direction, latency, optional SFT
  compressor; :mod:`slopt.runtime.train`, :mod:`slopt.runtime.link`);
* :func:`measure_peak_memory` — peak tensor memory of a step, the same way on every side
  (:mod:`slopt.runtime.memory`);
* :func:`validate_plan` — dag-split's predicted delays against a measured run, per component,
  over a sweep of rates (:mod:`slopt.runtime.validate`).

Needs torch (``pip install slopt[torch]``). Everything runs on this machine.
"""

from slopt.runtime.link import Link, TokenBucket
from slopt.runtime.memory import MemoryPeak, measure_peak_memory
from slopt.runtime.partition import Part, SplitModel, Traced, device_mask, split_model, trace
from slopt.runtime.train import (IterationRecord, RunResult, SplitSession, cross_entropy_loss,
                                 reference_step, run_split_training, synthetic_inputs,
                                 synthetic_target)

__all__ = ["Link", "TokenBucket", "MemoryPeak", "measure_peak_memory", "Part", "SplitModel", "Traced",
           "device_mask", "split_model", "trace", "IterationRecord", "RunResult", "SplitSession",
           "cross_entropy_loss", "reference_step", "run_split_training", "synthetic_inputs",
           "synthetic_target", "validate_plan", "predict", "plot_validation", "ValidationResult"]


def __getattr__(name: str):  # validate pulls in dag-split; import it on first use
    if name in ("validate_plan", "predict", "plot_validation", "ValidationResult"):
        from slopt.runtime import validate

        return getattr(validate, name)
    raise AttributeError(name)
