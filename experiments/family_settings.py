"""Sweep behind configs/README.md: each per-family MF-Diffuser setting against the default it
replaces (docs/results/family_settings.md), written to stdout.

    python experiments/family_settings.py runs/grid runs/family_settings > settings.toml

Seed-0 checkpoints, N = 10^3 (Ising 1024), both tiers, 5 evaluation seeds each:
  Ising:  the grid's checkpoint (configs/mfdiffuser/ising.json) at replan_every 1 and 4, and
          the same config trained with beta_agent = 0 (no per-particle credit);
  Battle: the grid's checkpoint (configs/mfdiffuser/battle.json: 400 steps) at replan_every
          1, 2, 4 and 7, the same config trained for 800 steps (the other families' budget) at
          4 and 7, and trained with Ising's per-particle credit (beta_agent = 2).
experiments/family_settings.sh trains the two variants and runs it.
"""

from __future__ import annotations

import sys

from make_sweep import ACTING, FAMILIES, inline_table, run_block

#: family -> [(label, checkpoint: "grid" | a variant's dir name as family_settings.sh trains
#: it, replan_every)]
ROWS = {
    "ising": [("grid config (replan 1, beta_agent 2)", "grid", 1),
              ("replan 4", "grid", 4),
              ("beta_agent 0 (no per-particle credit)", "beta_agent0", 1)],
    "battle": [("grid config (400 steps, replan 7)", "grid", 7),
               ("replan 4", "grid", 4),
               ("replan 2", "grid", 2),
               ("replan 1", "grid", 1),
               ("800 steps, replan 7", "steps800", 7),
               ("800 steps, replan 4", "steps800", 4),
               ("beta_agent 2 (per-particle credit), replan 7", "beta_agent2", 7)],
}


def main(grid: str, out: str) -> None:
    lines = ["# family settings (written by experiments/family_settings.py)", "seeds = 5",
             "episodes = 1", 'device = "cpu"', ""]
    for fam, rows in ROWS.items():
        stem, env, ns, kwargs = FAMILIES[fam]
        for tier in ("medium", "mixed"):
            for label, which, replan in rows:
                path = (f"{grid}/ckpt/{stem}-{tier}/mfdiffuser-s0" if which == "grid" else
                        f"{out}/ckpt/{stem}-{tier}/{which}-s0")
                lines.extend(run_block(path, f"{fam}: {label}", env, [ns[1]], kwargs, tier,
                                       inline_table({**ACTING, "replan_every": replan})))
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] in ("-h", "--help"):  # a traceback was the usage
        print(__doc__, file=sys.stdout if sys.argv[1:2] in (["-h"], ["--help"]) else sys.stderr)
        raise SystemExit(0 if sys.argv[1:2] in (["-h"], ["--help"]) else 2)
    main(sys.argv[1], sys.argv[2])
