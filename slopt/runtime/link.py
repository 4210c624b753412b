"""The emulated link between device and server: a TCP socket on the loopback interface, a token
bucket per direction that enforces the plan's rate, an optional one-way latency, and a framing
of named tensors (optionally with the SFT compressor of :mod:`slopt.compression` on activations).

Rate enforcement (token bucket, rate R bit/s, depth ``burst_bytes``): before a chunk of c bytes
leaves, the bucket is debited by c bytes and the sender sleeps until the debt is paid at R. With
the default depth 0 no credit is saved while the link is idle, so a message of N bytes (framing
included) reaches the receiver no earlier than 8 N / R seconds after its first byte was offered;
a depth b allows a burst of b bytes at line speed (8 (N - b) / R). Latency: the sender waits
``latency_s`` before the first byte of every message (one propagation delay per message, which
is what a sequential split-learning iteration sees).

Waiting (``wait``): how a side waits for the link — for the peer's next message, for the token
bucket's debt to be paid, for the latency. ``"spin"`` (the default): the socket is non-blocking
and polled in a loop, the bucket's and the latency's waits are polled on the clock, and every
turn of the loop yields the core (``os.sched_yield``) without giving it up to idleness; a
waiting side keeps its core busy, like a dedicated device and a dedicated server. ``"block"``:
the socket blocks and the waits sleep (``time.sleep``), so a waiting process lets its core
idle. On one shared virtual machine an idle vCPU is descheduled by the hypervisor and the
process that wakes on it computes on cold caches, measurably slower than the same code run back
to back (``docs/runtime.md``); that is an artefact of running both parties on one machine, not of
split learning, hence spinning by default.

Clock: ``time.monotonic()`` (CLOCK_MONOTONIC, shared by every process of the machine on Linux),
so a send time stamped by one process and a receive time of the other are comparable.
"""

from __future__ import annotations

import json
import math
import os
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slopt.errors import ValidationError

__all__ = ["TokenBucket", "Link", "Message", "check_rate", "check_wait", "CHUNK_BYTES", "WAITS"]

#: Bytes per paced chunk (64 KiB): the sender debits the bucket and writes the socket one chunk
#: at a time, so the receiver sees the bytes spread over the transfer, not in one burst at the end.
CHUNK_BYTES = 65536
_LEN = struct.Struct("<Q")
#: how a side waits on the link (module docstring): poll in a loop, or block / sleep
WAITS = ("spin", "block")


def check_wait(value: Any, name: str = "wait") -> str:
    """``"spin"`` or ``"block"`` (see the module docstring)."""
    if value not in WAITS:
        raise ValidationError(f"{name} = {value!r}; choose 'spin' (poll the link, the core stays busy) or "
                              f"'block' (sleep on the socket)", name)
    return str(value)


def wait_until(t: float, wait: str = "spin") -> float:
    """Wait until ``time.monotonic() >= t``: polled (``spin``, yielding the core every turn) or
    slept (``block``; ``sleep`` may return early, hence the loop). Returns the seconds waited."""
    t0 = time.monotonic()
    now = t0
    while now < t:
        if wait == "spin":
            os.sched_yield()
        else:
            time.sleep(t - now)
        now = time.monotonic()
    return now - t0


def check_rate(name: str, value: Any) -> float:
    """A link rate in bit/s: finite and > 0 (``math.inf`` = no emulation)."""
    try:
        r = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} = {value!r}; a link rate must be a number in bit/s", name) from None
    if math.isnan(r) or r <= 0:
        raise ValidationError(f"{name} = {value!r} bit/s; a link rate must be > 0 (a rate of 0 never "
                              f"delivers a byte)", name)
    return r


class TokenBucket:
    """Token bucket of ``rate_bps`` bit/s and depth ``burst_bytes`` (see the module docstring).

    Kept as a virtual clock: ``t_free`` is when the bytes debited so far have been paid for.
    A new message starts from ``max(t_free, now - burst / R)`` (an idle link saves at most
    ``burst_bytes`` of credit); the chunks of one message continue from the previous chunk's
    ``t_free`` so that a late wake-up of ``sleep`` is not charged twice.
    """

    def __init__(self, rate_bps: float, burst_bytes: float = 0.0, wait: str = "spin") -> None:
        self.rate_bps = check_rate("rate_bps", rate_bps)
        self.wait = check_wait(wait)
        if not (burst_bytes >= 0):
            raise ValidationError(f"burst_bytes = {burst_bytes!r}; must be >= 0", "burst_bytes")
        self.burst_bytes = float(burst_bytes)
        self.t_free = -math.inf

    def consume(self, n: int, continuing: bool = False) -> float:
        """Debit ``n`` bytes and wait (spin or sleep, ``wait``) until they are paid; returns the
        seconds waited."""
        if math.isinf(self.rate_bps):
            return 0.0
        now = time.monotonic()
        if not continuing:
            self.t_free = max(self.t_free, now - self.burst_bytes * 8 / self.rate_bps)
        self.t_free += n * 8 / self.rate_bps
        return wait_until(self.t_free, self.wait)


@dataclass
class Message:
    """A received message: its header fields, tensors by name and the byte counts."""

    header: dict[str, Any]
    tensors: dict[str, Any]
    payload_bytes: int
    wire_bytes: int
    t_first_byte: float
    t_received: float
    sizes: dict[str, int] = field(default_factory=dict)


def _tensor_bytes(t: Any) -> tuple[bytes, str, list[int]]:
    import torch

    t = t.detach().contiguous()
    if t.device.type != "cpu":
        t = t.cpu()
    raw = t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
    return raw, str(t.dtype).removeprefix("torch."), list(t.shape)


