#!/usr/bin/env bash
# Squeeze decoding: min-p truncation (the config until the eleventh update) vs removing the
# uniform floor of the head's distribution (action_head.remove_uniform), on the grid's three
# MF-Diffuser training seeds, medium and mixed data, N = 100 and 1000, 5 evaluation seeds each
# (15 runs per cell), best of 4 plans as in the grid (docs/results/squeeze_uniform.md); then,
# with the floor removed, temperatures above 1 and a higher return target at N = 1000, and a
# replan at every step (instead of every 4) at N = 100 and 1000. Each
# row spells every decoding field it sets. From the repo root:
#     bash experiments/squeeze_uniform.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/squeeze_uniform
C=runs/grid/ckpt/squeeze-n1000
mkdir -p "$OUT"
source experiments/lib.sh
need_checkpoints "bash experiments/grid.sh squeeze" "$C"-{medium,mixed}/mfdiffuser-s{0,1,2}
python - "$C" "$OUT" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import ACTING, FAMILIES, before_plans, family_planning, inline_table, run_block
ckpt, out = sys.argv[1:]
_, env, _, kwargs = FAMILIES["squeeze"]
# (label, decoding fields beyond the grid's acting and the family config, N)
FLOOR = {"head_remove_uniform": True, "head_min_p": 0.0, "head_temperature": 1.0}
DECODINGS = [
    ("min-p 0.2", {"head_remove_uniform": False, "head_min_p": 0.2, "head_temperature": 1.0},
     [100, 1000]),
    ("uniform floor removed", FLOOR, [100, 1000]),
    ("uniform floor removed, T = 1.25", {**FLOOR, "head_temperature": 1.25}, [1000]),
    ("uniform floor removed, T = 1.5", {**FLOOR, "head_temperature": 1.5}, [1000]),
    ("uniform floor removed, return target 3", {**FLOOR, "return_target": 3.0}, [1000]),
    ("uniform floor removed, replan every step", {**FLOOR, "replan_every": 1}, [100, 1000]),
]
for tier in ("medium", "mixed"):
    lines = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
    for label, fields, ns in DECODINGS:
        # every 4 steps unless the row says otherwise, as measured (the config replans every step
        # since the twelfth update, adopted from this table's last row), on the best of 4 plans
        # (the config's rule until the thirty-eighth update)
        acting = {**ACTING, **before_plans("squeeze", family_planning("squeeze")),
                  "head_decode": "balanced", "replan_every": 4, **fields}
        for seed in (0, 1, 2):
            lines += run_block(f"{ckpt}-{tier}/mfdiffuser-s{seed}", label, env, ns,
                               kwargs, tier, inline_table(acting))
    with open(f"{out}/sweep_{tier}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
PY
eval_tier_lanes "$OUT" squeeze_uniform "bash experiments/squeeze_uniform.sh"
{ echo; echo "## What the agents play (\`python experiments/squeeze_trace.py\`, N = 1000, medium)"; echo
  python experiments/squeeze_trace.py --seeds 2 --set replan_every=4 expert \
    "$C-medium/mfdiffuser-s0:head_remove_uniform=false,head_min_p=0.2" "$C-medium/mfdiffuser-s0" \
    "$C-medium/mfdiffuser-s1:head_remove_uniform=false,head_min_p=0.2" "$C-medium/mfdiffuser-s1"
} >> docs/results/squeeze_uniform.md
