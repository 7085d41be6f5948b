#!/usr/bin/env bash
# The GPU checks of what changed since the last GPU run (2026-12-04, the device_cuda.md of the
# forty-second update): tests/test_cuda.py (since the fiftieth update also the shipped configs'
# acting settings, capped particle schedules, the tiny-temperature fallbacks, an ensemble of
# "cuda" and "cuda:0" members, exploitability on the GPU), the distributed tests (ranks leave
# through os._exit, a port taken between pick and listen is retried), and the tests of the code
# changed since with their models on the GPU (MFDIFF_TEST_DEVICE=cuda, tests/conftest.py):
# baselines' training and acting (Battle's next_alive TD targets, sample_categorical's
# fallback), the planner's split anchors and balanced decoding, ensembles, exploitability and
# checkpoints. Steps 4-5 of gpu_check.sh (benchmarks, the grid's checkpoints)
# are not repeated. From the repo root:
#     bash benchmarks/gpu_recheck.sh
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
status=0
"$py" -c "import torch; print(torch.__version__, torch.cuda.get_device_name())" || status=1
"$py" -m pytest -q -p no:cacheprovider tests/test_cuda.py || status=1
# the two-rank spawn tests, five times over (about 40 s each): their teardown aborted 5 runs
# in 20 before the fix
for i in 1 2 3 4 5; do
  "$py" -m pytest -q -p no:cacheprovider tests/test_distributed.py | tail -1 || status=1
done
par=$("$py" -c "import xdist" 2>/dev/null && echo "-n 12 -p no:benchmark")
# several processes share the GPU: each test's models are tiny
MFDIFF_TEST_DEVICE=cuda "$py" -m pytest -q -p no:cacheprovider $par tests/test_cli.py \
  tests/test_evaluate.py tests/test_exploitability.py tests/test_training.py \
  tests/test_baselines.py tests/test_planner.py tests/test_ensemble.py \
  tests/test_action_head.py || status=1
exit $status