def _tensor_from(buf: bytes | memoryview, dtype: str, shape: list[int]) -> Any:
    import torch

    dt = getattr(torch, dtype)
    if not len(buf):
        return torch.zeros(shape, dtype=dt)
    return torch.frombuffer(bytearray(buf), dtype=torch.uint8).view(dt).reshape(shape)


class Link:
    """One end of the emulated link: ``send(kind, tensors, **fields)`` / ``recv()``.

    ``rate_bps`` (outgoing direction), ``latency_s`` and ``burst_bytes`` may be changed between
    messages (``configure``). ``wait``: ``"spin"`` (default) or ``"block"``, how this end waits
    for the peer, the token bucket and the latency (module docstring). ``compress``: ``{"theta": .., "q": ..}`` sends float tensors named
    in ``compress_names`` through :func:`slopt.compression.encode` (activations only).
    """

    def __init__(self, sock: socket.socket, rate_bps: float = math.inf, latency_s: float = 0.0,
                 burst_bytes: float = 0.0, wait: str = "spin") -> None:
        self.sock = sock
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.wait = check_wait(wait)
        sock.setblocking(self.wait == "block")
        self.configure(rate_bps, latency_s, burst_bytes)

    def configure(self, rate_bps: float, latency_s: float = 0.0, burst_bytes: float = 0.0,
                  wait: str | None = None) -> None:
        if wait is not None:
            self.wait = check_wait(wait)
            self.sock.setblocking(self.wait == "block")
        self.bucket = TokenBucket(rate_bps, burst_bytes, self.wait)
        if not (latency_s >= 0) or math.isinf(latency_s):
            raise ValidationError(f"latency_s = {latency_s!r}; must be finite and >= 0", "latency_s")
        self.latency_s = float(latency_s)

    # ------------------------------------------------------------------ sending
    def send(self, kind: str, tensors: dict[str, Any] | None = None, compress: dict[str, Any] | None = None,
             compress_names: set[str] | None = None, **fields: Any) -> dict[str, Any]:
        """Send one message; returns ``{"t_start", "t_end", "payload_bytes", "wire_bytes", "sizes"}``."""
        t_start = time.monotonic()
        blobs: list[bytes] = []
        meta: list[list[Any]] = []
        for name, t in (tensors or {}).items():
            if t is None:
                meta.append([name, "none", [], 0, "raw"])
                continue
            if compress and name in (compress_names or ()) and t.is_floating_point():
                from slopt.compression import encode

                enc = encode(t.detach().float().cpu().numpy(), compress["theta"], compress.get("q", 4),
                             seed=compress.get("seed"))
                blob = enc.payload
                meta.append([name, str(t.dtype).removeprefix("torch."), list(t.shape), len(blob), "sft"])
            else:
                blob, dt, shape = _tensor_bytes(t)
                meta.append([name, dt, shape, len(blob), "raw"])
            blobs.append(blob)
        payload = b"".join(blobs)
        header = json.dumps({"kind": kind, "t_send": t_start, "tensors": meta, **fields}).encode()
        frame = _LEN.pack(len(header)) + header + _LEN.pack(len(payload))
        data = memoryview(frame + payload)
        if self.latency_s:
            wait_until(time.monotonic() + self.latency_s, self.wait)
        for a in range(0, len(data), CHUNK_BYTES):
            chunk = data[a:a + CHUNK_BYTES]
            self.bucket.consume(len(chunk), continuing=a > 0)
            self._send_all(chunk)
        return {"t_start": t_start, "t_end": time.monotonic(), "payload_bytes": len(payload),
                "wire_bytes": len(data), "sizes": {m[0]: m[3] for m in meta}}

    def _send_all(self, chunk: memoryview) -> None:
        if self.wait == "block":
            self.sock.sendall(chunk)
            return
        off = 0
        while off < len(chunk):                 # non-blocking socket: poll until the kernel takes it
            try:
                off += self.sock.send(chunk[off:])
            except BlockingIOError:
                os.sched_yield()

    # ------------------------------------------------------------------ receiving
    def _recv_exact(self, n: int) -> bytearray:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            try:
                k = self.sock.recv_into(view[got:], n - got)
            except BlockingIOError:             # spin: nothing yet, poll again
                os.sched_yield()
                continue
            if k == 0:
                raise ConnectionError("the peer closed the link")
            got += k
        return buf

    def recv(self) -> Message:
        """Receive one message (waits for it: polled with ``wait="spin"``, blocking with ``"block"``)."""
        head = self._recv_exact(_LEN.size)
        t_first = time.monotonic()
        (hlen,) = _LEN.unpack(head)
        header = json.loads(bytes(self._recv_exact(hlen)))
        (plen,) = _LEN.unpack(self._recv_exact(_LEN.size))
        payload = self._recv_exact(plen) if plen else bytearray()
        tensors: dict[str, Any] = {}
        off = 0
        sizes: dict[str, int] = {}
        for name, dtype, shape, nbytes, codec in header.pop("tensors"):
            sizes[name] = nbytes
            if dtype == "none":
                tensors[name] = None
                continue
            chunk = memoryview(payload)[off:off + nbytes]
            off += nbytes
            if codec == "sft":
                import torch

                from slopt.compression import decode

                tensors[name] = torch.from_numpy(np.asarray(decode(bytes(chunk)))).to(getattr(torch, dtype))
            else:
                tensors[name] = _tensor_from(chunk, dtype, shape)
        return Message(header, tensors, plen, 2 * _LEN.size + hlen + plen, t_first, time.monotonic(), sizes)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:  # pragma: no cover
            pass
