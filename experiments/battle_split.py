"""Where MF-Diffuser loses at Battle-medium N = 10^4 (the missed "Battle >= BC" cell), measured
by handing parts of the population to another policy (markdown on stdout):

* ``split``: the grid's checkpoints (training seeds given) play with the agents that have an
  enemy in attack range driven by BC (or by the constant attack), or those out of range driven
  by BC; then what the pure populations do (in range: action shares; out of range, by distance
  to the nearest enemy: steps along the longer / shorter offset, other moves, stay, attack).
* ``plan``: how far a plan moves its particles per step (x, y in cells of the training map;
  the env moves an agent 0 or 1 cell) at DDIM eta 1 (the config) and 0, and the score when the
  head reads the plan with its position displacement, or its whole displacement, set to zero.

    python experiments/battle_split.py split --seeds 3 0 1 2
    python experiments/battle_split.py plan --seeds 3 0 1 2
    python experiments/battle_split.py trace grid=runs/battle_deltas/medium-s0:head_temperature=0.6

* ``trace``: for any checkpoints (``LABEL=PATH[:key=value,...]``, acting overrides on top of
  the grid's), the score, the plans' per-step move and what the agents in range do.

Every policy acts with the grid's settings (experiments/make_sweep.py); episodes are seeded as
``mfdiff eval``'s, against the scripted expert, max_cycles 150. Part of
experiments/battle_split.sh (docs/results/battle_split.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from make_sweep import acting_overrides  # noqa: E402  (a script beside this one)

from mfdiff_agents.evaluation.exploitability import ConstantPolicy  # noqa: E402
from mfdiff_agents.evaluation.run import episode_seed, make_core, reference_scores  # noqa: E402
from mfdiff_agents.methods import load_policy  # noqa: E402
from mfdiff_envs.battle import ATTACK, OBS_NAMES  # noqa: E402
from mfdiff_envs.rollout import rollout  # noqa: E402

ENV = "mfdiff/Battle-v0"
CKPT = "runs/grid/ckpt/battle-n1000-medium"
IN_RANGE, DIST = OBS_NAMES.index("enemy_in_range"), OBS_NAMES.index("enemy_dist")
DX, DY = OBS_NAMES.index("enemy_dx"), OBS_NAMES.index("enemy_dy")
X, Y = OBS_NAMES.index("x"), OBS_NAMES.index("y")
#: Distance bands (cells) of the out-of-range action shares.
BANDS = (3, 10)
OUT_KINDS = ("longer offset", "shorter offset", "other move", "stay", "attack")


def grid_policy(algo: str, seed: int, **over):
    """The grid's ``algo`` checkpoint of training ``seed``, acting as in the grid."""
    return load_policy(f"{CKPT}/{algo}-s{seed}", device="cpu", num_threads=1,
                       **{**acting_overrides("battle", algo), **over})


