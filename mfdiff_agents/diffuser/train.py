"""Training MF-Diffuser: normalisation statistics, AdamW, one gradient step of the
value-weighted chaotic entropy objective (:func:`~mfdiff_agents.diffuser.model.training_loss`).

    policy = fit(sampler, Config(steps=2000), out_dir="runs/squeeze")   # sampler: WindowSampler

The loop around the step (progress, metrics.csv, checkpoints, resume) is
:func:`mfdiff_agents.training.train`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from mfdiff_agents.data import windows_to_torch
from mfdiff_agents.device import autocast
from mfdiff_agents.diffuser.config import Config
from mfdiff_agents.diffuser.model import (
    MFDiffuserModel,
    Stats,
    action_head_loss,
    training_loss,
    value_regression,
)
from mfdiff_agents.diffuser.planner import NORM_OBS_LIMIT, MFDiffuserPlanner
from mfdiff_agents.diffuser.sampler import coarse_to_fine_sample
from mfdiff_agents.training import Learner, train

if TYPE_CHECKING:
    from mfdiff_envs.offline.windows import Windows, WindowSampler

#: The window fields the loss reads.
_BATCH_FIELDS = ("obs", "actions", "alive", "returns", "mean_field", "rewards")


class MFDiffuserLearner(Learner):
    """Model, optimiser and noise generator of one MF-Diffuser training run."""

    POLICY = MFDiffuserPlanner
    LOG_KEYS = ("loss", "mse", "denoise", "chaos", "value_loss", "w_max", "head_loss", "head_acc")

    def __init__(self, sampler: WindowSampler, cfg: Config, device: torch.device) -> None:
        super().__init__(sampler, cfg, device)
        self.generator = torch.Generator(device="cpu").manual_seed(cfg.seed)
        # the head's input noise has its own stream: a head setting leaves the diffusion alone
        self.head_generator = torch.Generator(device="cpu").manual_seed(cfg.seed + 1)
        self.stats = Stats.from_windows(sampler.sample(cfg.stats_windows), sampler.data_range())
        self._model = MFDiffuserModel(
            obs_dim=sampler.obs_dim,
            n_actions=sampler.n_actions,
            mf_dim=sampler.mf_dim,
            cfg=cfg,
            stats=self.stats,
        ).to(device)
        self.opt = torch.optim.AdamW(
            self._model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
        )

    @property
    def model(self) -> MFDiffuserModel:
        return self._model

    def diffusion_updates(self) -> int:
        """Gradient steps the diffusion model and value net have taken so far: AdamW's own
        count (it skips parameters without a gradient), so it survives a resume as it is."""
        state = self.opt.state.get(self._model.diffusion_parameters()[0], {})
        return int(state["step"]) if "step" in state else 0

    def value_updates(self) -> int:
        """Gradient steps the value net has taken so far (AdamW's count, as above)."""
        state = self.opt.state.get(next(self._model.value.parameters()), {})
        return int(state["step"]) if "step" in state else 0

    def update(self, windows: Windows) -> dict[str, float]:
        batch = windows_to_torch(windows, self.device, _BATCH_FIELDS)
        if self.diffusion_updates() == 0 and self.value_updates() < self.cfg.value_warmup:
            return self._value_update(batch)
        stop = self.cfg.diffusion_steps
        if stop is not None and self.diffusion_updates() >= stop:
            return self._head_update(batch)
        with autocast(self.device):
            loss, logs = training_loss(
                self._model, batch, self.cfg, self.stats, generator=self.generator,
                head_generator=self.head_generator,
            )
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        # clipped apart: the head's gradients must not rescale the diffusion model's step
        torch.nn.utils.clip_grad_norm_(self._model.diffusion_parameters(), self.cfg.grad_clip)
        for params in self._model.head_parameter_groups():
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        self.opt.step()
        return logs

    def _value_update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """A step of the value net alone (Config.value_warmup): V(m_0) regressed on the
        window's normalised return, as in training_loss; the advantage scale adv_std follows
        it there too, so the first diffusion step sees the advantage it will keep seeing."""
        m = self._model
        with autocast(self.device):
            _, loss, _ = value_regression(m, batch, self.stats)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(m.value.parameters()), self.cfg.grad_clip)
        self.opt.step()
        return {"loss": float(loss.detach()), "value_loss": float(loss.detach())}

    def _head_update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """A step of the action head alone (Config.diffusion_steps reached): no denoiser pass,
        the diffusion parameters get no gradient, so AdamW leaves them as they are."""
        assert self._model.action_head is not None
        targets = self._own_plan_targets(batch) if self.cfg.head_own_plans > 0 else None
        with autocast(self.device):
            h_loss, h_acc = action_head_loss(
                self._model, batch, self.cfg, generator=self.head_generator, targets=targets
            )
        self.opt.zero_grad(set_to_none=True)
        h_loss.backward()
        for params in self._model.head_parameter_groups():
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        self.opt.step()
        return {"loss": float(h_loss.detach()),
                "head_loss": float(h_loss.detach()) / self.cfg.head_ensemble,
                "head_acc": float(h_acc.detach())}

    @torch.no_grad()
    def _own_plan_targets(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The head's targets [b, k, h - 1, d] for Config.head_own_plans: in a share of the
        windows (drawn per window from the head's stream), s_t + (ŝ_{t+1} − ŝ_t) of the plans
        the frozen diffusion model samples for the window's particles from their states at its
        start, as the planner samples (its ddim_steps, eta, return_target, guidance_weight; one
        stage of K particles) and as it forms the head's input (clamped like the planner's);
        elsewhere the data's s_{t+1}."""
        m, cfg = self._model, self.cfg
        obs_n = m.norm_obs(batch["obs"])  # [b, k, h, d]
        b, k, h, _ = obs_n.shape
        cond = m.make_cond(m.norm_mf(batch["mean_field"][:, 0]),
                           torch.full((b,), cfg.return_target, device=obs_n.device))
        denoiser = m.diffusion.model
        denoiser.guidance_weight = float(cfg.guidance_weight)
        was_training = m.training
        m.eval()
        try:
            with autocast(self.device):
                x0 = coarse_to_fine_sample(
                    m.diffusion, anchor_obs=obs_n[:, :, 0].clamp(-NORM_OBS_LIMIT, NORM_OBS_LIMIT),
                    cond=cond, horizon=h, x_dim=m.x_dim, k_schedule=(k,),
                    n_steps=cfg.ddim_steps, eta=cfg.eta, generator=self.head_generator,
                ).float()  # [b, k, h, c]
        finally:
            denoiser.guidance_weight = 1.0  # the module is shared with training
            m.train(was_training)
        plan = m.decode_obs(x0)  # [b, k, h, d] normalised planned states
        s = obs_n[:, :, :-1]
        own = (s + plan[:, :, 1:] - plan[:, :, :-1]).clamp(-NORM_OBS_LIMIT, NORM_OBS_LIMIT)
        pick = torch.rand(b, generator=self.head_generator) < cfg.head_own_plans  # [b]
        return torch.where(pick.to(obs_n.device)[:, None, None, None], own, obs_n[:, :, 1:])

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "generator": self.generator.get_state(),
            "head_generator": self.head_generator.get_state(),
            "stats": dataclasses.asdict(self.stats),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.generator.set_state(state["generator"])
        if "head_generator" in state:  # train states from before head_noise: never drawn from
            self.head_generator.set_state(state["head_generator"])
        saved = Stats(**state["stats"])
        if saved.obs_low is None:  # a run saved before the range was recorded: this data's
            saved = dataclasses.replace(saved, **{k: getattr(self.stats, k) for k in (
                "obs_low", "obs_high", "mf_low", "mf_high")})
        self.stats = saved

    def policy(self) -> MFDiffuserPlanner:
        policy = super().policy()
        stats = dataclasses.asdict(self.stats)
        # σ_A is an EMA the training loss keeps in the model's buffer, not in self.stats
        # (which holds its starting value, 1.0): record the one the weights act with
        stats["adv_std"] = float(policy.model.adv_std)
        policy.stats = stats
        return policy


def fit(
    sampler: WindowSampler, cfg: Config, *, out_dir: str | Path | None = None, **kw: Any
) -> MFDiffuserPlanner:
    """Train MF-Diffuser on ``sampler``'s windows (see :func:`mfdiff_agents.training.train`)."""
    return train(MFDiffuserLearner, sampler, cfg, out_dir=out_dir, **kw)
