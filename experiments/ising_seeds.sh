#!/usr/bin/env bash
# Training changes against Ising-medium's weak training seed (docs/results/ising_seeds.md). The
# grid's seed-1 checkpoint plans the medium data's random flips of aligned spins
# (docs/results/ising_plans.md) and scores ~91 where seed 0 scores ~101; no acting change fixed
# it. Here the Ising config is retrained on the N = 1024 medium data with training seeds 0 and 1
# and one change each — twice the gradient steps (800), or twice the per-particle credit
# (beta_agent 4) — and evaluated at N = 1024 over 3 evaluation seeds with the grid's planning
# settings, beside the grid's own checkpoints; then the flip trace. From the repo root:
#     bash experiments/ising_seeds.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/ising_seeds
C=runs/grid/ckpt/ising-n1024-medium
mkdir -p "$OUT"
mfdiff data build mfdiff/ising-n1024/medium-v0 --no-progress
source experiments/lib.sh
train() {  # NAME SEED FIELD=VALUE: one checkpoint (kept once finished)
  train_once "$OUT/$1-s$2" "$OUT/$1-s$2.log" --dataset mfdiff/ising-n1024/medium-v0 \
    --algo mfdiffuser --config experiments/configs/ising_even_steps.json --set "seed=$2" --set "$3" \
    --threads 1
}
for s in 0 1; do  # two at a time; a failed training stops the script
  train steps800 "$s" steps=800 & a=$!
  train beta4 "$s" beta_agent=4.0 & b=$!
  wait_all "$a" "$b"
done
python - "$C" "$OUT" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import ACTING, FAMILIES, inline_table, one_plan, run_block
grid, out = sys.argv[1:]
_, env, _, kwargs = FAMILIES["ising"]
acting = inline_table({**ACTING, **one_plan("ising")})
for seed in (0, 1):  # one lane per training seed
    lines = ["seeds = 3", "episodes = 1", 'device = "cpu"', ""]
    for path, label in ((f"{grid}/mfdiffuser-s{seed}", "grid checkpoint (400 steps, beta_agent 2)"),
                        (f"{out}/steps800-s{seed}", "800 steps"),
                        (f"{out}/beta4-s{seed}", "beta_agent 4")):
        lines += run_block(path, f"{label}, training seed {seed}", env, [1024], kwargs, "medium",
                           acting)
    with open(f"{out}/sweep_s{seed}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
PY
eval_lanes "$OUT" ising_seeds "bash experiments/ising_seeds.sh" s0 s1
{ echo; echo "## What the agents do (\`python experiments/ising_trace.py\`, N = 1024, medium)"; echo
  python experiments/ising_trace.py --seeds 2 "$C/mfdiffuser-s1" "$OUT/steps800-s1" "$OUT/beta4-s1"
} >> docs/results/ising_seeds.md
