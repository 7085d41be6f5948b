"""Shared fixtures: tiny Squeeze episodes and window samplers (no Minari needed), one rollout
helper, and single-threaded torch (the suite runs on 2 cores, often beside other jobs)."""

from __future__ import annotations

import os
from typing import Any

import pytest

# Before anything imports torch / numba / pygame: one OpenMP thread per process (the suite
# shares 2 cores), no numba JIT warm-up (Tianshou's first collect compiles for ~10 s), and
# headless pygame windows for render_mode="human".
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_DISABLE_JIT", "1")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

# CI (.ci/run sets MFDIFF_CI=1) draws the same hypothesis examples every run: a red CI then
# means the code changed, not the draw; local runs keep drawing new examples to find bugs.
if os.environ.get("MFDIFF_CI"):
    from hypothesis import settings

    settings.register_profile("mfdiff-ci", derandomize=True, database=None)
    settings.load_profile("mfdiff-ci")

#: torch device of the tests that train or plan: ``MFDIFF_TEST_DEVICE=cuda pytest`` runs them on
#: a GPU (CI has none; tests/test_cuda.py holds the checks that need one)
DEVICE = os.environ.get("MFDIFF_TEST_DEVICE", "cpu")


def squeeze_episodes(
    n_agents: int = 64, episodes: int = 4, max_cycles: int = 8, skill: float | None = None
) -> Any:
    """Squeeze episodes in the dataset layout, with the env facts a dataset would carry.
    ``skill=None``: a mixed tier (0 -> 1 over the episodes); else every episode at ``skill``."""
    from mfdiff_envs.offline.episodes import Episode, Episodes
    from mfdiff_envs.policies import make_behaviour_policy
    from mfdiff_envs.rollout import rollout
    from mfdiff_envs.squeeze import GaussianSqueezeCore

    core = GaussianSqueezeCore(n_agents, max_cycles=max_cycles)
    out = []
    for e in range(episodes):
        s = e / max(episodes - 1, 1) if skill is None else skill
        pol = make_behaviour_policy(core, s, seed=e)
        out.append(Episode.from_arrays(rollout(core, pol, seed=e, record=True).episode))
    return Episodes(
        episodes=out,
        env_id="mfdiff/GaussianSqueeze-v0",
        env_kwargs={"n_agents": n_agents, "max_cycles": max_cycles},
        family="squeeze",
        n_actions=core.n_actions,
    )


@pytest.fixture(scope="session")
def tiny_squeeze_episodes() -> Any:
    """4 mixed-tier Squeeze episodes, N = 64, 8 steps."""
    return squeeze_episodes()


def wait_until_writing(proc: Any, staging: Any, *, timeout: float) -> None:
    """Block until a dataset build in subprocess ``proc`` is writing episodes under ``staging``
    (a main_data.hdf5 over 1 MB); fail if it exits first or never starts."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = list(staging.glob("*/**/main_data.hdf5")) if staging.exists() else []
        for f in files:
            try:  # the build unlinks Minari's empty file before writing its own: a race
                if f.stat().st_size > 1_000_000:
                    return
            except FileNotFoundError:
                pass
        assert proc.poll() is None, "builder exited early"
        time.sleep(0.1)
    pytest.fail("the build never started writing")
