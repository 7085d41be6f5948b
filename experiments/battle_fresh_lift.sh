#!/usr/bin/env bash
# An outside-style check of the Battle config since the seventy-second update (its lifting cold
# on 512 Sinkhorn rows above N = 4000): a training seed and a population size in no other table
# (SEED, default 7; EVAL_N, default 8000, 4000 a team), both tiers. MF-Diffuser, BC and IQL are
# trained with `mfdiff train`'s defaults (the family configs, as the grid trains them; ~11 min
# for MF-Diffuser on one core), then each plays 5 evaluation seeds as the grid plays Battle
# (max_cycles 150 against the scripted expert): MF-Diffuser at its own settings (the config) and
# with the lifting before (`--set lift_warm_start=true --set lift_sinkhorn_rows=2048`), paired
# by evaluation seed (experiments/compare_policies.py, t-interval) into
# docs/results/battle_fresh_lift_s<SEED>_n<EVAL_N>.md. From the repo root:
#     bash experiments/battle_fresh_lift.sh            # ~15 min a tier on one core
#     COMPARE_ONLY=1 bash experiments/battle_fresh_lift.sh   # the table from the committed
#       records (docs/results/records/records-battle_fresh_lift_s<SEED>_n<EVAL_N>.jsonl.gz)
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
source experiments/lib.sh
SEED=${SEED:-7}
N=${EVAL_N:-8000}
for v in "$SEED" "$N"; do
  case $v in ''|*[!0-9]*) echo "battle_fresh_lift.sh: SEED and EVAL_N are integers" >&2; exit 2;; esac
done
[ $((N % 2)) = 0 ] || { echo "battle_fresh_lift.sh: EVAL_N is even (two teams)" >&2; exit 2; }
OUT=runs/battle_fresh_lift
NAME=battle_fresh_lift_s${SEED}_n$N
mkdir -p "$OUT"
kw='{"max_cycles": 150, "opponent": "expert"}'
lane() {  # TIER: train the three, then evaluate
  local tier=$1 a d o=$OUT/records-$tier-s$SEED-n$N.jsonl
  mfdiff data build "mfdiff/battle-n1000/$tier-v0" --no-progress > /dev/null  # kept if built
  for a in mfdiffuser bc iql; do
    d=$OUT/$a-$tier-s$SEED
    train_into "$d" "$d.log" --dataset "mfdiff/battle-n1000/$tier-v0" --algo "$a" \
      --set "seed=$SEED" --threads 1
  done
  rm -f "$o.part"
  ev() { mfdiff eval --policy "$1" --env mfdiff/Battle-v0 --n-agents "$N" --seeds 5 \
    --env-kwargs "$kw" --tier "$tier" --threads 1 --no-progress --out "$o.part" "${@:2}" > /dev/null; }
  ev "$OUT/mfdiffuser-$tier-s$SEED" --label MF-Diffuser
  ev "$OUT/mfdiffuser-$tier-s$SEED" --label "MF-Diffuser, warm lift" \
    --set lift_warm_start=true --set lift_sinkhorn_rows=2048
  ev "$OUT/bc-$tier-s$SEED" --label BC
  ev "$OUT/iql-$tier-s$SEED" --label IQL
  mv "$o.part" "$o"
}
rec=docs/results/records/records-$NAME.jsonl.gz
if [ "${COMPARE_ONLY:-0}" != 1 ]; then
  lane medium & a=$!
  lane mixed & b=$!
  wait_all "$a" "$b"
  cat "$OUT/records-medium-s$SEED-n$N.jsonl" "$OUT/records-mixed-s$SEED-n$N.jsonl" | gzip -9n > "$rec"
fi
again="bash experiments/battle_fresh_lift.sh"
[ "$SEED" != 7 ] && again="SEED=$SEED $again"
[ "$N" != 8000 ] && again="EVAL_N=$N $again"
python experiments/compare_policies.py "config=MF-Diffuser@$rec" "warm lift=MF-Diffuser, warm lift@$rec" \
  "BC=BC@$rec" "IQL=IQL@$rec" --diff config "warm lift" --diff config BC --diff config IQL \
  --ci t --out "docs/results/$NAME.md" \
  --title "Battle at N = $N ($((N / 2)) a team), training seed $SEED (a seed and a size in no other table), both tiers: the MF-Diffuser config since the seventy-second update (its lifting cold on 512 Sinkhorn rows) and the same checkpoint lifting as before it (warm, 2048 rows), beside BC and IQL of the same seed, all trained with mfdiff train's defaults; 5 evaluation seeds each. Regenerate with: $again (COMPARE_ONLY=1: from the committed records; seventy-second update, docs/results/README.md)."
