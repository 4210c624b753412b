"""slopt.allocator: the C heap keeps freed memory under "retain", so a block freed and allocated
again does not fault its pages in again (measured with the kernel's minor page-fault count in a
fresh process, since the setting is process-wide)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from slopt.allocator import ALLOCATORS, check_allocator, set_allocator
from slopt.errors import ValidationError

_PROBE = r"""
import ctypes, json, resource, sys
from slopt.allocator import set_allocator
rec = set_allocator(sys.argv[1])
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
n, k = 40 * 2**20, 8          # above glibc's largest dynamic mmap threshold (32 MiB)
p = libc.malloc(n); ctypes.memset(p, 1, n); libc.free(p)       # first touch: faults either way
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(k):
    p = libc.malloc(n); ctypes.memset(p, 1, n); libc.free(p)
print(json.dumps({"faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0, "rec": rec,
                  "pages": k * n // resource.getpagesize()}))
"""


def _probe(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_check_allocator_names_field_and_value():
    assert check_allocator("retain") == "retain" and set(ALLOCATORS) == {"retain", "system"}
    with pytest.raises(ValidationError, match="allocator = 'jemalloc'") as e:
        check_allocator("jemalloc")
    assert e.value.field == "allocator"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_retain_stops_refaulting_freed_blocks():
    system, retain = _probe("system"), _probe("retain")
    if not retain["rec"]["applied"]:
        pytest.skip(f"not glibc: {retain['rec']}")
    # glibc's default hands a 40 MiB block back on free: every page faults again, every time
    assert system["faults"] >= 0.9 * system["pages"], system
    # retained: the same block is reused, (almost) no fault
    assert retain["faults"] <= 0.02 * retain["pages"], retain
    assert retain["rec"]["mmap_max"] == 0


def test_system_never_undoes_retain_and_retain_is_idempotent():
    out = subprocess.run([sys.executable, "-c", "import json; from slopt.allocator import set_allocator as s; "
                          "a = s('retain'); b = s('retain'); c = s('system'); print(json.dumps([a, b, c]))"],
                         capture_output=True, text=True, check=True)
    a, b, c = json.loads(out.stdout)
    assert a == b
    assert c["allocator"] == "system" and c["applied"] is False and c["retained_before"] is a["applied"]
