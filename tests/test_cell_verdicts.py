"""experiments/cell_verdicts.py: the 18-cell count from the committed evidence, its readings,
and refusal of evidence it cannot read."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cv():
    spec = importlib.util.spec_from_file_location("cell_verdicts",
                                                  ROOT / "experiments/cell_verdicts.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["cell_verdicts"] = mod  # dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


HEADER = ["| cell | policy | runs | score |", "|---|---|---|---|"]
PAIRED = ["", "| cell | A − B | evaluation seeds | score |", "|---|---|---|---|"]


def seeds_table(path: Path, rows: list[str], paired: list[str]) -> Path:
    path.write_text("\n".join(["# t", "", *HEADER, *rows, *PAIRED, *paired, ""]))
    return path


def test_verdicts_readings(cv):
    E = cv.Estimate
    # behind on the mean with overlapping CIs, but the paired CI clear of 0: tied by the
    # grid's reading, lost by the paired one
    ev = cv.Evidence("x.md", {"MF-Diffuser": E(100.0, 99.5, 100.5, 30),
                              "IQL": E(100.4, 100.0, 100.8, 30), "BC": E(99.0, 98.5, 99.5, 30)},
                     {"IQL": E(-0.4, -0.6, -0.2, 10), "BC": E(1.0, 0.5, 1.5, 10)})
    best, bb, ok, paired = cv.verdicts(ev)
    assert best == "IQL" and bb.mean == 100.4 and ok
    assert paired.startswith("lost: behind IQL")
    # CIs apart: lost by both
    ev.rows["IQL"] = E(101.0, 100.8, 101.2, 30)
    assert not cv.verdicts(ev)[2]
    # ahead of every baseline with paired CIs clear of 0: win; one holding 0: tie
    ev.rows["IQL"] = E(99.5, 99.0, 100.0, 30)
    ev.paired["IQL"] = E(0.5, 0.2, 0.8, 10)
    assert cv.verdicts(ev)[3] == "win"
    ev.paired["IQL"] = E(0.5, -0.1, 0.8, 10)
    assert cv.verdicts(ev)[3].startswith("tie: IQL")


def test_baselines_level_at_two_decimals_are_all_the_best(cv):
    """A seeds table prints means at 2 decimals: two baselines level there are both the best,
    and the grid's reading must hold against each (it was judged against the first listed)."""
    E = cv.Estimate
    ev = cv.Evidence("x.md", {"MF-Diffuser": E(100.0, 99.9, 100.1, 30),
                              "BC": E(100.5, 99.95, 101.0, 30),  # CI overlaps MF-Diffuser's
                              "IQL": E(100.5, 100.4, 100.6, 30)},  # CI clear above it
                     {"BC": E(-0.5, -1.0, 0.1, 10), "IQL": E(-0.5, -0.6, -0.4, 10)})
    best, bb, ok, _ = cv.verdicts(ev)
    assert best == "BC / IQL" and bb.mean == 100.5 and not ok
    # and the report's row of such a cell (it looked the joined names up: KeyError)
    ev.two_level = {"BC": E(-0.5, -1.0, 0.1, 3)}
    cells = {(f, t, n): ev for f in cv.SIZES for t in cv.TIERS for n in cv.SIZES[f]}
    row = cv.report(cells)[2]  # the first cell's row, under the header and its rule
    assert "| BC / IQL 100.50" in row and "| -0.50 [-1.00, 0.10] (10) |" in row, row


def test_rounded_bounds_never_turn_a_loss_into_a_tie(cv):
    E = cv.Estimate
    # "-0.00" rounds a negative upper bound: behind; "0.00" may be exactly 0: not a win
    assert cv.reading({"IQL": E(-0.01, -0.02, -0.0, 10)}).startswith("lost: behind IQL")
    assert cv.reading({"IQL": E(0.02, 0.0, 0.03, 10)}).startswith("tie: IQL")
    assert cv.reading({"IQL": E(0.02, 0.001, 0.03, 10)}) == "win"


def test_committed_cells_carry_the_training_seed_reading(cv):
    """Every cell is also judged on the grid's runs with a CI over training seeds (Welch over
    the checkpoints' means); it is wider than the paired CI over evaluation seeds alone."""
    cells = cv.collect()
    grid = cv.grid_evidence(ROOT / "docs/results/records/records-squeeze.jsonl.gz")
    for key, ev in cells.items():
        assert ev.two_level, key
    ev = grid[("medium", 1000)]
    for b, d in ev.paired.items():
        two = ev.two_level[b]
        assert two.hi - two.lo > d.hi - d.lo, b
        assert two.mean == pytest.approx(d.mean)  # complete 3 × 5 grid: the same point


def test_parse_seeds_table(cv, tmp_path):
    path = seeds_table(tmp_path / "ising_n100_seeds_e15_mixed.md",
                       ["| N = 100, mixed | MF-Diffuser | 45 | 101.34 [100.94, 101.71] |",
                        "| N = 100, mixed | IQL | 45 | 101.89 [101.53, 102.23] |"],
                       ["| N = 100, mixed | MF-Diffuser − IQL | 15 | -0.56 [-0.90, -0.18] |"])
    fam, tier, n, ev = cv.parse_seeds_table(path)
    assert (fam, tier, n) == ("ising", "mixed", 100)
    assert ev.rows["MF-Diffuser"] == cv.Estimate(101.34, 100.94, 101.71, 45)
    assert ev.paired["IQL"] == cv.Estimate(-0.56, -0.90, -0.18, 15)


