#!/usr/bin/env bash
# MF-Diffuser's training budget over three training seeds (docs/results/budget_seeds.md). The
# learning curves (learning_curves.md) put the grid's budgets on seed 0's peaks (Squeeze 800
# steps, Ising 400); is the budget best on average, or only for that seed? The family config is
# trained on the medium data with training seeds 0, 1, 2 and snapshotted at 400, 800 and 1600
# gradient steps (one run per seed, resumed from each snapshot: bit-exact, so the grid's budget
# is the grid's checkpoint); each snapshot is evaluated at the training N with the grid's acting
# over 3 evaluation seeds, so each row pools 3 training x 3 evaluation seeds. From the repo root:
#     bash experiments/budget_seeds.sh            # squeeze and ising
#     bash experiments/budget_seeds.sh squeeze
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
FAMS=("${@:-squeeze ising}")
read -r -a FAMS <<< "${FAMS[*]}"
OUT=runs/budget_seeds
MILESTONES=(400 800 1600)
mkdir -p "$OUT"
source experiments/lib.sh
curve() {  # FAMILY SEED: one run, a snapshot (config, weights, metrics) at each milestone
  local fam=$1 seed=$2 stem run steps snap name
  stem=$(python -c "import sys; sys.path.insert(0, 'experiments'); from make_sweep import FAMILIES; print(FAMILIES['$fam'][0])")
  run=$OUT/$fam/s$seed-run
  for steps in "${MILESTONES[@]}"; do
    snap=$OUT/$fam/s$seed-step$steps
    [ -f "$snap/done" ] && continue
    resume=()
    [ -f "$run/train_state.pt" ] && resume=(--resume)
    mfdiff train --dataset "mfdiff/$stem/medium-v0" --algo mfdiffuser \
      --config "$(mfd_config "$fam")" --set "steps=$steps" --set "seed=$seed" \
      --set head_ensemble=1 --set "head_blind=[]" --set head_value=false --set ckpt_every=0 --threads 1 --out "$run" --no-progress "${resume[@]}" \
      >> "$OUT/$fam-s$seed.log" 2>&1
    mkdir -p "$snap"
    for name in config.json model.safetensors metrics.csv; do cp "$run/$name" "$snap/"; done
    touch "$snap/done"
  done
}
for fam in "${FAMS[@]}"; do  # two seeds at a time; a failed training stops the script
  curve "$fam" 0 & a=$!
  curve "$fam" 1 & b=$!
  wait_all "$a" "$b"
  curve "$fam" 2
done
python - "$OUT" "${MILESTONES[*]}" "${FAMS[@]}" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import FAMILIES, acting_one_plan, inline_table, run_block
out, milestones, *fams = sys.argv[1:]
lanes = [[], []]
for fam in fams:
    _, env, ns, kwargs = FAMILIES[fam]
    acting = inline_table(acting_one_plan(fam, "mfdiffuser"))
    for i, seed in enumerate((0, 1, 2)):
        for steps in milestones.split():
            lanes[i % 2] += run_block(f"{out}/{fam}/s{seed}-step{steps}",
                                      f"MF-Diffuser, {steps} steps", env, [ns[1]], kwargs,
                                      "medium", acting)
for i, lines in enumerate(lanes):
    with open(f"{out}/sweep_lane{i}.toml", "w") as f:
        f.write("\n".join(["seeds = 3", "episodes = 1", 'device = "cpu"', "", *lines]) + "\n")
PY
eval_lanes "$OUT" budget_seeds "bash experiments/budget_seeds.sh ${FAMS[*]}" lane0 lane1
# each training seed's mean over its evaluation seeds (the table above pools them)
python - "$OUT" <<'PY' >> docs/results/budget_seeds.md
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

out = Path(sys.argv[1])
scores = defaultdict(list)  # (family, steps, seed) -> scores
for part in sorted(out.glob("records-lane*.jsonl")):
    for line in part.read_text().splitlines():
        r = json.loads(line)
        seed, steps = re.fullmatch(r"s(\d+)-step(\d+)", Path(r["config"]["policy"]).name).groups()
        scores[(r["family"], int(steps), int(seed))].append(r["normalized_score"])
print("\n## Normalized score per training seed (mean over its evaluation seeds)\n")
print("| family | steps | seed 0 | seed 1 | seed 2 |")
print("|---|---|---|---|---|")
for fam, steps in sorted({(f, s) for f, s, _ in scores}):
    cells = [scores.get((fam, steps, seed)) for seed in (0, 1, 2)]
    print(f"| {fam} | {steps} | " + " | ".join(
        f"{sum(c) / len(c):.1f}" if c else "–" for c in cells) + " |")
PY
