#!/usr/bin/env bash
# Do Ising-medium's weak training seeds need more models or more plans (forty-sixth update,
# docs/results/README.md)? The 8 MF-Diffuser checkpoints of experiments/fresh_seeds.sh
# (training seeds 0 1 2 17 18 19 20 21, medium data; the forty-fifth update's) at N = 2025,
# 5 evaluation seeds each, acting four ways beside the config (4 plans, one checkpoint):
#   ensembles of 2 checkpoints (seeds paired in this order: 0+1, 2+17, 18+19, 20+21), 2 plans
#   each (the config's acting cost), and 4 plans each (twice it);
#   each checkpoint alone with 2 plans (the members of the first) and with 8 (twice the cost).
# Needs runs/fresh_ising (SEEDS="0 1 2" TIERS=medium bash experiments/fresh_seeds.sh ising, and
# TIERS=medium bash experiments/fresh_seeds.sh ising). Writes docs/results/ensemble_ising_*.md.
# ~75 min on 2 cores. From the repo root:
#     bash experiments/ensemble_seeds.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/ensemble
RUNS=runs/fresh_ising
SEEDS=(0 1 2 17 18 19 20 21)
mkdir -p "$OUT"
source experiments/lib.sh
need_checkpoints "SEEDS=\"0 1 2\" TIERS=medium bash experiments/fresh_seeds.sh ising; TIERS=medium bash experiments/fresh_seeds.sh ising" \
  "${SEEDS[@]/#/$RUNS/mfdiffuser-medium-s}"
ensembles() {  # NAME SIZE PLANS: every group on one of 2 lanes
  local lane pids=()
  for lane in 0 1; do
    python experiments/ensemble_seeds.py ising "$RUNS" --tier medium --n 2025 --size "$2" \
      --plans "$3" --seeds "${SEEDS[@]}" --lane "$lane" --lanes 2 \
      --out "$OUT/records-ising-medium-n2025$1-lane$lane.jsonl" > "$OUT/ensemble$1-lane$lane.log" 2>&1 &
    pids+=($!)
  done
  wait_all "${pids[@]}"
}
ensembles -size2-plans2 2 2
ensembles -size1-plans2 1 2
ensembles -size2-plans4 2 4
TIER=medium PLANS=8 REPORT=0 bash experiments/plans_seeds.sh  # each checkpoint with 8 plans
# the committed records: one file a way of acting (two share the label "ensemble of 2")
rec=docs/results/records/records-ensemble_ising_n2025_medium
for v in size2-plans2 size1-plans2 size2-plans4 plans8; do
  cat "$OUT/records-ising-medium-n2025-$v-lane0.jsonl" "$OUT/records-ising-medium-n2025-$v-lane1.jsonl" \
    | gzip -n > "$rec-$v.jsonl.gz"
done
fresh=docs/results/records/records-fresh_ising_seeds012_n2025_medium.jsonl.gz
fresh+=+docs/results/records/records-fresh_ising_seeds1718192021_n2025_medium.jsonl.gz
python experiments/compare_policies.py \
  "config (4 plans)=MF-Diffuser@$fresh" \
  "ensemble 2 x 2 plans=MF-Diffuser ensemble of 2@$rec-size2-plans2.jsonl.gz" \
  "alone, 2 plans=MF-Diffuser ensemble of 1@$rec-size1-plans2.jsonl.gz" \
  "ensemble 2 x 4 plans=MF-Diffuser ensemble of 2@$rec-size2-plans4.jsonl.gz" \
  "alone, 8 plans=MF-Diffuser, 8 plans@$rec-plans8.jsonl.gz" \
  "IQL=IQL@$fresh" \
  --diff "ensemble 2 x 2 plans" "alone, 2 plans" --diff "ensemble 2 x 2 plans" "config (4 plans)" \
  --diff "ensemble 2 x 4 plans" "config (4 plans)" --diff "alone, 8 plans" "config (4 plans)" \
  --diff "config (4 plans)" IQL --diff "ensemble 2 x 4 plans" IQL --diff "alone, 8 plans" IQL \
  --ci t --out docs/results/ensemble_ising_n2025_medium.md --title "Ising-medium at N = 2025: \
the 8 MF-Diffuser checkpoints of the forty-fifth update (training seeds 0-2, 17-21) acting as the \
config does (4 plans, one checkpoint), as ensembles of 2 checkpoints (seeds 0+1, 2+17, 18+19, \
20+21; experiments/ensemble_seeds.py) with 2 plans a member (the config's acting cost) or 4 \
(twice it), and alone with 2 plans (the members) or 8 (twice the cost); IQL's 8 checkpoints \
beside. 5 evaluation seeds a checkpoint or ensemble. \"alone, 2 plans\" is a one-member \
ensemble (the member alone, bit for bit: tests/test_ensemble.py). Forty-sixth update, \
docs/results/README.md."
# each checkpoint's (or ensemble's) mean over its 5 evaluation seeds, and the population's
# mean magnetisation over the episode (its sign: the direction the lattice orders in)
python - "$fresh" "$rec" >> docs/results/ensemble_ising_n2025_medium.md <<'PY'
import sys

import numpy as np

from mfdiff_agents.evaluation import read_records

fresh, rec = sys.argv[1], sys.argv[2]
rows = {"config (4 plans)": (fresh.split("+"), "MF-Diffuser"),
        "alone, 2 plans": ([f"{rec}-size1-plans2.jsonl.gz"], None),
        "alone, 8 plans": ([f"{rec}-plans8.jsonl.gz"], None),
        "ensemble 2 x 2 plans": ([f"{rec}-size2-plans2.jsonl.gz"], None),
        "ensemble 2 x 4 plans": ([f"{rec}-size2-plans4.jsonl.gz"], None)}
print("\nPer checkpoint (or ensemble): mean score over its 5 evaluation seeds, and the "
      "population's magnetisation averaged over each episode's steps, then over the episodes "
      "(its sign: the direction the lattice orders in; near 0: slow ordering, or episodes "
      "ordering in opposite directions).\n")
print("| acting | checkpoint(s) | score | magnetisation |\n|---|---|---|---|")
for label, (files, method) in rows.items():
    by: dict[str, list[dict]] = {}
    for r in read_records(*files):
        if method is None or r["method"] == method:
            name = "+".join(p.rsplit("-s", 1)[1] for p in r["config"]["policy"].split("+"))
            by.setdefault(name, []).append(r)
    for name in sorted(by, key=lambda s: [int(x) for x in s.split("+")]):
        rs = by[name]
        score = np.mean([r["normalized_score"] for r in rs])
        mag = np.mean([r["metrics_mean"]["magnetisation"] for r in rs])
        print(f"| {label} | {name} | {score:.1f} | {mag:+.2f} |")
PY
