"""Baselines behind the :class:`~mfdiff_agents.policy.Policy` interface.

| module | method | acts by |
|---|---|---|
| :mod:`.scripted` | random, scripted medium/expert (the dataset behaviour policies) | numpy |
| :mod:`.bc` | behaviour cloning π(a \\| s_i, m_t) | sampling the softmax |
| :mod:`.mfq` | offline mean-field Q-learning Q(s_i, m_t, ā) + CQL | Boltzmann over Q |
| :mod:`.independent_diffuser` | one single-agent Diffuser for all agents | per-agent plans |
| :mod:`.joint_diffuser` | MADiff-style, all-pairs agent attention (O(N²)) | joint plan |

Every trainable module has ``Config`` and ``fit(sampler, cfg, *, out_dir=None, progress=True)``;
its policy has ``save(dir)`` / ``from_pretrained(dir)`` (``config.json`` + ``model.safetensors``).
Torch is imported only by the trainable modules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def LOADERS() -> dict[str, Callable[..., Any]]:  # noqa: N802  (a constant table, built lazily)
    """checkpoint ``method`` name -> ``from_pretrained(dir, device=...)`` (imports lazily)."""

    def bc(d: Any, device: str = "cpu") -> Any:
        from mfdiff_agents.baselines.bc import BCPolicy

        return BCPolicy.from_pretrained(d, device=device)

    def mfq(d: Any, device: str = "cpu") -> Any:
        from mfdiff_agents.baselines.mfq import MFQPolicy

        return MFQPolicy.from_pretrained(d, device=device)

    def independent_diffuser(d: Any, device: str = "cpu") -> Any:
        from mfdiff_agents.baselines.independent_diffuser import IndependentDiffuserPolicy

        return IndependentDiffuserPolicy.from_pretrained(d, device=device)

    def joint_diffuser(d: Any, device: str = "cpu") -> Any:
        from mfdiff_agents.baselines.joint_diffuser import JointDiffuserPolicy

        return JointDiffuserPolicy.from_pretrained(d, device=device)

    def mf_diffuser(d: Any, device: str = "cpu") -> Any:
        from mfdiff_agents.diffuser.planner import MFDiffuserPlanner

        try:
            return MFDiffuserPlanner.from_pretrained(d, device=device)
        except TypeError:  # a loader without a device keyword
            return MFDiffuserPlanner.from_pretrained(d)

    return {"bc": bc, "mfq": mfq, "independent_diffuser": independent_diffuser,
            "joint_diffuser": joint_diffuser, "mfdiffuser": mf_diffuser}


__all__ = ["LOADERS"]
