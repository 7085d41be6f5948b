"""Adapters that put any mfdiff :class:`~mfdiff_agents.policy.Policy` into other RL libraries.

Each submodule is an optional extra and imports its library only when imported itself:

* :mod:`mfdiff_agents.integrations.torchrl` (``pip install mfdiff[torchrl]``): a
  ``TensorDictModule`` over a TorchRL multi-agent group (for ``PettingZooWrapper`` or our
  native env), and a native batched TorchRL ``EnvBase`` over each family's numpy core;
* :mod:`mfdiff_agents.integrations.tianshou` (``pip install mfdiff[tianshou]``): a Tianshou
  policy that acts for the whole population of the gymnasium joint view, for a ``Collector``
  over ``DummyVectorEnv`` or ``SubprocVectorEnv``.

See ``docs/integrations.md`` for snippets, measured costs and pitfalls.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise an ImportError that names the mfdiff extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"this mfdiff integration needs {module!r}, which is not installed: "
            f"pip install 'mfdiff[{extra}]'  ({e})"
        ) from e


def refuse_repeated_stateful(policies: Sequence[Any] | Mapping[int, Any]) -> None:
    """Raise a ValueError when one stateful policy object (``policy.stateful``: the planner,
    MFQ) is listed for two envs, as ``[policy] * n_envs`` lists it: its plan (or previous mean
    action) would mix the envs' populations and each env would skip plan steps, without an
    error (an outside audit). Stateless policies may repeat. ``policies``: one per env, or
    {env index: policy}."""
    seen: dict[int, int] = {}
    pairs = policies.items() if isinstance(policies, Mapping) else enumerate(policies)
    for i, pol in pairs:
        if not getattr(pol, "stateful", False):
            continue
        if id(pol) in seen:
            raise ValueError(
                f"one {type(pol).__name__} object is given for envs {seen[id(pol)]} and {i}, but "
                "it keeps state between steps (stateful=True): its plan would mix their "
                "populations. Give each env its own, e.g. [load_policy(ckpt) for _ in "
                "range(n_envs)] rather than [policy] * n_envs (or copy.deepcopy(policy))")
        seen[id(pol)] = i


__all__ = ["refuse_repeated_stateful", "require"]
