"""Gymnasium "joint" view of a core: the whole population is one gymnasium agent.

Observation ``Box(N, d)`` float32, action ``MultiDiscrete([A] * N)`` int64 (a discrete action
per agent: libraries read an integer ``Box`` as continuous), scalar team reward (mean
per-agent reward), per-agent rewards and the alive mask in ``info``. This is the view Minari
stores (Minari 0.5 has no multi-agent format), and the one ``gym.make`` returns.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from numpy.typing import NDArray

from mfdiff_envs.core import VectorCore, check_render_mode
from mfdiff_envs.render import HumanWindow


class JointEnv(gymnasium.Env):
    """gymnasium.Env over a vectorised core (``env.unwrapped.core``).

    Each family subclasses it in its ``<family>_v0`` shim, setting only ``metadata``.
    ``render_mode``: ``None``, ``"rgb_array"`` or ``"human"`` (a pygame window).
    """

    metadata: dict[str, Any] = {"render_modes": ["human", "rgb_array"], "render_fps": 10}

    def __init__(self, core: VectorCore, render_mode: str | None = None) -> None:
        self.core = core
        self.render_mode = check_render_mode(render_mode, self.metadata["render_modes"])
        self._window = (
            HumanWindow(f"mfdiff {core.family}", self.metadata.get("render_fps", 10))
            if render_mode == "human"
            else None
        )
        n, d, a = core.n_agents, core.obs_dim, core.n_actions
        low, high = core.obs_bounds()
        self.observation_space = gymnasium.spaces.Box(
            np.broadcast_to(low, (n, d)), np.broadcast_to(high, (n, d)), dtype=np.float32
        )
        self.action_space = gymnasium.spaces.MultiDiscrete(
            np.full(n, a, dtype=np.int64), dtype=np.int64
        )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        if isinstance(seed, np.integer):  # e.g. from rng.integers; the parallel view takes it too
            seed = int(seed)
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

    def state(self) -> NDArray[np.float32]:
        """Global state of the core (see its ``state`` docstring)."""
        return self.core.state()

    def render(self) -> NDArray[np.uint8] | None:
        if self.render_mode is None:
            gymnasium.logger.warn(
                "render() called without render_mode; pass render_mode='rgb_array' or 'human'"
            )
            return None
        frame = self.core.render_rgb()
        if self._window is not None:
            self._window.show(frame)
            return None
        return frame

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
