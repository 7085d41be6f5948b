# Shell helpers shared by the experiment scripts (sourced, not run).

# train_once DIR LOG ARGS...: `mfdiff train ARGS... --out DIR --no-progress`, its output in LOG.
# A finished checkpoint is marked DIR/train_done and kept: rerunning a script resumes where it
# stopped. A DIR without the mark is what an interrupted run left, so it is trained afresh.
train_once() {
  local dir=$1 log=$2
  shift 2
  [ -f "$dir/train_done" ] && return 0
  rm -rf "$dir"
  mfdiff train "$@" --out "$dir" --no-progress > "$log" 2>&1
  touch "$dir/train_done"
}

# eval_tier_lanes OUT NAME COMMAND: evaluate OUT/sweep_medium.toml and OUT/sweep_mixed.toml in
# two lanes at once (one per core; --resume keeps finished runs), then write
# docs/results/NAME.md from both record files, headed by COMMAND. read_records refuses a run
# counted twice.
eval_tier_lanes() {
  local out=$1 name=$2 command=$3 a b
  mfdiff eval --sweep "$out/sweep_medium.toml" --out "$out/records-medium.jsonl" --resume \
    --no-progress --threads 1 > /dev/null & a=$!
  mfdiff eval --sweep "$out/sweep_mixed.toml" --out "$out/records-mixed.jsonl" --resume \
    --no-progress --threads 1 > /dev/null & b=$!
  wait "$a"; wait "$b"
  mfdiff eval --records "$out/records-medium.jsonl" "$out/records-mixed.jsonl" \
    --report-dir docs/results --name "$name" --command "$command"
}
