"""A trained policy refuses the envs it would silently misplay: Battle's two teams acted for as one
population, observations rescaled by a wrapper; and acts only for the live agents of a
black-death env (an outside audit at odd N, 2026-12-05)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from mfdiff_agents import load_policy
from mfdiff_agents.checkpoint import EnvFacts
from mfdiff_agents.evaluation import evaluate
from mfdiff_envs import battle_v0, ising_v0
from mfdiff_envs.wrappers import black_death

GOLDEN = Path(__file__).resolve().parent / "golden"


def _battle_policy():
    return load_policy(GOLDEN / "battle", num_threads=1)


def test_both_battle_teams_as_one_population_are_refused_in_act():
    env = battle_v0.parallel_env(n_agents=38, opponent=None, max_cycles=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # opponent=None differs from training: warned
        p = _battle_policy().bind(env)
    obs, _ = env.reset(seed=0)
    p.reset(seed=0)
    with pytest.raises(ValueError, match="ONE population"):
        p.act(obs)
    with pytest.raises(ValueError, match="'blue', 'red'"):
        p.act(obs, env.agents)
    # one team at a time is what the message asks for, and works
    red = [a for a in env.agents if a.startswith("red_")]
    acts = p.act(obs, red)
    assert sorted(acts) == sorted(red)


def test_both_battle_teams_are_refused_by_evaluate():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="ONE population"):
            evaluate(_battle_policy(), "mfdiff/Battle-v0", seeds=[0],
                     env_kwargs={"n_agents": 38, "opponent": None, "max_cycles": 5})


def test_a_policy_trained_on_both_teams_may_act_for_both():
    facts = EnvFacts(obs_dim=13, n_actions=6, family="battle",
                     env_kwargs={"n_agents": 38, "opponent": None})
    facts.check_population(["red_0", "blue_0"])
    one_team = EnvFacts(obs_dim=13, n_actions=6, family="magent_battle",
                        env_kwargs={"opponent": "expert"})
    one_team.check_population(["red_0", "red_1"])
    with pytest.raises(ValueError, match="ONE population"):
        one_team.check_population(["red_0", "blue_0"])
    # other families: names are never teams
    EnvFacts(obs_dim=4, n_actions=2, family="ising").check_population(["a_0", "b_0"])


def test_black_death_env_acts_as_the_bare_env():
    """Dead agents stay in a black-death env's ``agents`` with zero observations; the bound
    policy acts for the live ones only, so the episode is the bare env's, action for action."""
    def play(wrap: bool, explicit: bool) -> list:
        env = battle_v0.parallel_env(n_agents=38, max_cycles=20)
        env = black_death(env) if wrap else env
        p = _battle_policy().bind(env)
        obs, _ = env.reset(seed=1)
        p.reset(seed=1)
        out = []
        while env.agents:
            acts = p.act(obs, env.agents) if explicit else p.act(obs)
            out.append(sorted(acts.items()))
            obs, *_ = env.step(acts)
        return out

    bare = play(False, False)
    assert len(bare[-1]) < len(bare[0])  # agents died: the case that matters
    assert play(True, False) == bare
    assert play(True, True) == bare


def test_bind_refuses_rescaled_observations():
    ss = pytest.importorskip("supersuit")
    p = load_policy(GOLDEN / "ising", num_threads=1)
    with pytest.raises(ValueError, match="wrappers change its observations"):
        p.bind(ss.normalize_obs_v0(ising_v0.parallel_env(n_agents=49, max_cycles=12)))
    # a dtype change keeps the values; black_death keeps the space
    p.bind(ss.dtype_v0(ising_v0.parallel_env(n_agents=49, max_cycles=12), "float64"))
    p.bind(black_death(ising_v0.parallel_env(n_agents=49, max_cycles=12)))
    # float16 rounds Battle's √2 bound: still only a dtype change (an outside audit: refused)
    b = _battle_policy()
    b.bind(ss.dtype_v0(battle_v0.parallel_env(n_agents=38, max_cycles=20), "float16"))


def test_bind_refuses_gymnasium_observation_wrappers_on_the_joint_view():
    """An outside audit: on the gym.make view, RescaleObservation / NormalizeObservation passed
    bind (the check read PettingZoo's per-agent spaces only) and halved the return."""
    import gymnasium as gym
    import numpy as np

    p = load_policy(GOLDEN / "ising", num_threads=1)
    make = lambda: gym.make("mfdiff/Ising-v0", n_agents=49, max_cycles=12)  # noqa: E731
    for wrap in (lambda e: gym.wrappers.RescaleObservation(e, -1.0, 1.0),
                 gym.wrappers.NormalizeObservation):
        with pytest.raises(ValueError, match="wrappers change its observations"):
            p.bind(wrap(make()))
    for wrap in (lambda e: gym.wrappers.DtypeObservation(e, np.float64),
                 gym.wrappers.RecordEpisodeStatistics, lambda e: e):
        env = wrap(make())
        p.bind(env)  # passes, and act_batch acts on the bound env's observations
        obs, info = env.reset(seed=0)
        env.step(p.act_batch(obs, info["alive"]))


def test_eval_cli_names_the_two_team_error():
    out = subprocess.run(
        [sys.executable, "-m", "mfdiff", "eval", "--policy", str(GOLDEN / "battle"),
         "--env", "mfdiff/Battle-v0", "--n-agents", "38", "--seeds", "1", "--no-progress",
         "--env-kwargs", '{"max_cycles": 5, "opponent": null}'],
        capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "ONE population" in out.stderr and "Traceback" not in out.stderr


def test_a_particle_schedule_far_above_n_is_said_once():
    """Outside audit: --set k_schedule=100000 at N = 100 ran at a minute a step without a word
    (at most N particles are used; cap_particles caps the schedule)."""
    from mfdiff_envs import squeeze_v0

    p = load_policy(GOLDEN / "squeeze", num_threads=1, k_schedule=(8, 2048), cap_particles=False)
    env = squeeze_v0.parallel_env(n_agents=36, max_cycles=8)
    p.bind(env)
    obs, _ = env.reset(seed=0)
    p.reset(seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p.act(obs)
        p.act(obs)
    said = [w for w in caught if "k_schedule plans 2048 particles for 36" in str(w.message)]
    assert len(said) == 1 and "cap_particles=true" in str(said[0].message)
    capped = load_policy(GOLDEN / "squeeze", num_threads=1, k_schedule=(8, 2048),
                         cap_particles=True).bind(env)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        capped.act(obs)
