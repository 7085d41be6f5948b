#!/usr/bin/env bash
# Battle-mixed at N = 10^4, the cell MF-Diffuser loses by most (-1.24 behind MFQ-CQL): which
# acting setting moves it? On battle_head_ens_n10000.sh's mixed checkpoints (four action heads,
# the config's diffusion and value weights bit for bit; level with the config there), each arm
# one planning or decoding setting changed from the config's: 512 particles at the finest level
# (k_schedule [16, 64, 512]), a fresh plan every 3 steps (replan_every 3, the config 7), the
# head's sampling temperature 0.2 / 0.3 / 0.5 / 0.6 / 0.8 (the config 0.4). 12 evaluation seeds
# a checkpoint (training seeds 0-2): seeds 8-11 to choose on, 0-7 (the cell table's seeds) to
# confirm on, so that a setting chosen on noise shows it. Records relabelled by arm, split into
# docs/results/records/records-knobs_battle_mixed_n10000_{tune,confirm}.jsonl.gz; tables
# docs/results/knobs_battle_mixed_n10000_{tune,confirm}.md, each arm paired with the config's
# settings by evaluation seed. From the repo root:
#     bash experiments/battle_knobs_n10000.sh                 # ~45 min on 2 cores
#     COMPARE_ONLY=1 bash experiments/battle_knobs_n10000.sh  # the tables from the committed
#       records, no episode played
#     EVAL_N=1000 bash experiments/battle_knobs_n10000.sh     # the same at N = 10^3 (~10 min)
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
source experiments/lib.sh
N=${EVAL_N:-10000}
case $N in ''|*[!0-9]*) echo "battle_knobs_n10000.sh: EVAL_N is an even integer" >&2; exit 2;; esac
[ $((N % 2)) = 0 ] || { echo "battle_knobs_n10000.sh: EVAL_N is even (two teams)" >&2; exit 2; }
OUT=runs/knobs_n$N
R=docs/results/records/records-knobs_battle_mixed_n$N
ARMS=("base" "k512 --set k_schedule=[16,64,512]" "re3 --set replan_every=3"
      "t02 --set head_temperature=0.2" "t03 --set head_temperature=0.3"
      "t05 --set head_temperature=0.5" "t06 --set head_temperature=0.6"
      "t08 --set head_temperature=0.8")
if [ "${COMPARE_ONLY:-0}" != 1 ]; then
  need_checkpoints "bash experiments/battle_head_ens_n10000.sh" runs/battle_he4/mixed-s{0,1,2}
  mkdir -p "$OUT"
  # the config's acting, spelled out as the cell tables' exploitability.sh runs spell it
  BASE=(--set act_with=auto --set ddim_steps=40 --set head_decode=sample --set head_min_p=0.05
        --set head_temperature=0.4 --set lift_sinkhorn_rows=512 --set lift_warm_start=false
        --set replan_every=7)
  one() {  # LABEL SEED [--set K=V]: 12 evaluation seeds into OUT/LABEL-sSEED.jsonl (kept if whole)
    local label=$1 s=$2
    shift 2
    [ -f "$OUT/$label-s$s.jsonl" ] && [ "$(wc -l < "$OUT/$label-s$s.jsonl")" = 12 ] && return 0
    rm -f "$OUT/$label-s$s.jsonl"
    mfdiff eval --policy "runs/battle_he4/mixed-s$s" --tier mixed --env mfdiff/Battle-v0 \
      --n-agents "$N" --seeds 12 --env-kwargs '{"max_cycles": 150, "opponent": "expert"}' \
      "${BASE[@]}" "$@" --out "$OUT/$label-s$s.jsonl" --no-progress --threads 1 > /dev/null
  }
  pids=()
  for arm in "${ARMS[@]}"; do
    read -r -a a <<< "$arm"
    for s in 0 1 2; do
      while [ "$(jobs -rp | wc -l)" -ge 2 ]; do sleep 2; done  # one job a core
      one "${a[0]}" "$s" "${a[@]:1}" & pids+=($!)
    done
  done
  wait_all "${pids[@]}"
  python - "$OUT" "$R" "${ARMS[@]}" <<'PY'
