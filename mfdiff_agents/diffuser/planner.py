"""MF-Diffuser: the mean-field diffusion planner, its Config and its training loop.

    from mfdiff_agents.diffuser.planner import Config, fit, MFDiffuserPlanner
    policy = fit(sampler, Config(steps=2000), out_dir="runs/squeeze")   # sampler: WindowSampler
    actions = policy.act_batch(obs)             # obs: [N, d] for any N (100 … 10 000)
    policy.save("ckpt"); policy = MFDiffuserPlanner.from_pretrained("ckpt")

One planning step (every ``replan_every`` env steps):
1. m_t = mean_field_summary(obs, mask) over all N agents; condition c = [norm(m_t), Â*].
2. K_max anchor agents by stratified sampling; coarse-to-fine DDIM over particle plans
   x: [K_max, H, d + A] with plan step 0's obs inpainted with the anchors' obs.
3. Lift: agent i -> particle j(i) (exact OT for N ≤ exact_ot_max_n, else balanced nearest),
   action a_i = argmax of particle j(i)'s action channels at the current plan step.
Between replans the plan is followed open loop, re-lifting fresh observations onto the
particles' planned states at the current plan step. Equations: docs/method.md.
"""

from __future__ import annotations

import csv
import dataclasses
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

from mfdiff_agents.device import autocast, resolve_device
from mfdiff_agents.diffuser.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_train_state,
    save_checkpoint,
    save_train_state,
)
from mfdiff_agents.diffuser.denoiser import INTERACTIONS, ParticleDenoiser
from mfdiff_agents.diffuser.diffusion import SCHEDULES, GaussianDiffusion
from mfdiff_agents.diffuser.lifting import lift
from mfdiff_agents.diffuser.objective import ValueNet, chaos_loss, value_weights
from mfdiff_agents.diffuser.sampler import (
    coarse_to_fine_sample,
    stratified_anchors,
    validate_schedule,
)
from mfdiff_agents.policy import Policy
from mfdiff_envs.core import mean_field_summary


