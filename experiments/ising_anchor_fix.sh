#!/usr/bin/env bash
# The Ising config at N = 10² after the forty-ninth update's fix of coarse-to-fine anchoring:
# with particles capped at N (the Ising config) the schedule (32, 128, 512) becomes (32, 100),
# which does not divide, and each coarse particle was anchored at a stratum of its neighbour
# (mfdiff_agents/diffuser/sampler.py split_anchor; an outside planner audit). The grid's
# checkpoints of training seeds 0-2 (runs/fresh_ising, bit-identical to the grid's: they
# replay its records) evaluated as the grid evaluates Ising (max_cycles 50, 5 evaluation
# seeds, both tiers) at N = 100, paired with the grid's committed records at N = 100 (the code before the fix) and its
# baselines there. Writes docs/results/ising_anchor_fix_<tier>.md. ~15 min on 2 cores. From
# the repo root (after experiments/fresh_seeds.sh, or with the grid's checkpoints copied there):
#     bash experiments/ising_anchor_fix.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
FRESH=runs/fresh_ising
OUT=runs/ising_anchor_fix
mkdir -p "$OUT"
source experiments/lib.sh
label="MF-Diffuser, anchor fix"
for tier in medium mixed; do
  need_checkpoints "bash experiments/fresh_seeds.sh" "$FRESH/mfdiffuser-$tier-s"{0,1,2}
done
lane() {  # TIER: evaluate the three checkpoints at N = 100
  local tier=$1 s rec
  rec=$OUT/records-$tier.jsonl
  for s in 0 1 2; do
    [ -f "$OUT/$tier-s$s.done" ] && continue
    mfdiff eval --policy "$FRESH/mfdiffuser-$tier-s$s" --env mfdiff/Ising-v0 --n-agents 100 \
      --env-kwargs '{"max_cycles": 50}' --seeds 5 --tier "$tier" --threads 1 \
      --label "$label" --no-progress --out "$rec" > /dev/null
    touch "$OUT/$tier-s$s.done"
  done
}
lane medium & a=$!
lane mixed & b=$!
wait_all "$a" "$b"
grid=docs/results/records/records-ising.jsonl.gz
for tier in medium mixed; do
  name=ising_anchor_fix_$tier
  rec=docs/results/records/records-$name.jsonl.gz
  gzip -nc "$OUT/records-$tier.jsonl" > "$rec"
  python experiments/compare_policies.py "anchor fix=$label@$rec" "config=MF-Diffuser, even DDIM split@$grid" \
    "IQL=IQL@$grid" "IQL ewc=IQL, equal wall-clock@$grid" "BC=BC@$grid" \
    "MFQ-CQL ewc=MFQ-CQL, equal wall-clock@$grid" \
    --diff "anchor fix" config --diff "anchor fix" IQL --diff "anchor fix" "IQL ewc" \
    --diff "anchor fix" BC --diff "anchor fix" "MFQ-CQL ewc" --diff config IQL --ci t \
    --out "docs/results/$name.md" \
    --title "Ising-$tier, N = 100: the grid's MF-Diffuser checkpoints (training seeds 0-2) \
acting as the config after the fix of coarse-to-fine anchoring (forty-ninth update), beside \
the grid's own MF-Diffuser records (the code before the fix), IQL, BC and MFQ-CQL (ewc: \
trained for MF-Diffuser's seconds) of the same evaluation seeds (the grid's committed records); \
5 evaluation seeds a checkpoint. \`bash experiments/ising_anchor_fix.sh\`."
done
