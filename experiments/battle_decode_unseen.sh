#!/usr/bin/env bash
# Battle's decoding since the twenty-ninth update (the action head sampled at T 0.4 after a
# min-p cut of 0.05) against the one before it (T 0.3, min-p 0.1) with training seeds and sizes
# in no grid table (docs/results/battle_decode_unseen.md): MF-Diffuser trained as the grid
# trains it (configs/mfdiffuser/battle.json; decoding is acting only, so one checkpoint serves
# both rows) with training seeds 3 and 4 on the N = 10^3 medium and mixed data, evaluated at
# N = 500 and 5000 (both teams) over 5 evaluation seeds each, 10 runs per cell; the check the
# earlier Battle config changes had before adoption (docs/results/battle_blind_1_2_9_hv_unseen.md).
# From the repo root:
#     bash experiments/battle_decode_unseen.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/battle_decode_unseen
mkdir -p "$OUT"
source experiments/lib.sh
for tier in medium mixed; do mfdiff data build "mfdiff/battle-n1000/$tier-v0" --no-progress; done
pids=()
for tier in medium mixed; do  # one tier per core; a failed training stops the script
  (for seed in 3 4; do
     train_once "$OUT/$tier-s$seed" "$OUT/$tier-s$seed.log" \
       --dataset "mfdiff/battle-n1000/$tier-v0" --algo mfdiffuser \
       --config "$(mfd_config battle)" --set "seed=$seed" --threads 1
   done) & pids+=($!)
done
wait_all "${pids[@]}"
python - "$OUT" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import (ACTING, DECODE_BEFORE, FAMILIES, family_planning, inline_table,
                        run_block)
out = sys.argv[1]
_, env, _, kwargs = FAMILIES["battle"]
config = {**ACTING, **family_planning("battle")}  # the family config's acting, spelled out
rows = [("MF-Diffuser (T 0.4, min-p 0.05)", config),
        ("MF-Diffuser, T 0.3, min-p 0.1", {**config, **DECODE_BEFORE["battle"]})]
assert config["head_temperature"] == 0.4 and config["head_min_p"] == 0.05, config
for lane, tier in enumerate(("medium", "mixed")):  # one lane per core
    lines = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
    for label, acting in rows:
        for seed in (3, 4):
            lines += run_block(f"{out}/{tier}-s{seed}", label, env, [500, 5000], kwargs, tier,
                               inline_table(acting))
    with open(f"{out}/sweep_lane{lane}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
PY
eval_lanes "$OUT" battle_decode_unseen "bash experiments/battle_decode_unseen.sh" lane0 lane1
