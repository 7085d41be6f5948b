#!/usr/bin/env bash
# The main results grid (docs/results/grid.md and its plots). Regenerate from the repo root:
#
#     bash experiments/grid.sh
#
# 1. builds the six N = 1000 training datasets (Squeeze, Ising, Battle x medium, mixed);
# 2. trains MF-Diffuser and every baseline on each (budgets below, ~1 CPU core each);
# 3. evaluates every method at N = 100, 1000, 10000 (population transfer), 5 seeds,
#    beside random and the scripted medium/expert policies; writes the report.
# Two workers run in parallel, one torch thread each (2-core machine). Finished checkpoints
# are reused (delete runs/grid to retrain). Budget measured on 2 cores: see grid.md.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=runs/grid
mkdir -p "$OUT/ckpt" "$OUT/logs"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

STEPS_mfdiffuser="--set steps=800 --set replan_every=4"
STEPS_mfdiffuser_noint="$STEPS_mfdiffuser --set interaction=none"
STEPS_bc="--set steps=1000"
STEPS_mfq="--set steps=1500"
STEPS_indep_diffuser="--set steps=600"
STEPS_joint_diffuser="--set steps=600"

build() { mfdiff data build "$1" --no-progress || true; }  # "exists" is fine

train_one() {  # train_one STEM TIER ALGO  (skips a finished checkpoint)
  local stem=$1 tier=$2 algo=$3 fam=${1%%-*} nn=${1#*-}
  local dir="$OUT/ckpt/$stem-$tier/$algo" var="STEPS_$3"
  [ -f "$dir/train_done" ] && return 0
  rm -rf "$dir"
  # mfdiffuser_noint: MF-Diffuser without the particle interaction (the ablation's best variant)
  [ "$algo" = mfdiffuser_noint ] && algo=mfdiffuser
  # shellcheck disable=SC2086
  mfdiff train --dataset "mfdiff/$fam-$nn/$tier-v0" --algo "$algo" ${!var} \
    --out "$dir" --no-progress > "$OUT/logs/train-$stem-$tier-$algo.log" 2>&1 \
    || { echo "training failed: $* (see $OUT/logs)" >&2; return 1; }
  touch "$dir/train_done"
}
eval_one() {  # eval_one FAMILY
  mfdiff eval --sweep "experiments/grid_$1.toml" --out "$OUT/records-$1.jsonl" --no-progress \
    > "$OUT/logs/eval-$1.log" 2>&1 || { echo "eval failed: $1 (see $OUT/logs)" >&2; return 1; }
}
export -f train_one eval_one
export OUT STEPS_mfdiffuser STEPS_mfdiffuser_noint STEPS_bc STEPS_mfq STEPS_indep_diffuser STEPS_joint_diffuser

for stem in squeeze-n1000 ising-n1024 battle-n1000; do
  for tier in medium mixed; do build "mfdiff/$stem/$tier-v0"; done
done

# Two workers over a queue of jobs (battle first: its jobs are the longest).
for stem in battle-n1000 ising-n1024 squeeze-n1000; do
  for tier in medium mixed; do
    for algo in mfdiffuser mfdiffuser_noint bc mfq indep_diffuser joint_diffuser; do echo "$stem $tier $algo"; done
  done
done | xargs -P 2 -L 1 bash -c 'train_one "$@"' _

rm -f "$OUT"/records-*.jsonl
printf '%s\n' battle ising squeeze | xargs -P 2 -L 1 bash -c 'eval_one "$@"' _

for fam in squeeze ising battle; do
  mfdiff eval --records "$OUT/records-$fam.jsonl" --report-dir docs/results --name "grid_$fam" \
    --command "bash experiments/grid.sh" > /dev/null
done
python experiments/summarize_grid.py "$OUT"/records-*.jsonl > docs/results/grid.md
echo "wrote docs/results/grid*.md"
