#!/usr/bin/env bash
# No more particles than agents (Config.cap_particles; docs/results/cap_particles.md,
# docs/method.md (19)). The Ising config plans K_max = 512 particles at any N; at N = 10^2 the
# balanced lifting then gives each particle capacity 0 or 1, the units at random particles, so
# an agent is matched to another agent's plan. With cap_particles the schedule stops at N
# (32, 128, 512 -> 32, 100), one particle anchored at each agent. The grid's Ising checkpoints
# (training seeds 0-2, both tiers) act with the grid's settings at N = 10^2, cap off (the
# grid's MF-Diffuser row, re-evaluated) and on, 5 evaluation seeds each, beside the grid's
# baselines (docs/results/records/records-ising.jsonl.gz, not re-evaluated). At N >= K_max the
# two are the same plans (tests/test_planner.py). ~12 min on 2 cores. From the repo root:
#     bash experiments/cap_particles.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/cap_particles
C=runs/grid/ckpt/ising-n1024
mkdir -p "$OUT"
source experiments/lib.sh
need_checkpoints "bash experiments/grid.sh ising" "$C"-{medium,mixed}/mfdiffuser-s{0,1,2}
python - "$C" "$OUT" <<'PY'
import sys
sys.path.insert(0, "experiments")
from make_sweep import (FAMILIES, acting_overrides, inline_table, published_records,
                        run_block, write_jsonl)
grid, out = sys.argv[1:]
_, env, _, kwargs = FAMILIES["ising"]
acting = acting_overrides("ising", "mfdiffuser")
rows = []
for tier in ("medium", "mixed"):  # one lane per tier
    lines = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
    for seed in (0, 1, 2):
        for cap, label in ((False, "MF-Diffuser, K_max 512 at any N (grid)"),
                           (True, "MF-Diffuser, particles capped at N")):
            lines += run_block(f"{grid}-{tier}/mfdiffuser-s{seed}", label, env, [100], kwargs,
                               tier, inline_table({**acting, "cap_particles": cap}))
    with open(f"{out}/sweep_{tier}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
    rows += published_records("ising", f"ising-n1024-{tier}",
                              {"bc": "BC (grid)", "iql": "IQL (grid)", "mfq": "MFQ-CQL (grid)"},
                              (100,), methods=("BC", "IQL", "MFQ-CQL"))
write_jsonl(f"{out}/grid.jsonl", rows)
PY
sweep_lanes "$OUT" medium mixed
mfdiff eval --records "$OUT"/records-{medium,mixed}.jsonl "$OUT/grid.jsonl" \
  --report-dir docs/results --name cap_particles --command "bash experiments/cap_particles.sh"
