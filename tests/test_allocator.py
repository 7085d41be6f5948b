"""mfdiff_agents.allocator: glibc keeps freed memory, so torch's temporaries stop page-faulting."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

import mfdiff_agents.allocator as allocator
from mfdiff_agents.allocator import tune_cpu_allocator

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

# a chain of 4 MiB float temporaries, as a denoiser block at Ising's acting shapes makes
# ([4 plans × 512 particles, 64, 8]); prints the page faults of 20 repetitions after a warm-up.
# argv[1]: keyword arguments for tune_cpu_allocator, as a dict literal
FAULTS = textwrap.dedent("""
    import ast, resource, sys, torch
    from mfdiff_agents.allocator import tune_cpu_allocator
    print(tune_cpu_allocator(**ast.literal_eval(sys.argv[1])), file=sys.stderr)
    x = torch.randn(2048, 64, 8)
    def step():
        h = x
        for _ in range(6):
            h = torch.nn.functional.silu(h) + x
        return float(h.sum())
    step()
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        step()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
""")


def _faults(kwargs: str) -> tuple[int, str]:
    # the caller's malloc settings (GLIBC_TUNABLES, MALLOC_*_) would stand in for ours
    env = {k: v for k, v in os.environ.items()
           if k not in ("MFDIFF_MALLOC", "GLIBC_TUNABLES") and not k.startswith("MALLOC_")}
    env["OMP_NUM_THREADS"] = "1"
    out = subprocess.run([sys.executable, "-c", FAULTS, kwargs], env=env, capture_output=True,
                         text=True, check=True, timeout=120)
    return int(out.stdout.strip()), out.stderr.strip()


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_tuned_allocator_reuses_freed_memory_where_mmapped_temporaries_fault_in_again():
    """Tuned, the freed temporaries' pages are reused: (almost) no page faults. The control sets
    the mmap threshold below the temporaries' size through the same call, so each one is mapped
    and unmapped and faults in anew (20 × 12 temporaries: 246,000 faults with 4 KiB pages, half
    that where huge pages back them): the settings reach malloc. (glibc's own adaptive settings
    land anywhere from 0 to 161,920 faults over 8 runs here, so they cannot be the control.)"""
    tuned, took = _faults("{}")
    control, took_control = _faults("{'mmap_threshold': 1048576}")
    assert (took, took_control) == ("True", "True")
    assert control > 20_000
    assert control > 20 * max(tuned, 100)


class _FakeLibc:
    """Stands in for the C library: records mallopt calls, refuses the parameters in ``refuse``."""

    def __init__(self, glibc: bool = True, refuse: tuple[int, ...] = ()) -> None:
        self.calls: list[tuple[int, int]] = []
        if glibc:
            self.gnu_get_libc_version = lambda: b"2.39"

        def mallopt(param: int, value: int) -> int:
            self.calls.append((param, value))
            return 0 if param in refuse else 1

        self.mallopt = mallopt  # a function: the call sets its ctypes argtypes / restype


@pytest.mark.parametrize(("fake", "expect"), [
    (_FakeLibc(), True),
    (_FakeLibc(refuse=(allocator.M_MMAP_THRESHOLD,)), False),  # still sets the other two
    (_FakeLibc(glibc=False), False),  # musl: its mallopt is a no-op, not called
])
def test_the_call_sets_glibcs_three_parameters(monkeypatch, fake, expect):
    monkeypatch.delenv("MFDIFF_MALLOC", raising=False)
    monkeypatch.setattr(allocator.sys, "platform", "linux")
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: fake)
    assert tune_cpu_allocator() is expect
    if fake.calls or expect:
        assert fake.calls == [(allocator.M_MMAP_THRESHOLD, 32 << 20),
                              (allocator.M_TRIM_THRESHOLD, 128 << 20),
                              (allocator.M_TOP_PAD, 64 << 20)]


def test_bad_values_are_refused_and_the_opt_out_and_other_systems_do_nothing(monkeypatch):
    with pytest.raises(ValueError, match="non-negative C ints"):
        tune_cpu_allocator(trim_threshold=-1)
    with pytest.raises(ValueError, match="non-negative C ints"):
        tune_cpu_allocator(top_pad=2**31)
    with pytest.raises(ValueError, match="non-negative C ints"):
        tune_cpu_allocator(mmap_threshold=True)
    fake = _FakeLibc()
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: fake)
    monkeypatch.setenv("MFDIFF_MALLOC", "default")
    assert tune_cpu_allocator() is False
    monkeypatch.delenv("MFDIFF_MALLOC")
    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    assert tune_cpu_allocator() is False
    assert fake.calls == []


def test_the_torch_commands_tune_the_allocator_and_the_others_do_not(monkeypatch, tmp_path):
    """train / eval / demo call it once, before the command runs; data and env commands (numpy
    only, their big arrays above any mmap threshold) leave malloc alone."""
    import mfdiff.cli as cli

    calls = []
    monkeypatch.setattr(allocator, "tune_cpu_allocator", lambda: calls.append(1) or True)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    assert cli.main(["data", "list"]) == 0
    assert calls == []
    assert cli.main(["eval", "--policy", "random", "--env", "mfdiff/GaussianSqueeze-v0",
                     "--n-agents", "10", "--seeds", "1", "--no-progress"]) == 0
    assert calls == [1]
    assert set(cli.TORCH_COMMANDS) == {"train", "eval", "demo"}
