#!/usr/bin/env bash
# Battle at N = 10^2 (50 a team) with 150 evaluation seeds instead of the grid's 5: the Battle
# config (MF-Diffuser, its head trained on its own plans: experiments/battle_own_plans.sh's
# checkpoints, the grid's "MF-Diffuser" weights) beside every baseline row of the grid (BC,
# MFQ-CQL, IQL, each at its step budget and at equal wall-clock), training seeds 0-2, score and
# exploitability (the expert and BC as the deviations; experiments/exploitability.sh), paired by
# evaluation seed (experiments/compare_policies.py). At N = 10^2 an episode is won or lost by a
# handful of agents, so 5 evaluation seeds can rank the rows by luck: this table says which
# grid verdicts at N = 10^2 hold on 30x the episodes (thirty-fourth update).
# Needs the grid's Battle checkpoints (bash experiments/grid.sh battle) and battle_own_plans.sh's.
# ~25 min per tier on 2 cores (MF-Diffuser's rollouts are most of it). From the repo root:
#     bash experiments/battle_n100_seeds.sh            # both tiers
#     bash experiments/battle_n100_seeds.sh mixed      # one tier
#     EVAL_N=1000 EVAL_SEEDS=30 bash experiments/battle_n100_seeds.sh  # another N (both teams;
#       1000 = the training N) and seed count (report battle_n<N>_seeds_e<E>_<tier>.md)
# COMPARE_ONLY=1 writes the tables from the record files of an earlier run (no evaluation).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
TIERS=("${@:-medium mixed}")
read -r -a TIERS <<< "${TIERS[*]}"
for tier in "${TIERS[@]}"; do
  case $tier in medium|mixed) ;; *) echo "battle_n100_seeds.sh: tiers: medium mixed" >&2
                                   exit 2;; esac
done
case ${COMPARE_ONLY:-0} in 0|1) ;; *) echo "battle_n100_seeds.sh: COMPARE_ONLY is 0 or 1" >&2
                                     exit 2;; esac
N=${EVAL_N:-100}
SEEDS=${EVAL_SEEDS:-150}
for v in "$N" "$SEEDS"; do
  case $v in ''|*[!0-9]*) echo "battle_n100_seeds.sh: EVAL_N and EVAL_SEEDS are integers" >&2
                          exit 2;; esac
done
NAME=battle_n${N}_seeds
[ "$SEEDS" != 150 ] && NAME+=_e$SEEDS
STEMS=(bc-wc mfq mfq-wc iql iql-wc)
COMMON=(DEVIATIONS="expert,bc" DEVIATE_BC=1 TRAIN_SEEDS="0 1 2" EVAL_SEEDS="$SEEDS" EVAL_N="$N" JOBS=2)
# exploitability.sh's report names: _n<N> unless N is the training N, _e<E> unless 3 seeds
E=runs/exp/exploitability_battle
[ "$N" != 1000 ] && E+=_n$N
E+=_seeds012
[ "$SEEDS" != 3 ] && E+=_e$SEEDS
for tier in "${TIERS[@]}"; do
  own=${E}_ownplans_vs_bc_devbc_only_expert_bc_$tier.jsonl
  if [ "${COMPARE_ONLY:-0}" = 0 ]; then
    # the config's acting (make_sweep's Battle row) on battle_own_plans.sh's checkpoints, and BC
    env "${COMMON[@]}" MFD_SET="head_temperature=0.4 head_min_p=0.05" \
      MFD_DIR=runs/battle_head_steps_own_plans MFD_TAG=ownplans BASELINES=bc \
      bash experiments/exploitability.sh battle "$tier"
    for stem in "${STEMS[@]}"; do
      env "${COMMON[@]}" SKIP_MFD=1 BASELINES="$stem" bash experiments/exploitability.sh battle "$tier"
    done
  fi
  specs=("MF-Diffuser=mfdiffuser@$own" "BC=bc@$own")
  diffs=(--diff MF-Diffuser BC)
  for stem in "${STEMS[@]}"; do
    label=$(printf %s "$stem" | sed 's/^bc/BC/; s/^mfq/MFQ-CQL/; s/^iql/IQL/;')
    specs+=("$label=${stem%-wc}@${E}_vs_${stem}_nomfd_devbc_only_expert_bc_$tier.jsonl")
    diffs+=(--diff MF-Diffuser "$label")
  done
  python experiments/compare_policies.py "${specs[@]}" "${diffs[@]}" \
    --title "Battle, $tier data, N = $N ($((N / 2)) a team): the config (MF-Diffuser; battle_own_plans.sh's checkpoints, the grid's weights) beside every baseline row of the grid (-wc: equal wall-clock), training seeds 0-2 x $SEEDS evaluation seeds (the grid: 5), the deviations the expert and BC. Regenerate with: $([ "$N" != 100 ] && printf 'EVAL_N=%s ' "$N")$([ "$SEEDS" != 150 ] && printf 'EVAL_SEEDS=%s ' "$SEEDS")bash experiments/battle_n100_seeds.sh $tier (thirty-fourth update, docs/results/README.md)." \
    --out "docs/results/${NAME}_$tier.md"
done
