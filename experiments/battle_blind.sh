#!/usr/bin/env bash
# The action head blind to the plan's x, y displacement (Config.head_blind = [1, 2]; twentieth
# update, docs/results/battle_blind.md): the plans move a particle 4-5 cells per step in x and y
# where the env moves an agent 0 or 1 (docs/results/battle_split.md), so a head that reads the
# planned position change executes the sampler's noise. MF-Diffuser trained with the Battle
# config plus head_blind on both tiers, training seeds 0-2 (the same diffusion weights as the
# grid's: a head setting trains only the head), evaluated at N = 10^2, 10^3 and 10^4 (5
# evaluation seeds), beside the grid's records of MF-Diffuser, BC, IQL and MFQ-CQL (step budget;
# not re-evaluated).
# An argument names other features, comma-separated without spaces (Battle's observation indices,
# mfdiff_envs.battle.OBS_NAMES):
# `bash experiments/battle_blind.sh 9` is the head blind to the planned change of
# enemy_in_range alone, `bash experiments/battle_blind.sh 1,2,9` with x, y as well (twenty-first
# update, docs/results/battle_blind_9.md, battle_blind_1_2_9.md).
# HEAD_VALUE=1 also gives the head its state baseline (Config.head_value, the grid's row
# "MF-Diffuser, value baseline"): `HEAD_VALUE=1 bash experiments/battle_blind.sh 1,2,9` writes
# docs/results/battle_blind_1_2_9_hv.md (twenty-third update); HEAD_VALUE=0 (the default)
# pins it off. UNSEEN=1 trains with seeds 3 and 4 and evaluates at N = 500 and 5000 (the sizes
# and seeds of docs/results/unseen_battle.md, whose rows it is read beside; no grid rows):
# `UNSEEN=1 HEAD_VALUE=1 bash experiments/battle_blind.sh 1,2,9` writes
# docs/results/battle_blind_1_2_9_hv_unseen.md.
# HEAD_NOISE=x trains the head with input noise x instead of the config's 0.15 (pinned when
# unset): `HEAD_VALUE=1 HEAD_NOISE=0.3 bash experiments/battle_blind.sh 1,2,9` writes
# docs/results/battle_blind_1_2_9_hv_hn0.3.md beside the grid's MF-Diffuser (twenty-fourth
# update). `HEAD_VALUE=1 bash experiments/battle_blind.sh 1,2,6,7,8,9` is the config's head
# blind to the planned change of the nearest enemy's offset and distance as well (twenty-sixth
# update, docs/results/battle_blind_1_2_6_7_8_9_hv.md), beside the config's grid row.
# ~20 min on 2 cores. From the repo root:
#     bash experiments/battle_blind.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
FEATURES=${1:-1, 2}  # "i,j,...": the head_blind list
case $FEATURES in *[!0-9,\ ]*) echo "battle_blind.sh: features are indices like 1,2,9" >&2; exit 2;; esac
NAME=battle_blind  # the x, y run keeps its twentieth-update names
LABEL="head blind to x, y"
if [ "$FEATURES" != "1, 2" ]; then
  NAME=battle_blind_$(echo "$FEATURES" | tr -d ' ' | tr ',' '_')
  LABEL="head blind to features [$FEATURES]"
fi
case ${HEAD_VALUE:-0} in
  0) HEAD_SETS=(--set head_value=false) ;;
  1) NAME=${NAME}_hv; LABEL="$LABEL, value baseline"; HEAD_SETS=(--set head_value=true) ;;
  *) echo "battle_blind.sh: HEAD_VALUE is 0 or 1" >&2; exit 2 ;;
esac
HEAD_NOISE=${HEAD_NOISE:-0.15}  # the Battle config's head_noise when this script was written
case $HEAD_NOISE in ''|*[!0-9.]*) echo "battle_blind.sh: HEAD_NOISE is a number" >&2; exit 2;; esac
if [ "$HEAD_NOISE" != 0.15 ]; then NAME=${NAME}_hn$HEAD_NOISE; LABEL="$LABEL, head noise $HEAD_NOISE"; fi
HEAD_SETS+=(--set "head_noise=$HEAD_NOISE")
case ${UNSEEN:-0} in
  0) SEEDS=(0 1 2) ;;
  1) NAME=${NAME}_unseen; SEEDS=(3 4) ;;
  *) echo "battle_blind.sh: UNSEEN is 0 or 1" >&2; exit 2 ;;
