#!/usr/bin/env bash
# The GPU checks of the forty-second update's fixes (2026-12-04), after a first gpu_check.sh run:
# the two test_action_head tests that built CPU tensors beside CUDA weights, and two torchrun
# ranks on one GPU, now refused with a message that names the fix (NCCL said "invalid usage").
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
MFDIFF_TEST_DEVICE=cuda "$py" -m pytest -q -p no:cacheprovider tests/test_action_head.py \
  -k "ensemble_acts or plan_weight_zero"
ddp=$(mktemp -d)
export MINARI_DATASETS_PATH=$ddp/minari
"$py" -c "from mfdiff_envs.offline.build import build_dataset
build_dataset('squeeze', n_agents=40, tier='medium', episodes=2, env_kwargs={'max_cycles': 6},
              ref_scores=(0.0, 1.0), progress=False)"
timeout 120 "$py" -m torch.distributed.run --standalone --nproc_per_node 2 -m mfdiff train \
  --dataset mfdiff/squeeze-n40/medium-v0 --algo bc --out "$ddp/bc-2" --no-progress \
  --set steps=20 --set horizon=4 --set n_particles=8 --set batch_size=4 --set device=cuda 2>&1 \
  | grep -aE "Error|share one GPU|checkpoint written" | head
