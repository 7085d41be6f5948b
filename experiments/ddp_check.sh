#!/usr/bin/env bash
# torchrun (2 gloo processes) vs one process, same method/data/steps (docs/scaling.md).
#     bash experiments/ddp_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
D=mfdiff/squeeze-n1000/medium-v0
mfdiff data build "$D" --no-progress
rm -rf runs/ddp/single runs/ddp/torchrun
mfdiff train --dataset "$D" --algo bc --set steps=300 --out runs/ddp/single --no-progress --no-family-config
torchrun --standalone --nproc_per_node 2 -m mfdiff train --dataset "$D" --algo bc \
  --set steps=300 --out runs/ddp/torchrun --no-progress --no-family-config
for run in single torchrun; do
  echo "== $run: final loss $(tail -1 runs/ddp/$run/metrics.csv | cut -d, -f2)"
  mfdiff eval --policy runs/ddp/$run --env mfdiff/GaussianSqueeze-v0 --n-agents 1000 --seeds 5 \
    --env-kwargs '{"max_cycles": 25}' --dataset "$D" --no-progress | grep "| bc |"
done
