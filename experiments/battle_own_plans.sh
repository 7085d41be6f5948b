#!/usr/bin/env bash
# The Battle config with its action head trained on the diffusion model's own plans
# (Config.head_own_plans; thirty-second update, docs/results/battle_own_plans.md) at every
# Battle cell of the grid: both tiers, N = 10^2, 10^3, 10^4 (both teams), training seeds 0-2 x
# 5 evaluation seeds, the config's acting, beside the grid's records of the config and BC
# (docs/results/records/records-battle.jsonl.gz, not re-evaluated).
# Training as experiments/battle_head_steps.sh with OWN_PLANS=1 (the same checkpoints, in the
# same dir: its medium ones are reused): the Battle config (configs/mfdiffuser/battle.json)
# for 800 steps, the first 400 training the diffusion model and the head together (the grid's
# diffusion weights, bit for bit), the last 400 the head alone on the model's own plans.
# ~7 min per checkpoint and ~15 min of evaluation on 2 cores. From the repo root:
#     bash experiments/battle_own_plans.sh
# SEEDS="3 4" TIERS=medium: training seeds the grid never used (report battle_own_plans_seeds34
# [_medium]), beside BC trained here with the same seeds and its family config (the grid has
# no records of them); ~20 min on 2 cores for one tier.
# NS="500 5000": population sizes in no other Battle table (both teams; report name gets
# _n500_5000), as experiments/unseen_seeds.sh battle; beside BC trained here with the same seeds
# (the grid has no records at other N), also with the grid's seeds 0-2.
# IQL=1: also IQL with the same seeds and its family config (configs/iql/battle.json, acting as
# the grid's IQL), trained here; report name gets _iql. ~2 min a checkpoint.
# Without the grid's records (SEEDS or NS), also docs/results/<name>_paired.md: MF-Diffuser
# minus each baseline paired by evaluation seed and over training seeds (compare_policies.py
# --ci t). NS="2000" IQL=1 TIERS=medium (or mixed): ~40 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/battle_head_steps_own_plans
mkdir -p "$OUT"
source experiments/lib.sh
read -r -a SEEDS <<< "${SEEDS:-0 1 2}"
read -r -a TIERS <<< "${TIERS:-medium mixed}"
for s in "${SEEDS[@]}"; do
  case $s in ''|*[!0-9]*) echo "battle_own_plans.sh: SEEDS are integers" >&2; exit 2;; esac
done
for tier in "${TIERS[@]}"; do
  case $tier in medium|mixed) ;; *) echo "battle_own_plans.sh: TIERS: medium mixed" >&2
                                   exit 2;; esac
  mfdiff data build "mfdiff/battle-n1000/$tier-v0" --no-progress > /dev/null  # kept if built
done
NAME=battle_own_plans
GRID=1  # 1: beside the grid's records (its seeds and N); 0: baselines trained here
if [ "${SEEDS[*]}" != "0 1 2" ]; then NAME+=_seeds$(printf %s "${SEEDS[@]}"); GRID=0; fi
IQL=${IQL:-0}
case $IQL in 0|1) ;; *) echo "battle_own_plans.sh: IQL is 0 or 1" >&2; exit 2;; esac
[ "${TIERS[*]}" != "medium mixed" ] && NAME+=_${TIERS[*]}
read -r -a NS <<< "${NS:-}"
for n in "${NS[@]}"; do
  case $n in ''|*[!0-9]*) echo "battle_own_plans.sh: NS are even integers" >&2; exit 2;; esac
  [ $((n % 2)) = 0 ] || { echo "battle_own_plans.sh: NS are even integers" >&2; exit 2; }
done
if [ "${#NS[@]}" -gt 0 ]; then
  GRID=0
  NAME+=_n$(IFS=_; echo "${NS[*]}")
fi
if [ "$IQL" = 1 ]; then
  [ "$GRID" = 0 ] || { echo "battle_own_plans.sh: IQL=1 needs SEEDS or NS (at the grid's" \
                            "seeds and N its records hold IQL)" >&2; exit 2; }
  NAME+=_iql
