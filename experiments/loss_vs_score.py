"""Do MF-Diffuser's training losses single out its weak checkpoints? (docs/results, 63rd update)

For each checkpoint: the training objective's terms (diffusion/model.py ``training_loss``) on one
fixed set of windows of a dataset (drawn with one seed for all, the noise from fixed generators;
the normalisation statistics rebuilt as the run built them from its seed), beside the
checkpoint's mean normalised score in evaluation records; then Spearman's rank correlation of
each term with the score over the checkpoints. A term that tracked the score would let a user
keep the best of a few training seeds without an environment. Writes a markdown table.

    python experiments/loss_vs_score.py --dataset mfdiff/ising-n1024/medium-v0 \
        --records 'runs/lr_schedule_ising/records-*.jsonl' --out docs/results/FILE.md CKPT...

A checkpoint's records are found by its path (the records' ``config.policy``).
"""

from __future__ import annotations

import argparse
import glob
import json
import shlex
import statistics
import sys
from collections import defaultdict

import numpy as np
import torch
from scipy.stats import spearmanr

from mfdiff_agents.data import windows_to_torch
from mfdiff_agents.diffuser.model import Stats, training_loss
from mfdiff_agents.methods import load_policy, make_sampler

FIELDS = ("obs", "actions", "alive", "returns", "mean_field", "rewards")
TERMS = ("denoise", "mse", "chaos", "value_loss", "head_loss", "head_acc")


def losses(ckpt: str, dataset, batches: int, batch_size: int) -> dict[str, float]:
    pol = load_policy(ckpt, device="cpu")
    if pol.METHOD != "mfdiffuser":
        raise SystemExit(f"{ckpt}: an MF-Diffuser checkpoint is needed, not {pol.METHOD!r}")
    cfg, model = pol.cfg, pol.model
    sampler = make_sampler(dataset, cfg)
    sampler.reset(cfg.seed)  # the statistics the run built before its first step
    stats = Stats.from_windows(sampler.sample(cfg.stats_windows))
    sampler.reset(12345)  # the same windows for every checkpoint of one horizon and K
    g, hg = torch.Generator().manual_seed(7), torch.Generator().manual_seed(8)
    adv_std = model.adv_std.clone()
    model.eval()
    out = defaultdict(list)
    with torch.no_grad():
        for _ in range(batches):
            batch = windows_to_torch(sampler.sample(batch_size), torch.device("cpu"), FIELDS)
            _, logs = training_loss(model, batch, cfg, stats, generator=g, head_generator=hg)
            model.adv_std.copy_(adv_std)  # training_loss moves this buffer
            for k in TERMS:
                out[k].append(float(logs[k]))
    return {k: float(np.mean(v)) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--records", required=True, nargs="+", help="globs of records files")
    ap.add_argument("--batches", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    import minari

    torch.set_num_threads(1)
    # one score per (checkpoint, N, evaluation seed): scripts that share checkpoints
    # re-evaluate them, and a repeat must be the same episode
    runs: dict[tuple[str, int, int], float] = {}
    for pattern in args.records:
        for path in sorted(glob.glob(pattern)):
            for line in open(path):
                r = json.loads(line)
                key = (str(r["config"]["policy"]).rstrip("/"), r["n_agents"], r["seed"])
                if key in runs and abs(runs[key] - r["normalized_score"]) > 1e-9:
                    raise SystemExit(f"{key}: two records disagree ({runs[key]} vs "
                                     f"{r['normalized_score']}, {path})")
                runs[key] = r["normalized_score"]
    scores: dict[str, list[float]] = defaultdict(list)
    for (policy, _, _), v in runs.items():
        scores[policy].append(v)
    missing = [c for c in args.checkpoints if c.rstrip("/") not in scores]
    if missing:
        raise SystemExit(f"no records for {missing}")
    dataset = minari.load_dataset(args.dataset)
    rows = []
    for c in args.checkpoints:
        rows.append((c, statistics.mean(scores[c.rstrip("/")]),
                     len(scores[c.rstrip("/")]),
                     losses(c, dataset, args.batches, args.batch_size)))
        print(c, f"{rows[-1][1]:.2f}", flush=True)
    score = [r[1] for r in rows]
    cmd = "python experiments/loss_vs_score.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    lines = ["# MF-Diffuser's training losses vs score", "", "Regenerate with:", "", "```", cmd,
             "```", "",
             f"Each loss term on the same {args.batches} × {args.batch_size} windows of "
             f"`{args.dataset}` (fixed noise), beside the checkpoint's mean normalised score "
             "over its evaluation records.", "",
             "| checkpoint | score (runs) | " + " | ".join(TERMS) + " |",
             "|---|---|" + "---|" * len(TERMS)]
    for c, s, n, m in rows:
        lines.append(f"| {c} | {s:.2f} ({n}) | " + " | ".join(f"{m[k]:.4f}" for k in TERMS)
                     + " |")
    lines += ["", "Spearman's rank correlation of each term with the score, over the "
              f"{len(rows)} checkpoints:", "", "| " + " | ".join(TERMS) + " |",
              "|" + "---|" * len(TERMS),
              "| " + " | ".join(f"{spearmanr([m[k] for *_, m in rows], score)[0]:.2f}"
                                for k in TERMS) + " |"]
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
