"""Offline datasets: Minari build -> load round trip, atomic writes, errors, catalogue, CLI,
windows.

Every test points MINARI_DATASETS_PATH at a tmp dir, so ~/.minari is never touched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import minari
import numpy as np
import pytest
from conftest import wait_until_writing

import mfdiff_envs  # noqa: F401
from mfdiff_envs.core import mean_field_summary
from mfdiff_envs.offline import (
    DatasetError,
    DatasetExistsError,
    Episode,
    Episodes,
    WindowSampler,
    build_dataset,
    load_catalogue,
    load_episodes,
    select,
)
from mfdiff_envs.offline.build import (
    STAGING_DIR,
    bytes_per_episode,
    episode_seeds,
    expected_size_mb,
    make_env,
)
from mfdiff_envs.policies import TIER_SKILL, make_behaviour_policy
from mfdiff_envs.rollout import rollout

REPO = Path(__file__).resolve().parents[1]
SMALL = {"n_agents": 36, "tier": "medium", "episodes": 3, "env_kwargs": {"max_cycles": 8}}


@pytest.fixture(autouse=True)
def minari_root(tmp_path, monkeypatch):
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


def _build(family="squeeze", **kw):
    args = {**SMALL, "progress": False, **kw}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_dataset(family, **args)


# ----------------------------------------------------------------------------- build / load
def test_round_trip_equals_rollout():
    ds = _build(seed=7)
    assert minari.list_local_datasets().keys() == {"mfdiff/squeeze-n36/medium-v0"}
    ds = minari.load_dataset("mfdiff/squeeze-n36/medium-v0")
    env = make_env("mfdiff/GaussianSqueeze-v0", {"n_agents": 36, "max_cycles": 8})
    core = env.unwrapped.core
    seeds = episode_seeds(7, 3)
    stored = list(ds.iterate_episodes())
    assert len(stored) == 3 and ds.total_steps == 24
    for ep, (es, ps) in zip(stored, seeds):
        ref = rollout(
            core,
            make_behaviour_policy(core, TIER_SKILL["squeeze"]["medium"], int(ps)),
            seed=int(es),
            policy_seed=int(ps),
            record=True,
        ).episode
        assert ep.observations.shape == (9, 36, 11) and ep.observations.dtype == np.float32
        assert ep.actions.shape == (8, 36) and ep.actions.dtype == np.int64
        for key in ("observations", "actions", "rewards", "terminations", "truncations"):
            np.testing.assert_array_equal(getattr(ep, key), ref[key], err_msg=key)
        np.testing.assert_array_equal(ep.infos["rewards"], ref["infos"]["rewards"])
        np.testing.assert_array_equal(ep.infos["alive"], ref["infos"]["alive"])
        assert np.all(ep.infos["rewards"][0] == 0) and ep.infos["alive"].dtype == bool
        # team reward = mean per-agent reward of the step
        np.testing.assert_allclose(ep.rewards, ep.infos["rewards"][1:].mean(1), rtol=1e-5)
        assert ep.truncations[-1] and not ep.truncations[:-1].any()
    meta = ds.storage.metadata
    assert meta["author"] and meta["code_permalink"] and meta["algorithm_name"]
    assert "mfdiff/squeeze-n36/medium-v0" in meta["description"] and "MB" in meta["description"]
    loaded = load_episodes("mfdiff/squeeze-n36/medium-v0")
    assert (
        loaded.family == "squeeze"
        and loaded.env_kwargs["n_agents"] == 36
        and loaded.n_actions == 10
    )
    np.testing.assert_array_equal(loaded[1].observations, stored[1].observations)


@pytest.mark.parametrize("family", ["squeeze", "ising"])
def test_normalised_score_per_tier(family):
    scores = {}
    for tier in ("random", "medium", "expert", "mixed"):
        ds = _build(
            family,
            tier=tier,
            episodes=6,
            n_agents=64,
            env_kwargs={"max_cycles": 10},
            ref_episodes=8,
        )
        returns = np.array([ep.rewards.sum() for ep in ds.iterate_episodes()])
        scores[tier] = float(np.mean(minari.get_normalized_score(ds, returns)))
    assert abs(scores["random"]) < 0.35, scores
    assert abs(scores["expert"] - 1.0) < 0.1, scores
    assert scores["random"] + 0.1 < scores["medium"] < scores["expert"] - 0.1, scores
    assert scores["random"] < scores["mixed"] < scores["expert"], scores


def test_recover_environment_steps():
    ds = _build(n_agents=25)
    env = ds.recover_environment()
    assert env.spec.kwargs["n_agents"] == 25 and env.spec.kwargs["max_cycles"] == 8
    obs, info = env.reset(seed=0)
    assert obs.shape == (25, 11) and env.action_space.shape == (25,)
    obs, r, term, trunc, info = env.step(env.action_space.sample())
    assert obs.shape == (25, 11) and np.isfinite(r) and info["alive"].shape == (25,)
    assert ds.recover_environment(eval_env=True).spec.kwargs == env.spec.kwargs


def test_refuses_overwrite_then_force():
    ds = _build(seed=1)
    r1 = ds.storage.metadata["mfdiff"]["return_mean"]
    with pytest.raises(DatasetExistsError, match="squeeze-n36/medium-v0"):
        _build(seed=2)
    ds2 = _build(seed=2, overwrite=True)
    assert ds2.storage.metadata["mfdiff"]["return_mean"] != r1
    assert list(minari.list_local_datasets()) == ["mfdiff/squeeze-n36/medium-v0"]


def test_refusal_names_the_stored_env_kwargs():
    """The id does not hold env kwargs: a build with another max_cycles is refused saying
    what the stored dataset was built with, and pointing to another version to keep both."""
    _build()
    with pytest.raises(DatasetExistsError, match=r"max_cycles=9 \(stored: 8\).*version"):
        _build(env_kwargs={"max_cycles": 9})
    with pytest.raises(DatasetExistsError, match="built with these env kwargs"):
        _build()
    # another episode count lands on the same id too: named, not "these env kwargs"
    with pytest.raises(DatasetExistsError,
                       match=rf"episodes={SMALL['episodes'] + 1} \(stored: {SMALL['episodes']}\)"):
        _build(episodes=SMALL["episodes"] + 1)
    ds = _build(env_kwargs={"max_cycles": 9}, version=1)
    assert ds.spec.dataset_id == "mfdiff/squeeze-n36/medium-v1"
    assert minari.load_dataset("mfdiff/squeeze-n36/medium-v0").spec.env_spec.kwargs[
        "max_cycles"] == 8


_BUILD_SCRIPT = """
import warnings; warnings.simplefilter("ignore")
from mfdiff_envs.offline import build_dataset
build_dataset("squeeze", n_agents=2000, tier="random", episodes=100000,
              env_kwargs={"max_cycles": 25}, progress=False, ref_scores=(0.0, 1.0))
