"""Compatibility of every env family with the libraries that copy, wrap and check envs.

* Copy safety: ``copy.deepcopy``, cloudpickle (SuperSuit, Tianshou) and plain ``pickle``
  (Gymnasium's async vector envs) of the parallel, AEC and joint views mid-episode; the copy
  plays the same trajectory as the original.
* ``pettingzoo.test``: every check of PettingZoo's own test suite, at small N; the parallel
  API and seed checks also at the sizes the results use (N = 10³ and 10⁴).
* The joint view's ``MultiDiscrete`` action space through a Minari dataset round trip.
* SuperSuit's vector-env path (``pettingzoo_env_to_vec_env_v1`` + ``concat_vec_envs_v1``).
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import os
import pickle
import types
import warnings

import cloudpickle
import gymnasium as gym
import numpy as np
import pytest
from pettingzoo.test import (
    api_test,
    max_cycles_test,
    parallel_api_test,
    parallel_seed_test,
    performance_benchmark,
    render_test,
    seed_test,
    state_test,
)

from mfdiff_envs import battle_v0, ising_v0, squeeze_v0
from mfdiff_envs.battle import BattleCore

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # render_mode="human" without a display

HAS_MAGENT = importlib.util.find_spec("magent2") is not None
needs_magent = pytest.mark.skipif(
    not HAS_MAGENT, reason="magent2 missing: pip install 'magent2>=0.3.4'"
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


# ------------------------------------------------------------------ pettingzoo.test, all of it
def _magent():
    from mfdiff_envs import magent_battle_v0

    return magent_battle_v0


SUITE = [
    pytest.param(lambda: squeeze_v0, {"n_agents": 10}, id="squeeze"),
    pytest.param(lambda: ising_v0, {"n_agents": 16}, id="ising"),
    pytest.param(lambda: battle_v0, {"n_agents": 10, "opponent": None}, id="battle-2team"),
    pytest.param(lambda: battle_v0, {"n_agents": 10, "opponent": "expert"}, id="battle-vs-expert"),
    pytest.param(
        _magent, {"n_agents": 10, "opponent": None}, id="magent-2team", marks=needs_magent
    ),
    pytest.param(
        _magent, {"n_agents": 10, "opponent": "expert"}, id="magent-vs-expert", marks=needs_magent
    ),
]


def _small(mod, kw) -> types.SimpleNamespace:
    """The shim's constructors bound to small-N kwargs (what max_cycles_test calls)."""
    return types.SimpleNamespace(
        env=functools.partial(mod.env, **kw), parallel_env=functools.partial(mod.parallel_env, **kw)
    )


@pytest.mark.parametrize(("get", "kw"), SUITE)
def test_pettingzoo_suite(get, kw):
    small = _small(get(), kw)
    api_test(small.env(), num_cycles=30)
    parallel_api_test(small.parallel_env(), num_cycles=30)
    seed_test(small.env, num_cycles=30)
    parallel_seed_test(small.parallel_env, num_cycles=30)
    max_cycles_test(small)
    render_test(small.env)
    state_test(small.env(), small.parallel_env())


@pytest.mark.parametrize("n", [1000, 10_000])
@pytest.mark.parametrize(("mod", "kw"), [(squeeze_v0, {}), (ising_v0, {}),
                                         (battle_v0, {"opponent": "expert"})],
                         ids=["squeeze", "ising", "battle"])
def test_pettingzoo_parallel_checks_at_large_n(mod, kw, n):
    """PettingZoo's parallel API and seed tests at the population sizes of the results (Ising
    takes the nearest square lattice), where a per-agent Python detail would show."""
    if mod is ising_v0:
        n = round(n**0.5) ** 2
    parallel_api_test(mod.parallel_env(n_agents=n, **kw), num_cycles=5)
    parallel_seed_test(functools.partial(mod.parallel_env, n_agents=n, **kw), num_cycles=5)


@pytest.mark.slow
@pytest.mark.parametrize(("get", "kw"), SUITE)
def test_pettingzoo_performance_benchmark(get, kw):
    performance_benchmark(_small(get(), kw).env())


