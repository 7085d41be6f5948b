"""Which part of a Battle episode depends on the CPU's float32 code path? One checkpoint's
episodes played under several instruction-set dispatches of the math libraries (MKL's sgemm,
ATen's vector kernels, oneDNN), each by a fresh ``mfdiff eval`` process, with the lifting the
config takes at that N (N = 10⁴: the Sinkhorn route) and with exact OT at every step
(``--set exact_ot_max_n=N``), beside N = 2000 (exact OT over distinct rows either way).

    OMP_NUM_THREADS=1 python experiments/cpu_dispatch.py \\
        runs/battle_head_steps_own_plans/mixed-s0 [--tier mixed] [--seeds 2] [--out FILE]

A dispatch that rounds float32 matmuls differently and leaves every score unchanged under
exact OT, while changing it on the Sinkhorn route, places the sensitivity in that route (its
rounding settles near-ties by float32's last bit). Why: docs/results/cpu_dispatch.md (the
sixtieth update of docs/results/README.md: the published Battle tables at N = 10⁴ were played on
an AMD EPYC VM and reproduce on this Intel Xeon VM within their CIs only).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

#: environment settings that change which float32 kernels run ("default": none)
DISPATCH = {
    "default": {},
    "MKL AVX2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "MKL, ATen, oneDNN AVX2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "avx2",
                               "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "MKL compatible": {"MKL_CBWR": "COMPATIBLE"},
}
ENV_KWARGS = '{"max_cycles": 150, "opponent": "expert"}'  # as the grid plays Battle


def dispatch_env(env: dict[str, str]) -> dict[str, str]:
    """This process's environment without any dispatch setting of its own (so "default" is
    the libraries' own choice), one thread, then ``env``."""
    keys = {k for v in DISPATCH.values() for k in v}
    return {**{k: v for k, v in os.environ.items() if k not in keys}, "OMP_NUM_THREADS": "1",
            **env}


def capability(env: dict[str, str]) -> str:
    """ATen's CPU capability and MKL's version line as a process with ``env`` sees them (MKL
    does not say which kernels it picked; ATen does)."""
    code = ("import torch; print(torch.backends.cpu.get_cpu_capability(), "
            "'MKL' if torch.backends.mkl.is_available() else 'no MKL')")
    r = subprocess.run([sys.executable, "-c", code], env=dispatch_env(env), capture_output=True,
                       text=True, check=True)
    return r.stdout.strip()


def play(policy: str, tier: str, n: int, seeds: int, env: dict[str, str],
         sets: list[str]) -> list[float]:
    """Normalised scores of evaluation seeds 0..seeds-1, one ``mfdiff eval`` process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "records.jsonl"
        cmd = [sys.executable, "-m", "mfdiff", "eval", "--policy", policy, "--env",
               "mfdiff/Battle-v0", "--n-agents", str(n), "--seeds", str(seeds), "--env-kwargs",
               ENV_KWARGS, "--tier", tier, "--threads", "1", "--no-progress", "--out", str(out)]
        for s in sets:
            cmd += ["--set", s]
        r = subprocess.run(cmd, env=dispatch_env(env), stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        if r.returncode:
            raise SystemExit(f"cpu_dispatch.py: {' '.join(cmd)} failed ({r.returncode}):\n"
                             + r.stderr[-2000:])
        recs = [json.loads(line) for line in out.read_text().splitlines()]
    return [r["normalized_score"] for r in sorted(recs, key=lambda r: r["seed"])]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("policy", help="a Battle MF-Diffuser checkpoint directory")
    ap.add_argument("--tier", default=None, choices=("medium", "mixed"),
                    help="its data tier (default: from the directory's name)")
    ap.add_argument("--seeds", type=int, default=2, help="evaluation seeds 0..n-1")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    name = Path(args.policy).name
    tier = args.tier or next((t for t in ("medium", "mixed") if t in name), None)
    if tier is None:
        ap.error("--tier: medium or mixed (not found in the checkpoint's path)")
    if args.seeds < 1:
        ap.error("--seeds must be ≥ 1")
    cases = [(10_000, "Sinkhorn (the config)", []),
             (10_000, "exact OT every step", ["exact_ot_max_n=10000"]),
             (2_000, "exact OT (the config)", [])]
    head = ("| N | lifting | seed | " + " | ".join(DISPATCH) + " | same under every dispatch |")
    lines = [f"Checkpoint `{args.policy}` ({tier} data), Battle as the grid plays it "
             f"(max_cycles 150, the scripted expert as the opponent); normalised score per "
             f"evaluation seed, one `mfdiff eval` process per cell; dispatch: "
             + "; ".join(f"{k}: {' '.join(f'{a}={b}' for a, b in v.items()) or 'as it comes'}"
                         f" (ATen: {capability(v)})" for k, v in DISPATCH.items()) + ".", "",
             head, "|" + "---|" * (head.count("|") - 1)]
    print("\n".join(lines), flush=True)
    for n, route, sets in cases:
        scores = {name: play(args.policy, tier, n, args.seeds, env, sets)
                  for name, env in DISPATCH.items()}
        for s in range(args.seeds):
            row = [scores[name][s] for name in DISPATCH]
            same = "yes" if len(set(row)) == 1 else "**no**"
            line = (f"| {n:,} | {route} | {s} | " + " | ".join(f"{x:.10f}" for x in row)
                    + f" | {same} |")
            lines.append(line)
            print(line, flush=True)
    if args.out:
        cmd = (f"OMP_NUM_THREADS=1 python experiments/cpu_dispatch.py {args.policy}"
               + (f" --tier {args.tier}" if args.tier else "")
               + (f" --seeds {args.seeds}" if args.seeds != 2 else ""))
        Path(args.out).write_text("Command:\n\n    " + cmd + "\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
