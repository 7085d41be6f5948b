"""Shared by the examples: pick the policy (a checkpoint, or a scripted tier) and parse args."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

from mfdiff_agents.policy import Policy

SCRIPTED = ("random", "medium", "expert")
T = TypeVar("T")


def parser(doc: str | None, n_agents: int = 100) -> argparse.ArgumentParser:
    """The arguments every example takes: ``--n-agents``, ``--policy``, ``--seed``."""
    p = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    p.add_argument("--n-agents", type=int, default=n_agents, help="population size N")
    p.add_argument("--policy", default="expert",
                   help="a checkpoint directory (any mfdiff method), or random|medium|expert "
                        "(the scripted behaviour policies, default expert)")
    p.add_argument("--seed", type=int, default=0)
    return p


def env_id_for(policy: str, given: str | None, default: str) -> str:
    """The env an example runs: ``given`` (``--env``), else the one a checkpoint was trained
    on (its config.json), else ``default`` (scripted policies play every family)."""
    if given is not None:
        return given
    if policy not in SCRIPTED:
        from mfdiff_agents.checkpoint import CheckpointError, read_meta

        try:
            return read_meta(policy)["env"]["env_id"]
        except (CheckpointError, KeyError):
            pass  # not a readable checkpoint: make_policy says why
    return default


def make_env(p: argparse.ArgumentParser, factory: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``factory(*args, **kwargs)``, an env refusing its arguments (Ising: N must be L x L, at
    least 9; Battle: N even) ending the example as a usage error with the env's own message
    instead of a traceback."""
    try:
        return factory(*args, **kwargs)
    except ValueError as e:
        p.error(str(e))


def make_policy(spec: str, core: Any, seed: int = 0) -> Policy:
    """A checkpoint directory -> its trained policy (1 torch thread, checked against ``core``);
    a scripted tier name -> that scripted policy on ``core``."""
    from mfdiff_agents.baselines.scripted import make_scripted

    if spec in SCRIPTED:
        return make_scripted(spec, core, seed=seed)
    from mfdiff_agents import load_policy

    policy = load_policy(spec, device="cpu", num_threads=1, seed=seed)
    policy.check_env(core)
    return policy
