#!/usr/bin/env bash
# The main results grid (docs/results/grid.md and its plots). Regenerate from the repo root:
#
#     bash experiments/grid.sh
#
# 1. builds the six N = 1000 training datasets (Squeeze, Ising, Battle x medium, mixed);
# 2. trains MF-Diffuser and every baseline on each (budgets below, ~1 CPU core each);
# 3. evaluates every method at N = 100, 1000, 10000 (population transfer), 5 seeds,
#    beside random and the scripted medium/expert policies; writes the report.
# Two lanes run in parallel, one torch thread each (2-core machine). Checkpoints that already
# exist are reused (delete runs/grid to retrain). Budget measured on 2 cores: see grid.md.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=runs/grid
mkdir -p "$OUT/ckpt" "$OUT/logs"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

STEPS_mfdiffuser="--set steps=800 --set replan_every=4"
STEPS_bc="--set steps=1000"
STEPS_mfq="--set steps=1500"
STEPS_indep_diffuser="--set steps=600"
STEPS_joint_diffuser="--set steps=600"

build() { mfdiff data build "$1" --no-progress || true; }  # "exists" is fine

train_lane() {  # train_lane DATASET_STEM...
  for stem in "$@"; do
    fam=${stem%%-*}; nn=${stem#*-}
    for tier in medium mixed; do
      for algo in mfdiffuser bc mfq indep_diffuser joint_diffuser; do
        dir="$OUT/ckpt/$stem-$tier/$algo"
        [ -f "$dir/config.json" ] && continue
        var="STEPS_$algo"
        # shellcheck disable=SC2086
        mfdiff train --dataset "mfdiff/$fam-$nn/$tier-v0" --algo "$algo" ${!var} \
          --out "$dir" --no-progress > "$OUT/logs/train-$stem-$tier-$algo.log" 2>&1
      done
    done
  done
}

for stem in squeeze-n1000 ising-n1024 battle-n1000; do
  for tier in medium mixed; do build "mfdiff/$stem/$tier-v0"; done
done

train_lane squeeze-n1000 ising-n1024 & a=$!
train_lane battle-n1000 & b=$!
wait $a $b

rm -f "$OUT"/records-*.jsonl
(mfdiff eval --sweep experiments/grid_squeeze.toml --out "$OUT/records-squeeze.jsonl" --no-progress > "$OUT/logs/eval-squeeze.log" 2>&1 &&
 mfdiff eval --sweep experiments/grid_ising.toml --out "$OUT/records-ising.jsonl" --no-progress > "$OUT/logs/eval-ising.log" 2>&1) & a=$!
mfdiff eval --sweep experiments/grid_battle.toml --out "$OUT/records-battle.jsonl" --no-progress > "$OUT/logs/eval-battle.log" 2>&1 & b=$!
wait $a $b

for fam in squeeze ising battle; do
  mfdiff eval --records "$OUT/records-$fam.jsonl" --report-dir docs/results --name "grid_$fam" > /dev/null
done
python experiments/summarize_grid.py "$OUT"/records-*.jsonl > docs/results/grid.md
echo "wrote docs/results/grid*.md"
