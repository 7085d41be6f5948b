"""Action-head and guidance ablations of MF-Diffuser: docs/results/action_head.md, guidance.md.

    OMP_NUM_THREADS=1 python experiments/action_head.py            # ~20 CPU-minutes, one core

One training run per family (medium data, N = 1000; Ising 1024) with the action head and the
null token (p_uncond = 0.1), 400 steps (half the grid's 800: CPU budget), replan_every = 4 as
in experiments/grid.sh. The same checkpoint is then evaluated (3 seeds each) with act_with =
"head" and "particle" on every family, and with guidance_weight ∈ {0, 1, 2, 4} on Squeeze
(act_with = head). A finished
training run is reused (runs/action_head/<family>/train_done); records.jsonl is rewritten.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from mfdiff_agents.diffuser.planner import MFDiffuserPlanner  # noqa: E402
from mfdiff_agents.evaluation import evaluate, summarize  # noqa: E402
from mfdiff_agents.methods import get_method, make_sampler  # noqa: E402

CELLS: dict[str, tuple[str, str, dict[str, Any]]] = {  # family: dataset, env, env_kwargs
    "squeeze": ("mfdiff/squeeze-n1000/medium-v0", "mfdiff/GaussianSqueeze-v0",
                {"n_agents": 1000, "max_cycles": 25}),
    "ising": ("mfdiff/ising-n1024/medium-v0", "mfdiff/Ising-v0",
              {"n_agents": 1024, "max_cycles": 50}),
    "battle": ("mfdiff/battle-n1000/medium-v0", "mfdiff/Battle-v0",
               {"n_agents": 1000, "opponent": "expert", "max_cycles": 200}),
}
SEEDS = [0, 1, 2]
GUIDANCE = [0.0, 1.0, 2.0, 4.0]


def train(family: str, out: Path, steps: int) -> None:
    if (out / "train_done").is_file():
        return
    m = get_method("mfdiffuser")
    cfg = m.config(steps=steps, replan_every=4, seed=0, device="cpu", action_head=True,
                   p_uncond=0.1)
    t = time.perf_counter()
    m.fit(make_sampler(CELLS[family][0], cfg), cfg, out_dir=out, progress=False,
          num_threads=1)
    (out / "train_done").write_text(f"{time.perf_counter() - t:.1f} s\n")


def run(family: str, ckpt: Path, label: str, **overrides: Any) -> list[dict[str, Any]]:
    dataset, env, kw = CELLS[family]
    policy = MFDiffuserPlanner.from_pretrained(ckpt, device="cpu", num_threads=1, **overrides)
    t = time.perf_counter()
    recs = evaluate(policy, env, kw, seeds=SEEDS, dataset_id=dataset, tier="medium",
                    method=label)
    for r in recs:
        r["family"], r["overrides"] = family, overrides
    print(f"{family} {label}: {[round(r['normalized_score'], 1) for r in recs]} "
          f"({time.perf_counter() - t:.0f} s)", flush=True)
    return recs


def table(recs: list[dict[str, Any]], command: str, title: str) -> str:
    rows = [f"# {title}", "", "Regenerate with:", "", "```", command, "```", "",
            "Cells: mean [95 % bootstrap CI] over 3 seeds (1 episode each); normalized score "
            "0 = random, 100 = reference max (the scripted expert).", "",
            "| family | variant | normalized_score | return | seeds |", "|---|---|---|---|---|"]
    keys = list(dict.fromkeys((r["family"], r["method"]) for r in recs))
    for fam, label in keys:
        sel = [r for r in recs if r["family"] == fam and r["method"] == label]
        cells = []
        for metric in ("normalized_score", "return"):
            s = summarize([r[metric] for r in sel])
            cells.append(f"{s['mean']:.1f} [{s['ci_low']:.1f}, {s['ci_high']:.1f}]")
        rows.append(f"| {fam} | {label} | {cells[0]} | {cells[1]} | {len(sel)} |")
    return "\n".join(rows) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--families", default="battle,squeeze,ising")
    ap.add_argument("--out", default="runs/action_head")
    ap.add_argument("--guidance-family", default="squeeze")
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    head_recs: list[dict[str, Any]] = []
    guide_recs: list[dict[str, Any]] = []
    for fam in args.families.split(","):
        ckpt = out / fam
        train(fam, ckpt, args.steps)
        for mode in ("head", "particle"):
            head_recs += run(fam, ckpt, f"act_with={mode}", act_with=mode)
        if fam == args.guidance_family:
            for w in GUIDANCE:
                guide_recs += run(fam, ckpt, f"guidance_weight={w:g}", guidance_weight=w)
    cmd = "OMP_NUM_THREADS=1 python experiments/action_head.py"
    with (out / "records.jsonl").open("w") as f:
        for r in head_recs + guide_recs:
            f.write(json.dumps(r, default=str) + "\n")
    Path("docs/results/action_head.md").write_text(
        table(head_recs, cmd, "MF-Diffuser: action head vs copying the particle's action"))
    if guide_recs:
        Path("docs/results/guidance.md").write_text(
            table(guide_recs, cmd, "MF-Diffuser: classifier-free guidance weight"))


if __name__ == "__main__":
    main()
