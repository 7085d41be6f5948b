"""MF-Diffuser's policy: plan K particles with the trained diffusion model, lift the plan to N.

    policy = MFDiffuserPlanner.from_pretrained("runs/mfd")          # or a fit(...) result
    actions = policy.act_batch(obs)             # obs: [N, d] for any N (100 … 10 000)

One planning step (every ``replan_every`` env steps):
1. m_t = mean_field_summary(obs, mask) over all N agents; condition c = [norm(m_t), Â*].
2. K_max anchor agents by stratified sampling; coarse-to-fine DDIM over particle plans
   x: [K_max, H, d + A] with plan step 0's obs inpainted with the anchors' obs.
3. Lift: agent i -> particle j(i), balanced (each particle ⌊N/K⌋ or ⌈N/K⌉ agents) with
   ``lifting="balanced"`` (the default); ``"nearest"`` is not balanced, and ``"frozen"`` is
   only above ``exact_ot_max_n`` among agents of distinct observations (lifting.lift).
4. Act (``act_with``): "head" — the action head g(s_i, s_i + ŝ_{j,τ+1} − ŝ_{j,τ}, m_t), one MLP
   call over all N agents, decoded at ``head_temperature`` (0 = argmax) — ``head_decode``
   "balanced" (agents with one observation take the expected action counts, rounded) or
   "sample" (i.i.d.) — with the planner's generator;
   "particle" — a_i = argmax of particle j(i)'s action channels at the current plan step τ.
Between replans the plan is followed open loop: at every step the agents' fresh observations
are re-lifted onto the particles' planned states at the current plan step
(``lifting="balanced"``: :func:`~mfdiff_agents.diffuser.lifting.lift_balanced`, warm-started
from the previous step unless ``lift_warm_start`` is false); ``lifting="frozen"`` above
``exact_ot_max_n`` live agents keeps each agent's replan-time particle instead. Equations:
docs/method.md.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from mfdiff_agents.checkpoint import EnvFacts
from mfdiff_agents.device import autocast
from mfdiff_agents.diffuser.action_head import (
    balanced_actions,
    remove_uniform,
    sample_actions,
    truncate_min_p,
)
from mfdiff_agents.diffuser.config import ARCH_FIELDS, LEGACY_DEFAULTS, PLANNING_FIELDS, Config
from mfdiff_agents.diffuser.lifting import (
    LiftState,
    distinct_rows,
    lift,
    lift_balanced,
    lift_nearest,
)
from mfdiff_agents.diffuser.model import MFDiffuserModel, Stats
from mfdiff_agents.diffuser.sampler import (
    capped_schedule,
    capped_stage_steps,
    coarse_to_fine_sample,
    stratified_anchors,
)
from mfdiff_agents.policy import refuse_nonfinite
from mfdiff_agents.trained import TrainedPolicy
from mfdiff_envs.core import MfdiffWarning, mean_field_dim, mean_field_summary

#: Bound of the normalised observations the planner works with (see ``_norm_obs``).
NORM_OBS_LIMIT = 1e3


#: The statistics Config.head_data_range clips the action head's inputs to (Stats).
DATA_RANGE_KEYS = ("obs_low", "obs_high", "mf_low", "mf_high")


def missing_range(stats: dict[str, Any]) -> list[str]:
    """The keys of :data:`DATA_RANGE_KEYS` a checkpoint's statistics lack."""
    return [k for k in DATA_RANGE_KEYS if stats.get(k) is None]


def no_range_message(missing: list[str]) -> str:
    """The error of acting with ``head_data_range`` on statistics that lack ``missing``."""
    return ("head_data_range=true clips the action head's inputs to the training data's range, "
            f"which this checkpoint's statistics lack ({', '.join(missing)}: trained before the "
            "range was recorded): retrain it, or act with head_data_range=false")


