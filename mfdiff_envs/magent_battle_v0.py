# ruff: noqa: E501  (the docstring holds markdown tables, whose rows cannot wrap)
"""MAgent Battle, version 0 — ``mfdiff/MAgentBattle-v0`` (needs ``pip install 'magent2>=0.3.4'``).

The Battle game of :mod:`mfdiff_envs.battle_v0` on magent2's ``battle_v4`` engine (the
engine of the mean-field MARL literature), driven batched through its ``GridWorld``.

| | |
|---|---|
| agents | as ``Battle-v0``: ``red_*`` (+ ``blue_*`` with ``opponent=None``) |
| actions | ``Discrete(6)`` as ``Battle-v0``, mapped onto magent2's 21 actions (stay 6, moves 2/10/5/7, attack 13–20 aimed at the nearest enemy in range) |
| observation | ``Box(13,)``: the compact ``Battle-v0`` features computed from magent2's positions, hp and alive flags (not its 13×13×5 views) |
| reward | magent2's: step −0.005, kill +5, death −0.1, attack −0.1, attacking an enemy +0.2 |
| metrics | ``red_alive``, ``blue_alive``, ``win`` as ``Battle-v0`` |

Arguments: ``n_agents=162`` (total, even), ``opponent="expert"``, ``map_size=None``,
``max_cycles=300``, ``render_mode=None``. Agents start on the same seeded blocks as
``Battle-v0`` (not battle_v4's fixed layout), so any even N works. Global state as
``Battle-v0``. Copying/pickling works between episodes only (magent2's engine has no state
export); within an episode it raises ``TypeError``.

Every constructor also takes ``render_mode`` (``None``, ``"rgb_array"``, ``"human"``: a pygame
window); ``env``/``parallel_env``/``raw_env`` take ``max_memory_gb`` (the dict view's memory
guard, default 4 GB). ``joint_env``/``gym.make`` give the gymnasium joint view (actions
``MultiDiscrete([A] * N)``). Views, copying and SuperSuit use: ``docs/envs.md``.

Version history: v0 — first release.
"""

from mfdiff_envs.factory import joint_metadata, make_constructors, parallel_metadata
from mfdiff_envs.joint import JointEnv
from mfdiff_envs.magent_battle import MAgentBattleCore
from mfdiff_envs.parallel import CoreParallelEnv


class MAgentBattleParallelEnv(CoreParallelEnv):
    """PettingZoo parallel view of :class:`MAgentBattleCore`."""

    metadata = parallel_metadata("magent_battle_v0")


class MAgentBattleJointEnv(JointEnv):
    """Gymnasium joint view of :class:`MAgentBattleCore`."""

    metadata = joint_metadata()


env, parallel_env, raw_env, joint_env = make_constructors(
    MAgentBattleCore, MAgentBattleParallelEnv, MAgentBattleJointEnv
)

__all__ = [
    "MAgentBattleJointEnv",
    "MAgentBattleParallelEnv",
    "env",
    "joint_env",
    "parallel_env",
    "raw_env",
]
