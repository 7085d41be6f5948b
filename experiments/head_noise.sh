#!/usr/bin/env bash
# Noise on the action head's inputs while training, Squeeze (docs/results/head_noise.md; the
# evidence for head_noise in configs/mfdiffuser/squeeze.json). MF-Diffuser trained with the
# Squeeze config at head_noise 0 / 0.5 / 0.75 / 1 (training seed 0, 800 steps, the N = 1000
# medium and mixed datasets), evaluated at N = 1000 over 12 evaluation seeds, acting as the grid
# does (the config's min-p 0.2) and with min-p 0.15. From the repo root:
#     bash experiments/head_noise.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/head_noise
NOISES=(0 0.5 0.75 1)
mkdir -p "$OUT"
for tier in medium mixed; do mfdiff data build "mfdiff/squeeze-n1000/$tier-v0" --no-progress; done
source experiments/lib.sh
train() {  # TIER NOISE: one checkpoint (kept once finished)
  train_once "$OUT/$1-hn$2" "$OUT/$1-hn$2.log" \
    --dataset "mfdiff/squeeze-n1000/$1-v0" --algo mfdiffuser \
    --config configs/mfdiffuser/squeeze.json --set steps=800 --set seed=0 --set "head_noise=$2" \
    --set head_ensemble=1 --threads 1  # one head, as when measured
}
for noise in "${NOISES[@]}"; do  # two at a time; a failed training stops the script
  train medium "$noise" & a=$!
  train mixed "$noise" & b=$!
  wait_all "$a" "$b"
done
python - "$OUT" "${NOISES[@]}" > "$OUT/sweep.toml" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import ACTING, before_plans, family_planning, inline_table, run_block
out, noises = sys.argv[1], sys.argv[2:]
lines = ["seeds = 12", "episodes = 1", 'device = "cpu"', ""]
for tier in ("medium", "mixed"):
    for noise in noises:
        for min_p in (0.2, 0.15):
            # min-p as the labels say, not the uniform floor the config removes since the
            # eleventh update
            # (and the best of 4 plans, the config's rule until the thirty-eighth update)
            acting = {**ACTING, **before_plans("squeeze", family_planning("squeeze")),
                      "head_remove_uniform": False, "head_min_p": min_p, "replan_every": 4}
            lines += run_block(f"{out}/{tier}-hn{noise}", f"head_noise {noise}, min-p {min_p}",
                               "mfdiff/GaussianSqueeze-v0", [1000], "{ max_cycles = 25 }", tier,
                               inline_table(acting))
print("\n".join(lines))
PY
mfdiff eval --sweep "$OUT/sweep.toml" --out "$OUT/records.jsonl" --resume --no-progress \
  --threads 1 --report-dir docs/results --name head_noise --command "bash experiments/head_noise.sh"
