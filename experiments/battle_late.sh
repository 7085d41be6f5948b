#!/usr/bin/env bash
# Where the gap to BC opens at the missed cell, Battle-medium N = 10^4 (docs/results/battle_late.md;
# eighteenth update):
#   - the head's advantage weighting made sharper, head_beta 2 instead of the config's 1 (a head
#     setting trains only the head, so these checkpoints share the grid's diffusion weights),
#     training seeds 0 and 1, 5 evaluation seeds at N = 10^3 and 10^4, beside the grid's records
#     of the config and of BC (docs/results/records/records-battle.jsonl.gz, not re-evaluated);
#   - what the agents with an enemy in range do by phase of the episode
#     (experiments/battle_trace.py --phases: steps 0-29, 30-89, 90-149; the grid's checkpoints of
#     BC and MF-Diffuser and the head_beta 2 ones, N = 10^3 and 10^4, 2 episodes each). Battle's
#     datasets end every episode by step 120 at N = 10^3 (their clock runs to max_cycles 200; the
#     grid evaluates to 150), and only at N = 10^4 does a battle last past step 90.
# Needs the grid's Battle checkpoints (bash experiments/grid.sh battle). From the repo root:
#     bash experiments/battle_late.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/battle_late
mkdir -p "$OUT"
source experiments/lib.sh
C=runs/grid/ckpt/battle-n1000-medium
need_checkpoints "bash experiments/grid.sh battle" "$C"/{mfdiffuser,bc}-s{0,1}
pids=()
for seed in 0 1; do  # two at a time; a failed training stops the script
  train_once "$OUT/hb2-s$seed" "$OUT/hb2-s$seed.log" \
    --dataset mfdiff/battle-n1000/medium-v0 --algo mfdiffuser \
    --config "$(mfd_config battle)" --set head_beta=2 --set "seed=$seed" \
    --set "head_blind=[]" --set head_value=false --threads 1 &
  pids+=($!)
done
wait_all "${pids[@]}"
python - "$OUT" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import (FAMILIES, acting_overrides, inline_table, published_records,
                        run_block, write_jsonl)
out = sys.argv[1]
_, env, _, kwargs = FAMILIES["battle"]
acting = acting_overrides("battle", "mfdiffuser")
for seed in (0, 1):  # one lane per training seed
    lines = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
    lines += run_block(f"{out}/hb2-s{seed}", f"head_beta 2, seed {seed}", env, [1000, 10000],
                       kwargs, "medium", inline_table(acting))
    with open(f"{out}/sweep_lane{seed}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
# the grid's records of the same cells: the config (head_beta 1) and BC, training seeds 0, 1
labels = {"mfdiffuser": "the config (grid), seed {}", "bc": "BC (grid), seed {}"}
rows = published_records("battle", "battle-n1000-medium", labels, (500, 5000), ("0", "1"))
write_jsonl(f"{out}/grid.jsonl", rows)
PY
sweep_lanes "$OUT" lane0 lane1
mfdiff eval --records "$OUT"/records-lane{0,1}.jsonl "$OUT/grid.jsonl" \
  --report-dir docs/results --name battle_late --command "bash experiments/battle_late.sh"
{ echo; echo "## Agents with an enemy in range, by phase (\`python experiments/battle_trace.py --phases\`, medium data)"
  for n in 1000 10000; do
    echo
    python experiments/battle_trace.py --phases --n-agents "$n" --seeds 2 expert \
      "$C"/bc-s{0,1} "$C"/mfdiffuser-s{0,1} "$OUT"/hb2-s{0,1}
  done
} >> docs/results/battle_late.md
