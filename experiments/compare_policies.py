"""Score and exploitability of policies taken from different `--exploitability` record files,
side by side per cell, with paired differences (markdown).

A policy is LABEL=METHOD@FILE[+FILE...]: the records of METHOD in those files (e.g. the same
checkpoints acting with other settings, from another experiments/exploitability.sh run).
METHOD may list several record labels, comma-separated (``mfd=mfd-s13,mfd-s14@F``): runs
labelled per checkpoint (for per-seed differences) pooled into one side; a METHOD that is
itself a label of the files ("IQL, equal wall-clock") is that label alone. Held-out
exploitability is computed over all of a label's files together (lanes of one run split across
files give the run's value; until the forty-ninth update within each file). A label's records
must share one setting per cell (report.check_rows), and the two sides of a difference one env,
env kwargs, episode count and reference scores (else the difference pairs other games: refused).
A measure some runs of a side lack is refused, not averaged over the rest; a difference over
fewer than 2 shared evaluation seeds prints "–" (no CI). Differences are paired
by evaluation seed (each seed's value the mean over its training seeds; 95 % bootstrap CI over
the evaluation seeds both policies have in the cell), as experiments/exploitability_estimators.py
pairs methods of one file. The percentile bootstrap is too narrow on few seeds (an outside
audit's simulation: 83 % coverage at 5 seeds, 95 % at 30; the committed seeds tables use
8–150): give 10 or more evaluation seeds, or read the grid's 5-seed cells in cells.md, which
uses a t-interval (mfdiff_agents.evaluation.stats.t_interval). Its CI holds for the
checkpoints measured, not for other training seeds (stats.training_seed_ci):

    python experiments/compare_policies.py \\
        config=mfdiffuser@runs/exp/A.jsonl t04=mfdiffuser@runs/exp/B.jsonl bc=bc@runs/exp/B.jsonl \\
        --diff t04 bc --diff t04 config [--out docs/results/NAME.md]

``--ci t`` (forty-third update) pairs with a Student-t interval instead, and adds to each
difference the score over training seeds (Welch's t over the checkpoints' means,
stats.training_seed_ci; a side of one checkpoint taken as fixed and marked): the calibrated
reading, for new comparisons. Since the forty-fifth update each held-out exploitability too,
where the records have it (each run's held-out gain, averaged per checkpoint). The default
stays the bootstrap because the committed tables were written with it and must stay what
their command prints.

``--per-checkpoint`` (sixty-ninth update) adds each side's checkpoints one by one: the score of
each (mean over its evaluation seeds, with the table's CI over them) and the range of the
checkpoints' means, so the spread over training seeds of a label pooled from one record label
("BC", trained on several seeds) reads from its command as well.
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

import numpy as np

from mfdiff_agents.evaluation import read_records
from mfdiff_agents.evaluation.report import canonical_env_kwargs, check_rows
from mfdiff_agents.evaluation.stats import (
    bootstrap_ci,
    checkpoint_of,
    held_out_exploitability,
    paired_by_seed,
    t_interval,
    training_seed_ci,
)

#: Per-seed measures compared, where the records have them: the score, the held-out
#: exploitability on both baselines (Ising, Battle) and Squeeze's exact N x gain.
MEASURES = ("normalized_score", "exploitability_heldout", "exploitability_pop_heldout",
            "nash_gap_xN")
SHORT = {"normalized_score": "score", "exploitability_heldout": "held-out own",
         "exploitability_pop_heldout": "held-out pop", "nash_gap_xN": "N × gain (exact, ex post)"}

Cell = tuple[int, str]


def parse_spec(spec: str) -> tuple[str, str, list[str]]:
    """``LABEL=METHOD@FILE[+FILE...]`` -> (label, method, files). The label may hold "="
    ("K = 1024"): a method name never does, so the last "=" before the "@" ends the label."""
    head, _, files = spec.partition("@")
    label, _, method = head.rpartition("=")
    if not label or not method or not files:
        raise SystemExit(f"policy {spec!r}: expected LABEL=METHOD@FILE[+FILE...]")
    return label, method, files.split("+")


def load(method: str, files: list[str],
         leave_out: str = "run") -> dict[Cell, dict[int, list[dict]]]:
    """The method's records with held-out measures, by cell (the env's N, tier) and evaluation
    seed."""
    out: dict[Cell, dict[int, list[dict]]] = {}
    try:  # one run in two of the files (or twice in one) would count as two seeds; only the
        # records this side may read (the names below) are checked: the files may hold other
        # policies' runs twice, e.g. the scripted rows a medium and a mixed file both play
        records = read_records(*files, methods={method, *method.split(",")})
    except ValueError as e:  # the files may hold other policies' records: name the files
        raise SystemExit(f"records of {'+'.join(files)} (read for {method!r}): {e}") from None
    # several labels pool into one side, named ``method``; a label that itself holds a comma
    # ("IQL, equal wall-clock") is one label: split, its "IQL" part would pool the other row's
    # records into it
    labels = {r.get("method") for r in records}
    names = {method} if method in labels else set(method.split(","))
    records = [{**r, "method": method} if r.get("method") in names else r for r in records]
    mine = [r for r in held_out_exploitability(records, leave_out=leave_out)
            if r["method"] == method]
    try:  # one label, one setting a cell: two acting settings under one name would pool
        check_rows(mine)
    except ValueError as e:
        raise SystemExit(f"{'+'.join(files)}: {e}") from None
    for r in mine:
        # the env's N (Battle: both teams; the record's n_agents counts one)
        n = (r.get("env_kwargs") or {}).get("n_agents", r["n_agents"])
        out.setdefault((n, str(r.get("tier"))), {}).setdefault(r["seed"], []).append(r)
    if not out:
        raise SystemExit(f"no records of method {method!r} in {files}")
    return out


def resolved_kwargs(env_id: str, given: str) -> str:
    """The env kwargs ``given`` (JSON) with the env's defaults filled in
    (``mfdiff_agents.evaluation.report.canonical_env_kwargs``, the records' own duplicate and
    pooling checks), N left out: records hold the kwargs as the evaluation was given them, so
    ``{}`` and the defaults spelt out are one game (an outside audit: the scripted expert,
    evaluated with the README's command, could not be paired with a checkpoint's runs)."""
    kw = canonical_env_kwargs(env_id, json.loads(given))
    kw.pop("n_agents", None)
    return json.dumps(kw, sort_keys=True, default=str)


def game(runs: list[dict]) -> dict[str, str]:
    """What a side's runs were measured on, for a difference to compare like with like: the
    env, its kwargs (defaults filled in), the episodes per run and the reference scores that
    normalise them."""
    def one(r: dict) -> tuple[str, ...]:
        kw = json.dumps(r.get("env_kwargs") or {}, sort_keys=True, default=str)
        return (str(r.get("env_id")), resolved_kwargs(str(r.get("env_id")), kw),
                str(r.get("episodes")), str(r.get("ref_min")), str(r.get("ref_max")))
    seen = sorted({one(r) for r in runs})
    keys = ("env", "env kwargs", "episodes", "ref_min", "ref_max")
    return {k: " / ".join(sorted({g[i] for g in seen})) for i, k in enumerate(keys)}


def deviation_sets(runs: list[dict]) -> list[tuple]:
    """The deviation sets a side's runs tried, each with the share of agents that deviated
    (sorted names; 1 % for records before the share was recorded; none where the runs have no
    per-deviation gains: Squeeze's exact measure, or no exploitability measured)."""
    return sorted({(r.get("deviation_fraction", 0.01), tuple(sorted(r["deviation_gains"])))
                   for r in runs if isinstance(r.get("deviation_gains"), dict)})


def check_measures(label: str, cell: str, runs: list[dict], cols: list[str]) -> None:
    """Refuse a measure that some of a side's runs have and others lack: the paired difference
    would average the others alone while the seed count names all (an outside audit)."""
    for m in cols:
        have = sum(m in r for r in runs)
        if 0 < have < len(runs):
            raise SystemExit(f"{label}, {cell}: {SHORT[m]} ({m}) is in {have} of its {len(runs)} "
                             "runs; compare runs measured alike (give the others their own label)")


def fmt(x: np.ndarray, ci: str = "bootstrap") -> str:
    if x.size == 0:
        return "–"
    lo, hi = bootstrap_ci(x) if ci == "bootstrap" else t_interval(x)
    return f"{x.mean():.2f} [{lo:.2f}, {hi:.2f}]"


def over_training_seeds(ra: list[dict], rb: list[dict], metric: str = "normalized_score") -> str:
    """The difference in ``metric`` with Welch's CI over the checkpoints, each its mean over
    the shared evaluation seeds; "–" when neither side has two checkpoints. Anything else
    training_seed_ci refuses (a checkpoint missing a shared seed, a NaN value) stops the
    report: a dash there would hide it. A held-out exploitability is each run's own (the gain
    of the deviation best on the other runs — or evaluation seeds, ``--leave-out seed`` — of its
    group over the label's files), averaged per checkpoint."""
    if len({checkpoint_of(r) for r in ra}) < 2 and len({checkpoint_of(r) for r in rb}) < 2:
        return "–"
    try:
        mean, lo, hi, ca, cb, _ = training_seed_ci(ra, rb, metric, single_as_fixed=True)
    except ValueError as e:
        raise SystemExit(f"{SHORT[metric]} over training seeds: {e}") from None
    fixed = " (one side fixed)" if min(ca, cb) == 1 else ""
    return f"{mean:.2f} [{lo:.2f}, {hi:.2f}], {ca} vs {cb} checkpoints{fixed}"


def measures(policies: dict[str, dict[Cell, dict[int, list[dict]]]]) -> list[str]:
    """The MEASURES some record has (a score-only run has no exploitability; Squeeze's is
    exact, with no held-out estimate)."""
    have = {m for p in policies.values() for seeds in p.values() for rs in seeds.values()
            for r in rs for m in MEASURES if m in r}
    return [m for m in MEASURES if m in have]


def checkpoint_name(record: dict) -> str:
    """A checkpoint's short name for the per-checkpoint table: its directory's name where the
    record names one (``runs/x/medium-s40`` -> ``medium-s40``), else its id's first 12
    characters (or the method, for a scripted policy)."""
    cfg = record.get("config") if isinstance(record.get("config"), dict) else {}
    policy = cfg.get("policy")
    if isinstance(policy, str) and policy:
        return Path(policy).name
    return checkpoint_of(record)[:12]


def per_checkpoint(policies: dict[str, dict[Cell, dict[int, list[dict]]]],
                   ci: str) -> list[str]:
    """Each side's checkpoints one by one in each cell: the mean score over the checkpoint's
    evaluation seeds with the table's CI (bootstrap or Student-t) over them, then per side the
    range and standard deviation of the checkpoints' means: the spread over training seeds.
    Two checkpoints that share a short name are refused (their rows would read as one)."""
    how = "bootstrap" if ci == "bootstrap" else "Student-t"
    rows = ["", f"Per checkpoint (score: mean over the checkpoint's evaluation seeds, 95 % {how} "
            "CI over them; spread: the range and standard deviation of the checkpoints' means):",
            "", "| cell | policy | checkpoint | evaluation seeds | score |",
            "|---|---|---|---|---|"]
    spread = ["", "| cell | policy | checkpoints | checkpoints' means: range "
              "| standard deviation |", "|---|---|---|---|---|"]
    for n, tier in sorted({c for p in policies.values() for c in p}):
        for label, p in policies.items():
            if (n, tier) not in p:
                continue
            by: dict[str, dict[str, list[float]]] = {}
            for r in (r for rs in p[(n, tier)].values() for r in rs):
                by.setdefault(checkpoint_name(r), {}).setdefault(checkpoint_of(r), []).append(
                    float(r["normalized_score"]))
            clash = [name for name, ids in by.items() if len(ids) > 1]
            if clash:
                raise SystemExit(f"--per-checkpoint: {label}, N = {n}, {tier}: checkpoints of "
                                 f"one name {clash[0]!r} (another directory of that name): "
                                 "give them their own labels")
            means = []
            for name in sorted(by):
                (vals,) = by[name].values()
                x = np.array(vals)
                means.append(x.mean())
                rows.append(f"| N = {n}, {tier} | {label} | {name} | {x.size} | {fmt(x, ci)} |")
            m = np.array(means)
            sd = f"{m.std(ddof=1):.2f}" if m.size > 1 else "–"
            spread.append(f"| N = {n}, {tier} | {label} | {m.size} | {m.min():.2f}–{m.max():.2f} "
                          f"| {sd} |")
    return rows + spread


def report(policies: dict[str, dict[Cell, dict[int, list[dict]]]],
           diffs: list[tuple[str, str]], ci: str = "bootstrap",
           by_checkpoint: bool = False) -> list[str]:
    cells = sorted({c for p in policies.values() for c in p})
    cols = measures(policies)
    lines = ["| cell | policy | runs | " + " | ".join(SHORT[m] for m in cols) + " |",
             "|---|---|---|" + "---|" * len(cols)]
    for n, tier in cells:
        for label, p in policies.items():
            if (n, tier) not in p:
                continue
            runs = [r for rs in p[(n, tier)].values() for r in rs]
            check_measures(label, f"N = {n}, {tier}", runs, cols)
            vals = [fmt(np.array([r[m] for r in runs if m in r])) for m in cols]
            lines.append(f"| N = {n}, {tier} | {label} | {len(runs)} | " + " | ".join(vals)
                         + " |")
    if diffs:
        # --ci t: each measure also over training seeds (the score alone where the records
        # have no exploitability: the tables written before it had that one column)
        welch = cols if ci == "t" else []
        how = "bootstrap" if ci == "bootstrap" else "Student-t"
        what = "score" if welch == ["normalized_score"] else "each measure"
        lines += ["", "Paired differences (A − B; per evaluation seed the mean over training "
                  f"seeds; 95 % {how} CI over evaluation seeds"
                  + (f"; {what} over training seeds: Welch's t over the checkpoints' means"
                     if welch else "") + "):", "",
                  "| cell | A − B | evaluation seeds | " + " | ".join(SHORT[m] for m in cols)
                  + "".join(f" | {SHORT[m]} over training seeds" for m in welch) + " |",
                  "|---|---|---|" + "---|" * (len(cols) + len(welch))]
        for a, b in diffs:  # a difference over no shared cell printed an empty table
            if not set(policies[a]) & set(policies[b]):
                def where(lab: str) -> str:
                    return ", ".join(f"N = {n}, {t}" for n, t in sorted(policies[lab], key=str))
                raise SystemExit(f"--diff {a} {b}: no cell (N, tier) in common ({a}: {where(a)}; "
                                 f"{b}: {where(b)}): were they evaluated with other --tier "
                                 "labels?")
        for n, tier in cells:
            for a, b in diffs:
                pa, pb = policies[a].get((n, tier)), policies[b].get((n, tier))
                if not pa or not pb:
                    continue
                seeds = sorted(set(pa) & set(pb))
                ra = [r for rs in pa.values() for r in rs]
                rb = [r for rs in pb.values() for r in rs]
                cell = f"N = {n}, {tier}"
                ga, gb = game(ra), game(rb)
                if ga != gb:
                    what = next(k for k in ga if ga[k] != gb[k])
                    raise SystemExit(f"--diff {a} {b}, {cell}: measured on other games ({what} "
                                     f"{ga[what]} vs {gb[what]}): a difference would compare "
                                     "them as one")
                check_measures(a, cell, ra, cols)
                check_measures(b, cell, rb, cols)
                da, db = deviation_sets(ra), deviation_sets(rb)
                if da and db and da != db:  # a gain over a larger set is larger (an audit)
                    raise SystemExit(f"--diff {a} {b}, {cell}: exploitability measured over other "
                                     f"deviation sets or shares of deviators ({da} vs {db}); "
                                     "measure both alike (mfdiff eval --deviation / "
                                     "--deviation-set / --deviation-fraction)")
                if len(seeds) < 2:  # one seed: a difference, no interval (an outside audit)
                    vals = ["–"] * (len(cols) + len(welch))
                else:
                    vals = [fmt(paired_by_seed(ra, rb, m), ci) for m in cols]
                    vals += [over_training_seeds(ra, rb, m) for m in welch]
                lines.append(f"| N = {n}, {tier} | {a} − {b} | {len(seeds)} | "
                             + " | ".join(vals) + " |")
    if by_checkpoint:
        lines += per_checkpoint(policies, ci)
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("policies", nargs="+", metavar="LABEL=METHOD@FILE[+FILE...]")
    ap.add_argument("--diff", nargs=2, action="append", default=[], metavar=("A", "B"),
                    help="paired difference of two labels (repeatable)")
    ap.add_argument("--ci", choices=("bootstrap", "t"), default="bootstrap",
                    help="paired CI: percentile bootstrap (default; the committed tables) or "
                    "Student-t, which also adds the score over training seeds (Welch)")
    ap.add_argument("--leave-out", choices=("run", "seed"), default="run",
                    help="held-out exploitability: choose each run's deviation on the other runs "
                    "(default; the committed tables) or on the other evaluation seeds (no bias "
                    "from the training seeds sharing its seed)")
    ap.add_argument("--per-checkpoint", action="store_true",
                    help="also each side's checkpoints one by one (score) and the range of their "
                    "means: the spread over training seeds")
    ap.add_argument("--title", default="", help="a paragraph under the command in --out")
    ap.add_argument("--out", type=Path, help="write a markdown report here instead of stdout")
    args = ap.parse_args(argv)
    policies: dict[str, dict] = {}
    for spec in args.policies:
        label, method, files = parse_spec(spec)
        if label in policies:
            raise SystemExit(f"label {label!r} given twice")
        policies[label] = load(method, files, args.leave_out)
    for a, b in args.diff:
        for lab in (a, b):
            if lab not in policies:
                raise SystemExit(f"--diff {a} {b}: no policy labelled {lab!r}")
    try:
        lines = report(policies, [tuple(d) for d in args.diff], args.ci, args.per_checkpoint)
    except ValueError as e:  # runs that cannot be paired (stats' refusals): one line, no trace
        raise SystemExit(f"compare_policies: {e}") from None
    if args.out is None:
        print("\n".join(lines))
        return 0
    cmd = " ".join(["python experiments/compare_policies.py", *map(shlex.quote, args.policies),
                    *[f"--diff {shlex.quote(a)} {shlex.quote(b)}" for a, b in args.diff],
                    *(["--ci", args.ci] if args.ci != "bootstrap" else []),
                    *(["--leave-out", args.leave_out] if args.leave_out != "run" else []),
                    *(["--per-checkpoint"] if args.per_checkpoint else []),
                    *(["--title", shlex.quote(args.title)] if args.title else []),
                    "--out", str(args.out)])
    cols = measures(policies)
    intro = ("Cells: mean [95 % bootstrap CI] over runs (training × evaluation seeds); score "
             "normalised (0 = uniform random, 100 = scripted expert)")
    if "exploitability_heldout" in cols:
        others = ("other runs" if args.leave_out == "run"
                  else "runs of the other evaluation seeds")
        intro += ("; held-out own / pop: the exploitability of each run judged by the deviation "
                  f"best on the {others} of its group, against the deviators' own return / the "
                  "population's (docs/results/README.md, twenty-seventh and twenty-eighth updates)")
    if "nash_gap_xN" in cols:
        intro += ("; N × gain (exact): Squeeze's exploitability, N times the best one-step "
                  "deviation gain per agent, from the reward formula")
    intro += "."
    args.out.write_text("\n".join([f"# {args.out.stem}", "", "Regenerate with:", "", "```", cmd,
                                   "```", "", *([args.title, ""] if args.title else []), intro,
                                   "", *lines, ""]))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
