#!/usr/bin/env bash
# The grid's Ising MF-Diffuser acting with its action head's inputs clipped to the training
# data's range (Config.head_data_range, docs/method.md (21)). Training seeds 0-2 of both tiers
# are trained again with the grid's own command (experiments/grid_jobs.py: the family config,
# stage_steps and head_data_range pinned as make_sweep.GRID_TRAIN_PINNED says): the same
# weights as the grid's checkpoints, bit for bit, now with the data's range in their
# statistics (the checkpoints of the table were trained before the config set head_data_range,
# without the pin: the same run). Each is evaluated as the grid's "MF-Diffuser" row
# acts (its --set, spelled out below) plus head_data_range=true at the grid's sizes N = 100,
# 1024, 3025, 10^4 (max_cycles 50, 5 evaluation seeds), then paired with the grid's committed
# records of the same evaluation seeds: the config without the clipping (the grid's row
# "MF-Diffuser, no data range": its "MF-Diffuser" row until the sixty-sixth update, which since
# acts as this script's row does and replays its records), IQL and BC. Writes
# docs/results/ising_data_range.md and its records under docs/results/records/. ~35 min on
# 2 cores (6 trainings of ~1 min, ~20 s an evaluation episode). From the repo root:
#     bash experiments/ising_data_range.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=${OUT:-runs/ising_data_range}
mkdir -p "$OUT"
source experiments/lib.sh
label="MF-Diffuser, data range"
# the grid's "MF-Diffuser" row on Ising (records-ising.jsonl.gz, config.set), then the change
sets=(act_with=auto head_temperature=0.0 head_decode=balanced ddim_steps=20 replan_every=1
      "k_schedule=[32, 128, 512]" plan_samples=4 plan_combine=mean "stage_steps=[8, 8, 4]"
      head_data_range=true)
set_args=()
for kv in "${sets[@]}"; do set_args+=(--set "$kv"); done
for tier in medium mixed; do mfdiff data build "mfdiff/ising-n1024/$tier-v0" --no-progress > /dev/null; done
lane() {  # TIER: train seeds 0-2 as the grid does, then evaluate them at the grid's sizes
  local tier=$1 s n rec=$OUT/records-$1.jsonl
  for s in 0 1 2; do
    train_into "$OUT/$tier-s$s" "$OUT/$tier-s$s.log" --dataset "mfdiff/ising-n1024/$tier-v0" \
      --algo mfdiffuser --set stage_steps=None --set head_data_range=False --set "seed=$s" \
      --threads 1
  done
  for s in 0 1 2; do for n in 100 1024 3025 10000; do
    [ -f "$OUT/$tier-s$s-n$n.done" ] && continue
    mfdiff eval --policy "$OUT/$tier-s$s" --env mfdiff/Ising-v0 --n-agents "$n" \
      --env-kwargs '{"max_cycles": 50}' --seeds 5 --tier "$tier" --threads 1 \
      "${set_args[@]}" --label "$label" --no-progress --out "$rec" > /dev/null
    touch "$OUT/$tier-s$s-n$n.done"
  done; done
}
lane medium & a=$!
lane mixed & b=$!
wait_all "$a" "$b"
grid=docs/results/records/records-ising.jsonl.gz
name=ising_data_range
rec=docs/results/records/records-$name.jsonl.gz
cat "$OUT/records-medium.jsonl" "$OUT/records-mixed.jsonl" | gzip -9n > "$rec"
python experiments/compare_policies.py "data range=$label@$rec" \
  "config=MF-Diffuser, no data range@$grid" \
  "IQL=IQL@$grid" "BC=BC@$grid" \
  --diff "data range" config --diff "data range" IQL --diff config IQL --diff "data range" BC \
  --ci t --out "docs/results/$name.md" \
  --title "Ising, both tiers: the grid's MF-Diffuser checkpoints (training seeds 0-2, retrained \
with the grid's command: the same weights) acting as the Ising config, the action head's \
inputs clipped to the training data's range (head_data_range), beside the grid's own records \
of the config without it (config: the grid's row \"MF-Diffuser, no data range\"), IQL and BC on \
the same evaluation seeds; 5 evaluation seeds a checkpoint. \
\`bash experiments/ising_data_range.sh\`."