"""


def test_interrupted_build_leaves_nothing(minari_root):
    proc = subprocess.Popen([sys.executable, "-c", _BUILD_SCRIPT], env=dict(os.environ))
    staging = minari_root / STAGING_DIR
    try:
        wait_until_writing(proc, staging, timeout=30)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert minari.list_local_datasets() == {}
    assert not (minari_root / "mfdiff" / "squeeze-n2000").exists()
    assert any(staging.iterdir())  # the killed build's hidden leftovers
    ds = _build(n_agents=2000, tier="random", episodes=2)
    assert list(minari.list_local_datasets()) == ["mfdiff/squeeze-n2000/random-v0"]
    assert ds.total_episodes == 2 and not any(staging.iterdir())  # stale staging removed


def test_missing_or_corrupt_dataset_errors_name_the_id(minari_root):
    with pytest.raises(DatasetError, match="mfdiff/squeeze-n36/medium-v0.*not found"):
        load_episodes("mfdiff/squeeze-n36/medium-v0")
    _build()
    h5 = minari_root / "mfdiff/squeeze-n36/medium-v0/data/main_data.hdf5"
    data = h5.read_bytes()
    h5.write_bytes(data[: len(data) // 3])  # truncated file
    with pytest.raises(DatasetError, match="mfdiff/squeeze-n36/medium-v0"):
        load_episodes("mfdiff/squeeze-n36/medium-v0")
    h5.write_bytes(b"garbage" * 100)
    with pytest.raises(DatasetError, match="mfdiff/squeeze-n36/medium-v0"):
        WindowSampler("mfdiff/squeeze-n36/medium-v0", horizon=2, n_particles=4)
    h5.unlink()
    with pytest.raises(DatasetError, match="mfdiff/squeeze-n36/medium-v0"):
        load_episodes("mfdiff/squeeze-n36/medium-v0")


FAMILIES = [
    ("squeeze", 36, {"max_cycles": 6}),
    ("ising", 36, {"max_cycles": 6}),
    ("battle", 64, {"max_cycles": 6}),
]


@pytest.mark.parametrize(("family", "n", "kwargs"), FAMILIES, ids=[f[0] for f in FAMILIES])
def test_small_build_each_family(family, n, kwargs):
    ds = _build(family, n_agents=n, tier="mixed", episodes=2, env_kwargs=kwargs, ref_episodes=1)
    core = ds.recover_environment().unwrapped.core
    eps = load_episodes(ds)
    T = eps[0].length
    assert eps[0].observations.shape == (T + 1, core.n_agents, core.obs_dim)
    assert eps[0].alive.shape == (T + 1, core.n_agents) and 1 <= T <= 6
    w = WindowSampler(eps, horizon=1, n_particles=8, seed=0).sample(4)
    assert w.obs.shape == (4, 8, 1, core.obs_dim)


def test_build_refuses_data_outside_the_spaces(minari_root, monkeypatch):
    """Outside audit: docs said Minari checks every recorded observation at build time, but
    the builder writes the file itself (only Minari's DataCollector checks): an observation
    outside the declared bounds was stored and verified "ok". The builder now refuses it."""
    from mfdiff_envs.squeeze import GaussianSqueezeCore

    real = GaussianSqueezeCore.obs_bounds

    def narrow(self):
        lo, hi = real(self)
        return lo, np.minimum(hi, np.float32(0.05))  # a wrong bound the data exceeds

    monkeypatch.setattr(GaussianSqueezeCore, "obs_bounds", narrow)
    with pytest.raises(ValueError, match="observations outside their space at rows"):
        _build("squeeze", n_agents=20, tier="random", episodes=2, ref_episodes=1)
    assert not minari.list_local_datasets()  # nothing was written


# ----------------------------------------------------------------------------- catalogue + CLI
def test_catalogue_sizes_are_consistent():
    recipes = load_catalogue(REPO / "datasets")
    assert {r.family for r in recipes} == {"squeeze", "ising", "battle"}
    assert {r.tier for r in recipes} == {"expert", "medium", "random", "mixed"}
    for r in recipes:
        assert r.expected_size_mb is not None and r.expected_size_mb < 2000, r.dataset_id
    for r in recipes:
        if r.tier != "expert" or r.n_agents > 1024:
            continue  # d and T do not depend on N; N/2 stored agents for Battle
        core = gym.make(r.env_id, **r.env_kwargs).unwrapped.core if r.family != "battle" else None
        if core is None:
            from mfdiff_envs.battle import BattleCore

            core = BattleCore(**r.env_kwargs)
        for big in (s for s in recipes if s.family == r.family and s.tier == "expert"):
            stored_n = big.n_agents * core.n_agents // r.n_agents
            est = expected_size_mb(core.max_cycles, stored_n, core.obs_dim, big.episodes)
            assert big.expected_size_mb == pytest.approx(est, rel=0.002), big.dataset_id
    with pytest.raises(KeyError, match="unknown family"):
        select("nope", path=REPO / "datasets")
    assert [r.tier for r in select("squeeze", n_agents=100, path=REPO / "datasets")] == [
        "expert",
        "medium",
        "random",
        "mixed",
    ]


def test_catalogue_estimate_matches_disk():
    # N = 50: hdf5's per-episode bytes are ~25 % of an episode here (the payload alone would
    # be off by that much)
    from mfdiff_envs.offline.integrity import disk_size_mb

    _build(n_agents=50, episodes=20, env_kwargs={"max_cycles": 25})
    size = disk_size_mb("mfdiff/squeeze-n50/medium-v0")  # exact bytes (get_size() rounds)
    assert size == pytest.approx(expected_size_mb(25, 50, 11, 20), rel=0.03)
    assert bytes_per_episode(25, 50, 11) * 20 * 1.01 / 1e6 < 0.85 * size


def _cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "mfdiff.cli", "data", *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=120,
    )


def test_cli_build_and_list():
    r = _cli(
        "build",
        "squeeze",
        "--n-agents",
        "100",
        "--tier",
        "random",
        "--episodes",
        "2",
        "--no-progress",
    )
    assert r.returncode == 0, r.stderr
    assert "mfdiff/squeeze-n100/random-v0" in r.stdout and "2 episodes" in r.stdout
    r = _cli("list")
    assert r.returncode == 0, r.stderr
    # built with 2 of the catalogue's 1000 episodes: the list says so
    assert "| mfdiff/squeeze-n100/random-v0 |" in r.stdout
    assert "| yes, 2 of 1000 episodes (" in r.stdout
    assert "| mfdiff/battle-n10000/expert-v0 |" in r.stdout and "return mean" in r.stdout
    r = _cli("build", "mfdiff/squeeze-n100/random-v0", "--episodes", "2", "--no-progress")
    assert r.returncode == 0 and "already built" in r.stdout and "--force" in r.stdout, r.stderr
    r = _cli("build", "nofamily")
    assert r.returncode == 2 and "unknown family" in r.stderr


# ----------------------------------------------------------------------------- windows
WINDOWS_OF_A_LIST = pytest.mark.filterwarnings("ignore:.*n_actions inferred from the data")
def _synthetic(lengths=(12, 5, 20), n=30, d=3, seed=0, deaths=True):
    rng = np.random.default_rng(seed)
    eps = []
    for T in lengths:
        alive = np.ones((T + 1, n), bool)
        if deaths:  # agents die at random times and stay dead
            death = rng.integers(1, 2 * T, n)
            alive = np.arange(T + 1)[:, None] < death[None, :]
            alive[0] = True
        eps.append(
            Episode(
                observations=rng.normal(size=(T + 1, n, d)).astype(np.float32),
                actions=rng.integers(0, 4, (T, n)),
                rewards=rng.normal(size=T),
                agent_rewards=np.concatenate([np.zeros((1, n)), rng.normal(size=(T, n))]).astype(
                    np.float32
                ),
                alive=alive,
                terminations=np.eye(T, dtype=bool)[-1],
                truncations=np.zeros(T, bool),
            )
        )
    return eps


def test_windows_shapes_boundaries_and_content():
    eps = _synthetic()
    H, K, B, gamma = 6, 8, 512, 0.9
    # a list of Episode names no env: n_actions comes from the data, with a warning (an
    # outside audit: 4 of Squeeze's 10 levels in a small sample, silently)
    with pytest.warns(UserWarning, match="n_actions inferred from the data as 4"):
        s = WindowSampler(Episodes(eps), horizon=H, n_particles=K, gamma=gamma, seed=3)
    assert (s.obs_dim, s.mf_dim, s.n_agents, s.horizon, s.n_particles, s.n_actions) == (
        3,
        7,
        30,
        H,
        K,
        4,
    )
    w = s.sample(B)
    d, m = 3, 7
    shapes = {
        "obs": (B, K, H, d),
        "actions": (B, K, H),
        "alive": (B, K, H),
        "rewards": (B, K, H),
        "team_rewards": (B, H),
        "returns": (B,),
        "window_returns": (B,),
        "mean_field": (B, H, m),
        "next_mean_field": (B, m),
        "next_obs": (B, K, d),
        "next_alive": (B, K),
        "done": (B,),
        "t0": (B,),
        "episode": (B,),
        "agent_idx": (B, K),
    }
    for k, shape in shapes.items():
        assert getattr(w, k).shape == shape, k
    assert w.obs.dtype == np.float32 and w.actions.dtype == np.int64 and w.alive.dtype == bool
    assert set(np.unique(w.episode)) == {0, 2}  # episode 1 (T=5 < H) skipped
    for b in range(B):
        ep = eps[w.episode[b]]
        t0, T, a = w.t0[b], ep.length, w.agent_idx[b]
        assert 0 <= t0 and t0 + H <= T  # never crosses the episode end
        sl = slice(t0, t0 + H)
        np.testing.assert_array_equal(w.obs[b], ep.observations[sl][:, a].transpose(1, 0, 2))
        np.testing.assert_array_equal(w.actions[b], ep.actions[sl][:, a].T)
        np.testing.assert_array_equal(w.alive[b], ep.alive[sl][:, a].T)
        np.testing.assert_array_equal(w.rewards[b], ep.agent_rewards[t0 + 1 : t0 + H + 1][:, a].T)
        np.testing.assert_allclose(w.team_rewards[b], ep.rewards[sl], rtol=1e-6)
        np.testing.assert_array_equal(w.next_obs[b], ep.observations[t0 + H, a])
        np.testing.assert_array_equal(w.next_alive[b], ep.alive[t0 + H, a])
        mf = mean_field_summary(ep.observations, ep.alive)
        np.testing.assert_allclose(w.mean_field[b], mf[sl], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(w.next_mean_field[b], mf[t0 + H], rtol=1e-5, atol=1e-6)
        disc = gamma ** np.arange(T - t0)
        np.testing.assert_allclose(w.returns[b], ep.rewards[t0:] @ disc, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(
            w.window_returns[b], ep.rewards[sl] @ disc[:H], rtol=1e-4, atol=1e-5
        )
        assert w.done[b] == (t0 + H == T)
    assert w.done.any() and not w.done.all()
    # deaths at t0+H of agents alive at its last step: the case next_alive exists for
    assert (w.alive[:, :, -1] & ~w.next_alive).any()


@WINDOWS_OF_A_LIST
def test_windows_agents_alive_at_t0_and_distinct():
    eps = _synthetic(lengths=(15, 25), n=40, deaths=True, seed=1)
    s = WindowSampler(eps, horizon=4, n_particles=10, seed=0)
    w = s.sample(2000)
    for b in range(len(w.t0)):
        alive0 = eps[w.episode[b]].alive[w.t0[b]]
        assert alive0[w.agent_idx[b]].all()
        n_alive = int(alive0.sum())
        assert len(set(w.agent_idx[b].tolist())) == min(10, n_alive)  # no repeats unless forced
    assert w.alive[:, :, 0].all()


@WINDOWS_OF_A_LIST
def test_windows_deterministic_per_seed():
    eps = _synthetic(seed=2)
    a = WindowSampler(eps, horizon=3, n_particles=5, seed=11).sample(64)
    b = WindowSampler(eps, horizon=3, n_particles=5, seed=11).sample(64)
    c = WindowSampler(eps, horizon=3, n_particles=5, seed=12).sample(64)
    for k, v in a.as_dict().items():
        np.testing.assert_array_equal(v, getattr(b, k), err_msg=k)
    assert not np.array_equal(a.agent_idx, c.agent_idx)


@WINDOWS_OF_A_LIST
@pytest.mark.parametrize(("bad", "err"), [(0, ValueError), (-1, ValueError), (2.0, TypeError)])
def test_windows_sample_refuses_a_bad_batch_size(bad, err):
    # before: NaN from the median of an empty draw (0), numpy's "negative dimensions" (-1)
    s = WindowSampler(_synthetic(seed=2), horizon=3, n_particles=5, seed=0)
    with pytest.raises(err, match="batch_size"):
        s.sample(bad)


def test_windows_short_episodes():
    eps = _synthetic(lengths=(3, 10))
    with pytest.warns(UserWarning, match="1 of 2 episodes are shorter than horizon 5"):
        s = WindowSampler(eps, horizon=5, n_particles=4)
    assert s.n_windows == 6
    with pytest.raises(ValueError, match="shorter than horizon 11"):
        WindowSampler(eps, horizon=11, n_particles=4)


def test_windows_from_dataset_to_torch():
    torch = pytest.importorskip("torch")
    _build(n_agents=50, episodes=2)
    s = WindowSampler("mfdiff/squeeze-n50/medium-v0", horizon=4, n_particles=16, seed=0)
    assert s.family == "squeeze" and s.env_id == "mfdiff/GaussianSqueeze-v0"
    assert s.env_kwargs["n_agents"] == 50 and s.n_actions == 10 and s.mf_dim == 23
    from mfdiff_agents.data import windows_to_torch

    t = windows_to_torch(s.sample(8), "cpu")
    assert t["obs"].shape == (8, 16, 4, 11) and t["obs"].dtype == torch.float32
    assert t["actions"].dtype == torch.int64 and t["alive"].dtype == torch.bool


@pytest.mark.parametrize("n", [400, 3000])
def test_windows_particle_sampling_is_uniform(n):
    # one start (T = H): every agent alive at t0, many die later; K << N takes the sparse path
    eps = _synthetic(lengths=(4,), n=n, deaths=True, seed=5)
    s = WindowSampler(eps, horizon=4, n_particles=8, seed=0)
    w = s.sample(20_000)
    assert (w.t0 == 0).all()
    srt = np.sort(w.agent_idx, axis=1)
    assert (srt[:, 1:] != srt[:, :-1]).all()  # distinct within a window
    counts = np.bincount(w.agent_idx.ravel(), minlength=n)
    expected = 20_000 * 8 / n
    assert np.abs(counts - expected).max() < 6 * np.sqrt(expected) + 1


def test_windows_late_start_with_few_alive():
    eps = _synthetic(lengths=(30,), n=2000, deaths=False)
    eps[0].alive[10:, 20:] = False  # from t = 10 only 20 agents live
    s = WindowSampler(eps, horizon=5, n_particles=32, seed=0)
    w = s.sample(3000)
    for b in range(len(w.t0)):
        alive0 = eps[0].alive[w.t0[b]]
        assert alive0[w.agent_idx[b]].all()
        uniq = len(set(w.agent_idx[b].tolist()))
        assert uniq == (32 if w.t0[b] < 10 else 20)
