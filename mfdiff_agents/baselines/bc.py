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
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn
from tqdm.auto import tqdm

from mfdiff_agents.baselines.common import (
    config_from_dict,
    config_to_dict,
    load_checkpoint,
    mlp,
    pick_device,
    population_features,
    sample_categorical,
    save_checkpoint,
    window_features,
)
from mfdiff_agents.policy import Policy

METHOD = "bc"


@dataclasses.dataclass
class Config:
    """Behaviour-cloning hyper-parameters."""

    steps: int = 2000
    """Gradient steps."""
    batch_size: int = 16
    """Windows per batch (each has K agents × H steps of (s, m, a) samples)."""
    lr: float = 1e-3
    """Adam learning rate."""
    hidden: int = 128
    """MLP width."""
    depth: int = 2
    """Hidden layers."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    temperature: float = 1.0
    """Acting temperature: sample from softmax(logits / T); T -> 0 is greedy."""
    seed: int = 0
    """Torch init and batch-order seed."""
    device: str = "auto"
    """"auto" (cuda if present) | "cpu" | "cuda"."""


class BCNet(nn.Module):
    """logits [..., A] = MLP([s, m])."""

    def __init__(self, *, obs_dim: int, n_actions: int, hidden: int, depth: int) -> None:
        super().__init__()
        self.net = mlp(3 * obs_dim + 1, hidden, n_actions, depth=depth)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.net(feats)


class BCPolicy(Policy):
    """Stochastic mean-field BC policy (see module docstring)."""

    def __init__(self, net: BCNet, cfg: Config, *, obs_dim: int, n_actions: int,
                 seed: int | None = None) -> None:
        super().__init__(obs_dim=obs_dim, n_actions=n_actions, seed=seed)
        self.net = net.eval()
        self.cfg = cfg
        self.device = next(net.parameters()).device

    @torch.no_grad()
    def logits(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> torch.Tensor:
        feats = torch.from_numpy(population_features(obs, mask)).to(self.device)
        return self.net(feats)

    def _act(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        logits = self.logits(obs, mask)
        if self.cfg.temperature <= 0:
            return logits.argmax(-1).cpu().numpy()
        return sample_categorical(logits / self.cfg.temperature, self.rng)

    def save(self, directory: str | Path) -> Path:
        return save_checkpoint(directory, method=METHOD, module=self.net, meta={
            "obs_dim": self.obs_dim, "n_actions": self.n_actions,
            "config": config_to_dict(self.cfg)})

    @classmethod
    def from_pretrained(cls, directory: str | Path, *, device: str = "cpu") -> BCPolicy:
        meta, state = load_checkpoint(directory, method=METHOD)
        cfg = config_from_dict(Config, meta["config"])
        net = BCNet(obs_dim=meta["obs_dim"], n_actions=meta["n_actions"], hidden=cfg.hidden,
                    depth=cfg.depth)
        net.load_state_dict(state)
        return cls(net.to(pick_device(device)), cfg, obs_dim=meta["obs_dim"],
                   n_actions=meta["n_actions"])


def fit(sampler: Any, cfg: Config, *, out_dir: Path | None = None,
        progress: bool = True) -> BCPolicy:
    """Train BC on windows from ``sampler`` (a WindowSampler); saves to ``out_dir`` if given."""
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    d, a = int(sampler.obs_dim), int(sampler.n_actions)
    net = BCNet(obs_dim=d, n_actions=a, hidden=cfg.hidden, depth=cfg.depth).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    bar = tqdm(range(cfg.steps), desc="bc", disable=not progress, leave=False)
    t_start, loss_v = time.perf_counter(), float("nan")
    for _ in bar:
        w = sampler.sample(cfg.batch_size)
        feats = torch.from_numpy(window_features(w.obs, w.mean_field)).to(device)  # [B,K,H,3d+1]
        acts = torch.from_numpy(np.asarray(w.actions, np.int64)).to(device)  # [B,K,H]
        alive = torch.from_numpy(np.asarray(w.alive, bool)).to(device)
        ce = nn.functional.cross_entropy(net(feats).flatten(0, 2), acts.flatten(), reduction="none")
        loss = (ce * alive.flatten()).sum() / alive.sum().clamp_min(1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_v = float(loss.detach())
        bar.set_postfix(loss=f"{loss_v:.3f}")
    policy = BCPolicy(net, cfg, obs_dim=d, n_actions=a, seed=cfg.seed)
    policy.train_info = {"final_loss": loss_v, "train_seconds": time.perf_counter() - t_start}
    if out_dir is not None:
        policy.save(out_dir)
    return policy
