"""What colder sampling does to a Battle team: how often its agents try to move and are blocked.

Battle's moves succeed only into cells that were free before the step and that one mover alone
claims (``BattleCore._step``: no chains, no swaps), so a packed team whose agents all choose the
same move stands still but for its front row. The hypothesis this measures (seventy-fifth update
of docs/results/README.md): a policy whose agents' samples grow alike — the action head at a low
temperature, BC at argmax — jams at N >= 10^3, where the teams start as wide blocks, and not at
N = 10^2, where they are a few agents deep. Per (policy, temperature, N): the episode's score
(normalised as ``mfdiff eval`` does), the share of the red team's live agents choosing a move, the
share of those moves blocked, the share attacking, and the share of attacks that hit, each
averaged over the episode's steps and then over evaluation seeds.

    python experiments/battle_blocked_moves.py --out docs/results/battle_blocked_moves.md \
        --policy MF-Diffuser=runs/battle_head_steps_own_plans/medium-s0:head_temperature \
        --policy BC=runs/grid/ckpt/battle-n1000-medium/bc-s0:temperature \
        --temperatures 0 0.2 0.3 0.4 --n-agents 100 1000 10000 --seeds 4

``LABEL=CHECKPOINT:FIELD``: FIELD is the acting setting the temperatures set (MF-Diffuser's
``head_temperature``, a baseline's ``temperature``); every other setting is the checkpoint's.
The checkpoints above: ``bash experiments/battle_own_plans.sh`` and ``python
experiments/grid_jobs.py battle --stage train --tiers medium --only bc-s0``. ~15 min on one core.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mfdiff_agents import load_policy
from mfdiff_agents.evaluation.run import make_core, reference_scores
from mfdiff_envs.battle import ATTACK, MOVES, OBS_NAMES
from mfdiff_envs.rollout import rollout
from mfdiff_envs.scoring import normalized_score

ENV = "mfdiff/Battle-v0"
ENV_KWARGS = {"max_cycles": 150, "opponent": "expert"}  # as the cell tables play


@dataclass
class Counter:
    """Wraps a policy; counts the red team's moves, blocked moves, attacks and hits a step."""

    policy: Any
    core: Any
    rows: dict[str, list[float]] = field(default_factory=dict)
    _pending: tuple[NDArray, ...] | None = None

    def reset(self, seed: int | None = None) -> None:
        self.policy.reset(seed)

    def act_batch(self, obs: NDArray[np.floating], mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        acts = np.asarray(self.policy.act_batch(obs, mask), dtype=np.int64)
        n = len(acts)  # the red team: the core's first n agents
        toward = obs[:, [OBS_NAMES.index("enemy_dx"), OBS_NAMES.index("enemy_dy")]]
        in_range = obs[:, OBS_NAMES.index("enemy_in_range")] > 0.5
        self._pending = (acts.copy(), mask.copy(), self.core.pos[:n].copy(), in_range, toward)
        return acts

    def after_step(self, _steps: int) -> None:
        if self._pending is None:  # rollout's closing call for the steps an early end skipped
            return
        acts, live, before, in_range, toward = self._pending
        self._pending = None
        moved = (self.core.pos[: len(acts)] != before).any(1)
        move = live & (acts >= 1) & (acts <= 4)
        attack = live & (acts == ATTACK)
        n_live = max(int(live.sum()), 1)
        self._add("move share", move.sum() / n_live)
        if move.any():
            self._add("blocked share of moves", (move & ~moved).sum() / move.sum())
            ahead = (MOVES[acts] * toward).sum(1) > 0  # the move's step against the direction
            self._add("moves toward the nearest enemy", (move & ahead).sum() / move.sum())
            # lockstep: how many movers chose the team's most chosen direction this step
            self._add("moves on the team's modal direction",
                      np.bincount(acts[move], minlength=5).max() / move.sum())
        self._add("attack share", attack.sum() / n_live)
        self._add("agents with an enemy in range", (live & in_range).sum() / n_live)

    def _add(self, key: str, value: float) -> None:
        self.rows.setdefault(key, []).append(float(value))


COLUMNS = ("move share", "blocked share of moves", "moves toward the nearest enemy",
           "moves on the team's modal direction", "attack share",
           "agents with an enemy in range")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--policy", action="append", required=True, metavar="LABEL=CKPT:FIELD")
    ap.add_argument("--temperatures", type=float, nargs="+", required=True)
    ap.add_argument("--n-agents", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    specs = []
    for spec in args.policy:
        label, _, rest = spec.partition("=")
        ckpt, _, key = rest.rpartition(":")
        if not (label and ckpt and key):
            ap.error(f"--policy {spec!r}: LABEL=CHECKPOINT:FIELD")
        specs.append((label, ckpt, key))
    for n in args.n_agents:
        if n < 2 or n % 2:
            ap.error(f"--n-agents {n}: Battle's N is even (two teams), at least 2")
    if args.seeds < 1:
        ap.error("--seeds is at least 1")
    lines = [
        "# battle_blocked_moves\n", "Regenerate with:\n", "```",
        "python experiments/battle_blocked_moves.py " + shlex.join(sys.argv[1:] if argv is None
                                                                    else argv),
        "```\n",
        f"Battle ({ENV}, {ENV_KWARGS}), red played by each policy at each sampling temperature "
        f"(T 0: argmax), evaluation seeds 0-{args.seeds - 1}, one episode each; mean over "
        "seeds of each episode's mean over steps, score normalised as `mfdiff eval` does (0 = "
        "uniform random, 100 = scripted expert). A move is blocked when the agent chose one "
        "and did not move (its cell taken before the step, or claimed by another mover).\n",
        "| policy | N | T | score | " + " | ".join(COLUMNS) + " |",
        "|---|---|---|---|" + "---|" * len(COLUMNS),
    ]
    for n in args.n_agents:
        kwargs = {**ENV_KWARGS, "n_agents": n}
        lo, hi = reference_scores(ENV, kwargs)
        for label, ckpt, key in specs:
            for t in args.temperatures:
                scores, cols = [], {c: [] for c in COLUMNS}
                for seed in range(args.seeds):
                    core = make_core(ENV, kwargs)
                    counter = Counter(load_policy(ckpt, num_threads=1, **{key: t}), core)
                    res = rollout(core, counter, seed=seed, policy_seed=seed,
                                  on_step=counter.after_step)
                    scores.append(normalized_score(res.total_return, lo, hi))
                    for c in COLUMNS:
                        cols[c].append(np.mean(counter.rows.get(c, [np.nan])))
                cells = " | ".join(f"{np.nanmean(cols[c]):.3f}" for c in COLUMNS)
                lines.append(f"| {label} | {n} | {t:g} | {np.mean(scores):.1f} | {cells} |")
                print(lines[-1], flush=True)
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
