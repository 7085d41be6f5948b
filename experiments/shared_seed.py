"""Does playing the env and the policy at one seed (what `mfdiff eval` does) shift a policy's
score? Per policy: the mean return with the policy reset at the episode's env seed (shared)
and at an unrelated seed (``seed + 10**6``: another numpy stream), and their paired difference
over evaluation seeds (markdown on stdout).

    python experiments/shared_seed.py --family ising --n-agents 100 --seeds 60 \\
        random medium expert runs/grid/ckpt/ising-n1024-medium/bc-s0 ...

The check behind the thirty-ninth update of docs/results/README.md: the random baseline's
stream once repeated the Ising core's initial-spin draw (fixed: ``RandomPolicy`` draws from a
stream of its own). Policies whose randomness comes from torch (MF-Diffuser's sampler) or who
draw none (greedy heads) cannot be correlated with the env's numpy stream and are left out.
"""

from __future__ import annotations

import argparse

import numpy as np

from mfdiff_agents.evaluation.run import episode_seed, make_core
from mfdiff_agents.evaluation.stats import bootstrap_ci
from mfdiff_agents.methods import load_policy
from mfdiff_envs.offline.catalogue import FAMILY_ENV
from mfdiff_envs.rollout import rollout

#: the grid's env kwargs per family (experiments/make_sweep.py's FAMILIES)
ENV_KWARGS = {"squeeze": {"max_cycles": 25}, "ising": {"max_cycles": 50},
              "battle": {"max_cycles": 150, "opponent": "expert"}}
OTHER_STREAM = 10**6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("policies", nargs="+", help="scripted names or checkpoint directories")
    ap.add_argument("--family", choices=sorted(ENV_KWARGS), default="ising")
    ap.add_argument("--n-agents", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=60, help="evaluation seeds 0..n-1")
    args = ap.parse_args(argv)
    env_id = FAMILY_ENV[args.family]
    core = make_core(env_id, {**ENV_KWARGS[args.family], "n_agents": args.n_agents})
    print(f"{env_id}, N = {args.n_agents}, {args.seeds} evaluation seeds (episode 0 of each); "
          "return with the policy at the env's seed (shared) and at seed + 10⁶ (own), mean "
          "[95 % bootstrap CI]; shared − own paired by seed.\n")
    print("| policy | shared | own | shared − own |")
    print("|---|---|---|---|")
    for spec in args.policies:
        made = load_policy(spec, device="cpu", num_threads=1) if not spec.isalpha() else None
        shared, own = [], []
        for s in range(args.seeds):
            pol = made if made is not None else load_policy(spec)(core, s)
            es = episode_seed(s, 0)
            shared.append(rollout(core, pol, seed=es).total_return)
            own.append(rollout(core, pol, seed=es, policy_seed=es + OTHER_STREAM).total_return)
        a, b = np.asarray(shared), np.asarray(own)

        def cell(x: np.ndarray) -> str:
            lo, hi = bootstrap_ci(x)
            return f"{x.mean():.3f} [{lo:.3f}, {hi:.3f}]"

        name = spec.rstrip("/").split("/")[-1]
        print(f"| {name} | {cell(a)} | {cell(b)} | {cell(a - b)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
