#!/usr/bin/env bash
# The sixty-second update's outside reproduction of Ising-medium (training seeds 13 and 14,
# evaluated at N = 1600 and 1024; docs/results/ising_medium_n1600_seeds13_14.md, MF-Diffuser
# behind IQL on the mean, seed 13 weak) with today's Ising config, which clips the action head's
# inputs to the data's range since the sixty-fifth update (head_data_range, docs/method.md (21)).
# MF-Diffuser is trained as the reproduction trained it, with `mfdiff train`'s default (the
# family config: the same weights as then, now with the data's range recorded), evaluated with
# the settings its checkpoint keeps at both sizes (max_cycles 50, 5 evaluation seeds), and paired
# with the reproduction's committed records of MF-Diffuser (the config then), IQL and BC on the
# same evaluation seeds. Writes docs/results/ising_medium_n1600_seeds13_14_data_range.md and its
# records. ~15 min on 2 cores. From the repo root:
#     bash experiments/ising_n1600_data_range.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=${OUT:-runs/ising_n1600_data_range}
mkdir -p "$OUT"
source experiments/lib.sh
mfdiff data build mfdiff/ising-n1024/medium-v0 --no-progress > /dev/null
lane() {  # SEED: train, then evaluate at N = 1024 and 1600
  local s=$1 n
  train_into "$OUT/mfdiffuser-s$s" "$OUT/mfdiffuser-s$s.log" \
    --dataset mfdiff/ising-n1024/medium-v0 --algo mfdiffuser --set "seed=$s" --threads 1
  for n in 1024 1600; do
    [ -f "$OUT/s$s-n$n.done" ] && continue
    mfdiff eval --policy "$OUT/mfdiffuser-s$s" --env mfdiff/Ising-v0 --n-agents "$n" \
      --env-kwargs '{"max_cycles": 50}' --seeds 5 --tier medium --threads 1 \
      --label "mfdiffuser-range-s$s" --no-progress --out "$OUT/records-s$s.jsonl" > /dev/null
    touch "$OUT/s$s-n$n.done"
  done
}
lane 13 & a=$!
lane 14 & b=$!
wait_all "$a" "$b"
name=ising_medium_n1600_seeds13_14_data_range
rec=docs/results/records/$name.jsonl.gz
old=docs/results/records/ising_medium_n1600_seeds13_14.jsonl.gz
cat "$OUT/records-s13.jsonl" "$OUT/records-s14.jsonl" | gzip -9n > "$rec"
python experiments/compare_policies.py \
  "data range=mfdiffuser-range-s13,mfdiffuser-range-s14@$rec" \
  "MF-Diffuser then=mfdiffuser-s13,mfdiffuser-s14@$old" \
  "IQL=iql-s13,iql-s14@$old" "BC=bc-s13,bc-s14@$old" \
  "data range s13=mfdiffuser-range-s13@$rec" "then s13=mfdiffuser-s13@$old" \
  "IQL s13=iql-s13@$old" "data range s14=mfdiffuser-range-s14@$rec" \
  "then s14=mfdiffuser-s14@$old" "IQL s14=iql-s14@$old" \
  --diff "data range" "MF-Diffuser then" --diff "data range" IQL --diff "data range" BC \
  --diff "data range s13" "then s13" --diff "data range s13" "IQL s13" \
  --diff "data range s14" "then s14" --diff "data range s14" "IQL s14" \
  --ci t --out "docs/results/$name.md" \
  --title "Ising-medium at N = 1600 and 1024, training seeds 13 and 14 (the sixty-second \
update's outside reproduction): MF-Diffuser trained with today's config (head_data_range, \
sixty-fifth update) beside the reproduction's own records of MF-Diffuser with the config then, \
IQL and BC, same evaluation seeds. \`bash experiments/ising_n1600_data_range.sh\`."