import gzip
import json
import sys

out, stem, *arms = sys.argv[1:]
labels = {"base": "config", "k512": "512 particles", "re3": "replan every 3"}
split = {"tune": [], "confirm": []}
for arm in arms:
    name, *sets = arm.split()
    label = labels.get(name) or f"T {sets[1].split('=')[1]}"  # tNN: head_temperature
    for s in (0, 1, 2):
        with open(f"{out}/{name}-s{s}.jsonl") as f:
            for line in f:
                r = json.loads(line)
                r["method"] = label
                split["tune" if r["seed"] >= 8 else "confirm"].append(r)
for part, rows in split.items():
    with gzip.GzipFile(f"{stem}_{part}.jsonl.gz", "wb", mtime=0) as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows).encode())
PY
fi
again="bash experiments/battle_knobs_n10000.sh"
[ "$N" != 10000 ] && again="EVAL_N=$N $again"
for part in tune confirm; do
  case $part in tune) seeds="8-11 (chosen on)";; *) seeds="0-7 (to confirm on; at N = 10000 the cell table's)";; esac
  rows=() diffs=()
  for label in config "512 particles" "replan every 3" "T 0.2" "T 0.3" "T 0.5" "T 0.6" \
      "T 0.8"; do
    rows+=("$label=$label@${R}_$part.jsonl.gz")
    [ "$label" = config ] || diffs+=(--diff "$label" config)
  done
  python experiments/compare_policies.py "${rows[@]}" "${diffs[@]}" \
    --out "docs/results/knobs_battle_mixed_n${N}_$part.md" \
    --title "Battle-mixed at N = $N ($((N / 2)) a team), battle_head_ens_n10000.sh's checkpoints (four action heads on the config's diffusion weights; training seeds 0-2), evaluation seeds $seeds: one acting setting changed at a time from the config's (lifting cold on 512 Sinkhorn rows, replan every 7, head sampled at T = 0.4, min-p 0.05). Regenerate with: $again (COMPARE_ONLY=1: from the committed records; seventy-fourth update, docs/results/README.md)."
done
# how each arm's episodes end (the records' win rate and final shares alive, every evaluation
# seed): what a fall in score is made of
python - "$R" "$N" "$again" <<'PY' > "docs/results/knobs_battle_mixed_n${N}_outcomes.md"
import gzip
import json
import sys

stem, n, again = sys.argv[1:]
rows: dict[str, list[dict]] = {}
for part in ("tune", "confirm"):
    with gzip.open(f"{stem}_{part}.jsonl.gz", "rt") as f:
        for line in f:
            r = json.loads(line)
            rows.setdefault(r["method"], []).append(r)
print(f"# knobs_battle_mixed_n{n}_outcomes\n\nRegenerate with:\n\n```\n{again}\n```\n")
print(f"How the episodes of battle_knobs_n10000.sh end at N = {n} (Battle-mixed, four-head "
      "checkpoints of training seeds 0-2, evaluation seeds 0-11; COMPARE_ONLY=1 from the "
      "committed records): episodes won against the scripted expert, and each team's share "
      "alive at the last step (mean over the episodes; MF-Diffuser plays red).\n")
print("| setting | episodes | won | red alive at the end | blue alive at the end |")
print("|---|---|---|---|---|")
for label, rs in rows.items():
    k = len(rs)
    won = sum(r["win_rate"] for r in rs)
    red = sum(r["metrics_final"]["red_alive"] for r in rs) / k
    blue = sum(r["metrics_final"]["blue_alive"] for r in rs) / k
    print(f"| {label} | {k} | {won:g} | {red:.3f} | {blue:.3f} |")
PY
echo "wrote docs/results/knobs_battle_mixed_n${N}_outcomes.md"
