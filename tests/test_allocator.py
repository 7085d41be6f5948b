"""mfdiff_agents.allocator: glibc keeps freed memory, so torch's temporaries stop page-faulting."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from mfdiff_agents.allocator import tune_cpu_allocator

GLIBC = sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")

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
    env = {k: v for k, v in os.environ.items() if k != "MFDIFF_MALLOC"}
    env["OMP_NUM_THREADS"] = "1"
    out = subprocess.run([sys.executable, "-c", FAULTS, kwargs], env=env, capture_output=True,
                         text=True, check=True, timeout=120)
    return int(out.stdout.strip()), out.stderr.strip()


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_tuned_allocator_reuses_freed_memory_where_mmapped_temporaries_fault_in_again():
    """Tuned, the freed temporaries' pages are reused: (almost) no page faults. The control sets
    the mmap threshold below the temporaries' size through the same call, so each one is mapped
    and unmapped and faults in anew (20 × 12 × 1024 pages): the settings reach malloc. (glibc's
    own adaptive settings land anywhere between: 0 to 161,920 faults over 8 runs here.)"""
    tuned, took = _faults("{}")
    control, took_control = _faults("{'mmap_threshold': 1048576}")
    assert (took, took_control) == ("True", "True")
    assert control > 200_000
    assert tuned < 5_000


def test_bad_values_are_refused_and_the_opt_out_is_honoured(monkeypatch):
    with pytest.raises(ValueError, match="non-negative C ints"):
        tune_cpu_allocator(trim_threshold=-1)
    with pytest.raises(ValueError, match="non-negative C ints"):
        tune_cpu_allocator(top_pad=2**31)
    with pytest.raises(ValueError, match="non-negative C ints"):
        tune_cpu_allocator(mmap_threshold=True)
    monkeypatch.setenv("MFDIFF_MALLOC", "default")
    assert tune_cpu_allocator() is False
    monkeypatch.delenv("MFDIFF_MALLOC")
    assert tune_cpu_allocator() is GLIBC


def test_every_mfdiff_command_tunes_the_allocator(monkeypatch, capsys, tmp_path):
    """The CLI calls it once per command, before the command runs (not for --help)."""
    import mfdiff.cli as cli
    import mfdiff_agents.allocator as allocator

    calls = []
    monkeypatch.setattr(allocator, "tune_cpu_allocator", lambda: calls.append(1) or True)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    assert cli.main(["data", "list"]) == 0
    assert calls == [1]
