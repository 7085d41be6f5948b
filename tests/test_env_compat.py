"""Compatibility of every env family with the libraries that copy, wrap and check envs.

* Copy safety: ``copy.deepcopy``, cloudpickle (SuperSuit, Tianshou) and plain ``pickle``
  (Gymnasium's async vector envs) of the parallel, AEC and joint views mid-episode; the copy
  plays the same trajectory as the original.
* ``pettingzoo.test``: every check of PettingZoo's own test suite, at small N.
* The joint view's ``MultiDiscrete`` action space through a Minari dataset round trip.
* SuperSuit's vector-env path (``pettingzoo_env_to_vec_env_v1`` + ``concat_vec_envs_v1``).
"""

from __future__ import annotations

import copy
import importlib.util
import pickle
import warnings

import cloudpickle
import gymnasium as gym
import numpy as np
import pytest

from mfdiff_envs import battle_v0, ising_v0, squeeze_v0
from mfdiff_envs.battle import BattleCore

HAS_MAGENT = importlib.util.find_spec("magent2") is not None
needs_magent = pytest.mark.skipif(
    not HAS_MAGENT, reason="magent2 missing: pip install mfdiff[magent]"
)

FAMILIES = [
    pytest.param(squeeze_v0, {"n_agents": 10, "max_cycles": 25}, id="squeeze"),
    pytest.param(ising_v0, {"n_agents": 16, "max_cycles": 25}, id="ising"),
    pytest.param(
        battle_v0, {"n_agents": 20, "opponent": None, "max_cycles": 60}, id="battle-2team"
    ),
    pytest.param(
        battle_v0, {"n_agents": 20, "opponent": "expert", "max_cycles": 60}, id="battle-vs-expert"
    ),
]

COPIERS = {
    "deepcopy": copy.deepcopy,
    "cloudpickle": lambda e: cloudpickle.loads(cloudpickle.dumps(e)),
    "pickle": lambda e: pickle.loads(pickle.dumps(e)),
}


# ------------------------------------------------------------------ drivers
def _parallel_steps(env, rng, steps: int) -> list:
    """``steps`` steps of seeded random actions (reset without a seed at episode ends)."""
    out = []
    for _ in range(steps):
        if not env.agents:
            obs, _ = env.reset()
            out.append(sorted((a, o.tolist()) for a, o in obs.items()))
        n = env.action_space(env.possible_agents[0]).n
        acts = dict(zip(env.agents, rng.integers(0, n, len(env.agents)).tolist()))
        obs, rew, term, trunc, _ = env.step(acts)
        out.append(sorted((a, o.tolist(), rew[a], term[a], trunc[a]) for a, o in obs.items()))
    return out


def _aec_steps(env, rng, steps: int) -> list:
    out = []
    for _ in range(steps):
        if not env.agents:
            env.reset()
        agent = env.agent_selection
        obs, rew, term, trunc, _ = env.last()
        out.append((agent, obs.tolist(), rew, term, trunc))
        env.step(None if term or trunc else int(rng.integers(env.action_space(agent).n)))
    return out


def _joint_steps(env, rng, steps: int) -> list:
    out = []
    n = env.unwrapped.core.n_actions
    for _ in range(steps):
        obs, rew, term, trunc, info = env.step(rng.integers(0, n, env.unwrapped.core.n_agents))
        out.append((obs.tolist(), rew, term, trunc, info["rewards"].tolist()))
        if term or trunc:
            env.reset()
    return out


VIEWS = {
    "parallel": (lambda mod, kw: mod.parallel_env(**kw), _parallel_steps, 20),
    "aec": (lambda mod, kw: mod.env(**kw), _aec_steps, 200),
    "joint": (lambda mod, kw: mod.joint_env(**kw), _joint_steps, 20),
}


@pytest.mark.parametrize("copier", list(COPIERS))
@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize(("mod", "kw"), FAMILIES)
def test_copy_plays_the_same_trajectory(mod, kw, view, copier):
    make, play, k = VIEWS[view]
    env = make(mod, kw)
    env.reset(seed=3)
    play(env, np.random.default_rng(0), k)
    twin = COPIERS[copier](env)
    assert type(twin) is type(env)
    a = play(env, np.random.default_rng(1), 3 * k)
    b = play(twin, np.random.default_rng(1), 3 * k)
    assert a == b


