#!/usr/bin/env bash
# MF-Diffuser trained several ways ("arms") on the same training seeds, every checkpoint
# evaluated alike: the spread over training seeds is what each arm is judged on.
# Ising-medium's MF-Diffuser checkpoints spread 95.3-101.5 over training seeds where IQL's spread
# 98.7-100.1 (docs/results/README.md, forty-sixth update); a change that only moves the mean on
# one seed says nothing about that. Each training seed of SEEDS is trained once per arm of ARMS
# on the catalogue's N = 10^3 data of TIER with the family's MF-Diffuser config (mfdiff
# train's default, configs/mfdiffuser/FAM.json; steps=STEPS when given) and the arm's
# overrides (on Ising with head_data_range=false unless the arm sets it: the config before the
# sixty-fifth update, which the tables before it measured; on Battle with the lifting before the
# seventy-second update, lib.sh LIFT_BEFORE, unless the arm sets a lift_ field), then evaluated
# as its checkpoint
# keeps its settings at the sizes NS over 5
# evaluation seeds. An arm is LABEL=KEY=VALUE;KEY=VALUE... (LABEL= alone: the config; an arm's
# own steps=S overrides STEPS).
# Writes docs/results/NAME.md (NAME: PREFIX_FAM_TIER_seeds..._n..., [_stepsSTEPS]): each arm
# pooled and per checkpoint, and every other arm minus the first, paired by evaluation seed and
# over training seeds (Welch's t over the checkpoints' means). Checkpoints:
# RUNS/TIER-LABEL-stepsS-sSEED (RUNS: runs/PREFIX_FAM unless given; a finished checkpoint there
# is kept, so arms can share one); records: RUNS/records-NAME_lane{0,1}.jsonl.
# From the repo root (each Ising arm: ~1 min a training, ~20 s an evaluation episode at N = 1024):
#     ARMS="config= headbeta1=head_beta=1.0" PREFIX=head_beta bash experiments/seed_arms.sh ising
# (Give every setting an arm changes explicitly in each arm that shares RUNS: a label names a
# checkpoint directory whatever its overrides.)
# experiments/lr_schedule.sh runs it with the arms constant and cosine.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
fam=${1:?usage: ARMS="LABEL=K=V;K=V ..." PREFIX=NAME bash experiments/seed_arms.sh FAMILY}
read -r -a SEEDS <<< "${SEEDS:-40 41 42 43 44 45}"
read -r -a ARMS <<< "${ARMS:?ARMS: two or more LABEL=KEY=VALUE;... entries}"
read -r -a NS <<< "${NS:-}"
PREFIX=${PREFIX:?PREFIX: the name of the runs and the table}
TIER=${TIER:-medium}
STEPS=${STEPS:-}  # empty: the config's steps
COMMAND=${COMMAND:-}  # the command the table names (default: this script's own)
for v in "${SEEDS[@]}" "${NS[@]}" $STEPS; do
  case $v in ''|*[!0-9]*) echo "seed_arms.sh: SEEDS, NS and STEPS are integers" >&2; exit 2;;
  esac
done
[ "${#SEEDS[@]}" -ge 2 ] || { echo "seed_arms.sh: give 2 or more SEEDS" >&2; exit 2; }
[ "${#ARMS[@]}" -ge 2 ] || { echo "seed_arms.sh: give 2 or more ARMS" >&2; exit 2; }
labels=()
for arm in "${ARMS[@]}"; do
  label=${arm%%=*}
  case $label in ''|*[!A-Za-z0-9_.]*|"$arm")
    echo "seed_arms.sh: arm '$arm' is not LABEL=KEY=VALUE;... (LABEL: letters, digits, _ .)" >&2
    exit 2;; esac
  labels+=("$label")
done
for list in "${SEEDS[*]}" "${labels[*]}" "${NS[*]}"; do
  [ "$(tr ' ' '\n' <<< "$list" | sort | uniq -d)" = "" ] || {
    echo "seed_arms.sh: '$list' repeats a value" >&2; exit 2; }
done
case $TIER in medium|mixed) ;; *) echo "seed_arms.sh: TIER: medium mixed" >&2; exit 2;; esac
case $fam in squeeze|ising|battle) ;; *)
  echo "seed_arms.sh: families: squeeze ising battle" >&2; exit 2;; esac
source experiments/lib.sh
read -r stem default_n < <(python -c "import sys; sys.path.insert(0, 'experiments'); from make_sweep import FAMILIES; print(FAMILIES['$fam'][0], FAMILIES['$fam'][2][1])")
[ "${#NS[@]}" -gt 0 ] || NS=("$default_n")
# today's family config (mfdiff train's default, through train_into), its steps unless STEPS
steps=${STEPS:-$(python -c "from mfdiff_agents.family_configs import family_config; print(family_config('mfdiffuser', '$fam')['steps'])")}
OUT=${RUNS:-runs/${PREFIX}_$fam}  # another script's directory: its finished checkpoints are kept
for s in "${SEEDS[@]}"; do for label in "${labels[@]}"; do  # the data, if anything trains
  [ -f "$OUT/$TIER-$label-steps$steps-s$s/train_done" ] || {
    mfdiff data build "mfdiff/$stem/$TIER-v0" --no-progress > /dev/null; break 2; }  # kept if built
