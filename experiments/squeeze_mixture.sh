#!/usr/bin/env bash
# Squeeze acting on the mixture of its 4 sampled plans (plan_combine "mean": the head's
# distribution averaged over the plans, docs/method.md (17), the Ising config's rule; the Squeeze
# config's since the thirty-eighth update, adopted from this table) instead of following the
# best of the 4 by the value net (the Squeeze config when measured), on the grid's four-head
# checkpoints (mfdiffuser-ens4-s<seed>, training seeds 0-2), beside the config on the same
# seeds, and at medium data BC and IQL equal wall-clock (the best baseline of the medium cells).
# Why: at N = 10^4 a Squeeze population's mean level (what the shared reward depends on) strays
# by one plan's sampling noise, which more agents do not average away
# (experiments/squeeze_trace.py's RMS column).
#     bash experiments/squeeze_mixture.sh        # medium at N = 10^2, 10^3, 10^4 on 30
#                                                # evaluation seeds, mixed on 5 (~1 h, JOBS=1)
#     MEDIUM_N="100 1000" MIXED=0 REPORT=0 bash experiments/squeeze_mixture.sh  # only these
#       runs, no report (MEDIUM=0: no medium runs; MIXED_N="10000": only these mixed N), e.g.
#       two parts side by side, one per core
#     COMPARE_ONLY=1 bash experiments/squeeze_mixture.sh  # the report from earlier records
#     UNSEEN=1 bash experiments/squeeze_mixture.sh  # instead: training seeds 3 and 4 (trained
#       here as the grid trains, runs/squeeze_mixture/) at N = 500 and 5000, sizes in no
#       table, 5 evaluation seeds each: docs/results/squeeze_mixture_unseen.md (~15 min);
#       COMPARE_ONLY=1 UNSEEN=1: that table from the records (committed since the seventy-first
#       update), no episode played
# The mixture's and IQL-wc's medium records are cell_seeds.sh's (ROWS="bc-wc mfq iql iql-wc"
# [EVAL_N=100|10000] bash experiments/cell_seeds.sh squeeze medium: the config is the mixture
# since the thirty-eighth update), read from runs/exp or, where only they exist, from their
# committed copies in docs/results/records (records-<name>.gz, seventieth update); the best of 4
# (make_sweep's --one-plan acting pins plan_combine=best) is run here at medium, on 30 seeds as
# cell_seeds.sh ran it until the thirty-eighth update (it then ran the config, the best of 4),
# and both rules at mixed (beside BC: needs the grid's
# mixed-data checkpoints of MF-Diffuser and BC, python experiments/grid_jobs.py squeeze --stage
# train --tiers mixed --only mfdiffuser-ens4 bc). Report: docs/results/squeeze_mixture.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
source experiments/lib.sh
read -r -a MEDIUM_NS <<< "${MEDIUM_N:-100 1000 10000}"
read -r -a MIXED_NS <<< "${MIXED_N:-100 1000 10000}"
[ "${MEDIUM:-1}" = 1 ] || MEDIUM_NS=()
[ "${MIXED:-1}" = 1 ] || MIXED_NS=()
for v in "${MEDIUM_NS[@]}" "${MIXED_NS[@]}" "${MEDIUM:-1}" "${MIXED:-1}" "${REPORT:-1}" \
         "${COMPARE_ONLY:-0}"; do
  case $v in ''|*[!0-9]*) echo "squeeze_mixture.sh: MEDIUM_N, MIXED_N, MEDIUM, MIXED, REPORT," \
                               "COMPARE_ONLY are integers" >&2
                          exit 2;; esac
