"""Learning curves: score vs gradient steps and training wall-clock.

Writes docs/results/learning_curves.md and learning_curves.png.

    python experiments/learning_curves.py                      # squeeze ising battle
    python experiments/learning_curves.py squeeze --out runs/curves

One cell per family (the grid's N = 10^3 `medium` dataset, training seed 0), every learned
method of the grid's verdicts (MF-Diffuser, BC, MFQ-CQL, IQL) trained and acting as the grid
trains and evaluates it: its family config (configs/<algo>/<family>.json) and the grid's acting
overrides (make_sweep.acting_overrides). Every method is trained with `mfdiff train` up to each
milestone in turn and resumed from there (`--resume` is bit-exact, so the snapshots lie on one
continuous run); each snapshot is evaluated at the training N over 3 evaluation seeds.
Wall-clock is the training loop's own time (metrics.csv), summed over the segments; the
machine's 2 cores are shared with other jobs, so read seconds as ratios between methods.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from make_sweep import (  # noqa: E402  (a script beside this one)
    FAMILIES,
    acting_one_plan,
    grid_steps,
    inline_table,
    run_block,
)

from mfdiff_agents.evaluation import bootstrap_ci, read_records  # noqa: E402
from mfdiff_agents.evaluation.report import plt_agg, save_figure  # noqa: E402

#: the tier where MF-Diffuser trails the baselines (grid.md's verdicts): is it undertrained there,
#: and would the baselines gain from MF-Diffuser's training seconds?
TIER = "medium"
#: method -> (table label, milestones in gradient steps). The cheap baselines get 4-8x the
#: steps of MF-Diffuser so that their curves reach MF-Diffuser's training wall-clock (IQL's step
#: costs about MF-Diffuser's).
METHODS = {
    "mfdiffuser": ("MF-Diffuser", (100, 200, 400, 800, 1600)),
    "bc": ("BC", (100, 200, 400, 800, 1600, 3200, 6400)),
    "mfq": ("MFQ-CQL", (100, 200, 400, 800, 1600, 3200)),
    "iql": ("IQL", (100, 200, 400, 800, 1600, 3200)),
}
#: Battle's episodes and gradient steps cost several times Squeeze's: fewer milestones there
MILESTONES = {"battle": {"mfdiffuser": (100, 400, 1600), "bc": (100, 400, 1600, 6400),
                         "mfq": (100, 400, 1600, 3200), "iql": (100, 400, 1600, 3200)}}
SNAPSHOT_FILES = ("config.json", "model.safetensors", "metrics.csv")


def segment_seconds(metrics: Path) -> float:
    """The last ``seconds`` of metrics.csv: the time of the segment just trained (the training
    loop restarts its clock on resume)."""
    with open(metrics) as f:
        rows = list(csv.DictReader(f))
    return float(rows[-1]["seconds"])


def train_curve(fam: str, algo: str, out: Path) -> list[dict]:
    stem = FAMILIES[fam][0]
    f, n = stem.split("-")
    run = out / fam / f"{algo}-run"
    done_file = out / fam / f"{algo}-milestones.json"
    done = json.loads(done_file.read_text()) if done_file.exists() else []
    seconds = done[-1]["seconds"] if done else 0.0
    for steps in MILESTONES.get(fam, {}).get(algo, METHODS[algo][1]):
        if any(m["steps"] == steps for m in done):
            continue
        # `mfdiff train`'s defaults = the grid's training settings (the family config)
        cmd = ["mfdiff", "train", "--dataset", f"mfdiff/{f}-{n}/{TIER}-v0", "--algo", algo,
               "--set", f"steps={steps}", "--set", "seed=0", "--set", "ckpt_every=0",
               # one action head reading the whole plan, as when the curves were measured
               # (Squeeze's config trains four heads since the fifteenth update, Battle's head
               # is blind to part of the plan since the twenty-second and has a value
               # baseline since the twenty-third; since the thirty-third it trains its head
               # alone on its own plans after 400 steps: pinned off, a no-op elsewhere)
               *(["--set", "head_ensemble=1", "--set", "head_blind=[]", "--set",
                  "head_value=false", "--set", "diffusion_steps=None", "--set",
                  "head_own_plans=0"]
                 if algo == "mfdiffuser" else []),
               "--out", str(run), "--no-progress", "--threads", "1"]
        if (run / "train_state.pt").exists():
            cmd.append("--resume")
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        seconds += segment_seconds(run / "metrics.csv")
        snap = out / fam / f"{algo}-step{steps}"
        snap.mkdir(parents=True, exist_ok=True)
        for name in SNAPSHOT_FILES:
            shutil.copy2(run / name, snap / name)
        done.append({"steps": steps, "seconds": round(seconds, 1), "path": str(snap)})
        done_file.write_text(json.dumps(done, indent=1))
    return done


def sweep_toml(fam: str, milestones: dict[str, list[dict]]) -> str:
    _, env, ns, kwargs = FAMILIES[fam]
    lines = [f"# learning curves, {fam} (written by experiments/learning_curves.py)",
             "seeds = 3", "episodes = 1", 'device = "cpu"', ""]
    for algo, ms in milestones.items():
        acting = acting_one_plan(fam, algo)  # as the grid evaluated the method when measured
        for m in ms:
            lines.extend(run_block(m["path"], f"{METHODS[algo][0]}@{m['steps']}", env, [ns[1]],
                                   kwargs, TIER, inline_table(acting) if acting else None))
    return "\n".join(lines)


def equal_wall_clock(fam: str, curves: list[tuple[str, list[tuple]]]) -> list[str]:
    """Each method's score at MF-Diffuser's grid budget in *seconds*: its last snapshot trained
    for no longer than MF-Diffuser's grid-budget steps took (the most a method gets from the
    same wall-clock). MF-Diffuser's seconds at the grid budget are read off its curve (linear
    between milestones: training time is linear in steps)."""
    pts = dict(curves)
    mfd = pts.get("MF-Diffuser", [])
    if len(mfd) < 2:
        return []
    steps, secs = [p[0] for p in mfd], [p[1] for p in mfd]
    grid = grid_steps(fam, "mfdiffuser")
    budget = float(np.interp(grid, steps, secs))
    out = [f"Equal wall-clock: MF-Diffuser's grid budget ({grid} steps) took "
           f"≈ {budget:.0f} s here; at no more training time than that:", "",
           "| method | snapshot (steps, s) | normalized score |", "|---|---|---|"]
    for label, ps in curves:
        within = [p for p in ps if p[1] <= budget * 1.05]  # 5 %: timing noise on shared cores
        if not within:
            continue
        s_, t, mean, lo, hi = within[-1]
        out.append(f"| {label} | {s_}, {t:.0f} | {mean:.1f} [{lo:.1f}, {hi:.1f}] |")
    return out


def report(out: Path, families: list[str], command: str) -> str:
    lines = ["# Learning curves: score vs gradient steps and training wall-clock", "",
             f"Command: `{command}`", "",
             f"One cell per family: the N = 10^3 (Ising 1024) `{TIER}` dataset, training seed 0, "
             "evaluated at the training N over 3 evaluation seeds (normalized score, mean "
             "[95 % bootstrap CI]). Every method trains and acts as the grid's does: its family "
             "config (configs/<algo>/<family>.json: MF-Diffuser's per-family settings, the "
             "baselines' searched acting temperature) and the grid's acting overrides "
             "(make_sweep.acting_overrides). Each method is trained once and snapshotted at "
             "each milestone (resume is bit-exact); seconds = the training loop's wall-clock "
             "summed over the segments, one torch thread, on 2 cores shared with other jobs "
             "(compare ratios, not absolute times). **bold** = the grid's budget where it is a "
             "milestone (make_sweep.grid_steps: BC 1000, MFQ-CQL and IQL 1500, MF-Diffuser 800 "
             "but 400 on Ising and Battle, configs/README.md). One training seed: the grid's "
             "per-seed tables show how far seeds spread (Ising-medium MF-Diffuser 91-101).", ""]
    missing = [f for f in ("squeeze", "ising", "battle") if f not in families]
    if missing:
        lines += [f"Not in this table: {', '.join(missing)} (`python "
                  "experiments/learning_curves.py` runs all three families).", ""]
    fig_rows = []
    for fam in families:
        recs = read_records(out / fam / "records.jsonl")
        by_label: dict[str, list[float]] = defaultdict(list)
        for r in recs:
            if not r.get("error"):
                by_label[r["method"]].append(r["normalized_score"])
        lines += [f"## {fam}", "", "| method | steps | train seconds | normalized score |",
                  "|---|---|---|---|"]
        curves = []
        for algo, (label, _) in METHODS.items():
            ms = json.loads((out / fam / f"{algo}-milestones.json").read_text())
            for shown in (label,):
                pts = []
                for m in ms:
                    vals = by_label.get(f"{shown}@{m['steps']}", [])
                    if not vals:
                        continue
                    lo, hi = bootstrap_ci(vals)
                    mean = float(np.mean(vals))
                    pts.append((m["steps"], m["seconds"], mean, lo, hi))
                    steps = (f"**{m['steps']}**" if m["steps"] == grid_steps(fam, algo)
                             else str(m["steps"]))
                    lines.append(f"| {shown} | {steps} | {m['seconds']:.0f} | "
                                 f"{mean:.1f} [{lo:.1f}, {hi:.1f}] |")
                curves.append((shown, pts))
        lines += ["", *equal_wall_clock(fam, curves), ""]
        fig_rows.append((fam, curves))
    plt = plt_agg()
    fig, axes = plt.subplots(len(fig_rows), 2, figsize=(10, 3.2 * len(fig_rows)), squeeze=False)
    for row, (fam, curves) in enumerate(fig_rows):
        for col, (xi, xlabel) in enumerate(((0, "gradient steps"), (1, "training seconds"))):
            ax = axes[row][col]
            for label, pts in curves:
                if pts:
                    a = np.array(pts)
                    ax.plot(a[:, xi], a[:, 2], marker="o", label=label)
                    ax.fill_between(a[:, xi], a[:, 3], a[:, 4], alpha=0.15)
            ax.set_xscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"{fam}: normalized score")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    png = save_figure(fig, Path("docs/results/learning_curves.png"))
    lines += [f"![learning curves]({png.name})", ""]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Families (default: all three) and ``--out``; an unknown family exits with code 2."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # no `choices`: Python 3.11's argparse checks the empty list of a bare call against them
    ap.add_argument("families", nargs="*", help="squeeze | ising | battle (default: all three)")
    ap.add_argument("--out", type=Path, default=Path("runs/curves"))
    args = ap.parse_args(argv)
    args.families = args.families or ["squeeze", "ising", "battle"]
    unknown = sorted(set(args.families) - set(FAMILIES))
    if unknown:
        ap.error(f"unknown families {unknown}; choose from {sorted(FAMILIES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for stem in (FAMILIES[fam][0] for fam in args.families):
        subprocess.run(["mfdiff", "data", "build", f"mfdiff/{stem}/{TIER}-v0", "--no-progress"],
                       check=True)
    for fam in args.families:
        milestones = {algo: train_curve(fam, algo, args.out) for algo in METHODS}
        records = args.out / fam / "records.jsonl"
        if not records.exists():
            sweep = args.out / fam / "sweep.toml"
            sweep.write_text(sweep_toml(fam, milestones))
            tmp = records.with_suffix(".partial")
            tmp.unlink(missing_ok=True)
            subprocess.run(["mfdiff", "eval", "--sweep", str(sweep), "--out", str(tmp),
                            "--no-progress", "--threads", "1"], check=True)
            tmp.rename(records)
    command = "python experiments/learning_curves.py " + " ".join(args.families)
    Path("docs/results/learning_curves.md").write_text(report(args.out, args.families, command))
    print("wrote docs/results/learning_curves.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
