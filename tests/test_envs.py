"""API, seeding, validation and dynamics tests of every environment family.

Parametrised over (family, kwargs) as PettingZoo's own tests are; MAgentBattle is skipped
when magent2 (the ``magent`` extra) is missing.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pettingzoo
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from pettingzoo.test import api_test, parallel_api_test

from mfdiff_envs import battle_v0, ising_v0, squeeze_v0
from mfdiff_envs.battle import BattleCore
from mfdiff_envs.ising import IsingCore
from mfdiff_envs.squeeze import GaussianSqueezeCore, squeeze_reward

HAS_MAGENT = importlib.util.find_spec("magent2") is not None
needs_magent = pytest.mark.skipif(
    not HAS_MAGENT, reason="magent2 missing: pip install 'magent2>=0.3.4'"
)


def _magent_module():
    from mfdiff_envs import magent_battle_v0

    return magent_battle_v0


# (case id, shim module getter, env id, kwargs, small N, large N)
CASES = [
    pytest.param(lambda: squeeze_v0, "mfdiff/GaussianSqueeze-v0", {}, 10, 1000, id="squeeze"),
    pytest.param(lambda: ising_v0, "mfdiff/Ising-v0", {}, 16, 1024, id="ising"),
    pytest.param(
        lambda: battle_v0, "mfdiff/Battle-v0", {"opponent": None}, 10, 1000, id="battle-2team"
    ),
    pytest.param(
        lambda: battle_v0,
        "mfdiff/Battle-v0",
        {"opponent": "expert"},
        10,
        1000,
        id="battle-vs-expert",
    ),
    pytest.param(
        _magent_module,
        "mfdiff/MAgentBattle-v0",
        {"opponent": None},
        10,
        1000,
        id="magent-2team",
        marks=needs_magent,
    ),
    pytest.param(
        _magent_module,
        "mfdiff/MAgentBattle-v0",
        {"opponent": "expert"},
        10,
        1000,
        id="magent-vs-expert",
        marks=needs_magent,
    ),
]


@pytest.mark.parametrize(("mod", "env_id", "kw", "n_small", "n_large"), CASES)
def test_parallel_api(mod, env_id, kw, n_small, n_large):
    parallel_api_test(mod().parallel_env(n_agents=n_small, **kw), num_cycles=40)
    parallel_api_test(mod().parallel_env(n_agents=n_large, **kw), num_cycles=3)


@pytest.mark.parametrize(("mod", "env_id", "kw", "n_small", "n_large"), CASES)
def test_aec_api(mod, env_id, kw, n_small, n_large):
    api_test(mod().env(n_agents=n_small, **kw), num_cycles=20)


@pytest.mark.parametrize(("mod", "env_id", "kw", "n_small", "n_large"), CASES)
def test_joint_env_checker(mod, env_id, kw, n_small, n_large):
    env = gym.make(env_id, n_agents=n_small, **kw)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize(("mod", "env_id", "kw", "n_small", "n_large"), CASES)
def test_joint_infos_have_one_structure(mod, env_id, kw, n_small, n_large):
    """Reset and step infos of the joint env carry the same keys with the same shapes: Minari's
    DataCollector (record_infos=True, what an mfdiff dataset needs) stacks them per episode
    and fails on a key that appears only after reset."""
    env = gym.make(env_id, n_agents=n_small, **kw)
    _, info0 = env.reset(seed=3)
    _, _, _, _, info1 = env.step(env.action_space.sample())
    env.close()
    assert info0.keys() == info1.keys()
    assert {k: np.shape(v) for k, v in info0.items()} == {k: np.shape(v) for k, v in info1.items()}


@pytest.mark.parametrize(("mod", "env_id", "kw", "n_small", "n_large"), CASES)
def test_joint_env_checker_finds_no_unbounded_space(mod, env_id, kw, n_small, n_large):
    """Gymnasium's checker warns on an infinite Box bound ("probably too low"); every family
    states the bounds of its features instead."""
    env = gym.make(env_id, n_agents=n_small, **kw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=True)
    env.close()
    assert not [w for w in caught if "infinity" in str(w.message)]
    assert np.isfinite(env.observation_space.low).all()
    assert np.isfinite(env.observation_space.high).all()


@pytest.mark.parametrize(("mod", "env_id", "kw", "n_small", "n_large"), CASES)
def test_every_observation_lies_in_its_space(mod, env_id, kw, n_small, n_large):
    """Whole episodes of random play (Battle: until teams die out or time runs out), on the
    parallel view, the final observation of an agent that just died included, and on the joint
    view: each one inside the space the env declares (`mfdiff data build` checks the same)."""
    par = mod().parallel_env(n_agents=n_small, **kw)
    rng = np.random.default_rng(0)
    for seed in range(3):
        obs, _ = par.reset(seed=seed)
        n = par.action_space(par.possible_agents[0]).n
        while True:
            for agent, o in obs.items():
                assert par.observation_space(agent).contains(o), (agent, o)
            if not par.agents:
                break
            obs, *_ = par.step(dict(zip(par.agents, rng.integers(0, n, len(par.agents)).tolist())))
    joint = mod().joint_env(n_agents=n_large, **kw)
    obs, _ = joint.reset(seed=0)
    done = False
    while not done:
        assert joint.observation_space.contains(obs)
        obs, _, term, trunc, _ = joint.step(joint.action_space.sample())
        done = term or trunc
    assert joint.observation_space.contains(obs)


@pytest.mark.parametrize(("mod", "env_id", "kw", "n_small", "n_large"), CASES)
def test_max_cycles_lowered_mid_episode(mod, env_id, kw, n_small, n_large):
    """max_cycles set (as PettingZoo's envs allow) mid-episode at or below the steps taken is
    refused with the count; set above them it ends the episode with the time feature at 1, never
    outside the observation space; between episodes any positive value goes."""
    par = mod().parallel_env(n_agents=n_small, **{**kw, "max_cycles": 50})
    par.reset(seed=0)
    for _ in range(3):
        par.step({a: 0 for a in par.agents})
    for bad in (3, 2):
        with pytest.raises(ValueError, match="3 steps"):
            par.max_cycles = bad
    assert par.max_cycles == 50
    par.max_cycles = 4
    obs, _, _, trunc, _ = par.step({a: 0 for a in par.agents})
    assert all(trunc.values()) and not par.agents
    for agent, o in obs.items():
        assert o[-1] == 1.0 and par.observation_space(agent).contains(o)
    par.max_cycles = 2  # the episode is over: a new limit for the next one
    par.reset(seed=1)
    assert par.max_cycles == 2


def test_joint_view_takes_numpy_integer_seeds():
    """A seed drawn with numpy (np.int64) plays the episode of the same Python int, as on the
    parallel view (Gymnasium's own reset refuses it)."""
    a, b = ising_v0.joint_env(n_agents=16), ising_v0.joint_env(n_agents=16)
    np.testing.assert_array_equal(a.reset(seed=np.int64(5))[0], b.reset(seed=5)[0])
    acts = np.ones(16, dtype=np.int64)
    np.testing.assert_array_equal(a.step(acts)[0], b.step(acts)[0])


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True])
def test_bad_seeds_name_the_seed_on_every_view(seed):
    """The parallel and AEC views (and the core) refuse a bad seed with a message that names
    it; the joint view answers with Gymnasium's own seed error."""
    for env in (ising_v0.parallel_env(n_agents=16), ising_v0.env(n_agents=16)):
        with pytest.raises(ValueError, match="seed must be a non-negative integer"):
            env.reset(seed=seed)
    with pytest.raises((ValueError, gym.error.Error), match="[Ss]eed"):
        ising_v0.joint_env(n_agents=16).reset(seed=seed)


