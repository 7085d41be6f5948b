"""mfdiff_agents: the MF-Diffuser planner and the baselines, behind one policy interface.

    from mfdiff_agents import MFDiffuserPlanner, load_policy
    policy = load_policy("runs/mfd", num_threads=1)      # any method's checkpoint

Names are imported on first use, so ``import mfdiff_agents`` stays light (no torch until needed).
"""

from __future__ import annotations

from typing import Any

from mfdiff_agents.policy import ObservationBoundsWarning, Policy, RandomPolicy

_LAZY = {
    "MFDiffuserPlanner": "mfdiff_agents.diffuser.planner",
    "TrainedPolicy": "mfdiff_agents.trained",
    "METHODS": "mfdiff_agents.methods",
    "get_method": "mfdiff_agents.methods",
    "load_policy": "mfdiff_agents.methods",
    "make_sampler": "mfdiff_agents.methods",
    "train_config": "mfdiff_agents.methods",
    "family_config": "mfdiff_agents.family_configs",
    "tune_cpu_allocator": "mfdiff_agents.allocator",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mfdiff_agents' has no attribute {name!r}")


__all__ = ["ObservationBoundsWarning", "Policy", "RandomPolicy", *_LAZY]
