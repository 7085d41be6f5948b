"""MAgentBattle core: the Battle team game on magent2's ``battle_v4`` engine.

Same agents, actions, observations, opponent option and metrics as :mod:`mfdiff_envs.battle`
(it subclasses :class:`~mfdiff_envs.battle.BattleCore`), but the dynamics and rewards are
magent2's C++ ``GridWorld``, driven batched: one ``set_action`` per team, one ``step``, then
rewards, alive flags, positions and hp read back as arrays (never through magent2's dict loop).
hp is read from the centre cell of each agent's own view (``my_team_hp`` channel).

Our 6 actions map onto magent2's 21 battle actions: stay -> 6, up/down/left/right -> the
distance-1 moves 2/10/5/7, attack -> the attack action (13-20) aimed at the enemy that
:class:`BattleCore` would hit (first enemy among the orthogonal, then diagonal neighbours).

Copying and pickling (``copy.deepcopy``, ``pickle``, cloudpickle) work between episodes (before
the first ``reset`` or after an episode ended): the copy builds its own ``GridWorld``. Within an
episode they raise ``TypeError``: magent2's engine is a C++ object behind a ctypes pointer with
no way to export or set its state (hp in particular), so a copy could not continue the episode.

magent2 is an optional dependency: ``pip install 'magent2>=0.3.4'``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from mfdiff_envs.battle import ATTACK_OFFSETS, HP_MAX, BattleCore

#: Our action (0 stay, 1 up, 2 down, 3 left, 4 right) -> magent2 battle action index.
MOVE_TO_MAGENT = np.array([6, 2, 10, 5, 7], dtype=np.int32)
#: magent2's attack actions 13..20 hit (dx, dy) in this order.
_MAGENT_ATTACK_OFFSETS = [(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)]
#: Our ATTACK_OFFSETS index -> magent2 attack action.
ATTACK_TO_MAGENT = np.array(
    [13 + _MAGENT_ATTACK_OFFSETS.index((int(dx), int(dy))) for dx, dy in ATTACK_OFFSETS],
    dtype=np.int32,
)
#: battle_v4's reward settings (its defaults).
REWARD_ARGS = {
    "step_reward": -0.005,
    "dead_penalty": -0.1,
    "attack_penalty": -0.1,
    "attack_opponent_reward": 0.2,
}


class MAgentBattleCore(BattleCore):
    """Battle on magent2's engine; arguments as :class:`~mfdiff_envs.battle.BattleCore`.

    Attributes:
        gridworld: the magent2 ``GridWorld``.
    """

    family = "magent_battle"

    def __init__(
        self,
        n_agents: int = 162,
        *,
        opponent: str | None = "expert",
        map_size: int | None = None,
        max_cycles: int = 300,
    ) -> None:
        try:
            import magent2  # noqa: F401  (fail here, before building the numpy state)
        except ImportError as e:  # pragma: no cover - exercised only without the extra
            raise ImportError("MAgentBattle needs magent2: pip install 'magent2>=0.3.4'") from e
        super().__init__(n_agents, opponent=opponent, map_size=map_size, max_cycles=max_cycles)
        self._make_gridworld()

    def _make_gridworld(self) -> None:
        import magent2
        from magent2.environments.battle.battle import get_config

        cfg = get_config(self.map_size, False, None, **REWARD_ARGS)
        self.gridworld = magent2.GridWorld(cfg, map_size=self.map_size)
        self.handles = self.gridworld.get_handles()

    def __getstate__(self) -> dict[str, Any]:
        if not self._needs_reset:
            raise TypeError(
                f"cannot copy or pickle {type(self).__name__} during an episode: magent2's "
                "GridWorld is a C++ engine behind a ctypes pointer with no state export, so a "
                "copy could not continue it. Copy it before reset() or after the episode ends "
                "(the copy builds a fresh GridWorld), or use mfdiff/Battle-v0 (pure numpy)."
            )
        state = self.__dict__.copy()
        del state["gridworld"], state["handles"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._make_gridworld()

    def _read_state(self) -> None:
        """Positions, hp and alive flags of the live agents, by magent2 agent id."""
        gw = self.gridworld
        for h in self.handles:
            ids = gw.get_agent_id(h)
            if ids.size == 0:
                continue
            self.pos[ids] = gw.get_pos(h)
            view, _ = gw.get_observation(h)
            c = view.shape[1] // 2
            self.hp[ids] = view[:, c, c, 2] * HP_MAX

    def _reset(self) -> tuple[NDArray[np.float32], dict[str, Any]]:
        self._place()
        gw, nt = self.gridworld, self.n_team
        gw.reset()
        gw.set_seed(int(self.rng.integers(2**31 - 1)))
        zeros = np.zeros((nt, 1), dtype=np.int64)
        gw.add_agents(self.handles[0], method="custom", pos=np.hstack([self.pos[:nt], zeros]))
        gw.add_agents(self.handles[1], method="custom", pos=np.hstack([self.pos[nt:], zeros]))
        self._read_state()
        return self._split(self._features()), self.metrics()

    def _step(self, actions: NDArray[np.int64]):
        gw, M = self.gridworld, self.n_total
        acts = self._all_actions(actions)
        mag = np.where(
            acts == 5, ATTACK_TO_MAGENT[self._attack_dir], MOVE_TO_MAGENT[np.minimum(acts, 4)]
        )
        ids = [gw.get_agent_id(h) for h in self.handles]
        for h, i in zip(self.handles, ids):
            gw.set_action(h, np.ascontiguousarray(mag[i], dtype=np.int32))
        gw.step()
        rewards = np.zeros(M)
        for h, i in zip(self.handles, ids):
            rewards[i] = gw.get_reward(h)
            self.alive_all[i] = gw.get_alive(h)
        gw.clear_dead()
        self.hp[~self.alive_all] = 0.0
        self._read_state()
        return self._finish(rewards)
