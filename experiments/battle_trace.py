"""What Battle agents do: per policy, the share of alive agents with an enemy in attack range
that attack / step / stay, the attack share out of range, and, out of range with the nearest
enemy off both axes, the share of moves along the longer offset (the scripted expert picks the
axis in proportion to the offsets), and the share of moves that a full cell blocked (markdown on
stdout). The evidence behind the Battle config's head_beta and decoding (docs/method.md (14),
docs/results/battle_decode.md).

    python experiments/battle_trace.py --n-agents 100 --seeds 3 \\
        expert medium runs/grid/ckpt/battle-n1000-medium/mfq-s0 runs/battle_head/medium-hb0-hn0 \\
        runs/battle_head/medium-hb0-hn0:head_decode=sample,head_temperature=0.5

Checkpoints act with the grid's Battle settings (configs/mfdiffuser/battle.json's planning
fields, as experiments/make_sweep.py spells them) and the decoding before the twenty-ninth
update (``make_sweep.DECODE_BEFORE``, T 0.3 / min-p 0.1, what the tables of this script were
measured with; the config's since: ``:head_temperature=0.4,head_min_p=0.05``), changed by the
``:KEY=VALUE,...`` after a checkpoint; episodes are seeded like `mfdiff eval`'s. ``--phases``:
the same by phase of the episode; ``--deviators DEVIATION``: what the exploitability
measure's deviators get; ``--by-start``: per-agent return, kills and first step in range by the
agent's starting distance to the enemy; ``--lockstep``: the score beside how a team moves (the
share of its moves blocked, stepping toward the nearest enemy, on the team's most chosen direction
of the step), attacks, contact and each team's share alive at the end — what colder sampling does
(seventy-fifth update of docs/results/README.md):

    python experiments/battle_trace.py --lockstep --n-agents 100 1000 10000 --seeds 4 \
        --out docs/results/battle_blocked_moves.md \
        runs/grid/ckpt/battle-n1000-medium/bc-s0:temperature=0 …

``--out FILE``: the table also into FILE, under the command that regenerates it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shlex
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from make_sweep import ACTING, one_plan  # noqa: E402  (a script beside this one)

from mfdiff_agents.baselines.scripted import make_scripted  # noqa: E402
from mfdiff_agents.evaluation.exploitability import Deviation, draw_deviators  # noqa: E402
from mfdiff_agents.evaluation.run import episode_seed, make_core, reference_scores  # noqa: E402
from mfdiff_agents.methods import SCRIPTED_NAMES, load_policy, policy_label  # noqa: E402
from mfdiff_envs.battle import ATTACK, MOVES, OBS_NAMES  # noqa: E402
from mfdiff_envs.rollout import rollout  # noqa: E402
from mfdiff_envs.scoring import normalized_score  # noqa: E402

IN_RANGE = OBS_NAMES.index("enemy_in_range")
DX, DY = OBS_NAMES.index("enemy_dx"), OBS_NAMES.index("enemy_dy")
X, Y = OBS_NAMES.index("x"), OBS_NAMES.index("y")
DIST = OBS_NAMES.index("enemy_dist")


def parse_spec(spec: str) -> tuple[str, dict]:
    """``PATH[:KEY=VALUE,...]`` -> (PATH, overrides); values are JSON where they parse."""
    path, _, tail = spec.partition(":")
    over = {}
    for kv in filter(None, tail.split(",")):
        key, eq, value = kv.partition("=")
        if not eq:
            raise SystemExit(f"bad override {kv!r} in {spec!r}: expected KEY=VALUE")
        try:
            over[key] = json.loads(value)
        except json.JSONDecodeError:
            over[key] = value
    return path, over


def policy_factory(spec: str, family: str, pinned: dict | None = None):
    """``(core, seed) -> policy`` for ``PATH[:KEY=VALUE,...]``: a scripted name, or a checkpoint
    acting with the grid's settings for ``family`` (MF-Diffuser: its acting defaults and the
    family config's planning fields, then ``pinned``) changed by the spec's overrides."""
    path, over = parse_spec(spec)
    if path in SCRIPTED_NAMES and not over:
        return load_policy(path)
    settings = ({**ACTING, **one_plan(family), **(pinned or {})}
                if policy_label(path) == "mfdiffuser" else {})
    pol = load_policy(path, device="cpu", num_threads=1, **{**settings, **over})
    return lambda core, seed: pol


def trace(spec: str, n_agents: int, seeds: int) -> dict[str, float]:
    """Action shares of ``spec`` over ``seeds`` episodes (opponent: the scripted expert)."""
    core = make_core("mfdiff/Battle-v0", {"n_agents": n_agents, "max_cycles": 150,
                                          "opponent": "expert"})
    factory = policy_factory(spec, "battle")
    # in range: attack, step, stay; out of range: attack, all; off both axes: longer axis, moves;
    # moves of agents alive at the next step: blocked, all
    counts = np.zeros(9)
    wins = []
    for seed in range(seeds):
        ep = rollout(core, factory(core, seed), seed=episode_seed(seed, 0), record=True).episode
        obs, act = ep["observations"][:-1], ep["actions"]  # [T, N, d], [T, N]
        alive = ep["infos"]["alive"][:-1]
        step = (act >= 1) & (act <= 4)
        nxt = ep["observations"][1:]
        stayed = (nxt[..., X] == obs[..., X]) & (nxt[..., Y] == obs[..., Y])
        moves = alive & ep["infos"]["alive"][1:] & step
        near = alive & (obs[..., IN_RANGE] > 0.5)
        far = alive & ~near
        adx, ady = np.abs(obs[..., DX]), np.abs(obs[..., DY])
        diag = far & step & (adx > 0) & (ady > 0) & (adx != ady)
        along_x = (act == 3) | (act == 4)
        counts += [(near & (act == ATTACK)).sum(), (near & step).sum(), (near & (act == 0)).sum(),
                   (far & (act == ATTACK)).sum(), far.sum(),
                   (diag & (along_x == (adx > ady))).sum(), diag.sum(),
                   (moves & stayed).sum(), moves.sum()]
        wins.append(core.metrics()["win"])
    n_near = max(counts[:3].sum(), 1)
    return {"attack": counts[0] / n_near, "step": counts[1] / n_near, "stay": counts[2] / n_near,
            "attack_far": counts[3] / max(counts[4], 1),
            "longer_axis": counts[5] / max(counts[6], 1), "blocked": counts[7] / max(counts[8], 1),
            "win": float(np.mean(wins))}


#: --lockstep's columns: per step over the red team's live agents, then over steps and episodes
LOCKSTEP = ("move", "blocked", "toward", "modal", "attack", "in_range")


def _step_share(num: np.ndarray, den: np.ndarray) -> float:
    """Mean over an episode's steps of num / den per step ([T] counts, or [T, N] masks summed
    over agents), over the steps where den > 0; NaN if none."""
    num, den = (num.sum(1) if num.ndim > 1 else num), (den.sum(1) if den.ndim > 1 else den)
    ok = den > 0
    return float(np.mean(num[ok] / den[ok])) if ok.any() else np.nan


def trace_lockstep(spec: str, n_agents: int, seeds: int) -> dict[str, float]:
    """Score and the step shares of :data:`LOCKSTEP` (mean over each episode's steps, then over
    ``seeds`` episodes seeded as `mfdiff eval` seeds them) with each team's share alive at the
    end, against the scripted expert. ``move``: live agents choosing a move; ``blocked``: moves
    of agents alive at the next step that left them in place (Battle's moves do not chain: a
    cell taken before the step stays taken); ``toward``: moves stepping toward the nearest
    enemy (by the observation's direction); ``modal``: moves on the direction most of the team's
    movers chose that step (lockstep); ``attack``: live agents attacking; ``in_range``: live
    agents with an enemy in attack range."""
    kwargs = {"n_agents": n_agents, "max_cycles": 150, "opponent": "expert"}
    core = make_core("mfdiff/Battle-v0", kwargs)
    lo, hi = reference_scores("mfdiff/Battle-v0", kwargs)
    factory = policy_factory(spec, "battle")
    per: dict[str, list[float]] = {k: [] for k in (*LOCKSTEP, "score", "red", "blue")}
    for seed in range(seeds):
        res = rollout(core, factory(core, seed), seed=episode_seed(seed, 0), record=True)
        ep = res.episode
        obs, act = ep["observations"][:-1], ep["actions"]  # [T, N, d], [T, N]
        live = ep["infos"]["alive"][:-1]
        step = live & (act >= 1) & (act <= 4)
        nxt = ep["observations"][1:]
        stayed = (nxt[..., X] == obs[..., X]) & (nxt[..., Y] == obs[..., Y])
        moves = step & ep["infos"]["alive"][1:]
        ahead = (MOVES[act] * obs[..., [DX, DY]]).sum(-1) > 0
        # per step [T]: the direction most of the team's movers chose, as a share of them
        modal = np.stack([(step & (act == a)).sum(1) for a in range(1, 5)]).max(0)

        per["move"].append(_step_share(step, live))
        per["blocked"].append(_step_share(moves & stayed, moves))
        per["toward"].append(_step_share(step & ahead, step))
        per["modal"].append(_step_share(modal, step.sum(1)))
        per["attack"].append(_step_share(live & (act == ATTACK), live))
        per["in_range"].append(_step_share(live & (obs[..., IN_RANGE] > 0.5), live))
        per["score"].append(float(normalized_score(res.total_return, lo, hi)))
        per["red"].append(res.metrics_final["red_alive"])
        per["blue"].append(res.metrics_final["blue_alive"])
    # a share no episode had a step for (e.g. moves of a team that never moves) is NaN
    return {k: float(np.nanmean(v)) if not np.isnan(v).all() else np.nan
            for k, v in per.items()}


#: Phases of an episode for --phases: [start, end) steps.
PHASES = ((0, 30), (30, 90), (90, 150))


def trace_phases(spec: str, n_agents: int, seeds: int) -> list[tuple[float, float]]:
    """Per phase of :data:`PHASES`: (mean number of agents with an enemy in range, the share
    of them that attack), over ``seeds`` episodes against the scripted expert."""
    core = make_core("mfdiff/Battle-v0", {"n_agents": n_agents, "max_cycles": 150,
                                          "opponent": "expert"})
    factory = policy_factory(spec, "battle")
    near_n, attack_n, steps_n = (np.zeros(len(PHASES)) for _ in range(3))
    for seed in range(seeds):
        ep = rollout(core, factory(core, seed), seed=episode_seed(seed, 0), record=True).episode
        obs, act = ep["observations"][:-1], ep["actions"]  # an episode can end before 150
        near = ep["infos"]["alive"][:-1] & (obs[..., IN_RANGE] > 0.5)  # [T, N]
        for i, (lo, hi) in enumerate(PHASES):
            near_n[i] += near[lo:hi].sum()
            attack_n[i] += (near[lo:hi] & (act[lo:hi] == ATTACK)).sum()
            steps_n[i] += max(min(hi, len(act)) - lo, 0)
    return [(near_n[i] / max(steps_n[i], 1), attack_n[i] / near_n[i] if near_n[i] else np.nan)
            for i in range(len(PHASES))]


def trace_deviators(spec: str, n_agents: int, seeds: int,
                    deviation: str = "expert") -> dict[str, float]:
    """What the exploitability measure's deviators do (``--deviators``): the agents drawn as
    mfdiff_agents/evaluation/exploitability.py draws them, on the same episode seeds, once
    following ``spec`` and once playing the scripted ``deviation``; per agent, means over
    ``seeds`` episodes — return, kills (a step's reward ≥ 4: a kill is worth 5), the first
    step with an enemy in range (the episode's length if never), and the same for the agents
    that did not deviate."""
    core = make_core("mfdiff/Battle-v0", {"n_agents": n_agents, "max_cycles": 150,
                                          "opponent": "expert"})
    factory = policy_factory(spec, "battle")
    acc: dict[str, list[float]] = {}
    for seed in range(seeds):
        s0 = episode_seed(seed, 0)  # the seed `mfdiff eval --exploitability` measures with
        pol = factory(core, s0)
        who = draw_deviators(core.n_agents, s0)
        dev = Deviation(pol, make_scripted(deviation, core, seed=s0), who)
        for tag, actor in (("follow", pol), ("deviate", dev)):
            ep = rollout(core, actor, seed=s0, record=True).episode
            rew = ep["infos"]["rewards"][1:]  # [T, N]
            near = ep["infos"]["alive"][:-1] & (ep["observations"][:-1, :, IN_RANGE] > 0.5)
            first = np.where(near.any(0), near.argmax(0), len(rew))  # [N]
            for name, sel in (("who", who), ("rest", ~who)):
                for key, v in (("return", rew[:, sel].sum(0).mean()),
                               ("kills", (rew[:, sel] >= 4).sum(0).mean()),
                               ("first_in_range", first[sel].mean())):
                    acc.setdefault(f"{tag} {name} {key}", []).append(float(v))
    return {k: float(np.mean(v)) for k, v in acc.items()}


#: Quantile bins of the agents' starting distance to the nearest enemy for --by-start.
START_BINS = 5


def trace_by_start(spec: str, n_agents: int, seeds: int) -> list[dict[str, float]]:
    """Per quantile bin of the starting distance to the nearest enemy (``START_BINS`` bins,
    nearest first, cut per episode; the same agents for every policy, as episodes are seeded
    alike): mean per-agent return, kills (a step's reward >= 4) and first step with an enemy in
    range, following ``spec`` against the scripted expert, over ``seeds`` episodes."""
    core = make_core("mfdiff/Battle-v0", {"n_agents": n_agents, "max_cycles": 150,
                                          "opponent": "expert"})
    factory = policy_factory(spec, "battle")
    acc = np.zeros((START_BINS, 4))  # return, kills, first in range, agents
    for seed in range(seeds):
        s0 = episode_seed(seed, 0)
        ep = rollout(core, factory(core, s0), seed=s0, record=True).episode
        rew = ep["infos"]["rewards"][1:]  # [T, N]
        obs0 = ep["observations"][0]  # [N, d]
        dist = obs0[:, DIST]  # [N]: distance to the nearest enemy block's centre / map size
        near = ep["infos"]["alive"][:-1] & (ep["observations"][:-1, :, IN_RANGE] > 0.5)
        first = np.where(near.any(0), near.argmax(0), len(rew))  # [N]
        # rank-based bins: ties in distance are split by index, so every bin has N / bins agents
        rank = np.argsort(np.argsort(dist, kind="stable"), kind="stable")
        b = rank * START_BINS // len(dist)  # [N]
        for k, v in enumerate((rew.sum(0), (rew >= 4).sum(0), first, np.ones(len(dist)))):
            acc[:, k] += np.bincount(b, weights=v, minlength=START_BINS)
    n = acc[:, 3]
    return [{"return": acc[i, 0] / n[i], "kills": acc[i, 1] / n[i],
             "first_in_range": acc[i, 2] / n[i]} for i in range(START_BINS)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("policies", nargs="+", help="checkpoint directories or scripted names")
    ap.add_argument("--n-agents", type=int, nargs="+", default=[100],
                    help="N, both teams (default 100); several with --lockstep only")
    ap.add_argument("--seeds", type=int, default=3, help="episodes, seeds 0..n-1 (default 3)")
    ap.add_argument("--phases", action="store_true",
                    help="per phase of the episode (steps 0-29, 30-89, 90-149): agents with an "
                         "enemy in range per step and the share of them that attack")
    ap.add_argument("--deviators", metavar="DEVIATION",
                    help="what the exploitability measure's deviators (1 %% of the agents) get "
                         "following each policy and playing the scripted DEVIATION instead "
                         "(e.g. expert)")
    ap.add_argument("--by-start", action="store_true",
                    help=f"per-agent return, kills and first step in range by quantile of the "
                         f"starting distance to the nearest enemy ({START_BINS} bins)")
    ap.add_argument("--lockstep", action="store_true",
                    help="the score beside moves blocked, toward the enemy and in lockstep, "
                         "attacks, contact and each team's share alive at the end, per N")
    ap.add_argument("--out", metavar="FILE",
                    help="also write the table to FILE under the command that regenerates it")
    args = ap.parse_args(argv)
    for n in args.n_agents:
        if n < 2 or n % 2:
            ap.error(f"--n-agents {n}: Battle's N is even (two teams), at least 2")
    if len(args.n_agents) > 1 and not args.lockstep:
        ap.error("several --n-agents go with --lockstep only")
    if args.seeds < 1:
        ap.error("--seeds is at least 1")
    if not args.out:
        return _tables(args)
    with contextlib.redirect_stdout(io.StringIO()) as buf:
        rc = _tables(args)
    command = shlex.join(["python", "experiments/battle_trace.py",
                          *(sys.argv[1:] if argv is None else argv)])
    with open(args.out, "w") as f:
        f.write(f"# {Path(args.out).stem}\n\nRegenerate with:\n\n```\n{command}\n```\n\n"
                + buf.getvalue())
    print(buf.getvalue(), end="")
    return rc


def _tables(args: argparse.Namespace) -> int:
    """Print the table ``args`` ask for (markdown)."""
    if args.lockstep:
        print(f"Battle (150 steps, against the scripted expert) played by each policy as red, "
              f"{args.seeds} episodes each (evaluation seeds 0.., seeded as `mfdiff eval` "
              "seeds them): the score (0 = uniform random, 100 = scripted expert), then shares "
              "of the red team's live agents a step, averaged over the episode's steps and then "
              "over episodes: choosing a move; of those moves, blocked (the agent stayed in "
              "place: its cell was taken before the step or claimed by another mover), stepping "
              "toward its nearest enemy, and on the direction most of the team's movers chose "
              "that step (lockstep); attacking; with an enemy in attack range. Last, each team's "
              "share alive at the end. Checkpoints act with the grid's Battle settings changed "
              "by the `:KEY=VALUE` after them (module docstring).\n")
        print("| policy | N | score | moves | blocked | toward the enemy | lockstep | attacks "
              "| enemy in range | red alive at the end | blue alive at the end |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for n in args.n_agents:
            for spec in args.policies:
                t = trace_lockstep(spec, n, args.seeds)
                print(f"| {spec} | {n} | {t['score']:.1f} | "
                      + " | ".join(f"{t[k]:.3f}" for k in (*LOCKSTEP, "red", "blue")) + " |",
                      flush=True)
        return 0
    args.n_agents = args.n_agents[0]
    if args.by_start:
        print(f"Per-agent return / kills / first step with an enemy in range, by quantile bin of "
              f"the agent's starting distance to the nearest enemy ({START_BINS} bins, nearest "
              f"first; the same agents for every policy), N = {args.n_agents}, {args.seeds} "
              "episodes each (evaluation seeds 0..), against the scripted expert.\n")
        print("| policy | " + " | ".join(f"bin {i + 1}" for i in range(START_BINS)) + " | all |")
        print("|---|" + "---|" * (START_BINS + 1))
        for spec in args.policies:
            rows = trace_by_start(spec, args.n_agents, args.seeds)
            cells = [f"{r['return']:.2f} / {r['kills']:.2f} / {r['first_in_range']:.0f}"
                     for r in rows]
            mean = {k: np.mean([r[k] for r in rows]) for k in rows[0]}
            cells.append(f"{mean['return']:.2f} / {mean['kills']:.2f} / "
                         f"{mean['first_in_range']:.0f}")
            print(f"| {spec} | " + " | ".join(cells) + " |")
        return 0
    if args.deviators:
        d = args.deviators
        print(f"The exploitability measure's deviators (1 % of the agents, drawn as `mfdiff eval "
              f"--exploitability` draws them, on its episode seeds), N = {args.n_agents}, "
              f"{args.seeds} episodes each (evaluation seeds 0..), against the scripted expert: "
              f"following the policy, and playing '{d}' instead; per agent, mean over episodes "
              "(kills: steps with a reward >= 4; first in range: first step with an enemy in "
              "attack range, the episode's length if never). The deviators' gain here is the "
              "measure's own-baseline gain of that deviation.\n")
        cols = [("return", "follow who return"), (f"return, {d}", "deviate who return"),
                ("kills", "follow who kills"), (f"kills, {d}", "deviate who kills"),
                ("first in range", "follow who first_in_range"),
                (f"first in range, {d}", "deviate who first_in_range"),
                ("others: return", "follow rest return"),
                ("others: first in range", "follow rest first_in_range")]
        print("| policy | deviators: " + " | ".join(c for c, _ in cols[:6]) + " | "
              + " | ".join(c for c, _ in cols[6:]) + " |")
        print("|---|" + "---|" * len(cols))
        for spec in args.policies:
            t = trace_deviators(spec, args.n_agents, args.seeds, d)
            print(f"| {spec} | " + " | ".join(f"{t[k]:.2f}" for _, k in cols) + " |")
        return 0
    if args.phases:
        names = [f"steps {lo}-{hi - 1}" for lo, hi in PHASES]
        print(f"Agents with an enemy in range per step, and the share of them that attack, by "
              f"phase of the episode; N = {args.n_agents}, {args.seeds} episodes each "
              "(evaluation seeds 0..), against the scripted expert (max_cycles 150).\n")
        print("| policy | " + " | ".join(f"{n}: in range | {n}: attack" for n in names) + " |")
        print("|---|" + "---|---|" * len(names))
        for spec in args.policies:
            cells = [f"{near:.0f} | " + ("–" if np.isnan(att) else f"{att:.3f}")
                     for near, att in trace_phases(spec, args.n_agents, args.seeds)]
            print(f"| {spec} | " + " | ".join(cells) + " |")
        return 0
    print(f"Agents with an enemy in attack range, N = {args.n_agents}, {args.seeds} episodes "
          "each (evaluation seeds 0..), against the scripted expert: share of their actions.\n")
    print("| policy | attack | step | stay | attack, no enemy in range "
          "| no enemy in range: steps along the longer offset | moves blocked | win rate |")
    print("|---|---|---|---|---|---|---|---|")
    for spec in args.policies:
        t = trace(spec, args.n_agents, args.seeds)
        print(f"| {spec} | {t['attack']:.2f} | {t['step']:.2f} | {t['stay']:.2f} "
              f"| {t['attack_far']:.2f} | {t['longer_axis']:.2f} | {t['blocked']:.2f} "
              f"| {t['win']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
