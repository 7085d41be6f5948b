#!/usr/bin/env bash
# The main results grid (docs/results/grid.md, grid_<family>.md and their plots). From the repo root:
#
#     bash experiments/grid.sh                 # every family
#     bash experiments/grid.sh ising           # one family (grid.md is rebuilt from the
#                                              # records of every family present in runs/grid;
#                                              # a family with none keeps its sections)
#
# 1. builds the N = 10^3 training datasets of each family (medium, mixed);
# 2. trains every method on each with `mfdiff train`'s defaults (the dataset family's settings,
#    mfdiff_agents/family_configs = configs/: budgets included); MF-Diffuser, BC, MFQ-CQL and
#    IQL with training seeds 0, 1, 2,
#    the others with seed 0; BC, MFQ-CQL and IQL once more for MF-Diffuser's training
#    wall-clock (make_sweep.WALL_CLOCK_STEPS, rows "<baseline>, equal wall-clock");
# 3. evaluates every checkpoint at N = 10^2, 10^3, 3·10^3, 10^4 (population transfer; 3·10^3
#    is in no catalogue; Ising: 3025, the nearest square; Battle: not at 3·10^3), 5 evaluation
#    seeds each
#    (MF-Diffuser with its defaults and acting with its particles' actions), beside
#    random and the scripted medium/expert policies; writes the reports.
# Jobs go through submitit (experiments/grid_jobs.py): two local processes at a time, one torch
# thread each; `python experiments/grid_jobs.py FAMILY --executor slurm` sends them to a SLURM
# cluster instead. Finished checkpoints are reused (delete runs/grid to retrain).
set -euo pipefail
cd "$(dirname "$0")/.."
FAMILIES=("${@:-squeeze ising battle}")
read -r -a FAMILIES <<< "${FAMILIES[*]}"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
for fam in "${FAMILIES[@]}"; do
  case $fam in squeeze) stem=squeeze-n1000;; ising) stem=ising-n1024;; battle) stem=battle-n1000;;
    *) echo "unknown family $fam" >&2; exit 2;; esac
  for tier in medium mixed; do mfdiff data build "mfdiff/$stem/$tier-v0" --no-progress; done
done
python experiments/grid_jobs.py "${FAMILIES[@]}" --out runs/grid --workers 2
# the records behind the tables, kept in the repo (runs/ is not), each with its checkpoint's
# training budget: summarize_grid.py and `mfdiff eval --records` read them as they are
mkdir -p docs/results/records
for fam in "${FAMILIES[@]}"; do
  python experiments/summarize_grid.py --export "docs/results/records/records-$fam.jsonl.gz" \
    "runs/grid/records-$fam.jsonl"
done
# written beside, then moved: the previous grid.md is read for the families with no records
python experiments/summarize_grid.py --previous docs/results/grid.md runs/grid/records-*.jsonl \
  > docs/results/grid.md.new
mv docs/results/grid.md.new docs/results/grid.md
echo "wrote docs/results/grid*.md"
