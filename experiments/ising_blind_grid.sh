#!/usr/bin/env bash
# The Ising grid's MF-Diffuser cells with the action head blind to the plan's change of all but
# the agent's own spin (`head_blind` [1, 2, 3], experiments/ising_blind.sh's checkpoints of
# training seeds 0 1 2, trained there or here), evaluated as the grid evaluates Ising at the
# grid's sizes (N = 100, 1024, 10000, then 3025: the issue's three first; max_cycles 50, 5
# evaluation seeds a checkpoint, both tiers). The config's
# checkpoints of these seeds retrain bit for bit here (runs/fresh_ising's seed 0 replays the
# grid's records to the last digit), and the blind head's diffusion model is theirs, so the
# comparison with the grid's committed records (docs/results/records/records-ising.jsonl.gz)
# is paired by checkpoint and evaluation seed. Forty-eighth update, docs/results/README.md.
# Writes docs/results/ising_blind_grid_<tier>.md. ~40 min on 2 cores. From the repo root:
#     bash experiments/ising_blind_grid.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=runs/ising_blind
NS=(100 1024 10000 3025)
mkdir -p "$OUT"
source experiments/lib.sh
label="MF-Diffuser, head blind to all but own spin"
lane() {  # TIER: train seeds 0 1 2 (if missing), evaluate each at every N of the grid
  local tier=$1 s n dir rec
  rec=$OUT/records-ising-$tier-grid.jsonl
  for s in 0 1 2; do
    dir=$OUT/mfdiffuser-$tier-s$s
    train_once "$dir" "$dir.log" --dataset "mfdiff/ising-n1024/$tier-v0" --algo mfdiffuser \
      --config experiments/configs/ising_even_steps.json --set "seed=$s" --set "head_blind=[1,2,3]" \
      --threads 1
    for n in "${NS[@]}"; do  # a record of (checkpoint, N) written: a finished run (5 seeds)
      # (not grep -q after the pipe: the first grep dies of SIGPIPE, pipefail fails the test)
      if [ -f "$rec" ] && grep "mfdiffuser-$tier-s$s\"" "$rec" | grep "\"n_agents\": $n," >/dev/null
      then
        continue
      fi
      mfdiff eval --policy "$dir" --env mfdiff/Ising-v0 --n-agents "$n" \
        --env-kwargs '{"max_cycles": 50}' --seeds 5 --tier "$tier" --threads 1 \
        --label "$label" --no-progress --out "$rec" > /dev/null
    done
  done
}
for tier in medium mixed; do
  mfdiff data build "mfdiff/ising-n1024/$tier-v0" --no-progress > /dev/null  # kept if built
done
lane medium & a=$!
lane mixed & b=$!
wait_all "$a" "$b"
grid=docs/results/records/records-ising.jsonl.gz
for tier in medium mixed; do
  name=ising_blind_grid_$tier
  rec=docs/results/records/records-$name.jsonl.gz
  gzip -n < "$OUT/records-ising-$tier-grid.jsonl" > "$rec"
  python experiments/compare_policies.py "config=MF-Diffuser, even DDIM split@$grid" "blind head=$label@$rec" \
    "IQL=IQL@$grid" "BC=BC@$grid" "MFQ-CQL ewc=MFQ-CQL, equal wall-clock@$grid" \
    --diff "blind head" config --diff "blind head" IQL --diff "blind head" BC \
    --diff "blind head" "MFQ-CQL ewc" --diff config IQL --ci t --out "docs/results/$name.md" \
    --title "Ising-$tier, the grid's cells: MF-Diffuser of training seeds 0-2 with the action \
head blind to the plan's change of all but the agent's own spin (\`head_blind\` [1, 2, 3]; the \
diffusion model bit-identical to the grid's), acting as the config, beside the grid's \
MF-Diffuser, IQL, BC and MFQ-CQL trained for MF-Diffuser's seconds (ewc: the best baseline of \
Ising-medium N = 10²) (their committed records, the same evaluation seeds); 5 evaluation \
seeds a checkpoint. \`bash experiments/ising_blind_grid.sh\`; forty-eighth update, \
docs/results/README.md."
done
