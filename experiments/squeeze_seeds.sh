#!/usr/bin/env bash
# Squeeze with training seeds and population sizes the grid never used
# (docs/results/squeeze_seeds.md): MF-Diffuser (the Squeeze config) and BC (its searched
# temperature), each trained exactly as the grid trains them but with training seeds 3 and 4,
# on the N = 1000 medium and mixed data, evaluated at N = 500 and 5000 over 5 evaluation seeds
# (10 runs per cell): experiments/unseen_seeds.sh for Squeeze, under its earlier name. From the
# repo root:
#     bash experiments/squeeze_seeds.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=runs/squeeze_seeds NAME=squeeze_seeds COMMAND="bash experiments/squeeze_seeds.sh" \
  exec bash experiments/unseen_seeds.sh squeeze