done; done
NAME=${PREFIX}_${fam}_${TIER}_seeds$(printf %s "${SEEDS[@]}")_n$(IFS=_; echo "${NS[*]}")
[ -n "$STEPS" ] && NAME+=_steps$STEPS
mkdir -p "$OUT"
train() {  # ARM SEED: OUT/TIER-LABEL-stepsSTEPS-sSEED, kept once finished
  local label=${1%%=*} sets=() kv
  local rest=${1#*=}
  IFS=';' read -r -a kvs <<< "$rest"
  for kv in "${kvs[@]}"; do [ -n "$kv" ] && sets+=(--set "$kv"); done
  # Ising's config clips the head's inputs to the data's range since the sixty-fifth update;
  # the tables before it were measured without: an arm that wants it says so
  [ "$fam" = ising ] && [[ ";$rest;" != *";head_data_range="* ]] && sets+=(--set head_data_range=false)
  # Battle's config lifts cold on 512 rows since the seventy-second update; likewise
  [ "$fam" = battle ] && [[ ";$rest;" != *";lift_"* ]] && sets+=("${LIFT_BEFORE[@]}")
  train_into "$OUT/$TIER-$label-steps$steps-s$2" "$OUT/$TIER-$label-steps$steps-s$2.log" \
    --dataset "mfdiff/$stem/$TIER-v0" --algo mfdiffuser \
    --set "steps=$steps" --set "seed=$2" "${sets[@]}" --threads 1
  # a kept checkpoint must be this arm's: a label reused with other overrides would be
  # evaluated under the wrong name
  python - "$OUT/$TIER-$label-steps$steps-s$2" "$steps" "$2" "${kvs[@]}" <<'PY'
import json
import sys

ckpt, steps, seed, *kvs = sys.argv[1:]
cfg = json.load(open(f"{ckpt}/config.json"))["config"]
wants = {}
for kv in [f"steps={steps}", f"seed={seed}", *filter(None, kvs)]:  # the arm's own steps last
    key, value = kv.split("=", 1)
    try:
        wants[key] = json.loads(value)
    except json.JSONDecodeError:
        wants[key] = value
for key, want in wants.items():
    if cfg.get(key) != want:
        sys.exit(f"seed_arms.sh: {ckpt} holds {key}={cfg.get(key)!r}, the arm asks {want!r}: "
                 "another run's checkpoint under this label; give the arm another label")
PY
}
jobs=()
for s in "${SEEDS[@]}"; do for arm in "${ARMS[@]}"; do jobs+=("$arm|$s"); done; done
run_lane() {  # FIRST: every second job from FIRST
  local i
  for ((i = $1; i < ${#jobs[@]}; i += 2)); do train "${jobs[i]%|*}" "${jobs[i]##*|}"; done
}
run_lane 0 & a=$!
run_lane 1 & b=$!
for lane in "$a" "$b"; do  # a failed training stops both lanes
  wait "$lane" || { pkill -P "$a"; pkill -P "$b"; kill "$a" "$b" 2> /dev/null; exit 1; }
done
python - "$fam" "$OUT" "$NAME" "$TIER" "$steps" "${NS[*]}" "${labels[*]}" "${SEEDS[@]}" <<'PY'
import sys

sys.path.insert(0, "experiments")
from make_sweep import FAMILIES, run_block

fam, out, name, tier, steps, ns, labels, *seeds = sys.argv[1:]
_, env, _, kwargs = FAMILIES[fam]
lanes: dict[int, list[str]] = {0: [], 1: []}
for i, seed in enumerate(seeds):
    for j, label in enumerate(labels.split()):  # each lane gets every arm's runs alike
        lanes[(i + j) % 2] += run_block(f"{out}/{tier}-{label}-steps{steps}-s{seed}",
                                        f"{label}-s{seed}", env, [int(n) for n in ns.split()],
                                        kwargs, tier)
for lane, lines in lanes.items():
    with open(f"{out}/sweep_{name}_lane{lane}.toml", "w") as f:
        f.write("\n".join(["seeds = 5", "episodes = 1", 'device = "cpu"', "", *lines]) + "\n")
PY
sweep_lanes "$OUT" "${NAME}_lane0" "${NAME}_lane1"
files="$OUT/records-${NAME}_lane0.jsonl+$OUT/records-${NAME}_lane1.jsonl"
if [ -z "$COMMAND" ]; then
  COMMAND="ARMS=\"${ARMS[*]}\" PREFIX=$PREFIX bash experiments/seed_arms.sh $fam"
  [ "${SEEDS[*]}" != "40 41 42 43 44 45" ] && COMMAND="SEEDS=\"${SEEDS[*]}\" $COMMAND"
  [ "${NS[*]}" != "$default_n" ] && COMMAND="NS=\"${NS[*]}\" $COMMAND"
  [ "$TIER" != medium ] && COMMAND="TIER=$TIER $COMMAND"
  [ -n "$STEPS" ] && COMMAND="STEPS=$STEPS $COMMAND"
  [ -n "${RUNS:-}" ] && COMMAND="RUNS=$RUNS $COMMAND"
fi
args=() diffs=()
for label in "${labels[@]}"; do
  args+=("$label=$(printf "$label-s%s," "${SEEDS[@]}" | sed 's/,$//')@$files")
done
for label in "${labels[@]}"; do for s in "${SEEDS[@]}"; do
  args+=("$label s$s=$label-s$s@$files")
done; done
for label in "${labels[@]:1}"; do diffs+=(--diff "$label" "${labels[0]}"); done
python experiments/compare_policies.py "${args[@]}" "${diffs[@]}" --ci t \
  --title "MF-Diffuser, $fam-$TIER, training seeds ${SEEDS[*]}: ${labels[*]} (\`$COMMAND\`)" \
  --out "docs/results/$NAME.md"
