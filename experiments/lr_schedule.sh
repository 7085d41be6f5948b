#!/usr/bin/env bash
# Does a decaying learning rate steady MF-Diffuser's checkpoints over training seeds?
# Ising-medium's MF-Diffuser checkpoints spread 95.3-101.5 over training seeds where IQL's spread
# 98.7-100.1 (docs/results/README.md, forty-sixth update; seed 13 weak in the N = 1600
# reproduction), and each checkpoint's peak lands at its own budget (budget_seeds.md): the last
# iterate of a constant-rate run is one noisy draw. Each training seed of SEEDS is trained twice
# on the catalogue's N = 10^3 data of TIER with the family's MF-Diffuser config
# (configs/mfdiffuser/FAM.json, spelled out), once per lr_schedule of SCHEDULES (constant: the
# config; cosine: the same run with its rate decayed to 0 over the same steps), and every
# checkpoint is evaluated as it keeps its settings at the sizes NS over 5 evaluation seeds.
# Writes docs/results/NAME.md: each schedule pooled and per checkpoint, and the schedules'
# difference paired by evaluation seed and over training seeds (Welch's t over checkpoints).
# Records: runs/lr_schedule_FAM/records-NAME_lane{0,1}.jsonl. From the repo root:
#     bash experiments/lr_schedule.sh ising     # seeds 40-45, N = 1024, medium: ~45 min on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
fam=${1:?usage: bash experiments/lr_schedule.sh squeeze|ising|battle}
read -r -a SEEDS <<< "${SEEDS:-40 41 42 43 44 45}"
read -r -a SCHEDULES <<< "${SCHEDULES:-constant cosine}"
read -r -a NS <<< "${NS:-}"
TIER=${TIER:-medium}
STEPS=${STEPS:-}  # empty: the config's steps
for v in "${SEEDS[@]}" "${NS[@]}" $STEPS; do
  case $v in ''|*[!0-9]*) echo "lr_schedule.sh: SEEDS, NS and STEPS are integers" >&2; exit 2;;
  esac
done
[ "${#SEEDS[@]}" -ge 2 ] || { echo "lr_schedule.sh: give 2 or more SEEDS" >&2; exit 2; }
[ "${#SCHEDULES[@]}" -eq 2 ] || { echo "lr_schedule.sh: SCHEDULES names two" >&2; exit 2; }
case $TIER in medium|mixed) ;; *) echo "lr_schedule.sh: TIER: medium mixed" >&2; exit 2;; esac
source experiments/lib.sh
read -r stem default_n < <(python -c "import sys; sys.path.insert(0, 'experiments'); from make_sweep import FAMILIES; print(FAMILIES['$fam'][0], FAMILIES['$fam'][2][1])")
[ "${#NS[@]}" -gt 0 ] || NS=("$default_n")
config=configs/mfdiffuser/$fam.json
steps=${STEPS:-$(python -c "import json; print(json.load(open('$config'))['steps'])")}
mfdiff data build "mfdiff/$stem/$TIER-v0" --no-progress > /dev/null  # kept if built
OUT=runs/lr_schedule_$fam
NAME=lr_schedule_${fam}_${TIER}_seeds$(printf %s "${SEEDS[@]}")_n$(IFS=_; echo "${NS[*]}")
[ -n "$STEPS" ] && NAME+=_steps$STEPS
mkdir -p "$OUT"
train() {  # SCHEDULE SEED: OUT/TIER-SCHEDULE-stepsSTEPS-sSEED, kept once finished
  train_once "$OUT/$TIER-$1-steps$steps-s$2" "$OUT/$TIER-$1-steps$steps-s$2.log" \
    --dataset "mfdiff/$stem/$TIER-v0" --algo mfdiffuser --config "$config" \
    --set "steps=$steps" --set "seed=$2" --set "lr_schedule=$1" --threads 1
}
jobs=()
for s in "${SEEDS[@]}"; do for sch in "${SCHEDULES[@]}"; do jobs+=("$sch $s"); done; done
(for ((i = 0; i < ${#jobs[@]}; i += 2)); do train ${jobs[i]}; done) & a=$!
(for ((i = 1; i < ${#jobs[@]}; i += 2)); do train ${jobs[i]}; done) & b=$!
for lane in "$a" "$b"; do  # a failed training stops both lanes
  wait "$lane" || { pkill -P "$a"; pkill -P "$b"; kill "$a" "$b" 2> /dev/null; exit 1; }
done
python - "$fam" "$OUT" "$NAME" "$TIER" "$steps" "${NS[*]}" "${SCHEDULES[*]}" "${SEEDS[@]}" <<'PY'
import sys

sys.path.insert(0, "experiments")
from make_sweep import FAMILIES, run_block

fam, out, name, tier, steps, ns, schedules, *seeds = sys.argv[1:]
_, env, _, kwargs = FAMILIES[fam]
lanes: dict[int, list[str]] = {0: [], 1: []}
for i, seed in enumerate(seeds):
    for j, sch in enumerate(schedules.split()):  # each lane gets both schedules' runs alike
        lanes[(i + j) % 2] += run_block(f"{out}/{tier}-{sch}-steps{steps}-s{seed}",
                                        f"{sch}-s{seed}", env, [int(n) for n in ns.split()],
                                        kwargs, tier)
for lane, lines in lanes.items():
    with open(f"{out}/sweep_{name}_lane{lane}.toml", "w") as f:
        f.write("\n".join(["seeds = 5", "episodes = 1", 'device = "cpu"', "", *lines]) + "\n")
PY
sweep_lanes "$OUT" "${NAME}_lane0" "${NAME}_lane1"
files="$OUT/records-${NAME}_lane0.jsonl+$OUT/records-${NAME}_lane1.jsonl"
cmd="bash experiments/lr_schedule.sh $fam"
[ "${SEEDS[*]}" != "40 41 42 43 44 45" ] && cmd="SEEDS=\"${SEEDS[*]}\" $cmd"
[ "${NS[*]}" != "$default_n" ] && cmd="NS=\"${NS[*]}\" $cmd"
[ "$TIER" != medium ] && cmd="TIER=$TIER $cmd"
[ -n "$STEPS" ] && cmd="STEPS=$STEPS $cmd"
[ "${SCHEDULES[*]}" != "constant cosine" ] && cmd="SCHEDULES=\"${SCHEDULES[*]}\" $cmd"
args=()
for sch in "${SCHEDULES[@]}"; do
  args+=("$sch=$(printf "$sch-s%s," "${SEEDS[@]}" | sed 's/,$//')@$files")
done
for sch in "${SCHEDULES[@]}"; do for s in "${SEEDS[@]}"; do
  args+=("$sch s$s=$sch-s$s@$files")
done; done
python experiments/compare_policies.py "${args[@]}" --diff "${SCHEDULES[1]}" "${SCHEDULES[0]}" \
  --ci t --title "MF-Diffuser, $fam-$TIER, lr_schedule ${SCHEDULES[1]} vs ${SCHEDULES[0]} (\`$cmd\`)" \
  --out "docs/results/$NAME.md"
