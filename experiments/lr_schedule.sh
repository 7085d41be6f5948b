#!/usr/bin/env bash
# Does a decaying learning rate steady MF-Diffuser's checkpoints over training seeds?
# The last iterate of a constant-rate run is one noisy draw of many nearby weights, and each
# Ising checkpoint's peak lands at its own budget (budget_seeds.md). experiments/seed_arms.sh
# with two arms, lr_schedule constant (the config) and cosine (the rate decayed to 0 over the
# same steps), on the training seeds SEEDS (default 40-45); NS, TIER and STEPS as there.
# Writes docs/results/lr_schedule_FAM_TIER_seeds..._n...[_stepsSTEPS].md. From the repo root:
#     bash experiments/lr_schedule.sh ising              # ~25 min on 2 cores
#     STEPS=800 bash experiments/lr_schedule.sh ising    # ~35 min
set -euo pipefail
cd "$(dirname "$0")/.."
fam=${1:?usage: bash experiments/lr_schedule.sh squeeze|ising|battle}
cmd="bash experiments/lr_schedule.sh $fam"
[ -n "${SEEDS:-}" ] && [ "$SEEDS" != "40 41 42 43 44 45" ] && cmd="SEEDS=\"$SEEDS\" $cmd"
[ -n "${NS:-}" ] && cmd="NS=\"$NS\" $cmd"
[ -n "${TIER:-}" ] && [ "$TIER" != medium ] && cmd="TIER=$TIER $cmd"
[ -n "${STEPS:-}" ] && cmd="STEPS=$STEPS $cmd"
ARMS="constant=lr_schedule=constant cosine=lr_schedule=cosine" PREFIX=lr_schedule \
  COMMAND=$cmd exec bash experiments/seed_arms.sh "$fam"
