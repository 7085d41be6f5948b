#!/usr/bin/env bash
# Offline-RL baselines (docs/results/baselines.md): MFQ-CQL before/after the acting-temperature
# fix, IQL and BC on Squeeze medium + mixed (N = 1000) and Ising medium (N = 1024).
#
#     bash experiments/baselines.sh            # from the repo root; ~30 CPU-minutes (2 workers)
#
# MFQ "before" and "after" are the SAME trained Q network (the fix changes only the acting
# temperature; training is unchanged): "before" loads it with temperature=1.0 (the old default),
# "after" with the new default (0.1). Training seeds: 0 and 1 for MFQ and IQL, 0 for BC.
# Every checkpoint is evaluated over 3 seeds; finished checkpoints are reused
# (delete runs/baselines to retrain). Prints the markdown tables.
set -euo pipefail
cd "$(dirname "$0")/.."
source experiments/lib.sh
OUT=runs/baselines
mkdir -p "$OUT/ckpt" "$OUT/logs"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OUT
STEPS_bc=1000    # the results grid's budgets (experiments/grid.sh)
STEPS_mfq=1500
STEPS_iql=1500
export STEPS_bc STEPS_mfq STEPS_iql

mfdiff data build mfdiff/squeeze-n1000/medium-v0 --no-progress || true  # "exists" is fine
mfdiff data build mfdiff/squeeze-n1000/mixed-v0 --no-progress || true
mfdiff data build mfdiff/ising-n1024/medium-v0 --no-progress || true

run_one() {  # run_one DATASET ALGO SEED: train (unless done), then evaluate 3 seeds
  local ds=$1 algo=$2 seed=$3 var="STEPS_$2"
  local stem; stem=$(echo "$ds" | tr '/' '_')
  local dir="$OUT/ckpt/$stem/$algo-s$seed"
  local env='mfdiff/GaussianSqueeze-v0' n=1000 kw='{"max_cycles": 25}'
  case $ds in *ising*) env='mfdiff/Ising-v0' n=1024 kw='{}';; esac
  train_once "$dir" "$OUT/logs/train-$stem-$algo-s$seed.log" --dataset "$ds" --algo "$algo" \
    --set "steps=${!var}" --set "seed=$seed" --set device=cpu --threads 1
  local variants=("default")
  [ "$algo" = mfq ] && variants+=("temperature=1.0")
  for v in "${variants[@]}"; do
    local sets=() tag=$algo
    [ "$v" != default ] && sets=(--set "$v") && tag="$algo-before"
    rm -f "$dir/eval-$tag.jsonl"
    mfdiff eval --policy "$dir" --env "$env" --n-agents "$n" --seeds 3 --env-kwargs "$kw" \
      --dataset "$ds" --no-progress --threads 1 --out "$dir/eval-$tag.jsonl" "${sets[@]}" \
      > "$OUT/logs/eval-$stem-$tag-s$seed.log" 2>&1
  done
}
export -f run_one

for ds in mfdiff/squeeze-n1000/medium-v0 mfdiff/squeeze-n1000/mixed-v0 \
          mfdiff/ising-n1024/medium-v0; do
  for job in "iql 0" "iql 1" "mfq 0" "mfq 1" "bc 0"; do echo "$ds $job"; done
done | xargs -P 2 -L 1 bash -c 'run_one "$@"' _

python - <<'EOF'
import glob, json, os
import numpy as np

rows = {}
for path in sorted(glob.glob(os.environ["OUT"] + "/ckpt/*/*/eval-*.jsonl")):
    ds = path.split("/")[-3].replace("_", "/", 2)
    tag = os.path.basename(path)[5:-6]
    seed = path.split("/")[-2].rsplit("-s", 1)[1]
    recs = [json.loads(line) for line in open(path)]
    rows.setdefault(tag, {}).setdefault(ds, []).append(
        (seed, [r["normalized_score"] for r in recs]))
dss = ["mfdiff/squeeze-n1000/medium-v0", "mfdiff/squeeze-n1000/mixed-v0",
       "mfdiff/ising-n1024/medium-v0"]
print("| method | " + " | ".join(dss) + " |")
print("|---" * (len(dss) + 1) + "|")
label = {"bc": "BC", "mfq-before": "MFQ-CQL before (T = 1)", "mfq": "MFQ-CQL after (T = 0.1)",
         "iql": "IQL"}
for tag in ("bc", "mfq-before", "mfq", "iql"):
    cells = []
    for ds in dss:
        runs = rows.get(tag, {}).get(ds, [])
        if not runs:
            cells.append("–")
            continue
        per = [f"s{s}: {np.mean(v):.1f}" for s, v in runs]
        allv = np.concatenate([v for _, v in runs])
        cells.append(f"**{allv.mean():.1f}** ± {allv.std():.1f} ({', '.join(per)})")
    print(f"| {label[tag]} | " + " | ".join(cells) + " |")
EOF
