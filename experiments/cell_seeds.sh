#!/usr/bin/env bash
# One grid cell on many more evaluation seeds than the grid's 5: the family's MF-Diffuser
# config beside every baseline row of the grid (BC, MFQ-CQL, IQL, each at its step budget and
# at equal wall-clock), training seeds 0-2, paired by evaluation seed
# (experiments/compare_policies.py; the runs through experiments/exploitability.sh). A grid
# verdict "best, or CIs overlapping the best baseline's" on 15 runs can rank close rows by luck:
# this table says whether it holds on 10-30x the episodes.
#     bash experiments/cell_seeds.sh battle [medium|mixed]   # default N = 100, 150 seeds
#     bash experiments/cell_seeds.sh squeeze medium          # default N = 1000, 30 seeds
#     bash experiments/cell_seeds.sh ising [medium|mixed]    # default N = 100, 30 seeds
#     EVAL_N=10000 EVAL_SEEDS=30 bash experiments/cell_seeds.sh squeeze medium  # another cell
# Report: docs/results/<family>_n<N>_seeds[_e<E>]_<tier>.md (_e<E> unless the family's
# default seed count). COMPARE_ONLY=1 writes the tables from the records of an earlier run
# (RECORDS_DIR: where they are, default runs/exp; REPORT_DIR: where the table goes, default
# docs/results). RECORDS_DIR=docs/results/records reads the records committed there
# (records-<name>.jsonl.gz; the Ising cell tables of the sixty-seventh update), so a clone
# rewrites those tables without playing an episode:
#     COMPARE_ONLY=1 RECORDS_DIR=docs/results/records DATA_RANGE=1 bash experiments/cell_seeds.sh \
#       ising medium
# ROWS="iql iql-wc" keeps only these baseline rows beside MF-Diffuser and BC (default all five:
# bc-wc mfq mfq-wc iql iql-wc): CPU time for the rows that can be a cell's best; the report
# then says which rows it holds.
# Per family (what the grid's MF-Diffuser row is, and what is measured besides the score):
#   squeeze: the grid's checkpoints (mfdiffuser-ens4-s<seed>, the four-head config) acting as
#            the config since the thirty-eighth update (mixture of 4 plans; until then the best
#            of 4: MFD_TAG=ens4, the records squeeze_mixture.sh compares with); score only
#            (SCORE_ONLY=1): the exact exploitability replays each episode, twice MF-Diffuser's
#            rollouts
#   ising:   the grid's checkpoints acting as the config (mixture of 4 plans, particles capped
#            at N, the 20 DDIM steps split 8 / 8 / 4 over the particle levels since the
#            fifty-eighth update: MFD_TAG=mixturecap884; the near-even split before it,
#            MFD_TAG=mixturecap); score only (SCORE_ONLY=1): the deviations would cost 7x the
#            episodes. DATA_RANGE=1: the config since the sixty-fifth update (the grid's row
#            since the sixty-sixth), its head's inputs clipped to the data's range
#            (head_data_range; MFD_TAG=mixturecap884range, report <name>_range_<tier>.md);
#            without it the config before, as the tables of earlier updates measured it
#   battle:  battle_own_plans.sh's checkpoints (the grid's weights) decoded as the config (T 0.4
#            after a min-p cut of 0.05); exploitability with the expert and BC as deviations.
#            COLD512=1: the config since the seventy-second update, its lifting cold on 512
#            Sinkhorn rows (MFD_TAG=ownplanscold512, report <name>_cold512_<tier>.md; it acts
#            only above N = 4000); without it the lifting before (warm, 2048 rows), as the
#            checkpoints were trained (lib.sh LIFT_BEFORE)
# Needs the family's grid checkpoints (bash experiments/grid.sh FAMILY; or only the rows used:
# python experiments/grid_jobs.py FAMILY --stage train --tiers TIER --only mfdiffuser bc mfq
# iql bc-wc mfq-wc iql-wc, with mfdiffuser-ens4 on Squeeze) and, for Battle,
# battle_own_plans.sh's. Time (MF-Diffuser's rollouts are most of it): Battle ~25 min per tier
# at N = 10^2 with JOBS=2 on 2 cores; at JOBS=1 beside another job on a 2-3x slower machine
# (thirty-fifth update), Squeeze ~40 min at N = 10^3 or 10^4, Ising ~60 min per tier; at the
# default JOBS=2 beside another such run (thirty-sixth update), Squeeze ~35 min at N = 10^2,
# Ising-mixed on 10 seeds ~60 min at N = 1024 and ~45 min at N = 10^4 (three rows besides BC).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
fam=${1:?usage: bash experiments/cell_seeds.sh squeeze|ising|battle [TIER ...]}
shift
case $fam in
  squeeze) TRAIN_N=1000; N0=1000; SEEDS0=30
           MFD=(MFD_STEM=mfdiffuser-ens4 MFD_SET="plan_combine=mean" MFD_TAG=ens4_mixture)
           MEASURE=(SCORE_ONLY=1); SUFFIX=_score
           ABOUT="the config (MF-Diffuser: the grid's four-head checkpoints acting on the mixture of 4 plans), score only";;
  ising) TRAIN_N=1024; N0=100; SEEDS0=30
         MFD=(MFD_SET="plan_samples=4 plan_combine=mean cap_particles=true stage_steps=8,8,4"
              MFD_TAG=mixturecap884)
         MEASURE=(SCORE_ONLY=1); SUFFIX=_score
         ABOUT="the config (MF-Diffuser: the grid's checkpoints, mixture of 4 plans, particles capped at N, DDIM steps 8 / 8 / 4 by particle level), score only";;
  battle) TRAIN_N=1000; N0=100; SEEDS0=150
          MFD=(MFD_SET="head_temperature=0.4 head_min_p=0.05"
               MFD_DIR=runs/battle_head_steps_own_plans MFD_TAG=ownplans)
          MEASURE=(DEVIATIONS="expert,bc" DEVIATE_BC=1); SUFFIX=_devbc_only_expert_bc
          ABOUT="the config (MF-Diffuser; battle_own_plans.sh's checkpoints, the grid's weights), the deviations the expert and BC";;
  *) echo "cell_seeds.sh: families: squeeze ising battle" >&2; exit 2;;