done
if [ "${UNSEEN:-0}" = 1 ]; then
  OUT=runs/squeeze_mixture
  mkdir -p "$OUT"
  if [ "${COMPARE_ONLY:-0}" = 0 ]; then
    mfdiff data build mfdiff/squeeze-n1000/medium-v0 --no-progress
    pids=()
    for s in 3 4; do  # the grid's training command (the family config) with another seed
      train_into "$OUT/mfdiffuser-ens4-s$s" "$OUT/train-s$s.log" \
        --dataset mfdiff/squeeze-n1000/medium-v0 --algo mfdiffuser --set "seed=$s" --threads 1 &
      pids+=($!)
    done
    wait_all "${pids[@]}"
    mapfile -t acting < <(python experiments/make_sweep.py --set-args squeeze mfdiffuser --one-plan)
    for n in 500 5000; do
      for v in config mixture; do
        extra=()
        [ "$v" = mixture ] && extra=(--set plan_combine=mean)
        pids=()
        for s in 3 4; do  # one records file per run (two evaluations side by side)
          rm -f "$OUT/$v-n$n-s$s.jsonl"
          mfdiff eval --policy "$OUT/mfdiffuser-ens4-s$s" --env mfdiff/GaussianSqueeze-v0 \
            --n-agents "$n" --seeds 5 --env-kwargs '{"max_cycles": 25}' --tier medium \
            "${acting[@]}" "${extra[@]}" --out "$OUT/$v-n$n-s$s.jsonl" --no-progress \
            --threads 1 > /dev/null & pids+=($!)
        done
        wait_all "${pids[@]}"
      done
    done
    for v in config mixture; do  # one file per row (what docs/results/records keeps, gzipped)
      cat "$OUT"/$v-n500-s3.jsonl "$OUT"/$v-n500-s4.jsonl "$OUT"/$v-n5000-s3.jsonl \
        "$OUT"/$v-n5000-s4.jsonl > "$OUT/squeeze_mixture_unseen_$v.jsonl"
    done
  fi
  # COMPARE_ONLY=1: the records of an earlier run, or where only they exist their committed
  # copies (docs/results/records/records-squeeze_mixture_unseen_<row>.jsonl.gz, seventy-first update)
  python experiments/compare_policies.py \
    "mixture of 4=mfdiffuser@$(committed "$OUT/squeeze_mixture_unseen_mixture.jsonl")" \
    "config (best of 4)=mfdiffuser@$(committed "$OUT/squeeze_mixture_unseen_config.jsonl")" \
    --diff "mixture of 4" "config (best of 4)" \
    --title "Squeeze, medium data: MF-Diffuser acting on the mixture of its 4 plans (the config since the thirty-eighth update) vs the best of 4 (the config before), on checkpoints trained as the grid trains but with training seeds 3 and 4, at N = 500 and 5000 (sizes in no other table), 5 evaluation seeds each. Regenerate with: UNSEEN=1 bash experiments/squeeze_mixture.sh (docs/results/README.md, thirty-seventh and seventy-first updates; COMPARE_ONLY=1 before it: from the committed records, no episode played)." \
    --out docs/results/squeeze_mixture_unseen.md
  exit 0
fi
COMMON=(MFD_STEM=mfdiffuser-ens4 SCORE_ONLY=1 BASELINES=bc TRAIN_SEEDS="0 1 2"
        JOBS="${JOBS:-1}")
MIX=(MFD_SET="plan_combine=mean" MFD_TAG=ens4_mixture)
# exploitability.sh's record names: _n<N> unless the training N (1000), _e<E> unless 3 seeds
rec() {  # rec N SEEDS TAG TIER
  local name=runs/exp/exploitability_squeeze
  [ "$1" != 1000 ] && name+=_n$1
  committed "$(printf '%s_seeds012_e%s_%s_vs_bc_score_%s.jsonl' "$name" "$2" "$3" "$4")"
}
base() {  # base N STEM: cell_seeds.sh's baseline records (30 seeds, medium)
  local name=runs/exp/exploitability_squeeze
  [ "$1" != 1000 ] && name+=_n$1
  committed "$(printf '%s_seeds012_e30_vs_%s_nomfd_score_medium.jsonl' "$name" "$2")"
}
if [ "${COMPARE_ONLY:-0}" = 0 ]; then
  for n in "${MEDIUM_NS[@]}"; do  # the best of 4 (the mixture: cell_seeds.sh's records)
    env "${COMMON[@]}" MFD_TAG=ens4 EVAL_SEEDS=30 EVAL_N="$n" \
      bash experiments/exploitability.sh squeeze medium
  done
  for n in "${MIXED_NS[@]}"; do
    env "${COMMON[@]}" MFD_TAG=ens4 EVAL_SEEDS=5 EVAL_N="$n" \
      bash experiments/exploitability.sh squeeze mixed
    env "${COMMON[@]}" "${MIX[@]}" EVAL_SEEDS=5 EVAL_N="$n" \
      bash experiments/exploitability.sh squeeze mixed
  done
fi
[ "${REPORT:-1}" = 1 ] || [ "${COMPARE_ONLY:-0}" = 1 ] || exit 0
join() { local IFS=+; printf '%s' "$*"; }
mix=() cfg=() bc=() iql=()
for n in 100 1000 10000; do
  mix+=("$(rec "$n" 30 ens4_mixture medium)" "$(rec "$n" 5 ens4_mixture mixed)")
  cfg+=("$(rec "$n" 30 ens4 medium)" "$(rec "$n" 5 ens4 mixed)")
  bc+=("$(rec "$n" 30 ens4 medium)" "$(rec "$n" 5 ens4 mixed)")
  iql+=("$(base "$n" iql-wc)")
done
python experiments/compare_policies.py \
  "mixture of 4=mfdiffuser@$(join "${mix[@]}")" "config (best of 4)=mfdiffuser@$(join "${cfg[@]}")" \
  "BC=bc@$(join "${bc[@]}")" "IQL-wc=iql@$(join "${iql[@]}")" \
  --diff "mixture of 4" "config (best of 4)" --diff "mixture of 4" IQL-wc \
  --diff "config (best of 4)" IQL-wc \
  --title "Squeeze: MF-Diffuser acting on the mixture of its 4 sampled plans (plan_combine mean) instead of the best of 4 by the value net (the config), the grid's four-head checkpoints, training seeds 0-2 x 30 evaluation seeds at medium data (5 at mixed), beside the config, BC and (medium) IQL equal wall-clock on the same seeds (cell_seeds.sh's records). Regenerate with: bash experiments/squeeze_mixture.sh (docs/results/README.md, thirty-seventh update)." \
  --out docs/results/squeeze_mixture.md
