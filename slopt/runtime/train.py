"""Split training on this machine: the device part runs in the calling process, the server part in
a second process (``multiprocessing`` spawn), connected by a TCP socket on the loopback interface
through the emulated link of :mod:`slopt.runtime.link`.

One iteration (spec min-cut-splitting.md §3.1, sequential stages):

1. device: forward of the device part on a synthetic batch;
2. upload: every cut tensor (and any raw input a server operator reads) at R_up;
3. server: forward, loss, backward, optimiser step;
4. download: the gradient of every cut tensor that needs one, at R_dn;
5. device: backward of the device part, optimiser step.

Recorded per iteration (:class:`IterationRecord`): wall time, each side's forward / backward /
optimiser-step time, upload and download time (from the sender's first byte offered to the
receiver's last byte decoded, one clock for both processes), payload and wire bytes each way, the
loss; and, in one extra iteration run under :func:`slopt.runtime.memory.measure_peak_memory`, the
peak memory per side.

Link calibration (:meth:`SplitSession.calibrate`, :class:`LinkCalibration`): round trips of the
plan's own messages (and of a sweep of sizes) timed like the transfers of a run; what exceeds
8 x wire bytes / R is the hand-off that :func:`slopt.runtime.validate.predict` may add per message
(one per direction per iteration) — slopt's runtime calibration, not a term of Eq. 6.

Synthetic data: a float input is drawn N(0, 1), an integer input uniformly in ``[0, int_high)``,
from ``torch.Generator`` seeded with ``seed + iteration`` (:func:`synthetic_inputs`); the
cross-entropy target is drawn on the side that computes the loss (the server, or the device when
D = V) from the same seed (:func:`synthetic_target`), so labels never cross the link (the
dag-split model, Eq. 6, counts only cut tensors).
"""

from __future__ import annotations

import math
import multiprocessing as mp
import pickle
import socket
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from slopt.errors import SloptError, ValidationError
from slopt.allocator import check_allocator, set_allocator
from slopt.runtime.link import Link, check_rate, check_wait
from slopt.runtime.memory import measure_peak_memory, rss_peak_bytes
from slopt.runtime.partition import Part, SplitModel

__all__ = ["IterationRecord", "RunResult", "SplitSession", "LinkCalibration", "CALIBRATION_SIZES",
           "CALIBRATION_RATE_BPS", "run_split_training", "synthetic_inputs", "synthetic_target",
           "cross_entropy_loss", "reference_step"]


# --------------------------------------------------------------------------- data and loss
def synthetic_inputs(example: Sequence[Any], iteration: int, seed: int = 0, batch: int | None = None,
                     int_high: int = 16) -> list[Any]:
    """A synthetic batch shaped like the example user inputs (flat list), reproducible from
    ``seed + iteration``; ``batch`` replaces the first dimension."""
    g = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(iteration))
    out = []
    for t in example:
        if not isinstance(t, torch.Tensor):
            out.append(t)
            continue
        shape = list(t.shape)
        if batch is not None and shape:
            shape[0] = int(batch)
        if t.is_floating_point():
            out.append(torch.randn(shape, generator=g, dtype=t.dtype))
        else:
            out.append(torch.randint(0, int_high, shape, generator=g, dtype=t.dtype))
    return out


def _first_float(outputs: Sequence[Any]) -> Any:
    for o in outputs:
        if isinstance(o, torch.Tensor) and o.is_floating_point() and o.dim() >= 1:
            return o
    raise ValidationError("the model has no floating-point output to put a loss on", "loss")


def synthetic_target(outputs: Sequence[Any], iteration: int, seed: int = 0) -> Any:
    """Class labels for the first float output (``[..., C]`` logits): uniform in ``[0, C)``."""
    y = _first_float(outputs)
    g = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(iteration) + 7_777_777)
    return torch.randint(0, y.shape[-1], tuple(y.shape[:-1]), generator=g)


def cross_entropy_loss(outputs: Sequence[Any], target: Any) -> Any:
    """Mean cross-entropy of the first float output (logits over the last axis) against ``target``."""
    y = _first_float(outputs)
    return torch.nn.functional.cross_entropy(y.reshape(-1, y.shape[-1]).float(), target.reshape(-1))


