"""``--threads`` and ``num_threads`` reach numpy's BLAS as well as torch: the lifting's CPU loops
run numpy mat-vecs (lifting._scale_cpu), and OpenBLAS sizes its pool when numpy is imported."""

from __future__ import annotations

import pytest
import torch
from threadpoolctl import threadpool_info

from mfdiff.cli_agents import _threads
from mfdiff_agents.device import limit_blas_threads, torch_threads


def blas_threads() -> list[int]:
    """Thread counts of every BLAS library loaded (numpy's OpenBLAS among them)."""
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_torch_threads_sets_numpy_blas_threads_in_its_block() -> None:
    before, torch_before = blas_threads(), torch.get_num_threads()
    assert before  # numpy's BLAS is found (else nothing below would test anything)
    for n in (1, 2):  # two values: the block follows n, whatever the machine's default
        with torch_threads(n):
            assert blas_threads() == [n] * len(before) and torch.get_num_threads() == n
        assert blas_threads() == before and torch.get_num_threads() == torch_before
    with torch_threads(None):  # None leaves both alone
        assert blas_threads() == before
    with pytest.raises(ValueError, match="num_threads"):
        with torch_threads(0):
            pass


def test_the_cli_threads_option_limits_numpy_blas_for_the_process(monkeypatch) -> None:
    before, torch_before = blas_threads(), torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # restored after the test
    try:
        for n in (2, 1):
            assert _threads(n) == n
            assert blas_threads() == [n] * len(before) and torch.get_num_threads() == n
    finally:
        limit_blas_threads(max(before))
        torch.set_num_threads(torch_before)
    assert _threads(None) is None