@dataclass
class Config:
    """MF-Diffuser hyper-parameters (defaults sized for a CPU run of a few minutes)."""

    # ---- data
    horizon: int = 8
    """H, plan / window length in env steps (≤ episode length; Gaussian Squeeze has 25)."""
    n_particles: int = 32
    """K, particles (sampled agents) per training window."""
    gamma: float = 0.99
    """Discount of the returns-to-go used for value weighting."""
    stats_windows: int = 2048
    """Windows drawn once at the start to estimate normalisation statistics."""
    # ---- denoiser
    width: int = 64
    """Hidden channels of the denoiser."""
    depth: int = 3
    """(temporal res block, interaction) pairs."""
    kernel_size: int = 5
    """Temporal conv kernel along H (odd)."""
    interaction: str = "mean"
    """Particle interaction: "mean" (mean-pool, MF-Diffuser) | "none" | "attention"."""
    # ---- diffusion
    n_timesteps: int = 100
    """Training noise levels T."""
    schedule: str = "cosine"
    """Noise schedule: "cosine" | "linear"."""
    # ---- objective
    beta: float = 1.0
    """Value-weighting temperature β: w = softmax(β Â)·B; 0 = no value weighting."""
    w_max: float = 20.0
    """Clip of the value weights."""
    lam_chaos: float = 0.1
    """λ of the chaotic-entropy (energy-distance) term; 0 = no chaos term."""
    value_hidden: int = 64
    """Width of the mean-field value net V(m) (advantage baseline)."""
    # ---- optimisation
    steps: int = 3000
    """Gradient steps."""
    batch_size: int = 32
    """Windows per batch (each K particles × H steps)."""
    lr: float = 3e-4
    """AdamW learning rate."""
    weight_decay: float = 1e-4
    """AdamW weight decay."""
    grad_clip: float = 1.0
    """Global gradient-norm clip."""
    seed: int = 0
    """Seed of torch init, noise draws and the window sampler passed by `mfdiff train`."""
    device: str = "auto"
    """"auto" (CUDA when present, else CPU) | "cpu" | "cuda[:i]"."""
    log_every: int = 50
    """Steps between metrics.csv rows / progress-bar updates."""
    ckpt_every: int = 500
    """Steps between checkpoints in out_dir (0 = only at the end)."""
    resume: bool = False
    """Continue from out_dir's checkpoint (weights, optimizer, step) if one is there."""
    # ---- planning
    ddim_steps: int = 10
    """Reverse DDIM steps per plan."""
    eta: float = 1.0
    """DDIM stochasticity η (1 = ancestral-like; 0 = deterministic DDIM, which leaves the
    one-hot action channels ill-formed with few steps, see docs/method.md)."""
    k_schedule: tuple[int, ...] = (16, 64, 256)
    """Particle schedule K_0 < … < K_max of coarse-to-fine sampling (each divides the next)."""
    coarse_to_fine: bool = True
    """False = K_max particles at every reverse step (ablation)."""
    return_target: float = 1.5
    """Standardised advantage Â the plan is conditioned on (higher = greedier)."""
    replan_every: int = 1
    """Env steps between replans (≤ horizon); in between the plan is followed open loop."""
    exact_ot_max_n: int = 2000
    """Exact OT lifting (POT ot.emd) when N ≤ this; balanced nearest particle above."""
    lift_tol: float = 0.05
    """Unused: large-N agents now keep their replan particle between replans (see ``_act``);
    kept so checkpoints written before that change still load."""

    def __post_init__(self) -> None:
        if isinstance(self.k_schedule, list):
            self.k_schedule = tuple(self.k_schedule)
        for name in (
            "horizon",
            "n_particles",
            "width",
            "depth",
            "steps",
            "batch_size",
            "ddim_steps",
            "replan_every",
            "n_timesteps",
            "stats_windows",
            "log_every",
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"Config.{name} must be a positive int, got {v!r}")
        if self.interaction not in INTERACTIONS:
            raise ValueError(
                f"Config.interaction must be one of {sorted(INTERACTIONS)}, "
                f"got {self.interaction!r}"
            )
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"Config.schedule must be one of {sorted(SCHEDULES)}, got {self.schedule!r}"
            )
        if self.width % 8:
            raise ValueError(f"Config.width must be a multiple of 8 (GroupNorm), got {self.width}")
        validate_schedule(self.k_schedule)
        if self.ddim_steps > self.n_timesteps:
            raise ValueError(
                f"Config.ddim_steps ({self.ddim_steps}) > n_timesteps ({self.n_timesteps})"
            )
        if self.coarse_to_fine and self.ddim_steps < len(self.k_schedule):
            raise ValueError(
                f"Config.ddim_steps ({self.ddim_steps}) must be ≥ the number of particle stages "
                f"({len(self.k_schedule)}) for coarse-to-fine sampling"
            )
        if self.replan_every > self.horizon:
            raise ValueError(
                f"Config.replan_every ({self.replan_every}) must be ≤ horizon ({self.horizon})"
            )
        if self.beta < 0 or self.lam_chaos < 0:
            raise ValueError(
                f"Config.beta and lam_chaos must be ≥ 0, got {self.beta}, {self.lam_chaos}"
            )


#: Config fields that fix the network / data shapes (must not change on resume).
ARCH_FIELDS = (
    "horizon",
    "n_particles",
    "width",
    "depth",
    "kernel_size",
    "interaction",
    "n_timesteps",
    "schedule",
    "value_hidden",
)


def config_from_dict(data: dict[str, Any]) -> Config:
    """Rebuild a Config from plain data; unknown keys fail."""
    names = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown MF-Diffuser config keys {unknown}; valid keys: {sorted(names)}")
    return Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


@dataclass
class Stats:
    """Dataset normalisation statistics (stored in config.json)."""

    obs_mean: list[float]
    obs_std: list[float]
    mf_mean: list[float]
    mf_std: list[float]
    ret_mean: float
    ret_std: float
    adv_std: float = 1.0

    @classmethod
    def from_windows(cls, w: Any) -> Stats:
        obs = w.obs.reshape(-1, w.obs.shape[-1])
        alive = w.alive.reshape(-1)
        if alive.any():
            obs = obs[alive]
        mf = w.mean_field.reshape(-1, w.mean_field.shape[-1])
        floor = 1e-2
        return cls(
            obs_mean=obs.mean(0).tolist(),
            obs_std=np.maximum(obs.std(0), floor).tolist(),
            mf_mean=mf.mean(0).tolist(),
            mf_std=np.maximum(mf.std(0), floor).tolist(),
            ret_mean=float(np.mean(w.returns)),
            ret_std=float(max(np.std(w.returns), 1e-6)),
        )


