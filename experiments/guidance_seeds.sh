#!/usr/bin/env bash
# Classifier-free guidance at acting time on the 8 MF-Diffuser checkpoints of
# experiments/fresh_seeds.sh (training seeds 0 1 2 17 18 19 20 21, Ising-medium at N = 2025,
# 5 evaluation seeds each), as `mfdiff eval --set guidance_weight=W` acts: the config (mixture
# of 4 plans) with each plan pushed past the data toward higher return (the Ising config trains
# with p_uncond 0.1, so the null token exists). Why: the weak seed 18 corrects only about half
# of the misaligned spins once the lattice is ordered (docs/results/ising_trace_n2025_medium.md);
# greedier plans flip more of them. Forty-seventh update, docs/results/README.md. Writes
# docs/results/guidance<W>_ising_n2025_medium.md: beside the config (W = 1) and IQL, paired by
# evaluation seed and over training seeds. Each plan costs two denoiser calls a step at W != 1.
# ~35 min on 2 cores with W=2. From the repo root:
#     W=2 bash experiments/guidance_seeds.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
W=${W:-2}
OUT=runs/guidance
RUNS=runs/fresh_ising
case $W in ''|*[!0-9.]*|.|*.*.*) echo "guidance_seeds.sh: W is a number, e.g. 2 or 1.5" >&2
                                  exit 2;; esac
mkdir -p "$OUT"
source experiments/lib.sh
how="SEEDS=\"0 1 2\" TIERS=medium bash experiments/fresh_seeds.sh ising; TIERS=medium bash experiments/fresh_seeds.sh ising"
need_checkpoints "$how" $RUNS/mfdiffuser-medium-s{0,1,2,17,18,19,20,21}
label="MF-Diffuser, guidance $W"
lane() {  # LANE SEED...: each checkpoint as the config acts, guided at W
  local lane=$1 s out
  shift
  out=$OUT/records-ising-medium-n2025-guidance$W-lane$lane.jsonl
  for s in "$@"; do  # a record names its checkpoint: one written is a finished run (5 seeds)
    if [ -f "$out" ] && grep -q "mfdiffuser-medium-s$s\"" "$out"; then continue; fi
    mfdiff eval --policy "$RUNS/mfdiffuser-medium-s$s" --env mfdiff/Ising-v0 --n-agents 2025 \
      --env-kwargs '{"max_cycles": 50}' --seeds 5 --tier medium --set "guidance_weight=$W" \
      --threads 1 --label "$label" --no-progress --out "$out" > /dev/null
  done
}
# the weak seeds first: a run cut short still tells about them
lane 0 18 0 2 20 & a=$!
lane 1 17 1 19 21 & b=$!
wait_all "$a" "$b"
name=guidance${W}_ising_n2025_medium
rec=docs/results/records/records-$name.jsonl.gz
cat "$OUT/records-ising-medium-n2025-guidance$W-lane0.jsonl" \
  "$OUT/records-ising-medium-n2025-guidance$W-lane1.jsonl" | gzip -n > "$rec"
fresh=docs/results/records/records-fresh_ising_seeds012_n2025_medium.jsonl.gz
fresh+=+docs/results/records/records-fresh_ising_seeds1718192021_n2025_medium.jsonl.gz
python experiments/compare_policies.py "config (guidance 1)=MF-Diffuser@$fresh" \
  "guidance $W=$label@$rec" "IQL=IQL@$fresh" \
  --diff "guidance $W" "config (guidance 1)" --diff "guidance $W" IQL \
  --diff "config (guidance 1)" IQL --ci t --out "docs/results/$name.md" \
  --title "Ising-medium at N = 2025: the 8 MF-Diffuser checkpoints of the forty-fifth update \
(training seeds 0-2, 17-21) acting as the config (mixture of 4 plans) with classifier-free \
guidance weight $W instead of 1 (\`mfdiff eval --set guidance_weight=$W\`), beside the config \
and IQL (their committed records); 5 evaluation seeds a checkpoint. \`W=$W bash \
experiments/guidance_seeds.sh\`; forty-seventh update, docs/results/README.md."
