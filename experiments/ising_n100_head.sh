#!/usr/bin/env bash
# Ising-medium N = 10^2, the cell MF-Diffuser loses to MFQ-CQL equal wall-clock by 1.40
# (docs/results/cells.md): three changes to how the action head and the sampler act there, on
# the grid's training seed 0 (docs/results/ising_n100_head.md, fortieth update). The loss is in
# the first ~20 steps, where the config flips 13 % of the agents whose spin already agrees with
# their neighbours (MFQ-CQL: 2 %): the head follows its particle's planned spin.
#   own plans: the Ising config trained 600 steps, the last 200 training the head alone on the
#              diffusion model's own plans (Config.head_own_plans = 1, what the Battle config
#              does): the head learns how far a planned flip predicts what the data did
#   plan w:    the same with head_plan_dropout 0.2, acting at head_plan_weight 0.5 and 0 (the
#              plan a bounded nudge, or ignored)
#   c2f off:   the grid's checkpoint sampling all N particles at every reverse step (no copies of
#              coarse particles' futures onto other agents)
# Each beside the grid's checkpoint as the config acts, 10 evaluation seeds at N = 100
# (~10 min per row, ~7 min per training on 2 cores). From the repo root:
#     bash experiments/ising_n100_head.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/ising_own
C=runs/grid/ckpt/ising-n1024-medium/mfdiffuser-s0
mkdir -p "$OUT"
source experiments/lib.sh
need_checkpoints "bash experiments/grid.sh ising" "$C"
mfd() {  # DIR EXTRA_SET...: the Ising config, seed 0, 400 + 200 head-only steps on own plans
  local dir=$1
  shift
  train_once "$OUT/$dir" "$OUT/$dir.log" --dataset mfdiff/ising-n1024/medium-v0 \
    --algo mfdiffuser --config experiments/configs/ising_even_steps.json --set seed=0 --set steps=600 \
    --set diffusion_steps=400 --set head_own_plans=1.0 "$@" --threads 1
}
mfd medium-s0 & a=$!
mfd medium-drop-s0 --set head_plan_dropout=0.2 & b=$!
wait_all "$a" "$b"
ev() {  # LABEL POLICY OUT [--set K=V]: 10 evaluation seeds at N = 100 (kept once written)
  local label=$1 policy=$2 out=$3
  shift 3
  [ -s "$out" ] && return 0
  mfdiff eval --policy "$policy" --env mfdiff/Ising-v0 --n-agents 100 --seeds 10 \
    --env-kwargs '{"max_cycles": 50}' --label "$label" "$@" --out "$out.part" \
    --no-progress --threads 1 > /dev/null
  mv "$out.part" "$out"
}
# two lanes, one per core
(ev config-s0 "$C" "$OUT/eval_config.jsonl"
 ev own-s0 "$OUT/medium-s0" "$OUT/eval_n100.jsonl"
 ev c2f-off "$C" "$OUT/eval_c2f_off.jsonl" --set coarse_to_fine=false) & a=$!
(ev drop-w0.5 "$OUT/medium-drop-s0" "$OUT/eval_drop_w0.5.jsonl" \
   --set head_plan_weight=0.5
 ev drop-w0.0 "$OUT/medium-drop-s0" "$OUT/eval_drop_w0.0.jsonl" \
   --set head_plan_weight=0.0) & b=$!
wait_all "$a" "$b"
mfdiff eval --records "$OUT"/eval_{config,n100,c2f_off,drop_w0.5,drop_w0.0}.jsonl \
  --report-dir docs/results --name ising_n100_head --command "bash experiments/ising_n100_head.sh"
