"""MADiff-style joint diffuser: all-pairs self-attention over agents (O(N²)).

The MF-Diffuser's diffusion process with the attention interaction denoiser
(``interaction="attention"``): trained on the K agents of a window as one joint sample, and at
act time it plans for *all* N live agents jointly (one sample of [1, N, H, c], attention over N at
every plan step and layer). Time and memory grow as N²; ``max_agents`` (default 1024) makes it
fail with a clear ValueError beyond the size it handles on a CPU rather than thrash — measured
numbers in docs/results/baseline_latency.md.
Details in :mod:`mfdiff_agents.baselines.diffuser_base`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mfdiff_agents.baselines.diffuser_base import DiffuserConfig, DiffuserLearner, DiffuserPolicy
from mfdiff_agents.training import train

if TYPE_CHECKING:
    from mfdiff_envs.offline.windows import WindowSampler


@dataclasses.dataclass
class Config(DiffuserConfig):
    """Joint-diffuser hyper-parameters (fields documented on DiffuserConfig)."""

    max_agents: int = 1024
    """Refuse to plan jointly for more live agents than this (O(N²) attention; on 2 CPU cores
    one act at N = 1024 already takes ~15 s, see docs/results/baseline_latency.md)."""


class JointDiffuserPolicy(DiffuserPolicy):
    """All live agents are planned as one joint sample with all-pairs attention."""

    METHOD = "joint_diffuser"
    INTERACTION = "attention"
    JOINT = True
    CONFIG = Config


class JointDiffuserLearner(DiffuserLearner):
    """Trains the MADiff-style joint diffuser: the K particles' trajectories denoised together
    with all-pairs attention."""

    POLICY = JointDiffuserPolicy


def fit(sampler: WindowSampler, cfg: Config, *, out_dir: Path | None = None,
        **kw: Any) -> JointDiffuserPolicy:
    """Train on ``sampler``'s windows (see :func:`mfdiff_agents.training.train`)."""
    return train(JointDiffuserLearner, sampler, cfg, out_dir=out_dir, **kw)
