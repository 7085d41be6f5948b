#!/usr/bin/env bash
# MF-Diffuser trained as its sampler conditions (`train_inpaint`: plan step 0's observation
# channels enter the noisy window clean and unscored, as Diffuser trains; docs/method.md (12)),
# the family config otherwise, training seeds 0 1 2 of the grid, evaluated as the grid
# evaluates the family at its sizes (5 evaluation seeds a checkpoint, both tiers), beside the
# grid's committed records of the same training and evaluation seeds (the config trained
# without it, and the best baselines). Why: until the fifty-sixth update the denoiser never
# saw a clean step 0 in training, and the anchor reached it only through the sampler's
# replacement (an outside audit). Fifty-sixth update, docs/results/README.md. Writes
# docs/results/train_inpaint_<family>_<tier>.md. Ising ~30 min on 2 cores, Battle ~45 (its
# config: the head trains 400 more steps alone on the model's own plans, lib.sh
# train_battle_head). From the repo root:
#     bash experiments/train_inpaint.sh ising|battle      (NS="100 1024" for fewer sizes)
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
FAM=${1:-ising}
case $FAM in
  ising) DATA_N=1024; ENV=mfdiff/Ising-v0; KW='{"max_cycles": 50}'; DEF_NS="100 1024 10000";;
  battle) DATA_N=1000; ENV=mfdiff/Battle-v0; KW='{"max_cycles": 150, "opponent": "expert"}'
          DEF_NS="100 1000 10000";;
  *) echo "train_inpaint.sh: family: ising or battle" >&2; exit 2;;
esac
read -r -a NS <<< "${NS:-$DEF_NS}"
OUT=runs/train_inpaint/$FAM
mkdir -p "$OUT"
source experiments/lib.sh
label="MF-Diffuser, trained with inpainting"
lane() {  # TIER: train seeds 0 1 2 (if missing), evaluate each at every N
  local tier=$1 s n dir rec
  rec=$OUT/records-$FAM-$tier.jsonl
  for s in 0 1 2; do
    if [ "$FAM" = battle ]; then  # the grid's Battle config: 400 steps, then the head alone
      dir=$OUT/$tier-s$s
      train_battle_head "$OUT" "$tier" "$s" 800 1 --set train_inpaint=true
    else
      dir=$OUT/mfdiffuser-$tier-s$s
      train_once "$dir" "$dir.log" --dataset "mfdiff/ising-n1024/$tier-v0" --algo mfdiffuser \
        --config experiments/configs/ising_even_steps.json --set "seed=$s" --set "train_inpaint=true" \
        --threads 1
    fi
    for n in "${NS[@]}"; do  # a record of (checkpoint, N) written: a finished run (5 seeds)
      # (not grep -q after the pipe: it exits at its first match, the first grep then dies
      # of SIGPIPE, and pipefail reads the finished run as missing)
      if [ -f "$rec" ] && grep "${dir##*/}\"" "$rec" | grep -E "\"n_agents\": $n[,}]" >/dev/null
      then
        continue
      fi
      mfdiff eval --policy "$dir" --env "$ENV" --n-agents "$n" --env-kwargs "$KW" --seeds 5 \
        --tier "$tier" --threads 1 --label "$label" --no-progress --out "$rec" > /dev/null
    done
  done
}
for tier in medium mixed; do
  mfdiff data build "mfdiff/$FAM-n$DATA_N/$tier-v0" --no-progress > /dev/null  # kept if built
done
lane medium & a=$!
lane mixed & b=$!
wait_all "$a" "$b"
grid=docs/results/records/records-$FAM.jsonl.gz
for tier in medium mixed; do
  name=train_inpaint_${FAM}_$tier
  rec=docs/results/records/records-$name.jsonl.gz
  gzip -n < "$OUT/records-$FAM-$tier.jsonl" > "$rec"
  more=() diffs=()
  # the config these were measured beside: on Ising the grid's row of the config until the
  # fifty-eighth update (make_sweep.CONFIG_BEFORE), on Battle the grid's config row until the
  # seventy-second update (its lifting warm above N = 4000; the records kept aside then)
  config=MF-Diffuser@$grid
  [ "$FAM" = ising ] && config="MF-Diffuser, even DDIM split@$grid"
  [ "$FAM" = battle ] && config="MF-Diffuser@docs/results/records/records-grid_battle_config_before72.jsonl.gz"
  if [ "$FAM" = battle ]; then  # the best baselines of Battle's lost cells
    more=("IQL ewc=IQL, equal wall-clock@$grid")
    diffs=(--diff inpaint "IQL ewc")
  fi
  python experiments/compare_policies.py "config=$config" "inpaint=$label@$rec" \
    "IQL=IQL@$grid" "BC=BC@$grid" "MFQ-CQL ewc=MFQ-CQL, equal wall-clock@$grid" "${more[@]}" \
    --diff inpaint config --diff inpaint IQL --diff inpaint BC --diff inpaint "MFQ-CQL ewc" \
    "${diffs[@]}" --diff config IQL --ci t --out "docs/results/$name.md" \
    --title "$FAM-$tier, the grid's cells: MF-Diffuser of training seeds 0-2 trained with \
inpainting (\`train_inpaint\`: plan step 0's observation given clean and unscored in training, \
as the sampler gives it), the family config otherwise, beside the grid's MF-Diffuser (the same \
config and seeds trained without it), IQL, BC and MFQ-CQL trained for MF-Diffuser's seconds \
(their committed records, the same evaluation seeds); 5 evaluation seeds a checkpoint. \
\`bash experiments/train_inpaint.sh $FAM\`; fifty-sixth update, docs/results/README.md."
done