@pytest.mark.parametrize("rows, paired, match", [
    # a row of another cell in the file of N = 100, mixed
    (["| N = 1000, mixed | MF-Diffuser | 45 | 101.34 [100.94, 101.71] |"], [], "row of cell"),
    # a baseline without its paired difference
    (["| N = 100, mixed | MF-Diffuser | 45 | 101.34 [100.94, 101.71] |",
      "| N = 100, mixed | IQL | 45 | 101.89 [101.53, 102.23] |"], [], "no paired difference"),
    # a score that is no "mean [lo, hi]"
    (["| N = 100, mixed | MF-Diffuser | 45 | 101.34 |"], [], "expected 'mean"),
    (["| N = 100, mixed | IQL | 45 | 101.89 [101.53, 102.23] |"],
     ["| N = 100, mixed | MF-Diffuser − IQL | 15 | -0.56 [-0.90, -0.18] |"], "no MF-Diffuser"),
])
def test_parse_refuses(cv, tmp_path, rows, paired, match):
    path = seeds_table(tmp_path / "ising_n100_seeds_mixed.md", rows, paired)
    with pytest.raises(ValueError, match=match):
        cv.parse_seeds_table(path)


def test_committed_evidence(cv, tmp_path, capsys):
    """All 18 cells have evidence in docs/results, and the largest sample wins: a seeds table
    with more MF-Diffuser runs than the grid's 15 replaces the grid's cell."""
    cells = cv.collect()
    assert len(cells) == 18
    assert cells[("battle", "medium", 100)].source == "battle_n100_seeds_medium.md"
    assert cells[("squeeze", "mixed", 1000)].source == "records/records-squeeze.jsonl.gz"
    assert all(ev.rows["MF-Diffuser"].n >= 15 for ev in cells.values())
    # a folder missing one family's records names what it lacks and exits 1
    (tmp_path / "records").mkdir()
    for fam in ("squeeze", "ising"):
        (tmp_path / "records" / f"records-{fam}.jsonl.gz").symlink_to(
            ROOT / "docs/results/records" / f"records-{fam}.jsonl.gz")
    with pytest.raises(FileNotFoundError):
        cv.collect(tmp_path)
    (tmp_path / "records" / "records-battle.jsonl.gz").write_bytes(
        __import__("gzip").compress(b""))
    assert cv.main(["--results", str(tmp_path)]) == 1
    assert "no evidence for cells [('battle', 'medium', 100)" in capsys.readouterr().err


def test_tables_of_the_config_before_are_marked_and_yield_to_today_s(cv, tmp_path):
    """An Ising seeds table without the ``_range`` tag measured the config before
    head_data_range (CONFIG_SINCE): it still counts, marked; one with the tag measured today's
    config and, of as many runs, goes first; a tag a family does not have is refused."""
    rows = ["| N = 100, medium | MF-Diffuser | 90 | 100.00 [99.50, 100.50] |",
            "| N = 100, medium | IQL | 90 | 101.00 [100.50, 101.50] |"]
    paired = ["| N = 100, medium | MF-Diffuser − IQL | 30 | -1.00 [-1.50, -0.50] |"]
    old = seeds_table(tmp_path / "ising_n100_seeds_medium.md", rows, paired)
    assert cv.parse_seeds_table(old)[3].before == "head_data_range"
    new = seeds_table(tmp_path / "ising_n100_seeds_range_medium.md",
                      [r.replace("100.00 [99.50", "100.20 [99.70") for r in rows], paired)
    assert cv.parse_seeds_table(new)[3].before is None
    (tmp_path / "records").mkdir()
    for fam in ("squeeze", "ising", "battle"):
        (tmp_path / "records" / f"records-{fam}.jsonl.gz").symlink_to(
            ROOT / "docs/results/records" / f"records-{fam}.jsonl.gz")
    cells = cv.collect(tmp_path)
    assert cells[("ising", "medium", 100)].source == new.name
    new.unlink()
    cells = cv.collect(tmp_path)
    assert cells[("ising", "medium", 100)].source == old.name
    assert "(90; without head_data_range)" in "\n".join(cv.report(cells))
    squeeze = seeds_table(tmp_path / "squeeze_n100_seeds_range_medium.md", rows, paired)
    with pytest.raises(ValueError, match="no config tagged"):
        cv.parse_seeds_table(squeeze)
    # Battle's lifting (seventy-second update) acts only above N = 4000: an untagged table
    # there measured the config before it, one at N = 10^2 today's
    battle = ["| N = {n}, mixed | MF-Diffuser | 24 | 105.00 [104.50, 105.50] |",
              "| N = {n}, mixed | BC | 24 | 103.00 [102.50, 103.50] |"]
    battle_paired = ["| N = {n}, mixed | MF-Diffuser − BC | 8 | 2.00 [1.50, 2.50] |"]
    for n, before in ((10000, "cold lifts on 512 rows"), (100, None)):
        table = seeds_table(tmp_path / f"battle_n{n}_seeds_e8_mixed.md",
                            [r.format(n=n) for r in battle],
                            [r.format(n=n) for r in battle_paired])
        assert cv.parse_seeds_table(table)[3].before == before
        tagged = seeds_table(tmp_path / f"battle_n{n}_seeds_e8_cold512_mixed.md",
                             [r.format(n=n) for r in battle],
                             [r.format(n=n) for r in battle_paired])
        assert cv.parse_seeds_table(tagged)[3].before is None