def _optimizer(params: list[Any], spec: tuple[str, dict[str, Any]]) -> Any:
    name, kw = spec
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}.get(name.lower())
    if cls is None:
        raise ValidationError(f"optimizer {name!r}: choose sgd, adam or adamw", "optimizer")
    return cls(params, **kw) if params else None


def reference_step(module: Any, inputs: Sequence[Any], iteration: int = 0, seed: int = 0,
                   loss_fn: Callable[..., Any] = cross_entropy_loss) -> tuple[float, dict[str, Any]]:
    """One unsplit step on ``module`` with the runtime's synthetic batch and target: the loss and
    the gradient of every parameter (by name), for comparison with a split step."""
    module.zero_grad(set_to_none=True)
    out = module(*inputs)
    flat = [t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor)]
    loss = loss_fn(flat, synthetic_target(flat, iteration, seed))
    loss.backward()
    return float(loss.detach()), {k: (p.grad.detach().clone() if p.grad is not None else None)
                         for k, p in module.named_parameters()}


# --------------------------------------------------------------------------- records
@dataclass
class IterationRecord:
    """One measured iteration (seconds, bytes)."""

    iteration: int
    wall_s: float
    device_forward_s: float
    device_backward_s: float
    device_step_s: float
    server_forward_s: float
    server_backward_s: float
    server_step_s: float
    upload_s: float
    download_s: float
    upload_payload_bytes: int
    upload_wire_bytes: int
    download_payload_bytes: int
    download_wire_bytes: int
    loss: float
    uplink_bps: float
    downlink_bps: float
    latency_s: float
    device_compute_cpu_s: float = 0.0
    server_compute_cpu_s: float = 0.0

    @property
    def device_compute_s(self) -> float:
        return self.device_forward_s + self.device_backward_s + self.device_step_s

    @property
    def server_compute_s(self) -> float:
        return self.server_forward_s + self.server_backward_s + self.server_step_s


@dataclass
class RunResult:
    """Records of a run of :func:`run_split_training` / :meth:`SplitSession.run`.

    ``expected_upload_bytes`` / ``expected_download_bytes``: payload the cut tensors must carry
    (numel x element size of every cut tensor; of every gradient sent back); ``memory``: the peak
    per side (:class:`slopt.runtime.memory.MemoryPeak` as dicts) when measured; ``grads`` and
    ``losses``: the first iteration's parameter gradients by name and every loss.
    """

    records: list[IterationRecord]
    cut: list[str]
    cut_layers: list[str]
    raw_inputs: list[str]
    expected_upload_bytes: int
    expected_download_bytes: int
    memory: dict[str, dict[str, Any]] = field(default_factory=dict)
    grads: dict[str, Any] = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)
    warmup: int = 1
    threads: int = 1

    def to_frame(self) -> pd.DataFrame:
        df = pd.DataFrame([asdict(r) for r in self.records])
        if not df.empty:
            df["device_compute_s"] = df.device_forward_s + df.device_backward_s + df.device_step_s
            df["server_compute_s"] = df.server_forward_s + df.server_backward_s + df.server_step_s
            df["other_s"] = df.wall_s - df.device_compute_s - df.server_compute_s - df.upload_s - df.download_s
        return df

    def summary(self, statistic: str = "median") -> dict[str, float]:
        """Per-component statistic over the iterations after the warm-up: ``"median"``, or
        ``"min"`` (best of K: the estimate least disturbed by other processes on a shared
        machine, the same reading as a short per-layer timing's median)."""
        if statistic not in ("median", "min", "mean"):
            raise ValidationError(f"statistic = {statistic!r}; choose median, min or mean", "statistic")
        df = self.to_frame()
        df = df[df.iteration >= self.warmup] if (df.iteration >= self.warmup).any() else df
        cols = ["wall_s", "device_compute_s", "server_compute_s", "upload_s", "download_s", "other_s",
                "device_compute_cpu_s", "server_compute_cpu_s",
                "device_forward_s", "device_backward_s", "device_step_s", "server_forward_s",
                "server_backward_s", "server_step_s"]
        out = {c: float(getattr(df[c], statistic)()) for c in cols}
        out.update(upload_payload_bytes=int(df.upload_payload_bytes.median()),
                   download_payload_bytes=int(df.download_payload_bytes.median()),
                   iterations=int(len(df)))
        for side, m in self.memory.items():
            out[f"{side}_peak_bytes"] = m["peak_bytes"]
        return out


