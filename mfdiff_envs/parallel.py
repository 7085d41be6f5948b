"""PettingZoo ``ParallelEnv`` view over any :class:`~mfdiff_envs.core.VectorCore`.

The view only converts between dicts and the core's arrays; all dynamics are vectorised in the
core. One space object is shared by every agent (building 10 000 Box objects costs more than a
step). Dead agents leave ``env.agents`` as PettingZoo requires.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from numpy.typing import NDArray
from pettingzoo import ParallelEnv

from mfdiff_envs.core import VectorCore, check_positive_int, check_render_mode


class CoreParallelEnv(ParallelEnv):
    """PettingZoo parallel env that delegates to a vectorised core.

    Subclasses (made by :func:`mfdiff_envs.factory.make_constructors`) only set ``metadata``.
    """

    metadata: dict[str, Any] = {
        "name": "mfdiff_core",
        "render_modes": ["rgb_array"],
        "is_parallelizable": True,
    }

    def __init__(self, core: VectorCore, render_mode: str | None = None) -> None:
        self.core = core
        self.render_mode = check_render_mode(render_mode, self.metadata["render_modes"])
        self.possible_agents = list(core.agent_names)
        self.agents: list[str] = []
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        self._obs_space = gymnasium.spaces.Box(
            -np.inf, np.inf, shape=(core.obs_dim,), dtype=np.float32
        )
        self._act_space = gymnasium.spaces.Discrete(core.n_actions)
        self.observation_spaces = dict.fromkeys(self.possible_agents, self._obs_space)
        self.action_spaces = dict.fromkeys(self.possible_agents, self._act_space)
        self._last_actions = np.zeros(core.n_agents, dtype=np.int64)
        self._live: set[str] = set()

    @property
    def max_cycles(self) -> int:
        return self.core.max_cycles

    @max_cycles.setter
    def max_cycles(self, value: int) -> None:
        self.core.max_cycles = check_positive_int("max_cycles", value)

    def observation_space(self, agent: str) -> gymnasium.spaces.Box:
        return self._obs_space

    def action_space(self, agent: str) -> gymnasium.spaces.Discrete:
        return self._act_space

    def _obs_dict(self, obs: NDArray[np.float32], idx: NDArray[np.intp]) -> dict[str, NDArray]:
        names = self.possible_agents
        return {names[i]: obs[i] for i in idx.tolist()}

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, NDArray], dict[str, dict]]:
        obs, _ = self.core.reset(seed=seed)
        idx = np.flatnonzero(self.core.alive)
        self.agents = [self.possible_agents[i] for i in idx.tolist()]
        self._live = set(self.agents)
        return self._obs_dict(obs, idx), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise RuntimeError("step() called on an env with no live agents; call reset() first")
        if len(actions) != len(self.agents) or not self._live.issuperset(actions):
            unknown = sorted(set(actions) - self._live)
            missing = sorted(self._live - set(actions))
            raise KeyError(
                f"step() needs exactly one action per live agent; unknown: {unknown[:5]}, "
                f"missing: {missing[:5]}"
            )
        acts = self._last_actions
        acts[:] = 0  # dead agents' actions are ignored by the core
        names = list(actions)
        # map/values run at C speed: the dict view's cost per agent is what bounds it at N = 10^4
        idx = np.fromiter(map(self._index.__getitem__, names), dtype=np.intp, count=len(names))
        vals = np.asarray(list(actions.values()))
        if vals.size and not np.issubdtype(vals.dtype, np.integer):
            raise TypeError(f"actions must be integers, got dtype {vals.dtype}")
        acts[idx] = vals
        prev = np.flatnonzero(self.core.alive)
        obs, rew, term, trunc, info = self.core.step(acts)
        pn = self.possible_agents
        prev_names = [pn[i] for i in prev.tolist()]
        rewards = dict(zip(prev_names, rew[prev].tolist()))
        terminations = dict(zip(prev_names, term[prev].tolist()))
        truncations = dict(zip(prev_names, trunc[prev].tolist()))
        observations = dict(zip(prev_names, obs[prev]))  # rows of a [n, d] array
        infos = {a: {} for a in prev_names}
        done = (term | trunc | ~self.core.alive)[prev].tolist()
        self.agents = [a for a, d in zip(prev_names, done) if not d]
        self._live = set(self.agents)
        return observations, rewards, terminations, truncations, infos

    def render(self) -> NDArray[np.uint8] | None:
        if self.render_mode is None:
            gymnasium.logger.warn(
                "render() called without render_mode; pass render_mode='rgb_array'"
            )
            return None
        return self.core.render_rgb()

    def state(self) -> NDArray[np.float32]:
        raise NotImplementedError

    def close(self) -> None:
        pass
