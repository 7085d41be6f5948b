"""MF-Diffuser's per-agent action head: an inverse-dynamics MLP g(s_i, s*_i, m) -> logits over A.

At act time agent i, lifted to particle j(i), reads its own normalised observation s_i, the
target next state s*_i = s_i + (ŝ_{j,τ+1} − ŝ_{j,τ}) (its particle's planned displacement applied
to the agent's own state) and the normalised mean field m_t:

    logits_i = g([s_i, s*_i, m_t])            one MLP call over all N agents, O(N)

Trained on the windows' consecutive pairs of the K sampled agents: (s_t, s_{t+1}, m_t) -> a_t,
cross-entropy over the steps where the agent is alive at t and t+1 (docs/method.md, "action head").

    head = ActionHead(obs_dim=d, mf_dim=m, n_actions=A, hidden=128)
    loss, acc = head_loss(head, obs_n, actions, alive, mf_n)   # obs_n: [B, K, H, d] normalised
    a = sample_actions(head(inputs), temperature=1.0, generator=g)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ActionHead(nn.Module):
    """g([s, s*, m]) -> logits [..., A]: 2 hidden SiLU layers of width ``hidden``.

    Shapes: ``obs, target: [..., d]`` (normalised), ``mf: [..., m]`` (normalised) ->
    ``[..., A]``. The same weights serve any number of agents.
    """

    def __init__(self, *, obs_dim: int, mf_dim: int, n_actions: int, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2 * obs_dim + mf_dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, n_actions),
        )

    def forward(self, obs: torch.Tensor, target: torch.Tensor, mf: torch.Tensor) -> torch.Tensor:
        mf = mf.expand(*obs.shape[:-1], mf.shape[-1])
        return self.net(torch.cat([obs, target, mf], dim=-1))


def head_loss(
    head: ActionHead,
    obs_n: torch.Tensor,
    actions: torch.Tensor,
    alive: torch.Tensor,
    mf_n: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of a_t given (s_t, s_{t+1}, m_t) on a batch of windows.

    Args:
        obs_n: [B, K, H, d] normalised observations. actions: [B, K, H]. alive: [B, K, H].
        mf_n: [B, H, m] normalised mean field.

    Returns:
        (loss, accuracy): scalars over the pairs alive at t and t+1 (a dead agent's next
        observation is zeros, not a state it moved to).
    """
    s, s_next = obs_n[:, :, :-1], obs_n[:, :, 1:]  # [B, K, H-1, d]
    mf = mf_n[:, None, :-1]  # [B, 1, H-1, m], broadcast over particles
    mask = (alive[:, :, :-1] & alive[:, :, 1:]).reshape(-1).float()
    logits = head(s, s_next, mf).reshape(-1, head.net[-1].out_features).float()
    target = actions[:, :, :-1].reshape(-1).long()
    ce = F.cross_entropy(logits, target, reduction="none")
    denom = mask.sum().clamp(min=1.0)
    acc = ((logits.argmax(-1) == target).float() * mask).sum() / denom
    return (ce * mask).sum() / denom, acc


def sample_actions(
    logits: torch.Tensor, *, temperature: float, generator: torch.Generator
) -> torch.Tensor:
    """One action per row of ``logits [n, A]``: Gumbel-max sample at ``temperature`` (0 =
    argmax). The uniforms come from ``generator`` (the planner's), so a seed fixes the draws."""
    if temperature <= 0:
        return logits.argmax(-1)
    u = torch.rand(logits.shape, generator=generator, device=generator.device).to(logits.device)
    gumbel = -torch.log(-torch.log(u.clamp(1e-12, 1.0 - 1e-7)))
    return (logits.float() / temperature + gumbel).argmax(-1)
