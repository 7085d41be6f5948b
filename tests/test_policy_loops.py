"""Policy.act / Policy.__call__: the PettingZoo parallel and AEC loops show a policy the same
population as ``mfdiff eval`` (``act_batch(obs, core.alive)``), deaths included."""

from __future__ import annotations

import numpy as np
import pytest

from mfdiff_agents.policy import Policy
from mfdiff_envs import battle_v0
from mfdiff_envs.rollout import rollout

KW = {"n_agents": 40, "opponent": "expert", "max_cycles": 60}


class PopulationPolicy(Policy):
    """Deterministic and population-dependent: action = (live agents shown + row) mod A, so a
    dead agent shown as alive, or a row that moved, changes every action. Records what it saw."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.seen: list[tuple[int, int]] = []

    def _act(self, obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        self.seen.append((obs.shape[0], int(mask.sum())))
        return (int(mask.sum()) + np.arange(obs.shape[0])) % self.n_actions


def make_policy(env) -> PopulationPolicy:
    a0 = env.possible_agents[0]
    return PopulationPolicy(obs_dim=env.observation_space(a0).shape[0],
                            n_actions=env.action_space(a0).n)


def test_parallel_loop_leaves_out_agents_that_just_died() -> None:
    env = battle_v0.parallel_env(**KW)
    policy = make_policy(env)
    observations, _ = env.reset(seed=0)
    policy.reset(seed=0)
    n_team, deaths_seen = len(env.agents), 0
    while env.agents:
        stale = set(observations) - set(env.agents)  # final observations of the just dead
        deaths_seen += bool(stale)
        actions = policy.act(observations, env.agents)
        assert set(actions) == set(env.agents)
        # every agent keeps its row; only the live ones are shown as alive
        assert policy.seen[-1] == (n_team, len(env.agents))
        observations, *_ = env.step(actions)
    assert deaths_seen, "the episode must have deaths for this test to mean anything"


def test_parallel_aec_and_core_loops_play_the_same_episode() -> None:
    env = battle_v0.parallel_env(**KW)
    policy = make_policy(env)
    observations, _ = env.reset(seed=3)
    policy.reset(seed=3)
    while env.agents:
        observations, *_ = env.step(policy.act(observations, env.agents))
    parallel = env.unwrapped.core.metrics()

    aec = battle_v0.env(**KW)
    aec.reset(seed=3)
    policy.bind(aec)
    policy.reset(seed=3)
    for agent in aec.agent_iter():
        obs, _, term, trunc, _ = aec.last()
        aec.step(None if term or trunc else policy(obs, agent))
    assert aec.unwrapped.core.metrics() == parallel

    core = battle_v0.parallel_env(**KW).unwrapped.core
    rollout(core, policy, seed=3)
    assert core.metrics() == parallel


def test_act_defaults_to_the_bound_env_and_refuses_agents_without_observation() -> None:
    env = battle_v0.parallel_env(**KW)
    policy = make_policy(env).bind(env)
    observations, _ = env.reset(seed=1)
    policy.reset(seed=1)
    while env.agents:
        actions = policy.act(observations)  # bound: acts for env.agents
        assert set(actions) == set(env.agents)
        observations, *_ = env.step(actions)
    with pytest.raises(KeyError, match="no observation"):
        policy.act({"red_0": np.zeros(env.observation_space("red_0").shape)}, ["red_0", "red_1"])


def test_act_refuses_observations_of_the_wrong_shape() -> None:
    env = battle_v0.parallel_env(**KW)
    policy = make_policy(env)
    d = policy.obs_dim
    policy.reset(seed=0)
    good = {"a": np.zeros(d), "b": np.ones(d, dtype=np.float64).tolist()}  # lists and float64 too
    assert set(policy.act(good)) == {"a", "b"}
    for bad in ({"a": np.zeros(d), "b": np.zeros(d + 1)},      # ragged
                {"a": np.zeros(d + 1), "b": np.zeros(d + 1)},  # uniform, wrong size
                {"a": np.zeros((d, 1)), "b": np.zeros((d, 1))},
                {"a": np.zeros(d), "b": "not a number"}):
        with pytest.raises(ValueError, match="expects observations of shape"):
            policy.act(bad)


def test_act_batch_refuses_masks_and_values_it_would_misread() -> None:
    env = battle_v0.parallel_env(**KW)
    policy = make_policy(env)
    obs = np.zeros((6, policy.obs_dim), dtype=np.float32)
    assert policy.act_batch(obs, np.array([1, 0, 1, 1, 0, 1])).tolist()[1] == 0  # 0/1 ints
    for bad in (np.arange(6), np.full(6, 0.5)):  # an index array, a float mask
        with pytest.raises(ValueError, match="mask must be a boolean"):
            policy.act_batch(obs, bad)
    big = obs.copy()
    big[3, 0] = 2e19  # finite, but its square overflows the float32 mean-field statistics
    with pytest.raises(ValueError, match=r"rows \[3\]"):
        policy.act_batch(big)
    policy.act_batch(big, np.arange(6) != 3)  # a dead row is not read


def test_aec_refuses_an_observation_from_another_env() -> None:
    from mfdiff_envs import ising_v0

    a, b = ising_v0.env(n_agents=16), ising_v0.env(n_agents=16)
    policy = make_policy(a)
    policy.bind(a)
    policy.bind(b)  # the last bind wins: the policy now batches env b
    a.reset(seed=0)
    b.reset(seed=1)
    agent = a.agent_selection
    obs = a.observe(agent)
    assert not np.array_equal(obs, b.observe(agent))
    with pytest.raises(ValueError, match="bound to another env"):
        policy(obs, agent)
    assert policy(b.observe(agent), agent) in range(policy.n_actions)


def test_check_core_warns_when_the_env_differs_beyond_its_size() -> None:
    import warnings

    from mfdiff_agents.checkpoint import EnvFacts
    from mfdiff_envs.battle import BattleCore

    core = BattleCore(n_agents=40, max_cycles=150)
    trained = {**core.kwargs(), "n_agents": 1000, "map_size": 112, "max_cycles": 200}
    facts = EnvFacts(obs_dim=core.obs_dim, n_actions=core.n_actions, family="battle",
                     env_id="mfdiff/Battle-v0", env_kwargs=trained)
    with pytest.warns(UserWarning, match=r"max_cycles=150 \(trained: 200\)"):
        facts.check_core(core)
    facts.env_kwargs["max_cycles"] = 150
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # another N (and map) alone: silent
        facts.check_core(core)


def test_policy_seeds_are_checked_as_the_envs_seeds() -> None:
    """A policy's seed (constructor or reset) is None or a non-negative integer, as the envs'
    reset says; anything else is refused by name rather than by numpy's SeedSequence."""
    from mfdiff_agents.policy import RandomPolicy

    pol = RandomPolicy(obs_dim=3, n_actions=4, seed=np.int64(3))
    obs = np.zeros((5, 3), np.float32)
    pol.reset(7)
    first = pol.act_batch(obs)
    pol.reset(np.uint32(7))
    assert np.array_equal(pol.act_batch(obs), first)
    pol.reset(2**70)  # large seeds are seeds
    for bad in (-1, 1.5, True, "0"):
        with pytest.raises(ValueError, match="seed must be a non-negative integer or None"):
            pol.reset(bad)
        with pytest.raises(ValueError, match="seed must be a non-negative integer or None"):
            RandomPolicy(obs_dim=3, n_actions=4, seed=bad)


def test_a_bound_policy_gives_each_agent_its_row_whatever_the_dict_order() -> None:
    """A wrapper that reorders the observation dict (one built from a set) must not reassign
    the rows, hence a sampling policy's draws (an outside audit): bound, rows follow
    env.possible_agents; PopulationPolicy's action moves with its row."""
    env = battle_v0.parallel_env(**KW)
    observations, _ = env.reset(seed=1)
    ordered = make_policy(env).bind(env)
    ordered.reset(seed=1)
    expected = ordered.act(observations)
    shuffled_obs = dict(reversed(list(observations.items())))  # blue first, each team reversed
    shuffled = make_policy(env).bind(env)
    shuffled.reset(seed=1)
    assert shuffled.act(shuffled_obs) == expected
    assert list(shuffled._roster) == env.possible_agents[: len(shuffled._roster)]
    unbound = make_policy(env)  # unbound: rows by first appearance, as documented
    unbound.reset(seed=1)
    assert unbound.act(shuffled_obs, env.agents) != expected
