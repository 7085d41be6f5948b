#!/usr/bin/env bash
# The cell of the missed "Battle >= BC" target, Battle-medium at N = 10^4
# (docs/results/battle_n10k.md): the grid's MF-Diffuser checkpoints (one head, medium data,
# training seeds 0 and 1) acting with the family config and one acting setting changed each:
#   - the head decoded at temperature 0.1 and 0.5 instead of 0.3;
#   - 1024 particles instead of 256 (k_schedule 16, 64, 256, 1024: about 20 agents per
#     particle at N = 10^4 become about 5);
#   - a replan every 3 steps instead of every 7;
#   - each agent lifted onto its nearest particle instead of balanced (lifting "nearest").
# 5 evaluation seeds each, one row per training seed; beside them the grid's records of the
# same checkpoints acting as the config (runs/grid/records-battle.jsonl, not re-evaluated).
# Then what the agents do (experiments/battle_trace.py; the same checkpoints and BC's, at
# N = 10^3 and 10^4, 2 episodes each): the share of the agents with an enemy in range that
# attack, the lead the trace found.
# From the repo root:
#     bash experiments/battle_n10k.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/battle_n10k
mkdir -p "$OUT"
source experiments/lib.sh
[ -f runs/grid/records-battle.jsonl ] || {
  echo "missing runs/grid/records-battle.jsonl: run bash experiments/grid.sh battle first" >&2
  exit 2
}
need_checkpoints "bash experiments/grid.sh battle" \
  runs/grid/ckpt/battle-n1000-medium/{mfdiffuser,bc}-s{0,1}
python - "$OUT" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import (FAMILIES, acting_overrides, grid_records, inline_table, run_block,
                        write_jsonl)
out = sys.argv[1]
_, env, _, kwargs = FAMILIES["battle"]
acting = acting_overrides("battle", "mfdiffuser")
rows = [("head temperature 0.1", {"head_temperature": 0.1}),
        ("head temperature 0.5", {"head_temperature": 0.5}),
        ("1024 particles", {"k_schedule": [16, 64, 256, 1024]}),
        ("replan every 3", {"replan_every": 3}),
        ("nearest lifting", {"lifting": "nearest"})]
head = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
for seed in (0, 1):  # one lane per training seed
    lines = list(head)
    for label, extra in rows:
        lines += run_block(f"runs/grid/ckpt/battle-n1000-medium/mfdiffuser-s{seed}",
                           f"{label}, seed {seed}", env, [10000], kwargs, "medium",
                           inline_table({**acting, **extra}))
    with open(f"{out}/sweep_lane{seed}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
# the grid's records of the same checkpoints and cell, acting as the config
rows = grid_records("battle", ("mfdiffuser-s0", "mfdiffuser-s1"), acting, (10000,),
                    lambda r: f"the config (grid), seed {r['config']['policy'][-1]}")
write_jsonl(f"{out}/grid.jsonl", rows)
PY
sweep_lanes "$OUT" lane0 lane1
mfdiff eval --records "$OUT"/records-lane{0,1}.jsonl "$OUT/grid.jsonl" \
  --report-dir docs/results --name battle_n10k --command "bash experiments/battle_n10k.sh"
C=runs/grid/ckpt/battle-n1000-medium
{ echo; echo "## What the agents do (\`python experiments/battle_trace.py\`, medium data)"
  for n in 1000 10000; do
    echo
    python experiments/battle_trace.py --n-agents "$n" --seeds 2 expert \
      "$C"/bc-s{0,1} "$C"/mfdiffuser-s{0,1}
  done
} >> docs/results/battle_n10k.md
