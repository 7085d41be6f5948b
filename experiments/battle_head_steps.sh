#!/usr/bin/env bash
# Is Battle's action head under-trained at the config's 400 steps? (thirtieth update,
# docs/results/battle_head_steps.md). BC trains 1000 steps and wins every N = 10^2 battle of the
# grid; MF-Diffuser's head trains with the diffusion model for 400. Here the Battle config
# (configs/mfdiffuser/battle.json) trains on medium data with training seeds 0-2 for STEPS
# (default 800) steps, of which the first 400 train the diffusion model and the head together
# (diffusion_steps 400: the same diffusion weights as the grid's checkpoints, bit for bit) and
# the rest the head alone; evaluated with the config's acting at N = 10^2 and 10^3 (both teams),
# 5 evaluation seeds, beside the grid's records of the config (400 steps) and BC at those N.
# The fifteenth update's head (reading the whole plan, no state baseline) trained this way to
# 1600 steps scored 77-86 at N = 10^3 (docs/results/head_variants.md). ~15 min on 2 cores.
# OWN_PLANS=p (thirty-first update, docs/results/battle_head_steps_own_plans.md): the head-only
# steps train on the diffusion model's own plans in a share p of the windows (Config.
# head_own_plans) instead of the data's next states; ~40 min on 2 cores (a head step samples
# a plan: 40 DDIM passes).
# From the repo root:
#     bash experiments/battle_head_steps.sh          # or: STEPS=1200 bash ...
#     OWN_PLANS=1 bash experiments/battle_head_steps.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
STEPS=${STEPS:-800}
case $STEPS in ''|*[!0-9]*) echo "battle_head_steps.sh: STEPS is an integer > 400" >&2; exit 2;; esac
[ "$STEPS" -gt 400 ] || { echo "battle_head_steps.sh: STEPS is an integer > 400" >&2; exit 2; }
OWN_PLANS=${OWN_PLANS:-0}
case $OWN_PLANS in 0|1|0.[0-9]*) ;; *) echo "battle_head_steps.sh: OWN_PLANS is in [0, 1]" >&2
                                       exit 2;; esac
NAME=battle_head_steps
[ "$STEPS" != 800 ] && NAME+=_$STEPS
[ "$OWN_PLANS" != 0 ] && NAME+=_own_plans && [ "$OWN_PLANS" != 1 ] && NAME+=$OWN_PLANS
OUT=runs/$NAME
mkdir -p "$OUT"
source experiments/lib.sh
mfdiff data build mfdiff/battle-n1000/medium-v0 --no-progress > /dev/null  # kept if built
train() {  # seed
  train_battle_head "$OUT" medium "$1" "$STEPS" "$OWN_PLANS"
}
(train 0; train 2) & a=$!  # one lane per core
(train 1) & b=$!
wait_all "$a" "$b"
python - "$OUT" "$STEPS" "$OWN_PLANS" <<'PY'
import gzip
import json
import sys

sys.path.insert(0, "experiments")
from make_sweep import (ACTING, FAMILIES, family_planning, inline_table, run_block,
                        write_jsonl)

out, steps, own = sys.argv[1:]
label = f"MF-Diffuser, head trained to {steps} steps"
if float(own) > 0:
    label += " on its own plans" + ("" if float(own) == 1 else f" ({own} of the windows)")
_, env, _, kwargs = FAMILIES["battle"]
acting = {**ACTING, **family_planning("battle")}  # the family config's acting, spelled out
assert acting["head_temperature"] == 0.4 and acting["head_min_p"] == 0.05, acting
for lane, seeds in enumerate(((0, 2), (1,))):
    lines = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
    for seed in seeds:
        lines += run_block(f"{out}/medium-s{seed}", label,
                           env, [100, 1000], kwargs, "medium", inline_table(acting))
    with open(f"{out}/sweep_lane{lane}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
# the grid's records of the config (its head trained 400 steps; a grid row of its own since
# the thirty-third update) and BC, not re-evaluated
grid = {"MF-Diffuser, head trained on data": "MF-Diffuser, 400 steps (grid)", "BC": "BC (grid)"}
rows = []
with gzip.open("docs/results/records/records-battle.jsonl.gz", "rt") as f:
    for line in f:
        r = json.loads(line)
        if (r["method"] in grid and r["n_agents"] in (50, 500) and r.get("tier") == "medium"
                and "battle-n1000-medium/" in str(r["config"]["policy"])):
            r["method"] = grid[r["method"]]
            rows.append(r)
assert len(rows) == 2 * 2 * 15, len(rows)  # 2 methods x 2 N x 3 training x 5 evaluation seeds
write_jsonl(f"{out}/grid.jsonl", rows)
PY
sweep_lanes "$OUT" lane0 lane1
mfdiff eval --records "$OUT"/records-lane{0,1}.jsonl "$OUT/grid.jsonl" \
  --report-dir docs/results --name "$NAME" \
  --command "$([ "$STEPS" != 800 ] && printf 'STEPS=%s ' "$STEPS")$([ "$OWN_PLANS" != 0 ] &&
    printf 'OWN_PLANS=%s ' "$OWN_PLANS")bash experiments/battle_head_steps.sh"