#: payload sizes (bytes) of :meth:`SplitSession.calibrate`: an empty message and 64 KiB .. 4 MiB
CALIBRATION_SIZES = (0, 1 << 16, 1 << 20, 1 << 22)
#: link rate of :meth:`SplitSession.calibrate` (10 Gbit/s): paced like every emulated rate up to
#: tens of Gbit/s (the socket copy of a 64 KiB chunk hides behind the next chunk's wait), fast
#: enough that the calibration takes milliseconds
CALIBRATION_RATE_BPS = 1e10


@dataclass
class LinkCalibration:
    """Hand-off cost of a message on the emulated link beyond the 8 N / R of the token bucket
    (framing, serialisation copies, socket, waking the receiving process, decoding), measured by
    :meth:`SplitSession.calibrate` (seconds).

    * ``upload_message_s`` / ``download_message_s`` and ``upload_byte_s`` / ``download_byte_s``:
      least squares of t(N) = a + c N over the calibration's payload sizes (a in seconds per
      message, c in seconds per payload byte) — the link's summary;
    * ``plan_upload_s`` / ``plan_download_s``: the hand-off of the run's own upload and download
      messages (NaN when not measured) — what the prediction charges, since the per-byte cost is
      not linear in N (it grows once a tensor no longer fits in the CPU cache).

    This is the runtime's own calibration, not a term of dag-split's Eq. 6 (which has none).
    ``samples``: one row per probe (payload bytes, tensors, upload_s, download_s, spreads).
    """

    upload_message_s: float
    upload_byte_s: float
    download_message_s: float
    download_byte_s: float
    plan_upload_s: float = float("nan")
    plan_download_s: float = float("nan")
    rate_bps: float = CALIBRATION_RATE_BPS
    samples: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    plan: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def fit(cls, samples: pd.DataFrame, plan: Mapping[str, Any] | None = None,
            rate_bps: float = CALIBRATION_RATE_BPS) -> "LinkCalibration":
        out: list[float] = []
        for col, ncol in (("upload_s", "payload_bytes"), ("download_s", "reply_payload_bytes")):
            if samples.empty:
                out += [float("nan"), float("nan")]
                continue
            n, t = samples[ncol].to_numpy(float), samples[col].to_numpy(float)
            if len(np.unique(n)) >= 2:
                c, a = np.polyfit(n, t, 1)
            else:
                a, c = float(np.median(t)), 0.0
            out += [float(a), float(c)]
        p = dict(plan or {})
        return cls(*out, plan_upload_s=float(p.get("upload_s", float("nan"))),
                   plan_download_s=float(p.get("download_s", float("nan"))), rate_bps=float(rate_bps),
                   samples=samples, plan=p)

    def overhead_s(self, direction: str, payload_bytes: float | None = None) -> float:
        """Seconds charged per message in ``direction`` (``upload`` / ``download``): the plan's
        measured message when calibrated, else the fit a + c x ``payload_bytes``."""
        if direction not in ("upload", "download"):
            raise ValidationError(f"direction = {direction!r}; choose upload or download", "direction")
        plan = self.plan_upload_s if direction == "upload" else self.plan_download_s
        if not math.isnan(plan):
            return max(plan, 0.0)
        a, c = ((self.upload_message_s, self.upload_byte_s) if direction == "upload"
                else (self.download_message_s, self.download_byte_s))
        h = a + c * float(payload_bytes or 0.0)
        if math.isnan(h):
            raise ValidationError("this link calibration has neither the plan's messages nor a sweep of "
                                  "sizes (calibrate with plan=True or some sizes)", "calibration")
        return max(h, 0.0)

    def to_dict(self) -> dict[str, float]:
        return {"upload_message_s": self.upload_message_s, "upload_byte_s": self.upload_byte_s,
                "download_message_s": self.download_message_s, "download_byte_s": self.download_byte_s,
                "plan_upload_s": self.plan_upload_s, "plan_download_s": self.plan_download_s,
                "rate_bps": self.rate_bps, **{f"plan_{k}": v for k, v in self.plan.items()
                                              if k.endswith("bytes") or k == "tensors"}}


