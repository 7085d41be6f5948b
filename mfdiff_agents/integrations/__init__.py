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
from types import ModuleType


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise an ImportError that names the mfdiff extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"this mfdiff integration needs {module!r}, which is not installed: "
            f"pip install 'mfdiff[{extra}]'  ({e})"
        ) from e


__all__ = ["require"]
