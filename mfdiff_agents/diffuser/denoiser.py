"""Permutation-equivariant particle denoisers ε_θ(x_k, k, c).

A denoiser maps noisy particle trajectories ``x: [b, k, h, c]`` (b windows, k particles,
h plan steps, c = d + A channels), the diffusion step ``t: [b]`` and a condition vector
``cond: [b, c_cond]`` to the predicted noise ``[b, k, h, c]``. No layer knows k: the same
weights run with 16 or 256 particles, and any N of real agents.

Layers compose like a small 1-D U-Net without down-sampling (H ≤ 16 is short):

    TemporalResBlock   shared per-particle 1-D conv block along h, FiLM-conditioned on (t, c)
    Interaction        how particles talk to each other, pluggable:
        MeanPoolInteraction   pool over k, broadcast back (mean-field, O(k))      -> MF-Diffuser
        NoInteraction         nothing (independent per-agent diffuser)            -> baseline
        AttentionInteraction  all-pairs attention over k at each step (O(k^2))   -> MADiff-like
    ParticleDenoiser   input proj -> [res block -> interaction] x depth -> output proj

Every layer but AttentionInteraction treats particles with shared weights, and the mean pool is
symmetric, so ``denoiser(x[:, perm]) == denoiser(x)[:, perm]`` (tested).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class SinusoidalEmbedding(nn.Module):
    """Diffusion step t: [b] (int or float) -> [b, dim] sinusoidal features."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"SinusoidalEmbedding dim must be even, got {dim}")
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(
            -math.log(10000.0) * torch.arange(half, device=t.device) / max(half - 1, 1)
        )
        arg = t.float()[:, None] * freqs[None, :]  # [b, half]
        return torch.cat([arg.sin(), arg.cos()], dim=-1)


class TemporalResBlock(nn.Module):
    """Two 1-D convs along h with GroupNorm, SiLU and FiLM from the embedding.

    Shapes: ``h: [n, w, h]`` (n = b * k particles flattened), ``emb: [n, e]``.
    """

    def __init__(self, width: int, emb_dim: int, *, kernel_size: int = 5, groups: int = 8) -> None:
        super().__init__()
        if width % groups:
            raise ValueError(f"width ({width}) must be divisible by norm groups ({groups})")
        pad = kernel_size // 2
        self.conv1 = nn.Conv1d(width, width, kernel_size, padding=pad)
        self.conv2 = nn.Conv1d(width, width, kernel_size, padding=pad)
        self.norm1 = nn.GroupNorm(groups, width)
        self.norm2 = nn.GroupNorm(groups, width)
        self.film = nn.Linear(emb_dim, 2 * width)
        self.act = nn.SiLU()

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(emb)[:, :, None].chunk(2, dim=1)  # [n, w, 1] each
        y = self.act(self.norm1(self.conv1(h)))
        y = self.norm2(self.conv2(y)) * (1 + scale) + shift
        return h + self.act(y)


class NoInteraction(nn.Module):
    """Particles do not interact (an independent per-agent diffuser). ``h: [b, k, w, h]``."""

    def __init__(self, width: int) -> None:
        super().__init__()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h