class MFDiffuserPlanner(TrainedPolicy):
    """The MF-Diffuser policy: plans K particles, lifts the plan to N agents (see module doc).

    Args: as :class:`~mfdiff_agents.trained.TrainedPolicy` (``model``: an
    :class:`~mfdiff_agents.diffuser.model.MFDiffuserModel`; planning fields of ``cfg`` may be
    changed freely).
    """

    METHOD = "mfdiffuser"
    CONFIG = Config
    stateful = True  # the plan, its step and the lifting's warm start
    ARCH_FIELDS = ARCH_FIELDS
    ACTING_FIELDS = PLANNING_FIELDS
    LEGACY_DEFAULTS = LEGACY_DEFAULTS

    @classmethod
    def acting_fields_training_reads(cls, config: dict[str, Any]) -> tuple[str, ...]:
        """With ``head_own_plans`` the head trains on plans sampled as the planner samples
        (diffuser/train.py ``_own_plan_targets``): their sampling fields shape training."""
        if float(config.get("head_own_plans", 0.0) or 0.0) > 0:
            return ("ddim_steps", "eta", "return_target", "guidance_weight")
        return ()

    @classmethod
    def check_meta(cls, meta: dict[str, Any], cfg: Any) -> None:
        """head_data_range needs the data's range in the checkpoint's statistics."""
        if cfg.head_data_range and cfg.action_head and cfg.act_with != "particle":
            missing = missing_range(meta.get("stats") or {})
            if missing:
                raise ValueError(no_range_message(missing))

    def __init__(self, model: MFDiffuserModel, cfg: Config, **kw: Any) -> None:
        super().__init__(model, cfg, **kw)
        self.generator = torch.Generator(device="cpu")
        self.stats: dict[str, Any] = {}
        self._seed(kw.get("seed"))
        self._plan_obs: torch.Tensor | None = None  # [K_max, H, d] normalised planned states
        self._plan_act: torch.Tensor | None = None  # [K_max, H] planned actions
        self._tau = 0  # plan step of the next action
        self.last_assignment: NDArray[np.int64] | None = None  # [n_alive] particle of each agent
        self._assign_full = np.zeros(0, dtype=np.int64)  # [N] particle of each agent at the replan
        self._lift_state: LiftState | None = None  # warm start of the balanced lifting
        # plan_combine="mean": the other M - 1 plans' states and their lifting warm starts
        self._extra_obs: torch.Tensor | None = None  # [M - 1, K_max, H, d]
        self._extra_states: list[LiftState | None] = []
        # the last normalised observations' distinct rows: the lifting and the balanced
        # decoding of one env step group the same rows (~1 ms at N = 10^4 each time)
        self._distinct: tuple[torch.Tensor, tuple[torch.Tensor, ...]] | None = None
        # Config.head_data_range: the data's range, normalised (built at first use)
        self._data_range_n: tuple[torch.Tensor, ...] | None = None

    @classmethod
    def build_model(cls, cfg: Config, env: EnvFacts) -> MFDiffuserModel:
        mf_dim = mean_field_dim(env.obs_dim)
        return MFDiffuserModel(obs_dim=env.obs_dim, n_actions=env.n_actions, mf_dim=mf_dim,
                               cfg=cfg, stats=Stats.identity(env.obs_dim, mf_dim))

    def checkpoint_extra(self) -> dict[str, Any]:
        return {"stats": self.stats}

    def restore_extra(self, extra: dict[str, Any]) -> None:
        self.stats = dict(extra.get("stats", {}))
        self._data_range_n = None
        if self.cfg.head_data_range and self.uses_head:
            self._data_range()  # a checkpoint without the range fails at load, not mid-episode

    def _seed(self, seed: int | None) -> None:
        s = int(seed) if seed is not None else int(self.rng.integers(0, 2**62))
        self.generator.manual_seed(s % 2**64)  # torch's range; any seed below it is kept as is

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._seed(seed)
        self._plan_obs = self._plan_act = None
        self._assign_full = np.zeros(0, dtype=np.int64)
        self._lift_state = None
        self._extra_obs, self._extra_states = None, []
        self._distinct = None
        self._tau = 0

    # ------------------------------------------------------------------ planning
    @property
    def uses_head(self) -> bool:
        """True when agents act through the action head (``act_with`` and the model allow it)."""
        if self.cfg.act_with == "particle" or self.model.action_head is None:
            if self.cfg.act_with == "head":
                raise ValueError('act_with="head" but this model has no action head')
            return False
        return True

    @property
    def k_schedule(self) -> tuple[int, ...]:
        """Particle counts of the denoising stages (the last alone without coarse-to-fine)."""
        ks = tuple(self.cfg.k_schedule)
        return ks if self.cfg.coarse_to_fine else ks[-1:]

    def _norm_obs(self, obs: NDArray[np.float32]) -> torch.Tensor:
        """Normalised observations [n, d], clamped to ±NORM_OBS_LIMIT: an observation far
        outside the data (×1e30) would otherwise overflow the anchors' covariance."""
        x = self.model.norm_obs(torch.as_tensor(obs, device=self.device))
        return x.clamp_(-NORM_OBS_LIMIT, NORM_OBS_LIMIT)

    @torch.no_grad()
    def plan(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> dict[str, torch.Tensor]:
        """Sample a particle plan for the population ``obs [N, d]`` (alive rows ``mask``).

        Returns a dict with ``x0 [K_max, H, c]``, ``anchors [K_max]`` (indices into the alive
        rows), ``obs_norm [n_alive, d]``, ``cond [1, m + 1]`` (``[1, m + 2]`` with a null
        token: :meth:`MFDiffuserModel.make_cond <mfdiff_agents.diffuser.model.MFDiffuserModel.
        make_cond>`); with ``plan_samples`` M > 1 also
        ``plan_values [M]`` (``plan_values``), ``x0`` being the highest-valued plan, or with
        ``plan_combine="mean"`` ``x0_extra [M - 1, K_max, H, c]``, the plans beside ``x0``.
        """
        m = self.model
        mf = mean_field_summary(obs, mask)  # [m]
        cond = m.make_cond(
            m.norm_mf(torch.as_tensor(mf, device=self.device))[None],
            torch.tensor([self.cfg.return_target], device=self.device),
        )  # [1, m + 1 (+ 1 null-token flag)]
        obs_n = self._norm_obs(obs[mask])  # [n, d]
        ks = self.k_schedule
        steps = self.cfg.stage_steps  # None: near-equal (or one stage without coarse-to-fine)
        if self.cfg.cap_particles:  # K_max <= n alive agents
            steps = capped_stage_steps(steps, ks, obs_n.shape[0])
            ks = capped_schedule(ks, obs_n.shape[0])
        elif ks[-1] > max(8 * obs_n.shape[0], 1024) and not getattr(self, "_warned_k", False):
            # legal, but the plan's cost grows with K while the agents use at most n particles
            self._warned_k = True
            warnings.warn(
                f"k_schedule plans {ks[-1]} particles for {obs_n.shape[0]} agents: at most "
                f"{obs_n.shape[0]} are used, the rest only cost time and memory; "
                "--set cap_particles=true caps the schedule at N", MfdiffWarning, stacklevel=3)
        anchors = stratified_anchors(obs_n, ks[-1], generator=self.generator)  # [K_max]
        denoiser = m.diffusion.model
        denoiser.guidance_weight = float(self.cfg.guidance_weight)
        n_plans = self.cfg.plan_samples
        try:
            with autocast(self.device):
                x0 = coarse_to_fine_sample(
                    m.diffusion,
                    anchor_obs=obs_n[anchors][None].expand(n_plans, -1, -1),
                    cond=cond.expand(n_plans, -1),
                    horizon=self.cfg.horizon,
                    x_dim=m.x_dim,
                    k_schedule=ks,
                    n_steps=self.cfg.ddim_steps,
                    eta=self.cfg.eta,
                    generator=self.generator,
                    stage_steps=steps,
                ).float()  # [M, K_max, H, c]
        finally:
            denoiser.guidance_weight = 1.0  # the module is shared with training
        out = {"anchors": anchors, "obs_norm": obs_n, "cond": cond}
        if n_plans > 1 and self.cfg.plan_combine == "mean":
            if not self.uses_head:  # M plans for nothing: particle actions follow one plan
                raise ValueError('plan_combine="mean" averages the action head over plans, but '
                                 "this model acts by particle actions (no action head)")
            refuse_nonfinite(x0[1:], "MF-Diffuser's plan", allow_neg_inf=False)
            out["x0_extra"] = x0[1:]  # [M - 1, K_max, H, c]: acted on beside x0 (_act)
            x0 = x0[0]
        elif n_plans > 1:
            out["plan_values"] = values = self.plan_values(x0, alive_frac=float(mf[-1]))
            x0 = x0[int(values.argmax())]
        else:
            x0 = x0[0]
        refuse_nonfinite(x0, "MF-Diffuser's plan", allow_neg_inf=False)
        out["x0"] = x0
        return out

    @torch.no_grad()
    def plan_values(self, x0: torch.Tensor, alive_frac: float) -> torch.Tensor:
        """Value of each plan ``x0 [M, K, H, c]``: the value net on the mean field its particles
        plan at steps 1..H-1 (mean and std of their de-normalised states, as
        ``mean_field_summary``; the alive fraction held at today's ``alive_frac``), averaged
        over those steps -> [M]. Particles stand for equal shares of the population."""
        m = self.model
        states = m.decode_obs(x0) * m.obs_std + m.obs_mean  # [M, K, H, d] raw obs
        mean = states.mean(1)  # [M, H, d]
        std = states.std(1, unbiased=False)
        frac = torch.full((*mean.shape[:2], 1), alive_frac, device=x0.device)
        mf = torch.cat([mean, std, frac], dim=-1)  # [M, H, 2d + 1]
        return m.value(m.norm_mf(mf))[:, 1:].mean(1)  # [M]

    def _lift_balanced(
        self, obs_n: torch.Tensor, centers: torch.Tensor, state: LiftState | None
    ) -> tuple[torch.Tensor, LiftState]:
        """Balanced assignment [n] of agents ``obs_n [n, d]`` to ``centers [K, d]``, and the
        warm start for the next call on the same plan (used while ``lift_warm_start``)."""
        return lift_balanced(
            obs_n,
            centers,
            generator=self.generator,
            state=state if self.cfg.lift_warm_start else None,
            exact_max_cells=self.cfg.exact_ot_max_n * centers.shape[0],
            sinkhorn_rows=self.cfg.lift_sinkhorn_rows,
            distinct=self._distinct_rows(obs_n),
        )

    def _distinct_rows(self, obs_n: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``distinct_rows(obs_n)``, reused while the same values come again (compared
        exactly, ~20 µs at N = 10^4: a cache that could serve another step's rows would be a
        silent error)."""
        last = self._distinct
        if last is None or last[0].shape != obs_n.shape or not torch.equal(last[0], obs_n):
            # a copy as the key: the caller's tensor may change in place after this
            self._distinct = last = (obs_n.clone(), distinct_rows(obs_n))
        return last[1]

    def _act(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        actions = np.zeros(obs.shape[0], dtype=np.int64)
        if not mask.any():
            return actions
        if self.uses_head:
            logits = self.head_step(obs, mask)
            actions[mask] = self.decode_head(logits, obs, mask).cpu().numpy()
        else:
            assign, _, replan = self._lift_step(obs, mask)
            assert self._plan_act is not None
            actions[mask] = self._plan_act[assign, self._tau].cpu().numpy()
            self._end_step(assign, replan, mask)
        return actions

    @torch.no_grad()
    def head_step(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> torch.Tensor:
        """One env step of acting up to the action head: replan if due, lift every alive agent
        and return the head's logits ``[n_alive, A]`` (log-probabilities up to a constant; with
        ``plan_combine="mean"`` the log of the mixture over plans), not yet decoded
        (:meth:`decode_head`). Advances the plan step: call it once per env step, with at least
        one agent alive. An ensemble of planners mixes these."""
        if not self.uses_head:
            raise ValueError("head_step needs a model acting through its action head")
        if not mask.any():
            raise ValueError("head_step: no agent alive (act_batch returns zeros for that)")
        assign, extra_assign, replan = self._lift_step(obs, mask)
        logits = self._head_logits(obs, mask, assign, extra_assign)
        self._end_step(assign, replan, mask)
        return logits

    def _end_step(self, assign: torch.Tensor, replan: bool, mask: NDArray[np.bool_]) -> None:
        self.last_assignment = assign.cpu().numpy()
        if replan:
            self._assign_full = np.full(mask.shape[0], -1, dtype=np.int64)
            self._assign_full[mask] = self.last_assignment
        self._tau += 1

    def _lift_step(
        self, obs: NDArray[np.float32], mask: NDArray[np.bool_]
    ) -> tuple[torch.Tensor, list[torch.Tensor], bool]:
        """Replan if due, then each alive agent's particle ``[n_alive]`` in the acting plan,
        the same for each other plan (``plan_combine="mean"``), and whether this step replanned."""
        n = obs.shape[0]
        d = self.obs_dim
        use_head = self.uses_head
        replan = (
            self._plan_act is None
            or self._assign_full.shape[0] != n
            or bool(np.any(self._assign_full[mask] < 0))
            or self._tau >= self.cfg.horizon
            # the head needs a planned next state: the last plan step has none
            or (use_head and self._tau + 1 >= self.cfg.horizon)
            or self._tau % self.cfg.replan_every == 0
        )
        if replan:
            p = self.plan(obs, mask)
            x0 = p["x0"]
            self._plan_obs = self.model.decode_obs(x0)
            self._plan_act = x0[..., d:].argmax(-1)
            extra = p.get("x0_extra")
            self._extra_obs = self.model.decode_obs(extra) if extra is not None else None
            self._tau = 0
            obs_n = p["obs_norm"]
            if self.cfg.lifting == "balanced":  # new particles: no warm start
                assign, self._lift_state = self._lift_balanced(obs_n, obs_n[p["anchors"]], None)
            elif self.cfg.lifting == "nearest":
                assign = lift_nearest(obs_n, obs_n[p["anchors"]], generator=self.generator)
            else:
                assign = lift(
                    obs_n,
                    obs_n[p["anchors"]],
                    generator=self.generator,
                    exact_ot_max_n=self.cfg.exact_ot_max_n,
                )
            # every plan of a batch starts from the same anchors: one lift serves them all
            n_extra = 0 if extra is None else extra.shape[0]
            extra_assign = [assign] * n_extra
            self._extra_states = [self._lift_state] * n_extra
        elif self.cfg.lifting == "balanced":
            # state-aware: every agent re-lifted from its fresh observation onto the planned
            # states of this plan step, balanced, warm-started from the last step's potentials
            obs_n = self._norm_obs(obs[mask])
            centers = self._plan_obs[:, self._tau]  # [K_max, d]
            assign, self._lift_state = self._lift_balanced(obs_n, centers, self._lift_state)
            extra_assign = []
            for i in range(len(self._extra_states)):  # plan_combine="mean": each plan its own
                assert self._extra_obs is not None
                a, self._extra_states[i] = self._lift_balanced(
                    obs_n, self._extra_obs[i, :, self._tau], self._extra_states[i])
                extra_assign.append(a)
        elif self.cfg.lifting == "nearest":
            # every agent onto the plan-step state most like its fresh observation, unbalanced
            obs_n = self._norm_obs(obs[mask])
            assign = lift_nearest(obs_n, self._plan_obs[:, self._tau], generator=self.generator)
            extra_assign = [
                lift_nearest(obs_n, c, generator=self.generator)
                for c in ([] if self._extra_obs is None else self._extra_obs[:, :, self._tau])
            ]
        elif int(mask.sum()) <= self.cfg.exact_ot_max_n:
            # re-lift fresh observations onto the particles' planned states (balanced exact OT)
            obs_n = self._norm_obs(obs[mask])
            centers = self._plan_obs[:, self._tau]  # [K_max, d]
            assign = lift(
                obs_n, centers, generator=self.generator, exact_ot_max_n=self.cfg.exact_ot_max_n
            )
            extra_assign = [
                lift(obs_n, c, generator=self.generator, exact_ot_max_n=self.cfg.exact_ot_max_n)
                for c in ([] if self._extra_obs is None else self._extra_obs[:, :, self._tau])
            ]
        else:
            # Large N: keep each agent on the particle it was lifted to at the replan. A nearest
            # re-lift is not balanced: when the planned states differ from the (shared) real
            # state, every agent lands on the same particle and the population's action
            # histogram collapses (measured: Squeeze N=10^4 fell from 78 to 32 normalised).
            assign = torch.as_tensor(self._assign_full[mask], device=self.device)
            extra_assign = [assign] * (0 if self._extra_obs is None else len(self._extra_obs))
        assert self._plan_act is not None and self._plan_obs is not None
        return assign, list(extra_assign), replan

    def _head_logits(
        self,
        obs: NDArray[np.float32],
        mask: NDArray[np.bool_],
        assign: torch.Tensor,
        extra_assign: list[torch.Tensor] | tuple = (),
    ) -> torch.Tensor:
        """The action head's logits [n_alive, A]: agent i reads its own normalised obs s_i,
        the target s_i + (ŝ_{j,τ+1} − ŝ_{j,τ}) of its particle j = ``assign[i]`` and the mean
        field; one batched MLP call, O(N). With ``plan_combine="mean"`` the same for each other
        plan (its particle ``extra_assign[m][i]``), and the result is the log of the mean of the
        per-plan distributions."""
        assert self._plan_obs is not None and self.model.action_head is not None
        m = self.model
        obs_n = self._norm_obs(obs[mask])  # [n, d]
        mf_n = m.norm_mf(torch.as_tensor(mean_field_summary(obs, mask), device=self.device))
        obs_lo, obs_hi = -NORM_OBS_LIMIT, NORM_OBS_LIMIT
        if self.cfg.head_data_range:  # the head reads the nearest inputs it trained on
            obs_lo, obs_hi, mf_lo, mf_hi = self._data_range()
            obs_n = torch.maximum(torch.minimum(obs_n, obs_hi), obs_lo)
            mf_n = torch.maximum(torch.minimum(mf_n, mf_hi), mf_lo)

        w = self.cfg.head_plan_weight
        noplan = None
        if w != 1.0:  # the plan-free reference is the same for every plan: one call
            with torch.no_grad(), autocast(self.device):
                noplan = torch.log_softmax(
                    m.action_head.noplan_logits(obs_n, mf_n[None]).float(), -1
                )  # [n, A]

        def head_logits(plan_obs: torch.Tensor, agent_particle: torch.Tensor) -> torch.Tensor:
            step = plan_obs[:, self._tau + 1] - plan_obs[:, self._tau]  # [K_max, d]
            if self.cfg.head_blind:  # features the head was trained not to read (Config)
                step = step.clone()
                step[:, list(self.cfg.head_blind)] = 0.0
            target = (obs_n + step[agent_particle]).clamp(obs_lo, obs_hi)
            with torch.no_grad(), autocast(self.device):
                logits = m.action_head(obs_n, target, mf_n[None]).float()  # [n, A]
            if noplan is None:
                return logits
            # classifier-free guidance on the head: the plan as a weighted nudge on log q
            return noplan + w * (torch.log_softmax(logits, -1) - noplan)

        logits = head_logits(self._plan_obs, assign)
        if len(extra_assign):
            assert self._extra_obs is not None
            probs = torch.softmax(logits, -1)
            for plan_obs, a in zip(self._extra_obs, extra_assign):
                probs += torch.softmax(head_logits(plan_obs, a), -1)
            logits = torch.log(probs / (1 + len(extra_assign)))  # the mixture over plans
        return logits

    def _data_range(self) -> tuple[torch.Tensor, ...]:
        """(obs_low, obs_high) ``[d]`` and (mf_low, mf_high) ``[m]`` of the training data,
        normalised as the head reads them (Config.head_data_range)."""
        keys = DATA_RANGE_KEYS
        if self._data_range_n is not None:
            return self._data_range_n
        missing = missing_range(self.stats)
        if missing:
            raise ValueError(no_range_message(missing))
        m = self.model
        lo_o, hi_o, lo_m, hi_m = (np.asarray(self.stats[k], np.float32) for k in keys)
        shapes = (lo_o.shape, hi_o.shape, lo_m.shape, hi_m.shape)
        mf_dim = int(m.mf_mean.shape[0])
        if shapes != ((self.obs_dim,),) * 2 + ((mf_dim,),) * 2:
            raise ValueError(f"the checkpoint's data range has shapes {shapes}; expected "
                             f"({self.obs_dim},) for the observations, ({mf_dim},) for the mean "
                             "field")
        self._data_range_n = (
            self._norm_obs(lo_o[None])[0], self._norm_obs(hi_o[None])[0],
            m.norm_mf(torch.as_tensor(lo_m, device=self.device)),
            m.norm_mf(torch.as_tensor(hi_m, device=self.device)))
        return self._data_range_n

    def decode_head(
        self, logits: torch.Tensor, obs: NDArray[np.float32], mask: NDArray[np.bool_]
    ) -> torch.Tensor:
        """Actions [n_alive] from head logits ``[n_alive, A]`` of the alive rows of ``obs``, as
        the Config decodes them (uniform floor removed, temperature, min-p, balanced or
        i.i.d.), drawn with this planner's generator."""
        if self.cfg.head_remove_uniform:
            logits = remove_uniform(logits)
        if self.cfg.head_decode == "balanced" and self.cfg.head_temperature > 0:
            # agents with one observation are interchangeable
            groups = self._distinct_rows(self._norm_obs(obs[mask]))[1]
            return balanced_actions(
                logits, groups, temperature=self.cfg.head_temperature, generator=self.generator,
                min_p=self.cfg.head_min_p,
            )
        return sample_actions(
            truncate_min_p(logits, self.cfg.head_min_p),
            temperature=self.cfg.head_temperature, generator=self.generator,
        )
