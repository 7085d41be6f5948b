#!/usr/bin/env bash
# Acting knobs at evaluation on the grid's MF-Diffuser checkpoints (docs/results/acting_knobs.md).
# Needs the grid's checkpoints (bash experiments/grid.sh squeeze / ising). From the repo root:
#     bash experiments/acting_knobs.sh                 # squeeze ising -> acting_knobs.md
#     bash experiments/acting_knobs.sh battle          # -> acting_knobs_battle.md
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
mkdir -p runs/exp
name=acting_knobs
[ $# -gt 0 ] && name="acting_knobs_$(IFS=_; echo "$*")"
python experiments/acting_knobs.py runs/grid "$@" > "runs/exp/$name.toml"
rm -f "runs/exp/$name.jsonl"
mfdiff eval --sweep "runs/exp/$name.toml" --out "runs/exp/$name.jsonl" \
  --no-progress --threads 1 --report-dir docs/results --name "$name" \
  --command "bash experiments/acting_knobs.sh $*"
