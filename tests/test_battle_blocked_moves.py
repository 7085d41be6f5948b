"""experiments/battle_blocked_moves.py: what a Battle team's agents chose and what came of it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from mfdiff_agents.evaluation.run import make_core
from mfdiff_envs.battle import ATTACK
from mfdiff_envs.rollout import rollout

ROOT = Path(__file__).resolve().parents[1]


def _module():
    if "battle_blocked_moves" in sys.modules:
        return sys.modules["battle_blocked_moves"]
    spec = importlib.util.spec_from_file_location(
        "battle_blocked_moves", ROOT / "experiments/battle_blocked_moves.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclass looks its module up there
    spec.loader.exec_module(mod)
    return mod


class Always:
    """Every agent plays one action, every step."""

    def __init__(self, action: int) -> None:
        self.action = action

    def reset(self, seed: int | None = None) -> None:
        pass

    def act_batch(self, obs, mask):
        return np.full(len(obs), self.action, dtype=np.int64)


def _play(action: int, n: int = 40, max_cycles: int = 30) -> dict[str, list[float]]:
    mod = _module()
    core = make_core("mfdiff/Battle-v0", {"n_agents": n, "max_cycles": max_cycles,
                                          "opponent": "expert"})
    counter = mod.Counter(Always(action), core)
    rollout(core, counter, seed=0, policy_seed=0, on_step=counter.after_step)
    return counter.rows


def test_standing_still_neither_moves_nor_attacks() -> None:
    rows = _play(0)
    assert set(rows["move share"]) == {0.0} and set(rows["attack share"]) == {0.0}
    assert "blocked share of moves" not in rows  # no move, no share of moves


def test_a_team_walking_into_the_wall_is_blocked_there() -> None:
    rows = _play(1, n=200, max_cycles=40)  # up (y - 1), every agent, every step
    assert set(rows["move share"]) == {1.0}
    assert set(rows["moves on the team's modal direction"]) == {1.0}  # all up, every step
    blocked = rows["blocked share of moves"]
    assert blocked[0] == 0.0  # at N = 200 the blocks start spaced: every cell above is free
    assert blocked[-1] == 1.0  # 40 steps later every live agent presses against the wall or an ally


def test_a_packed_block_moving_as_one_is_jammed_at_once() -> None:
    # at N = 40 the blocks start packed (spacing 1): an ally's cell is taken before the step,
    # so only the front row moves although nobody is near the wall — moves do not chain
    blocked = _play(1, n=40)["blocked share of moves"]
    assert 0.3 < blocked[0] < 1.0


def test_attacks_and_contact_are_counted() -> None:
    rows = _play(ATTACK)
    assert set(rows["attack share"]) == {1.0}
    assert rows["agents with an enemy in range"][0] == 0.0  # the blocks start apart


def test_red_walking_right_walks_toward_blue() -> None:
    # red starts left of blue: "right" steps toward the nearest enemy, "left" away from it
    assert _play(4, n=200, max_cycles=5)["moves toward the nearest enemy"][0] == 1.0
    assert _play(3, n=200, max_cycles=5)["moves toward the nearest enemy"][0] == 0.0


def test_cli_refuses_an_odd_population(tmp_path) -> None:
    with pytest.raises(SystemExit):
        _module().main(["--policy", "x=ckpt:temperature", "--temperatures", "0",
                        "--n-agents", "101", "--out", str(tmp_path / "t.md")])
