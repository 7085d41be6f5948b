"""Build the PettingZoo-style constructors (``env``, ``parallel_env``, ``raw_env``, ``joint_env``)
of a family from its core class, so each ``<family>_v0`` shim is three lines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pettingzoo.utils import conversions, wrappers

from mfdiff_envs.core import VectorCore
from mfdiff_envs.joint import JointEnv
from mfdiff_envs.parallel import CoreParallelEnv


def make_constructors(
    core_cls: type[VectorCore], name: str
) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """Return ``(env, parallel_env, raw_env, joint_env)`` for ``core_cls``.

    Every constructor takes the core's keyword arguments plus ``render_mode``; unknown keywords
    raise ``TypeError`` naming the family.
    """
    metadata = {
        "name": name,
        "render_modes": ["rgb_array"],
        "is_parallelizable": True,
        "render_fps": 10,
    }
    par_cls = type(
        f"{core_cls.__name__}ParallelEnv",
        (CoreParallelEnv,),
        {
            "metadata": metadata,
            "__doc__": f"PettingZoo parallel view of :class:`{core_cls.__name__}`.",
        },
    )
    joint_cls = type(
        f"{core_cls.__name__}JointEnv",
        (JointEnv,),
        {
            "metadata": {"render_modes": ["rgb_array"], "render_fps": 10},
            "__doc__": f"Gymnasium joint view of :class:`{core_cls.__name__}`.",
        },
    )

    def _core(kwargs: dict[str, Any]) -> VectorCore:
        try:
            return core_cls(**kwargs)
        except TypeError as e:
            if "unexpected keyword" in str(e):
                raise TypeError(f"{name}: {e}") from None
            raise

    def parallel_env(render_mode: str | None = None, **kwargs: Any) -> CoreParallelEnv:
        return par_cls(_core(kwargs), render_mode=render_mode)

    def raw_env(render_mode: str | None = None, **kwargs: Any):
        return conversions.parallel_to_aec(parallel_env(render_mode=render_mode, **kwargs))

    def env(render_mode: str | None = None, **kwargs: Any):
        aec = raw_env(render_mode=render_mode, **kwargs)
        aec = wrappers.AssertOutOfBoundsWrapper(aec)
        return wrappers.OrderEnforcingWrapper(aec)

    def joint_env(render_mode: str | None = None, **kwargs: Any) -> JointEnv:
        return joint_cls(_core(kwargs), render_mode=render_mode)

    return env, parallel_env, raw_env, joint_env
