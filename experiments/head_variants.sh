#!/usr/bin/env bash
# What else was tried on the action head before the head ensemble (docs/results/head_variants.md,
# docs/method.md (18)). The grid's MF-Diffuser checkpoints of one family and training seed share
# their diffusion weights with every checkpoint below (a head setting trains only the head, on
# its own random stream), so each row differs from the grid's one-head checkpoint by its head
# alone:
#   - plan dropout 0.2 (head_plan_dropout), acted on with plan guidance weight w = 0 (the plan
#     ignored), 0.5, 1 (the planned head alone) and 1.5 (Squeeze);
#   - Battle: the head trained alone for 1200 more steps after the diffusion model's 400
#     (steps 1600, diffusion_steps 400);
#   - Battle (sixteenth update): the head trained on its nearest neighbour's displacement
#     (head_neighbour 1, the target formed as the planner forms it at act time); plan dropout
#     0.5 with the head trained alone to 1600 steps, w = 0 / 0.5 / 1 (w = 0.5 also at N = 10^4,
#     the cell of the missed "Battle >= BC" target), and the same with head_beta 0, w = 0.
# Medium data, training seeds 0 and 1, 5 evaluation seeds each; Battle at N = 10^2 and 10^3,
# Squeeze at N = 10^3; one row per training seed. Beside them, the grid's records of the same one-head checkpoints
# (runs/grid/records-<family>.jsonl, not re-evaluated). From the repo root:
#     bash experiments/head_variants.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/head_variants
mkdir -p "$OUT"
source experiments/lib.sh
for fam in squeeze battle; do
  [ -f "runs/grid/records-$fam.jsonl" ] || {
    echo "missing runs/grid/records-$fam.jsonl: run bash experiments/grid.sh $fam first" >&2
    exit 2
  }
done
train() {  # FAMILY SEED NAME SETTINGS...: the family config, one head, plus SETTINGS
  local fam=$1 seed=$2 name=$3 stem sets=()
  shift 3
  stem=$(python -c "import sys; sys.path.insert(0, 'experiments'); from make_sweep import FAMILIES; print(FAMILIES['$fam'][0])")
  for kv in "$@"; do sets+=(--set "$kv"); done
  train_once "$OUT/$fam-$name-s$seed" "$OUT/$fam-$name-s$seed.log" \
    --dataset "mfdiff/$stem/medium-v0" --algo mfdiffuser --config "$(mfd_config "$fam")" \
    --set head_ensemble=1 --set "head_blind=[]" --set head_value=false --set "seed=$seed" "${sets[@]}" --threads 1
}
for seed in 0 1; do  # two at a time; a failed training stops the script
  train squeeze "$seed" pd0.2 head_plan_dropout=0.2 & a=$!
  train battle "$seed" pd0.2 head_plan_dropout=0.2 & b=$!
  wait_all "$a" "$b"
done
train battle 0 head1600 steps=1600 diffusion_steps=400 & a=$!
train battle 1 head1600 steps=1600 diffusion_steps=400 & b=$!
wait_all "$a" "$b"
for name_sets in "nb1 head_neighbour=1" \
    "pd0.5-h1600 head_plan_dropout=0.5 steps=1600 diffusion_steps=400" \
    "pd0.5-h1600-hb0 head_plan_dropout=0.5 steps=1600 diffusion_steps=400 head_beta=0"; do
  read -r -a args <<< "$name_sets"
  train battle 0 "${args[@]}" & a=$!
  train battle 1 "${args[@]}" & b=$!
  wait_all "$a" "$b"
done
python - "$OUT" <<'PY'
import json
import sys
sys.path.insert(0, "experiments")
from make_sweep import FAMILIES, acting_overrides, grid_records, inline_table, run_block
out = sys.argv[1]
lanes = {0: [], 1: []}
for seed, lines in lanes.items():
    b2, b4 = [100, 1000], [100, 1000, 10000]
    for fam, rows in (
        ("squeeze", [("plan dropout 0.2, w = %s" % w, "pd0.2", {"head_plan_weight": w}, [1000])
                     for w in (0.0, 0.5, 1.0, 1.5)]),
        ("battle", [("plan dropout 0.2, w = %s" % w, "pd0.2", {"head_plan_weight": w}, b2)
                    for w in (0.0, 0.5, 1.0)]
         + [("head alone to 1600 steps", "head1600", {}, b2),
            ("neighbour targets", "nb1", {}, b2)]
         + [("plan dropout 0.5, head alone to 1600 steps, w = %s" % w, "pd0.5-h1600",
             {"head_plan_weight": w}, b4 if w == 0.5 else b2) for w in (0.0, 0.5, 1.0)]
         + [("plan dropout 0.5, head alone to 1600 steps, head_beta 0, w = 0.0",
             "pd0.5-h1600-hb0", {"head_plan_weight": 0.0}, b2)]),
    ):
        _, env, _, kwargs = FAMILIES[fam]
        acting = acting_overrides(fam, "mfdiffuser")
        for label, name, extra, ns in rows:  # per training seed: the head is what differs
            lines += run_block(f"{out}/{fam}-{name}-s{seed}", f"{label}, seed {seed}", env, ns,
                               kwargs, "medium",
                               inline_table({**acting, **extra}))
# the grid's records of the same cells: its one-head checkpoints mfdiffuser-s0/-s1, family acting
for fam, ns in (("squeeze", (1000,)), ("battle", (100, 1000, 10000))):
    rows = grid_records(fam, ("mfdiffuser-s0", "mfdiffuser-s1"),
                        acting_overrides(fam, "mfdiffuser"), ns,
                        lambda r: f"one head (grid), seed {r['config']['policy'][-1]}")
    with open(f"{out}/grid-{fam}.jsonl", "w") as g:
        g.writelines(json.dumps(r) + "\n" for r in rows)
head = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
for seed, lines in lanes.items():
    with open(f"{out}/sweep_lane{seed}.toml", "w") as f:
        f.write("\n".join(head + lines) + "\n")
PY
sweep_lanes "$OUT" lane0 lane1
mfdiff eval --records "$OUT"/records-lane{0,1}.jsonl "$OUT"/grid-{squeeze,battle}.jsonl \
  --report-dir docs/results --name head_variants --command "bash experiments/head_variants.sh"
