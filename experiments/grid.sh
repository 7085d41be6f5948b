#!/usr/bin/env bash
# The main results grid (docs/results/grid.md and its plots). From the repo root:
#
#     bash experiments/grid.sh                 # every family
#     bash experiments/grid.sh ising           # one family (its tables; grid.md is rebuilt
#                                              # from every family's records present)
#
# 1. builds the N = 10^3 training datasets of each family (medium, mixed);
# 2. trains every method on each with `mfdiff train`'s defaults except the budgets below;
#    MF-Diffuser, BC and MFQ-CQL with training seeds 0, 1, 2, the others with seed 0;
# 3. evaluates every checkpoint at N = 10^2, 10^3, 10^4 (population transfer), 5 evaluation
#    seeds each, beside random and the scripted medium/expert policies; writes the report.
# Two workers run in parallel, one torch thread each (2-core machine). Finished checkpoints are
# reused (delete runs/grid to retrain).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=runs/grid
FAMILIES=("${@:-squeeze ising battle}")
read -r -a FAMILIES <<< "${FAMILIES[*]}"
mkdir -p "$OUT/ckpt" "$OUT/logs"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

# Training budgets (gradient steps), the same for every family.
declare -A STEPS=([mfdiffuser]=800 [bc]=1000 [mfq]=1500 [iql]=1500 [indep_diffuser]=600
                  [joint_diffuser]=600)
export OUT

train_one() {  # train_one STEM TIER ALGO SEED  (skips a finished checkpoint)
  local stem=$1 tier=$2 algo=$3 seed=$4 fam=${1%%-*} nn=${1#*-}
  local dir="$OUT/ckpt/$stem-$tier/$algo-s$seed"
  [ -f "$dir/train_done" ] && return 0
  rm -rf "$dir"
  mfdiff train --dataset "mfdiff/$fam-$nn/$tier-v0" --algo "$algo" --set "steps=$5" \
    --set "seed=$seed" --out "$dir" --no-progress --threads 1 \
    > "$OUT/logs/train-$stem-$tier-$algo-s$seed.log" 2>&1 \
    || { echo "training failed: $* (see $OUT/logs)" >&2; return 1; }
  touch "$dir/train_done"
}
eval_one() {  # eval_one FAMILY
  python experiments/make_sweep.py "$1" "$OUT" > "$OUT/sweep_$1.toml"
  rm -f "$OUT/records-$1.jsonl"
  mfdiff eval --sweep "$OUT/sweep_$1.toml" --out "$OUT/records-$1.jsonl" --no-progress \
    --threads 1 > "$OUT/logs/eval-$1.log" 2>&1 \
    || { echo "eval failed: $1 (see $OUT/logs)" >&2; return 1; }
  mfdiff eval --records "$OUT/records-$1.jsonl" --report-dir docs/results --name "grid_$1" \
    --command "bash experiments/grid.sh $1" > /dev/null
}
export -f train_one eval_one

stem_of() { case $1 in squeeze) echo squeeze-n1000;; ising) echo ising-n1024;;
            battle) echo battle-n1000;; *) echo "unknown family $1" >&2; exit 2;; esac; }
for fam in "${FAMILIES[@]}"; do
  for tier in medium mixed; do mfdiff data build "mfdiff/$(stem_of "$fam")/$tier-v0" --no-progress; done
done

# Two workers over a queue of training jobs (MF-Diffuser first: its jobs are the longest).
for fam in "${FAMILIES[@]}"; do
  stem=$(stem_of "$fam")
  for algo in mfdiffuser mfq bc iql indep_diffuser joint_diffuser; do
    seeds="0"; case $algo in mfdiffuser|bc|mfq) seeds="0 1 2";; esac
    for seed in $seeds; do
      for tier in medium mixed; do echo "$stem $tier $algo $seed ${STEPS[$algo]}"; done
    done
  done
done | xargs -P 2 -L 1 bash -c 'train_one "$@"' _

printf '%s\n' "${FAMILIES[@]}" | xargs -P 2 -L 1 bash -c 'eval_one "$@"' _
python experiments/summarize_grid.py "$OUT"/records-*.jsonl > docs/results/grid.md
echo "wrote docs/results/grid*.md"
