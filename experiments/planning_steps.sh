#!/usr/bin/env bash
# Denoising steps per plan and Ising's acting rule on the grid's MF-Diffuser checkpoints
# (docs/results/planning_steps.md; the evidence for ddim_steps / head_temperature in
# configs/mfdiffuser/*.json). Needs the grid's checkpoints (bash experiments/grid.sh). From the
# repo root:
#     bash experiments/planning_steps.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
source experiments/lib.sh
OUT=runs/planning_steps
mkdir -p "$OUT"
ev() {  # family: its sweep, one process (--resume keeps rows already measured)
  python experiments/planning_steps.py runs/grid "$1" > "$OUT/$1.toml"
  mfdiff eval --sweep "$OUT/$1.toml" --out "$OUT/$1.jsonl" --resume --no-progress --threads 1 \
    > "$OUT/$1.log" 2>&1
}
ev ising & a=$!  # the longest (a plan every env step) on one core, the other two on the other
{ ev battle; ev squeeze; } & b=$!
wait_all "$a" "$b"
mfdiff eval --records "$OUT/ising.jsonl" "$OUT/battle.jsonl" "$OUT/squeeze.jsonl" \
  --report-dir docs/results --name planning_steps --command "bash experiments/planning_steps.sh"
