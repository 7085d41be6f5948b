#!/usr/bin/env bash
# Squeeze with training seeds and population sizes the grid never used
# (docs/results/squeeze_seeds.md): MF-Diffuser (the Squeeze config) and BC (its searched
# temperature), each trained exactly as the grid trains them but with training seeds 3 and 4,
# on the N = 1000 medium and mixed data, evaluated at N = 500 and 5000 over 5 evaluation seeds
# (10 runs per cell). From the repo root:
#     bash experiments/squeeze_seeds.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/squeeze_seeds
mkdir -p "$OUT"
source experiments/lib.sh
for tier in medium mixed; do mfdiff data build "mfdiff/squeeze-n1000/$tier-v0" --no-progress; done
train() {  # ALGO TIER SEED: one checkpoint with the grid's budget and config (kept once finished)
  local steps
  steps=$(python -c "import sys; sys.path.insert(0, 'experiments'); from make_sweep import grid_steps; print(grid_steps('squeeze', '$1'))")
  train_once "$OUT/$2/$1-s$3" "$OUT/$2-$1-s$3.log" --dataset "mfdiff/squeeze-n1000/$2-v0" \
    --algo "$1" --config "configs/$1/squeeze.json" --set "steps=$steps" --set "seed=$3" \
    --threads 1
}
for tier in medium mixed; do  # two at a time; a failed training stops the script
  for algo in mfdiffuser bc; do
    train "$algo" "$tier" 3 & a=$!
    train "$algo" "$tier" 4 & b=$!
    wait "$a"; wait "$b"
  done
done
python - "$OUT" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import FAMILIES, METHODS, acting_overrides, inline_table, run_block
out, = sys.argv[1:]
_, env, _, kwargs = FAMILIES["squeeze"]
for tier in ("medium", "mixed"):  # one lane per tier
    lines = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
    for algo in ("mfdiffuser", "bc"):
        for seed in (3, 4):
            lines += run_block(f"{out}/{tier}/{algo}-s{seed}", METHODS[algo][0], env, [500, 5000],
                               kwargs, tier, inline_table(acting_overrides("squeeze", algo)))
    with open(f"{out}/sweep_{tier}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
PY
eval_tier_lanes "$OUT" squeeze_seeds "bash experiments/squeeze_seeds.sh"
