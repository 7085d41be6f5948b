#!/usr/bin/env bash
# Training seeds nobody picked, at a population size in no table, run the way the README runs
# them: MF-Diffuser, BC and IQL (IQL: the best baseline in most Ising cells of the grid) each
# trained by `mfdiff train` with its family config (mfdiff_agents/family_configs/<algo>/
# <family>.json, spelled out as --config; Ising's MF-Diffuser: its config until the fifty-eighth
# update, experiments/configs/ising_even_steps.json, which these tables were measured with) and
# a training seed of SEEDS on the catalogue's
# N = 10^3 data (Ising 1024) of each tier, then evaluated with the settings their checkpoints keep (no
# overrides: what `mfdiff eval --policy CKPT` does) at the sizes NS over 5 evaluation seeds.
# Writes docs/results/<name>.md and <name>_paired.md: MF-Diffuser minus each baseline paired by
# evaluation seed (Student-t) and over training seeds (Welch's t over the checkpoints' means,
# experiments/compare_policies.py --ci t). Records: runs/fresh_<family>/records-<lane>.jsonl.
# From the repo root (Battle has experiments/battle_own_plans.sh, with the grid's seeds too):
#     bash experiments/fresh_seeds.sh ising      # seeds 17-21, N = 2025, both tiers
#     SEEDS="5 6" NS="400 4900" TIERS=medium bash experiments/fresh_seeds.sh squeeze
# Ising, one tier of 5 seeds: 35-50 min on 2 cores shared with other jobs (this update's runs;
# training ~3 min a seed, MF-Diffuser's evaluation ~1-2 s a step at N = 2025 under that load).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
fam=${1:?usage: bash experiments/fresh_seeds.sh squeeze|ising}
case $fam in
  squeeze) DEFAULT_NS=2000;;
  ising) DEFAULT_NS=2025;;  # 45 x 45: the lattice is square
  *) echo "fresh_seeds.sh: families: squeeze ising (Battle: experiments/battle_own_plans.sh)" >&2
     exit 2;;
esac
read -r -a SEEDS <<< "${SEEDS:-17 18 19 20 21}"
read -r -a TIERS <<< "${TIERS:-medium mixed}"
read -r -a NS <<< "${NS:-$DEFAULT_NS}"
for v in "${SEEDS[@]}" "${NS[@]}"; do
  case $v in ''|*[!0-9]*) echo "fresh_seeds.sh: SEEDS and NS are integers" >&2; exit 2;; esac
done
[ "${#SEEDS[@]}" -ge 2 ] || { echo "fresh_seeds.sh: give 2 or more SEEDS (a CI over" \
                                   "training seeds needs them)" >&2; exit 2; }
for tier in "${TIERS[@]}"; do
  case $tier in medium|mixed) ;; *) echo "fresh_seeds.sh: TIERS: medium mixed" >&2; exit 2;; esac
done
for list in "${SEEDS[*]}" "${TIERS[*]}" "${NS[*]}"; do  # a repeat: two lanes in one checkpoint
  [ "$(tr ' ' '\n' <<< "$list" | sort | uniq -d)" = "" ] || {
    echo "fresh_seeds.sh: '$list' repeats a value" >&2; exit 2; }
done
source experiments/lib.sh
stem=$(python -c "import sys; sys.path.insert(0, 'experiments'); from make_sweep import FAMILIES; print(FAMILIES['$fam'][0])")
# every N is one the env takes (Ising: a square), before anything is trained
python - "$fam" "${NS[@]}" <<'PY' || exit 2
import sys

sys.path.insert(0, "experiments")
from make_sweep import FAMILIES

from mfdiff_agents.evaluation.run import make_core

fam, *ns = sys.argv[1:]
for n in ns:
    try:
        make_core(FAMILIES[fam][1], {"n_agents": int(n)})
    except ValueError as e:
        sys.exit(f"fresh_seeds.sh: NS: {e}")
PY
for tier in "${TIERS[@]}"; do
  mfdiff data build "mfdiff/$stem/$tier-v0" --no-progress > /dev/null  # kept if built
