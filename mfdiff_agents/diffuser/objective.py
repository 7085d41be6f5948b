"""The value-weighted chaotic entropy objective (see docs/method.md for the derivation).

    L(θ) = mean_b[ w_b · mse_b ] + λ · mean_b[ ᾱ_{t_b} · ED²(x̂_0,b , x_0,b) ] / √(H(d+A)) + L_V

* ``value_weights``: w_b = clip(B · softmax_b(β Â_b), max=w_max), Â the standardised advantage
  of window b. β = 0 gives w ≡ 1 (plain denoising loss).
* ``agent_weights``: optional per-particle credit w_{b,k} from each particle's own reward
  (``Config.beta_agent``; off by default), multiplying w_b on the particle's error.
* ``energy_distance``: squared energy distance between the K particles the model predicts
  (x̂_0) and the K data particles of the same window, both flattened to [K, h·c]. It is small
  only when the predicted particle *set* has the spread of the data set, so it penalises
  collapsing all particles onto the value mode. Weighted by ᾱ_t: at high noise x̂_0 is a
  posterior mean and is allowed to be collapsed.
* ``ValueNet``: V(m_{t0}) ≈ E[return-to-go | mean field], a baseline for the advantage.
"""

from __future__ import annotations

import torch
from torch import nn


def value_weights(adv: torch.Tensor, beta: float, *, w_max: float = 20.0) -> torch.Tensor:
    """w = clip(B · softmax(β Â), max=w_max), so mean(w) ≈ 1. ``adv: [b]`` -> ``[b]``."""
    if beta == 0.0:
        return torch.ones_like(adv)
    w = torch.softmax(beta * adv, dim=0) * adv.shape[0]
    return w.clamp(max=w_max)


def agent_weights(
    rewards: torch.Tensor, alive: torch.Tensor, beta: float, *, gamma: float, w_max: float = 20.0
) -> torch.Tensor:
    """Per-particle credit: w_{b,k} = clip(BK · softmax_{b,k}(β Â_{b,k}), max=w_max).

    Â_{b,k}: particle k's own discounted reward inside window b minus the mean over the
    window's particles alive at some step (the others get Â = 0), divided by the batch std of
    that difference, clipped to ±3. The window weight (a shared return) cannot tell a particle
    that aligned with its neighbours from one that did not; this can.
    ``rewards, alive: [b, k, h]`` -> ``[b, k]``; β = 0 gives ones.
    """
    if beta == 0.0:
        return torch.ones(rewards.shape[:2], device=rewards.device)
    disc = gamma ** torch.arange(rewards.shape[-1], device=rewards.device, dtype=torch.float32)
    ret = (rewards.float() * alive.float() * disc).sum(-1)  # [b, k]
    seen = alive.any(-1).float()  # [b, k]: a particle never alive gets no credit either way
    mean = (ret * seen).sum(1, keepdim=True) / seen.sum(1, keepdim=True).clamp(min=1.0)
    resid = (ret - mean) * seen
    adv = (resid / resid.std().clamp(min=1e-6)).clamp(-3.0, 3.0)
    w = torch.softmax(beta * adv.reshape(-1), dim=0).reshape(adv.shape) * adv.numel()
    return w.clamp(max=w_max)


def energy_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared energy distance between particle sets, per window.

    ED² = 2 E‖X - Y‖ - E‖X - X'‖ - E‖Y - Y'‖ (V-statistic), ``x, y: [b, k, ...]`` -> ``[b]``.
    ≥ 0, and 0 iff the two empirical laws coincide. Cost O(k²) per window (training only).
    """
    b, k = x.shape[:2]
    xf, yf = x.reshape(b, k, -1).float(), y.reshape(b, y.shape[1], -1).float()

    def mean_dist(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        # ‖p - q‖² = ‖p‖² + ‖q‖² - 2 p·q via one bmm: [b, k, k'] without a [b, k, k', D] tensor
        d2 = p.pow(2).sum(-1)[:, :, None] + q.pow(2).sum(-1)[:, None, :] - 2 * p @ q.transpose(1, 2)
        # + 1e-8 keeps sqrt's gradient finite where p = q; every distance reads ≤ 1e-4 high
        # (ED(x, x) stays 0: the terms cancel; ED(x, y) reads ~2e-4 low against a brute-force
        # cdist's in an outside audit's example: the same-set terms' zero diagonals read 1e-4)
        return (d2.clamp(min=0) + 1e-8).sqrt().mean(dim=(1, 2))

    # float32 even under CUDA's bf16 autocast: the expansion cancels where predictions are close
    # to the data, just where ᾱ weighs the term most (a bf16 bmm lost most of the gradient there)
    with torch.autocast(device_type=x.device.type, enabled=False):
        return 2 * mean_dist(xf, yf) - mean_dist(xf, xf) - mean_dist(yf, yf)


def chaos_loss(x0_pred: torch.Tensor, x0: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """mean_b ᾱ_{t_b} · ED²(x̂_0, x_0) / √dim, ``x0_pred, x0: [b, k, h, c]``, ``alpha_bar: [b]``.

    dim = h·c: divided by its square root so λ does not depend on the trajectory size.
    """
    dim = x0[0, 0].numel()
    return (alpha_bar * energy_distance(x0_pred, x0)).mean() / dim**0.5


class ValueNet(nn.Module):
    """V(m): mean-field summary [b, m] (normalised) -> predicted standardised return [b]."""

    def __init__(self, mf_dim: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(mf_dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, mf: torch.Tensor) -> torch.Tensor:
        return self.net(mf).squeeze(-1)
