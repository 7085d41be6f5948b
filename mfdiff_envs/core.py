"""Vectorised array core shared by every environment family.

A core holds the whole population as arrays and steps all N agents at once:

    obs, info = core.reset(seed)                      # obs: [N, d] float32
    obs, rew, term, trunc, info = core.step(actions)  # actions: [N] int, rew: [N] float32

The PettingZoo view (:mod:`mfdiff_envs.parallel`) and the gymnasium joint view
(:mod:`mfdiff_envs.joint`) are thin wrappers over a core; batched policies use the core
directly (``env.unwrapped.core``) and never touch per-agent dicts.

No torch here: the env packages must stay importable without it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

ObsArray = NDArray[np.float32]  # [N, d]
ActArray = NDArray[np.int64]  # [N]


#: Families one dataset, checkpoint or family config may serve under two names: Battle on
#: magent2 and ours share observations and actions.
SAME_FAMILY: dict[str, str] = {"magent_battle": "battle"}


class MfdiffWarning(UserWarning):
    """A warning of mfdiff's own (a UserWarning): the ``mfdiff`` CLI prints these as its own
    messages and every other warning with its category and source."""


class VectorCore(ABC):
    """Base class of a vectorised N-agent environment core.

    Subclasses set ``n_agents``, ``obs_dim``, ``n_actions`` and ``max_cycles`` in ``__init__``
    and implement :meth:`_reset` and :meth:`_step` (and :meth:`_agent_names` where the ids are
    not ``agent_<i>``).
    Input validation, seeding and the alive mask live here so every family behaves the same.

    Attributes:
        n_agents: population size N (all agents the core steps).
        obs_dim: per-agent observation size d.
        n_actions: per-agent discrete action count A.
        max_cycles: steps before every agent is truncated.
        agent_names: the N PettingZoo agent ids, in array order.
        alive: [N] bool, which agents are still in the game.
        t: steps taken since the last reset.
    """

    #: Family name, used in ids and dataset names (e.g. ``"squeeze"``).
    family: ClassVar[str] = "core"
    #: Names of the per-agent observation features, length ``obs_dim`` (documentation, plots).
    obs_names: tuple[str, ...] = ()
    #: Bounds of every entry of :meth:`state` (the views' ``state_space``).
    state_low: ClassVar[float] = 0.0
    state_high: ClassVar[float] = 1.0

    n_agents: int
    obs_dim: int
    n_actions: int

    @cached_property
    def agent_names(self) -> list[str]:
        """The N PettingZoo agent ids, in array order, built on first use: the core holds
        arrays only, so a dict view's memory guard refuses a huge N before N strings exist."""
        return self._agent_names()

    def _agent_names(self) -> list[str]:
        return [f"agent_{i}" for i in range(self.n_agents)]

    @property
    def max_cycles(self) -> int:
        """Steps before every agent is truncated (the time feature is t / max_cycles)."""
        return self._max_cycles

    @max_cycles.setter
    def max_cycles(self, value: int) -> None:
        value = check_positive_int("max_cycles", value)
        # mid-episode, a limit at or below the steps taken would put the time feature above 1
        # (outside the observation space) on the next step instead of ending the episode
        t = getattr(self, "t", 0)
        if not getattr(self, "_needs_reset", True) and value <= t:
            raise ValueError(
                f"max_cycles must exceed the {t} steps this episode has taken, got {value} "
                "(set it before reset(), or larger)"
            )
        self._max_cycles = value

    def __init__(self) -> None:
        # Drawn at the first unseeded reset, not here (as Gymnasium's np_random): a generator
        # made at construction is shared by every copy taken before the first reset, and
        # SuperSuit's concat_vec_envs_v1 pickles one fresh env into all its copies, so unseeded
        # copies would play identical episodes.
        self.rng: np.random.Generator | None = None
        self.alive = np.ones(self.n_agents, dtype=bool)
        self.t = 0
        self._needs_reset = True

    # ------------------------------------------------------------------ public API
    def reset(self, seed: int | None = None) -> tuple[ObsArray, dict[str, Any]]:
        """Start an episode. Same ``seed`` -> same trajectory for the same actions.

        Raises:
            ValueError: ``seed`` is not None nor a non-negative integer (Python or numpy).
        """
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ValueError(
                    f"seed must be a non-negative integer or None, got {seed!r}"
                )
            self.rng = np.random.default_rng(int(seed))
        elif self.rng is None:
            self.rng = np.random.default_rng()
        self.t = 0
        self.alive = np.ones(self.n_agents, dtype=bool)
        self._needs_reset = False
        obs, info = self._reset()
        return obs, info

    def step(
        self, actions: Any
    ) -> tuple[ObsArray, NDArray[np.float32], NDArray[np.bool_], NDArray[np.bool_], dict[str, Any]]:
        """Step all N agents. ``actions``: integer array of shape [N] in [0, n_actions).

        Actions of dead agents are ignored (any valid value is accepted).
        """
        if self._needs_reset:
            raise RuntimeError(
                f"{type(self).__name__}.step() called before reset() or after the episode ended"
            )
        acts = self.validate_actions(actions)
        obs, rewards, terminated, info = self._step(acts)
        self.t += 1
        truncated = np.full(self.n_agents, self.t >= self.max_cycles, dtype=bool)
        if bool(np.all(terminated | truncated)):
            self._needs_reset = True
        return obs, rewards, terminated, truncated, info

    def validate_actions(self, actions: Any) -> ActArray:
        """Return ``actions`` as int64 [N], or raise a ValueError/TypeError naming the problem."""
        arr = np.asarray(actions)
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
            if np.issubdtype(arr.dtype, np.floating) and arr.size and np.all(arr == np.round(arr)):
                raise TypeError(
                    f"actions must be an integer array, got dtype {arr.dtype}; "
                    "cast with .astype(np.int64)"
                )
            raise TypeError(f"actions must be an integer array, got dtype {arr.dtype}")
        if arr.shape != (self.n_agents,):
            raise ValueError(
                f"actions must have shape ({self.n_agents},) (one per agent), got {arr.shape}"
            )
        if arr.size and (arr.min() < 0 or arr.max() >= self.n_actions):
            bad = int(np.flatnonzero((arr < 0) | (arr >= self.n_actions))[0])
            raise ValueError(
                f"actions must lie in [0, {self.n_actions - 1}]; agent {bad} got {int(arr[bad])}"
            )
        return arr.astype(np.int64, copy=False)

    def team_reward(self, rewards: NDArray[np.float32]) -> float:
        """Scalar team reward of one step: the mean per-agent reward over the controlled agents."""
        return float(np.mean(rewards)) if rewards.size else 0.0

    def metrics(self) -> dict[str, float]:
        """Family-specific episode metrics of the current state (e.g. order parameter)."""
        return {}

    @property
    @abstractmethod
    def state_dim(self) -> int:
        """Size of :meth:`state`."""

    def obs_bounds(self) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """(low [d], high [d]) float32: bounds of every observation feature (the views'
        observation spaces), dead agents' all-zero observations included. Unbounded unless a
        family states its bounds; Gymnasium's and PettingZoo's checkers warn on an infinite
        bound, and the dataset builder checks every recorded observation against them."""
        inf = np.full(self.obs_dim, np.inf, dtype=np.float32)
        return -inf, inf

    def state_bounds(self) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """(low [state_dim], high [state_dim]) float32: ``state_low`` / ``state_high`` for every
        entry, but the last one, the time t / max_cycles, in [0, 1]."""
        low = np.full(self.state_dim, self.state_low, dtype=np.float32)
        high = np.full(self.state_dim, self.state_high, dtype=np.float32)
        low[-1], high[-1] = 0.0, 1.0
        return low, high

    @abstractmethod
    def state(self) -> NDArray[np.float32]:
        """Global state [state_dim] float32 in ``state_bounds()``, for centralised critics.

        Family-specific (see each core); it always ends with the time t / max_cycles.
        """

    @abstractmethod
    def render_rgb(self) -> NDArray[np.uint8]:
        """An RGB picture [H, W, 3] of the current state."""

    def kwargs(self) -> dict[str, Any]:
        """Plain-data constructor kwargs that rebuild this core (stored in dataset specs)."""
        return {}

    # ------------------------------------------------------------------ subclass hooks
    @abstractmethod
    def _reset(self) -> tuple[ObsArray, dict[str, Any]]: ...

    @abstractmethod
    def _step(
        self, actions: ActArray
    ) -> tuple[ObsArray, NDArray[np.float32], NDArray[np.bool_], dict[str, Any]]:
        """Advance one step; return obs [N, d], rewards [N], terminated [N], info."""


