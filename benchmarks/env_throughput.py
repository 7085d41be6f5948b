"""Env throughput: agent-steps/s of each family's core and of its PettingZoo parallel dict view,
with magent2's batched ``battle_v4`` GridWorld as the reference engine, all in one run.

    python benchmarks/env_throughput.py --out docs/results/env_throughput.md

Uniformly random actions (pre-drawn for the core; built as a dict from the live agents for the
parallel view, as a user loop would). Battle runs with ``opponent=None`` so every agent on the
map is stepped by the caller. magent2 is measured per step as ``set_action`` (both teams),
``step``, ``get_reward``, ``clear_dead``, with and without ``get_observation`` (its 13x13x5
views, which an agent needs to act). At the largest N it also times each part of a Squeeze and
an Ising dict-view step (the caller's action dict included, as in the view's rate) to show where
the view's time goes and how much of it the PettingZoo contract alone costs.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import math
import os
import platform
import sys
import time
from collections.abc import Callable

import numpy as np

from mfdiff_envs import battle_v0, ising_v0, squeeze_v0

LONG = 10**9  # max_cycles: no truncation inside a measurement


def _time(step: Callable[[], int], budget_s: float, min_steps: int = 5) -> float:
    """Agent-steps per second of ``step`` (returns agents stepped) over ~``budget_s`` seconds."""
    step()  # warm-up
    n, steps, t0 = 0, 0, time.perf_counter()
    while steps < min_steps or time.perf_counter() - t0 < budget_s:
        n += step()
        steps += 1
    return n / (time.perf_counter() - t0)


def bench_core(core, budget_s: float) -> float:
    rng = np.random.default_rng(0)
    acts = rng.integers(0, core.n_actions, size=(64, core.n_agents))
    core.reset(seed=0)
    k = [0]

    def step() -> int:
        n = int(core.alive.sum())
        _, _, term, trunc, _ = core.step(acts[k[0] % 64])
        k[0] += 1
        if np.all(term | trunc):
            core.reset()
        return n

    return _time(step, budget_s)


def bench_parallel(env, budget_s: float) -> float:
    rng = np.random.default_rng(0)
    n_act = env.action_space(env.possible_agents[0]).n
    acts = rng.integers(0, n_act, size=(64, len(env.possible_agents))).tolist()
    env.reset(seed=0)
    k = [0]

    def step() -> int:
        if not env.agents:
            env.reset()
        row = acts[k[0] % 64]
        k[0] += 1
        n = len(env.agents)
        env.step(dict(zip(env.agents, row)))
        return n

    return _time(step, budget_s)


#: Parts of one dict-view step, in the order :func:`breakdown` times them.
PARTS = (
    "action dict (caller)",
    "dict -> action array",
    "core.step",
    "observations",
    "rewards",
    "terminations + truncations",
    "infos",
    "freeing the step's dicts",
)


def breakdown(env, budget_s: float) -> dict[str, float]:
    """ns per agent of each part of a dict-view step with every agent alive, timed part by part
    in one loop: the same calls as ``CoreParallelEnv.step`` (private helpers included), so the
    parts sum to about what :func:`bench_parallel` measures (a step's timers add ~1 %)."""
    rng = np.random.default_rng(0)
    acts = rng.integers(0, env.action_space(env.possible_agents[0]).n, size=(64, env.core.n_agents))
    rows = acts.tolist()
    env.reset(seed=0)
    names, n = env.agents, len(env.agents)
    tot = dict.fromkeys(PARTS, 0.0)
    steps, t_end = 0, time.perf_counter() + budget_s
    clock = time.perf_counter
    while steps < 5 or clock() < t_end:
        t = [clock()]
        act_dict = dict(zip(names, rows[steps % 64]))
        t.append(clock())
        arr = env._action_array(act_dict)
        t.append(clock())
        obs, rew, term, trunc, _ = env.core.step(arr)
        t.append(clock())
        observations = env._dict(obs)
        t.append(clock())
        rewards = env._dict(rew.tolist())
        t.append(clock())
        done = (env._live_false.copy(), env._live_false.copy())
        t.append(clock())
        infos = {a: {} for a in names}
        t.append(clock())
        del act_dict, observations, rewards, done, infos, obs
        t.append(clock())
        for part, a, b in zip(PARTS, t, t[1:]):
            tot[part] += b - a
        steps += 1
    return {part: v / (steps * n) * 1e9 for part, v in tot.items()}


def bench_magent(n_agents: int, budget_s: float, with_obs: bool) -> tuple[int, float]:
    """magent2 battle_v4 at the map size whose default layout holds about ``n_agents``."""
    from magent2.environments import battle_v4

    # battle_v4 puts 2 * int(0.2 * map_size)^2 agents on the map.
    map_size = max(12, round(math.sqrt(n_agents / 2) / 0.2))
    env = battle_v4.parallel_env(map_size=map_size, max_cycles=LONG)
    env.reset(seed=0)
    gw = env.unwrapped.env
    handles = gw.get_handles()
    rng = np.random.default_rng(0)
    total = sum(gw.get_num(h) for h in handles)

    def step() -> int:
        n = 0
        for h in handles:
            k = gw.get_num(h)
            n += k
            gw.set_action(h, rng.integers(0, 21, k).astype(np.int32))
        gw.step()
        for h in handles:
            gw.get_reward(h)
            if with_obs:
                gw.get_observation(h)
        gw.clear_dead()
        return n

    return total, _time(step, budget_s)


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000])
    ap.add_argument("--budget", type=float, default=0.6, help="seconds per measurement")
    ap.add_argument("--out", type=str, default=None, help="write the markdown table here")
    args = ap.parse_args(argv)

    has_magent = importlib.util.find_spec("magent2") is not None
    families: list[tuple[str, Callable[..., object]]] = [
        ("squeeze", lambda n: squeeze_v0.parallel_env(n_agents=n, max_cycles=LONG)),
        (
            "ising",
            lambda n: ising_v0.parallel_env(n_agents=round(math.sqrt(n)) ** 2, max_cycles=LONG),
        ),
        ("battle", lambda n: battle_v0.parallel_env(n_agents=n, opponent=None, max_cycles=LONG)),
    ]
    if has_magent:
        from mfdiff_envs import magent_battle_v0

        families.append(
            (
                "magent_battle (ours on magent2)",
                lambda n: magent_battle_v0.parallel_env(n_agents=n, opponent=None, max_cycles=LONG),
            )
        )
    res: dict[tuple[str, int], tuple[float, float]] = {}  # (env, size) -> (core, view)
    mag: dict[int, tuple[float, float]] = {}  # size -> (no obs, with obs)
    rows = [
        "| env | N | core agent-steps/s | parallel dict view agent-steps/s | core / view |",
        "|---|---|---|---|---|",
    ]
    for name, make in families:
        for n in args.sizes:
            env = make(n)
            core_rate = bench_core(env.core, args.budget)
            view_rate = bench_parallel(make(n), args.budget)
            res[name, n] = (core_rate, view_rate)
            rows.append(
                f"| {name} | {env.core.n_agents} | {core_rate:,.0f} | {view_rate:,.0f} | "
                f"{core_rate / view_rate:.1f} |"
            )
            print(rows[-1], flush=True)
    if has_magent:
        for n in args.sizes:
            total, rate = bench_magent(n, args.budget, with_obs=False)
            _, rate_obs = bench_magent(n, args.budget, with_obs=True)
            mag[n] = (rate, rate_obs)
            rows.append(
                f"| magent2 battle_v4 GridWorld (no obs / with obs) | {total} | "
                f"{rate:,.0f} / {rate_obs:,.0f} | – | – |"
            )
            print(rows[-1], flush=True)
    big = max(args.sizes)
    costs = {f: breakdown(make(big), args.budget) for f, make in families[:2]}
    parts = [
        f"| {part} | " + " | ".join(f"{costs[f][part]:,.0f}" for f in costs) + " |"
        for part in PARTS
    ]
    parts.append("| sum | " + " | ".join(f"{sum(c.values()):,.0f}" for c in costs.values()) + " |")
    # the PettingZoo contract itself: what any dict view must build, however it is written
    contract = [p for p in PARTS if p not in ("dict -> action array", "core.step")]
    floor = {f: sum(c[p] for p in contract) for f, c in costs.items()}
    checks = [
        f"- core >= 1e6 agent-steps/s at N = {big}: "
        + ", ".join(
            f"{f} {'met' if res[f, big][0] >= 1e6 else 'MISSED'}" for f in ("squeeze", "ising")
        ),
        "- Battle core >= magent2 at equal N (with obs / bare step): "
        + ", ".join(
            f"N={n} {'met' if res['battle', n][0] >= mag[n][1] else 'MISSED'} / "
            f"{'met' if res['battle', n][0] >= mag[n][0] else 'MISSED'}"
            for n in args.sizes
            if n in mag
        ),
        "- parallel dict view within 10x of the core: "
        + ", ".join(
            f"{f.split(' ')[0]} N={n} {'met' if c <= 10 * v else 'MISSED'}"
            for (f, n), (c, v) in res.items()
        ),
    ]
    cmd = "python " + " ".join(
        [os.path.relpath(sys.argv[0])] + (argv if argv is not None else sys.argv[1:])
    )
    text = "\n".join(
        [
            "# Environment throughput",
            "",
            f"Command: `{cmd}`  ",
            f"Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}  ",
            f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
            f"(shared with other jobs), Python {platform.python_version()}, numpy {np.__version__}",
            "",
            "Agent-steps per second with uniformly random actions (one process, one thread).",
            "Battle and magent_battle step both teams (`opponent=None`); "
            "Ising uses the nearest square N.",
            "",
            *rows,
            "",
            "Targets (from this run):",
            "",
            *checks,
            "",
            f"Where a dict-view step goes at N = {big} (ns per agent, every agent alive, timed",
            "part by part in one loop; the parts mirror `CoreParallelEnv.step`; `core.step` here",
            "runs between dict work, so it is slower than in the table above):",
            "",
            "| part | " + " | ".join(costs) + " |",
            "|---|" + "---|" * len(costs),
            *parts,
            "",
            "The caller's action dict, the four result dicts with their per-agent values (a row",
            "view, a float, an info dict) and freeing them are the PettingZoo contract itself: "
            + ", ".join(
                f"{f} {floor[f]:,.0f} ns per agent = {floor[f] * res[f, big][0] / 1e9:.1f}x "
                "its core in the table above"
                for f in costs
            )
            + ".",
            "",
        ]
    )
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(text)
    return text


if __name__ == "__main__":
    main()
