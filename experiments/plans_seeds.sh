#!/usr/bin/env bash
# More plans a step on the 8 MF-Diffuser checkpoints of experiments/fresh_seeds.sh (training
# seeds 0 1 2 17 18 19 20 21, Ising at N = 2025, 5 evaluation seeds each), as `mfdiff eval
# --set plan_samples=PLANS` acts (the forty-sixth update, docs/results/README.md).
# TIER=medium is part of experiments/ensemble_seeds.sh (which calls this with REPORT=0);
# another tier writes docs/results/plans<PLANS>_ising_n2025_<tier>.md: the checkpoints with
# PLANS plans beside the config (4) and IQL, paired by evaluation seed and over training seeds.
# ~35 min on 2 cores with PLANS=8. From the repo root:
#     TIER=mixed PLANS=8 bash experiments/plans_seeds.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
TIER=${TIER:-mixed}
PLANS=${PLANS:-8}
REPORT=${REPORT:-1}
OUT=runs/ensemble
RUNS=runs/fresh_ising
case $TIER in medium|mixed) ;; *) echo "plans_seeds.sh: TIER: medium mixed" >&2; exit 2;; esac
case $PLANS in ''|*[!0-9]*|0) echo "plans_seeds.sh: PLANS is a positive integer" >&2; exit 2;; esac
mkdir -p "$OUT"
source experiments/lib.sh
how="SEEDS=\"0 1 2\" TIERS=$TIER bash experiments/fresh_seeds.sh ising; TIERS=$TIER bash experiments/fresh_seeds.sh ising"
need_checkpoints "$how" $RUNS/mfdiffuser-"$TIER"-s{0,1,2,17,18,19,20,21}
lane() {  # LANE SEED...: each checkpoint alone with PLANS plans, as `mfdiff eval` acts
  local lane=$1 s out
  shift
  out=$OUT/records-ising-$TIER-n2025-plans$PLANS-lane$lane.jsonl
  for s in "$@"; do  # a record names its checkpoint: one written is a finished run (5 seeds)
    if [ -f "$out" ] && grep -q "mfdiffuser-$TIER-s$s\"" "$out"; then continue; fi
    mfdiff eval --policy "$RUNS/mfdiffuser-$TIER-s$s" --env mfdiff/Ising-v0 --n-agents 2025 \
      --env-kwargs '{"max_cycles": 50}' --seeds 5 --tier "$TIER" --set "plan_samples=$PLANS" \
      --threads 1 --label "MF-Diffuser, $PLANS plans" --no-progress --out "$out" > /dev/null
  done
}
lane 0 0 2 18 20 & a=$!
lane 1 1 17 19 21 & b=$!
wait_all "$a" "$b"
[ "$REPORT" = 1 ] || exit 0
name=plans${PLANS}_ising_n2025_$TIER
rec=docs/results/records/records-$name.jsonl.gz
cat "$OUT/records-ising-$TIER-n2025-plans$PLANS-lane0.jsonl" \
  "$OUT/records-ising-$TIER-n2025-plans$PLANS-lane1.jsonl" | gzip -n > "$rec"
fresh=docs/results/records/records-fresh_ising_seeds012_n2025_$TIER.jsonl.gz
fresh+=+docs/results/records/records-fresh_ising_seeds1718192021_n2025_$TIER.jsonl.gz
python experiments/compare_policies.py "config (4 plans)=MF-Diffuser@$fresh" \
  "$PLANS plans=MF-Diffuser, $PLANS plans@$rec" "IQL=IQL@$fresh" "BC=BC@$fresh" \
  --diff "$PLANS plans" "config (4 plans)" --diff "$PLANS plans" IQL --diff "$PLANS plans" BC \
  --diff "config (4 plans)" IQL --ci t --out "docs/results/$name.md" \
  --title "Ising-$TIER at N = 2025: the 8 MF-Diffuser checkpoints of the forty-fifth update \
(training seeds 0-2, 17-21) acting on $PLANS plans a step instead of the config's 4 \
(\`mfdiff eval --set plan_samples=$PLANS\`), beside the config, IQL and BC (their committed \
records); 5 evaluation seeds a checkpoint. \`TIER=$TIER PLANS=$PLANS bash \
experiments/plans_seeds.sh\`; forty-sixth update, docs/results/README.md."
