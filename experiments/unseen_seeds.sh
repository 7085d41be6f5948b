#!/usr/bin/env bash
# A family with training seeds and population sizes the grid never used
# (docs/results/unseen_<family>.md; Squeeze: docs/results/squeeze_seeds.md through
# experiments/squeeze_seeds.sh): MF-Diffuser (the family config) and the family's strongest
# baselines (their searched acting), each trained exactly as the grid trains them but with
# training seeds 3 and 4, on the grid's N = 10^3 medium and mixed data, evaluated at two sizes
# in no table (Squeeze and Battle N = 500 and 5000; Ising 484 and 4900, the squares nearest)
# over 5 evaluation seeds (10 runs per cell). Row "MF-Diffuser" acts on one plan per replan, as
# the family configs did when it was measured (make_sweep.acting_one_plan); where the config now
# acts on the mixture of 4 plans (Ising, docs/method.md (17)) a row "MF-Diffuser, mixture of 4
# plans" adds it, on the same checkpoints. Row "MF-Diffuser" trains one action head, as the
# family configs did when it was measured; where the config now trains an ensemble of E heads
# (Squeeze, docs/method.md (18)) a row "MF-Diffuser, head ensemble of E" adds the config as it
# is (checkpoints mfdiffuser-ens<E>-s<seed>, the same diffusion weights); likewise, where the
# config's head is blind to features of the plan (Battle since the twenty-second update,
# Config.head_blind), a row "MF-Diffuser, head blind to [..]" (mfdiffuser-blind-s<seed>; the
# Battle config until the twenty-third update, since when it also has a value baseline,
# Config.head_value: measured at these seeds and sizes by
# `UNSEEN=1 HEAD_VALUE=1 bash experiments/battle_blind.sh 1,2,9`,
# docs/results/battle_blind_1_2_9_hv_unseen.md). Every MF-Diffuser row pins head_value off,
# and the particle cap (Ising config since the twenty-fifth update, Config.cap_particles;
# measured at these seeds by `UNSEEN=1 bash experiments/cap_particles.sh`) too.
# From the repo root:
#     bash experiments/unseen_seeds.sh ising       # or: battle, squeeze
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
fam=${1:?usage: bash experiments/unseen_seeds.sh squeeze|ising|battle}
case $fam in
  squeeze) BASELINES=(bc); NS="[500, 5000]";;
  ising) BASELINES=(iql); NS="[484, 4900]";;          # IQL: best baseline in 7 of 8 Ising cells
  battle) BASELINES=(iql mfq); NS="[500, 5000]";;     # each best in 3 of the 6 Battle cells
  *) echo "unknown family $fam (squeeze | ising | battle)" >&2; exit 2;;
