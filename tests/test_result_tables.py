"""Every committed docs/results table made by experiments/compare_policies.py from committed
records (docs/results/records/*.jsonl.gz) prints its committed body again from the command
written in it: a table whose command no longer gives its numbers fails here, not in an outside
reproduction. Tables whose records lie in runs/ only (not in a clone) are left out."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs/results"
COMMAND = re.compile(r"Regenerate with:\n\n```\n(python experiments/compare_policies\.py .*?)\n```",
                     re.S)


def record_files(args: list[str]) -> list[str]:
    """The FILE parts of compare_policies' LABEL=METHOD@FILE[+FILE...] arguments."""
    return [f for a in args if "@" in a and "=" in a.split("@", 1)[0]
            for f in a.split("@", 1)[1].split("+")]


def committed_tables() -> list[tuple[str, list[str]]]:
    """(table name, compare_policies arguments) of each table whose records are committed."""
    out = []
    for path in sorted(RESULTS.glob("*.md")):
        m = COMMAND.search(path.read_text())
        if m is None:
            continue
        args = shlex.split(m.group(1))[2:]
        files = record_files(args)
        if files and all(f.startswith("docs/results/records/") and (ROOT / f).is_file()
                         for f in files):
            out.append((path.name, args))
    return out


TABLES = committed_tables()


@pytest.fixture(scope="module")
def compare_policies():
    spec = importlib.util.spec_from_file_location("compare_policies",
                                                  ROOT / "experiments/compare_policies.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["compare_policies"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_the_committed_records_cover_tables():
    """The scan finds the tables it should (a broken pattern would make the next test vacuous)."""
    names = {name for name, _ in TABLES}
    assert len(TABLES) >= 40
    assert "range_ising_medium_seeds012404142434445464748_n1024.md" in names
    assert "exploitability_ising_n1024_884range_devbc_paired.md" in names


@pytest.mark.parametrize("name,args", TABLES, ids=[n for n, _ in TABLES])
def test_committed_table_reprints_from_its_command(name, args, compare_policies, tmp_path,
                                                   monkeypatch):
    i = args.index("--out")
    assert Path(args[i + 1]).name == name, "the table's command writes another file"
    out = tmp_path / name
    monkeypatch.chdir(ROOT)  # the command's record paths are relative to the repository root
    with contextlib.redirect_stdout(io.StringIO()):
        assert compare_policies.main([*args[:i], "--out", str(out), *args[i + 2:]]) == 0
    # the written command names tmp_path in --out; everything else must match to the byte,
    # except notes written by hand below the generated table (a few tables have them)
    strip = re.compile(r"--out \S+")
    made = strip.sub("--out X", out.read_text())
    committed = strip.sub("--out X", (RESULTS / name).read_text())
    assert committed == made or committed.startswith(made + "\n"), (
        f"docs/results/{name} differs from what its command prints")