@pytest.mark.parametrize("copier", list(COPIERS))
def test_battle_attacks_land_after_a_copy(copier):
    """Regression: the id grid was a stored view of the walled grid; after a copy they were
    separate arrays, attacks never landed and every episode was a 300-step tie."""
    core = COPIERS[copier](BattleCore(2, opponent=None))  # copied before reset, as SuperSuit does
    core.reset(seed=0)
    core.grid[:] = -1
    core.pos[:] = [[5, 5], [6, 5]]
    core.grid[5, 5], core.grid[5, 6] = 0, 1
    core = COPIERS[copier](core)  # and again mid-episode
    for _ in range(6):
        _, _, term, _, _ = core.step(np.array([5, 0]))
    assert np.all(term) and core.metrics()["win"] == 1.0


@pytest.mark.parametrize("copier", list(COPIERS))
def test_battle_vs_expert_is_not_a_tie_after_a_copy(copier):
    env = COPIERS[copier](battle_v0.joint_env(n_agents=40, opponent="expert", max_cycles=300))
    env.reset(seed=0)
    core = env.core
    for _ in range(300):  # red stands still and is attacked by the expert blue team
        _, _, term, trunc, _ = env.step(np.zeros(core.n_agents, dtype=np.int64))
        if term or trunc:
            break
    assert core.metrics()["win"] == 0.0 and core.metrics()["red_alive"] < 1.0


@needs_magent
@pytest.mark.parametrize("copier", list(COPIERS))
def test_magent_copies_between_episodes_and_refuses_within(copier):
    from mfdiff_envs import magent_battle_v0

    env = magent_battle_v0.parallel_env(n_agents=20, opponent="expert", max_cycles=30)
    twin = COPIERS[copier](env)  # before reset: the copy builds its own GridWorld
    assert twin.core.gridworld is not env.core.gridworld
    for e in (env, twin):
        e.reset(seed=5)
    assert _parallel_steps(env, np.random.default_rng(0), 40) == _parallel_steps(
        twin, np.random.default_rng(0), 40
    )
    env.reset(seed=1)
    env.step(dict.fromkeys(env.agents, 0))
    with pytest.raises(TypeError, match="during an episode"):
        COPIERS[copier](env)


# ------------------------------------------------------------------ Minari and MultiDiscrete
def test_joint_action_space_is_multidiscrete():
    env = squeeze_v0.joint_env(n_agents=7)
    space = env.action_space
    assert isinstance(space, gym.spaces.MultiDiscrete) and space.dtype == np.int64
    assert space.nvec.tolist() == [10] * 7 and space.sample().shape == (7,)


@pytest.mark.parametrize("family", ["squeeze", "battle"])
def test_minari_stores_multidiscrete(family, tmp_path, monkeypatch):
    import minari

    from mfdiff_envs.offline import build_dataset, load_episodes

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        built = build_dataset(
            family,
            n_agents=16,
            tier="expert",
            episodes=2,
            env_kwargs={"max_cycles": 5},
            progress=False,
        )
        ds = minari.load_dataset(built.spec.dataset_id)
        eps = load_episodes(ds)
    assert isinstance(ds.spec.action_space, gym.spaces.MultiDiscrete)
    assert ds.spec.action_space == built.spec.action_space
    n_act = ds.spec.action_space.nvec[0]
    assert eps.n_actions == n_act
    env = ds.recover_environment()
    assert env.action_space == ds.spec.action_space
    env.reset(seed=0)
    _, r, *_ = env.step(env.action_space.sample())
    assert np.isfinite(r)
    ep = next(iter(ds.iterate_episodes()))
    assert ep.actions.dtype == np.int64 and ds.spec.action_space.contains(ep.actions[0])


def test_load_episodes_reads_old_box_datasets(tmp_path, monkeypatch):
    """Datasets built before MultiDiscrete store an int Box action space: n_actions = high + 1."""
    from mfdiff_envs.joint import JointEnv
    from mfdiff_envs.offline import build_dataset, load_episodes

    init = JointEnv.__init__

    def old_init(self, core, render_mode=None):
        init(self, core, render_mode)
        self.action_space = gym.spaces.Box(0, core.n_actions - 1, (core.n_agents,), np.int64)

    monkeypatch.setattr(JointEnv, "__init__", old_init)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = build_dataset(
            "squeeze",
            n_agents=9,
            tier="random",
            episodes=1,
            env_kwargs={"max_cycles": 3},
            progress=False,
        )
        eps = load_episodes(ds.spec.dataset_id)
    assert isinstance(ds.spec.action_space, gym.spaces.Box) and eps.n_actions == 10
