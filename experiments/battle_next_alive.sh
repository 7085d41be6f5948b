#!/usr/bin/env bash
# Battle's IQL and MFQ-CQL retrained after the forty-ninth update's fix of their TD targets:
# an agent alive at a window's last step and dead at t0+H is terminal (Windows.next_alive);
# before, about 1/H of Battle's deaths were bootstrapped from the dead agent's zero
# observation (an outside data audit). Squeeze and Ising have no deaths: their rows are
# unchanged. The grid's training command and acting (mfdiff train's Battle defaults: 1500
# steps; IQL at temperature 0.5, MFQ-CQL at 0.3), training seeds 0-2, both tiers, evaluated as
# the grid evaluates (max_cycles 150, opponent expert, 5 evaluation seeds) at N = 10², 10³,
# 10⁴, and paired by evaluation seed with the grid's committed records of the same rows (the
# code before the fix: OLD=1 also retrains IQL-medium seed 0 with the commit before it, to
# check that it replays the grid's records). Of the equal wall-clock rows IQL's (11390 steps),
# a cell's best baseline on Battle, is retrained; MFQ-CQL's and BC's are not (BC reads no TD
# target; MFQ-CQL's equal wall-clock row decides no Battle cell). ROWS="iql mfq" for the
# default-budget rows alone.
# Writes docs/results/battle_next_alive.md. ~1 h on 2 cores (the default-budget rows ~15 min). From the repo root:
#     bash experiments/battle_next_alive.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/next_alive
GRID=docs/results/records/records-battle.jsonl.gz
KW='{"max_cycles": 150, "opponent": "expert"}'
mkdir -p "$OUT"
source experiments/lib.sh

# row -> (algo, steps, label): the grid's rows (mfdiff train's Battle defaults, and IQL's equal
# wall-clock budget of experiments/make_sweep.py's WALL_CLOCK_STEPS)
declare -A ALGO=([iql]=iql [mfq]=mfq [iql-wc]=iql) STEPS=([iql]=1500 [mfq]=1500 [iql-wc]=11390)
declare -A LABEL=([iql]="IQL" [mfq]="MFQ-CQL" [iql-wc]="IQL, equal wall-clock")
declare -A TEMP=([iql]=0.5 [mfq]=0.3)
read -r -a ROWS <<< "${ROWS:-iql mfq iql-wc}"
lane() {  # TIER: train and evaluate every row, seeds 0-2
  local tier=$1 row algo s dir n
  for row in "${ROWS[@]}"; do
    algo=${ALGO[$row]}
    for s in 0 1 2; do
      dir=$OUT/$tier/$row-s$s
      train_once "$dir" "$OUT/train-$tier-$row-s$s.log" \
        --dataset "mfdiff/battle-n1000/$tier-v0" --algo "$algo" --threads 1 \
        --set "steps=${STEPS[$row]}" --set "temperature=${TEMP[$algo]}" --set seed=$s
      for n in 100 1000 10000; do
        [ -f "$dir/eval_n$n.done" ] && continue
        mfdiff eval --policy "$dir" --env mfdiff/Battle-v0 --n-agents $n --seeds 5 \
          --env-kwargs "$KW" --tier "$tier" --label "${LABEL[$row]}, next_alive fix" \
          --no-progress --out "$OUT/records-$tier.jsonl" > "$OUT/eval-$tier-$row-s$s-n$n.log" 2>&1
        touch "$dir/eval_n$n.done"
      done
    done
  done
}
lane medium & p1=$!
lane mixed & p2=$!
wait_all "$p1" "$p2"

if [ "${OLD:-0}" = 1 ]; then  # the commit before the fix: does it replay the grid's records?
  old=$OUT/old_tree
  [ -d "$old" ] || git worktree add -f "$old" 7a68e3f
  dir=$OUT/old/medium/iql-s0
  PYTHONPATH=$old train_once "$dir" "$OUT/train-old-medium-iql-s0.log" \
    --dataset mfdiff/battle-n1000/medium-v0 --algo iql --threads 1 \
    --set steps=1500 --set temperature=0.5 --set seed=0
  if [ ! -f "$dir/eval_n100.done" ]; then
    PYTHONPATH=$old mfdiff eval --policy "$dir" --env mfdiff/Battle-v0 --n-agents 100 \
      --seeds 5 --env-kwargs "$KW" --tier medium --label "IQL, before the fix" --no-progress \
      --out "$OUT/records-old.jsonl" > "$OUT/eval-old.log" 2>&1
    touch "$dir/eval_n100.done"
  fi
fi

# the records beside the table (committed), so that its command runs without retraining
REC=docs/results/records/records-battle_next_alive
for tier in medium mixed; do gzip -nc "$OUT/records-$tier.jsonl" > "$REC-$tier.jsonl.gz"; done
R="$REC-medium.jsonl.gz+$REC-mixed.jsonl.gz"
python experiments/compare_policies.py --ci t \
  "IQL fixed=IQL, next_alive fix@$R" "IQL grid=IQL@$GRID" \
  "MFQ-CQL fixed=MFQ-CQL, next_alive fix@$R" "MFQ-CQL grid=MFQ-CQL@$GRID" \
  "IQL-wc fixed=IQL, equal wall-clock, next_alive fix@$R" \
  "IQL-wc grid=IQL, equal wall-clock@$GRID" \
  --diff "IQL fixed" "IQL grid" --diff "MFQ-CQL fixed" "MFQ-CQL grid" \
  --diff "IQL-wc fixed" "IQL-wc grid" \
  --title "Battle's IQL (default and equal wall-clock budgets) and MFQ-CQL after the next_alive fix (forty-ninth update) beside the grid's rows of the same training seeds (0-2), command and acting: training seeds 0-2 × 5 evaluation seeds, evaluated as the grid evaluates. Paired by evaluation seed (t-interval over the 5 seeds), and over training seeds (Welch)." \
  --out docs/results/battle_next_alive.md
if [ -f "$OUT/records-old.jsonl" ]; then  # the replay check, under the table
  python - "$OUT/records-old.jsonl" "$GRID" >> docs/results/battle_next_alive.md <<'PY'
import gzip, json, sys
old = [json.loads(x) for x in open(sys.argv[1])]
grid = {r["seed"]: r["normalized_score"] for r in map(json.loads, gzip.open(sys.argv[2], "rt"))
        if r["method"] == "IQL" and r["tier"] == "medium" and r["n_agents"] == 50
        and r["config"]["policy"].endswith("iql-s0")}
same = sum(r["normalized_score"] == grid.get(r["seed"]) for r in old)
print(f"\nThe code before the fix (commit 7a68e3f, `OLD=1`) retrains IQL-medium seed 0 and replays "
      f"the grid's records at N = 100: {same} of {len(old)} evaluation seeds bit-identical "
      "(checked on this checkpoint at this N: the grid's rows are the code before the fix).")
PY
fi
