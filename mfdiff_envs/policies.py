"""Scripted behaviour policies of every family (numpy only, vectorised, observation-based).

``make_behaviour_policy(core, skill, seed)`` returns a :class:`BehaviourPolicy`:
``policy(obs [N, d], alive [N]) -> actions [N] int64``. ``skill`` = 0 is uniform random,
1 the scripted expert; in between each agent independently follows the expert with
probability ``skill`` and acts uniformly at random otherwise. The dataset tiers use
:data:`TIER_SKILL`; Battle's in-core opponent uses the same function.

Experts:

* Gaussian Squeeze: each agent draws its level from the two-point distribution on
  floor/ceil of its domain's optimal mean level x*_d / N_d (mean exactly at the optimum).
* Ising: align with the local field ``neighbour_mean + 0.75 sign(magnetisation)``, i.e. with
  the neighbourhood, the mean field breaking ties and outweighing a 3-to-1 neighbourhood, so
  minority domains shrink by a layer per step instead of freezing into stripes; each
  misaligned spin flips with probability 0.9 so synchronous updates cannot lock into a
  checkerboard oscillation.
* Battle: attack if an enemy is in range, else step toward the nearest enemy (the axis drawn
  with probability proportional to |dx| and |dy|, which spreads agents around jams).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mfdiff_envs.rollout import rollout
from mfdiff_envs.scoring import normalized_score

if TYPE_CHECKING:
    from mfdiff_envs.core import VectorCore

#: Skill of each dataset tier. "medium" is calibrated so that the medium normalised score
#: 100 (R - R_random) / (R_expert - R_random) of the episode team return is 40-60 at N = 1000
#: (default kwargs, :func:`normalised_scores`, 2026-11-27): squeeze 0.65 -> 50.8, ising 0.72
#: (N = 1024) -> ~50, battle 0.55 (vs the expert opponent) -> ~51; the sweep is tabulated in
#: tests/test_policies.py, and ``pytest -m slow tests/test_policies.py`` re-measures it.
#: magent_battle reuses battle's skill.
TIER_SKILL: dict[str, dict[str, float]] = {
    "squeeze": {"random": 0.0, "medium": 0.65, "expert": 1.0},
    "ising": {"random": 0.0, "medium": 0.72, "expert": 1.0},
    "battle": {"random": 0.0, "medium": 0.55, "expert": 1.0},
    "magent_battle": {"random": 0.0, "medium": 0.55, "expert": 1.0},
}

#: Weight of sign(magnetisation) in the Ising expert's local field (see module docstring).
ISING_MEAN_FIELD_WEIGHT = 0.75
#: Probability that a misaligned spin flips under the Ising expert.
ISING_FLIP_PROB = 0.9


class BehaviourPolicy:
    """Per-agent mixture of a scripted expert and uniform random actions.

    Args:
        n_actions: actions per agent.
        expert: ``expert(obs, rng) -> actions [N] int64``.
        skill: probability that an agent follows the expert at a step, in [0, 1].
        seed: seed of the policy's own random stream.
    """

    def __init__(self, n_actions: int, expert: Any, skill: float, seed: int | None = None) -> None:
        if not 0.0 <= float(skill) <= 1.0:
            raise ValueError(f"skill must lie in [0, 1], got {skill}")
        self.n_actions = n_actions
        self.expert = expert
        self.skill = float(skill)
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        """Restart the random stream from ``seed`` (same seed -> same actions for the same
        observations); ``None`` keeps the current stream, as ``Policy.reset`` and Gymnasium's
        ``reset(seed=None)`` do: Tianshou and TorchRL's ``InitTracker`` reset a policy with no
        seed at every episode start, and a fresh OS-entropy stream there made a seeded scripted
        policy unreproducible."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def __call__(self, obs: NDArray[np.floating], alive: NDArray[np.bool_]) -> NDArray[np.int64]:
        """Actions [N] for observations [N, d]: each agent plays the scripted expert with
        probability ``skill``, else a uniform random action; dead agents (``alive`` False) 0."""
        n = obs.shape[0]
        rand = self.rng.integers(0, self.n_actions, size=n)
        if self.skill <= 0.0:
            acts = rand
        else:
            exp = self.expert(obs, self.rng)
            acts = (
                exp if self.skill >= 1.0 else np.where(self.rng.random(n) < self.skill, exp, rand)
            )
        return np.where(alive, acts, 0).astype(np.int64)

    act_batch = __call__  # the batch-policy name :func:`mfdiff_envs.rollout.rollout` calls


