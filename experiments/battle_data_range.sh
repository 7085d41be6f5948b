#!/usr/bin/env bash
# Battle's MF-Diffuser config acting with the action head's inputs clipped to the training
# data's range (Config.head_data_range, docs/method.md (21); the Ising config since the
# sixty-fifth update) and without, on the grid's checkpoints of training seeds SEEDS (default
# 0 1), both tiers, retrained with the grid's own command (`mfdiff train`'s default, the family
# config: the same weights as the grid's, bit for bit, now with the data's range recorded), each
# evaluated as the grid's "MF-Diffuser" row acts (its --set, spelled out below) at N = 100,
# 1000, 10^4 (max_cycles 150 against the scripted expert, 5 evaluation seeds), paired with
# each other and with the grid's committed records of BC and IQL. The run without the clipping
# replays the grid's own MF-Diffuser records. Writes docs/results/battle_data_range.md and its
# records. ~35 min on 2 cores (training ~7-15 min a checkpoint: 400 head-only steps on the
# model's own plans). From the repo root:
#     bash experiments/battle_data_range.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=${OUT:-runs/battle_data_range}
read -r -a SEEDS <<< "${SEEDS:-0 1}"
mkdir -p "$OUT"
source experiments/lib.sh
sets=(act_with=auto head_temperature=0.4 head_decode=sample ddim_steps=40 replan_every=7
      head_min_p=0.05)
set_args=()
for kv in "${sets[@]}"; do set_args+=(--set "$kv"); done
for tier in medium mixed; do mfdiff data build "mfdiff/battle-n1000/$tier-v0" --no-progress > /dev/null; done
lane() {  # TIER: train the seeds as the grid does, then evaluate each with and without
  local tier=$1 s n clip rec=$OUT/records-$1.jsonl
  for s in "${SEEDS[@]}"; do
    train_into "$OUT/$tier-s$s" "$OUT/$tier-s$s.log" --dataset "mfdiff/battle-n1000/$tier-v0" \
      --algo mfdiffuser --set "seed=$s" "${LIFT_BEFORE[@]}" --threads 1
  done
  for s in "${SEEDS[@]}"; do for n in 100 1000 10000; do for clip in true false; do
    [ -f "$OUT/$tier-s$s-n$n-$clip.done" ] && continue
    mfdiff eval --policy "$OUT/$tier-s$s" --env mfdiff/Battle-v0 --n-agents "$n" \
      --env-kwargs '{"max_cycles": 150, "opponent": "expert"}' --seeds 5 --tier "$tier" \
      --threads 1 "${set_args[@]}" --set "head_data_range=$clip" --label "range-$clip" \
      --no-progress --out "$rec" > /dev/null
    touch "$OUT/$tier-s$s-n$n-$clip.done"
  done; done; done
}
lane medium & a=$!
lane mixed & b=$!
wait_all "$a" "$b"
grid=docs/results/records/records-battle.jsonl.gz
name=battle_data_range
rec=docs/results/records/records-$name.jsonl.gz
cat "$OUT/records-medium.jsonl" "$OUT/records-mixed.jsonl" | gzip -9n > "$rec"
python experiments/compare_policies.py "data range=range-true@$rec" "config=range-false@$rec" \
  "IQL=IQL@$grid" "BC=BC@$grid" \
  --diff "data range" config --diff "data range" IQL --diff "data range" BC --diff config BC \
  --ci t --out "docs/results/$name.md" \
  --title "Battle, both tiers: the grid's MF-Diffuser checkpoints (training seeds ${SEEDS[*]}, \
retrained with the grid's command: the same weights) acting as the grid's config with and \
without the action head's inputs clipped to the training data's range (head_data_range), \
beside the grid's records of IQL and BC (all their training seeds) on the same evaluation \
seeds; 5 evaluation seeds a checkpoint. \`bash experiments/battle_data_range.sh\`."
