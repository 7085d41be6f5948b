#!/usr/bin/env bash
# Two suspects for the missed cell (Battle-medium at N = 10^4: MF-Diffuser 99.4 vs BC 103.1 in
# the grid), each measured over training seeds 0-2 x 5 evaluation seeds
# (docs/results/battle_gap10k.md; nineteenth update):
#   - the training data: the grid trains every method on the N = 10^3 medium data, whose battles
#     end by step 107-120, and evaluates at N = 10^4, where both teams fight to step 150
#     (docs/results/battle_late.md). Here MF-Diffuser and BC train, with their family configs
#     and nothing else changed, on the catalogue's N = 10^4 medium data
#     (mfdiff/battle-n10000/medium-v0: 20 episodes, every one running to max_cycles 200) and
#     play at N = 10^4 and 10^3;
#   - the lifting: at N = 10^4 (5000 distinct observations) the balanced lifting takes its
#     Sinkhorn route, at N = 10^3 the exact one (exact_ot_max_n = 2000). Here the grid's
#     checkpoints act at N = 10^4 with exact OT at every step (exact_ot_max_n = 10000).
# Beside them the grid's records of MF-Diffuser and BC (trained at N = 10^3;
# docs/results/records/records-battle.jsonl.gz, not re-evaluated). Then what the agents with an
# enemy in range do by phase of the episode (experiments/battle_trace.py --phases, N = 10^4), and
# what the agents do over whole episodes (battle_trace.py: attack share in range, moves blocked).
# Three lanes (MF-Diffuser, BC, exact lifting); ~30 min on 2 cores. From the repo root:
#     bash experiments/battle_gap10k.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/battle_gap10k
DATA=mfdiff/battle-n10000/medium-v0
mkdir -p "$OUT"
source experiments/lib.sh
need_checkpoints "bash experiments/grid.sh battle" runs/grid/ckpt/battle-n1000-medium/mfdiffuser-s{0,1,2}
mfdiff data build "$DATA" --workers 2 --no-progress  # ~30 s, 1.3 GB; kept if already built
# two lanes, one per core: MF-Diffuser's three seeds, BC's three seeds
(for seed in 0 1 2; do
  train_once "$OUT/mfdiffuser-s$seed" "$OUT/mfdiffuser-s$seed.log" --dataset "$DATA" \
    --algo mfdiffuser --config "$(mfd_config battle)" --set "seed=$seed" \
    --set "head_blind=[]" --set head_value=false --threads 1
done) & lane_a=$!
(for seed in 0 1 2; do
  train_once "$OUT/bc-s$seed" "$OUT/bc-s$seed.log" --dataset "$DATA" \
    --algo bc --config configs/bc/battle.json --set "seed=$seed" --threads 1
done) & lane_b=$!
wait_all "$lane_a" "$lane_b"
python - "$OUT" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import (FAMILIES, acting_overrides, inline_table, published_records,
                        run_block, write_jsonl)
out = sys.argv[1]
_, env, _, kwargs = FAMILIES["battle"]
head = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
for lane, algo, label in ((0, "mfdiffuser", "MF-Diffuser"), (1, "bc", "BC")):
    lines = list(head)
    for seed in (0, 1, 2):
        lines += run_block(f"{out}/{algo}-s{seed}", f"{label}, N = 10^4 data", env,
                           [1000, 10000], kwargs, "medium",
                           inline_table(acting_overrides("battle", algo)))
    with open(f"{out}/sweep_lane{lane}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
lines = list(head)
for seed in (0, 1, 2):
    lines += run_block(f"runs/grid/ckpt/battle-n1000-medium/mfdiffuser-s{seed}",
                       "MF-Diffuser, exact lifting (grid weights)", env, [10000], kwargs,
                       "medium", inline_table({**acting_overrides("battle", "mfdiffuser"),
                                               "exact_ot_max_n": 10000}))
with open(f"{out}/sweep_lane2.toml", "w") as f:
    f.write("\n".join(lines) + "\n")
# the grid's records of the same methods, trained on the N = 10^3 medium data
labels = {"mfdiffuser": "MF-Diffuser, N = 10^3 data (grid)", "bc": "BC, N = 10^3 data (grid)"}
rows = published_records("battle", "battle-n1000-medium", labels, (500, 5000))
write_jsonl(f"{out}/grid.jsonl", rows)
PY
sweep_lanes "$OUT" lane0 lane1 lane2
mfdiff eval --records "$OUT"/records-lane{0,1,2}.jsonl "$OUT/grid.jsonl" \
  --report-dir docs/results --name battle_gap10k --command "bash experiments/battle_gap10k.sh"
{ echo; echo "## Agents with an enemy in range, by phase (\`python experiments/battle_trace.py --phases\`, medium data, N = 10^4)"
  echo
  python experiments/battle_trace.py --phases --n-agents 10000 --seeds 2 expert \
    "$OUT"/bc-s{0,1} "$OUT"/mfdiffuser-s{0,1}
  echo
  echo "## What the agents do (\`python experiments/battle_trace.py\`, medium data, N = 10^4)"
  echo
  python experiments/battle_trace.py --n-agents 10000 --seeds 2 "$OUT"/{bc,mfdiffuser}-s0 \
    runs/grid/ckpt/battle-n1000-medium/{bc,mfdiffuser}-s0
} >> docs/results/battle_gap10k.md
