#!/usr/bin/env bash
# How Battle agents draw their action from the head (docs/results/battle_decode.md; the
# evidence for the decoding fields of configs/mfdiffuser/battle.json). The grid's seed-0
# MF-Diffuser checkpoints (bash experiments/grid.sh battle), medium and mixed data, evaluated at
# N = 100 and 1000 over 5 evaluation seeds with the grid's planning settings and five decodings
# (each row spells all three decoding fields, so a row means the same whatever the config
# says): balanced at T = 0.3 (the default; Battle's observations are all distinct, so it is the
# argmax), and i.i.d. samples at T = 0.3 / 0.5 / 1 with min-p 0.1 and at T = 0.5 without. Then
# what the agents do (experiments/battle_trace.py). From the repo root:
#     bash experiments/battle_decode.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/battle_decode
C=runs/grid/ckpt/battle-n1000
mkdir -p "$OUT"
source experiments/lib.sh
need_checkpoints "bash experiments/grid.sh battle" "$C"-{medium,mixed}/mfdiffuser-s0
python - "$C" "$OUT" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import ACTING, FAMILIES, inline_table, one_plan, run_block
ckpt, out = sys.argv[1:]
_, env, _, kwargs = FAMILIES["battle"]
DECODINGS = [("balanced, T = 0.3 (argmax)", "balanced", 0.3, 0.0),
             ("sample, T = 0.3, min-p 0.1", "sample", 0.3, 0.1),
             ("sample, T = 0.5, min-p 0.1", "sample", 0.5, 0.1),
             ("sample, T = 1, min-p 0.1", "sample", 1.0, 0.1),
             ("sample, T = 0.5", "sample", 0.5, 0.0)]
for tier in ("medium", "mixed"):
    lines = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
    for label, decode, temp, min_p in DECODINGS:
        acting = {**ACTING, **one_plan("battle"), "head_decode": decode,
                  "head_temperature": temp, "head_min_p": min_p}
        lines += run_block(f"{ckpt}-{tier}/mfdiffuser-s0", label, env, [100, 1000], kwargs, tier,
                           inline_table(acting))
    with open(f"{out}/sweep_{tier}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
PY
eval_tier_lanes "$OUT" battle_decode "bash experiments/battle_decode.sh"
{ echo; echo "## What the agents do (\`python experiments/battle_trace.py\`, N = 1000, medium)"; echo
  python experiments/battle_trace.py --n-agents 1000 --seeds 2 expert \
    "$C-medium/mfdiffuser-s0:head_decode=balanced,head_temperature=0.3,head_min_p=0" \
    "$C-medium/mfdiffuser-s0:head_decode=sample,head_temperature=0.3,head_min_p=0.1" \
    "$C-medium/mfdiffuser-s0:head_decode=sample,head_temperature=1,head_min_p=0.1"
} >> docs/results/battle_decode.md