fi
train() {  # tier seed
  train_battle_head "$OUT" "$1" "$2" 800 1
  if [ "$GRID" = 0 ]; then  # BC with its family config (mfdiff train's default), as the grid
    train_into "$OUT/bc-$1-s$2" "$OUT/bc-$1-s$2.log" --dataset "mfdiff/battle-n1000/$1-v0" \
      --algo bc --set "seed=$2" --threads 1
  fi
  if [ "$IQL" = 1 ]; then
    train_into "$OUT/iql-$1-s$2" "$OUT/iql-$1-s$2.log" --dataset "mfdiff/battle-n1000/$1-v0" \
      --algo iql --set "seed=$2" --threads 1
  fi
}
jobs=()
for tier in "${TIERS[@]}"; do for s in "${SEEDS[@]}"; do jobs+=("$tier $s"); done; done
(for ((i = 0; i < ${#jobs[@]}; i += 2)); do train ${jobs[i]}; done) & a=$!  # one lane per core
(for ((i = 1; i < ${#jobs[@]}; i += 2)); do train ${jobs[i]}; done) & b=$!
wait_all "$a" "$b"
python - "$OUT" "$GRID" "$IQL" "$NAME" "${TIERS[*]}" "${NS[*]}" "${SEEDS[@]}" <<'PY'
import gzip
import json
import sys

sys.path.insert(0, "experiments")
from make_sweep import (ACTING, FAMILIES, acting_overrides, family_planning, inline_table,
                        run_block, write_jsonl)

out, grid, iql, name, tiers, other_ns, *seeds = sys.argv[1:]
label = "MF-Diffuser, head on its own plans"
_, env, ns, kwargs = FAMILIES["battle"]
ns = [int(n) for n in other_ns.split()] or ns
acting = {**ACTING, **family_planning("battle")}  # the family config's acting, spelled out
assert acting["head_temperature"] == 0.4 and acting["head_min_p"] == 0.05, acting
# one lane per tier (the default's lanes: own_medium, own_mixed), or per seed with one tier
blocks = {}
for t, tier in enumerate(tiers.split()):
    for i, seed in enumerate(seeds):
        lane = f"own_{tier}" if name == "battle_own_plans" else f"{name}_lane{(t + i) % 2}"
        lines = run_block(f"{out}/{tier}-s{seed}", label, env, ns, kwargs, tier,
                          inline_table(acting))
        if grid == "0":  # BC of the same seed, acting as the grid's BC
            lines += run_block(f"{out}/bc-{tier}-s{seed}", "BC", env, ns, kwargs, tier,
                               inline_table(acting_overrides("battle", "bc")))
        if iql == "1":  # IQL of the same seed, acting as the grid's IQL
            lines += run_block(f"{out}/iql-{tier}-s{seed}", "IQL", env, ns, kwargs, tier,
                               inline_table(acting_overrides("battle", "iql")))
        blocks.setdefault(lane, []).extend(lines)
for lane, lines in blocks.items():
    with open(f"{out}/sweep_{lane}.toml", "w") as f:
        f.write("\n".join(["seeds = 5", "episodes = 1", 'device = "cpu"', "", *lines]) + "\n")
with open(f"{out}/lanes_{name}.txt", "w") as f:
    f.write(" ".join(blocks) + "\n")
rows = []
if grid == "1":  # the grid's config (its head trained 400 steps on the data) and BC as they are
    # (the grid's row "MF-Diffuser, head trained on data" since the thirty-third update)
    named = {"MF-Diffuser, head trained on data": "MF-Diffuser, head trained on data (grid)",
             "BC": "BC (grid)"}
    with gzip.open("docs/results/records/records-battle.jsonl.gz", "rt") as f:
        for line in f:
            r = json.loads(line)
            if (r["method"] in named and r["n_agents"] in (50, 500, 5000)
                    and r["tier"] in tiers.split()):
                r["method"] = named[r["method"]]
                rows.append(r)
    # 2 methods x tiers x 3 N x 3 training x 5 evaluation seeds
    assert len(rows) == 2 * len(tiers.split()) * 3 * 15, len(rows)
    write_jsonl(f"{out}/grid_all.jsonl", rows)
PY
read -r -a LANES < "$OUT/lanes_$NAME.txt"
sweep_lanes "$OUT" "${LANES[@]}"
records=()
for lane in "${LANES[@]}"; do records+=("$OUT/records-$lane.jsonl"); done
if [ "$GRID" = 1 ]; then records+=("$OUT/grid_all.jsonl"); fi
cmd="bash experiments/battle_own_plans.sh"
[ "${SEEDS[*]}" != "0 1 2" ] && cmd="SEEDS=\"${SEEDS[*]}\" $cmd"
[ "$IQL" = 1 ] && cmd="IQL=1 $cmd"
[ "${TIERS[*]}" != "medium mixed" ] && cmd="TIERS=\"${TIERS[*]}\" $cmd"
[ "${#NS[@]}" -gt 0 ] && cmd="NS=\"${NS[*]}\" $cmd"
mfdiff eval --records "${records[@]}" --report-dir docs/results --name "$NAME" --command "$cmd"
if [ "$GRID" = 0 ]; then  # MF-Diffuser minus the baselines trained here, paired by evaluation
  # seed (Student-t) and over training seeds (Welch): docs/results/NAME_paired.md
  files=$(IFS=+; echo "${records[*]}")
  pols=("mfd=MF-Diffuser, head on its own plans@$files" "bc=BC@$files")
  diffs=(--diff mfd bc)
  if [ "$IQL" = 1 ]; then pols+=("iql=IQL@$files"); diffs+=(--diff mfd iql); fi
  python experiments/compare_policies.py "${pols[@]}" "${diffs[@]}" --ci t \
    --title "Records of \`$cmd\` (its table: $NAME.md)." --out "docs/results/${NAME}_paired.md"
fi
