#!/usr/bin/env bash
# What steadies Ising's plans (docs/results/ising_plans.md). On Ising-medium the grid's
# training seed 1 scores ~91 where seeds 0 and 2 score 97-101: its plans carry the medium data's
# random flips of aligned spins (the trace at the end). The seed-0 and seed-1 checkpoints
# (bash experiments/grid.sh ising), medium data, evaluated at N = 1024 over 3
# evaluation seeds with the grid's settings and three ways to ask for a steadier plan:
# classifier-free guidance w = 3 (the Ising checkpoints carry a null token), a greedier return
# target (3 instead of 1.5) and the best of 2 plans by the value net (one lane per training
# seed). Seed 1's weakness holds under all three (docs/results/README.md). From the repo root:
#     bash experiments/ising_plans.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/ising_plans
C=runs/grid/ckpt/ising-n1024
mkdir -p "$OUT"
source experiments/lib.sh
need_checkpoints "bash experiments/grid.sh ising" "$C"-medium/mfdiffuser-s{0,1}
python - "$C" "$OUT" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import ACTING, FAMILIES, inline_table, one_plan, run_block
ckpt, out = sys.argv[1:]
_, env, _, kwargs = FAMILIES["ising"]
# (label, guidance_weight, return_target, plan_samples)
VARIANTS = [("config", 1.0, 1.5, 1), ("guidance w = 3", 3.0, 1.5, 1),
            ("return target 3", 1.0, 3.0, 1), ("best of 2 plans", 1.0, 1.5, 2)]
for seed in (0, 1):  # one lane per training seed
    lines = ["seeds = 3", "episodes = 1", 'device = "cpu"', ""]
    for label, w, target, m in VARIANTS:
        acting = {**ACTING, **one_plan("ising"), "guidance_weight": w,
                  "return_target": target, "plan_samples": m}
        lines += run_block(f"{ckpt}-medium/mfdiffuser-s{seed}", f"{label}, training seed {seed}",
                           env, [1024], kwargs, "medium", inline_table(acting))
    with open(f"{out}/sweep_s{seed}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
PY
eval_lanes "$OUT" ising_plans "bash experiments/ising_plans.sh" s0 s1
{ echo; echo "## What the agents do (\`python experiments/ising_trace.py\`, N = 1024, medium)"; echo
  python experiments/ising_trace.py --seeds 2 expert medium "$C-medium/mfdiffuser-s0" \
    "$C-medium/mfdiffuser-s1" "$C-medium/mfdiffuser-s2"
} >> docs/results/ising_plans.md