# --------------------------------------------------------------------------- server process
def _server_main(port: int, blob: bytes) -> None:  # pragma: no cover - runs in the child process
    cfg = pickle.loads(blob)
    torch.set_num_threads(cfg["threads"])
    set_allocator(cfg.get("allocator", "retain"))
    part: Part = cfg["part"]
    loss_fn = cfg["loss_fn"]
    opt = _optimizer([p for p in part.parameters() if p.requires_grad], cfg["optimizer"])
    sock = socket.create_connection(("127.0.0.1", port))
    link = Link(sock, wait=cfg.get("wait", "spin"))
    grads: dict[str, Any] = {}
    peak: dict[str, Any] = {}
    try:
        while True:
            msg = link.recv()
            h = msg.header
            if h["kind"] == "config":
                link.configure(h["downlink_bps"], h["latency_s"], h["burst_bytes"])
                continue
            if h["kind"] == "echo":         # link calibration: send the tensors straight back
                link.send("echo", {k: msg.tensors[k] for k in h.get("reply", msg.tensors)},
                          upload_end=msg.t_received)
                continue
            if h["kind"] in ("stop", "report"):
                link.configure(math.inf)
                link.send("report", grads if h["kind"] == "report" else {}, peak=peak,
                          rss_peak_bytes=rss_peak_bytes())
                if h["kind"] == "stop":
                    break
                continue
            feed = dict(msg.tensors)
            leaf = {k: feed[k].requires_grad_(True) for k in h["needs_grad"]}
            for k in leaf:                  # a clone: in-place operators (ReLU(inplace=True))
                feed[k] = leaf[k].clone()   # may modify it, as in the whole model

            c0 = time.process_time()

            def step() -> tuple[Any, float, float, float]:
                t0 = time.monotonic()
                out = part(feed)
                flat = [out[k] for k in part.outputs]
                loss = loss_fn(flat, synthetic_target(flat, h["it"], h["seed"]))
                t1 = time.monotonic()
                loss.backward()
                t2 = time.monotonic()
                return loss, t0, t1, t2

            if h.get("memory"):
                (loss, t0, t1, t2), mp_ = measure_peak_memory(step, baseline=(part, feed, *(o for o in [opt] if o)))
                peak = mp_.to_dict()
            else:
                loss, t0, t1, t2 = step()
            if h.get("grads"):
                grads = {part.param_names[k]: p.grad.detach().clone()
                         for k, p in part.named_parameters(recurse=False) if p.grad is not None}
            if opt is not None:
                opt.step()
                opt.zero_grad(set_to_none=True)
            t3 = time.monotonic()
            c3 = time.process_time()
            back = {k: leaf[k].grad for k in h["needs_grad"]}
            link.send("bwd", back, it=h["it"], loss=float(loss.detach()), server_cpu_s=c3 - c0,
                      server_forward_s=t1 - t0,
                      server_backward_s=t2 - t1, server_step_s=t3 - t2, upload_end=msg.t_received,
                      upload_payload_bytes=msg.payload_bytes, upload_wire_bytes=msg.wire_bytes)
    finally:
        link.close()


def _context() -> Any:
    """``forkserver``: the server processes fork from a clean process that imported torch once
    (fast starts, no OpenMP state inherited from the caller); ``spawn`` where it is missing."""
    try:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["slopt.runtime.train"])
        return ctx
    except ValueError:  # pragma: no cover - platforms without forkserver
        return mp.get_context("spawn")


