#!/usr/bin/env bash
# Replan interval x acting rule on Squeeze (docs/results/replan_squeeze.md). From the repo root:
#     bash experiments/replan_squeeze.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
mfdiff data build mfdiff/squeeze-n1000/medium-v0 --no-progress
[ -f runs/exp/mfd-squeeze-medium/config.json ] || mfdiff train \
  --dataset mfdiff/squeeze-n1000/medium-v0 --algo mfdiffuser --out runs/exp/mfd-squeeze-medium \
  --set steps=800 --set action_head=true --set p_uncond=0.1 --no-progress --no-family-config
rm -f runs/exp/replan_squeeze.jsonl
mfdiff eval --sweep experiments/replan_squeeze.toml --out runs/exp/replan_squeeze.jsonl \
  --no-progress --threads 1 --report-dir docs/results --name replan_squeeze \
  --command "bash experiments/replan_squeeze.sh"