esac
OUT=${OUT:-runs/unseen_$fam}
NAME=${NAME:-unseen_$fam}
COMMAND=${COMMAND:-bash experiments/unseen_seeds.sh $fam}
mkdir -p "$OUT"
source experiments/lib.sh
stem=$(python -c "import sys; sys.path.insert(0, 'experiments'); from make_sweep import FAMILIES; print(FAMILIES['$fam'][0])")
for tier in medium mixed; do mfdiff data build "mfdiff/$stem/$tier-v0" --no-progress; done
# the family config's action heads (Squeeze: 4 since the fifteenth update)
E=$(python -c "import json; print(json.load(open('$(mfd_config "$fam")')).get('head_ensemble', 1))")
# and the features its head never reads, comma-separated ("" = every one; Battle: 1,2,9)
B=$(python -c "import json; print(','.join(map(str, json.load(open('$(mfd_config "$fam")')).get('head_blind', []))))")
train() {  # ALGO TIER SEED [NAME]: one checkpoint with the grid's budget and config (kept once
  # finished) in OUT/TIER/NAME-sSEED; NAME defaults to ALGO
  local steps config=() name=${4:-$1}
  steps=$(python -c "import sys; sys.path.insert(0, 'experiments'); from make_sweep import grid_steps; print(grid_steps('$fam', '$1'))")
  [ -f "configs/$1/$fam.json" ] && config=(--config "configs/$1/$fam.json")
  # MF-Diffuser: the config these tables were measured with (mfd_config: Battle's before the
  # thirty-third update) and its budget
  if [ "$1" = mfdiffuser ]; then
    config=(--config "$(mfd_config "$fam")")
    steps=$(python -c "import json; print(json.load(open('$(mfd_config "$fam")'))['steps'])")
  fi
  # row "MF-Diffuser": one action head reading the whole plan, as when these tables were first
  # measured (Battle's head is partly blind since the twenty-second update)
  [ "$name" = mfdiffuser ] && config+=(--set head_ensemble=1 --set "head_blind=[]")
  # no value baseline on the head (Battle's config has one since the twenty-third update)
  [ "$1" = mfdiffuser ] && config+=(--set head_value=false)
  train_once "$OUT/$2/$name-s$3" "$OUT/$2-$name-s$3.log" --dataset "mfdiff/$stem/$2-v0" \
    --algo "$1" "${config[@]}" --set "steps=$steps" --set "seed=$3" --threads 1
}
for tier in medium mixed; do  # two at a time; a failed training stops the script
  for algo in mfdiffuser "${BASELINES[@]}"; do
    train "$algo" "$tier" 3 & a=$!
    train "$algo" "$tier" 4 & b=$!
    wait_all "$a" "$b"
  done
  if [ "$E" != 1 ]; then
    train mfdiffuser "$tier" 3 "mfdiffuser-ens$E" & a=$!
    train mfdiffuser "$tier" 4 "mfdiffuser-ens$E" & b=$!
    wait_all "$a" "$b"
  fi
  if [ -n "$B" ]; then
    train mfdiffuser "$tier" 3 mfdiffuser-blind & a=$!
    train mfdiffuser "$tier" 4 mfdiffuser-blind & b=$!
    wait_all "$a" "$b"
  fi
done
python - "$fam" "$OUT" "$NS" "$E" "$B" "${BASELINES[@]}" <<'PY'
import json
import sys
sys.path.insert(0, "experiments")
from make_sweep import (FAMILIES, METHODS, acting_one_plan, acting_overrides, before_cap,
                        inline_table, run_block)
fam, out, ns, n_heads, blind, *baselines = sys.argv[1:]
_, env, _, kwargs = FAMILIES[fam]
# the config's acting as measured, before the particle cap (Ising since the 25th update; its
# unseen-seed rows with the cap: docs/results/cap_particles_unseen.md)
config = before_cap(acting_overrides(fam, "mfdiffuser"))
for tier in ("medium", "mixed"):  # one lane per tier
    lines = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
    rows = [(algo, METHODS[algo][0], acting_one_plan(fam, algo))
            for algo in ("mfdiffuser", *baselines)]
    if config != acting_one_plan(fam, "mfdiffuser"):
        rows.append(("mfdiffuser", "MF-Diffuser, mixture of 4 plans",
                     config))  # the config since the 14th update
    if n_heads != "1":  # the config since the 15th update
        rows.append((f"mfdiffuser-ens{n_heads}", f"MF-Diffuser, head ensemble of {n_heads}",
                     config))
    if blind:  # the config since the 22nd update (Battle)
        rows.append(("mfdiffuser-blind", f"MF-Diffuser, head blind to [{blind}]", config))
    for name, label, acting in rows:
        for seed in (3, 4):
            lines += run_block(f"{out}/{tier}/{name}-s{seed}", label, env,
                               json.loads(ns), kwargs, tier,
                               inline_table(acting) if acting else None)
    with open(f"{out}/sweep_{tier}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
PY
eval_tier_lanes "$OUT" "$NAME" "$COMMAND"
