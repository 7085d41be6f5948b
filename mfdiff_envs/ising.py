"""Ising core: spins on an L x L torus that flip themselves (sequential mean-field dynamics).

Each agent j holds a spin s_j in {-1, +1} on an L x L torus (N = L^2, 4-neighbourhood N(j)).
Each step every agent keeps (0) or flips (1) its spin; then thermal noise flips each spin
independently with probability p = 1 / (1 + exp(2 / temperature)) (the Glauber flip
probability of a spin against a unit field). The reward on the new spins is

    r_j = h s_j + (lambda / 2) s_j sum_{k in N(j)} s_k,

so the team optimum is the fully aligned lattice (order parameter xi = |N_up - N_down| / N = 1).
The state carries over between steps, so a planner has a horizon to plan over.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

from mfdiff_envs.core import VectorCore, check_float, check_positive_int

#: Default temperature: p = 1 / (1 + exp(2 / 0.52)) = 0.021 flips per spin per step.
DEFAULT_TEMPERATURE = 0.52
#: Allowed temperature (the flip probability is 0 to double precision below ~1e-3, 1/2 above).
TEMPERATURE_RANGE = (1e-6, 1e6)
#: Allowed field and coupling: |reward| <= |h| + 2 |lambda| stays far inside float32.
FIELD_RANGE = COUPLING_RANGE = (-1e6, 1e6)


def flip_probability(temperature: float) -> float:
    """Thermal flip probability p = 1 / (1 + exp(2 / T)) per spin and step."""
    return float(expit(-2.0 / temperature))  # expit: no overflow warning as T -> 0


class IsingCore(VectorCore):
    """Vectorised Ising lattice of agent-controlled spins.

    Args:
        n_agents: N = L^2, a perfect square ≥ 9 (e.g. 100, 1024, 10 000).
        temperature: noise temperature T in [1e-6, 1e6] (default 0.52: flip probability 0.021).
        field: external field h (reward h s_j), in [-1e6, 1e6].
        coupling: neighbour coupling lambda, in [-1e6, 1e6].
        max_cycles: steps per episode.

    Observation (4 floats): own spin, mean of the 4 neighbours' spins, global magnetisation
    (mean spin: the mean field), time t / T. Actions: 0 keep, 1 flip.
    """

    family = "ising"
    obs_names = ("spin", "neighbour_mean", "magnetisation", "time")
    state_low = -1.0

    def __init__(
        self,
        n_agents: int = 1024,
        *,
        temperature: float = DEFAULT_TEMPERATURE,
        field: float = 0.0,
        coupling: float = 1.0,
        max_cycles: int = 50,
    ) -> None:
        n = check_positive_int("n_agents", n_agents)
        side = math.isqrt(n)
        if side * side != n:
            # the nearest squares a 3 x 3 torus or larger allows
            near = sorted({max(side, 3) ** 2, max(side + 1, 3) ** 2})
            raise ValueError(
                f"n_agents must be a perfect square (the lattice is L x L), at least 9, got "
                f"{n}; nearest: {' or '.join(map(str, near))}"
            )
        if side < 3:  # on a 1 x 1 or 2 x 2 torus an agent is its own or a double neighbour
            raise ValueError(f"n_agents must be at least 9 (a 3 x 3 torus), got {n}")
        self.n_agents = n
        self.side = side
        lo, hi = TEMPERATURE_RANGE
        self.temperature = check_float("temperature", temperature, positive=True, low=lo, high=hi)
        self.field = check_float("field", field, low=FIELD_RANGE[0], high=FIELD_RANGE[1])
        self.coupling = check_float(
            "coupling", coupling, low=COUPLING_RANGE[0], high=COUPLING_RANGE[1]
        )
        self.max_cycles = check_positive_int("max_cycles", max_cycles)
        self.flip_prob = flip_probability(self.temperature)
        self.n_actions = 2
        self.obs_dim = 4
        self.spins = np.ones((side, side), dtype=np.int8)
        super().__init__()

    # ---------------------------------------------------------------- dynamics
    def _neighbour_sum(self) -> NDArray[np.int8]:
        s = self.spins
        # np.roll wraps around: the torus boundary for free, and vectorised.
        return np.roll(s, 1, 0) + np.roll(s, -1, 0) + np.roll(s, 1, 1) + np.roll(s, -1, 1)

    def _obs(self, nsum: NDArray[np.int8], t: int) -> NDArray[np.float32]:
        obs = np.empty((self.n_agents, 4), dtype=np.float32)
        obs[:, 0] = self.spins.reshape(-1)
        obs[:, 1] = nsum.reshape(-1) * 0.25
        obs[:, 2] = self.spins.mean(dtype=np.float64)
        obs[:, 3] = t / self.max_cycles
        return obs

    def _reset(self) -> tuple[NDArray[np.float32], dict[str, Any]]:
        L = self.side
        self.spins = (2 * self.rng.integers(0, 2, size=(L, L)) - 1).astype(np.int8)
        return self._obs(self._neighbour_sum(), 0), {"order_parameter": self.order_parameter}

    def _step(self, actions: NDArray[np.int64]):
        L = self.side
        flip = actions.reshape(L, L).astype(bool)
        flip ^= self.rng.random((L, L)) < self.flip_prob  # noise after the agents act
        self.spins = np.where(flip, -self.spins, self.spins).astype(np.int8)
        nsum = self._neighbour_sum()
        s = self.spins.astype(np.float32)
        rewards = (self.field * s + 0.5 * self.coupling * s * nsum).reshape(-1).astype(np.float32)
        obs = self._obs(nsum, self.t + 1)  # obs carries the post-step time
        terminated = np.zeros(self.n_agents, dtype=bool)
        return obs, rewards, terminated, {"order_parameter": self.order_parameter}

    def obs_bounds(self) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Spin, neighbour mean and magnetisation in [-1, 1], time t / T in [0, 1]."""
        return (np.array([-1.0, -1.0, -1.0, 0.0], dtype=np.float32),
                np.ones(4, dtype=np.float32))

    @property
    def state_dim(self) -> int:
        """N + 1."""
        return self.n_agents + 1

    def state(self) -> NDArray[np.float32]:
        """Every spin (+-1, row-major over the L x L lattice, agent order), then t / max_cycles.
        In [-1, 1]."""
        out = np.empty(self.n_agents + 1, dtype=np.float32)
        out[:-1] = self.spins.reshape(-1)
        out[-1] = self.t / self.max_cycles
        return out

    # ---------------------------------------------------------------- reporting
    @property
    def order_parameter(self) -> float:
        """xi = |N_up - N_down| / N = |mean spin|."""
        return float(abs(self.spins.mean(dtype=np.float64)))

    def metrics(self) -> dict[str, float]:
        """Order parameter xi and signed magnetisation of the current lattice."""
        return {
            "order_parameter": self.order_parameter,
            "magnetisation": float(self.spins.mean(dtype=np.float64)),
        }

    def kwargs(self) -> dict[str, Any]:
        return {
            "n_agents": self.n_agents,
            "temperature": self.temperature,
            "field": self.field,
            "coupling": self.coupling,
            "max_cycles": self.max_cycles,
        }

    def render_rgb(self) -> NDArray[np.uint8]:
        """Lattice picture: up spins light, down spins dark, each spin ``max(1, 256 // side)``
        pixels square (2 x 2 at N = 10^4, 1 x 1 from a side of 129)."""
        scale = max(1, 256 // self.side)
        img = np.where(self.spins[..., None] > 0, np.uint8(235), np.uint8(30)).astype(np.uint8)
        img = np.repeat(np.repeat(img, scale, 0), scale, 1)
        return np.repeat(img, 3, axis=2)