@pytest.mark.parametrize(("get", "kw"), SUITE)
def test_state_on_every_view(get, kw):
    """state() / state_space on the parallel, AEC (parallel_to_aec forwards them) and joint view;
    the state changes as the episode runs and is a copy (not the core's live arrays)."""
    mod = get()
    par, aec, joint = mod.parallel_env(**kw), mod.env(**kw), mod.joint_env(**kw)
    assert par.state_space == aec.state_space
    par.reset(seed=0)
    aec.reset(seed=0)
    joint.reset(seed=0)
    s0 = par.state()
    assert par.state_space.contains(s0) and s0.shape == (par.core.state_dim,)
    assert (par.state_space.low[-1], par.state_space.high[-1]) == (0.0, 1.0)  # the time
    np.testing.assert_array_equal(s0, aec.state())
    np.testing.assert_array_equal(s0, joint.state())
    par.step(dict.fromkeys(par.agents, 1))
    s1 = par.state()
    assert par.state_space.contains(s1) and s1[-1] > s0[-1] and not np.shares_memory(s0, s1)


@pytest.mark.parametrize(("get", "kw"), SUITE)
def test_render_human_opens_a_window(get, kw):
    import pygame

    mod = get()
    for env in (
        mod.parallel_env(render_mode="human", **kw),
        mod.joint_env(render_mode="human", **kw),
    ):
        env.reset(seed=0)
        assert env.render() is None
        assert pygame.display.get_surface().get_size()[0] > 8
        # a copy does not take the window (pygame surfaces do not pickle); it opens its own
        window = copy.deepcopy(env._window)
        assert window._screen is None and env._window._screen is not None
        window.show(env.core.render_rgb())
        env.close()
        assert env._window._screen is None
        window.close()


# ------------------------------------------------------------------ SuperSuit / SB3 vector envs
VEC = [
    pytest.param(squeeze_v0, {"n_agents": 10, "max_cycles": 12}, id="squeeze"),
    pytest.param(ising_v0, {"n_agents": 16, "max_cycles": 12}, id="ising"),
    pytest.param(battle_v0, {"n_agents": 40, "opponent": "expert", "max_cycles": 150}, id="battle"),
    pytest.param(
        battle_v0, {"n_agents": 20, "opponent": None, "max_cycles": 40}, id="battle-2team"
    ),
]


@pytest.mark.parametrize(("mod", "kw"), VEC)
def test_supersuit_concat_vec_envs(mod, kw):
    ss = pytest.importorskip("supersuit")
    from mfdiff_envs.wrappers import black_death

    env = black_death(mod.parallel_env(**kw))  # agents die in Battle: SuperSuit needs them kept
    venv = ss.concat_vec_envs_v1(
        ss.pettingzoo_env_to_vec_env_v1(env), num_vec_envs=2, num_cpus=0, base_class="gymnasium"
    )
    n = len(env.possible_agents)
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (2 * n, env.core.obs_dim)
    rng = np.random.default_rng(0)
    ends, min_hp, red_dead = 0, 1.0, False
    for _ in range(kw["max_cycles"] + 2):
        obs, rew, term, trunc, _ = venv.step(rng.integers(0, env.core.n_actions, 2 * n))
        assert np.isfinite(obs).all() and np.isfinite(rew).all()
        ends += int(np.all(term | trunc))
        if mod is battle_v0:
            live = obs[:, 0] > 0  # hp / 10; black-death rows are zeros
            min_hp = min(min_hp, obs[live, 0].min(initial=1.0))
            red_dead |= bool((~live).any())
    assert ends >= 1  # episodes end and auto-reset (SuperSuit's black_death_v3 never ends them)
    if mod is battle_v0:  # attacks land in the cloudpickled copies (no 300-step ties)
        assert min_hp < 1.0
        if kw["opponent"] == "expert":
            assert red_dead


@pytest.mark.parametrize("copier", list(COPIERS))
@pytest.mark.parametrize("view", ["parallel", "aec"])
@pytest.mark.parametrize(("mod", "kw"), FAMILIES[1:])  # Squeeze has no randomness
def test_unseeded_copies_of_a_fresh_env_differ(mod, kw, view, copier):
    """Regression: the core drew its generator at construction, so every copy taken before the
    first reset shared it and unseeded resets of the copies gave identical episodes (SuperSuit's
    concat_vec_envs_v1 pickles one fresh env into all its copies; SB3 resets without a seed)."""
    if mod is ising_v0:  # 16 spins: two independent resets agree with probability 2**-16
        kw = {**kw, "n_agents": 100}
    env = VIEWS[view][0](mod, kw)
    twin = COPIERS[copier](env)
    env.reset()
    twin.reset()
    assert not np.array_equal(env.unwrapped.core.state(), twin.unwrapped.core.state())


def test_supersuit_unseeded_copies_differ():
    ss = pytest.importorskip("supersuit")
    venv = ss.concat_vec_envs_v1(
        ss.pettingzoo_env_to_vec_env_v1(ising_v0.parallel_env(n_agents=100)), 4, num_cpus=0,
        base_class="gymnasium",
    )
    obs, _ = venv.reset()
    copies = obs.reshape(4, 100, -1)
    assert not any(np.array_equal(copies[0], copies[i]) for i in (1, 2, 3))


