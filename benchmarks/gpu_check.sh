#!/usr/bin/env bash
# Every check that needs a CUDA GPU, in one go (docs/results/device_cuda.md holds a run):
#   1. tests/test_cuda.py (lifting, training, checkpoints across devices, `mfdiff eval --device`);
#   2. data-parallel training on the GPU under torchrun (NCCL), one process and two;
#   3. the suite's training and planning tests with their models on the GPU
#      (MFDIFF_TEST_DEVICE=cuda, tests/conftest.py);
#   4. benchmarks/gpu.py: planning latency vs N (10^2 .. 10^5), training throughput, memory;
#   5. the grid's seed-0 MF-Diffuser checkpoints (N = 10^3, medium tier) evaluated on the GPU
#      with the grid's acting and its 5 evaluation seeds, to compare with the grid's CPU records.
# Steps 4 and 5 use those checkpoints where runs/grid/ckpt holds them (bash experiments/grid.sh);
# without them the benchmark plans with random weights and step 5 is skipped. From the repo root:
#     bash benchmarks/gpu_check.sh OUTDIR        # logs and records land in OUTDIR
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bash benchmarks/gpu_check.sh OUTDIR}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
C=runs/grid/ckpt
status=0
step() { echo "== $*"; "$@" || { status=1; echo "!! failed: $*"; }; }
step "$py" -c "import torch; from mfdiff_agents.device import use_bf16
print(torch.__version__, torch.cuda.get_device_name(), torch.cuda.get_device_capability(),
      'bf16 autocast:', use_bf16(torch.device('cuda')))"
# first the paths changed since the last GPU run (2026-11-30): EMA and resume on CUDA
MFDIFF_TEST_DEVICE=cuda step "$py" -m pytest -q -p no:cacheprovider tests/test_training.py \
  -k "ema or resume"
step "$py" -m pytest -q -p no:cacheprovider tests/test_cuda.py
# DDP: one process, then two sharing however many GPUs are visible (NCCL refuses two ranks on one
# GPU; the message says so). A tiny Squeeze dataset, a few steps of each learner.
ddp=$(mktemp -d)
export MINARI_DATASETS_PATH=$ddp/minari
step "$py" -c "from mfdiff_envs.offline.build import build_dataset
build_dataset('squeeze', n_agents=40, tier='medium', episodes=2, env_kwargs={'max_cycles': 6},
              ref_scores=(0.0, 1.0), progress=False)"
sets=(--set steps=20 --set horizon=4 --set n_particles=8 --set batch_size=4 --set log_every=5
      --set device=cuda)
for algo in bc mfdiffuser; do
  step "$py" -m torch.distributed.run --standalone --nproc_per_node 1 -m mfdiff train \
    --dataset mfdiff/squeeze-n40/medium-v0 --algo "$algo" --out "$ddp/$algo-1" --no-progress \
    "${sets[@]}"
done
echo "== two ranks, $("$py" -c 'import torch; print(torch.cuda.device_count())') GPU(s) visible"
timeout 120 "$py" -m torch.distributed.run --standalone --nproc_per_node 2 -m mfdiff train \
  --dataset mfdiff/squeeze-n40/medium-v0 --algo bc --out "$ddp/bc-2" --no-progress "${sets[@]}" \
  > "$out/ddp_two_ranks.log" 2>&1
echo "exit status $?"; grep -aE "Error|Duplicate|refus|checkpoint written" "$out/ddp_two_ranks.log" | head
unset MINARI_DATASETS_PATH
# several processes share the GPU: each test's models are tiny
MFDIFF_TEST_DEVICE=cuda step "$py" -m pytest -q -p no:cacheprovider -n 8 \
  tests/test_action_head.py tests/test_baselines.py tests/test_learning.py \
  tests/test_training.py tests/test_planner.py tests/test_properties.py tests/test_cli.py
if [ -d "$C/battle-n1000-mixed/mfdiffuser-s0" ]; then
  step "$py" benchmarks/gpu.py --device cuda --steps 32 --sizes 100 1000 10000 100000 \
    --out docs/results/device_cuda.md --checkpoint "ising=$C/ising-n1024-mixed/mfdiffuser-s0" \
    --checkpoint "battle=$C/battle-n1000-mixed/mfdiffuser-s0"
  cp docs/results/device_cuda.md "$out/" 2>/dev/null
else
  echo "(no grid checkpoints: the benchmark plans with random weights)"
  step "$py" benchmarks/gpu.py --device cuda --steps 32 --sizes 100 1000 10000 100000 \
    --out "$out/device_cuda_random_weights.md"
fi
[ -d "$C/battle-n1000-medium/mfdiffuser-s0" ] || { echo "(no grid checkpoints: step 5 skipped)"; exit $status; }
for fam in squeeze ising battle; do
  case $fam in
    squeeze) env=mfdiff/GaussianSqueeze-v0 n=1000 kw='{"max_cycles": 25}' stem=squeeze-n1000;;
    ising) env=mfdiff/Ising-v0 n=1024 kw='{"max_cycles": 50}' stem=ising-n1024;;
    battle) env=mfdiff/Battle-v0 n=1000 kw='{"max_cycles": 150, "opponent": "expert"}'
            stem=battle-n1000;;
  esac
  mapfile -t acting < <("$py" experiments/make_sweep.py --set-args "$fam" mfdiffuser)
  SECONDS=0
  step "$py" -m mfdiff eval --policy "$C/$stem-medium/mfdiffuser-s0" --env "$env" \
    --n-agents "$n" --seeds 5 --env-kwargs "$kw" --tier medium --device cuda "${acting[@]}" \
    --out "$out/eval_$fam.jsonl" --no-progress
  echo "$fam: ${SECONDS} s"
done
exit $status
