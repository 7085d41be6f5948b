#!/usr/bin/env bash
# Why configs/mfdiffuser/{ising,battle}.json differ from `mfdiff train`'s defaults
# (docs/results/family_settings.md). Needs the grid's Ising and Battle checkpoints
# (bash experiments/grid.sh ising battle); trains two seed-0 variants per tier here. From the
# repo root:
#     bash experiments/family_settings.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
OUT=runs/family_settings
mkdir -p "$OUT/logs"
source experiments/lib.sh
train() {  # family stem tier name override
  train_once "$OUT/ckpt/$2-$3/$4-s0" "$OUT/logs/$2-$3-$4.log" \
    --dataset "mfdiff/$2/$3-v0" --algo mfdiffuser --config "$(mfd_config "$1")" \
    --set "$5" --set seed=0 --set "head_blind=[]" --set head_value=false --threads 1  # the head as when measured
}
for tier in medium mixed; do  # two at a time: one per core
  train ising ising-n1024 "$tier" beta_agent0 beta_agent=0 & a=$!
  train battle battle-n1000 "$tier" steps800 steps=800 & b=$!
  wait_all "$a" "$b"
  train battle battle-n1000 "$tier" beta_agent2 beta_agent=2
done
python experiments/family_settings.py runs/grid "$OUT" > "$OUT/sweep.toml"
# --resume: rows already in records.jsonl are kept (delete it to re-measure everything)
mfdiff eval --sweep "$OUT/sweep.toml" --out "$OUT/records.jsonl" --resume --no-progress --threads 1 \
  --report-dir docs/results --name family_settings --command "bash experiments/family_settings.sh"
