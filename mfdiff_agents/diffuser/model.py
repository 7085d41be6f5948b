"""MF-Diffuser's networks: the particle diffusion model with its mean-field value net and the
dataset normalisation it carries, and the value-weighted chaotic entropy loss (docs/method.md).

    model = MFDiffuserModel(obs_dim=d, n_actions=A, mf_dim=2 * d + 1, cfg=cfg, stats=stats)
    loss, logs = training_loss(model, batch, cfg, stats)   # batch: tensors of a Windows batch
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from mfdiff_agents.config import ConfigError
from mfdiff_agents.diffuser.action_head import (
    ActionHead,
    HeadEnsemble,
    head_loss,
    head_members,
    head_value_loss,
    pair_weights,
)
from mfdiff_agents.diffuser.config import Config
from mfdiff_agents.diffuser.denoiser import ParticleDenoiser
from mfdiff_agents.diffuser.diffusion import GaussianDiffusion
from mfdiff_agents.diffuser.objective import ValueNet, agent_weights, chaos_loss, value_weights

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from mfdiff_envs.offline.windows import Windows


@dataclass
class Stats:
    """Dataset normalisation statistics (stored in config.json)."""

    obs_mean: list[float]
    obs_std: list[float]
    mf_mean: list[float]
    mf_std: list[float]
    ret_mean: float
    ret_std: float
    #: σ_A, the scale of the advantage Â (docs/method.md (8)): its start value here; training
    #: updates the model's ``adv_std`` buffer, and the exported config.json records that one
    #: (before the fifty-sixth update it recorded this start value, 1.0; the weights always
    #: carried the trained one)
    adv_std: float = 1.0
    #: mean and std of the normalised observations' per-step changes (Config.plan_deltas);
    #: None in the statistics of runs from before them
    delta_mean: list[float] | None = None
    delta_std: list[float] | None = None
    #: per-feature minimum and maximum of the training data's alive observations and of its
    #: mean fields (Config.head_data_range); None in the statistics of earlier runs
    obs_low: list[float] | None = None
    obs_high: list[float] | None = None
    mf_low: list[float] | None = None
    mf_high: list[float] | None = None

    @classmethod
    def identity(cls, obs_dim: int, mf_dim: int) -> Stats:
        """Zero means, unit stds: a placeholder until a checkpoint's buffers are loaded."""
        return cls([0.0] * obs_dim, [1.0] * obs_dim, [0.0] * mf_dim, [1.0] * mf_dim, 0.0, 1.0,
                   delta_mean=[0.0] * obs_dim, delta_std=[1.0] * obs_dim)

    @classmethod
    def from_windows(
        cls, w: Windows, data_range: tuple[NDArray[np.float32], ...] | None = None
    ) -> Stats:
        """Statistics of a large batch of windows (alive agents' obs, mean fields, returns);
        ``data_range``: (obs_low, obs_high, mf_low, mf_high) of the whole data
        (``WindowSampler.data_range``), recorded as they are."""
        obs = w.obs.reshape(-1, w.obs.shape[-1])
        alive = w.alive.reshape(-1)
        if alive.any():
            obs = obs[alive]
        mf = w.mean_field.reshape(-1, w.mean_field.shape[-1])
        floor = 1e-2
        obs_mean, obs_std = obs.mean(0), np.maximum(obs.std(0), floor)
        # per-step changes of the normalised obs, over the steps alive at both ends
        both = w.alive[..., 1:] & w.alive[..., :-1]  # [b, k, h - 1]
        step = np.diff(w.obs, axis=-2)[both] / obs_std  # [pairs, d]
        if not len(step):
            step = np.zeros((1, obs.shape[-1]))
        return cls(
            obs_mean=obs_mean.tolist(),
            obs_std=obs_std.tolist(),
            mf_mean=mf.mean(0).tolist(),
            mf_std=np.maximum(mf.std(0), floor).tolist(),
            ret_mean=float(np.mean(w.returns)),
            ret_std=float(max(np.std(w.returns), 1e-6)),
            delta_mean=step.mean(0).tolist(),
            # a feature that changes by a constant (the clock) or never (the team) has std ~0:
            # floored as the states' (float32 rounding would otherwise be magnified ~1e4 x)
            delta_std=np.maximum(step.std(0), floor).tolist(),
            **({} if data_range is None else dict(zip(
                ("obs_low", "obs_high", "mf_low", "mf_high"),
                (np.asarray(r, np.float64).tolist() for r in data_range)))),
        )


#: |x̂_0| bound of the normalised observation channels while sampling (action channels: 1).
OBS_CLIP = 5.0


