#!/usr/bin/env bash
# Acting knobs at evaluation on the grid's MF-Diffuser checkpoints (docs/results/acting_knobs.md).
# Needs the grid's checkpoints (bash experiments/grid.sh squeeze / ising). From the repo root:
#     bash experiments/acting_knobs.sh [squeeze ising]
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
mkdir -p runs/exp
python experiments/acting_knobs.py runs/grid "$@" > runs/exp/acting_knobs.toml
rm -f runs/exp/acting_knobs.jsonl
mfdiff eval --sweep runs/exp/acting_knobs.toml --out runs/exp/acting_knobs.jsonl \
  --no-progress --threads 1 --report-dir docs/results --name acting_knobs \
  --command "bash experiments/acting_knobs.sh $*"
