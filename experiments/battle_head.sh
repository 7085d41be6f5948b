#!/usr/bin/env bash
# Battle's action head: advantage weighting (head_beta) and input noise (head_noise) while
# training (docs/results/battle_head.md; the evidence for both in configs/mfdiffuser/battle.json).
# MF-Diffuser trained with the Battle config at (head_beta, head_noise) = (0, 0) (the config
# before the eighth update), (0, 0.15), (0, 0.3), (1, 0), (1, 0.15) (the config), training seed
# 0, the N = 1000 medium and mixed datasets; evaluated at N = 100 and 1000, 5 evaluation seeds,
# acting as the grid does. From the repo root:
#     bash experiments/battle_head.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/battle_head
SETTINGS=("0 0" "0 0.15" "0 0.3" "1 0" "1 0.15")
mkdir -p "$OUT"
for tier in medium mixed; do mfdiff data build "mfdiff/battle-n1000/$tier-v0" --no-progress; done
source experiments/lib.sh
train() {  # TIER HEAD_BETA HEAD_NOISE: one checkpoint (kept once finished)
  train_once "$OUT/$1-hb$2-hn$3" "$OUT/$1-hb$2-hn$3.log" \
    --dataset "mfdiff/battle-n1000/$1-v0" --algo mfdiffuser \
    --config "$(mfd_config battle)" --set seed=0 --set "head_beta=$2" \
    --set "head_noise=$3" --set "head_blind=[]" --set head_value=false --threads 1
}
for s in "${SETTINGS[@]}"; do  # two at a time; a failed training stops the script
  read -r hb hn <<< "$s"
  train medium "$hb" "$hn" & a=$!
  train mixed "$hb" "$hn" & b=$!
  wait_all "$a" "$b"
done
# one sweep per tier: two evaluation lanes, merged through read_records (a run counted twice
# fails the report)
python - "$OUT" "${SETTINGS[@]}" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import ACTING, FAMILIES, inline_table, one_plan, run_block
out, settings = sys.argv[1], [s.split() for s in sys.argv[2:]]
_, env, _, kwargs = FAMILIES["battle"]
# the decoding these settings were chosen with, ACTING's (balanced at T = 0.3: the argmax on
# Battle) and no min-p, kept: the ninth update's Battle config samples instead
# (battle_decode.md). Pinned, not left out: a checkpoint trained with today's config carries
# its min-p 0.1
DECODING = ("head_decode", "head_temperature", "head_min_p")
acting = inline_table({**ACTING, **{k: v for k, v in one_plan("battle").items()
                                    if k not in DECODING}, "head_min_p": 0.0})
for tier in ("medium", "mixed"):
    lines = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
    for hb, hn in settings:
        lines += run_block(f"{out}/{tier}-hb{hb}-hn{hn}", f"head_beta {hb}, head_noise {hn}",
                           env, [100, 1000], kwargs, tier, acting)
    with open(f"{out}/sweep_{tier}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
PY
eval_tier_lanes "$OUT" battle_head "bash experiments/battle_head.sh"
# what the agents with an enemy in range do (N = 100, medium data; MFQ-CQL if the grid has it)
mfq=runs/grid/ckpt/battle-n1000-medium/mfq-s0
[ -f "$mfq/train_done" ] || mfq=
{ echo; echo "## Agents with an enemy in range (\`python experiments/battle_trace.py\`)"; echo
  A=":head_decode=balanced,head_temperature=0.3,head_min_p=0"  # as above
  python experiments/battle_trace.py --n-agents 100 --seeds 3 expert medium $mfq \
    "$OUT/medium-hb0-hn0$A" "$OUT/medium-hb0-hn0.15$A" "$OUT/medium-hb1-hn0$A" \
    "$OUT/medium-hb1-hn0.15$A"
} >> docs/results/battle_head.md
