#!/usr/bin/env bash
# The baselines' acting temperature per family (docs/results/baseline_temp_<family>.md; the
# evidence for configs/{bc,iql,mfq}/<family>.json). MF-Diffuser's acting was searched per
# family (planning_steps.md, battle_decode.md); the baselines get the same search: the grid's
# seed-0 BC, IQL and MFQ-CQL checkpoints (bash experiments/grid.sh FAMILY), medium and mixed
# data, the smallest and the training N, 5 evaluation seeds, acting temperature T (sample from
# softmax(logits / T); 0 = argmax; BC and IQL default to 1, MFQ-CQL to 0.1). From the repo root:
#     bash experiments/baseline_temp.sh battle   # or squeeze, ising
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
fam=${1:?usage: bash experiments/baseline_temp.sh squeeze|ising|battle}
OUT=runs/baseline_temp/$fam
mkdir -p "$OUT"
python - "$fam" "$OUT" <<'PY'
import sys
from pathlib import Path
sys.path.insert(0, "experiments")
from make_sweep import FAMILIES, inline_table, run_block
fam, out = sys.argv[1:]
if fam not in FAMILIES:
    sys.exit(f"unknown family {fam!r} (squeeze | ising | battle)")
stem, env, ns, kwargs = FAMILIES[fam]
ckpt = f"runs/grid/ckpt/{stem}"
TEMPS = {"bc": ("BC", [1.0, 0.5, 0.3, 0.1, 0.0]), "iql": ("IQL", [1.0, 0.5, 0.3, 0.1, 0.0]),
         "mfq": ("MFQ-CQL", [0.3, 0.1, 0.03, 0.0])}
for tier in ("medium", "mixed"):
    lines = ["seeds = 5", "episodes = 1", 'device = "cpu"', ""]
    for algo, (name, temps) in TEMPS.items():
        path = f"{ckpt}-{tier}/{algo}-s0"
        if not (Path(path) / "train_done").exists():
            sys.exit(f"missing {path}: run bash experiments/grid.sh {fam} first")
        for t in temps:
            lines += run_block(path, f"{name}, T = {t:g}", env, ns[:2], kwargs, tier,
                               inline_table({"temperature": t}))
    with open(f"{out}/sweep_{tier}.toml", "w") as f:
        f.write("\n".join(lines) + "\n")
PY
source experiments/lib.sh
eval_tier_lanes "$OUT" "baseline_temp_$fam" "bash experiments/baseline_temp.sh $fam"
