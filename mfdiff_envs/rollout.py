"""The one episode loop of mfdiff: dataset building, evaluation, scripted scoring and the env demo
all run their episodes through :func:`rollout`.

    result = rollout(core, policy, seed=0, policy_seed=0, record=True)
    result.total_return, result.steps, result.metrics_final, result.episode["observations"]

``policy`` is anything with ``reset(seed)`` and ``act_batch(obs [N, d], alive [N]) -> [N]``:
the numpy behaviour policies of :mod:`mfdiff_envs.policies` and every
:class:`mfdiff_agents.policy.Policy` qualify. The loop drives the vectorised core directly
(never the per-agent dicts) and ends an episode by the joint view's rule
(:class:`mfdiff_envs.joint.JointEnv`): *terminated* when every agent is terminated or dead,
*truncated* when every agent is truncated and the episode did not terminate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from mfdiff_envs.core import VectorCore, policy_actions


class BatchActor(Protocol):
    """What :func:`rollout` needs of a policy."""

    def reset(self, seed: int | None = None) -> None:
        """Start an episode; ``seed`` seeds the policy's own randomness."""
        ...

    def act_batch(self, obs: NDArray[np.floating], mask: NDArray[np.bool_]) -> Any:
        """Integer actions ``[N]`` for observations ``obs [N, d]``; the actions of rows where
        ``mask`` is False (dead agents) are ignored."""
        ...


@dataclass
class RolloutResult:
    """One episode: its return, length, timings, per-step metrics and (``record=True``) arrays."""

    total_return: float
    """Undiscounted team return (sum over steps of ``core.team_reward``)."""
    steps: int
    terminated: bool
    truncated: bool
    act_seconds: float
    """Time spent inside ``policy.act_batch``."""
    wall_seconds: float
    metrics: dict[str, list[float]] = field(default_factory=dict)
    """``core.metrics()`` after every step."""
    agent_returns: NDArray[np.float64] | None = None
    """[N] undiscounted return of each agent (sum of its per-agent rewards)."""
    episode: dict[str, Any] | None = None
    """With ``record=True``: the episode arrays in the Minari layout (see offline/build.py)."""

    @property
    def metrics_final(self) -> dict[str, float]:
        """Each family metric at the episode's last step."""
        return {k: v[-1] for k, v in self.metrics.items()}

    @property
    def metrics_mean(self) -> dict[str, float]:
        """Each family metric averaged over the episode's steps."""
        return {k: float(np.mean(v)) for k, v in self.metrics.items()}


def rollout(
    core: VectorCore,
    policy: BatchActor,
    *,
    seed: int | None,
    policy_seed: int | None = None,
    record: bool = False,
    on_step: Callable[[int], object] | None = None,
) -> RolloutResult:
    """Play one whole episode of ``policy`` on ``core``.

    Args:
        core: the vectorised env core (``env.unwrapped.core``).
        policy: ``reset(seed)`` + ``act_batch(obs, alive)``; reset with ``policy_seed`` first.
        seed: env reset seed.
        policy_seed: policy reset seed (default: ``seed``).
        record: also keep the episode arrays (observations [T+1, N, d], actions [T, N], team
            rewards [T], terminations/truncations [T], infos rewards/alive [T+1, N]).
        on_step: progress callback (e.g. a tqdm bar's ``update``): called with 1 after every
            step, and once more with the steps left to ``core.max_cycles`` when the episode
            ends sooner, so that a bar totalled at ``max_cycles`` an episode ends full.
    """
    t_start = time.perf_counter()
    n = core.n_agents
    obs, _ = core.reset(seed=seed)
    policy.reset(seed if policy_seed is None else policy_seed)
    obs_l: list[NDArray] = [obs]
    act_l: list[NDArray] = []
    rew_l: list[NDArray] = [np.zeros(n, np.float32)]
    alive_l: list[NDArray] = [core.alive.copy()]
    team: list[float] = []
    metrics: dict[str, list[float]] = {}
    act_s = 0.0
    agent_ret = np.zeros(n, np.float64)
    terminated = truncated = False
    while not (terminated or truncated):
        t0 = time.perf_counter()
        alive = core.alive.copy()
        actions = policy_actions(policy.act_batch(obs, alive),
                                 f"{type(policy).__name__}.act_batch", alive)
        act_s += time.perf_counter() - t0
        obs, rew, term, trunc, _ = core.step(actions)
        team.append(core.team_reward(rew))
        agent_ret += rew
        for k, v in core.metrics().items():
            metrics.setdefault(k, []).append(float(v))
        terminated = bool(np.all(term | ~core.alive))
        truncated = bool(np.all(trunc)) and not terminated
        if on_step is not None:
            on_step(1)
        if record:
            obs_l.append(obs)
            act_l.append(actions)
            rew_l.append(np.asarray(rew, np.float32))
            alive_l.append(core.alive.copy())
    steps = len(team)
    if on_step is not None and steps < core.max_cycles:
        on_step(core.max_cycles - steps)
    episode = None
    if record:
        terms, truncs = np.zeros(steps, bool), np.zeros(steps, bool)
        terms[-1], truncs[-1] = terminated, truncated
        episode = {
            "observations": np.stack(obs_l).astype(np.float32, copy=False),
            "actions": np.stack(act_l),
            "rewards": np.asarray(team, np.float64),
            "terminations": terms,
            "truncations": truncs,
            "infos": {"rewards": np.stack(rew_l), "alive": np.stack(alive_l)},
        }
    return RolloutResult(
        total_return=float(sum(team)),  # sequential, as the loop accumulates
        steps=steps,
        terminated=terminated,
        truncated=truncated,
        act_seconds=act_s,
        wall_seconds=time.perf_counter() - t_start,
        metrics=metrics,
        agent_returns=agent_ret,
        episode=episode,
    )
