"""Progress and interruption of long computations, shared by every problem.

* Every module logs through the standard :mod:`logging` package under the ``slopt`` logger tree
  (``slopt.models.gsfl``, ``slopt.solvers``...). A library user or a notebook sees the records by
  configuring logging as usual (``logging.basicConfig(level=logging.INFO)``) or by calling
  :func:`enable` (a rich handler on ``slopt`` at the given level); ``slopt --verbose`` does the same.
* :func:`report` is what a method calls after each sub-problem: one ``INFO`` record with what is
  done, the incumbent and the bound, in one wording for all problems.
* A first Ctrl-C (SIGINT) inside :func:`interruptible` does not kill the computation: it sets a
  flag that :func:`stop_requested` (and :class:`slopt.methods.Deadline`) reads, so a method that
  checks it between sub-problems returns its incumbent with its gap. A second Ctrl-C raises
  ``KeyboardInterrupt`` as usual.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["get_logger", "enable", "report", "interruptible", "stop_requested", "request_stop", "clear_stop"]

_STOP = threading.Event()


def get_logger(name: str) -> logging.Logger:
    """The logger of a slopt module (``name`` is usually ``__name__``)."""
    return logging.getLogger(name if name.startswith("slopt") else f"slopt.{name}")


def enable(level: int | str = logging.INFO) -> logging.Handler:
    """Show slopt's log records at ``level`` on the terminal (rich handler on the ``slopt`` logger)."""
    root = logging.getLogger("slopt")
    for h in root.handlers:
        if getattr(h, "_slopt_enable", False):
            root.setLevel(level)
            h.setLevel(level)
            return h
    try:
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(show_path=False, rich_tracebacks=False)
    except ImportError:  # rich is a dependency; keep the standard handler as a fallback
        handler = logging.StreamHandler()
    handler.setLevel(level)
    handler._slopt_enable = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return "—" if not math.isfinite(x) else f"{x:.6g}"
    return str(x)


def report(logger: logging.Logger, done: int, total: int | None, *, incumbent: float = math.nan,
           bound: float = math.nan, what: str = "sub-problems", **extra: Any) -> None:
    """Log one progress record: ``done/total what; incumbent, bound, gap`` (+ ``extra`` key=value)."""
    gap = math.nan
    if math.isfinite(incumbent) and math.isfinite(bound):
        gap = abs(incumbent - bound) / max(abs(incumbent), 1e-10)
    tail = "".join(f", {k}={_fmt(v)}" for k, v in extra.items())
    logger.info("%s/%s %s; incumbent %s, bound %s, gap %s%s", done, "?" if total is None else total, what,
                _fmt(incumbent), _fmt(bound), _fmt(gap), tail)


def stop_requested() -> bool:
    """True after a first Ctrl-C inside :func:`interruptible` (or :func:`request_stop`)."""
    return _STOP.is_set()


def request_stop() -> None:
    """Ask running methods to stop at their next check and return their incumbent."""
    _STOP.set()


def clear_stop() -> None:
    """Forget an earlier stop request."""
    _STOP.clear()


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, the first SIGINT requests a stop; the second raises ``KeyboardInterrupt``."""
    clear_stop()
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if _STOP.is_set():
            raise KeyboardInterrupt
        _STOP.set()
        get_logger("slopt").warning("interrupted: stopping at the next check (Ctrl-C again to abort)")

    old = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
        clear_stop()
