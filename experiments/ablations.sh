#!/usr/bin/env bash
# MF-Diffuser ablations on Gaussian Squeeze, mixed data (N = 1000): docs/results/ablations.md.
# Regenerate from the repo root (after or beside experiments/grid.sh; ~1 CPU core):
#
#     bash experiments/ablations.sh
#
# Variants (same seed, data and budget as the grid's MF-Diffuser): full; beta = 0 (no value
# weighting); lam_chaos = 0 (no chaotic-entropy term); coarse_to_fine = false (K_max particles
# at every reverse step); interaction = none (no mean-field interaction between particles).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=runs/ablations
mkdir -p "$OUT/logs"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
DATASET=mfdiff/squeeze-n1000/mixed-v0
mfdiff data build "$DATASET" --no-progress || true

declare -A VARIANT=(
  [full]=""
  [no_value_weighting]="--set beta=0"
  [no_chaos]="--set lam_chaos=0"
  [no_coarse_to_fine]="--set coarse_to_fine=false"
  [no_interaction]="--set interaction=none"
)
source experiments/lib.sh
for name in full no_value_weighting no_chaos no_coarse_to_fine no_interaction; do
  # shellcheck disable=SC2086
  train_once "$OUT/$name" "$OUT/logs/train-$name.log" --dataset "$DATASET" --algo mfdiffuser \
    --set steps=800 --set replan_every=4 ${VARIANT[$name]}
done

python - <<'PY' > "$OUT/sweep.toml"
names = ["full", "no_value_weighting", "no_chaos", "no_coarse_to_fine", "no_interaction"]
print('seeds = 5\nepisodes = 1\ndevice = "cpu"\n')
for n in names:
    print(f'[[runs]]\npolicy = "runs/ablations/{n}"\nlabel = "{n}"\ntier = "mixed"\n'
          'env = "mfdiff/GaussianSqueeze-v0"\nn_agents = [1000, 10000]\n'
          'env_kwargs = { max_cycles = 25 }\n')
PY
rm -f "$OUT/records.jsonl"
mfdiff eval --sweep "$OUT/sweep.toml" --out "$OUT/records.jsonl" --no-progress > "$OUT/logs/eval.log" 2>&1
mfdiff eval --records "$OUT/records.jsonl" --report-dir docs/results --name ablations \
  --command "bash experiments/ablations.sh" > /dev/null
echo "wrote docs/results/ablations.md"
