"""Independent Diffuser baseline: one single-agent trajectory diffuser shared by every agent.

The MF-Diffuser's diffusion process and denoiser with the interaction layer switched off
(``interaction="none"``), one particle per sample and no mean-field conditioning: each agent
plans alone from its own observation (Janner et al. 2022 style, return-conditioned). Cost per
step is O(N) denoiser rows, chunked by ``act_chunk``. Details in
:mod:`mfdiff_agents.baselines.diffuser_base`.

    policy = fit(sampler, Config(steps=2000)); policy.save(dir)
    IndependentDiffuserPolicy.from_pretrained(dir)
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
    """Independent-diffuser hyper-parameters (all fields documented on DiffuserConfig)."""


class IndependentDiffuserPolicy(DiffuserPolicy):
    """Every live agent plans its own trajectory (no interaction term)."""

    METHOD = "indep_diffuser"
    INTERACTION = "none"
    JOINT = False
    CONFIG = Config


class IndependentDiffuserLearner(DiffuserLearner):
    """Trains one single-agent Diffuser on every agent's own trajectory (no interaction)."""

    POLICY = IndependentDiffuserPolicy


def fit(sampler: WindowSampler, cfg: Config, *, out_dir: Path | None = None,
        **kw: Any) -> IndependentDiffuserPolicy:
    """Train on ``sampler``'s windows (see :func:`mfdiff_agents.training.train`)."""
    return train(IndependentDiffuserLearner, sampler, cfg, out_dir=out_dir, **kw)
