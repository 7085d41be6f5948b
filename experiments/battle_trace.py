"""What Battle agents do with an enemy in attack range: per policy, the share of alive agents
with an enemy in range that attack / step / stay, and the attack share out of range (markdown on
stdout). The evidence behind the Battle config's head_beta (docs/method.md (14)).

    python experiments/battle_trace.py --n-agents 100 --seeds 3 \\
        expert medium runs/grid/ckpt/battle-n1000-medium/mfq-s0 runs/battle_head/medium-hb0-hn0

Checkpoints act with the grid's Battle settings (configs/mfdiffuser/battle.json's planning
fields, as experiments/make_sweep.py spells them); episodes are seeded like `mfdiff eval`'s.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from make_sweep import ACTING, family_planning  # noqa: E402  (a script beside this one)

from mfdiff_agents.evaluation.run import episode_seed, make_core  # noqa: E402
from mfdiff_agents.methods import SCRIPTED_NAMES, load_policy, policy_label  # noqa: E402
from mfdiff_envs.battle import ATTACK, OBS_NAMES  # noqa: E402
from mfdiff_envs.rollout import rollout  # noqa: E402

IN_RANGE = OBS_NAMES.index("enemy_in_range")


def trace(spec: str, n_agents: int, seeds: int) -> dict[str, float]:
    """Action shares of ``spec`` over ``seeds`` episodes (opponent: the scripted expert)."""
    core = make_core("mfdiff/Battle-v0", {"n_agents": n_agents, "max_cycles": 150,
                                          "opponent": "expert"})
    if spec in SCRIPTED_NAMES:
        factory = load_policy(spec)
    else:
        settings = ({**ACTING, **family_planning("battle")}
                    if policy_label(spec) == "mfdiffuser" else {})
        pol = load_policy(spec, device="cpu", num_threads=1, **settings)
        factory = lambda core, seed: pol  # noqa: E731
    counts = np.zeros(5)  # in range: attack, step, stay; out of range: attack, all
    wins = []
    for seed in range(seeds):
        ep = rollout(core, factory(core, seed), seed=episode_seed(seed, 0), record=True).episode
        obs, act = ep["observations"][:-1], ep["actions"]  # [T, N, d], [T, N]
        alive = ep["infos"]["alive"][:-1]
        near = alive & (obs[..., IN_RANGE] > 0.5)
        far = alive & ~near
        counts += [(near & (act == ATTACK)).sum(), (near & (act >= 1) & (act <= 4)).sum(),
                   (near & (act == 0)).sum(), (far & (act == ATTACK)).sum(), far.sum()]
        wins.append(core.metrics()["win"])
    n_near = max(counts[:3].sum(), 1)
    return {"attack": counts[0] / n_near, "step": counts[1] / n_near, "stay": counts[2] / n_near,
            "attack_far": counts[3] / max(counts[4], 1), "win": float(np.mean(wins))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("policies", nargs="+", help="checkpoint directories or scripted names")
    ap.add_argument("--n-agents", type=int, default=100, help="N, both teams (default 100)")
    ap.add_argument("--seeds", type=int, default=3, help="episodes, seeds 0..n-1 (default 3)")
    args = ap.parse_args(argv)
    print(f"Agents with an enemy in attack range, N = {args.n_agents}, {args.seeds} episodes "
          "each (evaluation seeds 0..), against the scripted expert: share of their actions.\n")
    print("| policy | attack | step | stay | attack, no enemy in range | win rate |")
    print("|---|---|---|---|---|---|")
    for spec in args.policies:
        t = trace(spec, args.n_agents, args.seeds)
        print(f"| {spec} | {t['attack']:.2f} | {t['step']:.2f} | {t['stay']:.2f} "
              f"| {t['attack_far']:.2f} | {t['win']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
