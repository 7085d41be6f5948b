# ruff: noqa: E501  (the docstring holds markdown tables, whose rows cannot wrap)
"""Scripted behaviour policies: shapes, seeding, expert > medium > random, Ising ordering.

Medium calibration (normalised score 100 (R - R_random) / (R_expert - R_random) of the episode
team return at N = 1000, default kwargs; measured 2026-11-27 with
``mfdiff_envs.policies.normalised_scores``; Ising at N = 1024, Battle vs the expert opponent):

| family | R_random | R_expert | skill -> score |
|---|---|---|---|
| squeeze (10 episodes) | 0.239 | 52.869 | 0.5 -> 25.1, 0.6 -> 41.6, **0.65 -> 50.8**, 0.7 -> 60.6 |
| ising (10 episodes) | -0.04 | 90.39 | 0.6 -> 32.9, 0.7 -> 46.3, **0.72 -> ~50**, 0.75 -> 53.7 |
| battle (6 episodes) | -1.689 | 5.088 | 0.5 -> 46.0, **0.55 -> ~51**, 0.6 -> 55.9 |

``test_medium_score_at_n1000`` (marked slow) re-measures the chosen skills.
"""

from __future__ import annotations

import numpy as np
import pytest

from mfdiff_envs.battle import BattleCore
from mfdiff_envs.ising import IsingCore
from mfdiff_envs.policies import (
    TIER_SKILL,
    episode_return,
    make_behaviour_policy,
    normalised_scores,
)
from mfdiff_envs.squeeze import GaussianSqueezeCore

CORES = {
    "squeeze": lambda n=300: GaussianSqueezeCore(n),
    "ising": lambda n=256: IsingCore(n),
    "battle": lambda n=200: BattleCore(n, opponent="expert"),
}


def _mean_return(core, skill: float, episodes: int) -> float:
    return float(
        np.mean(
            [
                episode_return(core, make_behaviour_policy(core, skill), 10 * e)[0]
                for e in range(episodes)
            ]
        )
    )


def test_tier_skill_table():
    for fam in ("squeeze", "ising", "battle"):
        tiers = TIER_SKILL[fam]
        assert tiers["random"] == 0.0 and tiers["expert"] == 1.0 and 0.0 < tiers["medium"] < 1.0


@pytest.mark.parametrize("family", sorted(CORES))
def test_policy_shapes_seeding_and_dead_agents(family):
    core = CORES[family]()
    obs, _ = core.reset(seed=0)
    for skill in (0.0, 0.5, 1.0):
        pol = make_behaviour_policy(core, skill, seed=3)
        alive = np.ones(core.n_agents, dtype=bool)
        alive[::3] = False
        acts = pol(obs, alive)
        assert acts.shape == (core.n_agents,) and acts.dtype == np.int64
        assert acts.min() >= 0 and acts.max() < core.n_actions and np.all(acts[~alive] == 0)
        pol.reset(7)
        a1 = pol(obs, alive)
        pol.reset(7)
        np.testing.assert_array_equal(a1, pol(obs, alive))
    with pytest.raises(ValueError, match="skill"):
        make_behaviour_policy(core, 1.5)


@pytest.mark.parametrize(("family", "episodes"), [("squeeze", 6), ("ising", 3), ("battle", 3)])
def test_expert_beats_medium_beats_random(family, episodes):
    core = CORES[family]()
    r = {t: _mean_return(core, s, episodes) for t, s in TIER_SKILL[family].items()}
    assert r["expert"] > r["medium"] > r["random"], r


def test_squeeze_expert_sits_at_the_optimum():
    core = GaussianSqueezeCore(1000, n_domains=2)
    obs, _ = core.reset(seed=0)
    pol = make_behaviour_policy(core, 1.0, seed=0)
    _, rew, *_ = core.step(pol(obs, core.alive))
    assert core.metrics()["optimum_gap"] < 1e-3
    assert core.team_reward(rew) > 0.999 * core.optimal_reward


