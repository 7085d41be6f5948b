"""Keep the C heap's freed memory in the process, so that torch's CPU tensors stop page-faulting.

Why: torch takes every intermediate CPU tensor from ``malloc``. glibc serves the large ones from
its heap (its mmap threshold adapts up to 32 MiB) and hands the heap's free top back to the
kernel once it exceeds twice that threshold; the next env step asks for the same megabytes
again, and every page of them faults in anew, zeroed by the kernel. At MF-Diffuser's acting
shapes (Ising's family config at N = 1024: [4 plans × 512 particles, 64, 8] float tensors,
4 MiB each) that was a third of the step here, all of it system time: 810.7 -> 548.7 ms per
env step, system time 10.7 -> 0.3 s in a 50-step episode, the same actions
(docs/results/allocator.md). The usual cure is to preload jemalloc or tcmalloc (PyTorch's CPU
performance tuning guide); ``mallopt`` gives glibc the same habit without a dependency.

The cost is memory kept: up to ``trim_threshold`` of freed heap stays with the process (per
malloc arena) instead of going back to the kernel; peak memory is unchanged, since what is kept
is reused. ``mfdiff train``, ``eval`` and ``demo`` call :func:`tune_cpu_allocator` once at start
(so do the planner benchmarks); a program that drives a policy itself (a PettingZoo, TorchRL or
Tianshou loop) may call it too, before it starts threads. ``MFDIFF_MALLOC=default`` in the
environment leaves the allocator as it is.
"""

from __future__ import annotations

import ctypes
import os
import sys

# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3


def tune_cpu_allocator(
    *, trim_threshold: int = 128 << 20, top_pad: int = 64 << 20, mmap_threshold: int = 32 << 20
) -> bool:
    """Tell glibc's ``malloc`` to keep freed memory (process-wide, for the rest of the process).

    Call it early, before the program starts threads: glibc documents ``mallopt`` as unsafe to
    race with other allocations.

    Args:
        trim_threshold: free bytes at the heap's top kept before any goes back to the kernel
            (128 MiB held Ising's N = 1024 episode at 0.3 s of system time, 1 GiB at 0.5 s).
        top_pad: extra bytes the heap grows by at a time (fewer, larger ``brk`` calls).
        mmap_threshold: requests from this size up get their own ``mmap`` (and page faults);
            32 MiB is glibc's largest allowed value on 64-bit systems (512 KiB on 32-bit).

    Returns:
        True where every setting took (Linux with glibc). False elsewhere — another C library,
        another OS, ``MFDIFF_MALLOC=default``, or a value glibc refuses (the others are still
        applied) — which is harmless: only speed differs, the numbers computed are the same.

    Raises:
        ValueError: a value that is not a non-negative C int.
    """
    settings = ((M_MMAP_THRESHOLD, mmap_threshold), (M_TRIM_THRESHOLD, trim_threshold),
                (M_TOP_PAD, top_pad))
    bad = [v for _, v in settings if isinstance(v, bool) or not isinstance(v, int)
           or not 0 <= v < 2**31]
    if bad:
        raise ValueError(f"mallopt values are non-negative C ints (< 2**31), got {bad}")
    if os.environ.get("MFDIFF_MALLOC", "").strip().lower() in ("default", "off", "0"):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)  # the C library this process already runs on
        libc.gnu_get_libc_version  # noqa: B018 - glibc only: musl's mallopt does nothing
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    took = [mallopt(param, value) == 1 for param, value in settings]  # each one, whatever fails
    return all(took)