def policy_actions(actions: Any, who: str, rows: NDArray[np.bool_] | None = None) -> ActArray:
    """A policy's ``actions`` as int64, read where ``rows`` (default: all) are True.

    Integer and boolean arrays pass; floats only where every read value is whole: a policy that
    returns probabilities (P(flip) = 0.9) was truncated to action 0 without a word (an
    outside audit). ``who`` names the policy in the error.
    """
    arr = np.asarray(actions)
    if arr.dtype.kind == "O":  # a list of Python ints built as objects
        arr = np.asarray(arr.tolist())
    if arr.dtype.kind == "f":
        read = arr if rows is None else arr[rows]
        whole = np.isfinite(read) & (read == np.round(read))
        if not whole.all():
            raise ValueError(
                f"{who} returned non-integer actions (e.g. {read[~whole][:3].tolist()}): "
                "actions are indices in [0, n_actions), not probabilities or scores"
            )
        if rows is not None:  # rows not read (dead agents) may hold anything, NaN included
            out = np.zeros(arr.shape, np.int64)
            out[rows] = read
            return out
    elif arr.dtype.kind not in "biu":
        raise TypeError(f"{who} returned actions of dtype {arr.dtype}; expected integers")
    return arr.astype(np.int64)


def check_positive_int(name: str, value: Any) -> int:
    """Validate a positive integer kwarg (numpy ints accepted, bools and floats refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return int(value)


def check_render_mode(render_mode: str | None, allowed: list[str]) -> str | None:
    """Validate a ``render_mode`` kwarg against the env's ``metadata["render_modes"]``."""
    if render_mode is not None and render_mode not in allowed:
        raise ValueError(f"render_mode must be one of {allowed} or None, got {render_mode!r}")
    return render_mode


