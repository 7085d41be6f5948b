# ruff: noqa: E501  (the docstring holds markdown tables, whose rows cannot wrap)
"""Battle, version 0 — ``mfdiff/Battle-v0``.

MAgent ``battle_v4`` rules on a vectorised numpy grid (N up to 10 000 and beyond).

| | |
|---|---|
| agents | ``opponent=None``: ``red_0 … red_{N/2-1}, blue_0 … blue_{N/2-1}`` (both teams); ``opponent="expert"/"medium"/"random"``: ``red_0 … red_{N/2-1}`` only (blue is played inside the env) |
| actions | ``Discrete(6)``: 0 stay, 1 up (y−1), 2 down (y+1), 3 left (x−1), 4 right (x+1), 5 attack the nearest enemy in range (orthogonal before diagonal) |
| observation | ``Box(13,)``: hp/10, x, y (normalised), team id, allies / enemies in the 9×9 block-aligned window (normalised), unit direction (dx, dy) and distance/side to the nearest enemy (to 3-cell block precision), enemy-in-attack-range flag, own / enemy team alive fraction, time t/T |
| rules | hp 10, damage 2, attack range 1.5 (8-neighbourhood), hp recovery 0.1/step; a move succeeds iff the target cell is free and claimed by no other mover |
| reward | step −0.005, kill +5 (to the lowest-index attacker of the killed agent), death −0.1, attack −0.1, hit on an enemy +0.2; on the killing blow the killer keeps the hit's +0.2 and the victim pays the step's −0.005 (magent2's engine gives neither: 4.895 / −0.1 there, 5.095 / −0.105 here; an outside audit, 2026-12-03; kept, since every Battle dataset and result was built on it) |
| end | a team is eliminated (every agent terminated) or ``max_cycles``; dead agents leave ``env.agents`` |
| metrics | ``red_alive``, ``blue_alive`` (fractions), ``win`` = 1 if more red than blue alive (e.g. blue eliminated), 0.5 on a tie, 0 otherwise |

Arguments: ``n_agents=162`` (**total** population, both teams, even), ``opponent="expert"``
(``None`` or a scripted tier of :mod:`mfdiff_envs.policies`), ``map_size=None``
(battle_v4's density, 162 agents per 45², side ∝ √N), ``max_cycles=300`` (an expert red team
eliminates a random blue one in ≈190 steps at N = 1000), ``render_mode=None``.
``map_size`` is at most 10 000.

Global state (``state()``, ``state_space``): alive, hp/10, x, y (normalised) of every agent of
both teams, then t/T: ``4 * n_total + 1`` values in [0, 1].

Every constructor also takes ``render_mode`` (``None``, ``"rgb_array"``, ``"human"``: a pygame
window); ``env``/``parallel_env``/``raw_env`` take ``max_memory_gb`` (the dict view's memory
guard, default 4 GB). ``joint_env``/``gym.make`` give the gymnasium joint view (actions
``MultiDiscrete([A] * N)``). Views, copying and SuperSuit use: ``docs/envs.md``.

With an opponent the core's ``n_agents`` is the red team (N/2: what a learner controls, and
what datasets and planners see); ``core.n_total`` is the whole population.

Version history: v0 — first release.
"""

from mfdiff_envs.battle import BattleCore
from mfdiff_envs.factory import joint_metadata, make_constructors, parallel_metadata
from mfdiff_envs.joint import JointEnv
from mfdiff_envs.parallel import CoreParallelEnv


class BattleParallelEnv(CoreParallelEnv):
    """PettingZoo parallel view of :class:`BattleCore`."""

    metadata = parallel_metadata("battle_v0")


class BattleJointEnv(JointEnv):
    """Gymnasium joint view of :class:`BattleCore`."""

    metadata = joint_metadata()


env, parallel_env, raw_env, joint_env = make_constructors(
    BattleCore, BattleParallelEnv, BattleJointEnv
)

__all__ = ["BattleJointEnv", "BattleParallelEnv", "env", "joint_env", "parallel_env", "raw_env"]
