"""The C allocator of the ``cardiac-lge`` processes: freed memory is kept for the next series.

Why: analysing a TI scout allocates and frees some tens of MB (the DICOM files' bytes, the frames, the fits'
work arrays). With glibc's default settings the freed top of the heap is given back to the operating system
(trimmed) as soon as more than about twice the largest recent block is free, and the next series faults the
same pages in again: measured on the 30-frame core path, about 3800 page faults and 15 ms of system time per
series in a process that had landed in that state, and 1.10x faster medians in interleaved rounds with the
settings below (``benchmarks/bench_ti_correction.py``). A batch, the phone server and the benchmark's warm
core path analyse series after series in one process, so each process keeps what it freed instead.

What: glibc's ``mallopt`` (malloc(3), mallopt(3)): M_TRIM_THRESHOLD 128 MiB (free heap top kept before
trimming), M_TOP_PAD 64 MiB (extra heap obtained and kept with each growth), M_MMAP_THRESHOLD 32 MiB (the
largest value glibc's own dynamic threshold reaches on 64-bit; blocks below it come from the heap). The
process's resident memory then stays near its peak (``ti-correct`` peaks at about 300 MB) instead of
returning to the system between series. Nothing changes where the C library is not glibc (macOS, Windows,
musl), and settings the user made through glibc's own ``MALLOC_*_`` environment variables are left alone.
Only the command line's own processes call this; the Slicer modules leave Slicer's allocator as it is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

#: mallopt parameters of glibc's <malloc.h>, and the values set (bytes).
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
SETTINGS = {M_TRIM_THRESHOLD: 128 * 1024 * 1024, M_TOP_PAD: 64 * 1024 * 1024, M_MMAP_THRESHOLD: 32 * 1024 * 1024}
#: glibc's environment variables for the same parameters: a user who set any of them keeps their choice.
ENVIRONMENT_VARIABLES = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_")

_applied: bool | None = None


def _glibc():
    """The process's glibc, or None when the C library is another one."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - glibc only (musl has mallopt as a no-op, and no such function)
    except (OSError, AttributeError):
        return None
    return libc


def keep_freed_memory() -> bool:
    """Keep memory freed by one series for the next (module doc); True when the settings are in force.

    Idempotent; called once at the start of every ``cardiac-lge`` process (the command line and the batch's
    worker processes). False (nothing changed) off glibc, when the user set glibc's ``MALLOC_*_`` variables,
    or when glibc refuses a value.
    """
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if any(name in os.environ for name in ENVIRONMENT_VARIABLES):
        return False
    libc = _glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    libc.mallopt.restype = ctypes.c_int
    _applied = all(libc.mallopt(parameter, value) == 1 for parameter, value in SETTINGS.items())
    return _applied
