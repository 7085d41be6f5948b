"""What the per-agent baselines share: small MLPs, the population features they condition on
(own observation + mean field), seeded categorical sampling, and the softmax-actor policy of BC
and IQL."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from mfdiff_agents.policy import refuse_nonfinite
from mfdiff_agents.trained import TrainedPolicy
from mfdiff_envs.core import mean_field_summary
from mfdiff_envs.offline.windows import Windows


def mlp(in_dim: int, hidden: int, out_dim: int, *, depth: int = 2) -> nn.Sequential:
    """``depth`` hidden layers of width ``hidden`` with SiLU, then a linear head."""
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(depth):
        layers += [nn.Linear(d, hidden), nn.SiLU()]
        d = hidden
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


def population_features(obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.float32]:
    """Per-agent input ``[own obs, m_t]`` [N, 3d+1] with m_t = mean_field_summary(obs, mask).

    Exactly what the training windows' ``mean_field`` holds (over all N alive agents).
    """
    m = mean_field_summary(obs, mask)  # [2d+1]
    return np.concatenate([obs, np.broadcast_to(m, (obs.shape[0], m.shape[-1]))], axis=-1)


def window_features(
    obs: NDArray[np.float32], mean_field: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Training-time twin of :func:`population_features`: obs [B, K, H, d], mean_field [B, H, m]
    -> [B, K, H, d + m]."""
    b, k, h, _ = obs.shape
    mf = np.broadcast_to(mean_field[:, None], (b, k, h, mean_field.shape[-1]))
    return np.concatenate([obs, mf], axis=-1).astype(np.float32)


def next_step(
    w: Windows,
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.bool_], NDArray[np.bool_]]:
    """The step after each window step, for TD targets: observations [B, K, H, d] and mean
    fields [B, H, m] at t + 1 (the window's next_obs / next_mean_field at its last step), and
    ``alive_next`` and ``term`` [B, K, H]: term where the agent dies at t + 1 — at the last
    step too (``next_alive``; an outside audit found those deaths bootstrapped from the dead
    agent's zero observation) — or at the window's last step where the episode ends (no
    bootstrap from either)."""
    obs = np.asarray(w.obs, np.float32)  # [B, K, H, d]
    b, k = obs.shape[:2]
    alive = np.asarray(w.alive, bool)
    mf = np.asarray(w.mean_field, np.float32)  # [B, H, m]
    obs_n = np.concatenate([obs[:, :, 1:], np.asarray(w.next_obs, np.float32)[:, :, None]], 2)
    mf_n = np.concatenate([mf[:, 1:], np.asarray(w.next_mean_field, np.float32)[:, None]], 1)
    alive_n = np.concatenate([alive[:, :, 1:], np.asarray(w.next_alive, bool)[:, :, None]], 2)
    term = ~alive_n  # dies next step: no bootstrap from a dead agent's row
    term[:, :, -1] |= np.asarray(w.done, bool)[:, None]
    return obs_n, mf_n, alive_n, term


def live_scores(scores: torch.Tensor, mask: NDArray[np.bool_], who: str) -> torch.Tensor:
    """``scores [N, A]`` with living agents' rows checked (:func:`refuse_nonfinite`) and dead
    agents' rows zeroed: their observations are not read (NaN there is allowed), so neither
    are the scores computed from them."""
    live = torch.as_tensor(mask, device=scores.device)
    refuse_nonfinite(scores[live], who)
    return torch.where(live[:, None], scores, torch.zeros((), dtype=scores.dtype,
                                                            device=scores.device))


def sample_categorical(
    logits: torch.Tensor, rng: np.random.Generator, temperature: float = 1.0
) -> NDArray[np.int64]:
    """One action per row of softmax(``logits`` [N, A] / ``temperature``), drawn with the
    policy's numpy generator (so ``policy.reset(seed)`` fixes the draws independently of
    torch's global RNG). Where ``logits / temperature`` overflows (a tiny temperature), each
    row's maximum is subtracted first, so the draw tends to the argmax instead of NaN. The
    caller refuses NaN scores of living agents first (:func:`live_scores`)."""
    z = logits / temperature  # in the logits' dtype, as acting always computed it
    if not bool(torch.isfinite(z.amax(-1)).all()):
        z = (logits.double() - logits.double().amax(-1, keepdim=True)) / temperature
    p = torch.softmax(z.double(), dim=-1).cpu().numpy()
    cdf = np.cumsum(p, axis=-1)
    u = rng.random((p.shape[0], 1)) * cdf[:, -1:]
    return np.minimum((u > cdf).sum(-1), p.shape[1] - 1).astype(np.int64)


class SoftmaxActorPolicy(TrainedPolicy):
    """A policy whose module maps per-agent features [N, 3d + 1] to action logits [N, A], acting
    by sampling softmax(logits / cfg.temperature) with the policy's seeded generator (greedy when
    the temperature is ≤ 0). Sampling, not argmax: in Gaussian Squeeze every agent sees the same
    observation, so a greedy policy would move the whole population to one level."""

    ACTING_FIELDS = ("temperature",)

    @torch.no_grad()
    def logits(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> torch.Tensor:
        """Logits [N, A] for the population ``obs`` [N, d] (alive ``mask`` [N])."""
        feats = torch.from_numpy(population_features(obs, mask).astype(np.float32, copy=False))
        return self.model(feats.to(self.device))

    def _act(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        logits = self.logits(obs, mask)
        logits = live_scores(logits, mask, f"{self.METHOD}'s action scores")
        if self.cfg.temperature <= 0:
            return logits.argmax(-1).cpu().numpy()
        return sample_categorical(logits, self.rng, self.cfg.temperature)