done
OUT=runs/fresh_$fam
NAME=fresh_${fam}_seeds$(printf %s "${SEEDS[@]}")_n$(IFS=_; echo "${NS[*]}")
[ "${TIERS[*]}" != "medium mixed" ] && NAME+=_$(IFS=_; echo "${TIERS[*]}")
mkdir -p "$OUT"
train() {  # ALGO TIER SEED: OUT/ALGO-TIER-sSEED, kept once finished
  local config=configs/$1/$fam.json
  # Ising's MF-Diffuser: the config these tables were measured with, its DDIM steps split
  # near-evenly over the particle levels (the config until the fifty-eighth update; the split
  # since, on fresh training seeds: experiments/stage_steps_fresh.sh)
  [ "$1/$fam" = mfdiffuser/ising ] && config=$(mfd_config ising)
  # Battle's MF-Diffuser: its lifting as these tables were measured (lib.sh LIFT_BEFORE)
  local lift=()
  [ "$1/$fam" = mfdiffuser/battle ] && lift=("${LIFT_BEFORE[@]}")
  train_once "$OUT/$1-$2-s$3" "$OUT/$1-$2-s$3.log" --dataset "mfdiff/$stem/$2-v0" --algo "$1" \
    --config "$config" --set "seed=$3" "${lift[@]}" --threads 1
}
jobs=()
for tier in "${TIERS[@]}"; do for s in "${SEEDS[@]}"; do
  for algo in mfdiffuser bc iql; do jobs+=("$algo $tier $s"); done
done; done
# one lane per core; MF-Diffuser's trainings alternate between them
(for ((i = 0; i < ${#jobs[@]}; i += 2)); do train ${jobs[i]}; done) & a=$!
(for ((i = 1; i < ${#jobs[@]}; i += 2)); do train ${jobs[i]}; done) & b=$!
for lane in "$a" "$b"; do  # a failed training stops both lanes, not only this script
  wait "$lane" || { pkill -P "$a"; pkill -P "$b"; kill "$a" "$b" 2> /dev/null; exit 1; }
done
python - "$fam" "$OUT" "$NAME" "${TIERS[*]}" "${NS[*]}" "${SEEDS[@]}" <<'PY'
import sys

sys.path.insert(0, "experiments")
from make_sweep import FAMILIES, run_block

fam, out, name, tiers, ns, *seeds = sys.argv[1:]
_, env, _, kwargs = FAMILIES[fam]
labels = {"mfdiffuser": "MF-Diffuser", "bc": "BC", "iql": "IQL"}
lanes: dict[int, list[str]] = {0: [], 1: []}
for t, tier in enumerate(tiers.split()):
    for i, seed in enumerate(seeds):
        for algo, label in labels.items():  # no `set`: each acts as its checkpoint keeps
            lanes[(t + i) % 2] += run_block(f"{out}/{algo}-{tier}-s{seed}", label, env,
                                            [int(n) for n in ns.split()], kwargs, tier)
for lane, lines in lanes.items():
    with open(f"{out}/sweep_{name}_lane{lane}.toml", "w") as f:
        f.write("\n".join(["seeds = 5", "episodes = 1", 'device = "cpu"', "", *lines]) + "\n")
PY
sweep_lanes "$OUT" "${NAME}_lane0" "${NAME}_lane1"
records=("$OUT/records-${NAME}_lane0.jsonl" "$OUT/records-${NAME}_lane1.jsonl")
cmd="bash experiments/fresh_seeds.sh $fam"
[ "${SEEDS[*]}" != "17 18 19 20 21" ] && cmd="SEEDS=\"${SEEDS[*]}\" $cmd"
[ "${NS[*]}" != "$DEFAULT_NS" ] && cmd="NS=\"${NS[*]}\" $cmd"
[ "${TIERS[*]}" != "medium mixed" ] && cmd="TIERS=\"${TIERS[*]}\" $cmd"
mfdiff eval --records "${records[@]}" --report-dir docs/results --name "$NAME" --command "$cmd"
files=$(IFS=+; echo "${records[*]}")
python experiments/compare_policies.py "mfd=MF-Diffuser@$files" "bc=BC@$files" "iql=IQL@$files" \
  --diff mfd bc --diff mfd iql --ci t \
  --title "Records of \`$cmd\` (its table: $NAME.md)." --out "docs/results/${NAME}_paired.md"