esac
OUT=runs/$NAME
mkdir -p "$OUT"
source experiments/lib.sh
pids=()
for tier in medium mixed; do  # one lane per core
  mfdiff data build "mfdiff/battle-n1000/$tier-v0" --no-progress > /dev/null  # kept if built
  (for seed in "${SEEDS[@]}"; do
    train_once "$OUT/$tier-s$seed" "$OUT/$tier-s$seed.log" \
      --dataset "mfdiff/battle-n1000/$tier-v0" --algo mfdiffuser \
      --config "$(mfd_config battle)" --set "seed=$seed" --set "head_blind=[$FEATURES]" \
      "${HEAD_SETS[@]}" --threads 1
  done) & pids+=($!)
done
wait_all "${pids[@]}"
python - "$OUT" "$LABEL" "${HEAD_VALUE:-0}" "${UNSEEN:-0}" "$HEAD_NOISE" "$FEATURES" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import (FAMILIES, acting_overrides, inline_table, published_records,
                        run_block, write_jsonl)
out, label, head_value, unseen, head_noise, features = sys.argv[1:]
_, env, ns, kwargs = FAMILIES["battle"]
seeds = (3, 4) if unseen == "1" else (0, 1, 2)
if unseen == "1":
    ns = [500, 5000]  # both teams (the records count one: 250, 2500), as unseen_seeds.sh
acting = inline_table(acting_overrides("battle", "mfdiffuser"))
rows = []
for lane, tier in enumerate(("medium", "mixed")):
    lines = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
    for seed in seeds:
        lines += run_block(f"{out}/{tier}-s{seed}", f"MF-Diffuser, {label}", env, ns, kwargs,
                           tier, acting)
    with open(f"{out}/sweep_lane{lane}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
    labels = {"mfdiffuser": "MF-Diffuser (grid)", "bc": "BC (grid)", "iql": "IQL (grid)",
              "mfq": "MFQ-CQL (grid)"}
    methods = ("MF-Diffuser", "BC", "IQL", "MFQ-CQL")
    config_head = features.replace(" ", "") == "1,2,9"
    if head_noise != "0.15" or (head_value == "1" and not config_head):
        # one setting off the grid's config: compare with the config
        labels = {k: v for k, v in labels.items() if k != "mfdiffuser"}
        labels["mfdiffuser-blind-hv"] = "MF-Diffuser (grid)"
    elif head_value == "1":  # the two rows this run combines: the blind head, the value baseline
        labels |= {"mfdiffuser": "MF-Diffuser, head reads the whole plan (grid)",
                   "mfdiffuser-blind": "MF-Diffuser, head blind to [1, 2, 9] (grid)",
                   "mfdiffuser-hv": "MF-Diffuser, value baseline (grid)"}
        methods += ("MF-Diffuser, value baseline",)
    if unseen == "1":
        continue  # the grid has no record of these seeds and sizes
    rows += published_records("battle", f"battle-n1000-{tier}", labels, (50, 500, 5000),
                              methods=methods)
write_jsonl(f"{out}/grid.jsonl", rows)
PY
sweep_lanes "$OUT" lane0 lane1
mfdiff eval --records "$OUT"/records-lane{0,1}.jsonl "$OUT/grid.jsonl" \
  --report-dir docs/results --name "$NAME" --command "$([ "${UNSEEN:-0}" = 1 ] && printf 'UNSEEN=1 ')$([ "${HEAD_VALUE:-0}" = 1 ] && printf 'HEAD_VALUE=1 ')$([ "$HEAD_NOISE" != 0.15 ] && printf 'HEAD_NOISE=%s ' "$HEAD_NOISE")bash experiments/battle_blind.sh${*:+ $*}"
