#!/usr/bin/env bash
# Lifting ablation on Ising (docs/results/lifting_ising.md). From the repo root:
#     bash experiments/lifting_ising.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
mfdiff data build mfdiff/ising-n1024/medium-v0 --no-progress
[ -f runs/exp/mfd-ising-medium/config.json ] || mfdiff train --dataset mfdiff/ising-n1024/medium-v0 \
  --algo mfdiffuser --out runs/exp/mfd-ising-medium --set steps=800 --no-progress --no-family-config
rm -f runs/exp/lifting_ising.jsonl
mfdiff eval --sweep experiments/lifting_ising.toml --out runs/exp/lifting_ising.jsonl --no-progress \
  --report-dir docs/results --name lifting_ising --command "bash experiments/lifting_ising.sh"
