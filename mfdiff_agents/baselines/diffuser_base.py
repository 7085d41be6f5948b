"""What the independent and the joint diffuser baselines share: a return-conditioned trajectory
diffuser built from the MF-Diffuser's own pieces (:class:`~mfdiff_agents.diffuser.diffusion.
GaussianDiffusion` over a :class:`~mfdiff_agents.diffuser.denoiser.ParticleDenoiser`), differing
only in the denoiser's interaction layer and in which agents share one sample.

Trajectory of one agent over H steps: x_h = [(s_h − μ_s)/σ_s, 2·onehot(a_h) − 1] (c = d + A
channels). Condition: the standardised discounted team return-to-go from the window's first step
to the episode's end (``Windows.returns``; Decision-Diffuser-style
return conditioning, no mean-field input); at act time the target is ``return_target`` standard
deviations above the data mean. Acting: inpaint the first step's observation with the real
agent's current observation, run ``ddim_steps`` DDIM steps, act by the argmax of the first
step's action channels. The diffusion noise is drawn from a torch generator seeded from the
policy's numpy generator, so ``reset(seed)`` fixes the actions; agents with identical
observations still get different plans (different noise).

* ``interaction="none"``, ``joint=False`` — independent Diffuser: every agent's trajectory is one
  sample of a single-agent diffuser (training windows are split into their K agents).
* ``interaction="attention"``, ``joint=True`` — MADiff-style: the K agents of a window are one
  joint sample with all-pairs attention; acting plans for all N live agents at once (O(N²)).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from mfdiff_agents.checkpoint import EnvFacts
from mfdiff_agents.config import ConfigError, TrainConfig, check_finite, check_positive_int
from mfdiff_agents.data import windows_to_torch
from mfdiff_agents.diffuser.denoiser import ParticleDenoiser
from mfdiff_agents.diffuser.diffusion import GaussianDiffusion
from mfdiff_agents.policy import PopulationTooLargeError, refuse_nonfinite
from mfdiff_agents.trained import TrainedPolicy
from mfdiff_agents.training import Learner

if TYPE_CHECKING:
    from mfdiff_envs.offline.windows import Windows, WindowSampler


@dataclasses.dataclass
class DiffuserConfig(TrainConfig):
    """Hyper-parameters of a diffuser baseline (the two modules subclass this as ``Config``)."""

    lr: float = 3e-4
    """Adam learning rate."""
    width: int = 64
    """Denoiser channels (divisible by 8)."""
    depth: int = 2
    """(temporal block, interaction) pairs."""
    n_timesteps: int = 50
    """Training noise levels T."""
    ddim_steps: int = 5
    """Reverse steps when acting."""
    eta: float = 1.0
    """DDIM stochasticity η when acting (as MF-Diffuser: with η = 0 and few steps the one-hot
    action channels stay ill-formed and their argmax is biased; measured on expert Squeeze data,
    the independent diffuser scored 11 with η = 0, below its untrained 18)."""
    return_target: float = 1.0
    """Return condition at act time, in standard deviations of the data's returns-to-go from a
    window's first step (``Windows.returns``)."""
    norm_batches: int = 20
    """Batches sampled up front to estimate observation / return normalisers."""
    max_agents: int = 1_000_000
    """Refuse to plan for more live agents than this in one call (ValueError)."""
    act_chunk: int = 4096
    """Independent planning only: agents per denoiser batch when acting. The chunks draw their
    noise from one generator in turn, so at a fixed seed the actions (not their distribution)
    depend on it: keep it fixed to reproduce a run."""

    def __post_init__(self) -> None:
        super().__post_init__()  # width, depth, n_timesteps, ddim_steps, norm_batches ≥ 1
        name = type(self).__name__
        for field in ("max_agents", "act_chunk"):
            check_positive_int(name, field, getattr(self, field))
        if self.width % 8:
            raise ConfigError(f"{name}.width must be a multiple of 8 (GroupNorm), got {self.width}")
        if self.ddim_steps > self.n_timesteps:
            # trains, then every act fails: the sampler strides over the T training levels
            raise ConfigError(f"{name}.ddim_steps ({self.ddim_steps}) > n_timesteps "
                              f"({self.n_timesteps})")
        if not 0.0 <= self.eta <= 1.0:
            # η > 1 asks for σ² > 1 − ᾱ: the sampler's noise swamps the plan
            raise ConfigError(f"{name}.eta must lie in [0, 1], got {self.eta}")
        check_finite(name, "lr", self.lr)


