"""Gaussian diffusion over particle trajectories, for any denoiser.

    diffusion = GaussianDiffusion(denoiser, n_timesteps=100)
    loss = diffusion.loss(x0, cond, weights)                 # x0: [b, k, h, c], weights: [b]
    x0 = diffusion.sample((b, k, h, c), cond, n_steps=10, generator=g, inpaint=(mask, value))

The process never looks inside the denoiser: ``model(x_t, t, cond) -> ε̂`` with ``x_t`` of any
shape ``[b, ...]``, so the independent / joint diffuser baselines reuse it unchanged.

Forward process (cosine schedule, Nichol & Dhariwal 2021):
    x_t = sqrt(ᾱ_t) x_0 + sqrt(1 - ᾱ_t) ε,    ε ~ N(0, I),   t ∈ {0 … T-1}
Reverse process: deterministic (η = 0) or stochastic DDIM (Song et al. 2021) on a strided
subset of T steps:
    x̂_0 = (x_t - sqrt(1 - ᾱ_t) ε̂) / sqrt(ᾱ_t)          (clipped to [-clip, clip])
    x_s = sqrt(ᾱ_s) x̂_0 + sqrt(1 - ᾱ_s - σ²) ε̂ + σ z,
    σ = η sqrt((1 - ᾱ_s)/(1 - ᾱ_t)) sqrt(1 - ᾱ_t/ᾱ_s).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


def cosine_alpha_bar(n_timesteps: int, s: float = 0.008) -> torch.Tensor:
    """ᾱ_t for t = 0 … T-1 (float64), cosine schedule with β clipped to 0.999."""
    steps = torch.arange(n_timesteps + 1, dtype=torch.float64) / n_timesteps
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, dim=0)


def linear_alpha_bar(
    n_timesteps: int, beta_start: float = 1e-4, beta_end: float = 2e-2
) -> torch.Tensor:
    """ᾱ_t for the linear β schedule of DDPM (rescaled to ``n_timesteps``)."""
    scale = 1000 / n_timesteps
    betas = torch.linspace(scale * beta_start, scale * beta_end, n_timesteps, dtype=torch.float64)
    return torch.cumprod(1 - betas.clamp(max=0.999), dim=0)


SCHEDULES: dict[str, Callable[[int], torch.Tensor]] = {
    "cosine": cosine_alpha_bar,
    "linear": linear_alpha_bar,
}


def randn(
    shape: tuple[int, ...], *, device: torch.device, generator: torch.Generator | None = None
) -> torch.Tensor:
    """N(0, I) noise drawn on the generator's device, then moved: same seed -> same numbers
    on CPU and CUDA."""
    gen_device = generator.device if generator is not None else device
    return torch.randn(shape, device=gen_device, generator=generator).to(device)


@dataclass
class TrainingTerms:
    """Per-window pieces of the denoising loss (the objective combines them).

    Attributes:
        mse: [b] mean squared noise error per window (over the elements where ``mask`` is set).
        mse_particle: [b, k] the same per particle (the second axis of ``x0``; [b, 1] when
            ``x0`` is [b, n]): the objective's per-agent weights act on it.
        x0_pred: [b, ...] the model's x̂_0 at the sampled noise level (differentiable).
        t: [b] sampled diffusion steps; alpha_bar: [b] their ᾱ_t.
    """

    mse: torch.Tensor
    mse_particle: torch.Tensor
    x0_pred: torch.Tensor
    t: torch.Tensor
    alpha_bar: torch.Tensor


class GaussianDiffusion(nn.Module):
    """ε-prediction Gaussian diffusion with a DDIM sampler.

    Args:
        model: denoiser, ``model(x_t [b, ...], t [b], cond [b, c]) -> ε̂ [b, ...]``.
        n_timesteps: T, training noise levels.
        schedule: ``"cosine"`` or ``"linear"``.
        clip_x0: clip x̂_0 to [-clip_x0, clip_x0] while sampling: a float, a tensor that
            broadcasts against one sample's last axis (per-channel bounds, e.g. 1 for one-hot
            channels in [-1, 1]), or None (no clipping).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        n_timesteps: int = 100,
        schedule: str = "cosine",
        clip_x0: float | torch.Tensor | None = 5.0,
    ) -> None:
        super().__init__()
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; choose from {sorted(SCHEDULES)}")
        if n_timesteps < 2:
            raise ValueError(f"n_timesteps must be >= 2, got {n_timesteps}")
        self.model = model
        self.n_timesteps = n_timesteps
        if isinstance(clip_x0, torch.Tensor):
            self.register_buffer("clip_bound", clip_x0.float(), persistent=False)
            self.clip_x0: float | None = 1.0
        else:
            self.register_buffer("clip_bound", torch.ones(1), persistent=False)
            self.clip_x0 = None if clip_x0 is None else float(clip_x0)
        self.register_buffer(
            "alpha_bar", SCHEDULES[schedule](n_timesteps).float(), persistent=False
        )

    # ------------------------------------------------------------------ helpers
    def _ab(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """ᾱ_t [b] reshaped to broadcast against ``like`` [b, ...]."""
        return self.alpha_bar[t].reshape(-1, *([1] * (like.ndim - 1)))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(ᾱ_t) x_0 + sqrt(1 - ᾱ_t) ε."""
        ab = self._ab(t, x0)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x̂_0 = (x_t - sqrt(1 - ᾱ_t) ε̂) / sqrt(ᾱ_t)."""
        ab = self._ab(t, x_t)
        return (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()

    # ------------------------------------------------------------------ training
    def training_terms(
        self,
        x0: torch.Tensor,
        cond: torch.Tensor,
        *,
        mask: torch.Tensor | None = None,
        known: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> TrainingTerms:
        """Sample t and ε, run the denoiser once, return per-window MSE and x̂_0.

        Args:
            x0: [b, ...] clean data. cond: [b, c].
            mask: bool/float broadcastable to x0 (e.g. [b, k, h, 1]); 0 = element not scored.
            known: bool broadcastable to x0: entries given to the denoiser clean (x_t takes
                x0's values there, as :meth:`apply_inpaint` at sampling), not scored, and
                x̂_0 = x0 there. None = every entry noised.
        """
        b = x0.shape[0]
        gen_device = generator.device if generator is not None else x0.device
        t = torch.randint(0, self.n_timesteps, (b,), device=gen_device, generator=generator)
        t = t.to(x0.device)
        noise = randn(tuple(x0.shape), device=x0.device, generator=generator)
        x_t = self.q_sample(x0, t, noise)
        if known is not None:
            x_t = torch.where(known, x0, x_t)
        eps = self.model(x_t, t, cond).float()
        err = (eps - noise) ** 2  # [b, ...]
        k = x0.shape[1] if x0.dim() >= 3 else 1
        m = torch.ones_like(err) if mask is None else mask.to(err.dtype).expand_as(err)
        if known is not None:
            m = m * (~known).to(err.dtype)
            mask = m  # scored entries: the window mean below runs over them
        em = err * m
        # the window mean summed as before per-particle errors existed: same bits, same weights
        if mask is None:
            mse = err.reshape(b, -1).mean(1)  # [b]
        else:
            mse = em.reshape(b, -1).sum(1) / m.reshape(b, -1).sum(1).clamp(min=1.0)
        se, cnt = em.reshape(b, k, -1).sum(-1), m.reshape(b, k, -1).sum(-1)  # [b, k]
        x0_pred = self.predict_x0(x_t, t, eps)
        if known is not None:
            x0_pred = torch.where(known, x0, x0_pred)
        return TrainingTerms(
            mse=mse,
            mse_particle=se / cnt.clamp(min=1.0),
            x0_pred=x0_pred,
            t=t,
            alpha_bar=self.alpha_bar[t],
        )

    def loss(
        self,
        x0: torch.Tensor,
        cond: torch.Tensor,
        weights: torch.Tensor | None = None,
        *,
        mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Weighted denoising loss ``mean_b w_b MSE_b`` (w = 1 when None), MSE_b the mean of
        ``(ε - ε̂_θ(x_t, t, c))²`` over window b's (alive) entries: ‖·‖² / (d + A) per particle
        step (docs/method.md (7))."""
        terms = self.training_terms(x0, cond, mask=mask, generator=generator)
        if weights is None:
            return terms.mse.mean()
        if weights.shape != terms.mse.shape:
            raise ValueError(
                f"weights must have shape {tuple(terms.mse.shape)}, got {tuple(weights.shape)}"
            )
        return (weights * terms.mse).mean()

    # ------------------------------------------------------------------ sampling
    def ddim_timesteps(self, n_steps: int) -> list[int]:
        """Descending strided noise levels, from T-1 to 0, ``n_steps`` of them."""
        if not 1 <= n_steps <= self.n_timesteps:
            raise ValueError(f"n_steps must be in [1, {self.n_timesteps}], got {n_steps}")
        ts = torch.linspace(self.n_timesteps - 1, 0, n_steps).round().long().tolist()
        return list(dict.fromkeys(ts))  # dedupe, keep order

    @torch.no_grad()
    def ddim_step(
        self,
        x_t: torch.Tensor,
        t: int,
        t_prev: int,
        cond: torch.Tensor,
        *,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One DDIM update from level ``t`` to ``t_prev`` (-1 = clean). Returns (x_prev, x̂_0)."""
        b = x_t.shape[0]
        tt = torch.full((b,), t, device=x_t.device, dtype=torch.long)
        eps = self.model(x_t, tt, cond).float()
        x0 = self.predict_x0(x_t, tt, eps)
        if self.clip_x0 is not None:
            bound = self.clip_bound * self.clip_x0
            x0 = torch.maximum(torch.minimum(x0, bound), -bound)
            ab_t = self.alpha_bar[t]
            eps = (x_t - ab_t.sqrt() * x0) / (1 - ab_t).sqrt()
        if t_prev < 0:
            return x0, x0
        ab_t, ab_s = self.alpha_bar[t], self.alpha_bar[t_prev]
        sigma = eta * ((1 - ab_s) / (1 - ab_t)).sqrt() * (1 - ab_t / ab_s).sqrt()
        x_prev = ab_s.sqrt() * x0 + (1 - ab_s - sigma**2).clamp(min=0).sqrt() * eps
        if eta > 0:
            x_prev = x_prev + sigma * randn(
                tuple(x_t.shape), device=x_t.device, generator=generator
            )
        return x_prev, x0

    @staticmethod
    def apply_inpaint(
        x: torch.Tensor, inpaint: tuple[torch.Tensor, torch.Tensor] | None
    ) -> torch.Tensor:
        """Overwrite the known entries: ``x = where(mask, value, x)`` (broadcast to x)."""
        if inpaint is None:
            return x
        mask, value = inpaint
        return torch.where(mask, value.to(x.dtype), x)

    @torch.no_grad()
    def sample(
        self,
        shape: tuple[int, ...],
        cond: torch.Tensor,
        *,
        n_steps: int = 10,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
        inpaint: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """DDIM sample of ``shape`` = [b, ...]; ``inpaint = (mask, value)`` fixes known entries.

        Known entries are written (un-noised, as in Diffuser, Janner et al. 2022) into x_t before
        every denoiser call and into the result, so the returned sample holds them exactly.
        """
        x = randn(tuple(shape), device=cond.device, generator=generator)
        ts = self.ddim_timesteps(n_steps)
        for i, t in enumerate(ts):
            t_prev = ts[i + 1] if i + 1 < len(ts) else -1
            x = self.apply_inpaint(x, inpaint)
            x, _ = self.ddim_step(x, t, t_prev, cond, eta=eta, generator=generator)
        return self.apply_inpaint(x, inpaint)
