"""Behaviour cloning with a mean-field input.

A shared per-agent MLP π_θ(a | s_i, m_t) maps the agent's own observation and the population's
mean-field summary m_t = mean_field_summary(obs, alive) (over all N, exactly the windows'
``mean_field``) to action logits; it is trained by cross-entropy on the dataset's actions of the
K sampled agents (alive steps only). It acts by *sampling* from the softmax with the policy's
seeded generator: in Gaussian Squeeze every agent sees the same observation, so a greedy argmax
would move the whole population to one level.

    policy = fit(sampler, Config(steps=2000))
    actions = policy.act_batch(obs, alive)
    policy.save("runs/bc"); BCPolicy.from_pretrained("runs/bc")
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from mfdiff_agents.baselines.common import (
    SoftmaxActorPolicy,
    mlp,
    window_features,
)
from mfdiff_agents.checkpoint import EnvFacts
from mfdiff_agents.config import TrainConfig, check_decoupled_decay, check_finite
from mfdiff_agents.data import arrays_to_torch
from mfdiff_agents.training import Learner, train

if TYPE_CHECKING:
    from mfdiff_envs.offline.windows import Windows, WindowSampler


@dataclasses.dataclass
class Config(TrainConfig):
    """Behaviour-cloning hyper-parameters."""

    batch_size: int = 16
    """Windows per batch (each has K agents × H steps of (s, m, a) samples)."""
    lr: float = 1e-3
    """AdamW learning rate."""
    hidden: int = 128
    """MLP width."""
    depth: int = 2
    """Hidden layers."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    temperature: float = 1.0
    """Acting temperature: sample from softmax(logits / T); T ≤ 0 is greedy. 1 reproduces the
    data's action frequencies, mistakes included; the grid acts at the per-family values of
    configs/bc/ (Squeeze / Ising / Battle: 0.5 / 0.1 / 0.3), which score far higher on medium and
    mixed data (docs/results/baseline_temp_<family>.md). Set at load: ``--set temperature=``."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_finite("Config", "lr", self.lr)  # lr = 0 never trains
        check_finite("Config", "weight_decay", self.weight_decay, strict=False)
        check_decoupled_decay("Config", self.lr, self.weight_decay)


class BCPolicy(SoftmaxActorPolicy):
    """Stochastic mean-field BC policy (see module docstring)."""

    METHOD = "bc"
    CONFIG = Config
    ARCH_FIELDS = ("hidden", "depth")

    @classmethod
    def build_model(cls, cfg: Config, env: EnvFacts) -> nn.Module:
        """logits [..., A] = MLP([s, m]) with m the mean field (2d + 1)."""
        return mlp(3 * env.obs_dim + 1, cfg.hidden, env.n_actions, depth=cfg.depth)


class BCLearner(Learner):
    """Cross-entropy on the data's actions of the sampled agents (alive steps only)."""

    POLICY = BCPolicy

    def __init__(self, sampler: WindowSampler, cfg: Config, device: torch.device) -> None:
        super().__init__(sampler, cfg, device)
        self.net = BCPolicy.build_model(cfg, self.env).to(device)
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=cfg.lr,
                                     weight_decay=cfg.weight_decay)

    @property
    def model(self) -> nn.Module:
        return self.net

    def update(self, w: Windows) -> dict[str, float]:
        dev = self.device
        t = arrays_to_torch({"feats": window_features(w.obs, w.mean_field),  # [B,K,H,3d+1]
                             "acts": w.actions, "alive": w.alive}, dev)  # [B,K,H]
        feats, acts, alive = t["feats"], t["acts"], t["alive"]
        ce = nn.functional.cross_entropy(
            self.net(feats).flatten(0, 2), acts.flatten(), reduction="none"
        )
        loss = (ce * alive.flatten()).sum() / alive.sum().clamp_min(1)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": float(loss.detach())}


def fit(
    sampler: WindowSampler, cfg: Config, *, out_dir: str | Path | None = None, **kw: Any
) -> BCPolicy:
    """Train BC on ``sampler``'s windows (see :func:`mfdiff_agents.training.train`)."""
    return train(BCLearner, sampler, cfg, out_dir=out_dir, **kw)
