"""``mfdiff env demo``: step every family with its expert and random policy and print a table."""

from __future__ import annotations

import math
import time

import numpy as np

from mfdiff_envs.battle import BattleCore
from mfdiff_envs.core import VectorCore
from mfdiff_envs.ising import IsingCore
from mfdiff_envs.policies import make_behaviour_policy
from mfdiff_envs.squeeze import GaussianSqueezeCore

#: Family -> name of its metric reported by the demo.
DEMO_METRIC = {"squeeze": "optimum_gap", "ising": "order_parameter", "battle": "win"}


def demo_cores(n_agents: int) -> list[VectorCore]:
    """One core per family at about ``n_agents`` agents (Ising rounds down to a square,
    Battle to an even total, with the scripted expert as opponent)."""
    side = max(1, math.isqrt(n_agents))
    return [
        GaussianSqueezeCore(n_agents),
        IsingCore(side * side),
        BattleCore(max(2, n_agents - n_agents % 2), opponent="expert"),
    ]


def run_env_demo(n_agents: int, steps: int, seed: int) -> None:
    """Step each family with its expert and its random behaviour policy for ``steps`` steps
    (resetting when an episode ends) and print: family, N, policy, mean team reward per step,
    the family metric at the end, and agent-steps per second (core plus policy)."""
    if steps <= 0:
        raise ValueError(f"steps must be > 0, got {steps}")
    header = "| family | N | policy | mean team reward / step | metric | agent-steps/s |"
    print(header)
    print("|---|---|---|---|---|---|")
    for core in demo_cores(n_agents):
        for name, skill in (("expert", 1.0), ("random", 0.0)):
            policy = make_behaviour_policy(core, skill, seed=seed)
            obs, _ = core.reset(seed=seed)
            total, agent_steps = 0.0, 0
            t0 = time.perf_counter()
            for _ in range(steps):
                obs, rew, term, trunc, _ = core.step(policy(obs, core.alive))
                total += core.team_reward(rew)
                agent_steps += core.n_agents
                if bool(np.all(term | trunc)):
                    metrics = core.metrics()
                    obs, _ = core.reset()
                else:
                    metrics = core.metrics()
            dt = time.perf_counter() - t0
            key = DEMO_METRIC[core.family]
            print(
                f"| {core.family} | {core.n_agents} | {name} | {total / steps:.4f} | "
                f"{key}={metrics[key]:.3f} | {agent_steps / dt:,.0f} |"
            )
