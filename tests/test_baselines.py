"""Every baseline trains a few steps, acts in a PettingZoo parallel loop, and round-trips its
checkpoint (save -> from_pretrained -> same actions for the same seed)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from conftest import DEVICE, squeeze_episodes

import mfdiff_envs  # noqa: F401  (registers envs)
from mfdiff_agents.checkpoint import CheckpointError
from mfdiff_agents.config import ConfigError
from mfdiff_agents.methods import get_method, load_policy
from mfdiff_agents.policy import Policy, PopulationTooLargeError

torch.set_num_threads(1)

N_AGENTS = 24
TRAINABLE = ["bc", "mfq", "iql", "indep_diffuser", "joint_diffuser"]
WINDOWS = dict(horizon=4, n_particles=8, device=DEVICE)
TINY = {
    "bc": dict(steps=15, batch_size=8, hidden=32),
    "mfq": dict(steps=15, batch_size=8, hidden=32),
    "iql": dict(steps=15, batch_size=8, hidden=32),
    "indep_diffuser": dict(steps=6, batch_size=4, width=16, n_timesteps=10, ddim_steps=2,
                           norm_batches=2),
    "joint_diffuser": dict(steps=6, batch_size=4, width=16, n_timesteps=10, ddim_steps=2,
                           norm_batches=2),
}


def _episodes(n_agents: int = N_AGENTS, n_episodes: int = 3, max_cycles: int = 10):
    """Medium-tier Squeeze episodes in the dataset layout (no Minari needed)."""
    return squeeze_episodes(n_agents, n_episodes, max_cycles, skill=0.5)


@pytest.fixture(scope="module")
def sampler():
    from mfdiff_envs.offline.windows import WindowSampler

    return WindowSampler(_episodes(), horizon=4, n_particles=8, seed=0)


@pytest.fixture(scope="module")
def trained(sampler):
    out = {}
    for name in TRAINABLE:
        m = get_method(name)
        out[name] = m.fit(sampler, m.config(**TINY[name], **WINDOWS), progress=False)
    return out


def _parallel_loop(policy: Policy, n_agents: int = N_AGENTS, seed: int = 0) -> float:
    from mfdiff_envs import squeeze_v0

    env = squeeze_v0.parallel_env(n_agents=n_agents, max_cycles=5)
    observations, _ = env.reset(seed=seed)
    policy.reset(seed)
    total = 0.0
    while env.agents:
        actions = policy.act(observations, env.agents)
        assert set(actions) == set(env.agents)
        assert all(0 <= a < env.action_space("agent_0").n for a in actions.values())
        observations, rewards, _, _, _ = env.step(actions)
        total += float(np.mean(list(rewards.values()))) if rewards else 0.0
    return total


@pytest.mark.parametrize("name", TRAINABLE)
def test_train_act_save_load(name, trained, tmp_path):
    policy = trained[name]
    assert isinstance(policy, Policy) and policy.METHOD == name
    ret = _parallel_loop(policy)
    assert np.isfinite(ret)

    policy.save(tmp_path / name)
    assert (tmp_path / name / "config.json").is_file()
    assert (tmp_path / name / "model.safetensors").is_file()
    cls = type(policy)
    loaded = cls.from_pretrained(tmp_path / name)
    assert loaded.cfg == policy.cfg
    obs = np.random.default_rng(0).random((30, policy.obs_dim)).astype(np.float32)
    mask = np.ones(30, bool)
    mask[3] = False
    policy.reset(7)
    loaded.reset(7)
    a1, a2 = policy.act_batch(obs, mask), loaded.act_batch(obs, mask)
    np.testing.assert_array_equal(a1, a2)
    assert a1[3] == 0
    # the loader dispatches on config.json's method
    assert isinstance(load_policy(tmp_path / name), cls)
    # acting fields may be overridden at load; a training-only one is refused (it would be ignored)
    assert cls.ACTING_FIELDS and all(hasattr(loaded.cfg, k) for k in cls.ACTING_FIELDS)
    with pytest.raises(ConfigError, match="fixed when the checkpoint is trained"):
        cls.from_pretrained(tmp_path / name, lr=0.5)


@pytest.mark.parametrize("name", TRAINABLE)
def test_no_agent_gives_no_action_and_no_warning(name, trained):
    """act_batch on [0, d]: an empty int64 array, silently (BC's mean field over zero rows
    warned "Mean of empty slice" and divided by zero: an outside audit)."""
    import warnings

    policy = trained[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = policy.act_batch(np.zeros((0, policy.obs_dim), np.float32))
    assert out.shape == (0,) and out.dtype == np.int64


@pytest.mark.parametrize("name", ["bc", "mfq", "iql"])
def test_stochastic_acting_diversifies_identical_agents(name, trained):
    """All Squeeze agents see the same obs: sampled policies must not collapse to one level."""
    policy = trained[name]
    obs = np.zeros((500, policy.obs_dim), np.float32)
    policy.reset(0)
    assert len(np.unique(policy.act_batch(obs))) > 1


def test_config_rejects_unknown_keys(tmp_path, trained):
    import json

    from mfdiff_agents.baselines.bc import BCPolicy

    trained["bc"].save(tmp_path / "bc")
    meta = json.loads((tmp_path / "bc" / "config.json").read_text())
    meta["config"]["hiden"] = 3
    meta.pop("config_sha256")  # past the digest check: the config's own validation
    (tmp_path / "bc" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="hiden"):
        BCPolicy.from_pretrained(tmp_path / "bc")
    with pytest.raises(CheckpointError, match="not 'mfq'"):
        from mfdiff_agents.baselines.mfq import MFQPolicy

        MFQPolicy.from_pretrained(tmp_path / "bc")


def test_joint_diffuser_max_agents_guard(trained):
    policy = trained["joint_diffuser"]
    small = dataclasses.replace(policy.cfg, max_agents=10)
    policy.cfg = small
    try:
        with pytest.raises(PopulationTooLargeError, match="max_agents"):
            policy.act_batch(np.zeros((11, policy.obs_dim), np.float32))
        assert policy.act_batch(np.zeros((10, policy.obs_dim), np.float32)).shape == (10,)
    finally:
        policy.cfg = dataclasses.replace(small, max_agents=2048)


def test_mfq_transitions_shapes_and_mean_action(sampler):
    from mfdiff_agents.baselines.mfq import window_transitions

    w = sampler.sample(3)
    tr = window_transitions(w, sampler.n_actions)
    b, k, h, d = w.obs.shape
    a = sampler.n_actions
    assert tr["x"].shape == (b * k * h, 3 * d + 1 + a)
    # ā input of step h+1 (prev histogram) = next input's histogram of step h
    x = tr["x"].reshape(b, k, h, -1)
    xn = tr["x_next"].reshape(b, k, h, -1)
    np.testing.assert_allclose(x[:, :, 1:, -a:], xn[:, :, :-1, -a:])
    np.testing.assert_allclose(xn[..., -a:].sum(-1), 1.0, atol=1e-5)
    # the histogram is the K particles' action frequencies
    hist0 = np.bincount(w.actions[0, :, 0], minlength=a) / k
    np.testing.assert_allclose(xn[0, 0, 0, -a:], hist0, atol=1e-6)


def test_scripted_wrappers():
    from mfdiff_agents.baselines.scripted import ScriptedPolicy, make_scripted
    from mfdiff_envs.squeeze import GaussianSqueezeCore

    core = GaussianSqueezeCore(50, max_cycles=3)
    for name in ("random", "medium", "expert"):
        p = make_scripted(name, core, seed=0)
        obs, _ = core.reset(seed=0)
        p.reset(1)
        a1 = p.act_batch(obs, core.alive)
        p.reset(1)
        np.testing.assert_array_equal(a1, p.act_batch(obs, core.alive))
    with pytest.raises(ValueError, match="tier"):
        ScriptedPolicy(core, tier="legendary")
    # reset() with no seed keeps the stream, as Policy.reset does: Tianshou and TorchRL's
    # InitTracker reset with no seed at each episode start, so two copies built with one seed
    # must still act alike (a fresh OS-entropy stream there made them differ)
    for name in ("random", "medium", "expert"):
        obs, _ = core.reset(seed=0)
        runs = []
        for _ in range(2):
            p = make_scripted(name, core, seed=0)
            p.reset()
            runs.append(np.concatenate([p.act_batch(obs, core.alive) for _ in range(5)]))
        np.testing.assert_array_equal(*runs)
    _parallel_loop(make_scripted("expert", core, seed=0), n_agents=50)


def test_a_death_at_the_windows_last_step_is_terminal():
    """An outside audit: an agent alive at the window's last step and dead at t0+H was
    bootstrapped from its zero observation (IQL's and MFQ-CQL's TD targets), about 1/H of
    Battle's deaths; next_step marks it terminal, as a death inside the window is."""
    from test_offline import _synthetic

    from mfdiff_agents.baselines.common import next_step
    from mfdiff_envs.offline import Episodes, WindowSampler

    w = WindowSampler(Episodes(_synthetic(), n_actions=4), horizon=6, n_particles=8,
                      seed=3).sample(512)
    _, _, alive_n, term = next_step(w)
    dies_last = w.alive[:, :, -1] & ~w.next_alive
    assert dies_last.any()
    assert term[:, :, -1][dies_last].all() and not alive_n[:, :, -1][dies_last].any()
    np.testing.assert_array_equal(term[:, :, :-1], ~w.alive[:, :, 1:])  # inside: as before