@pytest.mark.parametrize(("temperature", "n"), [(0.4, 1024), (0.52, 1024), (0.4, 10_000)])
def test_ising_expert_orders_the_lattice(temperature, n):
    core = IsingCore(n, temperature=temperature)
    pol = make_behaviour_policy(core, 1.0, seed=1)
    obs, _ = core.reset(seed=1)
    xi = []
    for _ in range(core.max_cycles):
        obs, _, _, _, info = core.step(pol(obs, core.alive))
        xi.append(info["order_parameter"])
    assert min(xi[-10:]) >= 0.9, xi[-10:]
    # no checkerboard oscillation: the magnetisation keeps its sign over the last steps
    assert abs(core.metrics()["magnetisation"]) >= 0.9


def test_battle_expert_beats_random_opponent():
    core = BattleCore(400, opponent="random")
    _, metrics = episode_return(core, make_behaviour_policy(core, 1.0), seed=0)
    assert metrics["win"] == 1.0 and metrics["blue_alive"] == 0.0


@pytest.mark.slow
@pytest.mark.parametrize("family", ["squeeze", "ising", "battle"])
def test_medium_score_at_n1000(family):
    n = {"squeeze": 1000, "ising": 1024, "battle": 1000}[family]
    episodes = {"squeeze": 40, "ising": 10, "battle": 8}[family]
    scores = normalised_scores(CORES[family](n), TIER_SKILL[family], episodes)
    assert 40.0 <= scores["score_medium"] <= 60.0, scores


class _CrowdCore(GaussianSqueezeCore):
    """A family of a user's own (an outside audit added one by the docs' steps)."""

    family = "crowd"


def test_a_new_family_registers_its_expert_in_one_table(monkeypatch):
    """Adding a fourth family meant editing an if-chain in make_behaviour_policy; now it adds
    itself to EXPERTS (and TIER_SKILL), and without them the error says where."""
    from mfdiff_agents.baselines.scripted import ScriptedPolicy
    from mfdiff_envs.policies import EXPERTS

    core = _CrowdCore(20)
    with pytest.raises(ValueError, match=r"no scripted policy for family 'crowd'.*EXPERTS"):
        make_behaviour_policy(core, 1.0)
    with pytest.raises(ValueError, match=r"no tier skills for family 'crowd'"):
        ScriptedPolicy(core, tier="medium")  # was a bare KeyError
    monkeypatch.setitem(EXPERTS, "crowd", EXPERTS["squeeze"])
    monkeypatch.setitem(TIER_SKILL, "crowd", {"random": 0.0, "medium": 0.3, "expert": 1.0})
    obs, _ = core.reset(seed=0)
    acts = make_behaviour_policy(core, 1.0, seed=0)(obs, np.ones(20, bool))
    assert acts.shape == (20,) and ScriptedPolicy(core, tier="medium") is not None


def test_act_batch_refuses_actions_out_of_range_or_of_the_wrong_length():
    """`act_batch` promised actions in [0, n_actions) but only an mfdiff env checked them: an
    adapter that one-hot encodes them, or a user's loop, took 2 of 2 actions silently; an `_act`
    of the wrong length ended in a bare IndexError (an outside review). Dead agents' rows are
    not read."""
    from mfdiff_agents.policy import Policy

    class Fixed(Policy):
        def __init__(self, out):
            super().__init__(obs_dim=1, n_actions=2, seed=0)
            self.out = out

        def _act(self, obs, mask):
            return self.out

    obs = np.zeros((3, 1), np.float32)
    for out, msg in (([0, 2, 1], r"outside \[0, 2\) for live agents, e\.g\. \[2\]"),
                     ([0, -1, 1], r"outside \[0, 2\).*\[-1\]"),
                     ([0, 1], r"shape \(2,\); expected \(3,\)"),
                     (np.zeros((3, 1), np.int64), r"shape \(3, 1\)")):
        with pytest.raises(ValueError, match=msg):
            Fixed(out).act_batch(obs)
    assert Fixed([1, 5, 0]).act_batch(obs, np.array([True, False, True])).tolist() == [1, 0, 0]
