#!/usr/bin/env bash
# Where the missed cell's gap lies (Battle-medium at N = 10^4: MF-Diffuser 99.4 vs BC 103.1 in
# the grid; docs/results/battle_split.md, twentieth update), over the grid's training seeds 0-2:
#   - acting knobs on the grid's checkpoints at N = 10^4 (5 evaluation seeds): 80 DDIM steps per
#     plan (config 40), return condition 3 (config 1.5), no min-p cut (config 0.1);
#   - the action head trained without input noise (head_noise 0; config 0.15) and with one noise
#     draw for its state and target (head_noise_shared: the displacement exact), the rest of
#     the Battle config unchanged (the same diffusion weights), at N = 10^3 and 10^4;
#   - experiments/battle_split.py split: the agents in range (or out of range) handed to BC or
#     to the constant attack, and what the agents do;
#   - experiments/battle_split.py plan: how far the plans move their particles per step, DDIM
#     eta 0, and the head reading a plan whose displacement is zeroed.
# Beside them the grid's records of MF-Diffuser and BC (not re-evaluated). ~40 min on 2 cores.
#     bash experiments/battle_split.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/battle_split
DATA=mfdiff/battle-n1000/medium-v0
G=runs/grid/ckpt/battle-n1000-medium
mkdir -p "$OUT"
source experiments/lib.sh
need_checkpoints "bash experiments/grid.sh battle" $G/{mfdiffuser,bc}-s{0,1,2}
# two lanes, one per core: the head without noise, the head with shared noise
pids=()
for variant in "noise0 head_noise=0" "shared head_noise_shared=true"; do
  read -r tag kv <<< "$variant"
  (for seed in 0 1 2; do
    train_once "$OUT/$tag-s$seed" "$OUT/$tag-s$seed.log" --dataset "$DATA" --algo mfdiffuser \
      --config "$(mfd_config battle)" --set "seed=$seed" --set "$kv" \
      --set "head_blind=[]" --set head_value=false --threads 1
  done) & pids+=($!)
done
wait_all "${pids[@]}"
python - "$OUT" "$G" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import (FAMILIES, acting_overrides, inline_table, published_records,
                        run_block, write_jsonl)
out, grid = sys.argv[1:]
_, env, _, kwargs = FAMILIES["battle"]
head = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
acting = acting_overrides("battle", "mfdiffuser")
lanes = [list(head), list(head)]
for seed in (0, 1, 2):
    for label, over in (("80 DDIM steps", {"ddim_steps": 80}),
                        ("return condition 3", {"return_target": 3.0}),
                        ("no min-p cut", {"head_min_p": 0.0})):
        lanes[0] += run_block(f"{grid}/mfdiffuser-s{seed}", f"MF-Diffuser, {label}", env,
                              [10000], kwargs, "medium", inline_table({**acting, **over}))
    for tag, label in (("noise0", "head without input noise"),
                       ("shared", "head noise shared by state and target")):
        lanes[1] += run_block(f"{out}/{tag}-s{seed}", f"MF-Diffuser, {label}", env,
                              [1000, 10000], kwargs, "medium", inline_table(acting))
for i, lines in enumerate(lanes):
    with open(f"{out}/sweep_lane{i}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
labels = {"mfdiffuser": "MF-Diffuser (grid)", "bc": "BC (grid)"}
rows = published_records("battle", "battle-n1000-medium", labels, (500, 5000))
write_jsonl(f"{out}/grid.jsonl", rows)
PY
sweep_lanes "$OUT" lane0 lane1
mfdiff eval --records "$OUT"/records-lane{0,1}.jsonl "$OUT/grid.jsonl" \
  --report-dir docs/results --name battle_split --command "bash experiments/battle_split.sh"
python experiments/battle_split.py split 0 1 2 > "$OUT/split.md" & split_pid=$!
python experiments/battle_split.py plan 0 1 2 > "$OUT/plan.md" & plan_pid=$!
wait_all "$split_pid" "$plan_pid"
{ echo; echo "## The population split (\`python experiments/battle_split.py split 0 1 2\`)"
  echo; cat "$OUT/split.md"
  echo; echo "## The plans (\`python experiments/battle_split.py plan 0 1 2\`)"
  echo; cat "$OUT/plan.md"
} >> docs/results/battle_split.md