def check_float(
    name: str,
    value: Any,
    *,
    positive: bool = False,
    low: float | None = None,
    high: float | None = None,
) -> float:
    """Validate a real-valued kwarg and return it as a plain float.

    ``low``/``high`` (inclusive) are the range that keeps every output of the env finite;
    the error names the kwarg and the range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} ({value!r})")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(
            f"{name} must lie in [{lo}, {hi}] (the range that keeps rewards and observations "
            f"finite), got {value:g}"
        )
    return value


def check_int_range(name: str, value: Any, low: int, high: int) -> int:
    """Validate an int kwarg in [low, high] (inclusive); the error names the kwarg and range."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if not low <= value <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}], got {value}")
    return int(value)


def mean_field_summary(obs: NDArray[np.floating], alive: NDArray[np.bool_]) -> NDArray[np.float32]:
    """Fixed-size population statistic m_t over all N agents, vectorised over leading axes.

    State-only (no actions), so a planner can compute it at decision time from the current
    observations exactly as the dataset loader computes it for training.

    Args:
        obs: [..., N, d] observations.
        alive: [..., N] alive mask (dead agents are left out of every statistic).

    Returns:
        [..., 2 d + 1]: mean and std of obs over alive agents, and the alive fraction.
    """
    w = alive.astype(np.float32)  # [..., N]
    n_alive = np.maximum(w.sum(-1, keepdims=True), 1.0)  # [..., 1]
    # where, not multiply: a dead agent's row may hold anything (NaN * 0 is NaN)
    live = np.where(alive[..., None], obs, 0.0)
    mean = live.sum(-2) / n_alive  # [..., d]
    var = np.where(alive[..., None], (live - mean[..., None, :]) ** 2, 0.0).sum(-2) / n_alive
    frac = w.mean(-1, keepdims=True)
    return np.concatenate([mean, np.sqrt(var), frac], axis=-1).astype(np.float32)


def mean_field_dim(obs_dim: int) -> int:
    """Size of :func:`mean_field_summary` for observations of size ``obs_dim``."""
    return 2 * obs_dim + 1
