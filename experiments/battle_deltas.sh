#!/usr/bin/env bash
# Plans diffused as per-step changes (Config.plan_deltas; twenty-first update,
# docs/results/battle_deltas.md). The grid's plans move a Battle particle 4-5 cells per step in
# x, y where the env moves an agent 0 or 1 (docs/results/battle_split.md): standardised as
# states, a one-cell move is 3 % of x's spread. With plan_deltas the model diffuses each step's
# change standardised by the data's changes. MF-Diffuser trained with the Battle config plus
# plan_deltas on medium data (the missed cell's tier), training seeds 0-2, evaluated at N = 10^2,
# 10^3 and 10^4 (5 evaluation seeds) with the config's head temperature 0.3 and with 0.6, beside
# the grid's records of MF-Diffuser and BC (not re-evaluated); then experiments/battle_split.py
# trace at N = 10^4: the plans' per-step move and what the agents in range do.
# ~35 min on 2 cores. From the repo root:
#     bash experiments/battle_deltas.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/battle_deltas
DATA=mfdiff/battle-n1000/medium-v0
G=runs/grid/ckpt/battle-n1000-medium
mkdir -p "$OUT"
source experiments/lib.sh
need_checkpoints "bash experiments/grid.sh battle" $G/mfdiffuser-s{0,1,2}
mfdiff data build "$DATA" --no-progress > /dev/null  # kept if built
pids=()
for seeds in "0 2" "1"; do  # one lane per core
  (for seed in $seeds; do
    train_once "$OUT/medium-s$seed" "$OUT/medium-s$seed.log" --dataset "$DATA" \
      --algo mfdiffuser --config "$(mfd_config battle)" --set "seed=$seed" \
      --set plan_deltas=true --set "head_blind=[]" --set head_value=false --threads 1
  done) & pids+=($!)
done
wait_all "${pids[@]}"
python - "$OUT" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import (FAMILIES, acting_overrides, inline_table, published_records,
                        run_block, write_jsonl)
out = sys.argv[1]
_, env, ns, kwargs = FAMILIES["battle"]
acting = acting_overrides("battle", "mfdiffuser")
head = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
lanes = [list(head), list(head)]
for lane, temp in enumerate((0.3, 0.6)):
    for seed in (0, 1, 2):
        lanes[lane] += run_block(f"{out}/medium-s{seed}",
                                 f"MF-Diffuser, plan deltas, head temperature {temp}", env, ns,
                                 kwargs, "medium", inline_table({**acting, "head_temperature": temp}))
for i, lines in enumerate(lanes):
    with open(f"{out}/sweep_lane{i}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
labels = {"mfdiffuser": "MF-Diffuser (grid)", "bc": "BC (grid)"}
write_jsonl(f"{out}/grid.jsonl",
            published_records("battle", "battle-n1000-medium", labels, (50, 500, 5000)))
PY
sweep_lanes "$OUT" lane0 lane1
mfdiff eval --records "$OUT"/records-lane{0,1}.jsonl "$OUT/grid.jsonl" \
  --report-dir docs/results --name battle_deltas --command "bash experiments/battle_deltas.sh"
runs=("BC, seed 0=$G/bc-s0")  # BC makes no plan: its plan column is "–"
for seed in 0 1 2; do
  runs+=("grid, seed $seed=$G/mfdiffuser-s$seed"
         "plan deltas, seed $seed=$OUT/medium-s$seed"
         "plan deltas T 0.6, seed $seed=$OUT/medium-s$seed:head_temperature=0.6")
done
python experiments/battle_split.py trace --seeds 1 "${runs[@]:0:6}" > "$OUT/trace0.md" & p0=$!
python experiments/battle_split.py trace --seeds 1 "${runs[@]:6}" > "$OUT/trace1.md" & p1=$!
wait_all "$p0" "$p1"
{ echo; echo "## The plans and the agents in range (\`python experiments/battle_split.py trace\`)"
  echo; cat "$OUT/trace0.md"; tail -n +5 "$OUT/trace1.md"
} >> docs/results/battle_deltas.md
