#!/usr/bin/env bash
# The GPU checks of what changed since the last full gpu_check.sh run (2026-12-04, forty-second
# update): the suite's CUDA tests, the distributed tests (ranks now leave through os._exit, a
# port taken between pick and listen is retried), and the CLI and evaluation tests with their
# models on the GPU (MFDIFF_TEST_DEVICE=cuda, tests/conftest.py). From the repo root:
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
  tests/test_evaluate.py tests/test_exploitability.py tests/test_training.py || status=1
exit $status