class MeanPoolInteraction(nn.Module):
    """Mean-field interaction: ``h + W2 silu(W1 mean_k h)``, broadcast over particles, O(k).

    ``h: [b, k, w, h]``; the pooled feature ``[b, 1, w, h]`` is the empirical mean field of the
    particles' hidden states at each plan step.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.pool_proj = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        nn.init.zeros_(self.pool_proj[-1].weight)
        nn.init.zeros_(self.pool_proj[-1].bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        ht = h.transpose(2, 3)  # [b, k, h, w]
        pooled = ht.mean(dim=1, keepdim=True)  # [b, 1, h, w]
        out = ht + self.pool_proj(pooled)  # broadcast over k
        return out.transpose(2, 3)  # [b, k, w, h]


class AttentionInteraction(nn.Module):
    """All-pairs attention over particles at each plan step (MADiff-style joint model), O(k^2).

    ``h: [b, k, w, h]``. Attention is permutation-equivariant too; it is the costly baseline.
    """

    def __init__(self, width: int, *, heads: int = 4) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, k, w, hh = h.shape
        seq = h.permute(0, 3, 1, 2).reshape(b * hh, k, w)  # [(b h), k, w]
        q = self.norm(seq)
        out, _ = self.attn(q, q, q, need_weights=False)
        seq = seq + out
        return seq.reshape(b, hh, k, w).permute(0, 2, 3, 1)  # [b, k, w, h]


INTERACTIONS: dict[str, type[nn.Module]] = {
    "mean": MeanPoolInteraction,
    "none": NoInteraction,
    "attention": AttentionInteraction,
}


class ParticleDenoiser(nn.Module):
    """ε_θ(x_k, k, c) over a set of particle trajectories.

    Args:
        x_dim: channels per particle per step (c = obs_dim + n_actions).
        cond_dim: size of the condition vector (mean field at t0 + return target).
        width: hidden channels.
        depth: number of (res block, interaction) pairs.
        interaction: ``"mean"`` | ``"none"`` | ``"attention"``, or an ``nn.Module`` factory
            ``callable(width) -> nn.Module`` mapping ``[b, k, w, h] -> [b, k, w, h]``.
        kernel_size: temporal conv kernel (odd).
        emb_dim: size of the diffusion-step / condition embedding.

    Forward: ``x: [b, k, h, c]``, ``t: [b]``, ``cond: [b, c_cond]`` -> ``[b, k, h, c]``.
    """

    def __init__(
        self,
        *,
        x_dim: int,
        cond_dim: int,
        width: int = 64,
        depth: int = 3,
        interaction: str | type[nn.Module] = "mean",
        kernel_size: int = 5,
        emb_dim: int = 64,
    ) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if isinstance(interaction, str):
            if interaction not in INTERACTIONS:
                raise ValueError(
                    f"unknown interaction {interaction!r}; choose from {sorted(INTERACTIONS)}"
                )
            factory = INTERACTIONS[interaction]
        else:
            factory = interaction
        self.x_dim, self.cond_dim, self.width = x_dim, cond_dim, width
        self.t_emb = nn.Sequential(
            SinusoidalEmbedding(emb_dim),
            nn.Linear(emb_dim, emb_dim),
            nn.SiLU(),
            nn.Linear(emb_dim, emb_dim),
        )
        self.c_emb = nn.Sequential(
            nn.Linear(cond_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )
        self.inp = nn.Conv1d(x_dim, width, 1)
        self.blocks = nn.ModuleList(
            [TemporalResBlock(width, emb_dim, kernel_size=kernel_size) for _ in range(depth)]
        )
        self.mixers = nn.ModuleList([factory(width) for _ in range(depth)])
        self.out = nn.Sequential(nn.GroupNorm(8, width), nn.SiLU(), nn.Conv1d(width, x_dim, 1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[-1] != self.x_dim:
            raise ValueError(f"denoiser expects x: [b, k, h, {self.x_dim}], got {tuple(x.shape)}")
        if cond.shape != (x.shape[0], self.cond_dim):
            raise ValueError(
                f"denoiser expects cond: [{x.shape[0]}, {self.cond_dim}], got {tuple(cond.shape)}"
            )
        b, k, hh, c = x.shape
        emb = self.t_emb(t) + self.c_emb(cond)  # [b, e]
        emb_n = emb[:, None, :].expand(b, k, emb.shape[-1]).reshape(b * k, -1)  # [(b k), e]
        h = self.inp(x.reshape(b * k, hh, c).transpose(1, 2))  # [(b k), w, h]
        for block, mix in zip(self.blocks, self.mixers):
            h = block(h, emb_n)
            h = mix(h.reshape(b, k, self.width, hh)).reshape(b * k, self.width, hh)
        eps = self.out(h)  # [(b k), c, h]
        return eps.transpose(1, 2).reshape(b, k, hh, c)
