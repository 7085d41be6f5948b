"""Squeeze's exploitability ex post (what `mfdiff eval --exploitability` reports: each agent's
best level chosen knowing the others' levels of the step) beside the ex ante gain (the best level
chosen from what an agent can know: exploitability.squeeze_exante_gain), per policy and N.

An outside audit (seventy-third update) found the ex post gain of the scripted expert at N = 100
to be 6.6 where a deviation chosen from what it observes gains ~0: sampling noise in the level
sum read as an incentive. This table says how much of each row's published gap is that noise.

    python experiments/squeeze_exante.py expert medium random BC=runs/grid/ckpt/...-s0 \
        --n 1000 --seeds 3 --resamples 16 --out docs/results/squeeze_exante_gain.md

A POLICY is a scripted name (random, medium, expert) or LABEL=CHECKPOINT_DIR. Each policy plays
evaluation seed s's episode as `mfdiff eval` does (env and policy seed episode_seed(s, 0)), so the
ex post column equals the nash_gap_xN of that run's record.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np

from mfdiff_agents import load_policy
from mfdiff_agents.evaluation.exploitability import squeeze_exante_gain
from mfdiff_agents.evaluation.run import episode_seed
from mfdiff_agents.evaluation.stats import bootstrap_ci
from mfdiff_envs.squeeze import GaussianSqueezeCore

SCRIPTED = ("random", "medium", "expert")
COLUMNS = (("nash_gap_xN_seen", "ex post (mfdiff eval)"),
           ("nash_gap_xN_exante", "ex ante, held-out (from below)"),
           ("nash_gap_xN_exante_plugin", "ex ante, plug-in (from above)"))


def parse_policy(spec: str) -> tuple[str, str]:
    """(label, what load_policy takes) of a scripted name or LABEL=DIR."""
    if spec in SCRIPTED:
        return f"scripted {spec}", spec
    label, sep, path = spec.partition("=")
    if not sep or not label or not Path(path).is_dir():
        raise SystemExit(f"squeeze_exante.py: {spec!r} is neither one of {SCRIPTED} nor "
                         "LABEL=CHECKPOINT_DIR (an existing directory)")
    return label, path


def cell(x: list[float]) -> str:
    lo, hi = bootstrap_ci(x)
    return f"{np.mean(x):.2f} [{lo:.2f}, {hi:.2f}]"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("policies", nargs="+", help="random | medium | expert | LABEL=CHECKPOINT_DIR")
    ap.add_argument("--n", type=int, nargs="+", default=[1000], help="population sizes")
    ap.add_argument("--seeds", type=int, default=3, help="evaluation seeds 0..S-1")
    ap.add_argument("--resamples", type=int, default=16, help="draws of each step (>= 2)")
    ap.add_argument("--out", type=Path, default=None, help="markdown file (default: stdout)")
    args = ap.parse_args(argv)
    if args.seeds < 2 or args.resamples < 2 or min(args.n) < 1:
        raise SystemExit("squeeze_exante.py: --seeds and --resamples >= 2, --n >= 1")
    policies = [parse_policy(p) for p in args.policies]
    rows = []
    for label, spec in policies:
        for n in args.n:
            core = GaussianSqueezeCore(n)
            got: dict[str, list[float]] = {}
            for s in range(args.seeds):
                seed = episode_seed(s, 0)
                if spec in SCRIPTED:
                    pol = load_policy(spec)(core, seed)
                else:
                    pol = load_policy(spec, num_threads=1)
                    pol.check_env(core)  # a checkpoint of another family stops here
                out = squeeze_exante_gain(pol, core, seed, resamples=args.resamples)
                for k, v in out.items():
                    got.setdefault(k, []).append(float(v))
                print(f"{label} N={n} seed {s}: " + ", ".join(
                    f"{k}={out[k]:.3f}" for k, _ in COLUMNS), file=sys.stderr, flush=True)
            rows.append((label, n, got))
    cmd = "python experiments/squeeze_exante.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    lines = [
        "# squeeze_exante_gain", "", "Regenerate with:", "", "```", cmd, "```", "",
        f"Gaussian Squeeze, N × the per-agent gain of the best one-step level change (25 steps, "
        f"mean [95 % bootstrap CI] over evaluation seeds 0-{args.seeds - 1}; {args.resamples} "
        "draws of each step, the played one and the others from reseeded copies of the policy "
        "at the same state). Ex post: the level chosen knowing the others' levels of the step "
        "(what `mfdiff eval --exploitability` records as nash_gap_xN; an upper bound). Ex ante: "
        "chosen from the draws, without the step's own: held-out (chosen on half the draws, "
        "judged on the other half: a deviation an agent could play, an estimate from below) "
        "and plug-in (chosen and judged on all: from above). Spread: the share of agent-steps "
        "whose level differs between draws (0: a deterministic policy, ex ante = ex post). "
        "docs/results/README.md, seventy-third update.", "",
        "| policy | N | " + " | ".join(t for _, t in COLUMNS) + " | spread |",
        "|---|---|" + "---|" * (len(COLUMNS) + 1),
    ]
    for label, n, got in rows:
        lines.append(f"| {label} | {n} | " + " | ".join(cell(got[k]) for k, _ in COLUMNS)
                     + f" | {np.mean(got['resample_spread']):.2f} |")
    text = "\n".join(lines) + "\n"
    if args.out is None:
        print(text, end="")
    else:
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
