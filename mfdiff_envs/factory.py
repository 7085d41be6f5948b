"""Build the PettingZoo-style constructors (``env``, ``parallel_env``, ``raw_env``, ``joint_env``)
of a family from its core class and its two view classes.

The view classes are defined at module level in each ``<family>_v0`` shim (not built here with
``type()``): plain ``pickle`` finds a class by module and name, so a class made at run time
cannot be pickled, and SuperSuit, Gymnasium's async vector envs and Tianshou all pickle envs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pettingzoo.utils import conversions, wrappers

from mfdiff_envs.core import VectorCore
from mfdiff_envs.joint import JointEnv
from mfdiff_envs.parallel import CoreParallelEnv

#: Render modes of every view: a pygame window, or an RGB array.
RENDER_MODES = ["human", "rgb_array"]
RENDER_FPS = 10


class CheckedParallelToAEC(conversions.parallel_to_aec_wrapper):
    """PettingZoo's ``parallel_to_aec`` wrapper that checks each action as it is stepped, with
    the message the other views give: a ValueError naming the agent, its action and the range
    (PettingZoo's ``AssertOutOfBoundsWrapper`` raises a bare ``AssertionError: action is not in
    action space``, which vanishes under ``python -O``).

    The check lives in this subclass, not in a wrapper around it, so that ``env()`` stays
    ``OrderEnforcingWrapper(parallel_to_aec_wrapper)``: the one layering PettingZoo's
    ``aec_to_parallel`` turns back into the native parallel env. Any other layering falls back
    to PettingZoo's generic ``aec_to_parallel_wrapper``, which loops over the agents inside a
    loop over the agents: 7.7 s per parallel step at N = 1000 against ~1 ms native.
    """

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        done = self.terminations[agent] or self.truncations[agent]
        if not (action is None and done) and not self.action_space(agent).contains(action):
            n = self.action_space(agent).n
            what = ("None for a live agent (only a terminated or truncated agent steps None)"
                    if action is None else repr(action))
            raise ValueError(f"{agent}: the action must be an integer in [0, {n - 1}], got {what}")
        super().step(action)


def parallel_metadata(name: str) -> dict[str, Any]:
    """``metadata`` of a family's PettingZoo view (``name`` is e.g. ``"squeeze_v0"``)."""
    return {
        "name": name,
        "render_modes": list(RENDER_MODES),
        "is_parallelizable": True,
        "render_fps": RENDER_FPS,
    }


def joint_metadata() -> dict[str, Any]:
    """``metadata`` of a family's gymnasium joint view."""
    return {"render_modes": list(RENDER_MODES), "render_fps": RENDER_FPS}


def make_constructors(
    core_cls: type[VectorCore],
    parallel_cls: type[CoreParallelEnv],
    joint_cls: type[JointEnv],
) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """Return ``(env, parallel_env, raw_env, joint_env)`` for ``core_cls``.

    Every constructor takes the core's keyword arguments plus ``render_mode``; the dict views
    (``env``, ``parallel_env``, ``raw_env``) also take ``max_memory_gb`` (see
    :class:`~mfdiff_envs.parallel.CoreParallelEnv`). Unknown keywords raise ``TypeError``
    naming the family.
    """
    name = parallel_cls.metadata["name"]

    def _core(kwargs: dict[str, Any]) -> VectorCore:
        try:
            return core_cls(**kwargs)
        except TypeError as e:
            if "unexpected keyword" in str(e):
                raise TypeError(f"{name}: {e}") from None
            raise
        except (MemoryError, ValueError) as e:
            # numpy's own words for a population whose core arrays cannot be allocated
            # ("Unable to allocate 74.5 GiB", "Maximum allowed size exceeded"), before the
            # dict view's max_memory_gb guard could speak: say which N (an outside audit)
            if isinstance(e, ValueError) and "Maximum allowed size" not in str(e):
                raise
            raise MemoryError(f"{name}: n_agents={kwargs.get('n_agents')} is too large for the "
                              f"env's own arrays on this machine ({e})") from None

    def parallel_env(
        render_mode: str | None = None, max_memory_gb: float | None = None, **kwargs: Any
    ) -> CoreParallelEnv:
        """PettingZoo ``ParallelEnv`` (native; dicts built from the core's arrays)."""
        return parallel_cls(_core(kwargs), render_mode=render_mode, max_memory_gb=max_memory_gb)

    def raw_env(
        render_mode: str | None = None, max_memory_gb: float | None = None, **kwargs: Any
    ) -> Any:
        """AEC env without the out-of-bounds check (``parallel_to_aec`` of the view: PettingZoo's
        order-enforcing wrapper only; the parallel step still validates the actions)."""
        return conversions.parallel_to_aec(
            parallel_env(render_mode=render_mode, max_memory_gb=max_memory_gb, **kwargs)
        )

    def env(
        render_mode: str | None = None, max_memory_gb: float | None = None, **kwargs: Any
    ) -> Any:
        """AEC env with PettingZoo's order-enforcing wrapper and an out-of-bounds check of every
        action (:class:`CheckedParallelToAEC`); ``aec_to_parallel`` of it is the native
        parallel env."""
        par = parallel_env(render_mode=render_mode, max_memory_gb=max_memory_gb, **kwargs)
        return wrappers.OrderEnforcingWrapper(CheckedParallelToAEC(par))

    def joint_env(render_mode: str | None = None, **kwargs: Any) -> JointEnv:
        """Gymnasium joint view: the whole population as one agent."""
        return joint_cls(_core(kwargs), render_mode=render_mode)

    return env, parallel_env, raw_env, joint_env
