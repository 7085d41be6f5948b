#!/usr/bin/env bash
# Battle's balanced lifting solved cold between replans (Config.lift_warm_start=false) against
# the config, whose lifts between replans start from the last step's potential (fifty-ninth
# update; why: docs/results/lifting_warm.md, `python benchmarks/lifting_warm.py`). The config's
# checkpoints (battle_own_plans.sh's, kept in runs/battle_head_steps_own_plans: the grid's
# weights, the head trained on its own plans), training seeds 0-2 of each tier, at N = 10^4
# (both teams: 5000 lifted agents, more distinct rows than exact_ot_max_n, so the Sinkhorn
# route; at N <= 4000 both settings act alike: exact OT) on EVAL_SEEDS evaluation seeds, as the
# grid plays Battle (max_cycles 150, the scripted expert as the opponent); then MF-Diffuser with
# cold lifts minus the config, paired by evaluation seed (compare_policies.py) into
# docs/results/lift_warm_battle_n<N>_e<EVAL_SEEDS>_<tier>.md. ~7 min per checkpoint to train
# (skipped where it exists) and ~15 s per episode on one core. From the repo root:
#     TIERS=mixed bash experiments/lift_warm.sh      # default TIERS="medium mixed", EVAL_SEEDS=8
# LIFT_SET / LIFT_TAG play another lifting setting against the config instead (sixtieth update):
#     LIFT_SET="lift_warm_start=false lift_sinkhorn_rows=1024" LIFT_TAG=cold1024 \
#         bash experiments/lift_warm.sh     # -> docs/results/lift_warm_battle_..._cold1024.md
# COMPARE_ONLY=1 writes the tables from the records of an earlier run (runs/lift_warm/<table>.jsonl)
# or, where only they exist, their committed copies (docs/results/records/records-<table>.jsonl.gz;
# cold512's since the seventy-first update): no checkpoint needed, no episode played.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
source experiments/lib.sh
OUT=runs/battle_head_steps_own_plans
REC=runs/lift_warm
mkdir -p "$OUT" "$REC"
read -r -a TIERS <<< "${TIERS:-medium mixed}"
EVAL_SEEDS=${EVAL_SEEDS:-8}
LIFT_SET=${LIFT_SET:-lift_warm_start=false}
LIFT_TAG=${LIFT_TAG:-cold}
case $LIFT_TAG in ''|*[!a-z0-9_]*|warm) echo "lift_warm.sh: LIFT_TAG is [a-z0-9_]+, not warm" >&2
                                       exit 2;; esac
read -r -a fields <<< "$LIFT_SET"
[ ${#fields[@]} -gt 0 ] || { echo "lift_warm.sh: LIFT_SET names at least one KEY=VALUE" >&2
                             exit 2; }
LIFT_SETS=()  # one --set per field (mfdiff eval takes --set KEY=VALUE once per field)
for f in "${fields[@]}"; do LIFT_SETS+=(--set "$f"); done
if [ "$LIFT_TAG" = cold ] && [ "$LIFT_SET" != lift_warm_start=false ]; then
  echo "lift_warm.sh: LIFT_TAG=cold is lift_warm_start=false's records; name another setting" >&2
  exit 2
fi
N=${EVAL_N:-10000}
for v in "$EVAL_SEEDS" "$N"; do
  case $v in ''|*[!0-9]*|0) echo "lift_warm.sh: EVAL_SEEDS and EVAL_N are positive integers" >&2
                            exit 2;; esac
done
[ $((N % 2)) = 0 ] || { echo "lift_warm.sh: EVAL_N is even (two teams)" >&2; exit 2; }
for tier in "${TIERS[@]}"; do
  case $tier in medium|mixed) ;; *) echo "lift_warm.sh: TIERS: medium mixed" >&2; exit 2;; esac