def test_aec_to_parallel_of_env_is_the_native_view():
    """``env()`` keeps the one layering PettingZoo's aec_to_parallel unwraps: any other falls
    back to its generic wrapper, quadratic in N (7.7 s per step at N = 1000)."""
    from pettingzoo.utils.conversions import aec_to_parallel

    for make in (ising_v0.env, ising_v0.raw_env):
        par = aec_to_parallel(make(n_agents=16))
        assert type(par) is type(ising_v0.parallel_env(n_agents=16))


@pytest.mark.parametrize("copier", list(COPIERS))
def test_black_death_zero_observation_stays_read_only_in_copies(copier):
    """Regression: pickle and deepcopy dropped the shared zero array's read-only flag, so a write
    into one dead agent's observation leaked to every dead agent of the copy."""
    from mfdiff_envs.wrappers import black_death

    env = COPIERS[copier](black_death(battle_v0.parallel_env(n_agents=4, opponent=None)))
    obs, _ = env.reset(seed=0)
    zero = env._zero_obs[env.possible_agents[0]]
    with pytest.raises(ValueError, match="read-only"):
        zero -= 0.5
    assert not zero.any()


def test_black_death_zero_observation_in_the_space_dtype():
    ss = pytest.importorskip("supersuit")
    from mfdiff_envs.wrappers import black_death

    env = black_death(ss.dtype_v0(battle_v0.parallel_env(n_agents=4, opponent=None), np.float16))
    env.reset(seed=0)
    obs = {**env._zero_obs}
    assert all(o.dtype == np.float16 for o in obs.values())
    assert all(env.observation_space(a).contains(o) for a, o in obs.items())


@pytest.mark.xfail(strict=True, reason="SuperSuit black_death_v3 bug (issue #254, PR #265)")
def test_supersuit_black_death_v3_ends_episodes():
    """Documents SuperSuit's bug: black_death_v3 ends an episode on (terms & truncs).all(), so a
    truncated episode never ends and the next step reaches an env with no live agents. When this
    XPASSes, SuperSuit has fixed it: update docs/envs.md and mfdiff_envs/wrappers.py."""
    ss = pytest.importorskip("supersuit")
    env = ss.black_death_v3(squeeze_v0.parallel_env(n_agents=4, max_cycles=2))
    env.reset(seed=0)
    for _ in range(2):
        _, _, term, trunc, _ = env.step(dict.fromkeys(env.agents, 1))
    assert all(term[a] or trunc[a] for a in term) and not env.agents



def test_bound_policy_refuses_observations_outside_the_env_space():
    """A wrapper that rescales observations but keeps the space (SuperSuit's
    observation_lambda_v0 with an identity space function) passes bind's space check; the
    bound policy then refuses the values (an outside review, sixty-first update), naming the
    feature. The env's own observations, also stored as float16 (dtype_v0: values next to a
    bound may round past it), play through; unbound, act_batch does not check."""
    ss = pytest.importorskip("supersuit")
    from mfdiff_agents.policy import RandomPolicy

    env = ss.observation_lambda_v0(ising_v0.parallel_env(n_agents=16, max_cycles=3),
                                   lambda obs, space: obs * 2.0, lambda space: space)
    policy = RandomPolicy(obs_dim=4, n_actions=2, seed=0).bind(env)
    obs, _ = env.reset(seed=0)
    with pytest.raises(ValueError, match=r"outside the observation space of the bound env for 16 "
                                         r"live .*feature 0: -?2 not in \[-1, 1\].*wrapper"):
        policy.act(obs)
    unbound = RandomPolicy(obs_dim=4, n_actions=2, seed=0)
    assert len(unbound.act_batch(np.stack(list(obs.values())))) == 16
    # the env's own observations, bare and as float16, play a whole episode bound
    for wrap in (lambda e: e, lambda e: ss.dtype_v0(e, np.float16)):
        env = wrap(battle_v0.parallel_env(n_agents=40, max_cycles=20, opponent=None))
        policy = RandomPolicy(obs_dim=13, n_actions=env.action_space(env.possible_agents[0]).n,
                              seed=0).bind(env)
        obs, _ = env.reset(seed=1)
        while env.agents:
            obs, *_ = env.step(policy.act(obs))
    # a float16 value rounded past a bound (the distance feature's √2) is the env's own
    from mfdiff_envs.battle import OBS_NAMES

    row = np.zeros((1, 13), np.float32)
    row[0, OBS_NAMES.index("enemy_dist")] = np.float16(1.4146)  # 1.41504 > √2 = 1.41421
    bare = RandomPolicy(obs_dim=13, n_actions=policy.n_actions, seed=0).bind(
        battle_v0.parallel_env(n_agents=40, opponent=None))
    with pytest.raises(ValueError, match="outside the observation space of the bound env"):
        bare.act_batch(row)
    assert policy.act_batch(row).shape == (1,)  # bound to the float16 env: one step wider