def _squeeze_expert(core: VectorCore):
    target = (np.asarray(core.optimal_sum, float) / core.domain_size)[core.domain]  # [N]
    target = np.clip(target, 0, core.n_actions - 1)
    lo = np.floor(target)
    p_hi = target - lo

    def expert(obs: NDArray, rng: np.random.Generator) -> NDArray[np.int64]:
        return (lo + (rng.random(obs.shape[0]) < p_hi)).astype(np.int64)

    return expert


def _ising_expert(obs: NDArray, rng: np.random.Generator) -> NDArray[np.int64]:
    spin, nmean, mag = obs[:, 0], obs[:, 1], obs[:, 2]
    local = nmean + ISING_MEAN_FIELD_WEIGHT * np.sign(mag)
    misaligned = spin * local < 0
    return (misaligned & (rng.random(obs.shape[0]) < ISING_FLIP_PROB)).astype(np.int64)


def _battle_expert(obs: NDArray, rng: np.random.Generator) -> NDArray[np.int64]:
    dx, dy, in_range = obs[:, 6], obs[:, 7], obs[:, 9] > 0
    ax, ay = np.abs(dx), np.abs(dy)
    along_x = rng.random(obs.shape[0]) * (ax + ay) < ax
    move = np.where(along_x, np.where(dx > 0, 4, 3), np.where(dy > 0, 2, 1))
    move = np.where(ax + ay > 0, move, 0)
    return np.where(in_range, 5, move).astype(np.int64)


#: Family -> ``expert_factory(core) -> expert``, where ``expert(obs [N, d], rng) -> actions [N]``
#: is the family's scripted expert (skill 1). A new env family adds its entry here, or from its
#: own module (``EXPERTS["crowd"] = ...`` beside ``TIER_SKILL["crowd"] = {...}``, run when its
#: ``<family>_v0`` shim is imported, as ``gym.make`` of its id does): the dataset builder, the
#: reference returns of ``mfdiff eval`` and the ``random`` / ``medium`` / ``expert`` policies all
#: come from :func:`make_behaviour_policy`.
EXPERTS: dict[str, Callable[[VectorCore], Callable[..., NDArray[np.int64]]]] = {
    "squeeze": _squeeze_expert,
    "ising": lambda core: _ising_expert,
    "battle": lambda core: _battle_expert,
    "magent_battle": lambda core: _battle_expert,
}


def make_behaviour_policy(
    core: VectorCore, skill: float, seed: int | None = None
) -> BehaviourPolicy:
    """Scripted behaviour policy of ``core``'s family at ``skill`` in [0, 1] (see module doc)."""
    family = core.family
    if family not in EXPERTS:
        raise ValueError(
            f"no scripted policy for family {family!r} (families with one: {sorted(EXPERTS)}); "
            "register the family's expert in mfdiff_envs.policies.EXPERTS (and its tier skills "
            "in TIER_SKILL), or pass build_dataset(..., policy_factory=, skill_of_tier=, "
            "ref_scores=) and evaluate with --dataset"
        )
    return BehaviourPolicy(core.n_actions, EXPERTS[family](core), skill, seed)


def episode_return(
    core: VectorCore, policy: BehaviourPolicy, seed: int
) -> tuple[float, dict[str, float]]:
    """Undiscounted team return of one episode of ``policy`` on ``core``, and the final metrics."""
    result = rollout(core, policy, seed=seed, policy_seed=seed + 1)
    return result.total_return, result.metrics_final


def normalised_scores(
    core: VectorCore, skills: dict[str, float], episodes: int, seed: int = 0
) -> dict[str, float]:
    """Mean episode return per skill, and its normalised score (random = 0, expert = 100)."""
    ret = {
        name: float(
            np.mean(
                [
                    episode_return(core, make_behaviour_policy(core, s), seed + 7 * e)[0]
                    for e in range(episodes)
                ]
            )
        )
        for name, s in skills.items()
    }
    lo, hi = ret["random"], ret["expert"]
    return {**ret, **{f"score_{k}": float(normalized_score(v, lo, hi)) for k, v in ret.items()}}