esac
case ${DATA_RANGE:-0} in 0) ;; 1)
  [ "$fam" = ising ] || { echo "cell_seeds.sh: DATA_RANGE=1 is Ising's (its config's)" >&2
                          exit 2; }
  MFD=(MFD_SET="plan_samples=4 plan_combine=mean cap_particles=true stage_steps=8,8,4 head_data_range=true"
       MFD_TAG=mixturecap884range)
  ABOUT="the config (MF-Diffuser: the grid's checkpoints, mixture of 4 plans, particles capped at N, DDIM steps 8 / 8 / 4 by particle level, the head's inputs clipped to the data's range), score only";;
  *) echo "cell_seeds.sh: DATA_RANGE is 0 or 1" >&2; exit 2;; esac
case ${COLD512:-0} in 0) ;; 1)
  [ "$fam" = battle ] || { echo "cell_seeds.sh: COLD512=1 is Battle's (its config's lifting)" >&2
                           exit 2; }
  MFD=(MFD_SET="head_temperature=0.4 head_min_p=0.05 lift_warm_start=false lift_sinkhorn_rows=512"
       MFD_DIR=runs/battle_head_steps_own_plans MFD_TAG=ownplanscold512)
  ABOUT="the config since the seventy-second update (MF-Diffuser; battle_own_plans.sh's checkpoints, the grid's weights, lifting cold on 512 Sinkhorn rows), the deviations the expert and BC";;
  *) echo "cell_seeds.sh: COLD512 is 0 or 1" >&2; exit 2;; esac
TIERS=("${@:-medium mixed}")
read -r -a TIERS <<< "${TIERS[*]}"
for tier in "${TIERS[@]}"; do
  case $tier in medium|mixed) ;; *) echo "cell_seeds.sh: tiers: medium mixed" >&2
                                   exit 2;; esac
done
case ${COMPARE_ONLY:-0} in 0|1) ;; *) echo "cell_seeds.sh: COMPARE_ONLY is 0 or 1" >&2
                                     exit 2;; esac
if [ "${COMPARE_ONLY:-0}" = 0 ] && [ -n "${RECORDS_DIR:-}" ]; then
  echo "cell_seeds.sh: RECORDS_DIR goes with COMPARE_ONLY=1 (evaluations write runs/exp)" >&2
  exit 2
fi
N=${EVAL_N:-$N0}
SEEDS=${EVAL_SEEDS:-$SEEDS0}
for v in "$N" "$SEEDS"; do
  case $v in ''|*[!0-9]*) echo "cell_seeds.sh: EVAL_N and EVAL_SEEDS are integers" >&2
                          exit 2;; esac
