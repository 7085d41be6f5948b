"""The numpy behaviour policies of :mod:`mfdiff_envs.policies` behind the Policy interface.

``ScriptedPolicy(core, tier="expert")`` (or ``skill=0.3``) wraps
``make_behaviour_policy(core, skill, seed)``: skill 0 = uniform random, 1 = the family's
scripted expert, ``TIER_SKILL[family][tier]`` for the dataset tiers (random, medium, expert).
Behaviour policies may read the core's state (e.g. positions in Battle), so the wrapper is tied
to one core instance: evaluate it on that core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from mfdiff_agents.policy import Policy, RandomPolicy

if TYPE_CHECKING:
    from mfdiff_envs.core import VectorCore

#: Names accepted by :func:`make_scripted` (and by ``mfdiff eval --policy``).
SCRIPTED_NAMES: tuple[str, ...] = ("random", "medium", "expert")


class ScriptedPolicy(Policy):
    """A dataset behaviour policy (numpy) as a :class:`Policy`.

    Args:
        core: the env core the policy acts in (``env.unwrapped.core``).
        tier: "random" | "medium" | "expert" (looked up in ``TIER_SKILL[core.family]``), or
        skill: a number in [0, 1] instead of a tier.
        seed: sampling seed (``reset(seed)`` re-seeds; ``reset()`` keeps the stream).
    """

    def __init__(self, core: VectorCore, *, tier: str | None = None, skill: float | None = None,
                 seed: int | None = None) -> None:
        from mfdiff_envs.policies import TIER_SKILL, make_behaviour_policy

        if (tier is None) == (skill is None):
            raise ValueError("give exactly one of tier= or skill=")
        if tier is not None:
            if core.family not in TIER_SKILL:
                raise ValueError(f"no tier skills for family {core.family!r} (TIER_SKILL in "
                                 f"mfdiff_envs.policies has {sorted(TIER_SKILL)}); give skill=")
            tiers = TIER_SKILL[core.family]
            if tier not in tiers:
                raise ValueError(f"unknown tier {tier!r} for {core.family}; known: {sorted(tiers)}")
            skill = tiers[tier]
        super().__init__(obs_dim=core.obs_dim, n_actions=core.n_actions, seed=seed)
        self.tier, self.skill, self.core = tier, float(skill), core
        self._behaviour = make_behaviour_policy(core, self.skill, seed)

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._behaviour.reset(seed)

    def _act(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        return np.asarray(self._behaviour(obs, mask), dtype=np.int64)


def make_scripted(name: str, core: VectorCore, seed: int | None = None) -> Policy:
    """``random`` -> :class:`RandomPolicy`; ``medium``/``expert`` -> :class:`ScriptedPolicy`."""
    if name == "random":
        return RandomPolicy(obs_dim=core.obs_dim, n_actions=core.n_actions, seed=seed)
    if name in SCRIPTED_NAMES:
        return ScriptedPolicy(core, tier=name, seed=seed)
    raise ValueError(f"unknown scripted policy {name!r}; known: {SCRIPTED_NAMES}")
