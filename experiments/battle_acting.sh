#!/usr/bin/env bash
# One acting setting of the Battle config varied on the grid's checkpoints of the config
# (mfdiffuser-blind-hv, training seeds 0-2, both tiers), 5 evaluation seeds per N, beside the
# grid's records of the same checkpoints, BC and IQL (not re-evaluated). Acting only: no
# training. Twenty-sixth update, docs/results/battle_<study>.md. From the repo root:
#
#     bash experiments/battle_acting.sh replan   # ~45 min on 2 cores
#   replan_every 1 (N = 10^2, 10^3 only: at 40 DDIM steps a plan per env step costs ~0.3 s per
#   step there already, and an hour and a half of the 2 cores at 10^4) and 3 (every N) against
#   the config's 7, which was chosen before the action head became blind to the plan's x, y and
#   enemy_in_range change (head_blind [1, 2, 9]) and sampled: the reason it gave — a fresh plan
#   every step hands every agent a new particle, whose planned *position* change the head then
#   executed, so moves stopped adding up — no longer holds for a head that never reads it.
#
#     bash experiments/battle_acting.sh min_p    # ~30 min on 2 cores
#   the head's min-p cut 0.25 and 0.4 against the config's 0.1 (battle_decode.md chose it on
#   seed 0 against no cut). Where Battle-medium misses BC (N = 10^4, "Battle >= BC", and the
#   exploitability target) agents with an enemy in range step instead of attacking in ~5 % of
#   their steps where BC's nearly never do (battle_split.md), and a scripted-expert deviator
#   gains ~2 per agent over them (exploitability_battle_n10000_seeds012_blindhv_medium.md). A
#   higher cut drops such low-probability steps and leaves near-equal choices to the sample
#   (T = 0.1, which sharpens every choice, lost 20 points at N = 10^4 in battle_n10k.md).
#   Both lost, the more the higher the cut; then no cut at all (min-p 0) as well.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
STUDY=${1:?usage: bash experiments/battle_acting.sh replan|min_p}
case $STUDY in replan|min_p) ;; *) echo "battle_acting.sh: study is replan or min_p" >&2; exit 2;; esac
OUT=runs/battle_$STUDY
mkdir -p "$OUT"
source experiments/lib.sh
need_checkpoints "bash experiments/grid.sh battle" \
  runs/grid/ckpt/battle-n1000-{medium,mixed}/mfdiffuser-blind-hv-s{0,1,2}
python - "$OUT" "$STUDY" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import (FAMILIES, acting_overrides, inline_table, published_records,
                        run_block, write_jsonl)
out, study = sys.argv[1:]
_, env, ns, kwargs = FAMILIES["battle"]
acting = acting_overrides("battle", "mfdiffuser")
# study: (the config's field, its value in the grid's rows, [(label, value, N)...])
field, grid_value, variants = {
    "replan": ("replan_every", 7, [("replan every step", 1, ns[:2]), ("replan every 3", 3, ns)]),
    "min_p": ("head_min_p", 0.1, [("no min-p cut", 0.0, ns), ("min-p 0.25", 0.25, ns),
                                  ("min-p 0.4", 0.4, ns)]),
}[study]
assert acting[field] == grid_value, acting  # the grid's setting, the rows compared with
grid_label = {"replan": "replan every 7", "min_p": "min-p 0.1"}[study]
rows = []
for lane, tier in enumerate(("medium", "mixed")):  # one lane per core
    lines = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
    for label, value, n_agents in variants:
        for seed in (0, 1, 2):
            lines += run_block(f"runs/grid/ckpt/battle-n1000-{tier}/mfdiffuser-blind-hv-s{seed}",
                               f"MF-Diffuser, {label}", env, n_agents, kwargs, tier,
                               inline_table({**acting, field: value}))
    with open(f"{out}/sweep_lane{lane}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
    labels = {"mfdiffuser-blind-hv": f"MF-Diffuser, {grid_label} (grid)", "bc": "BC (grid)",
              "iql": "IQL (grid)"}
    rows += published_records("battle", f"battle-n1000-{tier}", labels, (50, 500, 5000),
                              methods=("MF-Diffuser", "BC", "IQL"))
write_jsonl(f"{out}/grid.jsonl", rows)
PY
sweep_lanes "$OUT" lane0 lane1
mfdiff eval --records "$OUT"/records-lane{0,1}.jsonl "$OUT/grid.jsonl" \
  --report-dir docs/results --name "battle_$STUDY" \
  --command "bash experiments/battle_acting.sh $STUDY"