class TrajectoryDiffuser(nn.Module):
    """GaussianDiffusion(ParticleDenoiser) plus the data normalisers (persistent buffers)."""

    def __init__(self, *, obs_dim: int, n_actions: int, interaction: str,
                 cfg: DiffuserConfig) -> None:
        super().__init__()
        self.obs_dim, self.n_actions = obs_dim, n_actions
        den = ParticleDenoiser(x_dim=obs_dim + n_actions, cond_dim=1, width=cfg.width,
                               depth=cfg.depth, interaction=interaction)
        self.diffusion = GaussianDiffusion(den, n_timesteps=cfg.n_timesteps)
        self.register_buffer("obs_mean", torch.zeros(obs_dim))
        self.register_buffer("obs_std", torch.ones(obs_dim))
        self.register_buffer("ret_mean", torch.zeros(()))
        self.register_buffer("ret_std", torch.ones(()))

    def encode(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """obs [..., d], actions [...] -> x [..., d + A]."""
        onehot = nn.functional.one_hot(actions, self.n_actions).to(obs.dtype) * 2 - 1
        return torch.cat([(obs - self.obs_mean) / self.obs_std, onehot], -1)


class DiffuserPolicy(TrainedPolicy):
    """Acting side of a diffuser baseline (see module docstring)."""

    INTERACTION: ClassVar[str] = "none"
    JOINT: ClassVar[bool] = False
    ARCH_FIELDS = ("width", "depth", "n_timesteps", "horizon")
    ACTING_FIELDS = ("ddim_steps", "eta", "return_target", "max_agents", "act_chunk")

    @classmethod
    def build_model(cls, cfg: DiffuserConfig, env: EnvFacts) -> TrajectoryDiffuser:
        return TrajectoryDiffuser(obs_dim=env.obs_dim, n_actions=env.n_actions,
                                  interaction=cls.INTERACTION, cfg=cfg)

    @property
    def horizon(self) -> int:
        """Steps per plan (``Config.horizon``)."""
        return self.cfg.horizon

    @torch.no_grad()
    def _plan(self, obs: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """obs [b, k, d] (normalised) -> first-step actions [b, k]."""
        b, k, d = obs.shape
        c = d + self.n_actions
        value = torch.zeros(b, k, self.horizon, c, device=self.device)
        value[:, :, 0, :d] = obs
        mask = torch.zeros(1, 1, self.horizon, c, dtype=torch.bool, device=self.device)
        mask[..., 0, :d] = True
        cond = torch.full((b, 1), self.cfg.return_target, device=self.device)
        x = self.model.diffusion.sample((b, k, self.horizon, c), cond, n_steps=self.cfg.ddim_steps,
                                        eta=self.cfg.eta, generator=gen, inpaint=(mask, value))
        refuse_nonfinite(x[:, :, 0, d:], f"{self.METHOD}'s plan", allow_neg_inf=False)
        return x[:, :, 0, d:].argmax(-1)

    def _act(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        n_live = int(mask.sum())
        acts = np.zeros(obs.shape[0], np.int64)
        if n_live == 0:
            return acts
        if n_live > self.cfg.max_agents:
            raise PopulationTooLargeError(
                f"{type(self).__name__}: {n_live} live agents exceed max_agents="
                f"{self.cfg.max_agents} (its planning cost grows as N² in time and memory; "
                "raise cfg.max_agents if you really want this)")
        gen = torch.Generator(device="cpu").manual_seed(int(self.rng.integers(2**62)))
        o = torch.from_numpy(obs[mask]).to(self.device)
        o = (o - self.model.obs_mean) / self.model.obs_std
        if self.JOINT:
            a = self._plan(o[None], gen)[0]
        else:
            chunks = [self._plan(o[i:i + self.cfg.act_chunk, None], gen)[:, 0]
                      for i in range(0, n_live, self.cfg.act_chunk)]
            a = torch.cat(chunks)
        acts[mask] = a.cpu().numpy()
        return acts


class DiffuserLearner(Learner):
    """Return-conditioned denoising loss; the subclass's ``POLICY`` fixes interaction/jointness."""

    POLICY: ClassVar[type[DiffuserPolicy]]

    def __init__(self, sampler: WindowSampler, cfg: DiffuserConfig, device: torch.device) -> None:
        super().__init__(sampler, cfg, device)
        model = self.POLICY.build_model(cfg, self.env)
        # normalisers from a few batches (alive entries only)
        ws = [sampler.sample(cfg.batch_size) for _ in range(max(1, cfg.norm_batches))]
        obs_all = np.concatenate([w.obs[w.alive] for w in ws])
        rets = np.concatenate([np.asarray(w.returns, np.float64) for w in ws])
        model.obs_mean.copy_(torch.from_numpy(obs_all.mean(0)))
        model.obs_std.copy_(torch.from_numpy(np.maximum(obs_all.std(0), 1e-3)))
        model.ret_mean.fill_(float(rets.mean()))
        model.ret_std.fill_(float(max(rets.std(), 1e-6)))
        self.diffuser = model.to(device)
        self.opt = torch.optim.Adam(model.diffusion.model.parameters(), lr=cfg.lr)
        # a CPU generator on every device, as MF-Diffuser's: its state has one size, so a run
        # resumes on another device (a CUDA generator's state does not load into a CPU one),
        # and a seed draws the same noise on the CPU and on a GPU
        self.generator = torch.Generator(device="cpu").manual_seed(cfg.seed)

    @property
    def model(self) -> TrajectoryDiffuser:
        return self.diffuser

    def update(self, w: Windows) -> dict[str, float]:
        dev, model = self.device, self.diffuser
        t = windows_to_torch(w, dev, ("obs", "actions", "alive", "returns"))
        obs, acts = t["obs"], t["actions"]  # [B,K,H,d], [B,K,H]
        alive = t["alive"][..., None]  # [B,K,H,1]
        cond = ((t["returns"] - model.ret_mean)
                / model.ret_std)[:, None]  # [B,1]
        x0 = model.encode(obs, acts)
        if not self.POLICY.JOINT:  # each agent's trajectory is its own sample
            b, k = x0.shape[:2]
            x0 = x0.reshape(b * k, 1, *x0.shape[2:])
            alive = alive.reshape(b * k, 1, *alive.shape[2:])
            cond = cond.repeat_interleave(k, 0)
        loss = model.diffusion.loss(x0, cond, mask=alive, generator=self.generator)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": float(loss.detach())}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.generator.set_state(state["generator"])
