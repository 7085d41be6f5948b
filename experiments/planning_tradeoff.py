"""Score vs planning latency over replan_every and the particle schedule.

Writes docs/results/planning_tradeoff.md and planning_tradeoff.png.

    python experiments/planning_tradeoff.py            # needs the grid's checkpoints

On the grid's seed-0 MF-Diffuser checkpoints (Squeeze-medium N = 1000 and Ising-mixed N = 1024,
acting: the MF-Diffuser Config's defaults, make_sweep.ACTING),
every combination of ``replan_every`` ∈ {1, 2, 4, 7} (7: the most the action head can follow
of a horizon-8 plan) and
``k_schedule`` ∈ {(8, 32, 128), (16, 64, 256) (default), (32, 128, 512)} is evaluated over 3
seeds at the training N; the plot puts mean score against the median acting latency per env
step, one line per particle schedule. Planning fields only: the weights are the same.
"""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from make_sweep import (  # noqa: E402  (a script beside this one)
    ACTING,
    FAMILIES,
    family_planning,
    inline_table,
    run_block,
)

from mfdiff_agents.evaluation import bootstrap_ci, read_records  # noqa: E402
from mfdiff_agents.evaluation.report import plt_agg, save_figure  # noqa: E402

CELLS = [("squeeze", "medium"), ("ising", "mixed")]
REPLAN = (1, 2, 4, 7)
SCHEDULES = ((8, 32, 128), (16, 64, 256), (32, 128, 512))
OUT = Path("runs/exp/planning_tradeoff")
COMMAND = "python experiments/planning_tradeoff.py"


def sweep() -> str:
    lines = ["# planning trade-off (written by experiments/planning_tradeoff.py)", "seeds = 3",
             "episodes = 1", 'device = "cpu"', ""]
    for fam, tier in CELLS:
        stem, env, ns, kwargs = FAMILIES[fam]
        for ks in SCHEDULES:
            for r in REPLAN:
                lines += run_block(f"runs/grid/ckpt/{stem}-{tier}/mfdiffuser-s0",
                                   f"K {ks[-1]}, replan {r}", env, [ns[1]], kwargs, tier,
                                   inline_table({**ACTING, "replan_every": r,
                                                 "k_schedule": list(ks)}))
    return "\n".join(lines)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sweep.toml").write_text(sweep())
    records = OUT / "records.jsonl"
    done = subprocess.run(["mfdiff", "eval", "--sweep", str(OUT / "sweep.toml"), "--out",
                           str(records), "--resume", "--no-progress", "--threads", "1"])
    if done.returncode:  # its own message is above; most often the checkpoints are missing
        print(f"planning_tradeoff: mfdiff eval exited {done.returncode}; the script needs the "
              "grid's seed-0 checkpoints (bash experiments/grid.sh squeeze ising)",
              file=sys.stderr)
        return done.returncode
    recs = [r for r in read_records(records) if not r.get("error")]
    score, lat = defaultdict(list), defaultdict(list)
    for r in recs:
        key = (r["family"], r["method"])
        score[key].append(r["normalized_score"])
        lat[key].append(r["latency_ms"])
    lines = ["# Planning trade-off: score vs latency over replan_every and the particle schedule",
             "", f"Command: `{COMMAND}`", "",
             "Grid checkpoints (seed 0; Squeeze-medium N = 1000, Ising-mixed N = 1024), acting "
             "through the action head decoded balanced at T = 0.3 (the defaults), 3 evaluation "
             "seeds at the training N; latency = "
             "median ms per env step (one torch thread, 2 shared cores: compare within the "
             "table). K = the last entry of k_schedule (16 -> 64 -> 256 is the default); "
             "(default) = the grid's setting (Ising: replan every step, configs/README.md).", "",
             "| family, tier | K | replan_every | normalized score | ms / step |",
             "|---|---|---|---|---|"]
    plt = plt_agg()
    fig, axes = plt.subplots(1, len(CELLS), figsize=(5 * len(CELLS), 3.6), squeeze=False)
    for ax, (fam, tier) in zip(axes[0], CELLS):
        for ks in SCHEDULES:
            xs, ys = [], []
            for r in REPLAN:
                key = (fam, f"K {ks[-1]}, replan {r}")
                if not score.get(key):
                    continue
                m, (lo, hi), ms = np.mean(score[key]), bootstrap_ci(score[key]), np.median(
                    lat[key])
                grid_replan = family_planning(fam).get("replan_every", 4)
                default = ks == (16, 64, 256) and r == grid_replan
                cell = f"{m:.1f} [{lo:.1f}, {hi:.1f}]"
                lines.append(f"| {fam}, {tier} | {ks[-1]} | {r} | "
                             f"{f'**{cell}** (default)' if default else cell} | {ms:.0f} |")
                xs.append(ms)
                ys.append(m)
                ax.annotate(str(r), (ms, m), fontsize=7)
            ax.plot(xs, ys, marker="o", label=f"K = {ks[-1]}")
        ax.set_xscale("log")
        ax.set_xlabel("ms per env step (median)")
        ax.set_ylabel("normalized score")
        ax.set_title(f"{fam}, {tier} (labels: replan_every)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    png = save_figure(fig, Path("docs/results/planning_tradeoff.png"))
    lines += ["", f"![score vs latency]({png.name})", ""]
    Path("docs/results/planning_tradeoff.md").write_text("\n".join(lines))
    print("wrote docs/results/planning_tradeoff.md")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] in (["-h"], ["--help"]):
        print(__doc__)
        raise SystemExit(0)
    raise SystemExit(main())
