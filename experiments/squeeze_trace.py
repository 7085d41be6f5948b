"""What a Squeeze population plays: per policy, the share of agents on level 3 per step (the
optimum puts 22.5 % there and the rest on level 2), the steps where almost nobody plays it, the
share of agents on neither level, and the mean level against the optimum's 2.2247 (markdown
on stdout). The evidence behind docs/method.md (16) and docs/results/squeeze_uniform.md.

    python experiments/squeeze_trace.py --seeds 2 expert \\
        runs/grid/ckpt/squeeze-n1000-medium/mfdiffuser-s0 \\
        runs/grid/ckpt/squeeze-n1000-medium/mfdiffuser-s0:head_remove_uniform=false,head_min_p=0.2

Checkpoints act with the grid's Squeeze settings (configs/mfdiffuser/squeeze.json's planning
fields, as experiments/make_sweep.py spells them), then ``--set KEY=VALUE`` (every checkpoint),
changed by the ``:KEY=VALUE,...`` after a checkpoint; episodes are seeded like `mfdiff eval`'s.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from battle_trace import parse_spec, policy_factory  # noqa: E402  (a script beside this one)

from mfdiff_agents.evaluation.run import episode_seed, make_core  # noqa: E402
from mfdiff_envs.rollout import rollout  # noqa: E402

#: a step where fewer than this share of the agents plays level 3 counts as "level 3 gone"
GONE = 0.01
#: the optimum's mean level, 1 + sqrt(1.5) (mfdiff_envs/squeeze.py, default mu and sigma)
OPT_LEVEL = 1 + np.sqrt(1.5)


def trace(spec: str, n_agents: int, seeds: int,
          pinned: dict | None = None) -> dict[str, float]:
    """Level shares of ``spec`` over ``seeds`` episodes of 25 steps (``pinned``: planning fields
    set on every MF-Diffuser checkpoint over the config's, under the spec's own)."""
    core = make_core("mfdiff/GaussianSqueeze-v0", {"n_agents": n_agents, "max_cycles": 25})
    factory = policy_factory(spec, "squeeze", pinned)
    l3, other, level, returns = [], [], [], []
    for seed in range(seeds):
        res = rollout(core, factory(core, seed), seed=episode_seed(seed, 0), record=True)
        act = res.episode["actions"]  # [T, N]
        l3 += list((act == 3).mean(-1))
        other += list(((act != 2) & (act != 3)).mean(-1))
        level += list(act.mean(-1))
        returns.append(res.total_return)
    l3 = np.asarray(l3)
    return {"l3": float(l3.mean()), "l3_min": float(l3.min()), "l3_max": float(l3.max()),
            "gone": float((l3 < GONE).mean()), "other": float(np.mean(other)),
            "level": float(np.mean(level)), "return": float(np.mean(returns)),
            # at large N the score is set by how far each step's mean level is from the
            # optimum (G is flat there: its loss is ~ 1.1 x the squared deviation, relative)
            "rms": float(np.sqrt(np.mean((np.asarray(level) - OPT_LEVEL) ** 2)))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("policies", nargs="+", help="checkpoint directories or scripted names")
    ap.add_argument("--n-agents", type=int, default=1000, help="N (default 1000)")
    ap.add_argument("--seeds", type=int, default=2, help="episodes, seeds 0..n-1 (default 2)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="planning field for every MF-Diffuser checkpoint, over the config's "
                         "(a spec's own :KEY=VALUE wins), e.g. replan_every=4")
    args = ap.parse_args(argv)
    pinned = parse_spec(":" + ",".join(args.set))[1]
    print(f"Gaussian Squeeze, N = {args.n_agents}, {args.seeds} episodes each (evaluation seeds "
          "0..): share of agents on level 3 per step (mean, min, max; the optimum: 0.225), "
          f"share of steps with under {GONE:.0%} on level 3, share of agents on neither level 2 "
          "nor 3, the mean level (the optimum: 2.2247) and the root mean square of each step's "
          "mean level less the optimum's.\n")
    print("| policy | level 3 | min | max | steps without level 3 | neither 2 nor 3 "
          "| mean level | RMS from 2.2247 | team return |")
    print("|---|---|---|---|---|---|---|---|---|")
    for spec in args.policies:
        t = trace(spec, args.n_agents, args.seeds, pinned)
        print(f"| {spec} | {t['l3']:.3f} | {t['l3_min']:.3f} | {t['l3_max']:.3f} "
              f"| {t['gone']:.2f} | {t['other']:.3f} | {t['level']:.3f} | {t['rms']:.4f} "
              f"| {t['return']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
