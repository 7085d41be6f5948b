#!/usr/bin/env bash
# Battle-medium at N = 10^2 (50 a team), a cell MF-Diffuser loses to IQL by 0.26: does the
# head's sampling temperature move it? At N = 10^3 and 10^4 the config's T = 0.4 sits on a
# narrow ridge (battle_knobs_n10000.sh: T 0.3 loses 9-19 points there, the team herding when
# the head's samples grow alike, as BC's argmax does at N = 10^3; configs/README.md). On
# battle_own_plans.sh's medium checkpoints (the config, training seeds 0-2), T = 0.3 / 0.35 /
# 0.4 (the config) / 0.5, the rest of the decoding as the config's (min-p 0.05), on evaluation
# seeds 150-209: none of the cell table's 0-149, so the table below chooses nothing the cell's
# verdict is read on. Records docs/results/records/records-battle_temp_n100_medium.jsonl.gz;
# table docs/results/battle_temp_n100_medium.md, each temperature paired with the config's by
# evaluation seed. From the repo root:
#     bash experiments/battle_temp_n100.sh                 # ~15 min on 2 cores
#     COMPARE_ONLY=1 bash experiments/battle_temp_n100.sh  # the table from the committed records
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
source experiments/lib.sh
OUT=runs/temp_n100
R=docs/results/records/records-battle_temp_n100_medium.jsonl.gz
TEMPS=(0.3 0.35 0.4 0.5)
case ${COMPARE_ONLY:-0} in 0|1) ;; *) echo "battle_temp_n100.sh: COMPARE_ONLY is 0 or 1" >&2
                                     exit 2;; esac
if [ "${COMPARE_ONLY:-0}" = 0 ]; then
  need_checkpoints "bash experiments/battle_own_plans.sh" \
    runs/battle_head_steps_own_plans/medium-s{0,1,2}
  mkdir -p "$OUT"
  pids=()
  for s in 0 1 2; do  # one sweep a checkpoint, two at a time (one a core)
    python - "$OUT/s$s.json" "$s" "${TEMPS[@]}" <<'PY'
import json
import sys

path, seed, *temps = sys.argv[1:]
runs = [{"policy": f"runs/battle_head_steps_own_plans/medium-s{seed}", "env": "mfdiff/Battle-v0",
         "n_agents": 100, "env_kwargs": {"max_cycles": 150, "opponent": "expert"},
         "tier": "medium", "label": "config" if t == "0.4" else f"T {t}",
         "set": {"head_temperature": float(t), "head_min_p": 0.05}} for t in temps]
with open(path, "w") as f:
    json.dump({"seeds": list(range(150, 210)), "episodes": 1, "runs": runs}, f, indent=1)
PY
    while [ "$(jobs -rp | wc -l)" -ge 2 ]; do sleep 2; done
    mfdiff eval --sweep "$OUT/s$s.json" --out "$OUT/s$s.jsonl" --resume --no-progress \
      --threads 1 > /dev/null & pids+=($!)
  done
  wait_all "${pids[@]}"
  cat "$OUT"/s{0,1,2}.jsonl | gzip -9nc > "$R"
fi
rows=() diffs=()
for t in "${TEMPS[@]}"; do
  label="T $t"
  [ "$t" = 0.4 ] && label=config
  rows+=("$label=$label@$R")
  [ "$label" = config ] || diffs+=(--diff "$label" config)
done
python experiments/compare_policies.py "${rows[@]}" "${diffs[@]}" \
  --out docs/results/battle_temp_n100_medium.md \
  --title "Battle-medium at N = 100 (50 a team), battle_own_plans.sh's checkpoints (the config; training seeds 0-2), evaluation seeds 150-209 (none of the cell table's 0-149): the head's sampling temperature changed from the config's 0.4 (min-p 0.05 kept). Regenerate with: bash experiments/battle_temp_n100.sh (COMPARE_ONLY=1: from the committed records; seventy-fifth update, docs/results/README.md)."
