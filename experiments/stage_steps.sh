#!/usr/bin/env bash
# The Ising family config with its 20 DDIM steps split 8 / 8 / 4 over the particle levels
# 32 / 128 / 512 (`stage_steps`) instead of the near-equal 6 / 7 / 7: the denoiser's cost a plan
# is Σ steps × K over the levels (4672 → 3328 particle-steps at N ≥ 512), and at N = 10² the
# capped schedule (32, 100) gets 8 / 12 instead of 10 / 10 (1320 → 1456). The grid's
# MF-Diffuser checkpoints (training seeds 0-2, both tiers; trained as the grid trains them where
# missing), evaluated as the grid evaluates the family (5 evaluation seeds a checkpoint, N = 10²,
# 1024, 10⁴), beside the grid's committed records of the same checkpoints and evaluation seeds
# (the config's near-equal split) and the best baselines. Fifty-seventh update,
# docs/results/README.md. Writes docs/results/stage_steps_ising_<tier>.md. ~25 min on 2 cores.
# From the repo root:
#     bash experiments/stage_steps.sh                 (SPLIT="[9,8,3]" NS="100 1024" for others)
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
SPLIT=${SPLIT:-[8,8,4]}
read -r -a NS <<< "${NS:-100 1024 10000}"
ENV=mfdiff/Ising-v0
KW='{"max_cycles": 50}'
OUT=runs/stage_steps
mkdir -p "$OUT"
source experiments/lib.sh
name=$(tr -d '[] ' <<< "$SPLIT" | tr ',' '-')
label="MF-Diffuser, DDIM steps $(tr -d '[] ' <<< "$SPLIT" | tr ',' '/') by level"
lane() {  # TIER: each grid checkpoint at every N
  local tier=$1 s n dir rec
  rec=$OUT/records-ising-$name-$tier.jsonl
  for s in 0 1 2; do
    dir=runs/grid/ckpt/ising-n1024-$tier/mfdiffuser-s$s
    # the grid's recipe (grid_jobs.py: the family config, the seed), its planning settings as
    # they were (stage_steps null: the near-equal split)
    train_once "$dir" "$dir.log" --dataset "mfdiff/ising-n1024/$tier-v0" --algo mfdiffuser \
      --config configs/mfdiffuser/ising.json --set stage_steps=null --set "seed=$s" --threads 1
    for n in "${NS[@]}"; do  # a record of (checkpoint, N) written: a finished run (5 seeds)
      if [ -f "$rec" ] && grep "${dir}\"" "$rec" | grep -E "\"n_agents\": $n[,}]" >/dev/null
      then
        continue
      fi
      mfdiff eval --policy "$dir" --env "$ENV" --n-agents "$n" --env-kwargs "$KW" --seeds 5 \
        --tier "$tier" --threads 1 --label "$label" --set "stage_steps=$SPLIT" --no-progress \
        --out "$rec" > /dev/null
    done
  done
}
for tier in medium mixed; do
  mfdiff data build "mfdiff/ising-n1024/$tier-v0" --no-progress > /dev/null  # kept if built
done
lane medium & a=$!
lane mixed & b=$!
wait_all "$a" "$b"
grid=docs/results/records/records-ising.jsonl.gz
for tier in medium mixed; do
  out=stage_steps_ising_${name}_$tier
  rec=docs/results/records/records-$out.jsonl.gz
  gzip -n < "$OUT/records-ising-$name-$tier.jsonl" > "$rec"
  python experiments/compare_policies.py "config=MF-Diffuser, even DDIM split@$grid" "split=$label@$rec" \
    "IQL=IQL@$grid" "IQL ewc=IQL, equal wall-clock@$grid" "BC=BC@$grid" \
    "MFQ-CQL ewc=MFQ-CQL, equal wall-clock@$grid" \
    --diff split config --diff split IQL --diff split "IQL ewc" --diff split BC \
    --diff split "MFQ-CQL ewc" --diff config IQL --ci t --out "docs/results/$out.md" \
    --title "ising-$tier, the grid's cells: the grid's MF-Diffuser checkpoints (training seeds \
0-2) planning with their 20 DDIM steps split $SPLIT over the particle levels (\`stage_steps\`) \
instead of the near-equal split, beside the same checkpoints at the config until the \
fifty-eighth update, its steps split near-equally (config: the grid's row \"MF-Diffuser, even \
DDIM split\"; the split is the config since), \
IQL, BC and MFQ-CQL (their committed records, the same evaluation seeds); 5 evaluation seeds a \
checkpoint; acting latency per env step in each record. \`bash experiments/stage_steps.sh\`; \
fifty-seventh update, docs/results/README.md."
done
