#!/usr/bin/env bash
# The Ising config against the same checkpoints with their 20 DDIM steps split 8 / 8 / 4 over the
# particle levels (`stage_steps`; experiments/stage_steps.sh measured it on the grid's
# checkpoints and cells), on training seeds nobody picked (SEEDS, default 31 32 33) at
# population sizes in no table (NS, default 400 6400), both tiers: each checkpoint trained
# as `mfdiff train` trains the family (its config, spelled out), then evaluated both ways on the
# same 5 evaluation seeds and paired. Fifty-seventh update, docs/results/README.md. Writes
# docs/results/stage_steps_fresh_ising_<tier>.md. ~30 min on 2 cores. From the repo root:
#     bash experiments/stage_steps_fresh.sh          (SEEDS="40 41" NS="900" for others)
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
SPLIT=${SPLIT:-[8,8,4]}
read -r -a SEEDS <<< "${SEEDS:-31 32 33}"
read -r -a NS <<< "${NS:-400 6400}"
for v in "${SEEDS[@]}" "${NS[@]}"; do
  case $v in ''|*[!0-9]*) echo "stage_steps_fresh.sh: SEEDS and NS are integers" >&2; exit 2;; esac
done
ENV=mfdiff/Ising-v0
KW='{"max_cycles": 50}'
OUT=runs/stage_steps_fresh
mkdir -p "$OUT"
source experiments/lib.sh
name=$(tr -d '[] ' <<< "$SPLIT" | tr ',' '-')
split_label="MF-Diffuser, DDIM steps $(tr -d '[] ' <<< "$SPLIT" | tr ',' '/') by level"
lane() {  # TIER: train each seed (if missing), evaluate it both ways at every N
  local tier=$1 s n dir rec label sets
  rec=$OUT/records-ising-$name-$tier.jsonl
  for s in "${SEEDS[@]}"; do
    dir=$OUT/mfdiffuser-$tier-s$s
    train_once "$dir" "$dir.log" --dataset "mfdiff/ising-n1024/$tier-v0" --algo mfdiffuser \
      --config configs/mfdiffuser/ising.json --set stage_steps=null --set "seed=$s" --threads 1
    for n in "${NS[@]}"; do
      for label in "MF-Diffuser" "$split_label"; do
        sets=()
        [ "$label" = MF-Diffuser ] || sets=(--set "stage_steps=$SPLIT")
        # a record of (label, checkpoint, N) written: a finished run (5 seeds)
        if [ -f "$rec" ] && grep "\"method\": \"$label\"" "$rec" | grep "${dir}\"" \
            | grep -E "\"n_agents\": $n[,}]" >/dev/null; then
          continue
        fi
        mfdiff eval --policy "$dir" --env "$ENV" --n-agents "$n" --env-kwargs "$KW" --seeds 5 \
          --tier "$tier" --threads 1 --label "$label" "${sets[@]}" --no-progress \
          --out "$rec" > /dev/null
      done
    done
  done
}
for tier in medium mixed; do
  mfdiff data build "mfdiff/ising-n1024/$tier-v0" --no-progress > /dev/null  # kept if built
done
lane medium & a=$!
lane mixed & b=$!
wait_all "$a" "$b"
for tier in medium mixed; do
  out=stage_steps_fresh_ising_${name}_$tier
  rec=docs/results/records/records-$out.jsonl.gz
  gzip -n < "$OUT/records-ising-$name-$tier.jsonl" > "$rec"
  python experiments/compare_policies.py "config=MF-Diffuser@$rec" "split=$split_label@$rec" \
    --diff split config --ci t --out "docs/results/$out.md" \
    --title "ising-$tier, training seeds ${SEEDS[*]} (nobody picked them) at N = ${NS[*]} (in \
no table): MF-Diffuser trained with the family config until the fifty-eighth update, acting at it \
(config: its DDIM steps split near-equally) and with its 20 \
DDIM steps split $SPLIT over the particle levels (\`stage_steps\`, split), the same checkpoints \
and 5 evaluation seeds. \`bash experiments/stage_steps_fresh.sh\`; fifty-seventh update, \
docs/results/README.md."
done
