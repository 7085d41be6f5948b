"""``mfdiff env demo``: step every family with its expert and random policy and print a table."""

from __future__ import annotations

import importlib.util
import math

from mfdiff_envs.battle import BattleCore
from mfdiff_envs.core import VectorCore
from mfdiff_envs.ising import IsingCore
from mfdiff_envs.policies import make_behaviour_policy
from mfdiff_envs.rollout import rollout
from mfdiff_envs.squeeze import GaussianSqueezeCore

#: Family -> name of its metric reported by the demo.
DEMO_METRIC = {
    "squeeze": "optimum_gap",
    "ising": "order_parameter",
    "battle": "win",
    "magent_battle": "win",
}


def demo_cores(n_agents: int, max_cycles: int) -> list[VectorCore]:
    """One core per family at about ``n_agents`` agents (Ising rounds down to a square,
    Battle to an even total, with the scripted expert as opponent). MAgentBattle is included
    when magent2 is importable."""
    if n_agents < 9:  # Ising's smallest lattice is 3 x 3: said for the N given, not its square
        raise ValueError(f"the env demo plays every family at about N agents: give N >= 9 (the "
                         f"Ising lattice is at least 3 x 3), got {n_agents}")
    side = math.isqrt(n_agents)
    n_even = n_agents - n_agents % 2
    cores: list[VectorCore] = [
        GaussianSqueezeCore(n_agents, max_cycles=max_cycles),
        IsingCore(side * side, max_cycles=max_cycles),
        BattleCore(n_even, opponent="expert", max_cycles=max_cycles),
    ]
    if importlib.util.find_spec("magent2") is not None:
        from mfdiff_envs.magent_battle import MAgentBattleCore

        cores.append(MAgentBattleCore(n_even, opponent="expert", max_cycles=max_cycles))
    return cores


def demo_notes(n_agents: int, cores: list[VectorCore]) -> list[str]:
    """What the table's N means per family when it is not the requested ``n_agents``."""
    notes = []
    for core in cores:
        if isinstance(core, IsingCore) and core.n_agents != n_agents:
            notes.append(
                f"{core.family}: N = {core.n_agents}, the {core.side} x {core.side} lattice "
                f"(the largest square <= {n_agents}; Ising needs a square N)"
            )
        elif isinstance(core, BattleCore):
            notes.append(
                f"{core.family}: N = {core.n_agents} red agents played by the policy, "
                f"{core.n_total} on the map (blue: the scripted expert inside the env)"
            )
    if importlib.util.find_spec("magent2") is None:
        notes.append("magent_battle: skipped (magent2 missing: pip install 'magent2>=0.3.4')")
    return notes


def run_env_demo(n_agents: int, steps: int, seed: int) -> None:
    """Play one episode of at most ``steps`` steps of each family with its expert and its random
    behaviour policy (:func:`mfdiff_envs.rollout.rollout`) and print: family, N, policy, mean
    team reward per step, the family metric at the end, and agent-steps per second (core plus
    policy); then notes on N where a family could not use ``n_agents`` as given."""
    if steps <= 0:
        raise ValueError(f"steps must be > 0, got {steps}")
    cores = demo_cores(n_agents, steps)  # an N refused before the table's header is printed
    header = "| family | N | policy | mean team reward / step | metric | agent-steps/s |"
    print(header)
    print("|---|---|---|---|---|---|")
    for core in cores:
        for name, skill in (("expert", 1.0), ("random", 0.0)):
            # the policy on its own seed, as the reference scores are measured: one stream
            # shared with the env correlates them (Ising's initial spins are the random
            # policy's first draw)
            result = rollout(core, make_behaviour_policy(core, skill), seed=seed,
                             policy_seed=seed + 1)
            key = DEMO_METRIC[core.family]
            print(
                f"| {core.family} | {core.n_agents} | {name} | "
                f"{result.total_return / result.steps:.4f} | "
                f"{key}={result.metrics_final[key]:.3f} | "
                f"{result.steps * core.n_agents / result.wall_seconds:,.0f} |"
            )
    notes = demo_notes(n_agents, cores)
    if notes:
        print("\nNotes:")
        for note in notes:
            print(f"- {note}")
