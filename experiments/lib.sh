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