def test_iql_transitions_and_losses(sampler):
    """IQL's transitions chain inside a window; the expectile loss weights under-estimates by τ
    and over-estimates by 1 − τ; a checkpoint holds the actor, both critics and V."""
    from mfdiff_agents.baselines.iql import IQLNet, expectile_loss, window_transitions

    w = sampler.sample(3)
    tr = window_transitions(w)
    b, k, h, d = w.obs.shape
    assert tr["x"].shape == tr["x_next"].shape == (b * k * h, 3 * d + 1)
    x, xn = tr["x"].reshape(b, k, h, -1), tr["x_next"].reshape(b, k, h, -1)
    np.testing.assert_array_equal(x[:, :, 1:], xn[:, :, :-1])  # s_{t+1} is the next input
    np.testing.assert_array_equal(xn[:, :, -1, :d], w.next_obs)
    term = tr["term"].reshape(b, k, h)
    np.testing.assert_array_equal(term[:, :, -1], w.done[:, None] | ~w.next_alive)
    u = torch.tensor([-2.0, 2.0])
    np.testing.assert_allclose(expectile_loss(u, 0.7).numpy(), [0.3 * 4, 0.7 * 4], rtol=1e-6)
    net = IQLNet(3 * d + 1, sampler.n_actions, 8, 1)
    assert {k.split(".")[0] for k in net.state_dict()} == {"actor", "q1", "q2", "value"}
