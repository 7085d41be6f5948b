#!/usr/bin/env bash
# How much noise the Squeeze head needs once its uniform floor is removed
# (docs/results/squeeze_head_noise.md). The head reads the population's own histogram, which in
# the medium data always carries the random actions' floor; a clean population is off its data
# and the head's level-3 share drifts down (docs/method.md (16)). Noise on the head's inputs
# while training (head_noise, docs/method.md (14)) pulls it toward the data's marginal. The
# Squeeze config (head_noise 0.75, the grid's checkpoints) is retrained with 1.0 on
# training seeds 0, 1, 2, medium and mixed data, and everything is evaluated at N = 1000 over 5
# evaluation seeds with the config's acting (15 runs per cell). From the repo root:
#     bash experiments/squeeze_head_noise.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/squeeze_head_noise
C=runs/grid/ckpt/squeeze-n1000
mkdir -p "$OUT"
source experiments/lib.sh
need_checkpoints "bash experiments/grid.sh squeeze" "$C"-{medium,mixed}/mfdiffuser-s{0,1,2}
train() {  # TIER NOISE SEED: the Squeeze config with head_noise NOISE (kept once finished)
  train_once "$OUT/$1/noise$2-s$3" "$OUT/$1-noise$2-s$3.log" \
    --dataset "mfdiff/squeeze-n1000/$1-v0" --algo mfdiffuser \
    --config configs/mfdiffuser/squeeze.json --set steps=800 --set "head_noise=$2" \
    --set "seed=$3" --set head_ensemble=1 --threads 1  # one head, as when measured
}
for s in 0 1 2; do  # two at a time; a failed training stops the script
  train medium 1.0 "$s" & a=$!
  train mixed 1.0 "$s" & b=$!
  wait_all "$a" "$b"
done
python - "$C" "$OUT" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import ACTING, FAMILIES, before_plans, family_planning, inline_table, run_block
grid, out = sys.argv[1:]
_, env, _, kwargs = FAMILIES["squeeze"]
# replanning every 4 steps, as measured (the config replans every step since the twelfth update),
# on the best of 4 plans (the config's rule until the thirty-eighth update)
acting = inline_table({**ACTING, **before_plans("squeeze", family_planning("squeeze")),
                       "replan_every": 4})
for tier in ("medium", "mixed"):  # one lane per tier
    lines = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
    for seed in (0, 1, 2):
        lines += run_block(f"{grid}-{tier}/mfdiffuser-s{seed}", "head_noise 0.75 (config)", env,
                           [1000], kwargs, tier, acting)
        lines += run_block(f"{out}/{tier}/noise1.0-s{seed}", "head_noise 1.0", env,
                           [1000], kwargs, tier, acting)
    with open(f"{out}/sweep_{tier}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
PY
eval_tier_lanes "$OUT" squeeze_head_noise "bash experiments/squeeze_head_noise.sh"
{ echo; echo "## What the agents play (\`python experiments/squeeze_trace.py\`, N = 1000, medium)"; echo
  python experiments/squeeze_trace.py --seeds 2 --set replan_every=4 "$C-medium/mfdiffuser-s0" \
    "$OUT/medium/noise1.0-s0" "$C-medium/mfdiffuser-s1" "$OUT/medium/noise1.0-s1"
} >> docs/results/squeeze_head_noise.md
