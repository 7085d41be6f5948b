"""Gaussian Squeeze core (stage game; Holmes-Parker et al. 2014, Yang et al. 2018).

N agents each pick a level a_i in {0, ..., A-1}. With x = sum_i a_i (per domain),
G(x) = x * exp(-(x - mu)^2 / sigma^2) and every agent of the domain receives G(x) / N_d.
The optimum is analytic: x* = (mu + sqrt(mu^2 + 2 sigma^2)) / 2.

By default mu = 2 N_d and sigma = N_d, so the optimal *mean level* x*/N_d = 1 + sqrt(1.5) =
2.2247 is interior at every N and the per-agent reward at the optimum, G(x*)/N_d = 2.1152, does
not depend on N. Uniform random levels (mean 4.5) then score ~0.4 % of the optimum and a
deterministic shared level (all 2s) 94.6 %, so only a *mixed* population gets within 5 %.
The classic setting (mu = 400, sigma = 200 at N = 100) is reachable as ``mu=400, sigma=200``;
we do not default to it because there uniform random play (mean level 4.5) is already near
the optimum (4.449), which makes every offline tier look expert.

``max_cycles=1`` is the classic one-shot game. The default repeats the stage game for
``max_cycles`` steps and shows each agent last step's action histogram of its domain, so there
is a trajectory to plan over.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mfdiff_envs.core import VectorCore, check_float, check_int_range, check_positive_int

#: Allowed mu (per domain). mu >= 0 keeps the optimum G(x*) >= x* e^(-1/2) > 0 (the optimum gap
#: divides by it); the bounds keep (x - mu)^2 / sigma^2 and mu^2 + 2 sigma^2 finite in float64.
MU_RANGE = (0.0, 1e9)
#: Allowed sigma (per domain): sigma^2 must not underflow to 0 (0/0 = NaN at x = mu).
SIGMA_RANGE = (1e-6, 1e9)
#: Allowed n_levels: the observation holds one histogram bin per level.
N_LEVELS_RANGE = (2, 1000)


def squeeze_reward(
    x: NDArray | float, mu: NDArray | float, sigma: NDArray | float
) -> NDArray | float:
    """G(x) = x exp(-(x - mu)^2 / sigma^2), elementwise (one value per domain on arrays)."""
    return x * np.exp(-((x - mu) ** 2) / sigma**2)


def squeeze_optimum(
    mu: NDArray | float, sigma: NDArray | float
) -> NDArray | float:
    """argmax_x G(x) = (mu + sqrt(mu^2 + 2 sigma^2)) / 2 (from dG/dx = 0); elementwise on
    arrays (one optimum per domain)."""
    return (mu + np.sqrt(mu**2 + 2 * sigma**2)) / 2


class GaussianSqueezeCore(VectorCore):
    """Vectorised Gaussian Squeeze.

    Args:
        n_agents: N >= 1.
        n_levels: A, levels per agent (default 10: {0..9}), in [2, 1000].
        mu, sigma: centre and width of G per domain; a float (same for every domain), a
            sequence of n_domains floats, or None for the N-scaled default (2 N_d, N_d),
            where the multi-domain default shifts the centre per domain (1 + d) N_d.
            mu in [0, 1e9], sigma in [1e-6, 1e9] (:data:`MU_RANGE`, :data:`SIGMA_RANGE`):
            the range where every reward and metric is finite.
        n_domains: agents are split into contiguous blocks with their own (mu, sigma).
        max_cycles: steps per episode (1 = one-shot game).
    """

    family = "squeeze"

    def __init__(
        self,
        n_agents: int = 100,
        *,
        n_levels: int = 10,
        mu: float | Sequence[float] | None = None,
        sigma: float | Sequence[float] | None = None,
        n_domains: int = 1,
        max_cycles: int = 25,
    ) -> None:
        self.n_agents = check_positive_int("n_agents", n_agents)
        self.n_actions = check_int_range("n_levels", n_levels, *N_LEVELS_RANGE)
        self.n_domains = check_positive_int("n_domains", n_domains)
        if self.n_domains > self.n_agents:
            raise ValueError(f"n_domains ({n_domains}) must not exceed n_agents ({n_agents})")
        self.max_cycles = check_positive_int("max_cycles", max_cycles)
        # domain of agent i: contiguous blocks
        self.domain = (np.arange(self.n_agents) * self.n_domains // self.n_agents).astype(np.int64)
        self.domain_size = np.bincount(self.domain, minlength=self.n_domains).astype(np.float64)
        d_idx = np.arange(self.n_domains)
        default_mu = (2.0 if self.n_domains == 1 else 1.0 + d_idx) * self.domain_size
        self.mu = self._per_domain("mu", mu, default_mu, MU_RANGE)
        self.sigma = self._per_domain("sigma", sigma, 1.0 * self.domain_size, SIGMA_RANGE)
        self._mu_arg, self._sigma_arg = mu, sigma
        extra = self.n_domains if self.n_domains > 1 else 0
        self.obs_dim = self.n_actions + 1 + extra
        self.obs_names = tuple(
            [f"hist_{k}" for k in range(self.n_actions)]
            + ["time"]
            + [f"domain_{k}" for k in range(extra)]
        )
        self._obs = np.zeros((self.n_agents, self.obs_dim), dtype=np.float32)
        if extra:
            self._obs[np.arange(self.n_agents), self.n_actions + 1 + self.domain] = 1.0
        self.last_sums = np.zeros(self.n_domains)
        self._hist = np.zeros((self.n_domains, self.n_actions))
        super().__init__()

    def _per_domain(
        self, name: str, value: Any, default: NDArray, bounds: tuple[float, float]
    ) -> NDArray:
        if value is None:
            return default.astype(np.float64)
        low, high = bounds
        if isinstance(value, (list, tuple, np.ndarray)):
            vals = [check_float(name, v, low=low, high=high) for v in value]
            if len(vals) != self.n_domains:
                raise ValueError(
                    f"{name} needs one value per domain ({self.n_domains}), got {len(vals)}"
                )
            return np.asarray(vals, dtype=np.float64)
        return np.full(self.n_domains, check_float(name, value, low=low, high=high))

    # ---------------------------------------------------------------- analytic optimum
    @property
    def optimal_sum(self) -> NDArray[np.float64]:
        """x*_d per domain (real-valued)."""
        return squeeze_optimum(self.mu, self.sigma)

    @property
    def optimal_reward(self) -> float:
        """Team reward (mean per-agent reward) at the analytic optimum: sum_d G_d(x*_d) / N."""
        return float(np.sum(squeeze_reward(self.optimal_sum, self.mu, self.sigma)) / self.n_agents)

    def team_reward_of_sums(self, sums: NDArray) -> float:
        """Team reward (mean per-agent reward) when domain d's levels sum to ``sums[d]``."""
        return float(
            np.sum(squeeze_reward(np.asarray(sums, float), self.mu, self.sigma)) / self.n_agents
        )

    # ---------------------------------------------------------------- dynamics
    def _write_obs(self, actions: NDArray[np.int64] | None, t: int) -> NDArray[np.float32]:
        A = self.n_actions
        if actions is None:
            self._hist = np.zeros((self.n_domains, A))
            self._obs[:, :A] = 0.0
        else:
            counts = np.bincount(self.domain * A + actions, minlength=self.n_domains * A)
            self._hist = counts.reshape(self.n_domains, A) / self.domain_size[:, None]
            self._obs[:, :A] = self._hist[self.domain]
        self._obs[:, A] = t / self.max_cycles
        return self._obs.copy()

    def _reset(self) -> tuple[NDArray[np.float32], dict[str, Any]]:
        self.last_sums = np.zeros(self.n_domains)
        # the step infos' keys with NaN (no level chosen yet): recorders that need one info
        # structure per episode (Minari's DataCollector with record_infos) see the same keys
        return self._write_obs(None, 0), {k: math.nan for k in self.metrics()}

    def _step(self, actions: NDArray[np.int64]):
        sums = np.bincount(self.domain, weights=actions, minlength=self.n_domains)
        self.last_sums = sums
        g = squeeze_reward(sums, self.mu, self.sigma)  # [D]
        rewards = (g / self.domain_size)[self.domain].astype(np.float32)
        obs = self._write_obs(actions, self.t + 1)  # the base class advances self.t after _step
        terminated = np.zeros(self.n_agents, dtype=bool)
        return obs, rewards, terminated, self.metrics()

    def obs_bounds(self) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Every feature in [0, 1]: level shares, time t / T, domain one-hot."""
        return (np.zeros(self.obs_dim, dtype=np.float32),
                np.ones(self.obs_dim, dtype=np.float32))

    @property
    def state_dim(self) -> int:
        """n_domains * n_levels + 1."""
        return self.n_domains * self.n_actions + 1

    def state(self) -> NDArray[np.float32]:
        """Last step's level histogram of every domain (row-major [n_domains, n_levels], each
        row sums to 1, zeros before the first step), then t / max_cycles. In [0, 1]."""
        out = np.empty(self.state_dim, dtype=np.float32)
        out[:-1] = self._hist.reshape(-1)
        out[-1] = self.t / self.max_cycles
        return out

    def metrics(self) -> dict[str, float]:
        """mean level, relative gap to the optimum (1 - G(x)/G(x*)) of the last step (the reset
        infos carry the same keys as NaN: no step yet)."""
        opt = self.optimal_reward
        return {
            "mean_level": float(np.sum(self.last_sums) / self.n_agents),
            "optimum_gap": float(1.0 - self.team_reward_of_sums(self.last_sums) / opt),
        }

    def kwargs(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            if v is None or isinstance(v, float):
                return v
            if isinstance(v, (int, np.integer, np.floating)):
                return float(v)
            return [float(x) for x in v]

        return {
            "n_agents": self.n_agents,
            "n_levels": self.n_actions,
            "mu": plain(self._mu_arg),
            "sigma": plain(self._sigma_arg),
            "n_domains": self.n_domains,
            "max_cycles": self.max_cycles,
        }

    def render_rgb(self) -> NDArray[np.uint8]:
        """Histogram of last step's levels (bars) with the optimal mean level (red line)."""
        A, h, bw = self.n_actions, 120, 16
        img = np.full((h, A * bw, 3), 255, dtype=np.uint8)
        frac = self._obs[: self.n_agents, :A].mean(0)
        heights = (frac / max(frac.max(), 1e-9) * (h - 10)).astype(int)
        rows = np.arange(h)[:, None]
        cols = np.arange(A * bw)[None, :]
        bar = (h - rows <= heights[cols // bw]) & (cols % bw > 1)
        img[bar] = (60, 110, 200)
        star = int(np.clip(np.sum(self.optimal_sum) / self.n_agents * bw + bw / 2, 0, A * bw - 1))
        img[:, star] = (220, 30, 30)
        return img
