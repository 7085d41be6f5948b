#!/usr/bin/env bash
# Ising with the action head blind to the plan's change of every feature but the agent's own
# spin (`head_blind` [1, 2, 3]: neighbours' mean, magnetisation, time), on the 8 training
# seeds of experiments/fresh_seeds.sh (0 1 2 17 18 19 20 21), evaluated at N = 2025 with 5
# evaluation seeds each as the config acts. Why: an agent's action changes its own spin only;
# the planned change of its neighbours' mean, of the magnetisation and of time is not its to
# cause, and a head that reads it learns a correlation the data happen to hold. Crossing the
# weak seeds' heads and planners (experiments/swap_heads.py) showed that seed 18's planner acts
# well under seed 0's head and seed 0's planner under seed 18's head: the pair fails, each part
# reads the other's extrapolation (docs/results/ising_trace_n2025_medium.md). The diffusion
# model, value net and normalisation are bit-identical to the config's of the same seed (only
# the head's input changes), so the comparison with the config's committed records is paired
# by checkpoint and evaluation seed. Forty-eighth update, docs/results/README.md. Writes
# docs/results/ising_blind_n2025_<tier>.md. ~25 min a tier on 2 cores. From the repo root:
#     TIERS=medium bash experiments/ising_blind.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
read -r -a TIERS <<< "${TIERS:-medium mixed}"
for tier in "${TIERS[@]}"; do
  case $tier in medium|mixed) ;; *) echo "ising_blind.sh: TIERS: medium mixed" >&2; exit 2;; esac
done
OUT=runs/ising_blind
FRESH=runs/fresh_ising
mkdir -p "$OUT"
source experiments/lib.sh
label="MF-Diffuser, head blind to all but own spin"
lane() {  # TIER SEED...: train each seed's blind head, then evaluate it at N = 2025
  local tier=$1 s dir rec
  shift
  rec=$OUT/records-ising-$tier-n2025-lane$1.jsonl  # lanes named by their first seed
  for s in "$@"; do
    dir=$OUT/mfdiffuser-$tier-s$s
    train_once "$dir" "$dir.log" --dataset "mfdiff/ising-n1024/$tier-v0" --algo mfdiffuser \
      --config experiments/configs/ising_even_steps.json --set "seed=$s" --set "head_blind=[1,2,3]" \
      --threads 1
    # a record names its checkpoint: one written is a finished run (5 seeds)
    if [ -f "$rec" ] && grep -q "mfdiffuser-$tier-s$s\"" "$rec"; then continue; fi
    mfdiff eval --policy "$dir" --env mfdiff/Ising-v0 --n-agents 2025 \
      --env-kwargs '{"max_cycles": 50}' --seeds 5 --tier "$tier" --threads 1 \
      --label "$label" --no-progress --out "$rec" > /dev/null
  done
}
for tier in "${TIERS[@]}"; do
  mfdiff data build "mfdiff/ising-n1024/$tier-v0" --no-progress > /dev/null  # kept if built
  # the weak seeds first: a run cut short still tells about them
  lane "$tier" 18 0 2 20 & a=$!
  lane "$tier" 17 1 19 21 & b=$!
  wait_all "$a" "$b"
  name=ising_blind_n2025_$tier
  rec=docs/results/records/records-$name.jsonl.gz
  cat "$OUT/records-ising-$tier-n2025-lane18.jsonl" "$OUT/records-ising-$tier-n2025-lane17.jsonl" \
    | gzip -n > "$rec"
  fresh=docs/results/records/records-fresh_ising_seeds012_n2025_$tier.jsonl.gz
  fresh+=+docs/results/records/records-fresh_ising_seeds1718192021_n2025_$tier.jsonl.gz
  python experiments/compare_policies.py "config=MF-Diffuser@$fresh" "blind head=$label@$rec" \
    "IQL=IQL@$fresh" --diff "blind head" config --diff "blind head" IQL --diff config IQL \
    --ci t --out "docs/results/$name.md" \
    --title "Ising-$tier at N = 2025: the 8 MF-Diffuser training seeds of the forty-fifth \
update (0-2, 17-21) retrained with the action head blind to the plan's change of all but the \
agent's own spin (\`head_blind\` [1, 2, 3]; the diffusion model bit-identical to the config's \
of the same seed), acting as the config, beside the config and IQL (their committed records); \
5 evaluation seeds a checkpoint. \`TIERS=$tier bash experiments/ising_blind.sh\`; \
forty-eighth update, docs/results/README.md."
done