def test_unbound_trained_policy_warns_once_outside_its_training_env_space():
    """Unbound, a trained policy compares its observations with its training env's bounds and
    warns once (an ObservationBoundsWarning naming the feature and bind); bound, it raises.
    In bounds, dead agents' rows, or a checkpoint without an env id: no warning (sixty-second
    update: before, an unbound act_batch took rescaled observations silently)."""
    import warnings

    from mfdiff_agents.baselines.bc import BCPolicy, Config
    from mfdiff_agents.checkpoint import EnvFacts
    from mfdiff_agents.policy import ObservationBoundsWarning

    def bc(**facts):
        facts = EnvFacts(obs_dim=4, n_actions=2, **facts)
        cfg = Config(hidden=8, depth=1, device="cpu")
        return BCPolicy(BCPolicy.build_model(cfg, facts), cfg, env=facts, seed=0, device="cpu")

    trained_on = dict(family="ising", env_id="mfdiff/Ising-v0",
                      env_kwargs={"n_agents": 16, "max_cycles": 3})
    env = ising_v0.parallel_env(n_agents=16, max_cycles=3)
    obs, _ = env.reset(seed=0)
    x = np.stack(list(obs.values()))
    pol = bc(**trained_on)
    alive = np.zeros(16, bool)
    alive[3] = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pol.act_batch(x)  # its env's own observations
        far = 2.0 * x
        far[3] = x[3]
        pol.act_batch(far, alive)  # the rows outside are dead agents'
        bc().act_batch(2.0 * x)  # no env id: nothing to compare with
    with pytest.warns(ObservationBoundsWarning, match=r"trained on for 16 live agent\(s\) "
                      r"\(row 0, feature 0: -?2 not in \[-1, 1\]\).*policy\.bind\(env\)"):
        pol.act_batch(2.0 * x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pol.act_batch(2.0 * x)  # once
    bound = bc(**trained_on).bind(env)
    assert bound.act_batch(far, alive).shape == (16,)  # dead rows outside: not checked
    assert "_tiled_bounds" in vars(bound)  # a cache: not pickled (SubprocVectorEnv), rebuilt
    import pickle

    copy = pickle.loads(pickle.dumps(bound))
    assert "_tiled_bounds" not in vars(copy)
    with pytest.raises(ValueError, match="outside the observation space of the bound env"):
        copy.act_batch(2.0 * x)
    # bound to an env without mfdiff bounds: the warning does not advise bind
    other = bc(**trained_on)
    other._env = object()
    with pytest.warns(ObservationBoundsWarning, match="exposes no mfdiff bounds"):
        other.act_batch(2.0 * x)
    with pytest.raises(ValueError, match="outside the observation space of the bound env"):
        bound.act_batch(2.0 * x)
    with pytest.raises(ValueError, match=r"for 1 live agent\(s\), rows \[5\]"):
        bound.act_batch(np.where(np.arange(16)[:, None] == 5, 2.0 * x, x))


def test_bound_policy_bounds_widen_for_the_coarsest_dtype_and_keep_infinite_ones():
    """The bounds widen by one step of the coarsest float dtype anywhere in the wrapper chain
    (float16 under a wrapper that declares float32 again), each side by its own size: a bound
    infinite on one side leaves the other finite (an outside review, sixty-first update)."""
    ss = pytest.importorskip("supersuit")
    from mfdiff_agents.policy import _coarsest_float_eps, obs_bounds_of

    env = ising_v0.parallel_env(n_agents=16)
    assert _coarsest_float_eps(env) == np.finfo(np.float32).eps
    twice = ss.dtype_v0(ss.dtype_v0(env, np.float16), np.float32)
    assert _coarsest_float_eps(twice) == np.finfo(np.float16).eps

    class Core:
        def obs_bounds(self):
            return np.array([-np.inf, 0.0], np.float32), np.array([1.0, np.inf], np.float32)

    low, high = obs_bounds_of(Core(), 2, float(np.finfo(np.float16).eps))
    assert low[0] == -np.inf and high[1] == np.inf
    assert 1.0 < high[0] < 1.002 and -0.002 < low[1] < 0.0
    assert obs_bounds_of(Core(), 3) is None  # another width: no check