done
NAME=${fam}_n${N}_seeds
[ "$SEEDS" != "$SEEDS0" ] && NAME+=_e$SEEDS
[ "${DATA_RANGE:-0}" = 1 ] && NAME+=_range
[ "${COLD512:-0}" = 1 ] && NAME+=_cold512
read -r -a STEMS <<< "${ROWS:-bc-wc mfq mfq-wc iql iql-wc}"
for stem in "${STEMS[@]}"; do
  case $stem in bc-wc|mfq|mfq-wc|iql|iql-wc) ;;
    *) echo "cell_seeds.sh: ROWS are among bc-wc mfq mfq-wc iql iql-wc (BC always)" >&2
       exit 2;; esac
done
COMMON=("${MEASURE[@]}" TRAIN_SEEDS="0 1 2" EVAL_SEEDS="$SEEDS" EVAL_N="$N" JOBS="${JOBS:-2}")
# exploitability.sh's report names: _n<N> unless N is the training N, _e<E> unless 3 seeds
E=${RECORDS_DIR:-runs/exp}/exploitability_$fam
[ "$N" != "$TRAIN_N" ] && E+=_n$N
E+=_seeds012
[ "$SEEDS" != 3 ] && E+=_e$SEEDS
TAG=$(printf '%s\n' "${MFD[@]}" | sed -n 's/^MFD_TAG=//p')
# rec PATH: PATH, or the committed copy of those records in RECORDS_DIR's layout of
# docs/results/records (records-<name>.gz) where only that exists, so that COMPARE_ONLY=1
# RECORDS_DIR=docs/results/records rewrites a table from a clone
rec() {
  local gz
  gz=$(dirname "$1")/records-$(basename "$1").gz
  if [ ! -e "$1" ] && [ -e "$gz" ]; then echo "$gz"; else echo "$1"; fi
}
for tier in "${TIERS[@]}"; do
  own=$(rec "${E}_${TAG}_vs_bc${SUFFIX}_$tier.jsonl")
  if [ "${COMPARE_ONLY:-0}" = 0 ]; then
    env "${COMMON[@]}" "${MFD[@]}" BASELINES=bc bash experiments/exploitability.sh "$fam" "$tier"
    for stem in "${STEMS[@]}"; do
      env "${COMMON[@]}" SKIP_MFD=1 BASELINES="$stem" \
        bash experiments/exploitability.sh "$fam" "$tier"
    done
  fi
  specs=("MF-Diffuser=mfdiffuser@$own" "BC=bc@$own")
  diffs=(--diff MF-Diffuser BC)
  for stem in "${STEMS[@]}"; do
    label=$(printf %s "$stem" | sed 's/^bc/BC/; s/^mfq/MFQ-CQL/; s/^iql/IQL/;')
    specs+=("$label=${stem%-wc}@$(rec "${E}_vs_${stem}_nomfd${SUFFIX}_$tier.jsonl")")
    diffs+=(--diff MF-Diffuser "$label")
  done
  per_team="" again="" rows="every baseline row of the grid"
  if [ "$fam" = battle ]; then per_team=" ($((N / 2)) a team)"; fi
  if [ -n "${ROWS:-}" ]; then
    again+="ROWS=\"${STEMS[*]}\" "
    rows="the baseline rows of the grid that can be its best: BC, ${STEMS[*]}"
  fi
  if [ "$N" != "$N0" ]; then again+="EVAL_N=$N "; fi
  if [ "$SEEDS" != "$SEEDS0" ]; then again+="EVAL_SEEDS=$SEEDS "; fi
  if [ "${DATA_RANGE:-0}" = 1 ]; then again+="DATA_RANGE=1 "; fi
  if [ "${COLD512:-0}" = 1 ]; then again+="COLD512=1 "; fi
  again+="bash experiments/cell_seeds.sh $fam $tier"
  python experiments/compare_policies.py "${specs[@]}" "${diffs[@]}" \
    --title "${fam^}, $tier data, N = $N$per_team: $ABOUT, beside $rows (-wc: equal wall-clock), training seeds 0-2 x $SEEDS evaluation seeds (the grid: 5). Regenerate with: $again (docs/results/README.md)." \
    --out "${REPORT_DIR:-docs/results}/${NAME}_$tier.md"
done
