"""Shared by the examples: pick the policy (a checkpoint, or a scripted tier), the env it was
trained on (id and kwargs), and parse args."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from mfdiff_agents.checkpoint import CheckpointError, trained_env
from mfdiff_agents.policy import Policy

SCRIPTED = ("random", "medium", "expert")
SQUEEZE, ISING, BATTLE = "mfdiff/GaussianSqueeze-v0", "mfdiff/Ising-v0", "mfdiff/Battle-v0"
ENV_IDS = (BATTLE, SQUEEZE, ISING)
T = TypeVar("T")


def parser(doc: str | None, n_agents: int = 100, *, env: str | None = SQUEEZE,
           steps: int = 10) -> argparse.ArgumentParser:
    """The arguments every example takes: ``--n-agents``, ``--policy``, ``--seed``, ``--steps``
    and, unless ``env`` is None, ``--env`` (``env``: the one scripted policies play)."""
    p = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    p.add_argument("--n-agents", type=int, default=n_agents, help="population size N")
    p.add_argument("--policy", default="expert",
                   help="a checkpoint directory (any mfdiff method), or random|medium|expert "
                        "(the scripted behaviour policies, default expert)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=steps,
                   help="stop after this many env steps (the episode keeps the length the "
                        "checkpoint was trained with: a time feature is t / max_cycles)")
    if env is not None:
        p.add_argument("--env", choices=ENV_IDS, default=None,
                       help=f"default: the checkpoint's env, else {env}")
        p.set_defaults(default_env=env)
    return p


def env_id_for(policy: str, given: str | None, default: str) -> str:
    """The env an example runs: ``given`` (``--env``), else the one a checkpoint was trained
    on (its config.json), else ``default`` (scripted policies play every family). Raises
    :class:`CheckpointError` for a ``policy`` that is neither a tier nor a readable checkpoint."""
    if given is not None:
        return given
    trained = None if policy in SCRIPTED else trained_env(policy)
    return trained[0] if trained is not None else default


def env_kwargs_for(policy: str, env_id: str) -> dict[str, Any]:
    """The env kwargs a checkpoint was trained with (config.json's ``env.env_kwargs``) less the
    population ones (``n_agents``, Battle's ``map_size``, which follows N, ``render_mode``),
    when it was trained on ``env_id``; ``{}`` (the family's defaults) for a scripted tier or
    another env. Raises :class:`CheckpointError` for an unreadable checkpoint."""
    trained = None if policy in SCRIPTED else trained_env(policy)
    return trained[2] if trained is not None and trained[0] == env_id else {}


def resolve_env(p: argparse.ArgumentParser, args: argparse.Namespace,
                default: str = SQUEEZE) -> tuple[str, dict[str, Any]]:
    """``(env id, env kwargs without n_agents)`` for ``args.policy`` and ``args.env`` (if the
    parser has one; else ``default``, the parser's ``env`` if it has one); an unreadable
    checkpoint ends the example as a usage error."""
    try:
        default = getattr(args, "default_env", default)
        env_id = env_id_for(args.policy, getattr(args, "env", None), default)
        return env_id, env_kwargs_for(args.policy, env_id)
    except CheckpointError as e:
        bad_policy(p, e)


def bad_policy(p: argparse.ArgumentParser, e: Exception) -> NoReturn:
    p.error(f"--policy: {e} (give a checkpoint directory or one of {', '.join(SCRIPTED)})")


def make_env(p: argparse.ArgumentParser, factory: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``factory(*args, **kwargs)``, an env refusing its arguments (Ising: N must be L x L, at
    least 9; Battle: N even) ending the example as a usage error with the env's own message
    instead of a traceback."""
    try:
        return factory(*args, **kwargs)
    except ValueError as e:
        p.error(str(e))


def make_policy(p: argparse.ArgumentParser, spec: str, core: Any, seed: int = 0) -> Policy:
    """A checkpoint directory -> its trained policy (1 torch thread, checked against ``core``);
    a scripted tier name -> that scripted policy on ``core``. An unreadable checkpoint or one
    of another family than ``core`` (``--env``) ends the example as a usage error."""
    from mfdiff_agents.baselines.scripted import make_scripted

    if spec in SCRIPTED:
        return make_scripted(spec, core, seed=seed)
    from mfdiff_agents import load_policy

    try:
        policy = load_policy(spec, device="cpu", num_threads=1, seed=seed)
    except CheckpointError as e:
        bad_policy(p, e)
    try:
        policy.check_env(core)
    except ValueError as e:  # another family or other spaces
        p.error(str(e))
    return policy


def pettingzoo_module(p: argparse.ArgumentParser, env_id: str) -> Any:
    """The PettingZoo module (``parallel_env``, ``env``) of ``env_id``; another id (e.g. a
    checkpoint trained on magent2's Battle) is a usage error."""
    from mfdiff_envs import battle_v0, ising_v0, squeeze_v0

    modules = {SQUEEZE: squeeze_v0, ISING: ising_v0, BATTLE: battle_v0}
    if env_id not in modules:
        p.error(f"no PettingZoo module for {env_id!r} here; one of {sorted(modules)} (--env)")
    return modules[env_id]
