"""Gymnasium "joint" view of a core: the whole population is one gymnasium agent.

Observation ``Box(N, d)`` float32, action ``Box(0, A-1, (N,), int64)``, scalar team reward
(mean per-agent reward), per-agent rewards and the alive mask in ``info``. This is the view
Minari stores (Minari 0.5 has no multi-agent format), and the one ``gym.make`` returns.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from numpy.typing import NDArray

from mfdiff_envs.core import VectorCore, check_render_mode


class JointEnv(gymnasium.Env):
    """gymnasium.Env over a vectorised core (``env.unwrapped.core``)."""

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, core: VectorCore, render_mode: str | None = None) -> None:
        self.core = core
        self.render_mode = check_render_mode(render_mode, self.metadata["render_modes"])
        n, d, a = core.n_agents, core.obs_dim, core.n_actions
        self.observation_space = gymnasium.spaces.Box(
            -np.inf, np.inf, shape=(n, d), dtype=np.float32
        )
        self.action_space = gymnasium.spaces.Box(0, a - 1, shape=(n,), dtype=np.int64)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        super().reset(seed=seed)
        if seed is None:
            # Draw the core's seed from gymnasium's np_random so an earlier reset(seed) reproduces.
            seed = int(self.np_random.integers(2**31 - 1))
        obs, info = self.core.reset(seed=seed)
        return obs, self._info(np.zeros(self.core.n_agents, np.float32), info)

    def step(self, action: Any) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        obs, rew, term, trunc, info = self.core.step(action)
        terminated = bool(np.all(term | ~self.core.alive))
        truncated = bool(np.all(trunc)) and not terminated
        return obs, self.core.team_reward(rew), terminated, truncated, self._info(rew, info)

    def _info(self, rewards: NDArray[np.float32], core_info: dict[str, Any]) -> dict[str, Any]:
        info = dict(core_info)
        info["rewards"] = rewards.astype(np.float32, copy=False)
        info["alive"] = self.core.alive.copy()
        return info

    def render(self) -> NDArray[np.uint8] | None:
        if self.render_mode is None:
            gymnasium.logger.warn(
                "render() called without render_mode; pass render_mode='rgb_array'"
            )
            return None
        return self.core.render_rgb()
