"""PettingZoo ``ParallelEnv`` view over any :class:`~mfdiff_envs.core.VectorCore`.

The view only converts between dicts and the core's arrays; all dynamics are vectorised in the
core. One space object is shared by every agent (building 10 000 Box objects costs more than a
step). Dead agents leave ``env.agents`` as PettingZoo requires.

Cost per step is the dicts, not the dynamics: at N = 10 000 the core steps an agent in
~40-75 ns and the view spends ~0.6-1.1 µs per agent on Python objects (a row view, a float, an
info dict, four dict entries and freeing them; docs/results/env_throughput.md has the measured
breakdown), so Squeeze and Ising stay >10x slower than their cores there.
Agent names are built once; every result dict starts as a copy of a prebuilt dict of the live
agents (a copy duplicates the key table without hashing, ~4 ns per agent) and is filled in
one C-level pass (``d.update(zip(names, values))``, no resizing); terminations and truncations
are plain copies unless an agent terminated; the live-agent list and its template dict are only
rebuilt when an agent dies. Observations are rows of a fresh [n, d] array, so a stored
observation is never overwritten by a later step.

The dict view holds Python objects per agent (names, dict entries, row views, info dicts), so a
memory estimate guards huge N at construction (see :func:`dict_view_bytes`); the batch core
(``env.unwrapped.core``) and the joint view have no per-agent objects and take any N whose
arrays fit.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from numpy.typing import NDArray
from pettingzoo import ParallelEnv

from mfdiff_envs.core import VectorCore, check_float, check_positive_int, check_render_mode
from mfdiff_envs.render import HumanWindow

#: Default limit of :func:`dict_view_bytes` (GB) before the dict view refuses to build.
DEFAULT_MAX_MEMORY_GB = 4.0
#: Python objects per agent held by the dict view and one step's dicts (names, spaces/index dict
#: entries, 5 result dicts, a row view, an info dict, a float, the caller's action dict):
#: measured 1.05 kB (Squeeze) and 1.11 kB (Battle) with tracemalloc at N = 10^5.
DICT_BYTES_PER_AGENT = 1100


def dict_view_bytes(n_agents: int, obs_dim: int) -> int:
    """Estimated peak bytes of the dict view during a step at ``n_agents`` agents.

    Per agent: :data:`DICT_BYTES_PER_AGENT` of Python objects, plus the core's observation array,
    the copy it returns and the view's slice of it (3 float32 rows of ``obs_dim``). At N = 10^7
    (Squeeze) that is ~12 GB; without this guard ``reset()`` ran > 200 s and took 7 GB before
    the first step.
    """
    return int(n_agents) * (DICT_BYTES_PER_AGENT + 3 * 4 * int(obs_dim))


class CoreParallelEnv(ParallelEnv):
    """PettingZoo parallel env that delegates to a vectorised core.

    Each family subclasses it in its ``<family>_v0`` shim, setting only ``metadata``.

    Args:
        core: the vectorised core the view drives.
        render_mode: ``None``, ``"rgb_array"`` (``render()`` returns [H, W, 3] uint8) or
            ``"human"`` (a pygame window; ``render()`` returns None).
        max_memory_gb: refuse to build when :func:`dict_view_bytes` exceeds this many GB
            (default :data:`DEFAULT_MAX_MEMORY_GB`); raise it knowingly for huge N.

    Attributes:
        state_space: ``Box`` of :meth:`state`, the family's global state (see the core's
            ``state`` docstring); for centralised critics.
    """

    metadata: dict[str, Any] = {
        "name": "mfdiff_core",
        "render_modes": ["human", "rgb_array"],
        "is_parallelizable": True,
        "render_fps": 10,
    }

    def __init__(
        self,
        core: VectorCore,
        render_mode: str | None = None,
        max_memory_gb: float | None = None,
    ) -> None:
        limit = (
            DEFAULT_MAX_MEMORY_GB
            if max_memory_gb is None
            else check_float("max_memory_gb", max_memory_gb, positive=True)
        )
        need = dict_view_bytes(core.n_agents, core.obs_dim)
        if need > limit * 1e9:
            raise MemoryError(
                f"N={core.n_agents:,} needs ~{need / 1e9:.1f} GB in the PettingZoo dict view "
                f"(~{need // core.n_agents:,} B per agent of Python objects and rows), over "
                f"max_memory_gb={limit:g}. Use the batch core (env.unwrapped.core) or the "
                "gymnasium joint view, which hold arrays only, or pass max_memory_gb=..."
            )
        self.core = core
        self.render_mode = check_render_mode(render_mode, self.metadata["render_modes"])
        self._window = (
            HumanWindow(self.metadata["name"], self.metadata.get("render_fps", 10))
            if render_mode == "human"
            else None
        )
        self.possible_agents = list(core.agent_names)
        self.agents: list[str] = []
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        # Object array of the names: names of a subset in one fancy index (no Python loop).
        self._names = np.array(self.possible_agents, dtype=object)
        low, high = core.obs_bounds()
        self._obs_space = gymnasium.spaces.Box(low, high, shape=(core.obs_dim,), dtype=np.float32)
        self._act_space = gymnasium.spaces.Discrete(core.n_actions)
        self.observation_spaces = dict.fromkeys(self.possible_agents, self._obs_space)
        self.action_spaces = dict.fromkeys(self.possible_agents, self._act_space)
        self.state_space = gymnasium.spaces.Box(*core.state_bounds(), dtype=np.float32)
        self._all_false = dict.fromkeys(self.possible_agents, False)
        self._acts = np.zeros(core.n_agents, dtype=np.int64)
        self._live_idx = np.zeros(0, dtype=np.intp)  # array indices of self.agents
        # {live agent: False}: template of every result dict (see the module docstring)
        self._live_false: dict[str, bool] = {}

    @property
    def max_cycles(self) -> int:
        """Steps before every agent is truncated (settable, as PettingZoo's envs)."""
        return self.core.max_cycles

    @max_cycles.setter
    def max_cycles(self, value: int) -> None:
        self.core.max_cycles = check_positive_int("max_cycles", value)

    def observation_space(self, agent: str) -> gymnasium.spaces.Box:
        """The one ``Box(d,)`` float32 space shared by every agent (KeyError for a name not
        in ``possible_agents``, as ``observation_spaces[agent]``)."""
        self._check_agent(agent)
        return self._obs_space

    def action_space(self, agent: str) -> gymnasium.spaces.Discrete:
        """The one ``Discrete(A)`` space shared by every agent (KeyError for a name not in
        ``possible_agents``)."""
        self._check_agent(agent)
        return self._act_space

    def _check_agent(self, agent: str) -> None:
        # a misspelt name, or one of the team the env plays itself, is a caller's mistake
        # that a shared space would otherwise answer
        if agent not in self._index:
            raise KeyError(
                f"{agent!r} is not one of this env's possible_agents "
                f"({self.possible_agents[0]!r} ... {self.possible_agents[-1]!r}, "
                f"{len(self.possible_agents)} in all)"
            )

    def _set_live(self, idx: NDArray[np.intp]) -> None:
        self._live_idx = idx
        if idx.size == len(self.possible_agents):
            self.agents = list(self.possible_agents)
            self._live_false = self._all_false
        else:
            self.agents = self._names[idx].tolist()
            self._live_false = dict.fromkeys(self.agents, False)

    def _dict(self, values: Any) -> dict[str, Any]:
        """``{agent: value}`` over the live agents, ``values`` in ``self.agents`` order.

        A copy of the template already has every key in place, so ``update`` only replaces
        values: ~10-20 % cheaper than ``dict(zip(...))``, which rehashes as the dict grows.
        """
        out = self._live_false.copy()
        out.update(zip(self.agents, values))
        return out

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, NDArray], dict[str, dict]]:
        """Reset the core; observations of the live agents (rows of one fresh array)."""
        obs, _ = self.core.reset(seed=seed)
        self._set_live(np.flatnonzero(self.core.alive))
        return self._dict(obs[self._live_idx]), {a: {} for a in self.agents}

    def _action_array(self, actions: dict[str, Any]) -> NDArray[np.int64]:
        """The [N] action array of an action dict with one entry per live agent. Entries for
        agents that are already dead are ignored (TorchRL's PettingZooWrapper sends them);
        a missing live agent or an unknown name is a KeyError."""
        keys = list(actions)
        values: Any = actions.values()
        if keys == self.agents:  # fast path: the dict lists the live agents in order
            idx = self._live_idx
        else:
            live = set(self.agents)
            unknown = sorted(k for k in keys if k not in self._index)
            missing = sorted(live - set(keys), key=self._index.__getitem__)  # array order
            if unknown or missing:
                raise KeyError(
                    "step() needs exactly one action per live agent; "
                    f"unknown: {unknown[:5]}, missing: {missing[:5]}"
                )
            if len(keys) != len(live):  # actions of dead agents: dropped
                keys = [k for k in keys if k in live]
                values = [actions[k] for k in keys]
            idx = np.fromiter(map(self._index.__getitem__, keys), dtype=np.intp, count=len(keys))
        # np.fromiter would silently truncate floats, read True as 1 and parse '4': every value
        # must be a Python or numpy integer (one C-level pass over the types; ranges: the core)
        kinds = set(map(type, values))
        if np.ndarray in kinds:  # e.g. q(obs).argmax().numpy(): a 0-d array Discrete accepts
            values = [_scalar_action(v) for v in values]
            kinds = set(map(type, values))
        bad = sorted(k.__name__ for k in kinds
                     if issubclass(k, (bool, np.bool_)) or not issubclass(k, (int, np.integer)))
        if bad:
            raise TypeError(f"actions must be integers, got values of type {', '.join(bad)}")
        try:
            vals = np.fromiter(values, dtype=np.int64, count=len(keys))
        except OverflowError:  # numpy's message names neither the agent nor the range
            big = next(k for k, v in zip(keys, values, strict=True)
                       if not -2**63 <= int(v) < 2**63)
            n = self.core.n_actions
            raise ValueError(
                f"{big}: the action must be an integer in [0, {n - 1}], got {int(actions[big])}"
            ) from None
        acts = self._acts
        if idx is self._live_idx and idx.size == acts.size:  # in order, everyone alive
            acts[:] = vals
        else:
            acts[:] = 0  # dead agents' actions are ignored by the core
            acts[idx] = vals
        return acts

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Step the core with one action per live agent; dicts over the agents live before it."""
        if not self.agents:
            raise RuntimeError(
                "step() called on an env with no live agents; call reset() first (SuperSuit's "
                "black_death_v3 steps on after every agent left, by death or at the episode's "
                "end (max_cycles): use mfdiff_envs.wrappers.black_death, docs/envs.md)"
            )
        acts = self._action_array(actions)
        prev, names = self._live_idx, self.agents
        obs, rew, term, trunc, _ = self.core.step(acts)
        if prev.size != len(self.possible_agents):
            obs, rew = obs[prev], rew[prev]
        observations = self._dict(obs)
        rewards = self._dict(rew.tolist())
        term_p = term[prev]
        # the template is all-False: a copy costs ~nothing per entry
        terminations = self._dict(term_p.tolist()) if term_p.any() else self._live_false.copy()
        # truncation is the same for every agent (t >= max_cycles)
        truncations = (
            dict.fromkeys(self._live_false, True) if trunc.all() else self._live_false.copy()
        )
        # one fresh dict per agent (wrappers write into infos[agent]); a comprehension's BUILD_MAP
        # is the cheapest empty dict (faster than starmap(dict, ...) into update). They are the
        # only GC-allocated objects per agent (~14 gen-0 collections per step at N = 10^4, ~3 %
        # of the step); every other result dict holds no containers and stays GC-untracked.
        infos = {a: {} for a in names}
        done = term_p | trunc[prev] | ~self.core.alive[prev]
        if done.all():
            self._set_live(prev[:0])
        elif done.any():
            self._set_live(prev[~done])
        return observations, rewards, terminations, truncations, infos

    def render(self) -> NDArray[np.uint8] | None:
        """``rgb_array``: the picture [H, W, 3] uint8; ``human``: draw it in a window, None."""
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

    def state(self) -> NDArray[np.float32]:
        """Global state [state_dim] float32 of the core (documented per family)."""
        return self.core.state()

    def close(self) -> None:
        """Close the render window, if any."""
        if self._window is not None:
            self._window.close()


def _scalar_action(v: Any) -> Any:
    """A 0-d integer array as its numpy scalar (what ``Discrete.contains`` accepts); any other
    value unchanged, for the type check that follows to name it."""
    if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype != np.bool_ \
            and np.issubdtype(v.dtype, np.integer):
        return v[()]
    return v
