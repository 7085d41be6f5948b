"""The results grid's training and evaluation jobs, dispatched through submitit.

    python experiments/grid_jobs.py ising                       # local processes, 2 at a time
    python experiments/grid_jobs.py squeeze ising battle --executor slurm --partition cpu

Every job is one `mfdiff` command line (the same ones `experiments/grid.sh` documents): one
`mfdiff train` per (family, tier, method, training seed), then one `mfdiff eval --sweep` per
family and lane: the family's sweep is dealt into one lane per local worker (``--lanes`` on
SLURM), whose records are joined into records-<family>.jsonl before the report is written
(evaluation is seeded, so the split changes no number). ``--executor local`` (default) runs
them as local processes, ``--workers`` at a time (a finished job's slot goes to the next);
``--executor slurm`` submits each as a SLURM job (``--partition``, ``--cpus``,
``--timeout``) and waits for all training jobs before the evaluations. Finished checkpoints
(``train_done``) are skipped, so a rerun resumes the grid.
Afterwards ``python experiments/summarize_grid.py``
builds grid.md (grid.sh does all of this in one command).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import submitit

sys.path.insert(0, str(Path(__file__).parent))
from make_sweep import (  # noqa: E402  (a script beside this one)
    FAMILIES,
    GRID_TRAIN_PINNED,
    METHODS,
    MFD_VARIANTS,
    WALL_CLOCK_STEPS,
    mfd_dir,
)

#: Training: `mfdiff train`'s defaults, which are the dataset family's settings
#: (mfdiff_agents/family_configs/<algo>/<family>.json: budget in ``steps`` and every setting that
#: differs from the Config dataclass; configs/README.md says why each), with the training seed;
#: the equal wall-clock baselines set their own ``steps``.


def run(cmd: list[str], log: str, done: str | None = None) -> None:
    """One job: run ``cmd``, its output to ``log``; touch ``done`` on success."""
    with open(log, "w") as f:
        subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=True)
    if done:
        Path(done).touch()


def train_jobs(families: list[str], out: Path, only: set[str] | None = None,
               tiers: tuple[str, ...] = ("medium", "mixed")) -> list[tuple[list[str], str, str]]:
    """One `mfdiff train` per checkpoint the grid lacks (no ``train_done``): (command, log,
    done-mark). ``only``: just the checkpoints of the dir stems named (``<stem>-s<seed>``: e.g.
    "bc-wc", or "bc-wc-s0" for one seed), to retrain some rows after a change of their
    settings. ``tiers``: the data tiers to train on (both by default)."""
    jobs = []
    for fam in families:
        stem = FAMILIES[fam][0]
        f, n = stem.split("-")
        # (algo, training seeds, checkpoint dir stem, --set settings beyond the family config)
        budgets = [(algo, seeds, mfd_dir(fam) if algo == "mfdiffuser" else algo, {})
                   for algo, (_, seeds, _) in METHODS.items()]
        budgets += [(algo, METHODS[algo][1], f"{algo}-wc", {"steps": steps})  # equal wall-clock
                    for algo, steps in WALL_CLOCK_STEPS.get(fam, {}).items()]
        budgets += [("mfdiffuser", METHODS["mfdiffuser"][1], dirname, sets)  # other settings
                    for dirname, sets, *_ in MFD_VARIANTS.get(fam, [])]
        for algo, seeds, dirname, sets in budgets:
            for seed in seeds:
                if only is not None and not {dirname, f"{dirname}-s{seed}"} & only:
                    continue
                for tier in tiers:
                    d = out / "ckpt" / f"{stem}-{tier}" / f"{dirname}-s{seed}"
                    if (d / "train_done").exists():
                        continue
                    # the family's pinned planning fields, then the dir's own settings
                    train_sets = ({**GRID_TRAIN_PINNED.get(fam, {}), **sets}
                                  if algo == "mfdiffuser" else sets)
                    extra = [a for k, v in train_sets.items() for a in ("--set", f"{k}={v}")]
                    cmd = ["mfdiff", "train", "--dataset", f"mfdiff/{f}-{n}/{tier}-v0", "--algo",
                           algo, *extra, "--set", f"seed={seed}", "--out", str(d), "--no-progress",
                           "--threads", "1"]
                    log = out / "logs" / f"train-{stem}-{tier}-{dirname}-s{seed}.log"
                    jobs.append((cmd, str(log), str(d / "train_done")))
    return jobs


def drop_records(families: list[str], out: Path, dirs: list[str]) -> int:
    """Remove from each family's records-<fam>.jsonl the records of the checkpoint ``dirs``
    (about to be trained afresh), so that ``--keep-records`` evaluates them again instead of
    keeping what the previous weights scored. Returns how many records went."""
    from mfdiff_agents.evaluation import records_lock

    gone = 0
    targets = {Path(d).resolve() for d in dirs}
    for fam in families:
        records = out / f"records-{fam}.jsonl"
        with records_lock(records):  # an evaluation appending meanwhile is not lost
            if not records.exists():
                continue
            kept = []
            for line in records.read_text().splitlines():
                policy = (json.loads(line).get("config") or {}).get("policy")
                if policy is not None and Path(str(policy)).resolve() in targets:
                    gone += 1
                else:
                    kept.append(line)
            tmp = records.with_name(f".{records.name}.tmp")
            tmp.write_text("".join(x + "\n" for x in kept))
            tmp.replace(records)  # atomic: an interruption leaves the file as it was
    return gone


def split_sweep(text: str, lanes: int, evaluated: set[str] | frozenset = frozenset()) -> list[str]:
    """A sweep file's ``[[runs]]`` blocks dealt into ``lanes`` sweep files (each with the file's
    header) of about equal cost, heaviest block first. Cost of a block: the sum of its N, times
    10 for an MF-Diffuser checkpoint (planning dominates its episodes): rough, but it only has
    to keep the lanes from waiting on each other for long. A block whose run is in
    ``evaluated`` (:func:`run_identity` of records kept by ``--resume``) costs nothing, so that
    a rerun spreads the runs still to evaluate over the lanes."""
    head, *blocks = text.split("[[runs]]")

    def cost(block: str) -> int:
        if evaluated and run_identity(tomllib.loads("[[runs]]" + block)["runs"][0]) in evaluated:
            return 0
        ns = block.split("n_agents = [", 1)[1].split("]", 1)[0]
        # any MF-Diffuser checkpoint dir: mfdiffuser-s<seed> and its variants (MFD_VARIANTS)
        return (10 if "/mfdiffuser" in block else 1) * sum(int(n) for n in ns.split(","))

    out: list[list[str]] = [[] for _ in range(lanes)]
    load = [0] * lanes
    for block in sorted(blocks, key=cost, reverse=True):
        i = min(range(lanes), key=lambda j: (load[j], len(out[j])))
        out[i].append(block)
        load[i] += cost(block)
    return [head + "".join("[[runs]]" + b for b in lane) for lane in out if lane]


def run_identity(run: dict) -> str:
    """What a sweep run evaluates, whatever its N: label, checkpoint and settings (a record's
    ``method``, ``config.policy`` and ``config.set``; settings as values, not spellings: a
    sweep writes a None as "none", TOML having no null)."""
    from mfdiff_agents.evaluation.report import canonical_overrides

    return json.dumps([run.get("label"), str(run.get("policy")),
                       canonical_overrides(run.get("set", {}))], sort_keys=True)


def evaluated_runs(records: Path) -> set[str]:
    """:func:`run_identity` of every run with records in ``records`` (JSON lines), but those
    whose checkpoint changed since (``config.checkpoint``'s id, as `mfdiff eval --resume`
    compares it): resume evaluates them again, so the lanes must count their cost."""
    from mfdiff_agents.checkpoint import checkpoint_identity

    now: dict[str, dict | None] = {}
    out = set()
    for line in records.read_text().splitlines():
        r = json.loads(line)
        if "method" not in r:  # not a record of a run: nothing to balance
            continue
        cfg = r.get("config") or {}
        then = cfg.get("checkpoint")
        if then is not None and cfg.get("policy") is not None:
            policy = str(cfg["policy"])
            if policy not in now:
                now[policy] = checkpoint_identity(policy)
            if now[policy] is not None and now[policy]["id"] != then.get("id"):
                continue  # retrained since: evaluated again
        out.add(run_identity({"label": r["method"], "policy": cfg.get("policy"),
                              "set": cfg.get("set", {})}))
    return out


def report_args(fam: str) -> list[str]:
    """The `mfdiff eval` options that write docs/results/grid_<fam>.md."""
    return ["--report-dir", "docs/results", "--name", f"grid_{fam}",
            "--command", f"bash experiments/grid.sh {fam}"]


def eval_jobs(families: list[str], out: Path, keep: bool = False,
              lanes: int = 1) -> list[tuple[list[str], str, None]]:
    """One `mfdiff eval --sweep` per family and lane. With ``lanes`` > 1 each family's sweep is
    split (:func:`split_sweep`) into ``sweep_<fam>_lane<i>.toml`` -> ``records-<fam>-lane<i>.jsonl``
    and :func:`merge_lanes` joins them afterwards; with one lane the job also writes the report.
    ``keep``: resume from records-<fam>.jsonl (each lane keeps the groups of its own sweep)."""
    jobs = []
    for fam in families:
        sweep = out / f"sweep_{fam}.toml"
        text = subprocess.run([sys.executable, str(Path(__file__).parent / "make_sweep.py"),
                               fam, str(out)], check=True, capture_output=True, text=True).stdout
        sweep.write_text(text)
        records = out / f"records-{fam}.jsonl"
        if not keep:
            records.unlink(missing_ok=True)
        resume = ["--resume"] if keep else []
        if lanes <= 1:
            jobs.append((["mfdiff", "eval", "--sweep", str(sweep), "--out", str(records), *resume,
                          "--no-progress", "--threads", "1", *report_args(fam)],
                         str(out / "logs" / f"eval-{fam}.log"), None))
            continue
        done = evaluated_runs(records) if keep and records.exists() else set()
        for i, lane_text in enumerate(split_sweep(text, lanes, done)):
            lane = out / f"sweep_{fam}_lane{i}.toml"
            lane.write_text(lane_text)
            lane_records = out / f"records-{fam}-lane{i}.jsonl"
            if keep and records.exists():  # --resume drops the groups of the other lanes
                lane_records.write_text(records.read_text())
            else:
                lane_records.unlink(missing_ok=True)
            jobs.append((["mfdiff", "eval", "--sweep", str(lane), "--out", str(lane_records),
                          *resume, "--no-progress", "--threads", "1"],
                         str(out / "logs" / f"eval-{fam}-lane{i}.log"), None))
    return jobs


def merge_lanes(families: list[str], out: Path) -> None:
    """Join each family's lane records into records-<fam>.jsonl (a run present twice is refused
    by read_records) and write its report; the lane files go."""
    from mfdiff_agents.evaluation import read_records, write_jsonl

    for fam in families:
        parts = sorted(out.glob(f"records-{fam}-lane*.jsonl"))
        if not parts:
            continue
        records = out / f"records-{fam}.jsonl"
        write_jsonl(read_records(*parts), records, append=False)
        for part in parts:
            part.unlink()
        subprocess.run(["mfdiff", "eval", "--records", str(records), *report_args(fam)],
                       check=True)


def dispatch(executor: submitit.Executor, jobs: list, width: int, poll: float = 1.0) -> None:
    """Run ``jobs`` with at most ``width`` in flight, in order: a finished job's slot goes to the
    next at once (waves of ``width`` left a core idle beside every long job: an MF-Diffuser
    checkpoint takes 10-30x a BC one). A failed job raises (the others in flight are left to
    finish: their checkpoints are marked done only if they succeed)."""
    pending = list(jobs)
    running: list[tuple[submitit.Job, tuple]] = []
    while pending or running:
        while pending and len(running) < width:
            job = pending.pop(0)
            running.append((executor.submit(run, *job), job))
        for h, job in list(running):
            if not h.done():
                continue
            running.remove((h, job))
            try:
                h.result()
            except Exception as e:  # submitit wraps the job's exception
                raise SystemExit(f"job failed: {' '.join(job[0])} (log: {job[1]}): {e}") from e
        if running:
            time.sleep(poll)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("families", nargs="+", choices=sorted(FAMILIES))
    ap.add_argument("--out", type=Path, default=Path("runs/grid"))
    ap.add_argument("--executor", choices=["local", "slurm"], default="local")
    ap.add_argument("--workers", type=int, default=2, help="local jobs at a time")
    ap.add_argument("--partition", default=None, help="SLURM partition")
    ap.add_argument("--cpus", type=int, default=1, help="CPUs per SLURM job")
    ap.add_argument("--timeout", type=int, default=240, help="minutes per job")
    ap.add_argument("--keep-records", action="store_true",
                    help="evaluate only the (run, N) groups missing from records-FAMILY.jsonl "
                    "(`mfdiff eval --resume`); the records of checkpoints this run trains go "
                    "first, any other checkpoint must be unchanged since its records")
    ap.add_argument("--lanes", type=int, default=1,
                    help="SLURM: evaluation jobs per family (local: one per worker)")
    ap.add_argument("--stage", choices=["all", "train", "eval"], default="all",
                    help="train the missing checkpoints, evaluate, or both (default)")
    ap.add_argument("--only", nargs="+", default=None, metavar="STEM",
                    help="train only the missing checkpoints of these dir stems (e.g. bc-wc, or "
                    "bc-wc-s0 for one training seed); delete a checkpoint dir to retrain it")
    ap.add_argument("--tiers", nargs="+", choices=["medium", "mixed"],
                    default=["medium", "mixed"],
                    help="train on these data tiers only (default both); with --stage train, "
                    "e.g. to retrain one cell's rows")
    args = ap.parse_args(argv)
    if args.tiers != ["medium", "mixed"] and args.stage != "train":
        ap.error("--tiers needs --stage train (the evaluation sweep covers both tiers)")
    (args.out / "logs").mkdir(parents=True, exist_ok=True)
    if args.executor == "local":
        executor = submitit.LocalExecutor(folder=args.out / "submitit")
        executor.update_parameters(timeout_min=args.timeout)
        width = args.workers
    else:
        executor = submitit.AutoExecutor(folder=args.out / "submitit", cluster="slurm")
        executor.update_parameters(timeout_min=args.timeout, cpus_per_task=args.cpus,
                                   slurm_partition=args.partition)
        width = 10**6  # the scheduler queues them
    if args.stage in ("all", "train"):
        jobs = train_jobs(args.families, args.out, set(args.only) if args.only else None,
                          tuple(args.tiers))
        # a checkpoint trained now replaces whatever scored the records under its path
        gone = drop_records(args.families, args.out, [str(Path(done).parent)
                                                      for _, _, done in jobs])
        if gone:
            print(f"dropped {gone} records of the checkpoints to train", flush=True)
        dispatch(executor, jobs, width)
    if args.stage in ("all", "eval"):
        lanes = args.workers if args.executor == "local" else args.lanes
        dispatch(executor, eval_jobs(args.families, args.out, args.keep_records, lanes), width)
        if lanes > 1:
            merge_lanes(args.families, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
