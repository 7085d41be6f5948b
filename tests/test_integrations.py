"""TorchRL and Tianshou integrations: specs, shapes, masks, seeding, picklability, errors."""

from __future__ import annotations

import importlib.util
import pickle

import numpy as np
import pytest

from mfdiff_agents.policy import Policy, RandomPolicy


class FirstObsPolicy(Policy):
    """Deterministic: action = (index of the agent's observation row) mod A — checks row order."""

    def _act(self, obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.arange(obs.shape[0]) % self.n_actions


class CountingPolicy(RandomPolicy):
    resets = 0

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self.resets += 1


ENVS = [
    ("mfdiff/GaussianSqueeze-v0", {"n_agents": 12, "max_cycles": 4}),
    ("mfdiff/Ising-v0", {"n_agents": 16, "max_cycles": 4}),
    ("mfdiff/Battle-v0", {"n_agents": 20, "opponent": None, "max_cycles": 6}),
    ("mfdiff/Battle-v0", {"n_agents": 20, "opponent": "expert", "max_cycles": 6}),
]


# ----------------------------------------------------------------------------- TorchRL
@pytest.mark.parametrize(("env_id", "kw"), ENVS)
@pytest.mark.parametrize("group_map", ["agents", "prefix"])
def test_native_env_passes_check_env_specs(env_id: str, kw: dict, group_map: str) -> None:
    pytest.importorskip("torchrl")
    from torchrl.envs.utils import check_env_specs, check_marl_grouping

    from mfdiff_agents.integrations.torchrl import make_torchrl_env

    env = make_torchrl_env(env_id, group_map=group_map, return_state=True, seed=0, **kw)
    check_env_specs(env, seed=3)
    check_marl_grouping(env.group_map, list(env.core.agent_names))
    td = env.reset()
    low, high = env.core.obs_bounds()
    for g, names in env.group_map.items():
        assert td[g, "observation"].shape == (len(names), env.core.obs_dim)
        spec = env.full_observation_spec[g, "observation"]  # the envs' per-feature bounds
        np.testing.assert_array_equal(spec.space.low[0].cpu().numpy(), low)
        np.testing.assert_array_equal(spec.space.high[0].cpu().numpy(), high)
        assert spec.is_in(td[g, "observation"])
        assert env.full_action_spec[g, "action"].shape == (len(names),)
        assert env.full_done_spec[g, "done"].shape == (len(names), 1)


def test_native_env_seeding_reproduces() -> None:
    pytest.importorskip("torchrl")
    from mfdiff_agents.integrations.torchrl import make_torchrl_env

    def run(seed: int) -> np.ndarray:
        env = make_torchrl_env("mfdiff/Ising-v0", n_agents=16, max_cycles=5)
        env.set_seed(seed)
        td = env.rollout(5, policy=None)  # random actions from the spec (torch seeded too)
        return td["next", "agents", "observation"].numpy()

    import torch

    torch.manual_seed(0)
    a = run(1)
    torch.manual_seed(0)
    b = run(1)
    torch.manual_seed(0)
    c = run(2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_module_matches_act_batch_on_native_battle_with_deaths() -> None:
    pytest.importorskip("torchrl")
    from mfdiff_agents.baselines.scripted import make_scripted
    from mfdiff_agents.integrations.torchrl import PopulationPolicyModule, make_torchrl_env

    env = make_torchrl_env("mfdiff/Battle-v0", n_agents=20, opponent=None, max_cycles=200,
                           seed=0)
    module = PopulationPolicyModule(make_scripted("expert", env.core, seed=0))
    td = env.rollout(200, policy=module)
    mask = td["agents", "mask"]
    assert not mask[-1].all() and mask[0].all()  # agents died during the episode
    assert (td["agents", "action"][~mask] == 0).all()  # dead agents get action 0
    assert td["next", "done"][-1].item() and not td["next", "done"][:-1].any()


def test_module_batched_and_one_hot() -> None:
    pytest.importorskip("torchrl")
    import torch
    from tensordict import TensorDict

    from mfdiff_agents.integrations.torchrl import PopulationPolicyModule

    obs = torch.zeros(2, 3, 5, 4)  # [*B=(2,3), n=5, d=4]
    pols = [FirstObsPolicy(obs_dim=4, n_actions=3) for _ in range(6)]
    td = TensorDict({"agents": TensorDict({"observation": obs}, [2, 3, 5])}, [2, 3])
    out = PopulationPolicyModule(pols)(td)
    assert out["agents", "action"].shape == (2, 3, 5)
    assert out["agents", "action"][1, 2].tolist() == [0, 1, 2, 0, 1]
    td = TensorDict({"agents": TensorDict({"observation": obs}, [2, 3, 5])}, [2, 3])
    out = PopulationPolicyModule(pols[0], categorical_actions=False)(td)
    assert out["agents", "action"].shape == (2, 3, 5, 3)
    assert (out["agents", "action"].sum(-1) == 1).all()
    with pytest.raises(ValueError, match="6 envs"):
        PopulationPolicyModule(pols[:2])(td)
    # TorchRL's PettingZooWrapper names its group "agent": the error names the groups there
    td = TensorDict({"agent": TensorDict({"observation": obs}, [2, 3, 5])}, [2, 3])
    with pytest.raises(KeyError, match=r"its groups: \['agent'\]"):
        PopulationPolicyModule(pols)(td)


def test_module_resets_policy_on_is_init() -> None:
    pytest.importorskip("torchrl")
    from torchrl.envs import InitTracker, TransformedEnv

    from mfdiff_agents.integrations.torchrl import PopulationPolicyModule, make_torchrl_env

    env = TransformedEnv(make_torchrl_env("mfdiff/GaussianSqueeze-v0", n_agents=8, max_cycles=3,
                                          seed=0), InitTracker())
    pol = CountingPolicy(obs_dim=11, n_actions=10, seed=0)
    env.rollout(7, policy=PopulationPolicyModule(pol), break_when_any_done=False)
    assert pol.resets == 3  # episodes start at steps 0, 3, 6


def test_seeded_scripted_policy_reproduces_under_init_tracker() -> None:
    """InitTracker resets the policy with no seed at each episode start: a scripted expert
    seeded alike must still play alike run to run (it drew an OS-entropy stream there)."""
    pytest.importorskip("torchrl")
    import torch
    from torchrl.envs import InitTracker, TransformedEnv

    from mfdiff_agents.baselines.scripted import make_scripted
    from mfdiff_agents.integrations.torchrl import PopulationPolicyModule, make_torchrl_env

    actions = []
    for _ in range(2):
        env = TransformedEnv(make_torchrl_env("mfdiff/Ising-v0", n_agents=49, max_cycles=10),
                             InitTracker())
        env.set_seed(0)
        module = PopulationPolicyModule(make_scripted("expert", env.base_env.core, seed=0))
        actions.append(env.rollout(10, module)["agents", "action"])
    assert torch.equal(*actions)


def test_pettingzoo_wrapper_with_module_matches_native() -> None:
    pytest.importorskip("torchrl")
    from mfdiff_agents.integrations.torchrl import (
        PopulationPolicyModule,
        make_pettingzoo_wrapper,
        make_torchrl_env,
    )

    kw = {"n_agents": 12, "max_cycles": 4}
    pz = make_pettingzoo_wrapper("mfdiff/GaussianSqueeze-v0", seed=5, **kw)
    assert list(pz.group_map) == ["agent"]
    pol = FirstObsPolicy(obs_dim=11, n_actions=10)
    a = pz.rollout(4, policy=PopulationPolicyModule(pol, group="agent"))
    nat = make_torchrl_env("mfdiff/GaussianSqueeze-v0", **kw)
    b = nat.rollout(4, policy=PopulationPolicyModule(pol))
    assert np.allclose(a["next", "agent", "reward"].numpy(), b["next", "agents", "reward"].numpy())
    assert a["next", "done"][-1].item() and b["next", "done"][-1].item()


def test_module_rejects_non_policy() -> None:
    pytest.importorskip("torchrl")
    from mfdiff_agents.integrations.torchrl import PopulationPolicyModule

    with pytest.raises(TypeError, match="mfdiff Policy"):
        PopulationPolicyModule([object()])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="num_threads"):
        PopulationPolicyModule(RandomPolicy(obs_dim=2, n_actions=2), num_threads=0)


# ----------------------------------------------------------------------------- Tianshou
def test_tianshou_policy_forward_masks_and_resets() -> None:
    pytest.importorskip("tianshou")
    import gymnasium as gym
    from tianshou.data import Batch

    from mfdiff_agents.integrations.tianshou import PopulationTianshouPolicy

    space = gym.spaces.MultiDiscrete([3] * 4)
    made: list[CountingPolicy] = []

    def factory() -> CountingPolicy:
        made.append(CountingPolicy(obs_dim=2, n_actions=3, seed=len(made)))
        return made[-1]

    pol = PopulationTianshouPolicy(factory, space)
    alive = np.array([[True, False, True, True], [True, True, True, True]])
    batch = Batch(obs=np.zeros((2, 4, 2), np.float32), info=Batch(env_id=np.array([1, 0]),
                                                                    alive=alive))
    out = pol(batch)
    assert out.act.shape == (2, 4) and out.act[0, 1] == 0
    assert out.state.tolist() == [1, 1] and len(made) == 2 and all(p.resets == 1 for p in made)
    # env 1 (row 0) started a new episode while env 0 steps: Tianshou's env_id (step infos
    # only) cannot say whose row it is; EnvIndexInfo's key (reset infos too) can
    with pytest.raises(RuntimeError, match="EnvIndexInfo"):
        pol(batch, state=np.array([0, 1]))
    assert pol.policy_for(1).resets == 1 and pol.policy_for(0).resets == 1
    indexed = Batch(obs=batch.obs, info=Batch(mfdiff_env_id=np.array([1, 0]), alive=alive))
    pol(indexed, state=np.array([0, 1]))
    assert pol.policy_for(1).resets == 2 and pol.policy_for(0).resets == 1
    with pytest.raises(TypeError, match="MultiDiscrete"):
        PopulationTianshouPolicy(made[0], gym.spaces.Discrete(3))
    from mfdiff_agents import load_policy

    # a factory of factories (load_policy of a scripted name) fails on its first use, clearly
    wrong = PopulationTianshouPolicy(lambda: load_policy("expert"), space)
    with pytest.raises(TypeError, match="not an mfdiff Policy"):
        wrong(batch)


def test_tianshou_collector_serves_each_env_its_own_policy() -> None:
    """Envs whose episodes end at different steps (Ising, max_cycles 5 and 7): after a lone
    reset each env's rows still reach its own policy, which is reset at each of its episode
    starts (found by an outside audit: the reset row's env_id read 0, so env 0's policy acted
    on env 1's first observation and was reset mid-episode)."""
    pytest.importorskip("tianshou")
    from tianshou.data import Collector, VectorReplayBuffer
    from tianshou.env import DummyVectorEnv

    from mfdiff_agents.integrations.tianshou import (
        EnvIndexInfo,
        PopulationTianshouPolicy,
        _JointEnvFactory,
    )

    class TimeLog(CountingPolicy):  # the time feature t / max_cycles it acts on, per step
        def __init__(self, **kw) -> None:
            super().__init__(**kw)
            self.times: list[float] = []

        def _act(self, obs, mask):
            self.times.append(round(float(obs[0, 3]), 3))
            return super()._act(obs, mask)

    def collect(fns) -> list[TimeLog]:
        pols = [TimeLog(obs_dim=4, n_actions=2) for _ in fns]
        venv = DummyVectorEnv(fns)
        Collector(PopulationTianshouPolicy(pols, venv.action_space[0]), venv,
                  VectorReplayBuffer(100, len(fns))).collect(n_step=24,
                                                              reset_before_collect=True)
        return pols

    kw = [{"n_agents": 9, "max_cycles": 5}, {"n_agents": 9, "max_cycles": 7}]
    pols = collect([_JointEnvFactory("mfdiff/Ising-v0", k, i) for i, k in enumerate(kw)])
    for pol, k in zip(pols, kw, strict=True):
        t = k["max_cycles"]
        # every observed time is a multiple of 1 / max_cycles of this env, in order
        assert pol.times == [round((i % t) / t, 3) for i in range(len(pol.times))]
        assert pol.resets == -(-len(pol.times) // t)  # one reset per episode started
    # a vector env without the index on reset infos: refused at the first lone reset
    with pytest.raises(RuntimeError, match="EnvIndexInfo"):
        collect([_JointEnvFactory("mfdiff/Ising-v0", k) for k in kw])
    with pytest.raises(ValueError, match="index"):
        EnvIndexInfo(_JointEnvFactory("mfdiff/Ising-v0", kw[0])(), -1)
    # equal episodes, n_episode not a multiple of the env count: Tianshou drops env 0 and
    # resets envs 1 and 2 together, two rows without any env index, which are not envs 0 and 1
    same = {"n_agents": 9, "max_cycles": 3}
    fns = [_JointEnvFactory("mfdiff/Ising-v0", same) for _ in range(3)]
    venv = DummyVectorEnv(fns)
    pol = PopulationTianshouPolicy([TimeLog(obs_dim=4, n_actions=2) for _ in fns],
                                   venv.action_space[0])
    with pytest.raises(RuntimeError, match="2 of the 3 envs reset together"):
        Collector(pol, venv, VectorReplayBuffer(100, 3)).collect(n_episode=5,
                                                                 reset_before_collect=True)
    # with the index the same collection runs, each env served by its own policy
    indexed = [_JointEnvFactory("mfdiff/Ising-v0", same, i) for i in range(3)]
    venv = DummyVectorEnv(indexed)
    logs = [TimeLog(obs_dim=4, n_actions=2) for _ in indexed]
    Collector(PopulationTianshouPolicy(logs, venv.action_space[0]), venv,
              VectorReplayBuffer(100, 3)).collect(n_episode=5, reset_before_collect=True)
    for log in logs:
        assert log.times == [round((i % 3) / 3, 3) for i in range(len(log.times))]


def test_shared_stateful_policy_one_env_only() -> None:
    """Regression (outside audit): a shared policy was never reset, so the planner carried
    episode 1's plan into episode 2, and MFQ shared by two envs gave env 1 env 0's previous
    mean action. A shared policy is now reset at each episode start and a stateful one is
    refused for a second env, in Tianshou and TorchRL alike."""
    pytest.importorskip("tianshou")
    import gymnasium as gym
    from tianshou.data import Batch

    from mfdiff_agents.integrations.tianshou import PopulationTianshouPolicy

    class Stateful(CountingPolicy):
        stateful = True

    space = gym.spaces.MultiDiscrete([3] * 4)
    obs = np.zeros((1, 4, 2), np.float32)
    one = Stateful(obs_dim=2, n_actions=3)
    pol = PopulationTianshouPolicy(one, space)
    state = pol(Batch(obs=obs, info=Batch())).state
    pol(Batch(obs=obs, info=Batch()), state=state)
    assert one.resets == 1
    pol(Batch(obs=obs, info=Batch()), state=np.array([0]))  # the next episode starts
    assert one.resets == 2
    two = Batch(obs=np.zeros((2, 4, 2), np.float32), info=Batch())
    with pytest.raises(RuntimeError, match="stateful"):
        PopulationTianshouPolicy(Stateful(obs_dim=2, n_actions=3), space)(two)
    stepped = Batch(obs=obs, info=Batch(env_id=np.array([1])))
    with pytest.raises(RuntimeError, match=r"envs \[0, 1\]"):
        pol(stepped, state=np.array([3]))  # env 1's row after env 0's
    PopulationTianshouPolicy(CountingPolicy(obs_dim=2, n_actions=3), space)(two)  # stateless
    # the same object listed per env ([policy] * n, an outside audit) or made by a factory
    # that returns it each time: refused; stateless repeats are fine
    with pytest.raises(ValueError, match=r"envs 0 and 1.*\[policy\] \* n_envs"):
        PopulationTianshouPolicy([one] * 2, space)
    shared = PopulationTianshouPolicy(lambda: one, space)
    shared.policy_for(0)
    with pytest.raises(ValueError, match="envs 0 and 1"):
        shared.policy_for(1)
    stateless = CountingPolicy(obs_dim=2, n_actions=3)
    PopulationTianshouPolicy([stateless] * 2, space)(two)
    if importlib.util.find_spec("torchrl") is None:
        return
    import torch
    from tensordict import TensorDict

    from mfdiff_agents.integrations.torchrl import PopulationPolicyModule

    td = TensorDict({"agents": TensorDict({"observation": torch.zeros(2, 4, 2)}, [2, 4]),
                     "is_init": torch.ones(2, 1, dtype=torch.bool)}, [2])  # InitTracker's key
    with pytest.raises(ValueError, match="stateful"):
        PopulationPolicyModule(Stateful(obs_dim=2, n_actions=3))(td)
    PopulationPolicyModule([Stateful(obs_dim=2, n_actions=3) for _ in range(2)])(td)
    with pytest.raises(ValueError, match="envs 0 and 1"):
        PopulationPolicyModule([one] * 2)


def test_tianshou_env_factory_pickles() -> None:
    pytest.importorskip("tianshou")
    from mfdiff_agents.integrations.tianshou import _JointEnvFactory

    fn = pickle.loads(pickle.dumps(_JointEnvFactory("mfdiff/Ising-v0", {"n_agents": 16})))
    env = fn()
    obs, info = env.reset(seed=0)
    assert obs.shape == (16, env.unwrapped.core.obs_dim) and info["alive"].all()


def test_missing_extra_names_it() -> None:
    from mfdiff_agents.integrations import require

    with pytest.raises(ImportError, match=r"pip install 'mfdiff\[torchrl\]'"):
        require("nosuchlib_xyz", "torchrl")


# ------------------------------------------------ audit 2026-12: seeds, episode starts, env checks
def _tiny_planner(core, seed: int = 0):
    """A small untrained MF-Diffuser planner (stateful, samples with its seeded generator)."""
    import torch

    from mfdiff_agents.checkpoint import EnvFacts
    from mfdiff_agents.diffuser.config import Config
    from mfdiff_agents.diffuser.planner import MFDiffuserPlanner

    cfg = Config(horizon=4, replan_every=3, width=16, depth=1, n_timesteps=20,
                 k_schedule=(4, 16), ddim_steps=4, device="cpu")
    env = EnvFacts(obs_dim=core.obs_dim, n_actions=core.n_actions)
    torch.manual_seed(0)  # same weights every call
    return MFDiffuserPlanner(MFDiffuserPlanner.build_model(cfg, env), cfg, env=env, seed=seed,
                             device="cpu", num_threads=1)


def _tiny_bc(core, **env_kwargs):
    """An untrained BC policy whose checkpoint facts say it was trained on ``core``'s family
    with ``core.kwargs()`` updated by ``env_kwargs``."""
    from mfdiff_agents.baselines.bc import BCPolicy, Config
    from mfdiff_agents.checkpoint import EnvFacts

    facts = EnvFacts(obs_dim=core.obs_dim, n_actions=core.n_actions, family=core.family,
                     env_id="mfdiff/test", env_kwargs={**core.kwargs(), **env_kwargs})
    cfg = Config(hidden=8, depth=1, device="cpu")
    return BCPolicy(BCPolicy.build_model(cfg, facts), cfg, env=facts, seed=0, device="cpu")


def _core(env_id: str, **kw):
    import importlib

    from mfdiff_envs.registration import ENV_MODULES

    return importlib.import_module(ENV_MODULES[env_id]).joint_env(**kw).core


def test_native_env_reset_seed_replays_the_eval_episode() -> None:
    """Audit: reset(seed=...) was ignored (and any keyword accepted), and the module reset the
    policy with no seed. Now env.reset(seed=episode_seed(s, e)) + a module given the env play
    exactly the episode ``mfdiff eval`` plays (env and sampling planner alike)."""
    pytest.importorskip("torchrl")
    from torchrl.envs import InitTracker, TransformedEnv

    from mfdiff_agents.evaluation.run import episode_seed
    from mfdiff_agents.integrations.torchrl import PopulationPolicyModule, make_torchrl_env
    from mfdiff_envs.rollout import rollout

    kw = {"n_agents": 16, "max_cycles": 5}
    es = episode_seed(2, 1)
    ref = rollout(_core("mfdiff/Ising-v0", **kw), _tiny_planner(_core("mfdiff/Ising-v0", **kw),
                                                                 seed=99),
                  seed=es, record=True).episode
    base = make_torchrl_env("mfdiff/Ising-v0", seed=0, **kw)
    env = TransformedEnv(base, InitTracker())
    module = PopulationPolicyModule(_tiny_planner(base.core, seed=7), env=env)
    td = env.reset(seed=es)
    assert base.current_seed == es
    out = env.rollout(5, module, auto_reset=False, tensordict=td)
    np.testing.assert_array_equal(out["agents", "observation"].numpy(),
                                  ref["observations"][:-1])
    np.testing.assert_array_equal(out["agents", "action"].numpy(), ref["actions"])
    # later unseeded resets draw from a stream re-seeded as set_seed(es) does
    first = env.reset()["agents", "observation"]
    env.set_seed(es)
    assert np.array_equal(env.reset()["agents", "observation"].numpy(), first.numpy())
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['options'\]"):
        env.reset(options={})
    with pytest.raises(ValueError, match="seed"):
        base.reset(seed=-1)
    # without env= the module cannot know the seed: the planner's samples are its own
    plain = PopulationPolicyModule(_tiny_planner(base.core, seed=7))
    other = env.rollout(5, plain, auto_reset=False, tensordict=env.reset(seed=es))
    assert not np.array_equal(other["agents", "action"].numpy(), ref["actions"])


def test_module_refuses_a_stateful_policy_without_init_tracker() -> None:
    """Audit: without InitTracker a second rollout went on with the first episode's plan."""
    pytest.importorskip("torchrl")
    from torchrl.envs import InitTracker, TransformedEnv

    from mfdiff_agents.integrations.torchrl import PopulationPolicyModule, make_torchrl_env

    base = make_torchrl_env("mfdiff/Ising-v0", n_agents=16, max_cycles=3, seed=0)
    with pytest.raises(RuntimeError, match=r"InitTracker\(\)"):
        base.rollout(3, PopulationPolicyModule(_tiny_planner(base.core)))
    stateless = PopulationPolicyModule(CountingPolicy(obs_dim=4, n_actions=2, seed=0))
    for _ in range(2):  # stateless policies act without it
        assert base.rollout(3, stateless).shape == (3,)
    env = TransformedEnv(base, InitTracker())
    pol = _tiny_planner(base.core)
    calls = []
    pol.reset = lambda seed=None, _r=pol.reset: (calls.append(seed), _r(seed))[1]
    module = PopulationPolicyModule(pol, env=env)
    for _ in range(2):
        env.rollout(3, module)
    # each episode start resets the planner with that episode's own core seed
    assert len(calls) == 2 and calls[1] == base.current_seed and calls[0] != calls[1]


def test_module_checks_the_policy_against_the_env() -> None:
    """Audit: the adapters only checked obs_dim. With env= a trained policy's check_env runs
    (another temperature warns) and a Battle group spanning both teams is refused."""
    pytest.importorskip("torchrl")
    from torchrl.envs import InitTracker, TransformedEnv
    from torchrl.envs.utils import MarlGroupMapType

    from mfdiff_agents.baselines.scripted import make_scripted
    from mfdiff_agents.integrations.torchrl import (
        PopulationPolicyModule,
        make_pettingzoo_wrapper,
        make_torchrl_env,
    )

    ising = make_torchrl_env("mfdiff/Ising-v0", n_agents=16, max_cycles=3)
    with pytest.warns(UserWarning, match=r"temperature=.*\(trained: 9\.0\)"):
        PopulationPolicyModule(_tiny_bc(ising.core, temperature=9.0), env=ising)
    squeeze = make_torchrl_env("mfdiff/GaussianSqueeze-v0", n_agents=8, max_cycles=3)
    with pytest.raises(ValueError, match="family"):
        PopulationPolicyModule(_tiny_bc(ising.core), env=squeeze)
    with pytest.raises(KeyError, match=r"its groups: \['agents'\]"):
        PopulationPolicyModule(_tiny_bc(ising.core), group="agent", env=ising)
    with pytest.raises(TypeError, match="MFDiffTorchRLEnv or a PettingZooWrapper"):
        PopulationPolicyModule(_tiny_bc(ising.core), env=object())  # type: ignore[arg-type]

    kw = {"n_agents": 20, "opponent": None, "max_cycles": 4}
    one = TransformedEnv(make_torchrl_env("mfdiff/Battle-v0", **kw), InitTracker())
    bc = _tiny_bc(one.base_env.core, opponent="expert")
    with pytest.raises(ValueError, match=r"\['blue', 'red'\].*ONE population"):
        with pytest.warns(UserWarning, match="opponent"):
            PopulationPolicyModule(bc, env=one)
    pz = make_pettingzoo_wrapper("mfdiff/Battle-v0", group_map=MarlGroupMapType.ALL_IN_ONE_GROUP,
                                 **kw)
    with pytest.raises(ValueError, match="ONE population"):
        with pytest.warns(UserWarning, match="opponent"):
            PopulationPolicyModule(bc, env=pz)
    # one team per group is fine, and per-agent scripted rules may act for both teams
    teams = make_torchrl_env("mfdiff/Battle-v0", group_map="prefix", **kw)
    with pytest.warns(UserWarning, match="opponent"):
        PopulationPolicyModule(bc, group="red", env=teams)
    PopulationPolicyModule(make_scripted("expert", one.base_env.core, seed=0), env=one)


def test_tianshou_compute_action_refuses_stateful_policies() -> None:
    """Audit: Tianshou's compute_action passes state=None each call, read as an episode start:
    a planner was reset every step. Refused for stateful policies; stateless ones act."""
    pytest.importorskip("tianshou")
    from mfdiff_agents.integrations.tianshou import PopulationTianshouPolicy, make_vector_env

    venv = make_vector_env("mfdiff/Ising-v0", 1, n_agents=16, max_cycles=3)
    obs, info = venv.reset()
    core = _core("mfdiff/Ising-v0", n_agents=16, max_cycles=3)
    with pytest.raises(RuntimeError, match="compute_action"):
        PopulationTianshouPolicy(_tiny_planner(core), venv.action_space[0]).compute_action(
            obs[0], info[0])
    counting = CountingPolicy(obs_dim=4, n_actions=2, seed=0)
    act = PopulationTianshouPolicy(counting, venv.action_space[0]).compute_action(obs[0],
                                                                                 info[0])
    assert np.asarray(act).shape == (16,)
    venv.close()


def test_tianshou_seeded_reset_replays_the_eval_episode_and_env_check() -> None:
    """A reset given a seed (gym_reset_kwargs) resets the policy with it, as mfdiff eval does:
    one env, one episode, same actions as eval's; env= runs the trained policy's env check."""
    pytest.importorskip("tianshou")
    from tianshou.data import Collector, VectorReplayBuffer

    from mfdiff_agents.evaluation.run import episode_seed
    from mfdiff_agents.integrations.tianshou import PopulationTianshouPolicy, make_vector_env
    from mfdiff_envs.rollout import rollout

    kw = {"n_agents": 16, "max_cycles": 5}
    es = episode_seed(4, 2)
    ref = rollout(_core("mfdiff/Ising-v0", **kw), _tiny_planner(_core("mfdiff/Ising-v0", **kw),
                                                                 seed=1),
                  seed=es, record=True).episode
    venv = make_vector_env("mfdiff/Ising-v0", 1, **kw)
    pol = PopulationTianshouPolicy([_tiny_planner(_core("mfdiff/Ising-v0", **kw), seed=5)],
                                   venv.action_space[0], env=venv)
    buf = VectorReplayBuffer(20, 1)
    Collector(pol, venv, buf).collect(n_episode=1, reset_before_collect=True,
                                      gym_reset_kwargs={"seed": es})
    np.testing.assert_array_equal(buf.act[:5], ref["actions"])
    venv.close()
    # env=: a trained policy on another temperature warns; Battle's two teams are refused
    with pytest.warns(UserWarning, match="temperature"):
        venv = make_vector_env("mfdiff/Ising-v0", 2, **kw)
        PopulationTianshouPolicy(_tiny_bc(_core("mfdiff/Ising-v0", **kw), temperature=9.0),
                                 venv.action_space[0], env=venv)
    battle = {"n_agents": 20, "opponent": None, "max_cycles": 4}
    venv = make_vector_env("mfdiff/Battle-v0", 2, subproc=True, **battle)
    core = _core("mfdiff/Battle-v0", **battle)
    made = PopulationTianshouPolicy(lambda: _tiny_bc(core), venv.action_space[0], env=venv)
    with pytest.raises(ValueError, match="ONE population"):
        made.policy_for(1)  # a factory's policy is checked when made
    venv.close()
    with pytest.raises(TypeError, match="joint view"):
        import gymnasium as gym

        PopulationTianshouPolicy(CountingPolicy(obs_dim=2, n_actions=2),
                                 gym.spaces.MultiDiscrete([2, 2]),
                                 env=gym.make("CartPole-v1"))
    # env=: observation wrappers are refused, on one env and in a vector env (outside audit)
    from tianshou.env import DummyVectorEnv

    def rescaled():
        return gym.wrappers.RescaleObservation(gym.make("mfdiff/Ising-v0", **kw), -1.0, 1.0)

    for env in (rescaled(), DummyVectorEnv([lambda: gym.make("mfdiff/Ising-v0", **kw),
                                            rescaled])):
        with pytest.raises(ValueError, match="wrappers change its observations"):
            PopulationTianshouPolicy(CountingPolicy(obs_dim=4, n_actions=2),
                                     gym.spaces.MultiDiscrete([2] * 16), env=env)


def test_battle_live_observations_are_never_all_zero() -> None:
    """docs/integrations.md tells SuperSuit users to mask Battle rows with ``o.any(-1)`` under
    mfdiff_envs.wrappers.black_death: a dead agent observes zeros, a live one never does (its
    hp / 10 > 0 and its team's alive fraction >= 1 / n_team)."""
    from mfdiff_envs import battle_v0
    from mfdiff_envs.wrappers import black_death

    for opponent in (None, "expert"):
        env = black_death(battle_v0.parallel_env(n_agents=20, opponent=opponent,
                                                 max_cycles=200))
        obs, _ = env.reset(seed=0)
        rng = np.random.default_rng(0)
        deaths = False
        while env.agents:
            o = np.stack([obs[a] for a in env.possible_agents])
            alive = env.unwrapped.core.alive
            np.testing.assert_array_equal(o.any(-1), alive)
            deaths |= not alive.all()
            obs, *_ = env.step({a: int(rng.integers(0, 6)) for a in env.agents})
        assert deaths


def test_module_env_may_be_a_batch_of_envs() -> None:
    """Review: env= a SerialEnv/ParallelEnv raised RecursionError before the batch was started
    (TorchRL forwards getattr(batch, "base_env") to workers that do not exist yet) and a
    TypeError after. Every member is now checked against its own policy."""
    pytest.importorskip("torchrl")
    from torchrl.envs import InitTracker, SerialEnv, TransformedEnv

    from mfdiff_agents.integrations.torchrl import PopulationPolicyModule, make_torchrl_env

    def ising() -> object:
        return make_torchrl_env("mfdiff/Ising-v0", n_agents=9, max_cycles=3)

    env = TransformedEnv(SerialEnv(2, ising), InitTracker())
    core = ising().core
    pols = [_tiny_bc(core), _tiny_bc(core)]
    module = PopulationPolicyModule(pols, env=env)  # not started yet
    assert env.rollout(4, module, break_when_any_done=False).batch_size == (2, 4)
    PopulationPolicyModule(pols, env=env)  # started
    with pytest.raises(ValueError, match="3 policies for a batch of 2 envs"):
        PopulationPolicyModule([*pols, pols[0]], env=env)
    squeeze = SerialEnv(2, lambda: make_torchrl_env("mfdiff/GaussianSqueeze-v0", n_agents=5))
    with pytest.raises(ValueError, match="family"):
        PopulationPolicyModule(pols, env=squeeze)


def test_tianshou_env_check_on_subproc_magent_after_seed() -> None:
    """Review: the documented order ``venv.seed(s)`` then ``PopulationTianshouPolicy(...,
    env=venv)`` killed every SubprocVectorEnv worker of MAgentBattle (get_env_attr("unwrapped")
    pickles an env in an episode, which MAgentBattle refuses): EOFError, vector env lost."""
    pytest.importorskip("tianshou")
    pytest.importorskip("magent2")
    from tianshou.data import Collector, VectorReplayBuffer

    from mfdiff_agents.integrations.tianshou import PopulationTianshouPolicy, make_vector_env

    kw = {"n_agents": 10, "max_cycles": 3}
    venv = make_vector_env("mfdiff/MAgentBattle-v0", 2, subproc=True, **kw)
    try:
        venv.seed(0)  # resets every env: each is now in an episode
        core = _core("mfdiff/MAgentBattle-v0", **kw)
        policy = PopulationTianshouPolicy([_tiny_bc(core), _tiny_bc(core)], venv.action_space[0],
                                          env=venv)
        stats = Collector(policy, venv, VectorReplayBuffer(20, 2)).collect(
            n_episode=2, reset_before_collect=True)
        assert list(stats.lens) == [3, 3]
    finally:
        venv.close()


def test_module_refuses_observations_a_transform_rescaled() -> None:
    """With env=, the module's policies check their observations against the core's bounds
    (Policy.watch_bounds, as bind does): TorchRL's ObservationNorm rescaling them was acted
    on silently (an outside review, sixty-first update); the bare env's play through."""
    pytest.importorskip("torchrl")
    from torchrl.envs import InitTracker, ObservationNorm, TransformedEnv

    from mfdiff_agents.integrations.torchrl import PopulationPolicyModule, make_torchrl_env

    base = make_torchrl_env("mfdiff/Ising-v0", n_agents=16, max_cycles=3, seed=0)
    pol = CountingPolicy(obs_dim=4, n_actions=2, seed=0)
    env = TransformedEnv(base, InitTracker())
    env.rollout(3, policy=PopulationPolicyModule(pol, env=env))  # within the bounds
    scaled = TransformedEnv(make_torchrl_env("mfdiff/Ising-v0", n_agents=16, max_cycles=3,
                                             seed=0), InitTracker())
    scaled.append_transform(ObservationNorm(loc=0.0, scale=3.0,
                                            in_keys=[("agents", "observation")]))
    with pytest.raises(ValueError,
                       match="outside the observation space of the env given to the adapter"):
        scaled.rollout(3, policy=PopulationPolicyModule(pol, env=scaled))

