"""What Ising agents do: per policy, the share of agents that flip per step, the share of
*aligned* agents (own spin agrees with its neighbours' mean, so a flip can only lose reward)
that flip, the largest per-step flip share and the steps where more than 10 % flip at once
(markdown on stdout). The evidence behind docs/results/ising_plans.md. ``--phases`` adds the
share of *misaligned* agents (own spin against the neighbours' mean: a flip gains reward) that
flip, and the team return of the first 10 steps (the lattice ordering from its random start)
and of the rest (keeping it ordered against the thermal flips) (forty-seventh update).

    python experiments/ising_trace.py --seeds 2 expert \\
        runs/grid/ckpt/ising-n1024-medium/mfdiffuser-s0 \\
        runs/grid/ckpt/ising-n1024-medium/mfdiffuser-s1

Checkpoints act with the grid's Ising settings (configs/mfdiffuser/ising.json's planning fields,
as experiments/make_sweep.py spells them), changed by the ``:KEY=VALUE,...`` after a checkpoint;
episodes are seeded like `mfdiff eval`'s.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from battle_trace import policy_factory  # noqa: E402  (a script beside this one)

from mfdiff_agents.evaluation.run import episode_seed, make_core  # noqa: E402
from mfdiff_envs.rollout import rollout  # noqa: E402

#: a step where more than this share of the agents flips counts as a mass flip
MASS_FLIP = 0.10
#: ``--phases``: the steps counted as the ordering phase
EARLY = 10


def trace(spec: str, n_agents: int, seeds: int) -> dict[str, float]:
    """Flip statistics of ``spec`` over ``seeds`` episodes of 50 steps."""
    core = make_core("mfdiff/Ising-v0", {"n_agents": n_agents, "max_cycles": 50})
    factory = policy_factory(spec, "ising")
    flips, aligned_flips, aligned, per_step, returns = 0.0, 0.0, 0.0, [], []
    mis_flips, mis, early, late = 0.0, 0.0, [], []
    for seed in range(seeds):
        res = rollout(core, factory(core, seed), seed=episode_seed(seed, 0), record=True)
        obs, act = res.episode["observations"][:-1], res.episode["actions"]  # [T, N, d], [T, N]
        is_aligned = obs[..., 0] * obs[..., 1] > 0  # own spin vs neighbours' mean spin
        flips += act.sum()
        aligned_flips += (act * is_aligned).sum()
        aligned += is_aligned.sum()
        is_misaligned = obs[..., 0] * obs[..., 1] < 0  # a tie (neighbours' mean 0) is neither
        mis_flips += (act * is_misaligned).sum()
        mis += is_misaligned.sum()
        per_step += list(act.mean(-1))
        returns.append(res.total_return)
        team = res.episode["rewards"]  # [T]
        early.append(float(team[:EARLY].sum()))
        late.append(float(team[EARLY:].sum()))
    per_step = np.asarray(per_step)
    return {"flip": flips / per_step.size / n_agents, "aligned_flip": aligned_flips / aligned,
            "max_flip": float(per_step.max()), "mass": float((per_step > MASS_FLIP).mean()),
            "return": float(np.mean(returns)), "misaligned_flip": mis_flips / max(mis, 1.0),
            "early": float(np.mean(early)), "late": float(np.mean(late))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("policies", nargs="+", help="checkpoint directories or scripted names")
    ap.add_argument("--n-agents", type=int, default=1024, help="N, a square (default 1024)")
    ap.add_argument("--seeds", type=int, default=2, help="episodes, seeds 0..n-1 (default 2)")
    ap.add_argument("--phases", action="store_true",
                    help="also misaligned agents flipping and the return of the first "
                         f"{EARLY} steps / the rest")
    args = ap.parse_args(argv)
    print(f"Ising, N = {args.n_agents}, {args.seeds} episodes each (evaluation seeds 0..): "
          "share of agents flipping per step, of aligned agents (spin agrees with the "
          f"neighbours' mean) flipping, the largest per-step share, and the share of steps where "
          f"more than {MASS_FLIP:.0%} flip at once"
          + (f"; with --phases, of misaligned agents flipping and the team return of steps "
             f"1-{EARLY} and of the rest" if args.phases else "") + ".\n")
    extra = (" | misaligned agents flipping | return, first steps | return, rest"
             if args.phases else "")
    print("| policy | flips per step | aligned agents flipping | largest per-step share "
          f"| steps with a mass flip | team return{extra} |")
    print("|---|---|---|---|---|---|" + ("---|---|---|" if args.phases else ""))
    for spec in args.policies:
        t = trace(spec, args.n_agents, args.seeds)
        more = (f" | {t['misaligned_flip']:.3f} | {t['early']:.1f} | {t['late']:.1f}"
                if args.phases else "")
        print(f"| {spec} | {t['flip']:.3f} | {t['aligned_flip']:.3f} | {t['max_flip']:.3f} "
              f"| {t['mass']:.2f} | {t['return']:.1f}{more} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
