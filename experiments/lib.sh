# Shell helpers shared by the experiment scripts (sourced, not run).

# train_once DIR LOG ARGS...: `mfdiff train ARGS... --out DIR --no-progress --no-family-config`,
# its output appended to LOG. The experiment scripts spell out every setting they train with
# (--config and --set), so that a change to a family's settings does not change what they
# measured. A finished checkpoint is marked DIR/train_done and kept: rerunning a script resumes
# where it stopped. A DIR without the mark is an interrupted run, or one another process is
# training: the first goes on from its last save (--resume: bit-identical to a run never
# interrupted), the second is refused by its lock. (It was deleted and trained afresh until the
# fifty-first update, which removed a live run's lock and metrics: an outside audit.)
train_once() {
  train_into "$@" --no-family-config
}

# train_into DIR LOG ARGS...: train_once with mfdiff train's default, the family config.
train_into() {
  local dir=$1 log=$2
  shift 2
  [ -f "$dir/train_done" ] && return 0
  local resume=()
  [ -f "$dir/train_state.pt" ] && resume=(--resume)
  mfdiff train "$@" --out "$dir" --no-progress "${resume[@]}" >> "$log" 2>&1
  touch "$dir/train_done"
}

# mfd_config FAM: the MF-Diffuser config file the experiment scripts train FAM with:
# configs/mfdiffuser/FAM.json, except on Battle experiments/configs/battle_head_on_data.json,
# the Battle config until the thirty-third update (400 steps, the head trained on the data's
# next states alongside the diffusion model), which every Battle script before then measured
# with; the config since (its head trained on its own plans) is train_battle_head's recipe. On
# Ising experiments/configs/ising_even_steps.json, the Ising config until the fifty-eighth update
# (its 20 DDIM steps split near-evenly over the particle levels, stage_steps null: the scripts
# before then measured with it; a checkpoint keeps the planning settings it was trained with)
mfd_config() {
  case $1 in
    battle) echo experiments/configs/battle_head_on_data.json;;
    ising) echo experiments/configs/ising_even_steps.json;;
    *) echo "configs/mfdiffuser/$1.json";;
  esac
}

# need_checkpoints HOW DIR...: stop (exit 2) unless every DIR is a finished checkpoint
# (DIR/train_done), saying which one is missing and HOW to make it.
need_checkpoints() {
  local how=$1 dir
  shift
  for dir in "$@"; do
    [ -f "$dir/train_done" ] || { echo "missing $dir: run $how first" >&2; exit 2; }
  done
}

# wait_all PID...: wait for every PID, then fail (status 1) if any of them failed. A plain `wait`
# returns 0 whatever its jobs returned, so `set -e` went on past a failed training (an outside
# audit); `wait "$a"; wait "$b"` stopped at a's failure with b still running and writing.
wait_all() {
  local pid rc=0
  for pid in "$@"; do wait "$pid" || rc=1; done
  return "$rc"
}

# sweep_lanes OUT LANE...: evaluate OUT/sweep_LANE.toml into OUT/records-LANE.jsonl for every
# LANE at once (one per core; --resume keeps finished runs). A failed lane stops the caller once
# every lane has ended.
sweep_lanes() {
  local out=$1 lane pid
  shift
  local pids=()
  for lane in "$@"; do
    mfdiff eval --sweep "$out/sweep_$lane.toml" --out "$out/records-$lane.jsonl" --resume \
      --no-progress --threads 1 > /dev/null & pids+=($!)
  done
  wait_all "${pids[@]}"
}

# eval_lanes OUT NAME COMMAND LANE...: sweep_lanes, then write docs/results/NAME.md from all
# the lanes' record files, headed by COMMAND (read_records refuses a run counted twice).
eval_lanes() {
  local out=$1 name=$2 command=$3 lane
  shift 3
  local records=()
  for lane in "$@"; do records+=("$out/records-$lane.jsonl"); done
  sweep_lanes "$out" "$@"
  mfdiff eval --records "${records[@]}" --report-dir docs/results --name "$name" \
    --command "$command"
}

# eval_tier_lanes OUT NAME COMMAND: eval_lanes over OUT/sweep_medium.toml and
# OUT/sweep_mixed.toml.
eval_tier_lanes() {
  eval_lanes "$1" "$2" "$3" medium mixed
}

# LIFT_BEFORE: `mfdiff train` settings that keep Battle's lifting as it was until the
# seventy-second update (the Sinkhorn route above N = 4000 warm-started between replans, fitted
# on 2048 rows; the config since lifts cold on 512 rows). They are the Config defaults, so the
# checkpoint's identity is that of one trained before (make_sweep.GRID_TRAIN_PINNED does the
# same for the grid): the scripts measured before it train Battle's MF-Diffuser with them.
LIFT_BEFORE=(--set lift_warm_start=true --set lift_sinkhorn_rows=2048)

# train_battle_head OUT TIER SEED STEPS SHARE [ARGS...]: the Battle config
# (configs/mfdiffuser/battle.json) trained STEPS steps on TIER data into OUT/TIER-sSEED, the
# first 400 training the diffusion model and the head together (the grid's diffusion weights,
# bit for bit), the rest the head alone, on the model's own plans in a share SHARE of the
# windows (Config.head_own_plans); ARGS (e.g. --set train_inpaint=true) go to mfdiff train.
# experiments/battle_head_steps.sh and battle_own_plans.sh share these checkpoints.
train_battle_head() {
  local out=$1 tier=$2 seed=$3 steps=$4 share=$5
  shift 5
  train_once "$out/$tier-s$seed" "$out/$tier-s$seed.log" \
    --dataset "mfdiff/battle-n1000/$tier-v0" --algo mfdiffuser \
    --config configs/mfdiffuser/battle.json --set "seed=$seed" --set "steps=$steps" \
    --set diffusion_steps=400 --set "head_own_plans=$share" "${LIFT_BEFORE[@]}" --threads 1 "$@"
}

# committed PATH: PATH, or where only that exists its committed copy
# docs/results/records/records-<basename of PATH>.gz (a clone's records, no episode played)
committed() {
  local gz=docs/results/records/records-$(basename "$1").gz
  if [ ! -e "$1" ] && [ -e "$gz" ]; then echo "$gz"; else echo "$1"; fi
}