done
for tier in "${TIERS[@]}"; do
  name=lift_warm_battle_n${N}_e${EVAL_SEEDS}_$tier
  [ "$LIFT_TAG" = cold ] || name+=_$LIFT_TAG
  files=()
  [ "${COMPARE_ONLY:-0}" = 1 ] || mfdiff data build "mfdiff/battle-n1000/$tier-v0" \
    --no-progress > /dev/null  # kept if built
  for s in 0 1 2; do
    [ "${COMPARE_ONLY:-0}" = 1 ] && break
    train_battle_head "$OUT" "$tier" "$s" 800 1
    for setting in warm "$LIFT_TAG"; do
      f="$REC/n${N}_e${EVAL_SEEDS}_${tier}_s${s}_$setting.jsonl"
      files+=("$f")
      if [ -s "$f" ]; then  # evaluated before: with this setting? (a tag names its records)
        want=""; [ "$setting" = warm ] || want="$LIFT_SET"
        python - "$f" "$want" <<'PY' || exit 2
import json, sys
path, want = sys.argv[1], sys.argv[2].split()
got = sorted(f"{k}={v}" for k, v in json.loads(open(path).readline())["config"]["set"].items())
if got != sorted(want):
    sys.exit(f"lift_warm.sh: {path} was played with --set {got or 'nothing'}, not {sorted(want)}:"
             " give this setting another LIFT_TAG (or remove the file)")
PY
        continue
      fi
      if [ "$setting" = warm ]; then label="MF-Diffuser"; set_=()
      elif [ "$setting" = cold ]; then label="MF-Diffuser, cold lifts"; set_=("${LIFT_SETS[@]}")
      else label="MF-Diffuser, lifts $LIFT_TAG"; set_=("${LIFT_SETS[@]}"); fi
      mfdiff eval --policy "$OUT/$tier-s$s" --env mfdiff/Battle-v0 --n-agents "$N" \
        --seeds "$EVAL_SEEDS" --env-kwargs '{"max_cycles": 150, "opponent": "expert"}' \
        --tier "$tier" --label "$label" ${set_[@]+"${set_[@]}"} --threads 1 --no-progress \
        --out "$f.part" > /dev/null
      mv "$f.part" "$f"
    done
  done
  # the table's records in one file (what docs/results/records keeps, gzipped: records-<name>.gz)
  [ "${COMPARE_ONLY:-0}" = 1 ] || cat "${files[@]}" > "$REC/$name.jsonl"
  all=$(committed "$REC/$name.jsonl")
  cmd="TIERS=$tier bash experiments/lift_warm.sh"
  [ "$EVAL_SEEDS" != 8 ] && cmd="EVAL_SEEDS=$EVAL_SEEDS $cmd"
  [ "$N" != 10000 ] && cmd="EVAL_N=$N $cmd"
  if [ "$LIFT_TAG" = cold ]; then
    python experiments/compare_policies.py "cold=MF-Diffuser, cold lifts@$all" \
      "config=MF-Diffuser@$all" --diff cold config \
      --title "Battle-$tier at N = $N ($((N / 2)) a team), the config's checkpoints (training seeds 0-2 x $EVAL_SEEDS evaluation seeds): the balanced lifting between replans solved cold (lift_warm_start=false) vs warm-started (the config). Regenerate with: $cmd (fifty-ninth update, docs/results/README.md)." \
      --out "docs/results/$name.md"
  else
    cmd="LIFT_SET=\"$LIFT_SET\" LIFT_TAG=$LIFT_TAG $cmd"
    python experiments/compare_policies.py "$LIFT_TAG=MF-Diffuser, lifts $LIFT_TAG@$all" \
      "config=MF-Diffuser@$all" --diff "$LIFT_TAG" config \
      --title "Battle-$tier at N = $N ($((N / 2)) a team), the config's checkpoints (training seeds 0-2 x $EVAL_SEEDS evaluation seeds): the balanced lifting with ${LIFT_SETS[*]} vs the config. Regenerate with: $cmd (docs/results/README.md)." \
      --out "docs/results/$name.md"
  fi
done
