"""Acting latency with glibc's malloc as it comes vs kept (``mfdiff_agents.allocator``).

    python benchmarks/allocator.py --policy DIR [--policy DIR ...] --n-agents 1024 [--pairs 3]

Runs ``mfdiff eval`` (one evaluation seed, one torch thread) on each checkpoint, in pairs: the
command as it is (the allocator tuned) and with ``MFDIFF_MALLOC=default`` (glibc's own), in
alternating order so that drift in the machine's speed falls on both. Per checkpoint: the
acting latency per env step (the record's ``latency_ms``) and the process's user and system
seconds (the children's rusage), median [min, max] over the pairs, the ratio per pair, and
whether both allocators gave the same episode (return and score equal to the last digit): the
setting changes where memory comes from, not what is computed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

MODES = ("tuned", "default")


def run_eval(policy: str, n_agents: int, env_kwargs: str | None, mode: str,
             tmp: Path) -> dict[str, float]:
    """One ``mfdiff eval`` process; its record's latency, return and score, its CPU seconds."""
    out = tmp / f"{mode}.jsonl"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "mfdiff", "eval", "--policy", policy, "--n-agents",
           str(n_agents), "--seeds", "1", "--threads", "1", "--no-progress", "--out", str(out)]
    if env_kwargs:
        cmd += ["--env-kwargs", env_kwargs]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("MFDIFF_MALLOC", None)
    if mode == "default":
        env["MFDIFF_MALLOC"] = "default"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    (rec,) = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    return {"latency_ms": rec["latency_ms"], "return": rec["return"],
            "score": rec["normalized_score"], "user_s": after.ru_utime - before.ru_utime,
            "sys_s": after.ru_stime - before.ru_stime}


def spread(xs: list[float], fmt: str = ".1f") -> str:
    return f"{statistics.median(xs):{fmt}} [{min(xs):{fmt}}, {max(xs):{fmt}}]"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--policy", action="append", required=True, help="checkpoint dir (repeat)")
    ap.add_argument("--n-agents", type=int, nargs="+", required=True,
                    help="N per policy (one value: the same for all)")
    ap.add_argument("--env-kwargs", default=None, help="JSON env kwargs for every eval")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--out", default=None, help="write the markdown table here")
    args = ap.parse_args(argv)
    ns = args.n_agents * len(args.policy) if len(args.n_agents) == 1 else args.n_agents
    if len(ns) != len(args.policy) or args.pairs < 1:
        ap.error("give one --n-agents value, or one per --policy; --pairs ≥ 1")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for policy, n in zip(args.policy, ns, strict=True):
            res: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
            for p in range(args.pairs):
                for mode in (MODES if p % 2 == 0 else MODES[::-1]):
                    res[mode].append(run_eval(policy, n, args.env_kwargs, mode, Path(tmp)))
                    print(policy, n, mode, res[mode][-1], file=sys.stderr, flush=True)
            same = all(t["return"] == d["return"] and t["score"] == d["score"]
                       for t, d in zip(res["tuned"], res["default"], strict=True))
            ratio = [t["latency_ms"] / d["latency_ms"]
                     for t, d in zip(res["tuned"], res["default"], strict=True)]
            for mode in MODES:
                r = res[mode]
                rows.append(f"| {policy} | {n:,} | {mode} | "
                            f"{spread([x['latency_ms'] for x in r])} | "
                            f"{spread([x['user_s'] for x in r])} | "
                            f"{spread([x['sys_s'] for x in r])} | "
                            + (f"{spread(ratio, '.2f')} | {'yes' if same else 'NO'} |"
                               if mode == "tuned" else "| |"))
    cmd = "python benchmarks/allocator.py " + " ".join(
        [f"--policy {p}" for p in args.policy] + ["--n-agents", *map(str, args.n_agents)]
        + ([f"--env-kwargs '{args.env_kwargs}'"] if args.env_kwargs else [])
        + [f"--pairs {args.pairs}"] + ([f"--out {args.out}"] if args.out else []))
    lines = [
        "# Acting latency: glibc's malloc kept (`mfdiff_agents.allocator`) vs as it comes", "",
        "Regenerate with:", "", "```", cmd, "```", "",
        f"`mfdiff eval`, one evaluation seed, one torch thread, {args.pairs} pairs in "
        "alternating order; each cell median [min, max] over the pairs; latency per env step "
        "from the record, CPU seconds of the whole process (the children's rusage); ratio: "
        "tuned / default latency per pair; same episode: return and score equal in every pair.",
        "",
        "| checkpoint | N | allocator | ms / step | user s | sys s | latency ratio | "
        "same episode |",
        "|---|---|---|---|---|---|---|---|", *rows,
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
