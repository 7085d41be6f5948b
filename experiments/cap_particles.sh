#!/usr/bin/env bash
# No more particles than agents (Config.cap_particles; docs/results/cap_particles.md,
# docs/method.md (19)). The Ising config planned K_max = 512 particles at any N until the
# twenty-fifth update (it caps them since, on this measurement); at N = 10^2 the
# balanced lifting then gives each particle capacity 0 or 1, the units at random particles, so
# an agent is matched to another agent's plan. With cap_particles the schedule stops at N
# (32, 128, 512 -> 32, 100), one particle anchored at each agent. The grid's Ising checkpoints
# (training seeds 0-2, both tiers) act with the grid's settings at N = 10^2, cap off (the
# grid's MF-Diffuser row until then, re-evaluated) and on (the row since), 5 evaluation seeds
# each, beside the grid's
# baselines (docs/results/records/records-ising.jsonl.gz, not re-evaluated). At N >= K_max the
# two are the same plans (tests/test_planner.py). ~12 min on 2 cores. From the repo root:
#     bash experiments/cap_particles.sh
# UNSEEN=1: training seeds 3 and 4 (trained here as the grid trains, 400 steps of the Ising
# config) at N = 484, the size below K_max of docs/results/unseen_ising.md (whose rows it is
# read beside), cap off and on; writes docs/results/cap_particles_unseen.md (~25 min):
#     UNSEEN=1 bash experiments/cap_particles.sh
# `bash experiments/cap_particles.sh battle`: the same on Battle at N = 10^2 (50 agents a team
# under K_max = 256) with the grid's Battle checkpoints (mfdiffuser-blind-hv-s<seed>);
# writes docs/results/cap_particles_battle.md (~6 min); `... squeeze` likewise on Squeeze at
# N = 10^2 under K_max = 256 (docs/results/cap_particles_squeeze.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
FAM=${1:-ising}
OUT=runs/cap_particles
C=runs/grid/ckpt/ising-n1024
NAME=cap_particles
STEM=mfdiffuser
source experiments/lib.sh
case $FAM:${UNSEEN:-0} in
  ising:0) SEEDS="0 1 2"; N=100 ;;
  battle:0|squeeze:0)
    SEEDS="0 1 2"; N=100; OUT=runs/cap_particles_$FAM; NAME=cap_particles_$FAM
    read -r CELL STEM < <(python -c "import sys; sys.path.insert(0, 'experiments'); from make_sweep import FAMILIES, mfd_dir; print(FAMILIES['$FAM'][0], mfd_dir('$FAM', before=True))")
    C=runs/grid/ckpt/$CELL ;;
  ising:1) ;;
  *) echo "usage: [UNSEEN=1] bash experiments/cap_particles.sh [ising]  |  bash experiments/cap_particles.sh battle|squeeze" >&2
     exit 2 ;;
esac
mkdir -p "$OUT"
case ${UNSEEN:-0} in
  0) need_checkpoints "bash experiments/grid.sh $FAM" "$C"-{medium,mixed}/"$STEM"-s{0,1,2} ;;
  1) SEEDS="3 4"; N=484; OUT=runs/cap_particles_unseen; NAME=cap_particles_unseen; C=$OUT/ckpt
     mkdir -p "$OUT"; pids=()
     for tier in medium mixed; do  # one lane per tier
       mfdiff data build "mfdiff/ising-n1024/$tier-v0" --no-progress > /dev/null  # kept if built
       (for seed in $SEEDS; do
         train_once "$C-$tier/mfdiffuser-s$seed" "$OUT/$tier-s$seed.log" \
           --dataset "mfdiff/ising-n1024/$tier-v0" --algo mfdiffuser \
           --config experiments/configs/ising_even_steps.json --set "seed=$seed" --threads 1
       done) & pids+=($!)
     done
     wait_all "${pids[@]}" ;;
  *) echo "cap_particles.sh: UNSEEN is 0 or 1" >&2; exit 2 ;;
esac
python - "$FAM" "$C" "$STEM" "$OUT" "$SEEDS" "$N" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import (FAMILIES, acting_overrides, family_planning, inline_table,
                        published_records, run_block, write_jsonl)
from mfdiff_agents.diffuser.config import Config
fam, ckpts, stem, out, seeds, n = sys.argv[1:]
cell, env, _, kwargs = FAMILIES[fam]
acting = acting_overrides(fam, "mfdiffuser")
k_max = family_planning(fam).get("k_schedule", Config.k_schedule)[-1]
grid = n == "100"  # the grid's checkpoints and size: its baselines beside
rows = []
for tier in ("medium", "mixed"):  # one lane per tier
    lines = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
    for seed in seeds.split():
        for cap, label in ((False, f"MF-Diffuser, K_max {k_max} at any N"
                            + (" (grid)" if grid else "")),
                           (True, "MF-Diffuser, particles capped at N")):
            lines += run_block(f"{ckpts}-{tier}/{stem}-s{seed}", label, env, [int(n)],
                               kwargs, tier, inline_table({**acting, "cap_particles": cap}))
    with open(f"{out}/sweep_{tier}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
    if grid:  # the records count one Battle team (N = 10^2: 50)
        rows += published_records(
            fam, f"{cell}-{tier}",
            {"bc": "BC (grid)", "iql": "IQL (grid)", "mfq": "MFQ-CQL (grid)"},
            (50 if fam == "battle" else 100,), methods=("BC", "IQL", "MFQ-CQL"))
write_jsonl(f"{out}/grid.jsonl", rows)
PY
sweep_lanes "$OUT" medium mixed
records=("$OUT"/records-{medium,mixed}.jsonl)
[ -s "$OUT/grid.jsonl" ] && records+=("$OUT/grid.jsonl")  # none beside unseen seeds
mfdiff eval --records "${records[@]}" \
  --report-dir docs/results --name "$NAME" \
  --command "$([ "${UNSEEN:-0}" = 1 ] && printf 'UNSEEN=1 ')bash experiments/cap_particles.sh$([ "$FAM" != ising ] && printf ' %s' "$FAM")"
