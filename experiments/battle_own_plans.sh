#!/usr/bin/env bash
# The Battle config with its action head trained on the diffusion model's own plans
# (Config.head_own_plans; thirty-second update, docs/results/battle_own_plans.md) at every
# Battle cell of the grid: both tiers, N = 10^2, 10^3, 10^4 (both teams), training seeds 0-2 x
# 5 evaluation seeds, the config's acting, beside the grid's records of the config and BC
# (docs/results/records/records-battle.jsonl.gz, not re-evaluated).
# Training as experiments/battle_head_steps.sh with OWN_PLANS=1 (the same checkpoints, in the
# same dir: its medium ones are reused): the Battle config (configs/mfdiffuser/battle.json)
# for 800 steps, the first 400 training the diffusion model and the head together (the grid's
# diffusion weights, bit for bit), the last 400 the head alone on the model's own plans.
# ~7 min per checkpoint and ~15 min of evaluation on 2 cores. From the repo root:
#     bash experiments/battle_own_plans.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/battle_head_steps_own_plans
mkdir -p "$OUT"
source experiments/lib.sh
for tier in medium mixed; do  # kept if built
  mfdiff data build "mfdiff/battle-n1000/$tier-v0" --no-progress > /dev/null
done
train() {  # tier seed
  train_once "$OUT/$1-s$2" "$OUT/$1-s$2.log" \
    --dataset "mfdiff/battle-n1000/$1-v0" --algo mfdiffuser \
    --config configs/mfdiffuser/battle.json --set "seed=$2" --set steps=800 \
    --set diffusion_steps=400 --set head_own_plans=1 --threads 1
}
(train medium 0; train medium 2; train mixed 1) & a=$!  # one lane per core
(train medium 1; train mixed 0; train mixed 2) & b=$!
wait "$a"; wait "$b"
python - "$OUT" <<'PY'
import gzip
import json
import sys

sys.path.insert(0, "experiments")
from make_sweep import (ACTING, FAMILIES, family_planning, inline_table, run_block,
                        write_jsonl)

out = sys.argv[1]
label = "MF-Diffuser, head on its own plans"
_, env, ns, kwargs = FAMILIES["battle"]
acting = {**ACTING, **family_planning("battle")}  # the family config's acting, spelled out
assert acting["head_temperature"] == 0.4 and acting["head_min_p"] == 0.05, acting
# two lanes of about equal cost: one per tier
for tier in ("medium", "mixed"):
    lines = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
    for seed in (0, 1, 2):
        lines += run_block(f"{out}/{tier}-s{seed}", label, env, ns, kwargs, tier,
                           inline_table(acting))
    with open(f"{out}/sweep_own_{tier}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
# the grid's rows of the config (its head trained 400 steps on the data) and BC, not re-evaluated
grid = {"MF-Diffuser": "MF-Diffuser (grid: the config)", "BC": "BC (grid)"}
rows = []
with gzip.open("docs/results/records/records-battle.jsonl.gz", "rt") as f:
    for line in f:
        r = json.loads(line)
        if r["method"] in grid and r["n_agents"] in (50, 500, 5000):
            r["method"] = grid[r["method"]]
            rows.append(r)
# 2 methods x 2 tiers x 3 N x 3 training x 5 evaluation seeds
assert len(rows) == 2 * 2 * 3 * 15, len(rows)
write_jsonl(f"{out}/grid_all.jsonl", rows)
PY
sweep_lanes "$OUT" own_medium own_mixed
mfdiff eval --records "$OUT"/records-own_{medium,mixed}.jsonl "$OUT/grid_all.jsonl" \
  --report-dir docs/results --name battle_own_plans \
  --command "bash experiments/battle_own_plans.sh"