#: |x̂_0| bound of the normalised observation channels while sampling (action channels: 1).
OBS_CLIP = 5.0


class MFDiffuserModel(torch.nn.Module):
    """Diffusion process over particles + the mean-field value net, with normalisation buffers."""

    def __init__(
        self, *, obs_dim: int, n_actions: int, mf_dim: int, cfg: Config, stats: Stats
    ) -> None:
        super().__init__()
        self.obs_dim, self.n_actions, self.mf_dim = obs_dim, n_actions, mf_dim
        self.x_dim = obs_dim + n_actions
        denoiser = ParticleDenoiser(
            x_dim=self.x_dim,
            cond_dim=mf_dim + 1,
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
        f = torch.float32
        self.register_buffer("obs_mean", torch.tensor(stats.obs_mean, dtype=f))
        self.register_buffer("obs_std", torch.tensor(stats.obs_std, dtype=f))
        self.register_buffer("mf_mean", torch.tensor(stats.mf_mean, dtype=f))
        self.register_buffer("mf_std", torch.tensor(stats.mf_std, dtype=f))
        self.register_buffer("adv_std", torch.tensor(stats.adv_std, dtype=f))

    def norm_obs(self, obs: torch.Tensor) -> torch.Tensor:
        return (obs - self.obs_mean) / self.obs_std

    def norm_mf(self, mf: torch.Tensor) -> torch.Tensor:
        return (mf - self.mf_mean) / self.mf_std

    def encode(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """x = [norm(obs), 2·onehot(a) - 1]: obs [b,k,h,d], actions [b,k,h] -> [b,k,h,d+A]."""
        onehot = F.one_hot(actions.long(), self.n_actions).float() * 2 - 1
        return torch.cat([self.norm_obs(obs), onehot], dim=-1)


def _to_tensors(w: Any, device: torch.device) -> dict[str, torch.Tensor]:
    """Windows (numpy dataclass) -> the tensors the loss needs."""
    names = ("obs", "actions", "alive", "returns", "mean_field")
    return {n: torch.as_tensor(np.asarray(getattr(w, n))).to(device) for n in names}


class MFDiffuserPlanner(Policy):
    """The MF-Diffuser policy: plans K particles, lifts the plan to N agents (see module doc).

    Args:
        model: trained :class:`MFDiffuserModel`.
        cfg: the Config it was trained with (planning fields may be changed freely).
        meta: env facts stored with the checkpoint (env_id, family, env_kwargs).
        seed: policy seed; ``reset(seed)`` -> same actions for the same observations.
        device: "auto" | "cpu" | "cuda".
    """

    def __init__(
        self,
        model: MFDiffuserModel,
        cfg: Config,
        *,
        meta: dict[str, Any] | None = None,
        seed: int | None = None,
        device: str | torch.device = "auto",
    ) -> None:
        super().__init__(obs_dim=model.obs_dim, n_actions=model.n_actions, seed=seed)
        self.cfg = cfg
        self.meta = dict(meta or {})
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.generator = torch.Generator(device="cpu")
        self._seed(seed)
        self._plan_obs: torch.Tensor | None = None  # [K_max, H, d] normalised planned states
        self._plan_act: torch.Tensor | None = None  # [K_max, H] planned actions
        self._tau = 0  # plan step of the next action
        self.last_assignment: NDArray[np.int64] | None = None  # [n_alive] particle of each agent
        self._assign_full = np.zeros(0, dtype=np.int64)  # [N] particle of each agent at the replan

    def _seed(self, seed: int | None) -> None:
        s = int(seed) if seed is not None else int(self.rng.integers(0, 2**62))
        self.generator.manual_seed(s)

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._seed(seed)
        self._plan_obs = self._plan_act = None
        self._assign_full = np.zeros(0, dtype=np.int64)
        self._tau = 0

    # ------------------------------------------------------------------ planning
    @property
    def k_schedule(self) -> tuple[int, ...]:
        ks = tuple(self.cfg.k_schedule)
        return ks if self.cfg.coarse_to_fine else ks[-1:]

    @torch.no_grad()
    def plan(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> dict[str, torch.Tensor]:
        """Sample a particle plan for the population ``obs [N, d]`` (alive rows ``mask``).

        Returns a dict with ``x0 [K_max, H, c]``, ``anchors [K_max]`` (indices into the alive
        rows), ``obs_norm [n_alive, d]``, ``cond [1, m + 1]``.
        """
        m = self.model
        mf = mean_field_summary(obs, mask)  # [m]
        cond = torch.cat(
            [
                m.norm_mf(torch.as_tensor(mf, device=self.device)),
                torch.tensor([self.cfg.return_target], device=self.device),
            ]
        )[None]  # [1, m + 1]
        obs_n = m.norm_obs(torch.as_tensor(obs[mask], device=self.device))  # [n, d]
        ks = self.k_schedule
        anchors = stratified_anchors(obs_n, ks[-1], generator=self.generator)  # [K_max]
        with autocast(self.device):
            x0 = coarse_to_fine_sample(
                m.diffusion,
                anchor_obs=obs_n[anchors][None],
                cond=cond,
                horizon=self.cfg.horizon,
                x_dim=m.x_dim,
                k_schedule=ks,
                n_steps=self.cfg.ddim_steps,
                eta=self.cfg.eta,
                generator=self.generator,
            )[0].float()
        return {"x0": x0, "anchors": anchors, "obs_norm": obs_n, "cond": cond}

    def _act(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        n = obs.shape[0]
        actions = np.zeros(n, dtype=np.int64)
        if not mask.any():
            return actions
        d = self.obs_dim
        replan = (
            self._plan_act is None
            or self._assign_full.shape[0] != n
            or bool(np.any(self._assign_full[mask] < 0))
            or self._tau >= self.cfg.horizon
            or self._tau % self.cfg.replan_every == 0
        )
        if replan:
            p = self.plan(obs, mask)
            x0 = p["x0"]
            self._plan_obs, self._plan_act = x0[..., :d], x0[..., d:].argmax(-1)
            self._tau = 0
            obs_n = p["obs_norm"]
            assign = lift(
                obs_n,
                obs_n[p["anchors"]],
                generator=self.generator,
                exact_ot_max_n=self.cfg.exact_ot_max_n,
            )
        elif int(mask.sum()) <= self.cfg.exact_ot_max_n:
            # re-lift fresh observations onto the particles' planned states (balanced exact OT)
            obs_n = self.model.norm_obs(torch.as_tensor(obs[mask], device=self.device))
            centers = self._plan_obs[:, self._tau]  # [K_max, d]
            assign = lift(
                obs_n, centers, generator=self.generator, exact_ot_max_n=self.cfg.exact_ot_max_n
            )
        else:
            # Large N: keep each agent on the particle it was lifted to at the replan. A nearest
            # re-lift is not balanced: when the planned states differ from the (shared) real
            # state, every agent lands on the same particle and the population's action
            # histogram collapses (measured: Squeeze N=10^4 fell from 78 to 32 normalised).
            assign = torch.as_tensor(self._assign_full[mask], device=self.device)
        assert self._plan_act is not None
        actions[mask] = self._plan_act[assign, self._tau].cpu().numpy()
        self.last_assignment = assign.cpu().numpy()
        if replan:
            self._assign_full = np.full(n, -1, dtype=np.int64)
            self._assign_full[mask] = self.last_assignment
        self._tau += 1
        return actions

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` + ``model.safetensors`` to ``directory``."""
        import mfdiff

        meta = {
            **{
                k: v
                for k, v in self.meta.items()
                if k in ("env_id", "family", "env_kwargs", "dataset_id")
            },
            "package_version": mfdiff.__version__,
            "obs_dim": self.obs_dim,
            "n_actions": self.n_actions,
            "mf_dim": self.model.mf_dim,
            "stats": {
                "obs_mean": self.model.obs_mean.tolist(),
                "obs_std": self.model.obs_std.tolist(),
                "mf_mean": self.model.mf_mean.tolist(),
                "mf_std": self.model.mf_std.tolist(),
                "ret_mean": float(self.meta.get("ret_mean", 0.0)),
                "ret_std": float(self.meta.get("ret_std", 1.0)),
                "adv_std": float(self.model.adv_std),
            },
            "config": dataclasses.asdict(self.cfg),
        }
        return save_checkpoint(directory, meta=meta, tensors=self.model.state_dict())

    @classmethod
    def from_pretrained(
        cls,
        directory: str | Path,
        *,
        device: str | torch.device = "auto",
        seed: int | None = None,
        obs_dim: int | None = None,
        n_actions: int | None = None,
        **overrides: Any,
    ) -> MFDiffuserPlanner:
        """Load a saved planner. ``obs_dim`` / ``n_actions``, when given, must match the
        checkpoint (clear error otherwise); ``overrides`` replace planning Config fields
        (e.g. ``k_schedule=(8, 32)``, ``replan_every=4``)."""
        meta, tensors = load_checkpoint(directory)
        for name, want in (("obs_dim", obs_dim), ("n_actions", n_actions)):
            if want is not None and int(meta[name]) != int(want):
                raise CheckpointError(
                    f"{directory}: checkpoint has {name}={meta[name]}, "
                    f"but {name}={want} was expected "
                    f"(trained on {meta.get('env_id')!r}, env kwargs {meta.get('env_kwargs')})"
                )
        try:
            cfg = config_from_dict({**meta["config"], **overrides})
            stats = Stats(**meta["stats"])
        except (TypeError, ValueError) as e:
            raise CheckpointError(
                f"{directory}: bad config in config.json or overrides: {e}"
            ) from e
        model = MFDiffuserModel(
            obs_dim=int(meta["obs_dim"]),
            n_actions=int(meta["n_actions"]),
            mf_dim=int(meta["mf_dim"]),
            cfg=cfg,
            stats=stats,
        )
        try:
            model.load_state_dict(tensors, strict=True)
        except RuntimeError as e:
            raise CheckpointError(
                f"{directory}: weights do not match config.json (obs_dim={meta['obs_dim']}, "
                f"n_actions={meta['n_actions']}, width={cfg.width}): {str(e).splitlines()[0]} …"
            ) from e
        meta = {**meta, "ret_mean": stats.ret_mean, "ret_std": stats.ret_std}
        return cls(model, cfg, meta=meta, seed=seed, device=device)


# ---------------------------------------------------------------------- training
def training_loss(
    model: MFDiffuserModel,
    batch: dict[str, torch.Tensor],
    cfg: Config,
    stats: Stats,
    *,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The value-weighted chaotic entropy objective on one batch (docs/method.md, eq. L)."""
    x0 = model.encode(batch["obs"], batch["actions"])  # [b, k, h, c]
    mask = batch["alive"][..., None]  # [b, k, h, 1]
    mf0 = model.norm_mf(batch["mean_field"][:, 0])  # [b, m]
    r_hat = (batch["returns"].float() - stats.ret_mean) / stats.ret_std  # [b]
    v = model.value(mf0)  # [b]
    value_loss = F.mse_loss(v, r_hat)
    resid = (r_hat - v).detach()
    with torch.no_grad():  # running std of the advantage (a buffer, saved with the model)
        model.adv_std.mul_(0.99).add_(0.01 * resid.std().clamp(min=1e-3))
    adv = (resid / model.adv_std).clamp(-3.0, 3.0)  # Â [b]
    w = value_weights(adv, cfg.beta, w_max=cfg.w_max)
    cond = torch.cat([mf0, adv[:, None]], dim=-1)  # [b, m + 1]
    terms = model.diffusion.training_terms(x0, cond, mask=mask, generator=generator)
    denoise = (w * terms.mse).mean()
    chaos = (
        chaos_loss(terms.x0_pred, x0, terms.alpha_bar) if cfg.lam_chaos > 0 else x0.new_zeros(())
    )
    loss = denoise + cfg.lam_chaos * chaos + value_loss
    parts = {
        "loss": loss,
        "mse": terms.mse.mean(),
        "denoise": denoise,
        "chaos": chaos,
        "value_loss": value_loss,
        "w_max": w.max(),
    }
    logs = {k: float(v.detach()) for k, v in parts.items()}
    return loss, logs


def fit(
    sampler: Any, cfg: Config, *, out_dir: str | Path | None = None, progress: bool = True
) -> MFDiffuserPlanner:
    """Train MF-Diffuser on windows from ``sampler`` (a WindowSampler built with
    ``horizon=cfg.horizon, n_particles=cfg.n_particles``).

    With ``out_dir``: checkpoints (config.json, model.safetensors, train_state.pt) every
    ``cfg.ckpt_every`` steps and at the end, metrics to ``out_dir/metrics.csv``; with
    ``cfg.resume`` training continues from the checkpoint there.
    """
    from tqdm.auto import tqdm

    if (sampler.horizon, sampler.n_particles) != (cfg.horizon, cfg.n_particles):
        raise ValueError(
            f"sampler windows are (H={sampler.horizon}, K={sampler.n_particles}) but the Config "
            "asks for "
            f"(H={cfg.horizon}, K={cfg.n_particles}); build the WindowSampler with the "
            "Config's values"
        )
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
    out = Path(out_dir) if out_dir is not None else None
    state = load_train_state(out) if out is not None else None
    if state is not None and not cfg.resume:
        raise FileExistsError(
            f"{out} already holds a training run; pass resume=True (--resume) or another out_dir"
        )

    meta = {k: getattr(sampler, k, None) for k in ("env_id", "family", "env_kwargs", "dataset_id")}
    if state is not None:
        prev = MFDiffuserPlanner.from_pretrained(out, device=device)
        changed = [
            f"{k}: {getattr(prev.cfg, k)!r} -> {getattr(cfg, k)!r}"
            for k in ARCH_FIELDS
            if getattr(prev.cfg, k) != getattr(cfg, k)
        ]
        if changed:
            raise ValueError(f"cannot resume {out} with a different architecture: {changed}")
        model, stats = prev.model, Stats(**state["stats"])
        model.train()
        start = int(state["step"])
    else:
        stats = Stats.from_windows(sampler.sample(cfg.stats_windows))
        model = MFDiffuserModel(
            obs_dim=sampler.obs_dim,
            n_actions=sampler.n_actions,
            mf_dim=sampler.mf_dim,
            cfg=cfg,
            stats=stats,
        ).to(device)
        start = 0
    meta.update(ret_mean=stats.ret_mean, ret_std=stats.ret_std)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])

    metrics_f = None
    writer = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        new_file = not (out / "metrics.csv").exists() or start == 0
        metrics_f = open(out / "metrics.csv", "w" if start == 0 else "a", newline="")  # noqa: SIM115
        fields = ["step", "loss", "mse", "denoise", "chaos", "value_loss", "w_max", "seconds"]
        writer = csv.DictWriter(metrics_f, fieldnames=fields)
        if new_file:
            writer.writeheader()

    def checkpoint(step: int) -> None:
        if out is None:
            return
        policy = MFDiffuserPlanner(model, cfg, meta=meta, seed=cfg.seed, device=device)
        policy.save(out)
        model.train()
        save_train_state(
            out,
            {
                "step": step,
                "optimizer": opt.state_dict(),
                "generator": gen.get_state(),
                "torch_rng": torch.get_rng_state(),
                "stats": dataclasses.asdict(stats),
            },
        )

    model.train()
    t_start = time.perf_counter()
    bar = tqdm(
        range(start, cfg.steps),
        initial=start,
        total=cfg.steps,
        disable=not progress,
        desc="mfdiffuser",
        dynamic_ncols=True,
    )
    first_loss: float | None = None
    logs: dict[str, float] = {}
    try:
        for step in bar:
            batch = _to_tensors(sampler.sample(cfg.batch_size), device)
            with autocast(device):
                loss, logs = training_loss(model, batch, cfg, stats, generator=gen)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite loss at step {step}: {logs}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            first_loss = logs["loss"] if first_loss is None else first_loss
            done = step + 1
            if done % cfg.log_every == 0 or done == cfg.steps:
                bar.set_postfix(loss=f"{logs['loss']:.4f}", mse=f"{logs['mse']:.4f}")
                if writer is not None:
                    writer.writerow(
                        {
                            "step": done,
                            **{k: round(v, 6) for k, v in logs.items()},
                            "seconds": round(time.perf_counter() - t_start, 2),
                        }
                    )
                    metrics_f.flush()
            if cfg.ckpt_every and done % cfg.ckpt_every == 0 and done < cfg.steps:
                checkpoint(done)
    finally:
        bar.close()
        if metrics_f is not None:
            metrics_f.close()
    if start >= cfg.steps:
        warnings.warn(
            f"checkpoint in {out} is already at step {start} ≥ steps={cfg.steps}", stacklevel=2
        )
    checkpoint(max(start, cfg.steps))
    model.eval()
    return MFDiffuserPlanner(model, cfg, meta=meta, seed=cfg.seed, device=device)