# --------------------------------------------------------------------------- the session
class SplitSession:
    """A split model ready to train: the server process is started once and serves several runs
    (e.g. a sweep of link rates). Use as a context manager or call :meth:`close`.

    Parameters
    ----------
    split : a :class:`slopt.runtime.partition.SplitModel` (:func:`slopt.runtime.split_model`)
    example_inputs : the flat user inputs (tensors) the data generator imitates
    batch : samples per iteration (default: the example's first dimension)
    loss_fn : ``loss_fn(flat_outputs, target)`` (picklable; default cross-entropy)
    optimizer : ``(name, kwargs)``, name in sgd / adam / adamw (default SGD, lr 1e-3)
    threads : ``torch.set_num_threads`` on both sides (default 1: reproducible on a shared machine)
    wait : how each side waits on the link (:mod:`slopt.runtime.link`): ``"spin"`` (default; the
        socket is polled and the token bucket's waits are spun, so a waiting side keeps its core
        busy, like a dedicated device and server) or ``"block"`` (sleep on the socket)
    allocator : ``"retain"`` (default) or ``"system"``, :func:`slopt.allocator.set_allocator` in
        the server process and in this one (process-wide from here on): with ``"retain"`` the C heap
        keeps the memory a step frees, so the next step does not page-fault its buffers in again
        (the per-layer profiler measures in the same state, its default too)
    """

    def __init__(self, split: SplitModel, example_inputs: Sequence[Any], *, batch: int | None = None,
                 loss_fn: Callable[..., Any] = cross_entropy_loss,
                 optimizer: tuple[str, dict[str, Any]] = ("sgd", {"lr": 1e-3}), threads: int = 1,
                 seed: int = 0, int_high: int = 16, start_timeout_s: float = 120.0,
                 wait: str = "spin", allocator: str = "retain") -> None:
        self.wait = check_wait(wait)
        self.allocator = set_allocator(check_allocator(allocator))["allocator"]
        self.split = split
        self.example = [t for t in torch.utils._pytree.tree_leaves(list(example_inputs))]
        if len(self.example) != len(split.user_inputs):
            raise ValidationError(f"example_inputs flatten to {len(self.example)} values; the model has "
                                  f"{len(split.user_inputs)} user inputs", "example_inputs")
        for part in (split.device, split.server):
            bad = sorted({str(t.device) for t in [*(part.parameters() if part is not None else ()),
                                                  *(part.buffers() if part is not None else ())]
                          if t.device.type != "cpu"})
            if bad:
                raise ValidationError(f"the split-training runtime runs both parts on the CPU (the link sends "
                                      f"CPU tensors; a CUDA side is not implemented); the model is on {bad}: "
                                      f"move it to 'cpu'", "module")
        self.batch, self.loss_fn, self.optimizer_spec = batch, loss_fn, optimizer
        self.threads, self.seed, self.int_high = int(threads), int(seed), int(int_high)
        self.step = 0
        dev = split.device
        self.opt = _optimizer([p for p in dev.parameters() if p.requires_grad], optimizer) if dev else None
        self.proc = None
        self.link: Link | None = None
        if split.server is not None:
            lst = socket.create_server(("127.0.0.1", 0))
            lst.settimeout(start_timeout_s)
            blob = pickle.dumps({"part": split.server, "loss_fn": loss_fn, "optimizer": optimizer,
                                 "threads": self.threads, "wait": self.wait, "allocator": self.allocator})
            self.proc = _context().Process(target=_server_main,
                                                        args=(lst.getsockname()[1], blob), daemon=True)
            self.proc.start()
            try:
                conn, _ = lst.accept()
            except socket.timeout as exc:
                self.proc.kill()
                raise SloptError(f"the server process did not connect within {start_timeout_s} s") from exc
            finally:
                lst.close()
            conn.settimeout(None)
            self.link = Link(conn, wait=self.wait)

    def __enter__(self) -> "SplitSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self.link is not None:
            try:
                self.link.configure(math.inf)
                self.link.send("stop")
                self.link.recv()
            except (OSError, ConnectionError):  # pragma: no cover
                pass
            self.link.close()
            self.link = None
        if self.proc is not None:
            self.proc.join(timeout=10)
            if self.proc.is_alive():  # pragma: no cover
                self.proc.kill()
            self.proc = None

    # ----------------------------------------------------------------- link calibration
    def _echo(self, payload: dict[str, Any], reply: Sequence[str], repeats: int, rate: float,
              compress: Mapping[str, Any] | None, statistic: str) -> dict[str, float]:
        """``repeats`` round trips (after one untimed): the hand-off beyond 8 x wire bytes / rate
        of the message device -> server (``payload``) and of the reply server -> device (the
        tensors named in ``reply``), timed as a run times its transfers."""
        assert self.link is not None
        ups, dns = [], []
        sent: dict[str, Any] = {}
        msg: Any = None
        for r in range(int(repeats) + 1):
            sent = self.link.send("echo", payload, compress=dict(compress) if compress else None,
                                  compress_names=set(self.split.cut), reply=list(reply))
            msg = self.link.recv()
            if r:
                ups.append(msg.header["upload_end"] - sent["t_start"] - 8 * sent["wire_bytes"] / rate)
                dns.append(msg.t_received - msg.header["t_send"] - 8 * msg.wire_bytes / rate)
        pick = statistics.median if statistic == "median" else min
        return {"payload_bytes": sent["payload_bytes"], "wire_bytes": sent["wire_bytes"],
                "reply_payload_bytes": msg.payload_bytes, "reply_wire_bytes": msg.wire_bytes,
                "tensors": len(payload), "upload_s": float(pick(ups)), "download_s": float(pick(dns)),
                "upload_spread_s": float(np.subtract(*np.percentile(ups, [75, 25])) / 2),
                "download_spread_s": float(np.subtract(*np.percentile(dns, [75, 25])) / 2)}

    def calibrate(self, sizes: Sequence[int] = CALIBRATION_SIZES, repeats: int = 5, tensors: int = 1, *,
                  plan: bool = True, compress: Mapping[str, Any] | None = None, statistic: str = "median",
                  rate_bps: float = CALIBRATION_RATE_BPS) -> "LinkCalibration":
        """Measure the hand-off cost of a message on this session's link (:class:`LinkCalibration`).

        Every probe is a round trip device -> server -> device timed exactly as a run times its
        transfers (sender's first byte offered -> receiver's last byte decoded, one clock for both
        processes) at ``rate_bps`` with no latency; what exceeds 8 x wire bytes / rate is the
        hand-off (framing, serialisation copies, socket, waking the receiver, decoding).

        * ``sizes``: payloads of N bytes (``tensors`` float32 tensors each, sent and echoed) for the
          least-squares fit t(N) = ``message_s`` + ``byte_s`` x N per direction;
        * ``plan``: also the run's own two messages — the cut tensors (shapes and dtypes of the
          split's ``cut_meta`` at the session's batch; through the SFT compressor when
          ``compress`` is given) up, and the gradients of those that need one down — which is what
          :func:`slopt.runtime.validate.predict` charges per message (one message per direction
          per iteration).
        """
        if self.link is None:
            raise ValidationError("calibrate: D = V has no link (no server process)", "device_set")
        if int(repeats) < 1 or int(tensors) < 1:
            raise ValidationError(f"calibrate: repeats = {repeats!r}, tensors = {tensors!r}; need both >= 1",
                                  "repeats")
        if statistic not in ("median", "min"):
            raise ValidationError(f"statistic = {statistic!r}; choose median or min", "statistic")
        rate = check_rate("rate_bps", rate_bps)
        self.link.configure(math.inf)
        self.link.send("config", downlink_bps=rate, latency_s=0.0, burst_bytes=0.0)
        self.link.configure(rate)
        rows = []
        g = torch.Generator().manual_seed(self.seed)
        for n in sizes:
            k = max(int(n) // 4, 0)
            per = [k // int(tensors) + (1 if j < k % int(tensors) else 0) for j in range(int(tensors))]
            payload = {f"t{j}": torch.randn(m, generator=g) for j, m in enumerate(per)}
            rows.append(self._echo(payload, list(payload), repeats, rate, None, statistic))
        plan_row = None
        if plan:
            payload, reply = {}, []
            for name in self.split.cut + self.split.raw_inputs:
                if name not in self.split.cut_meta:          # not a tensor: nothing to time
                    continue
                shape, dtype, needs = self.split.cut_meta[name]
                shape = (int(self.batch), *shape[1:]) if self.batch is not None and shape else shape
                dt = getattr(torch, dtype)
                payload[name] = (torch.randn(shape, generator=g).to(dt) if dt.is_floating_point
                                 else torch.zeros(shape, dtype=dt))
                if needs and name in self.split.cut:
                    reply.append(name)
            plan_row = self._echo(payload, reply, repeats, rate, compress, statistic)
        self.link.configure(math.inf)
        return LinkCalibration.fit(pd.DataFrame(rows), plan_row, rate)

    # ----------------------------------------------------------------- one run
    def run(self, iterations: int, uplink_bps: float, downlink_bps: float, *, latency_s: float = 0.0,
            burst_bytes: float = 0.0, warmup: int = 1, memory: bool = True, grads: bool = False,
            compress: Mapping[str, Any] | None = None) -> RunResult:
        """Train ``warmup + iterations`` iterations at the given rates (bit/s) and latency (s);
        ``memory`` adds one iteration measured for peak memory (not in the records; the tracked
        iteration leaves the process slower for the iterations after it — measured +20-50 % on
        ResNet-18's server part — so time later runs of the session with ``memory=False``,
        as :func:`~slopt.runtime.validate.validate_plan` does); ``grads``
        keeps the first iteration's gradients; ``compress={"theta": .., "q": ..}`` puts the SFT
        compressor on the uploaded activations."""
        r_up = check_rate("uplink_bps", uplink_bps)
        r_dn = check_rate("downlink_bps", downlink_bps)
        if int(iterations) < 1:
            raise ValidationError(f"iterations = {iterations!r}; must be >= 1", "iterations")
        sm = self.split
        prev_threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            if self.link is not None:
                self.link.configure(math.inf)
                self.link.send("config", downlink_bps=r_dn, latency_s=latency_s, burst_bytes=burst_bytes)
                self.link.configure(r_up, latency_s, burst_bytes)
            records: list[IterationRecord] = []
            mem: dict[str, dict[str, Any]] = {}
            first_grads: dict[str, Any] = {}
            losses: list[float] = []
            exp_up = exp_dn = 0
            total = int(warmup) + int(iterations)
            for i in range(total + (1 if memory else 0)):
                is_mem = memory and i == total
                want_grads = grads and i == 0
                it = self.step
                self.step += 1
                if is_mem:
                    (rec, info), peak = measure_peak_memory(
                        self._iteration, it, r_up, r_dn, latency_s, want_grads, True, compress,
                        baseline=(*(m for m in [sm.device] if m is not None), *(o for o in [self.opt] if o)))
                    mem["device"] = peak.to_dict()
                    if info.get("server_peak"):
                        mem["server"] = info["server_peak"]
                    continue
                rec, info = self._iteration(it, r_up, r_dn, latency_s, want_grads, False, compress)
                rec.iteration = i
                records.append(rec)
                losses.append(rec.loss)
                exp_up, exp_dn = info["expected_up"], info["expected_dn"]
                if want_grads:
                    first_grads = info["grads"]
        finally:
            torch.set_num_threads(prev_threads)
        if grads and self.link is not None:
            self.link.configure(math.inf)
            self.link.send("report")
            rep = self.link.recv()
            first_grads.update({k: v for k, v in rep.tensors.items()})
            if "server" in mem:
                mem["server"]["rss_peak_bytes"] = rep.header.get("rss_peak_bytes")
        cut_layers = [sm.names[v] if v >= 0 else c for c, v in zip(sm.cut, sm.cut_vertex)]
        return RunResult(records, list(sm.cut), cut_layers, list(sm.raw_inputs), exp_up, exp_dn, mem,
                         first_grads, losses, warmup=int(warmup), threads=self.threads)

    def _iteration(self, it: int, r_up: float, r_dn: float, latency_s: float, want_grads: bool,
                   is_mem: bool, compress: Mapping[str, Any] | None) -> tuple[IterationRecord, dict[str, Any]]:
        sm = self.split
        inputs = synthetic_inputs(self.example, it, self.seed, self.batch, self.int_high)
        feed = dict(zip(sm.user_inputs, inputs))
        info: dict[str, Any] = {"expected_up": 0, "expected_dn": 0}
        c0, t0 = time.process_time(), time.monotonic()
        out = sm.device(feed) if sm.device is not None else {}
        c1, t1 = time.process_time(), time.monotonic()
        if sm.server is None:                      # D = V: the device trains alone
            flat = [out[k] for k in sm.device.outputs]
            loss = self.loss_fn(flat, synthetic_target(flat, it, self.seed))
            loss.backward()
            t2 = time.monotonic()
            if want_grads:
                info["grads"] = {k: g.detach().clone() for k, g in sm.device.named_grads().items() if g is not None}
            if self.opt is not None:
                self.opt.step()
                self.opt.zero_grad(set_to_none=True)
            t3 = time.monotonic()
            rec = IterationRecord(it, t3 - t0, t1 - t0 + 0.0, t2 - t1, t3 - t2, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                  float(loss.detach()), r_up, r_dn, latency_s, time.process_time() - c0)
            return rec, info
        up = {k: out[k] if k in out else feed[k] for k in sm.cut + sm.raw_inputs}
        needs = [k for k in sm.cut if isinstance(up[k], torch.Tensor) and up[k].requires_grad]
        info["expected_up"] = sum(int(t.numel()) * t.element_size() for t in up.values()
                                  if isinstance(t, torch.Tensor))
        info["expected_dn"] = sum(int(up[k].numel()) * up[k].element_size() for k in needs)
        assert self.link is not None
        sent = self.link.send("fwd", up, compress=dict(compress) if compress else None,
                              compress_names=set(sm.cut), it=it, seed=self.seed, needs_grad=needs,
                              memory=is_mem, grads=want_grads)
        msg = self.link.recv()
        h = msg.header
        if is_mem:
            get_tracker = _active_tracker()
            if get_tracker is not None:
                get_tracker.add(list(t for t in msg.tensors.values() if t is not None))
        c4, t4 = time.process_time(), time.monotonic()
        pairs = [(out[k], msg.tensors[k]) for k in needs if msg.tensors.get(k) is not None]
        if pairs:
            torch.autograd.backward([a for a, _ in pairs], [g for _, g in pairs])
        t5 = time.monotonic()
        if want_grads:
            info["grads"] = {k: g.detach().clone() for k, g in sm.device.named_grads().items() if g is not None}
        if self.opt is not None:
            self.opt.step()
            self.opt.zero_grad(set_to_none=True)
        c6, t6 = time.process_time(), time.monotonic()
        if is_mem:
            self.link.configure(math.inf)
            self.link.send("report")
            rep = self.link.recv()
            info["server_peak"] = dict(rep.header.get("peak") or {}, rss_peak_bytes=rep.header.get("rss_peak_bytes"))
            self.link.configure(r_up, latency_s)
        rec = IterationRecord(
            it, t6 - t0, t1 - t0, t5 - t4, t6 - t5, h["server_forward_s"], h["server_backward_s"],
            h["server_step_s"], h["upload_end"] - sent["t_start"], msg.t_received - h["t_send"],
            h["upload_payload_bytes"], h["upload_wire_bytes"], msg.payload_bytes, msg.wire_bytes,
            h["loss"], r_up, r_dn, latency_s, (c1 - c0) + (c6 - c4), h["server_cpu_s"])
        return rec, info


def _active_tracker() -> Any:
    from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

    from slopt.runtime.memory import MemoryTracker

    for m in reversed(_get_current_dispatch_mode_stack()):
        if isinstance(m, MemoryTracker):
            return m
    return None


def run_split_training(split: SplitModel, example_inputs: Sequence[Any], iterations: int = 5, *,
                       uplink_bps: float, downlink_bps: float, latency_s: float = 0.0,
                       batch: int | None = None, warmup: int = 1, memory: bool = True,
                       grads: bool = False, compress: Mapping[str, Any] | None = None,
                       **session: Any) -> RunResult:
    """Start a :class:`SplitSession`, run it once and close it (see :meth:`SplitSession.run`)."""
    check_rate("uplink_bps", uplink_bps)           # before a server process is started
    check_rate("downlink_bps", downlink_bps)
    with SplitSession(split, example_inputs, batch=batch, **session) as s:
        return s.run(iterations, uplink_bps, downlink_bps, latency_s=latency_s, warmup=warmup,
                     memory=memory, grads=grads, compress=compress)
