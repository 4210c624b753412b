"""How the C heap hands memory back to the operating system, set the same way wherever slopt times
a training step (the per-layer profiler and both sides of the split-training runtime).

Why it matters: with glibc's defaults a freed block of 128 KiB or more that was obtained by
``mmap`` (or that leaves the top of the heap free beyond the trim threshold) is returned to the
kernel at once, and the next allocation of that size faults its pages in again, each page zeroed
by the kernel on the process's CPU time (glibc manual, "Memory Allocation Tunables";
``mallopt(3)``). A training step on the CPU frees and reallocates the same activation and
gradient buffers every iteration, so a process in that state pays the page faults on every step:
measured here, ResNet-18's server part (layer2 onwards, 64x64, B = 4, one thread) took 13,792
minor page faults (54 MB) and 66-96 ms of CPU per step, against 0 faults and 41-55 ms with the
heap retaining its freed memory (the sum of its per-layer times: 48-53 ms). Whether a process is
in that state depends on its history (glibc raises its mmap threshold dynamically after frees), so
two processes running the same part can differ by 2x; PyTorch's CPU performance guide recommends
an allocator that keeps freed memory (jemalloc, tcmalloc) for the same reason.

``"retain"`` (slopt's default for timing) sets, process-wide and for the rest of the process's
life (like ``torch.set_num_threads``): ``M_MMAP_MAX`` = 0 (no block is served by its own
``mmap``, whatever its size: glibc's dynamic threshold stops at 32 MiB, so larger blocks would
still fault on every step; a thread arena that cannot grow still falls back to ``mmap``) and
``M_TRIM_THRESHOLD`` = 2**31 - 1 bytes (the top of the heap is not handed back), so freed blocks
stay in the heap and are reused.
``"system"`` leaves the allocator as it is. Other C libraries (musl, macOS): a no-op, reported.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any

from slopt.errors import ValidationError

ALLOCATORS = ("retain", "system")

#: mallopt(3) parameter numbers (glibc's malloc.h)
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
#: the largest trim threshold mallopt's int argument can hold, bytes
TRIM_THRESHOLD_BYTES = 2**31 - 1

_APPLIED: dict[str, Any] = {}


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        lib = ctypes.CDLL(name or "libc.so.6")
        if not (hasattr(lib, "mallopt") and hasattr(lib, "gnu_get_libc_version")):
            return None
        lib.gnu_get_libc_version.restype = ctypes.c_char_p
        return lib
    except OSError:  # pragma: no cover - no C library to load
        return None


def check_allocator(mode: Any) -> str:
    """``mode`` if it is one of :data:`ALLOCATORS`, else a :class:`ValidationError` naming it."""
    if mode not in ALLOCATORS:
        raise ValidationError(f"allocator = {mode!r}; choose one of {', '.join(ALLOCATORS)}", "allocator")
    return str(mode)


def set_allocator(mode: str = "retain") -> dict[str, Any]:
    """Apply ``mode`` to this process (see the module docstring) and say what was done:
    ``{"allocator": mode, "applied": bool, "libc": version or None, ...}`` (the settings when
    applied). Idempotent; ``"system"`` never undoes an earlier ``"retain"`` (glibc cannot restore its
    dynamic threshold), and the record says so (``"retained_before": True``)."""
    mode = check_allocator(mode)
    lib = _libc()
    version = lib.gnu_get_libc_version().decode() if lib is not None else None
    if mode == "system":
        return {"allocator": "system", "applied": False, "libc": version, "retained_before": bool(_APPLIED)}
    if _APPLIED:
        return dict(_APPLIED)
    if lib is None:
        return {"allocator": "retain", "applied": False, "libc": None,
                "reason": "not glibc: mallopt is not available, the allocator is left as it is"}
    ok = bool(lib.mallopt(M_MMAP_MAX, 0)) and bool(lib.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
    rec = {"allocator": "retain", "applied": ok, "libc": version, "mmap_max": 0,
           "trim_threshold_bytes": TRIM_THRESHOLD_BYTES}
    if ok:
        _APPLIED.update(rec)
    return rec
