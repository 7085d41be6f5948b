"""Do retrained checkpoints score what the grid's records say? Before a study on checkpoints
retrained from the grid's commands (a fresh machine has none: runs/ is not in the repo), compare
its records with the grid's exported ones (docs/results/records/) run by run: same checkpoint
path, acting settings (``config.set``: the grid scores one checkpoint under several rows, e.g.
"MF-Diffuser" and "MF-Diffuser, one plan"), N, tier and evaluation seed. Training and
evaluation are seeded, so a checkpoint that matches is the grid's row, and the study's first
seeds repeat the grid's episodes; a small difference (``--tol``) is floating-point drift of
training on other hardware, a large one other weights.

    python experiments/match_grid.py runs/exp/A.jsonl [B.jsonl ...] \\
        --grid docs/results/records/records-squeeze.jsonl.gz [--tol 1e-6] \\
        [--ignore-set cap_particles]

Prints one line per checkpoint of the study (runs in common, largest |score difference|) and
exits 1 if any run differs by more than ``--tol`` normalised points or a checkpoint has no run
in common with the grid (``none``: it was not checked, so it must not pass as checked).
``--ignore-set KEY`` leaves an acting setting out of the comparison on both sides, for one
that is inert where it was used: e.g. Ising's ``cap_particles`` at N >= 512, which the grid's
records at those N leave out (make_sweep.cap_split).
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path
from typing import Any

Key = tuple[str, tuple, int, str, int]  # (checkpoint, settings, env N, tier, evaluation seed)


def norm(value: Any) -> Any:
    """A ``--set`` value as the grid typed it: "0.0" -> 0.0, "true" -> True, "[32, 128]" ->
    (32.0, 128.0) (a study's records keep the command line's strings)."""
    if isinstance(value, str):
        try:
            value = json.loads(value.lower() if value.lower() in ("true", "false") else value)
        except ValueError:
            return value
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list):
        return tuple(norm(v) for v in value)
    return value


def read(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return [json.loads(line) for line in f if line.strip()]


def by_run(records: list[dict], ignore: frozenset[str] = frozenset()) -> dict[Key, float]:
    """Normalised score per (checkpoint, acting settings less ``ignore``, env N, tier, seed);
    scripted rows (no checkpoint path) and failed runs are left out."""
    out: dict[Key, float] = {}
    for r in records:
        policy = str((r.get("config") or {}).get("policy", ""))
        if "/" not in policy or r.get("error") or "normalized_score" not in r:
            continue
        n = (r.get("env_kwargs") or {}).get("n_agents", r["n_agents"])
        sets = tuple(sorted((k, norm(v)) for k, v in (r["config"].get("set") or {}).items()
                            if k not in ignore))
        out[(str(Path(policy)), sets, int(n), str(r.get("tier")), int(r["seed"]))] = float(
            r["normalized_score"])
    return out


def compare(study: dict[Key, float], grid: dict[Key, float]) -> dict[str, tuple[int, float]]:
    """Per checkpoint: (runs in common, largest |score difference|)."""
    out: dict[str, tuple[int, float]] = {}
    for key in sorted(set(study) & set(grid)):
        n, worst = out.get(key[0], (0, 0.0))
        out[key[0]] = (n + 1, max(worst, abs(study[key] - grid[key])))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("records", nargs="+", type=Path)
    ap.add_argument("--grid", type=Path, required=True, help="the grid's records (.jsonl[.gz])")
    ap.add_argument("--tol", type=float, default=1e-6, help="normalised points")
    ap.add_argument("--ignore-set", action="append", default=[], metavar="KEY",
                    help="an acting setting left out of the comparison (repeatable)")
    args = ap.parse_args(argv)
    ignore = frozenset(args.ignore_set)
    study: dict[Key, float] = {}
    for path in args.records:
        study |= by_run(read(path), ignore)
    result = compare(study, by_run(read(args.grid), ignore))
    if not result:
        print("no run in common with the grid's records")
        return 1
    bad = 0
    for ckpt in sorted({key[0] for key in study}):
        if ckpt not in result:
            bad += 1
            print(f"none {ckpt}: no run in common (settings, N or seeds not in the grid's "
                  "records for it; --ignore-set for an inert setting)")
            continue
        n, worst = result[ckpt]
        ok = worst <= args.tol
        bad += not ok
        print(f"{'ok  ' if ok else 'DIFF'} {ckpt}: {n} runs in common, max |diff| {worst:.3g}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