class Split:
    """``base`` for every agent, ``other`` for the agents where ``who(obs)``; counts the actions
    of the agents in range, and of those out of range by distance band and kind."""

    def __init__(self, base, other, who, map_size: int) -> None:
        self.base, self.other, self.who, self.map_size = base, other, who, map_size
        self.in_range = np.zeros(6)
        self.out = np.zeros((len(BANDS) + 1, len(OUT_KINDS)))

    def reset(self, seed: int | None = None) -> None:
        self.base.reset(seed)
        if self.other is not None:
            self.other.reset(None if seed is None else seed + 1)

    def act_batch(self, obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        acts = self.base.act_batch(obs, mask)
        if self.other is not None:
            who = self.who(obs)
            acts = np.where(who, self.other.act_batch(obs, mask & who), acts)
        near = mask & (obs[:, IN_RANGE] > 0.5)
        self.in_range += np.bincount(acts[near], minlength=6)
        far = mask & ~near & ((obs[:, DX] != 0) | (obs[:, DY] != 0))  # an enemy is left
        dx, dy, a = obs[far, DX], obs[far, DY], acts[far]
        on_x = np.abs(dx) >= np.abs(dy)
        toward_x, toward_y = np.where(dx > 0, 4, 3), np.where(dy > 0, 2, 1)
        longer, shorter = np.where(on_x, toward_x, toward_y), np.where(on_x, toward_y, toward_x)
        kind = np.select([a == longer, a == shorter, a == 0, a == ATTACK], [0, 1, 3, 4], 2)
        band = np.digitize(obs[far, DIST] * self.map_size, BANDS)
        np.add.at(self.out, (band, kind), 1)
        return acts


MODES = {  # name: (base, other, who)
    "MF-Diffuser": ("mfdiffuser", None, None),
    "BC": ("bc", None, None),
    "MF-Diffuser, BC in range": ("mfdiffuser", "bc", "in"),
    "MF-Diffuser, BC out of range": ("mfdiffuser", "bc", "out"),
    "MF-Diffuser, attack in range": ("mfdiffuser", "attack", "in"),
    "BC, attack in range": ("bc", "attack", "in"),
}


def play(policy, core, seeds: int, ref: tuple[float, float]) -> float:
    """Mean normalised score of ``policy`` over evaluation seeds 0..seeds-1."""
    rets = [rollout(core, policy, seed=episode_seed(e, 0)).agent_returns.mean()
            for e in range(seeds)]
    return float(100 * (np.mean(rets) - ref[0]) / (ref[1] - ref[0]))


def split(train_seeds: list[int], n_agents: int, seeds: int) -> None:
    kw = {"n_agents": n_agents, "max_cycles": 150, "opponent": "expert"}
    core = make_core(ENV, kw)
    ref = reference_scores(ENV, kw)
    who = {"in": lambda o: o[:, IN_RANGE] > 0.5, "out": lambda o: o[:, IN_RANGE] < 0.5}
    scores: dict[str, list[float]] = {m: [] for m in MODES}
    traced: dict[str, Split] = {}
    for s in train_seeds:
        pols = {"mfdiffuser": grid_policy("mfdiffuser", s), "bc": grid_policy("bc", s),
                "attack": ConstantPolicy(obs_dim=core.obs_dim, n_actions=core.n_actions,
                                         action=ATTACK)}
        for mode, (base, other, side) in MODES.items():
            pol = Split(pols[base], pols[other] if other else None, who.get(side), core.map_size)
            scores[mode].append(play(pol, core, seeds, ref))
            if s == train_seeds[0]:
                traced[mode] = pol
    print(f"Normalised score at N = {n_agents} (both teams), medium data, the grid's checkpoints "
          f"of each training seed, mean over {seeds} evaluation seeds; the agents with an enemy "
          "in attack range (or those without) handed to BC of the same training seed or to the "
          "constant attack.\n")
    print("| population | " + " | ".join(f"seed {s}" for s in train_seeds) + " | mean |")
    print("|---|" + "---|" * (len(train_seeds) + 1))
    for mode, v in scores.items():
        print(f"| {mode} | " + " | ".join(f"{x:.1f}" for x in v) + f" | {np.mean(v):.1f} |")
    s0 = train_seeds[0]
    print(f"\nWhat the agents do (training seed {s0}, the same episodes): with an enemy in "
          "range, the share of each action; without, by distance to the nearest enemy, the share "
          "of steps along the longer and the shorter offset, other moves, stay and attack, and "
          "the agent-steps counted.\n")
    names = ["stay", "up", "down", "left", "right", "attack"]
    bands = [f"< {BANDS[0]}", f"{BANDS[0]}-{BANDS[1]}", f"> {BANDS[1]}"]
    print("| population | in range: " + " / ".join(names) + " | "
          + " | ".join(f"out of range, {b} cells: " + " / ".join(OUT_KINDS) + " (agent-steps)"
                       for b in bands) + " |")
    print("|---|---|" + "---|" * len(bands))
    for mode in ("MF-Diffuser", "BC", "MF-Diffuser, attack in range", "BC, attack in range"):
        t = traced[mode]
        cells = [" / ".join(f"{x:.3f}" for x in t.in_range / t.in_range.sum())]
        for row in t.out:
            cells.append(" / ".join(f"{x:.3f}" for x in row / max(row.sum(), 1))
                         + f" ({row.sum():.0f})")
        print(f"| {mode} | " + " | ".join(cells) + " |")


def record_plan_moves(mfd) -> list[np.ndarray]:
    """Wrap ``mfd.plan`` so that every plan appends its particles' per-step |move| in x and y
    (cells of the training map) to the returned list."""
    std = mfd.model.obs_std[[X, Y]]
    side = mfd.env.env_kwargs["map_size"] - 1  # cells per unit of x, y
    steps: list[np.ndarray] = []
    orig = mfd.plan

    def traced(obs, mask):
        p = orig(obs, mask)
        xy = mfd.model.decode_obs(p["x0"])[:, :, [X, Y]] * std  # [K, H, 2] raw x, y
        steps.append((xy[:, 1:] - xy[:, :-1]).abs().flatten().numpy() * side)
        return p

    mfd.plan = traced
    return steps


def plan(train_seeds: list[int], n_agents: int, seeds: int) -> None:
    kw = {"n_agents": n_agents, "max_cycles": 150, "opponent": "expert"}
    core = make_core(ENV, kw)
    ref = reference_scores(ENV, kw)
    rows: dict[str, list[str]] = {}
    for s in train_seeds:
        for eta in (1.0, 0.0):
            mfd = grid_policy("mfdiffuser", s, eta=eta)
            steps = record_plan_moves(mfd)
            score = play(mfd, core, seeds, ref)
            q = np.quantile(np.concatenate(steps), [0.1, 0.5, 0.9])
            rows.setdefault(f"eta {eta:g}", []).append(
                f"{q[0]:.1f} / {q[1]:.1f} / {q[2]:.1f} cells, score {score:.1f}")
        for label, feats in (("position displacement zeroed", [X, Y]),
                             ("whole displacement zeroed", list(range(core.obs_dim)))):
            mfd = grid_policy("mfdiffuser", s)

            def zeroed(obs, mask, orig=mfd.plan, feats=feats):
                p = orig(obs, mask)
                x0 = p["x0"].clone()
                x0[:, 1:, feats] = x0[:, :1, feats]  # every plan step at step 0's value
                return {**p, "x0": x0}

            mfd.plan = zeroed
            rows.setdefault(label, []).append(f"score {play(mfd, core, seeds, ref):.1f}")
    print(f"The planned particles' per-step move in x and y (cells of the training map, 10 / 50 "
          f"/ 90 % quantiles over every particle and plan step; the env moves an agent 0 or 1 "
          f"cell per step), and the normalised score, N = {n_agents}, medium data, the grid's "
          f"checkpoints, mean over {seeds} evaluation seeds; below, the score when every plan's "
          "displacement the head reads is set to zero in x, y or in every feature.\n")
    print("| plan | " + " | ".join(f"seed {s}" for s in train_seeds) + " |")
    print("|---|" + "---|" * len(train_seeds))
    for label, cells in rows.items():
        print(f"| {label} | " + " | ".join(cells) + " |")


def trace(runs: list[str], n_agents: int, seeds: int) -> None:
    """For each ``LABEL=CHECKPOINT[:key=value,...]`` (acting as in the grid, plus the
    overrides): the score, how far its plans move their particles per step (x, y, cells of the
    training map) and what the agents with an enemy in attack range do."""
    kw = {"n_agents": n_agents, "max_cycles": 150, "opponent": "expert"}
    core = make_core(ENV, kw)
    ref = reference_scores(ENV, kw)
    print(f"Per checkpoint, N = {n_agents} (both teams), mean over {seeds} evaluation seeds: the "
          "normalised score; the planned particles' per-step move in x and y (cells of the "
          "training map, 10 / 50 / 90 % quantiles; the env moves an agent 0 or 1 cell); the "
          "share of each action of the agents with an enemy in attack range; of the agents out "
          f"of range within {BANDS[0]} cells of an enemy, the share of steps along the longer "
          "and the shorter offset.\n")
    print(f"| run | score | plan move (cells) | in range: attack | step | stay | "
          f"< {BANDS[0]} cells: longer | shorter |")
    print("|---|---|---|---|---|---|---|---|")
    for run in runs:
        label, _, spec = run.partition("=")
        path, _, extra = spec.partition(":")
        over = {k: json.loads(v) for k, v in (kv.split("=") for kv in extra.split(",") if kv)}
        method = json.loads((Path(path) / "config.json").read_text())["method"]
        mfd = load_policy(path, device="cpu", num_threads=1,
                          **{**acting_overrides("battle", method), **over})
        # the other methods make no plan
        steps = record_plan_moves(mfd) if method == "mfdiffuser" else []
        pol = Split(mfd, None, None, core.map_size)
        score = play(pol, core, seeds, ref)
        moves = "–"
        if steps:
            q = np.quantile(np.concatenate(steps), [0.1, 0.5, 0.9])
            moves = f"{q[0]:.1f} / {q[1]:.1f} / {q[2]:.1f}"
        share = pol.in_range / pol.in_range.sum()
        near = pol.out[0] / pol.out[0].sum()
        print(f"| {label} | {score:.1f} | {moves} | "
              f"{share[ATTACK]:.3f} | {share[1:5].sum():.3f} | {share[0]:.3f} | "
              f"{near[0]:.3f} | {near[1]:.3f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("split", "plan", "trace"))
    ap.add_argument("train_seeds", nargs="+",
                    help="the grid's training seeds (split, plan) or LABEL=CHECKPOINT[:k=v,...] "
                         "(trace)")
    ap.add_argument("--n-agents", type=int, default=10000, help="N, both teams (default 10^4)")
    ap.add_argument("--seeds", type=int, default=3, help="evaluation seeds 0..n-1 (default 3)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.what == "trace":
        trace(args.train_seeds, args.n_agents, args.seeds)
    else:
        fn = split if args.what == "split" else plan
        fn([int(s) for s in args.train_seeds], args.n_agents, args.seeds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
