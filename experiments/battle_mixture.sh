#!/usr/bin/env bash
# The Battle config acting on the mixture of 4 plans (`--set plan_samples=4 plan_combine=mean`,
# the Squeeze and Ising configs' acting rule) instead of one plan, in the Battle cells it loses
# by the paired reading (docs/results/cells.md): medium and mixed N = 10^2 (20 evaluation seeds),
# mixed N = 10^3 (10) and 10^4 (4). battle_own_plans.sh's checkpoints of the grid's training
# seeds 0-2 (the config), evaluated as the grid evaluates Battle (150-step episodes against the
# scripted expert), both settings on the same evaluation seeds, paired by seed and over the 3
# training seeds; beside them IQL of the same seeds (battle_own_plans.sh IQL=1: family config,
# acting as the grid's IQL), the best baseline of three of these cells. Forty-seventh update,
# docs/results/README.md. ~45 min on 2 cores. From the repo root:
#     bash experiments/battle_mixture.sh
# Report: docs/results/battle_mixture.md; records docs/results/records/records-battle_mixture.jsonl.gz
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/battle_mixture
RUNS=runs/battle_head_steps_own_plans
source experiments/lib.sh
need_checkpoints "IQL=1 bash experiments/battle_own_plans.sh" \
  $RUNS/{medium,mixed}-s{0,1,2} $RUNS/iql-{medium,mixed}-s{0,1,2}
mkdir -p "$OUT"
KW='{"max_cycles": 150, "opponent": "expert"}'
cell() {  # LANE TIER N SEEDS: the 3 checkpoints: config, mixture, IQL; a finished run is kept
  local lane=$1 tier=$2 n=$3 seeds=$4 s label set ckpt out=$OUT/records-lane$1.jsonl
  for s in 0 1 2; do
    for label in config "mixture of 4 plans" IQL; do
      set=(--set head_temperature=0.4 --set head_min_p=0.05)
      [ "$label" = config ] || set+=(--set plan_samples=4 --set plan_combine=mean)
      ckpt=$RUNS/$tier-s$s
      if [ "$label" = IQL ]; then set=(); ckpt=$RUNS/iql-$tier-s$s; fi
      if [ -f "$out" ] && grep -q "\"method\": \"$label\".*\"n_agents\": $((n / 2)),.*\"$ckpt\"" "$out"
      then continue; fi
      mfdiff eval --policy "$ckpt" --env mfdiff/Battle-v0 --n-agents "$n" \
        --env-kwargs "$KW" --seeds "$seeds" --tier "$tier" "${set[@]}" --threads 1 \
        --label "$label" --no-progress --out "$out" > /dev/null
    done
  done
}
(cell 0 mixed 10000 4) & a=$!
(cell 1 medium 100 20; cell 1 mixed 100 20; cell 1 mixed 1000 10) & b=$!
wait_all "$a" "$b"
rec=docs/results/records/records-battle_mixture.jsonl.gz
cat "$OUT/records-lane0.jsonl" "$OUT/records-lane1.jsonl" | gzip -n > "$rec"
python experiments/compare_policies.py "config=config@$rec" \
  "mixture of 4 plans=mixture of 4 plans@$rec" "IQL=IQL@$rec" --diff "mixture of 4 plans" config \
  --diff "mixture of 4 plans" IQL --diff config IQL --ci t \
  --out docs/results/battle_mixture.md \
  --title "The Battle config (battle_own_plans.sh's checkpoints, training seeds 0-2, head \
decoded at T 0.4 after a min-p cut of 0.05) acting on one plan (the config) and on the mixture \
of 4 plans (--set plan_samples=4 plan_combine=mean), in the Battle cells lost by the paired \
reading, beside IQL of the same training seeds, 150-step episodes against the expert as the \
grid plays them; 20 / 10 / 4 evaluation seeds a checkpoint at N = 100 / 1000 / 10000. \`bash experiments/battle_mixture.sh\`; \
forty-seventh update, docs/results/README.md."
