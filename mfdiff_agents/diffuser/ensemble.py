"""Several trained MF-Diffuser planners acting as one policy.

    policy = MFDiffuserEnsemble.from_pretrained(["runs/mfd-s0", "runs/mfd-s1"], plan_samples=2)
    actions = policy.act_batch(obs)             # obs: [N, d], as any Policy

Each member plans, lifts and reads its action head exactly as it would alone
(:meth:`~mfdiff_agents.diffuser.planner.MFDiffuserPlanner.head_step`); every agent then acts on
the mixture of the members' head distributions, each member weighted by its number of plans
(``plan_samples`` with ``plan_combine="mean"``, else 1) — the mixture over one model's plans,
extended across models — decoded as member 0's Config says, with member 0's generator.

Why it was built: on Ising-medium the outcome of one 400-step training run depends on its seed
(N = 2025: 95.3–101.5 over 8 seeds), and averaging the action distribution over one model's 4
plans had lifted a weak seed from 91 to 100. Two members with 2 plans each plan as many
particles per step as one member with 4; training costs one run per member. Measured
(forty-sixth update, docs/results/ensemble_ising_n2025_medium.md): at the config's acting cost
not distinguishable from its members alone and below the config — the config does not use it;
8 plans from one checkpoint did better.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numpy.typing import NDArray

from mfdiff_agents.checkpoint import checkpoint_identity
from mfdiff_agents.diffuser.planner import MFDiffuserPlanner
from mfdiff_agents.policy import Policy, check_seed
from mfdiff_agents.trained import check_wrapped_observations

if TYPE_CHECKING:
    from mfdiff_envs.core import VectorCore

#: Config fields of how the mixture is decoded: read from member 0, so all must agree.
DECODE_FIELDS = ("head_temperature", "head_decode", "head_min_p", "head_remove_uniform")
#: EnvFacts fields every member must share (what it was trained on).
ENV_FIELDS = ("obs_dim", "n_actions", "family", "env_id", "env_kwargs", "dataset_id",
              "dataset_episodes", "dataset_content")


def member_seed(seed: int | None, i: int) -> int | None:
    """Seed of member ``i`` for policy seed ``seed``: member 0 takes ``seed`` itself (a
    one-member ensemble acts as its member alone), the others independent streams."""
    if seed is None or i == 0:
        return seed
    return int(np.random.SeedSequence([seed, i]).generate_state(1, np.uint64)[0] >> 2)


class MFDiffuserEnsemble(Policy):
    """MF-Diffuser planners acting on the mixture of their action heads (see module doc).

    Args:
        members: trained planners that act through their action head, on the same spaces,
            decoding alike (:data:`DECODE_FIELDS`).
        seed: policy seed (member ``i`` is seeded with :func:`member_seed`).
    """

    stateful = True

    def __init__(self, members: Sequence[MFDiffuserPlanner], *, seed: int | None = None) -> None:
        members = list(members)
        if not members:
            raise ValueError("an ensemble needs at least one member")
        for i, m in enumerate(members):
            if not isinstance(m, MFDiffuserPlanner):
                raise TypeError(f"member {i} is a {type(m).__name__}, not an MFDiffuserPlanner")
            if not m.uses_head:
                raise ValueError(f"member {i} acts by particle actions: an ensemble mixes the "
                                 "members' action-head distributions (act_with='head')")
        if len({id(m) for m in members}) < len(members):
            # one planner stepped twice a step would skip its plan steps and count double
            raise ValueError("one planner object is given twice: load each member once")
        m0 = members[0]
        for i, m in enumerate(members[1:], 1):
            # training seeds of one setting: a member of other data would be mixed in silently
            differ = [f for f in ENV_FIELDS if getattr(m.env, f) != getattr(m0.env, f)]
            differ += [f for f in DECODE_FIELDS if getattr(m.cfg, f) != getattr(m0.cfg, f)]
            if m.device != m0.device:
                differ.append("device")
            if differ:
                raise ValueError(
                    f"member {i} differs from member 0 in {differ}: an ensemble mixes planners "
                    "trained on the same data and spaces, decoded alike, on one device")
        super().__init__(obs_dim=m0.obs_dim, n_actions=m0.n_actions, seed=seed)
        self.members = members
        self.env = m0.env
        self.cfg = m0.cfg  # how the mixture is decoded
        self.weights = [m.cfg.plan_samples if m.cfg.plan_combine == "mean" else 1
                        for m in members]
        if seed is not None:  # else the members keep the generators they were given
            self.reset(seed)

    def training_obs_bounds(self) -> Any:
        """The members' training env's bounds (they share spaces): an unbound ensemble warns
        as an unbound planner does."""
        return self.members[0].training_obs_bounds()

    @classmethod
    def from_pretrained(
        cls,
        directories: Sequence[str | os.PathLike],
        *,
        device: str | torch.device = "auto",
        seed: int | None = None,
        num_threads: int | None = None,
        **overrides: Any,
    ) -> MFDiffuserEnsemble:
        """Load every checkpoint of ``directories`` with the same acting ``overrides`` (as
        :meth:`MFDiffuserPlanner.from_pretrained`)."""
        dirs = [str(d) for d in directories]
        ids = [(checkpoint_identity(d) or {}).get("id", os.path.realpath(d)) for d in dirs]
        if len(set(ids)) < len(ids):  # a copy in another directory too
            raise ValueError(f"a checkpoint given twice in {dirs}: it would count double")
        members = [MFDiffuserPlanner.from_pretrained(d, device=device, seed=member_seed(seed, i),
                                                     num_threads=num_threads, **overrides)
                   for i, d in enumerate(dirs)]
        return cls(members, seed=seed)

    def reset(self, seed: int | None = None) -> None:
        seed = check_seed(seed)
        super().reset(seed)
        for i, m in enumerate(self.members):
            m.reset(member_seed(seed, i))

    def check_env(self, core: VectorCore) -> None:
        """ValueError unless every member was trained on ``core``'s family and spaces."""
        for m in self.members:
            m.check_env(core)

    def check_agents(self, agents: Sequence[str]) -> None:
        """ValueError when ``agents`` hold both Battle teams (see
        :meth:`~mfdiff_agents.checkpoint.EnvFacts.check_population`); the members share
        their training env."""
        self.env.check_population(agents, who="MFDiffuserEnsemble")

    def bind(self, env: Any) -> MFDiffuserEnsemble:
        core = getattr(getattr(env, "unwrapped", env), "core", None)
        if core is not None:
            self.check_env(core)
        check_wrapped_observations(env, who="MFDiffuserEnsemble")
        return super().bind(env)  # type: ignore[return-value]

    def _act_context(self) -> contextlib.AbstractContextManager[None]:
        return self.members[0]._act_context()

    def _act(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        actions = np.zeros(obs.shape[0], dtype=np.int64)
        if not mask.any():
            return actions
        logits = self.head_step(obs, mask)
        actions[mask] = self.members[0].decode_head(logits, obs, mask).cpu().numpy()
        return actions

    @torch.no_grad()
    def head_step(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> torch.Tensor:
        """One env step of every member (:meth:`MFDiffuserPlanner.head_step`): the log of the
        plan-weighted mixture of their head distributions, ``[n_alive, A]``, not yet decoded
        (one member: its own output, logits up to a constant)."""
        if len(self.members) == 1:  # bit for bit the member alone
            return self.members[0].head_step(obs, mask)
        probs = sum(w * torch.softmax(m.head_step(obs, mask), -1)
                    for m, w in zip(self.members, self.weights, strict=True))
        return torch.log(probs / sum(self.weights))  # [n_alive, A]
