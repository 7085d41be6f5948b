#!/usr/bin/env bash
# Four action heads (`head_ensemble=4`, the lead of the sixty-ninth update for Battle's spread)
# on the grid's Battle training seeds 0-2, both tiers, played at N = 10^4 where the config is
# level with BC on exploitability (medium) and behind MFQ-CQL on score (mixed). Each checkpoint
# is the Battle config trained as battle_own_plans.sh trains it (experiments/lib.sh
# train_battle_head: the grid's diffusion and value weights bit for bit, then the head alone on
# its own plans) with four heads, into runs/battle_he4/<tier>-s<seed> (~14 min each, two at a
# time). It plays as the config's cell tables played at N = 10^4: lifting cold on 512 Sinkhorn
# rows, the deviations the expert and BC (the grid's BC checkpoints, trained here where
# missing), 16 evaluation seeds on medium and 8 on mixed, so that every run pairs with the
# committed records of the config, BC and MFQ-CQL (docs/results/battle_n10000_seeds_e16_cold512_medium_bc.md,
# battle_n10000_seeds_e8_cold512_mixed.md). Table: docs/results/head_ens_battle_grid_n10000.md.
# From the repo root:
#     bash experiments/battle_head_ens_n10000.sh                  # ~1.5 h on 2 cores
#     COMPARE_ONLY=1 bash experiments/battle_head_ens_n10000.sh   # the table from the
#       committed records, no episode played
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
source experiments/lib.sh
OUT=runs/battle_he4
R=docs/results/records
SET="head_temperature=0.4 head_min_p=0.05 lift_warm_start=false lift_sinkhorn_rows=512"
stem() {  # TIER SEEDS: exploitability.sh's report name for this run
  echo "exploitability_battle_n10000_seeds012_e$2_he4cold512_vs_bc_devbc_only_expert_bc_$1"
}
if [ "${COMPARE_ONLY:-0}" != 1 ]; then
  mkdir -p "$OUT"
  for tier in medium mixed; do
    mfdiff data build "mfdiff/battle-n1000/$tier-v0" --no-progress > /dev/null  # kept if built
  done
  train() { train_battle_head "$OUT" "$1" "$2" 800 1 --set head_ensemble=4; }
  (train medium 0; train medium 2; train mixed 1) & a=$!  # one lane per core
  (train mixed 0; train medium 1; train mixed 2) & b=$!
  wait_all "$a" "$b"
  python experiments/grid_jobs.py battle --stage train --only bc-s0 bc-s1 bc-s2 --workers 2
  for run in "mixed 8" "medium 16"; do
    read -r tier e <<< "$run"
    JOBS=2 MFD_SET="$SET" MFD_DIR=$OUT BASELINES="bc" DEVIATIONS="expert,bc" DEVIATE_BC=1 \
      MFD_TAG=he4cold512 TRAIN_SEEDS="0 1 2" EVAL_SEEDS=$e EVAL_N=10000 \
      bash experiments/exploitability.sh battle "$tier"
    gzip -9nc "runs/exp/$(stem "$tier" "$e").jsonl" > "$R/records-$(stem "$tier" "$e").jsonl.gz"
  done
fi
he4=$R/records-$(stem medium 16).jsonl.gz+$R/records-$(stem mixed 8).jsonl.gz
cfg=$R/records-exploitability_battle_n10000_seeds012_e16_ownplanscold512_vs_bc_devbc_only_expert_bc_medium.jsonl.gz
cfg+=+$R/records-exploitability_battle_n10000_seeds012_e8_ownplanscold512_vs_bc_devbc_only_expert_bc_mixed.jsonl.gz
mfq=$R/records-exploitability_battle_n10000_seeds012_e8_vs_mfq_nomfd_devbc_only_expert_bc_mixed.jsonl.gz
python experiments/compare_policies.py "four heads=mfdiffuser@$he4" "config=mfdiffuser@$cfg" \
  "BC=bc@$cfg" "MFQ-CQL=mfq@$mfq" --diff "four heads" config --diff "four heads" BC \
  --diff config BC --diff "four heads" MFQ-CQL --per-checkpoint \
  --out docs/results/head_ens_battle_grid_n10000.md \
  --title "Battle at N = 10000 (5000 a team), the grid's training seeds 0-2: the Battle config with four action heads (head_ensemble=4; the same diffusion and value weights as the config's checkpoints, bit for bit) beside the config, BC and (mixed) MFQ-CQL, read from the config's cell tables' records; lifting cold on 512 Sinkhorn rows, the deviations the expert and BC; 16 evaluation seeds on medium, 8 on mixed. Regenerate with: bash experiments/battle_head_ens_n10000.sh (COMPARE_ONLY=1: from the committed records; seventy-fourth update, docs/results/README.md)."
