#!/usr/bin/env bash
# How Squeeze agents draw their action from the head (docs/results/squeeze_decode.md). The
# grid's seed-0 MF-Diffuser checkpoints (bash experiments/grid.sh squeeze), medium and mixed
# data, evaluated at N = 100 and 1000 over 5 evaluation seeds with the grid's planning settings
# (best of 4 plans) and balanced decodings that differ in min-p truncation, temperature and the
# return the plan is conditioned on. Each row spells every field it varies, so a row means the
# same whatever the config says. From the repo root:
#     bash experiments/squeeze_decode.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/squeeze_decode
C=runs/grid/ckpt/squeeze-n1000
mkdir -p "$OUT"
source experiments/lib.sh
need_checkpoints "bash experiments/grid.sh squeeze" "$C"-{medium,mixed}/mfdiffuser-s0
python - "$C" "$OUT" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import ACTING, FAMILIES, before_plans, family_planning, inline_table, run_block
ckpt, out = sys.argv[1:]
_, env, _, kwargs = FAMILIES["squeeze"]
# (label, head_min_p, head_temperature, return_target)
DECODINGS = [("min-p 0.2, T = 1 (config)", 0.2, 1.0, 1.5),
             ("min-p 0.15, T = 1", 0.15, 1.0, 1.5),
             ("min-p 0.1, T = 1", 0.1, 1.0, 1.5),
             ("min-p 0.2, T = 1.5", 0.2, 1.5, 1.5),
             ("min-p 0.2, T = 1, return target 2.5", 0.2, 1.0, 2.5)]
for tier in ("medium", "mixed"):
    lines = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
    for label, min_p, temp, target in DECODINGS:
        # min-p as the labels say, not the uniform floor the config removes since the
        # eleventh update
        # (and the best of 4 plans, the config's rule until the thirty-eighth update)
        acting = {**ACTING, **before_plans("squeeze", family_planning("squeeze")),
                  "head_decode": "balanced", "head_remove_uniform": False, "head_min_p": min_p,
                  "head_temperature": temp, "return_target": target, "replan_every": 4}
        lines += run_block(f"{ckpt}-{tier}/mfdiffuser-s0", label, env, [100, 1000], kwargs, tier,
                           inline_table(acting))
    with open(f"{out}/sweep_{tier}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
PY
eval_tier_lanes "$OUT" squeeze_decode "bash experiments/squeeze_decode.sh"
