"""Device resolution shared by every trainable method.

``device="auto"`` picks CUDA when a GPU is visible and the CPU otherwise. On CUDA, matmul-heavy
forward passes run under bf16 autocast when the card supports it (:func:`autocast`); on the CPU
everything stays float32 (bf16 autocast on CPU is slower than float32 for our small widths).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> ``cuda`` when available, else ``cpu``; anything else is passed to torch. A
    CUDA device comes back indexed (``"cuda"`` -> ``cuda:<current device>``), so that two
    spellings of one GPU compare equal.

    Raises:
        ValueError: an unknown device, ``meta``, or an explicit CUDA device on a machine
            without CUDA.
    """
    if isinstance(device, torch.device):
        dev = device
    elif device == "auto":
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as e:  # TypeError: None, a number ...
            raise ValueError(f"unknown device {device!r} (use 'auto', 'cpu' or 'cuda[:i]')") from e
    if dev.type == "meta":  # loads without an error, then fails at the first action
        raise ValueError("device 'meta' holds shapes, no values: a policy cannot act or train "
                         "there (use 'auto', 'cpu' or 'cuda[:i]')")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available here; "
                             "use 'auto'")
        if dev.index is None:
            # "cuda" and "cuda:0" are one GPU: an unindexed device would compare unequal to
            # an indexed one (MFDiffuserEnsemble refused such members as on two devices).
            # current_device() would initialise CUDA, opening a context on GPU 0 in every
            # torchrun rank before distributed.setup picks its GPU: 0 until CUDA is up
            idx = torch.cuda.current_device() if torch.cuda.is_initialized() else 0
            dev = torch.device("cuda", idx)
    return dev


def use_bf16(device: torch.device) -> bool:
    """Whether bf16 autocast helps on ``device``: CUDA with native bf16 (compute capability
    ≥ 8, Ampere on). ``torch.cuda.is_bf16_supported()`` also says yes where bf16 is only
    emulated (V100, T4), slowly, and asks about the current device, not this one."""
    if device.type != "cuda":
        return False
    return torch.cuda.get_device_capability(device)[0] >= 8


@contextlib.contextmanager
def autocast(device: torch.device, enabled: bool = True) -> Iterator[None]:
    """bf16 autocast on CUDA (when supported and ``enabled``), a no-op elsewhere."""
    if enabled and use_bf16(device):
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            yield
    else:
        yield


_BLAS: list = []  # the threadpoolctl controller of the loaded BLAS libraries, made on first use


def _blas() -> Any:
    """threadpoolctl's controller of the BLAS libraries loaded now (numpy's OpenBLAS): found
    once (~1 ms), then each ``limit`` costs ~10 µs."""
    if not _BLAS:
        from threadpoolctl import ThreadpoolController

        _BLAS.append(ThreadpoolController())
    return _BLAS[0]


def limit_blas_threads(n: int) -> contextlib.AbstractContextManager:
    """Limit numpy's BLAS (OpenBLAS) to ``n`` threads from now on; returns threadpoolctl's
    limiter (``.restore_original_limits()`` undoes it, or use it as a context manager).

    Why: the lifting's CPU loops call numpy's mat-vecs (lifting._scale_cpu). OpenBLAS sizes its
    pool from the cores (or OMP_NUM_THREADS) when numpy is imported, so ``torch.set_num_threads``
    and an OMP_NUM_THREADS set later leave it at every core: a [2048, 256] mat-vec then ran on
    2 threads, the oversubscription docs/results/threads.md measured 2-25x slower beside
    other jobs."""
    return _blas().limit(limits=n, user_api="blas")


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` intra-op torch threads and ``n`` BLAS threads for numpy
    (``None``: leave both as they are).

    Why: on a busy 2-core machine torch's default thread pool spin-waits against other
    processes; one thread per process was 2-25x faster there (docs/results/threads.md).
    """
    if n is None:
        yield
        return
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"num_threads must be a positive int or None, got {n!r}")
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with limit_blas_threads(n):
            yield
    finally:
        torch.set_num_threads(old)
