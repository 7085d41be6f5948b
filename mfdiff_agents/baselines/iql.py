"""Parameter-shared Implicit Q-Learning (Kostrikov, Nair & Levine 2022) with a mean-field input.

Every agent shares one set of networks over the per-agent input x = [own obs s_i, m_t]
(:func:`~mfdiff_agents.baselines.common.population_features`, 3d + 1; m_t is the mean-field
summary over all N, exactly the windows' ``mean_field``), as OG-MARL's independent IQL does
with shared parameters:

* V_ψ(x) -> scalar, fitted by expectile regression on the target critics,
  L_V = E |τ − 1(u < 0)| u², u = min(Q̄₁, Q̄₂)(x, a) − V(x)  (τ > 0.5: an upper expectile of
  the in-data action values, so no out-of-data action is ever queried);
* twin Q_θ1, Q_θ2 (x) -> [A], TD to r + γ (1 − term) V(x'),  L_Q = Σ_i (Q_i(x, a) − y)²;
* π_φ(a | x) -> [A] logits, advantage-weighted behaviour cloning,
  L_π = −E min(exp(β (min Q̄(x, a) − V(x))), w_max) log π(a | x).

Q̄ are Polyak-averaged target copies of the twin critics. Rewards are the per-agent
``rewards`` of the windows (Gaussian Squeeze: the shared team reward G(x)/N of every agent).
Transition (x_t, a_t, r_t, x_{t+1}) inside a window of H steps; the last step uses the window's
``next_obs`` / ``next_mean_field`` and is terminal when the episode ends (``done``) — the
time feature of the observation keeps a truncated episode's state distinguishable. A step whose
agent dies next is terminal, at the window's last step too (``next_alive``; before the
forty-ninth update those were bootstrapped from the dead agent's zero observation: Battle only).

Acting samples a ~ π(· | x) with the policy's seeded generator (``temperature`` T scales the
logits; T ≤ 0 is greedy). Gaussian Squeeze agents all see the same observation, so a greedy
argmax would send the whole population to one level.

    policy = fit(sampler, Config(steps=1500))
    policy.save("runs/iql"); IQLPolicy.from_pretrained("runs/iql")
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from mfdiff_agents.baselines.common import (
    SoftmaxActorPolicy,
    mlp,
    next_step,
    window_features,
)
from mfdiff_agents.checkpoint import EnvFacts
from mfdiff_agents.config import ConfigError, TrainConfig, check_finite
from mfdiff_agents.data import arrays_to_torch
from mfdiff_agents.training import Learner, train

if TYPE_CHECKING:
    from mfdiff_envs.offline.windows import Windows, WindowSampler


@dataclasses.dataclass
class Config(TrainConfig):
    """IQL hyper-parameters (defaults: the paper's locomotion settings where they apply)."""

    steps: int = 3000
    """Gradient steps."""
    batch_size: int = 16
    """Windows per batch (each K agents × H steps of transitions)."""
    lr: float = 3e-4
    """Adam learning rate of the actor, critics and value network."""
    hidden: int = 128
    """MLP width (actor, both critics and V)."""
    depth: int = 2
    """Hidden layers of every MLP."""
    expectile: float = 0.7
    """τ of the expectile regression of V on the in-data action values (0.5 = the mean,
    → 1 = the max over the data's actions)."""
    beta: float = 3.0
    """Inverse temperature β of the advantage weights exp(β A) of the actor's loss."""
    max_weight: float = 100.0
    """Clip of the advantage weights exp(β A) (the paper's 100)."""
    tau: float = 0.005
    """Polyak rate of the target critics."""
    reward_scale: float = 1.0
    """Rewards are multiplied by this before the TD target (the advantage scales with it)."""
    temperature: float = 1.0
    """Acting temperature: sample from softmax(logits / T); T ≤ 0 is greedy. 1 reproduces the
    data's action frequencies, mistakes included; the grid acts at the per-family values of
    configs/iql/ (Squeeze / Ising / Battle: 0.5 / 0.1 / 0.5), which score far higher on medium and
    mixed data (docs/results/baseline_temp_<family>.md). Set at load: ``--set temperature=``."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < float(self.expectile) < 1.0:
            raise ConfigError(f"Config.expectile must lie in (0, 1), got {self.expectile}")
        if float(self.max_weight) <= 0:
            raise ConfigError(f"Config.max_weight must be > 0, got {self.max_weight}")
        if not 0.0 < float(self.tau) <= 1.0:
            # tau = 0 leaves the target critics at their random init; > 1 overshoots
            raise ConfigError(f"Config.tau must lie in (0, 1], got {self.tau}")
        if not float(self.beta) >= 0:
            # β < 0 weights the actor toward the data's worst actions; 0 is plain BC
            raise ConfigError(f"Config.beta must be ≥ 0, got {self.beta}")
        for name in ("lr", "reward_scale"):  # lr = 0 never trains; a scale ≤ 0 drops or
            check_finite("Config", name, getattr(self, name))  # flips the rewards


class IQLNet(nn.Module):
    """Actor, twin critics and value network over one per-agent input x [..., F], F = 3d + 1.

    ``forward(x)`` gives the actor's logits [..., A] (all acting needs); ``q(x)`` [..., 2, A]
    and ``v(x)`` [...] are used by training only but live here so one checkpoint holds them.
    """

    def __init__(self, in_dim: int, n_actions: int, hidden: int, depth: int) -> None:
        super().__init__()
        self.actor = mlp(in_dim, hidden, n_actions, depth=depth)
        self.q1 = mlp(in_dim, hidden, n_actions, depth=depth)
        self.q2 = mlp(in_dim, hidden, n_actions, depth=depth)
        self.value = mlp(in_dim, hidden, 1, depth=depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.actor(x)

    def q(self, x: torch.Tensor) -> torch.Tensor:
        """Both critics' action values ``[..., 2, A]`` of features ``x [..., f]``."""
        return torch.stack([self.q1(x), self.q2(x)], -2)

    def v(self, x: torch.Tensor) -> torch.Tensor:
        """The state value ``[...]`` of features ``x [..., f]`` (IQL's expectile V)."""
        return self.value(x).squeeze(-1)


class IQLPolicy(SoftmaxActorPolicy):
    """Samples from the IQL actor π(a | s_i, m_t) (see module docstring)."""

    METHOD = "iql"
    CONFIG = Config
    ARCH_FIELDS = ("hidden", "depth")

    @classmethod
    def build_model(cls, cfg: Config, env: EnvFacts) -> nn.Module:
        """:class:`IQLNet` on [s, m] (d + 2d + 1 inputs), A actions."""
        return IQLNet(3 * env.obs_dim + 1, env.n_actions, cfg.hidden, cfg.depth)


def window_transitions(w: Windows) -> dict[str, NDArray]:
    """Per-agent transitions of a Windows batch, flattened (M = B·K·H).

    Returns x [M, F], a [M], r [M], x_next [M, F], term [M] (bool), valid [M] (bool: the agent
    is alive at t), F = 3d + 1.
    """
    obs = np.asarray(w.obs, np.float32)  # [B, K, H, d]
    b, k, h, _ = obs.shape
    alive = np.asarray(w.alive, bool)
    mf = np.asarray(w.mean_field, np.float32)  # [B, H, m]
    obs_n, mf_n, _, term = next_step(w)
    return {
        "x": window_features(obs, mf).reshape(b * k * h, -1),
        "a": np.asarray(w.actions, np.int64).reshape(-1),
        "r": np.asarray(w.rewards, np.float32).reshape(-1),
        "x_next": window_features(obs_n, mf_n).reshape(b * k * h, -1),
        "term": term.reshape(-1),
        "valid": alive.reshape(-1),
    }


def expectile_loss(u: torch.Tensor, expectile: float) -> torch.Tensor:
    """|τ − 1(u < 0)| u², elementwise (u = target − prediction)."""
    return torch.abs(expectile - (u < 0).float()) * u.square()


class IQLLearner(Learner):
    """Expectile V, twin-Q TD to V(s'), advantage-weighted actor; one Adam over all of them."""

    POLICY = IQLPolicy
    LOG_KEYS = ("loss", "q_loss", "v_loss", "actor_loss", "adv_mean", "weight_max")

    def __init__(self, sampler: WindowSampler, cfg: Config, device: torch.device) -> None:
        super().__init__(sampler, cfg, device)
        self.net = IQLPolicy.build_model(cfg, self.env).to(device)
        # target critics only (IQL bootstraps from V, which needs no target)
        self.target = nn.ModuleList([copy.deepcopy(self.net.q1), copy.deepcopy(self.net.q2)])
        self.target.requires_grad_(False)
        # The three losses touch disjoint parameters (every cross term is detached), so one
        # optimiser over their sum equals three optimisers stepping together.
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)

    @property
    def model(self) -> nn.Module:
        return self.net

    def update(self, w: Windows) -> dict[str, float]:
        cfg = self.cfg
        tr = arrays_to_torch(window_transitions(w), self.device)
        valid = tr["valid"].float()
        n = valid.sum().clamp_min(1)
        x, a = tr["x"], tr["a"][:, None]

        def mean(t: torch.Tensor) -> torch.Tensor:  # over alive transitions
            return (t * valid).sum() / n

        with torch.no_grad():
            q_t = torch.minimum(self.target[0](x), self.target[1](x)).gather(-1, a).squeeze(-1)
            v_next = self.net.v(tr["x_next"])
            y = cfg.reward_scale * tr["r"] + cfg.gamma * (~tr["term"]).float() * v_next
        v = self.net.v(x)
        v_loss = mean(expectile_loss(q_t - v, cfg.expectile))
        q = self.net.q(x).gather(-1, a[:, None].expand(-1, 2, 1)).squeeze(-1)  # [M, 2]
        q_loss = mean((q - y[:, None]).square().sum(-1))
        adv = (q_t - v).detach()
        weight = torch.exp(cfg.beta * adv).clamp(max=cfg.max_weight)
        logp = torch.log_softmax(self.net(x), -1).gather(-1, a).squeeze(-1)
        actor_loss = mean(-weight * logp)
        loss = v_loss + q_loss + actor_loss
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            for src, tgt in zip((self.net.q1, self.net.q2), self.target):
                for p, pt in zip(src.parameters(), tgt.parameters()):
                    pt.lerp_(p, cfg.tau)
        return {"loss": float(loss.detach()), "q_loss": float(q_loss.detach()),
                "v_loss": float(v_loss.detach()), "actor_loss": float(actor_loss.detach()),
                "adv_mean": float(mean(adv)), "weight_max": float((weight * valid).max())}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "target": self.target.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.target.load_state_dict(state["target"])


def fit(
    sampler: WindowSampler, cfg: Config, *, out_dir: str | Path | None = None, **kw: Any
) -> IQLPolicy:
    """Train IQL on ``sampler``'s windows (see :func:`mfdiff_agents.training.train`)."""
    return train(IQLLearner, sampler, cfg, out_dir=out_dir, **kw)
