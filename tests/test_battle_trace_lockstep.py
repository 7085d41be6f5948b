"""experiments/battle_trace.py --lockstep: what a Battle team's agents chose and what came of it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from mfdiff_envs.battle import ATTACK

ROOT = Path(__file__).resolve().parents[1]


def _module():
    if "battle_trace" in sys.modules:
        return sys.modules["battle_trace"]
    spec = importlib.util.spec_from_file_location("battle_trace",
                                                  ROOT / "experiments/battle_trace.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
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


def _play(monkeypatch, action: int, n: int) -> dict[str, float]:
    mod = _module()
    monkeypatch.setattr(mod, "policy_factory",
                        lambda spec, family: lambda core, seed: Always(action))
    return mod.trace_lockstep("always", n, 1)


def test_standing_still_neither_moves_nor_attacks(monkeypatch) -> None:
    t = _play(monkeypatch, 0, 40)
    assert t["move"] == 0.0 and t["attack"] == 0.0
    assert np.isnan(t["blocked"]) and np.isnan(t["modal"])  # no move, no share of moves


def test_a_team_walking_up_is_in_lockstep_and_ends_blocked(monkeypatch) -> None:
    t = _play(monkeypatch, 1, 200)
    assert t["move"] == 1.0 and t["modal"] == 1.0  # all up, every step
    assert 0.5 < t["blocked"] < 1.0  # free at first (the blocks start spaced at N = 200), then
    # every agent presses against the wall or an ally


def test_a_packed_block_moving_as_one_is_jammed(monkeypatch) -> None:
    # at N = 40 the blocks start packed (spacing 1): an ally's cell is taken before the step,
    # so only the front row moves — Battle's moves do not chain
    packed = _play(monkeypatch, 4, 40)
    spaced = _play(monkeypatch, 4, 200)
    assert packed["blocked"] > spaced["blocked"]
    assert packed["toward"] > 0.9 and spaced["toward"] > 0.9  # red starts left of blue


def test_attacking_in_place_waits_for_the_enemy(monkeypatch) -> None:
    t = _play(monkeypatch, ATTACK, 200)
    assert t["attack"] == 1.0 and t["move"] == 0.0 and np.isnan(t["toward"])
    assert 0.0 < t["in_range"] < 1.0  # out of reach at the start; the scripted blue comes


def test_cli_refuses_an_odd_population_and_several_sizes_outside_lockstep() -> None:
    mod = _module()
    for argv in (["expert", "--lockstep", "--n-agents", "101"],
                 ["expert", "--n-agents", "100", "1000"]):
        with pytest.raises(SystemExit):
            mod.main(argv)


def test_lockstep_writes_its_table_under_its_command(tmp_path, capsys) -> None:
    out = tmp_path / "t.md"
    assert _module().main(["expert", "--lockstep", "--n-agents", "40", "--seeds", "1",
                           "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# t\n\nRegenerate with:\n\n```\npython experiments/battle_trace.py "
                           "expert --lockstep")
    row = [line for line in text.splitlines() if line.startswith("| expert | 40 |")]
    assert len(row) == 1 and float(row[0].split("|")[6]) > 0.9  # the expert steps toward blue
    assert row[0] in capsys.readouterr().out