class GuidedDenoiser(ParticleDenoiser):
    """A :class:`ParticleDenoiser` with classifier-free guidance on the return condition.

    With a null token (``has_null``) the condition is ``[norm(m), Â, 1]`` and the null
    condition ``[norm(m), 0, 0]`` (the last channel says "a return target is given"; the mean
    field is kept in both). ``guidance_weight`` w (set by the planner around sampling):

        ε = ε(x, t, c_null) + w (ε(x, t, c) − ε(x, t, c_null))

    w = 1 is one plain call (the behaviour of checkpoints without a null token), w = 0 one call
    on the null condition, otherwise both in one batch of 2b. Same state_dict keys as the parent,
    so checkpoints written before guidance existed load unchanged.
    """

    def __init__(self, *, has_null: bool, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.has_null = has_null
        self.guidance_weight = 1.0

    @staticmethod
    def null_cond(cond: torch.Tensor) -> torch.Tensor:
        """[b, m + 2] -> the same with the return entry and the flag zeroed."""
        out = cond.clone()
        out[..., -2:] = 0.0
        return out

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        w = self.guidance_weight
        if w == 1.0 or not self.has_null:
            return super().forward(x, t, cond)
        if w == 0.0:
            return super().forward(x, t, self.null_cond(cond))
        both = super().forward(
            torch.cat([x, x]), torch.cat([t, t]), torch.cat([cond, self.null_cond(cond)])
        )
        eps_c, eps_u = both.float().chunk(2)
        return eps_u + w * (eps_c - eps_u)


class MFDiffuserModel(torch.nn.Module):
    """Diffusion process over particles + the mean-field value net, with normalisation buffers."""

    def __init__(
        self, *, obs_dim: int, n_actions: int, mf_dim: int, cfg: Config, stats: Stats
    ) -> None:
        super().__init__()
        self.obs_dim, self.n_actions, self.mf_dim = obs_dim, n_actions, mf_dim
        if any(f >= obs_dim for f in cfg.head_blind):
            raise ConfigError(f"Config.head_blind {cfg.head_blind}: this env's observations "
                              f"have {obs_dim} features (indices 0..{obs_dim - 1})")
        self.x_dim = obs_dim + n_actions
        self.has_null = cfg.p_uncond > 0
        denoiser = GuidedDenoiser(
            has_null=self.has_null,
            x_dim=self.x_dim,
            cond_dim=mf_dim + 1 + int(self.has_null),
            width=cfg.width,
            depth=cfg.depth,
            interaction=cfg.interaction,
            kernel_size=cfg.kernel_size,
        )
        # x̂_0 clip while sampling: normalised obs to ±OBS_CLIP, one-hot action channels to ±1
        clip = torch.tensor([OBS_CLIP] * obs_dim + [1.0] * n_actions)
        self.diffusion = GaussianDiffusion(
            denoiser, n_timesteps=cfg.n_timesteps, schedule=cfg.schedule, clip_x0=clip
        )
        self.value = ValueNet(mf_dim, cfg.value_hidden)
        # built last: the denoiser and value net draw the same initial weights with or without
        # the head, so act_with="particle" on a with-head model is the no-head model
        self.action_head = (
            self._build_head(obs_dim, mf_dim, n_actions, cfg) if cfg.action_head else None
        )
        f = torch.float32
        self.register_buffer("obs_mean", torch.tensor(stats.obs_mean, dtype=f))
        self.register_buffer("obs_std", torch.tensor(stats.obs_std, dtype=f))
        self.register_buffer("mf_mean", torch.tensor(stats.mf_mean, dtype=f))
        self.register_buffer("mf_std", torch.tensor(stats.mf_std, dtype=f))
        self.register_buffer("adv_std", torch.tensor(stats.adv_std, dtype=f))
        self.plan_deltas = cfg.plan_deltas
        if cfg.plan_deltas:  # only then: the state dicts of earlier checkpoints stay as they were
            if stats.delta_mean is None or stats.delta_std is None:
                raise ConfigError("Config.plan_deltas needs the per-step change statistics, "
                                  "which these Stats (from before plan_deltas) lack")
            self.register_buffer("delta_mean", torch.tensor(stats.delta_mean, dtype=f))
            self.register_buffer("delta_std", torch.tensor(stats.delta_std, dtype=f))

    def norm_obs(self, obs: torch.Tensor) -> torch.Tensor:
        """Observations ``[..., d]`` standardised with the training data's statistics."""
        return (obs - self.obs_mean) / self.obs_std

    def norm_mf(self, mf: torch.Tensor) -> torch.Tensor:
        """Mean-field summaries ``[..., m]`` standardised with the training data's statistics."""
        return (mf - self.mf_mean) / self.mf_std

    def encode(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """x = [norm(obs), 2·onehot(a) - 1]: obs [b,k,h,d], actions [b,k,h] -> [b,k,h,d+A].

        With ``plan_deltas`` the obs channels of steps h ≥ 1 hold the standardised change
        (norm(obs_h) − norm(obs_{h−1}) − delta_mean) / delta_std; step 0 holds norm(obs_0)."""
        onehot = F.one_hot(actions.long(), self.n_actions).float() * 2 - 1
        s = self.norm_obs(obs)
        if self.plan_deltas:
            step = (s[..., 1:, :] - s[..., :-1, :] - self.delta_mean) / self.delta_std
            s = torch.cat([s[..., :1, :], step], dim=-2)
        return torch.cat([s, onehot], dim=-1)

    def decode_obs(self, x: torch.Tensor) -> torch.Tensor:
        """The normalised planned states of plans ``x [..., H, d + A]`` -> ``[..., H, d]``
        (:meth:`encode`'s inverse on the obs channels: with ``plan_deltas`` the changes summed
        from step 0's state)."""
        s = x[..., : self.obs_dim]
        if not self.plan_deltas:
            return s
        step = s[..., 1:, :] * self.delta_std + self.delta_mean  # [..., H - 1, d]
        return torch.cat([s[..., :1, :], s[..., :1, :] + step.cumsum(-2)], dim=-2)

    def make_cond(self, mf_n: torch.Tensor, ret: torch.Tensor) -> torch.Tensor:
        """Denoiser condition from ``mf_n [b, m]`` (normalised) and ``ret [b]`` (Â):
        ``[mf_n, Â]``, plus the "return given" flag 1 when the model has a null token."""
        parts = [mf_n, ret[:, None]]
        if self.has_null:
            parts.append(torch.ones_like(ret)[:, None])
        return torch.cat(parts, dim=-1)

    @staticmethod
    def _build_head(
        obs_dim: int, mf_dim: int, n_actions: int, cfg: Config
    ) -> ActionHead | HeadEnsemble:
        kw = dict(obs_dim=obs_dim, mf_dim=mf_dim, n_actions=n_actions, hidden=cfg.head_hidden,
                  plan_flag=cfg.head_plan_dropout > 0, baseline=cfg.head_value)
        # one head keeps its module path (action_head.net.*): checkpoints from before load
        return ActionHead(**kw) if cfg.head_ensemble == 1 else HeadEnsemble(cfg.head_ensemble, **kw)

    def head_parameter_groups(self) -> list[list[torch.nn.Parameter]]:
        """The action head's parameters, one list per head that trains apart (each clipped on
        its own in train.py)."""
        if self.action_head is None:
            return []
        return [list(h.parameters()) for h in head_members(self.action_head)]

    def diffusion_parameters(self) -> list[torch.nn.Parameter]:
        """Parameters of the diffusion model and the value net (everything but the head)."""
        head = set(map(id, self.action_head.parameters())) if self.action_head else set()
        return [p for p in self.parameters() if id(p) not in head]


def value_regression(
    model: MFDiffuserModel, batch: dict[str, torch.Tensor], stats: Stats
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The value net's part of the objective: V(m_0) regressed on the window's normalised
    return, and the running advantage scale ``model.adv_std`` moved by the batch's residuals
    (a buffer, saved with the model). Returns (mf0 [b, m] normalised, value loss, the
    residuals r̂ − V [b], detached). Shared by training_loss and the value warm-up's steps
    (train.py), which must regress and move adv_std alike."""
    mf0 = model.norm_mf(batch["mean_field"][:, 0])  # [b, m]
    r_hat = (batch["returns"].float() - stats.ret_mean) / stats.ret_std  # [b]
    v = model.value(mf0)  # [b]
    value_loss = F.mse_loss(v, r_hat)
    resid = (r_hat - v).detach()
    with torch.no_grad():
        model.adv_std.mul_(0.99).add_(0.01 * resid.std().clamp(min=1e-3))
    return mf0, value_loss, resid


def training_loss(
    model: MFDiffuserModel,
    batch: dict[str, torch.Tensor],
    cfg: Config,
    stats: Stats,
    *,
    generator: torch.Generator | None = None,
    head_generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The value-weighted chaotic entropy objective on one batch (docs/method.md, eq. L).

    ``generator`` draws the diffusion's noise; ``head_generator`` the action head's input noise
    (``cfg.head_noise``; default ``generator``): its own stream keeps the diffusion model's
    training independent of every head setting."""
    x0 = model.encode(batch["obs"], batch["actions"])  # [b, k, h, c]
    mask = batch["alive"][..., None]  # [b, k, h, 1]
    mf0, value_loss, resid = value_regression(model, batch, stats)
    adv = (resid / model.adv_std).clamp(-3.0, 3.0)  # Â [b]
    w = value_weights(adv, cfg.beta, w_max=cfg.w_max)
    cond = model.make_cond(mf0, adv)  # [b, m + 1 (+ 1)]
    if model.has_null and cfg.p_uncond > 0:
        # condition dropout: these windows teach the null-token (return-free) model
        u = torch.rand(cond.shape[0], generator=generator, device=_gen_device(generator))
        drop = (u < cfg.p_uncond).to(cond.device)
        cond = torch.where(drop[:, None], GuidedDenoiser.null_cond(cond), cond)
    known = None
    if cfg.train_inpaint:  # plan step 0's observation given clean, as the sampler gives it
        known = torch.zeros(1, 1, *x0.shape[2:], dtype=torch.bool, device=x0.device)
        known[:, :, 0, : model.obs_dim] = True
    terms = model.diffusion.training_terms(x0, cond, mask=mask, known=known, generator=generator)
    if cfg.beta_agent > 0:  # per-particle credit on top of the window weight
        w_k = agent_weights(batch["rewards"], batch["alive"], cfg.beta_agent, gamma=cfg.gamma,
                            w_max=cfg.w_max)  # [b, k]
        denoise = (w[:, None] * w_k * terms.mse_particle).mean()
    else:
        denoise = (w * terms.mse).mean()
    chaos = (
        chaos_loss(terms.x0_pred, x0, terms.alpha_bar) if cfg.lam_chaos > 0 else x0.new_zeros(())
    )
    loss = denoise + cfg.lam_chaos * chaos + value_loss
    if model.action_head is not None:
        # own parameters and own gradient clip (train.py): adding it leaves the diffusion
        # model's updates unchanged
        h_loss, h_acc = action_head_loss(
            model, batch, cfg, generator=head_generator if head_generator is not None else generator
        )
        loss = loss + h_loss
    else:
        h_loss = h_acc = x0.new_zeros(())
    parts = {
        "loss": loss,
        "mse": terms.mse.mean(),
        "denoise": denoise,
        "chaos": chaos,
        "value_loss": value_loss,
        "w_max": w.max(),  # the batch's largest value weight (≤ cfg.w_max, the clip)
        "head_loss": h_loss / cfg.head_ensemble,  # an ensemble's: the mean over its members
        "head_acc": h_acc,
    }
    logs = {k: float(v.detach()) for k, v in parts.items()}
    return loss, logs


def action_head_loss(
    model: MFDiffuserModel,
    batch: dict[str, torch.Tensor],
    cfg: Config,
    *,
    generator: torch.Generator | None = None,
    targets: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, accuracy) of the action head on one batch (action_head.head_loss with the
    Config's noise, advantage weights, plan dropout and neighbour targets, all drawn from
    ``generator``; with ``head_value`` the loss also holds each baseline's MSE, so the logged
    head_loss is cross-entropy plus that MSE). ``targets [b, k, h - 1, d]``: the head's target
    states in place of the data's next states (Config.head_own_plans)."""
    assert model.action_head is not None
    obs_n = model.norm_obs(batch["obs"])  # [b, k, h, d]
    mf_n = model.norm_mf(batch["mean_field"])  # [b, h, m]
    alive = batch["alive"].bool()
    weights = pair_weights(batch["rewards"], alive, cfg.head_beta, gamma=cfg.gamma,
                           w_max=cfg.w_max) if cfg.head_beta > 0 and not cfg.head_value else None
    # an ensemble's members each fit the data on their own draws (summed: each member's
    # gradient is that of a lone head); loss and accuracy are logged as their means
    losses, accs = [], []
    for member in head_members(model.action_head):
        w, v_loss = weights, obs_n.new_zeros(())
        if cfg.head_value:  # each member weighs its pairs against its own state baseline
            v_loss, v = head_value_loss(member, obs_n, mf_n, batch["rewards"], alive,
                                        gamma=cfg.gamma)
            w = pair_weights(batch["rewards"], alive, cfg.head_beta, gamma=cfg.gamma,
                             w_max=cfg.w_max, baseline=v)
        loss, acc = head_loss(member, obs_n, batch["actions"], alive, mf_n, noise=cfg.head_noise,
                              generator=generator, weights=w,
                              plan_dropout=cfg.head_plan_dropout, neighbour=cfg.head_neighbour,
                              noise_shared=cfg.head_noise_shared, blind=cfg.head_blind,
                              targets=targets)
        losses.append(loss + v_loss)
        accs.append(acc)
    return sum(losses), sum(accs) / len(accs)  # type: ignore[return-value]


def _gen_device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")
