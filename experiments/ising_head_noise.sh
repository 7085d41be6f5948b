#!/usr/bin/env bash
# Noise on the Ising action head's inputs while training (docs/results/ising_head_noise.md).
# Ising-medium has weak training seeds (grid seed 1, unseen_ising.md's seed 3) whose
# populations sometimes flip almost all at once (ising_seeds.md's trace): the head follows a
# particle's planned next spin, generation error included, and every agent of that observation
# follows it. Squeeze's head stopped reading the plan's generation error as signal once it was
# trained on noised inputs (head_noise, docs/method.md (14)); Ising trains without. The Ising
# config is retrained with head_noise 0.5 on training seeds 0, 1, 2 (the diffusion model's
# weights are the grid's: the noise has its own random stream), medium and mixed data, and
# evaluated beside the grid's checkpoints at N = 100 and 1024 over 5 evaluation seeds with the
# grid's acting (15 runs per cell). From the repo root:
#     bash experiments/ising_head_noise.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/ising_head_noise
C=runs/grid/ckpt/ising-n1024
NOISE=0.5
mkdir -p "$OUT"
source experiments/lib.sh
need_checkpoints "bash experiments/grid.sh ising" "$C"-{medium,mixed}/mfdiffuser-s{0,1,2}
train() {  # TIER SEED: the Ising config with head_noise NOISE (kept once finished)
  train_once "$OUT/$1/noise$NOISE-s$2" "$OUT/$1-noise$NOISE-s$2.log" \
    --dataset "mfdiff/ising-n1024/$1-v0" --algo mfdiffuser \
    --config experiments/configs/ising_even_steps.json --set "head_noise=$NOISE" --set "seed=$2" --threads 1
}
for s in 0 1 2; do  # two at a time; a failed training stops the script
  train medium "$s" & a=$!
  train mixed "$s" & b=$!
  wait_all "$a" "$b"
done
python - "$C" "$OUT" "$NOISE" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import ACTING, FAMILIES, inline_table, one_plan, run_block
grid, out, noise = sys.argv[1:]
_, env, _, kwargs = FAMILIES["ising"]
acting = inline_table({**ACTING, **one_plan("ising")})
for tier in ("medium", "mixed"):  # one lane per tier
    lines = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
    for seed in (0, 1, 2):
        lines += run_block(f"{grid}-{tier}/mfdiffuser-s{seed}", "head_noise 0 (grid)", env,
                           [100, 1024], kwargs, tier, acting)
        lines += run_block(f"{out}/{tier}/noise{noise}-s{seed}", f"head_noise {noise}", env,
                           [100, 1024], kwargs, tier, acting)
    with open(f"{out}/sweep_{tier}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
PY
eval_tier_lanes "$OUT" ising_head_noise "bash experiments/ising_head_noise.sh"