def _rollout(core, seed: int, steps: int = 200):
    """Seeded random actions for ``steps`` steps (resetting at episode ends)."""
    rng = np.random.default_rng(seed + 100)
    obs, _ = core.reset(seed=seed)
    trace = [obs]
    for _ in range(steps):
        obs, rew, term, trunc, _ = core.step(rng.integers(0, core.n_actions, core.n_agents))
        trace += [obs, rew, core.alive.copy()]
        if np.all(term | trunc):
            obs, _ = core.reset()
    return trace


@pytest.mark.parametrize(("mod", "env_id", "kw", "n_small", "n_large"), CASES)
def test_seeding(mod, env_id, kw, n_small, n_large):
    core = gym.make(env_id, n_agents=100, **kw).unwrapped.core
    a, b, c = _rollout(core, 1), _rollout(core, 1), _rollout(core, 2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


@pytest.mark.parametrize(("mod", "env_id", "kw", "n_small", "n_large"), CASES)
def test_render_rgb(mod, env_id, kw, n_small, n_large):
    env = gym.make(env_id, n_agents=100, render_mode="rgb_array", **kw)
    env.reset(seed=0)
    env.step(env.action_space.sample())
    img = env.render()
    assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8 and img.shape[0] > 8
    par = mod().parallel_env(n_agents=100, render_mode="rgb_array", **kw)
    par.reset(seed=0)
    assert par.render().dtype == np.uint8


@pytest.mark.parametrize(("mod", "env_id", "kw", "n_small", "n_large"), CASES)
def test_kwargs_rebuild_and_plain(mod, env_id, kw, n_small, n_large):
    core = gym.make(env_id, n_agents=100, **kw).unwrapped.core
    kws = core.kwargs()
    assert all(v is None or type(v) in (int, float, str, list) for v in kws.values())
    assert type(core)(**kws).kwargs() == kws
    core.reset(seed=0)
    assert all(isinstance(v, float) for v in core.metrics().values())


@pytest.mark.parametrize(("mod", "env_id", "kw", "n_small", "n_large"), CASES)
def test_bad_actions_and_kwargs(mod, env_id, kw, n_small, n_large):
    core = gym.make(env_id, n_agents=100, **kw).unwrapped.core
    core.reset(seed=0)
    n, a = core.n_agents, core.n_actions
    with pytest.raises(ValueError, match="shape"):
        core.step(np.zeros(n + 1, dtype=np.int64))
    with pytest.raises(TypeError, match="integer"):
        core.step(np.zeros(n, dtype=np.float32))
    with pytest.raises(TypeError, match="integer"):
        core.step(np.zeros(n, dtype=bool))
    with pytest.raises(ValueError, match="lie in"):
        core.step(np.full(n, a, dtype=np.int64))
    with pytest.raises(ValueError, match="lie in"):
        core.step(np.full(n, -1, dtype=np.int64))
    for bad in (0, -4):
        with pytest.raises(ValueError, match="n_agents"):
            mod().parallel_env(n_agents=bad, **kw)
    with pytest.raises(TypeError, match="n_agents"):
        mod().parallel_env(n_agents=100.0, **kw)
    with pytest.raises(TypeError, match="no_such_kwarg"):
        mod().parallel_env(n_agents=100, no_such_kwarg=1, **kw)


@pytest.mark.parametrize(("mod", "env_id", "kw", "n_small", "n_large"), CASES)
def test_spaces_of_a_name_not_among_possible_agents_raise(mod, env_id, kw, n_small, n_large):
    env = mod().parallel_env(n_agents=n_small, **kw)
    aec = mod().env(n_agents=n_small, **kw)
    for e in (env, aec):
        for name in e.possible_agents:
            assert e.observation_space(name).shape == (env.unwrapped.core.obs_dim,)
            assert e.action_space(name).n == env.unwrapped.core.n_actions
        # a misspelt name, an index, and (where the env plays blue itself) the other team
        bad = ["agent_999", 5] + (["blue_0"] if kw.get("opponent") else [])
        for name in bad:
            with pytest.raises(KeyError, match="possible_agents"):
                e.observation_space(name)
            with pytest.raises(KeyError, match="possible_agents"):
                e.action_space(name)


def test_family_specific_bad_kwargs():
    with pytest.raises(ValueError, match="perfect square"):
        ising_v0.parallel_env(n_agents=1000)
    for tiny in (1, 4):  # an agent its own, or a double, neighbour on the torus
        with pytest.raises(ValueError, match="at least 9"):
            ising_v0.parallel_env(n_agents=tiny)
    assert ising_v0.parallel_env(n_agents=9).max_num_agents == 9
    with pytest.raises(ValueError, match="even"):
        battle_v0.parallel_env(n_agents=101)
    with pytest.raises(ValueError, match="opponent"):
        battle_v0.parallel_env(n_agents=100, opponent="grandmaster")
    with pytest.raises(ValueError, match="temperature"):
        ising_v0.parallel_env(n_agents=100, temperature=0.0)
    with pytest.raises(ValueError, match="too small"):
        battle_v0.parallel_env(n_agents=1000, map_size=20)


def test_gym_make_in_fresh_interpreter():
    code = (
        "import gymnasium as gym; e = gym.make('mfdiff:mfdiff/Ising-v0', n_agents=64); "
        "o, _ = e.reset(seed=0); assert o.shape == (64, 4), o.shape; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


def test_pettingzoo_make_battle():
    env = pettingzoo.make("parallel", "mfdiff/Battle-v0", n_agents=100)
    obs, _ = env.reset(seed=0)
    assert len(obs) == 50 and env.possible_agents[0] == "red_0"  # blue played by the env
    env2 = pettingzoo.make("parallel", "mfdiff/Battle-v0", n_agents=100, opponent=None)
    assert len(env2.possible_agents) == 100 and env2.possible_agents[50] == "blue_0"


# ------------------------------------------------------------------ Gaussian Squeeze
def test_squeeze_reward_at_optimum():
    core = GaussianSqueezeCore(1000)
    x_star = float(core.optimal_sum[0])
    assert core.team_reward_of_sums([x_star]) == pytest.approx(core.optimal_reward)
    # integer actions summing to round(x*): reward within the rounding slack of the optimum
    total = round(x_star)
    acts = np.full(1000, total // 1000, dtype=np.int64)
    acts[: total % 1000] += 1
    core.reset(seed=0)
    _, rew, *_ = core.step(acts)
    assert acts.sum() == total
    assert core.team_reward(rew) == pytest.approx(core.optimal_reward, rel=1e-6)
    assert core.metrics()["optimum_gap"] == pytest.approx(0.0, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 300),
    n_domains=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_squeeze_reward_formula(n, n_domains, seed):
    n_domains = min(n_domains, n)
    core = GaussianSqueezeCore(n, n_domains=n_domains)
    acts = np.random.default_rng(seed).integers(0, core.n_actions, n)
    core.reset(seed=seed)
    _, rew, *_ = core.step(acts)
    for d in range(n_domains):
        m = core.domain == d
        expect = squeeze_reward(acts[m].sum(), core.mu[d], core.sigma[d]) / m.sum()
        np.testing.assert_allclose(rew[m], expect, rtol=1e-5)


@settings(max_examples=40, deadline=None)
@given(bad=st.integers(-(2**40), 2**40).filter(lambda v: not 0 <= v < 2), pos=st.integers(0, 15))
def test_out_of_range_action_names_the_agent(bad, pos):
    core = IsingCore(16)
    core.reset(seed=0)
    acts = np.zeros(16, dtype=np.int64)
    acts[pos] = bad
    with pytest.raises(ValueError, match=f"agent {pos} got"):
        core.step(acts)


def test_cores_hold_arrays_only_until_names_are_asked():
    """A core builds its N agent ids on first use, so a dict view's memory guard refuses a huge
    N before N Python strings exist (they took 27 s and 7 GB at N = 10^8 before)."""
    import pickle

    cores = [GaussianSqueezeCore(12), IsingCore(16), BattleCore(12), BattleCore(12, opponent=None)]
    for core in cores:
        assert "agent_names" not in vars(core)
        clone = pickle.loads(pickle.dumps(core))
        assert clone.agent_names == core.agent_names and len(core.agent_names) == core.n_agents
    assert cores[0].agent_names[-1] == "agent_11"
    assert cores[2].agent_names == [f"red_{i}" for i in range(6)]
    assert cores[3].agent_names[6:] == [f"blue_{i}" for i in range(6)]
    with pytest.raises(MemoryError, match="dict view"):
        ising_v0.parallel_env(n_agents=10**8)


@pytest.mark.parametrize("bad", [2, -1, None, 1.5])
def test_aec_out_of_range_action_names_the_agent(bad):
    """The AEC view refuses a bad action with the ValueError the other views give (PettingZoo's
    own wrapper raises a bare AssertionError), before anything steps."""
    env = ising_v0.env(n_agents=9)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"agent_0: the action must be an integer in \[0, 1\]"):
        env.step(bad)
    env.step(1)  # the env is untouched: the next valid action goes through
    assert env.agent_selection == "agent_1"


# ------------------------------------------------------------------ Ising
def test_ising_aligned_lattice():
    core = IsingCore(64, temperature=0.01, field=0.5, coupling=1.0)  # noise p ~ 1e-87
    core.reset(seed=0)
    core.spins[:] = 1
    obs, rew, _, _, info = core.step(np.zeros(64, dtype=np.int64))
    assert info["order_parameter"] == 1.0 == core.metrics()["order_parameter"]
    np.testing.assert_allclose(rew, 0.5 + 0.5 * 1.0 * 4)
    np.testing.assert_allclose(obs[:, :3], 1.0)
    # flipping every spin keeps the lattice aligned (xi stays 1)
    _, _, _, _, info = core.step(np.ones(64, dtype=np.int64))
    assert info["order_parameter"] == 1.0 and core.metrics()["magnetisation"] == -1.0


def test_ising_noise_rate_and_neighbours():
    core = IsingCore(10_000, temperature=0.52)
    assert 0.02 <= core.flip_prob <= 0.05
    obs, _ = core.reset(seed=0)
    before = core.spins.copy()
    obs, *_ = core.step(np.zeros(10_000, dtype=np.int64))
    rate = np.mean(before != core.spins)
    assert abs(rate - core.flip_prob) < 0.006
    s = core.spins
    nmean = (np.roll(s, 1, 0) + np.roll(s, -1, 0) + np.roll(s, 1, 1) + np.roll(s, -1, 1)) / 4
    np.testing.assert_allclose(obs[:, 1], nmean.reshape(-1))


# ------------------------------------------------------------------ Battle
def test_battle_invariants_under_random_play():
    core = BattleCore(400, opponent=None, max_cycles=100)
    rng = np.random.default_rng(0)
    core.reset(seed=3)
    for _ in range(100):
        before = core.pos.copy()
        _, rew, term, _, _ = core.step(rng.integers(0, 6, core.n_agents))
        alive = core.alive_all
        cells = core.pos[alive, 1] * core.map_size + core.pos[alive, 0]
        assert np.unique(cells).size == cells.size  # no two agents share a cell
        assert np.all(np.abs(core.pos - before).sum(1) <= 1)  # at most one step
        assert np.all((core.hp[alive] > 0) & (core.hp[alive] <= 10))
        assert np.all(rew[~alive & ~term] == 0)
        assert np.all(core.grid[core.pos[alive, 1], core.pos[alive, 0]] == np.flatnonzero(alive))
        if np.all(term):
            break


def test_battle_attack_kill_and_elimination():
    core = BattleCore(2, opponent=None)
    core.reset(seed=0)
    core.grid[:] = -1
    core.pos[:] = [[5, 5], [6, 5]]  # adjacent: red attacks blue, blue stays
    core.grid[5, 5], core.grid[5, 6] = 0, 1
    total = np.zeros(2)
    for step in range(6):
        _, rew, term, _, _ = core.step(np.array([5, 0]))
        total += rew
        assert np.all(term) == (step == 5)
    # hits of 2 with 0.1 recovery per step: hp 10 -> 2.4 after 4 hits, 0.5 after 5, dead at the 6th
    assert core.metrics() == {"red_alive": 1.0, "blue_alive": 0.0, "win": 1.0}
    assert total[0] == pytest.approx(6 * (-0.005 - 0.1 + 0.2) + 5.0)
    assert total[1] == pytest.approx(6 * -0.005 - 0.1)
    assert core.alive.tolist() == [True, False]


def test_battle_blocked_moves():
    core = BattleCore(4, opponent=None)
    core.reset(seed=0)
    core.grid[:] = -1
    core.pos[:] = [[3, 3], [5, 3], [8, 8], [9, 8]]
    core.grid[core.pos[:, 1], core.pos[:, 0]] = np.arange(4)
    # red_0 right and red_1 left both claim (4, 3): neither moves; blue_0 right is blocked by blue_1
    core.step(np.array([4, 3, 4, 1]))
    np.testing.assert_array_equal(core.pos, [[3, 3], [5, 3], [8, 8], [9, 7]])


def test_battle_features_point_at_the_enemy():
    core = BattleCore(2, opponent=None)
    obs, _ = core.reset(seed=0)
    (rx, ry), (bx, by) = core.pos
    assert ry == by and rx < bx
    np.testing.assert_allclose(obs[:, 6:8], [[1, 0], [-1, 0]])
    np.testing.assert_allclose(obs[:, 8], (bx - rx) / core.map_size, rtol=1e-6)
    assert obs[:, 9].tolist() == [0, 0] and obs[:, 10:12].tolist() == [[1, 1], [1, 1]]
    while core.pos[0, 0] + 1 < core.pos[1, 0]:  # walk red right until adjacent
        obs, *_ = core.step(np.array([4, 0]))
    assert obs[:, 9].tolist() == [1, 1]
    assert np.all(core.alive)


# ------------------------------------------------------------------ env demo
def test_env_demo_says_what_n_each_family_used(capsys):
    from mfdiff_envs.demo import run_env_demo

    run_env_demo(n_agents=50, steps=2, seed=0)
    out = capsys.readouterr().out
    rows = [r.split("|")[1:3] for r in out.splitlines() if r.startswith("| ") and "family" not in r]
    used = {fam.strip(): int(n) for fam, n in rows}
    assert used["squeeze"] == 50 and used["ising"] == 49 and used["battle"] == 25
    assert "ising: N = 49, the 7 x 7 lattice" in out
    assert "battle: N = 25 red agents played by the policy, 50 on the map" in out
    if HAS_MAGENT:
        assert used["magent_battle"] == 25
    else:
        assert "magent_battle: skipped" in out


def test_actions_of_dead_agents_are_ignored_but_live_ones_required():
    """TorchRL's PettingZooWrapper keeps sending actions for dead agents: they are dropped; a
    missing live agent or an unknown name is still an error."""
    from mfdiff_envs import battle_v0

    env = battle_v0.parallel_env(n_agents=40, opponent="expert", max_cycles=200)
    env.reset(seed=0)
    everyone = list(env.possible_agents)
    while len(env.agents) == len(everyone):  # play until someone dies
        env.step({a: 5 for a in env.agents})  # attack
        if not env.agents:
            break
    assert 0 < len(env.agents) < len(everyone)
    env.step({a: 0 for a in everyone})  # dead agents' entries dropped
    with pytest.raises(KeyError, match="missing"):
        env.step({a: 0 for a in env.agents[1:]})
    with pytest.raises(KeyError, match="unknown"):
        env.step({**{a: 0 for a in env.agents}, "nobody": 0})


@pytest.mark.parametrize("bad", [True, np.bool_(True), "4", 4.0, np.float32(4), None,
                                 np.array(True), np.array(4.0), np.array([4])])
def test_parallel_step_refuses_a_non_integer_action_anywhere_in_the_dict(bad):
    from mfdiff_envs import squeeze_v0

    env = squeeze_v0.parallel_env(n_agents=13, max_cycles=3)
    env.reset(seed=0)
    actions = {a: 3 for a in env.agents}
    actions[env.agents[-1]] = bad  # not the first value: every value is checked
    with pytest.raises(TypeError, match="actions must be integers"):
        env.step(actions)
    actions[env.agents[-1]] = np.int32(4)  # numpy integers are integers
    env.step(actions)


@pytest.mark.parametrize("huge", [2**70, np.uint64(2**63 + 5)])
def test_parallel_step_names_the_agent_of_an_action_beyond_int64(huge):
    from mfdiff_envs import squeeze_v0

    env = squeeze_v0.parallel_env(n_agents=13, max_cycles=3)
    env.reset(seed=0)
    actions = {a: 3 for a in env.agents}
    actions["agent_7"] = huge
    with pytest.raises(ValueError, match=r"agent_7: the action must be an integer in \[0, "):
        env.step(actions)
    del actions["agent_7"]
    actions["agent_7"] = 2
    env.step(actions)  # nothing was stepped before the refusal


def test_parallel_and_aec_step_take_a_0d_integer_array():
    """``q(obs).argmax().numpy()`` is a 0-d array, which ``Discrete.contains`` accepts: both
    views take it and act as with the plain integer (an outside audit found it refused)."""
    from mfdiff_envs import ising_v0

    runs = []
    for wrap in (int, np.array):
        env = ising_v0.parallel_env(n_agents=9, max_cycles=3)
        env.reset(seed=0)
        assert env.action_space(env.agents[0]).contains(np.array(1))
        runs.append(env.step({a: wrap(1) for a in env.agents})[0])
        aec = ising_v0.env(n_agents=9, max_cycles=3)
        aec.reset(seed=0)
        for _ in range(9):
            aec.step(wrap(1))
    assert all(np.array_equal(runs[0][a], runs[1][a]) for a in runs[0])


def _expert_episodes_without_death(n: int, seeds: int = 20) -> int:
    from mfdiff_envs.policies import make_behaviour_policy

    quiet = 0
    for seed in range(seeds):
        core = BattleCore(n, opponent="expert", max_cycles=300)
        policy = make_behaviour_policy(core, 1.0, seed)
        obs, _ = core.reset(seed=seed)
        for _ in range(300):
            obs, _, term, trunc, _ = core.step(policy(obs, core.alive))
            if term.all() or trunc.all():
                break
        quiet += int(core.alive_all.sum() == n)
    return quiet


def test_battle_experts_fight_from_n6_and_stand_off_at_n2() -> None:
    """docs/envs.md: at N = 2 the two experts on one row block each other's move into the same
    middle cell every step (no damage in any of 20 episodes); from N = 6 on every episode has
    a death. Fails if the expert or the move rule changes, so that the docs are revisited."""
    assert _expert_episodes_without_death(2) == 20
    assert _expert_episodes_without_death(4) == 2
    for n in (6, 10, 22):
        assert _expert_episodes_without_death(n) == 0


def test_env_demo_names_the_n_it_was_given():
    """Outside audit: `mfdiff env demo --n-agents 3` said "got 1" (Ising's square of it)."""
    from mfdiff_envs.demo import run_env_demo

    with pytest.raises(ValueError, match="give N >= 9.*got 3"):
        run_env_demo(n_agents=3, steps=2, seed=0)


def test_a_population_too_large_for_the_core_says_so():
    """An outside audit: numpy's "Maximum allowed size exceeded" surfaced raw, naming no N."""
    from mfdiff_envs import squeeze_v0

    with pytest.raises(MemoryError, match=r"squeeze_v0: n_agents=1(0){20} is too large"):
        squeeze_v0.parallel_env(n_agents=10**20)
