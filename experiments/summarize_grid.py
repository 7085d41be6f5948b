"""Pivot the grid's evaluation records into docs/results/grid.md (stdout).

    python experiments/summarize_grid.py runs/grid/records-*.jsonl > docs/results/grid.md
    python experiments/summarize_grid.py --previous docs/results/grid.md runs/grid/records-*.jsonl

One table per family: rows = methods, columns = (training tier, evaluation N); cells =
normalised score, mean [95 % bootstrap CI] over 5 seeds, and the family metric
(Squeeze: gap to the analytic optimum; Ising: final order parameter; Battle: win rate).
With ``--previous FILE`` (an earlier grid.md), a family with no records keeps its sections from
FILE verbatim, marked as such: `grid.sh squeeze` on a fresh checkout (which has no runs/) then
updates the Squeeze sections and leaves the others as their last run wrote them.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

from mfdiff_agents.evaluation import bootstrap_ci, read_records

FAMILY_METRIC = {
    "squeeze": ("optimum_gap", "gap to optimum (%)", 100.0),
    "ising": ("order_parameter", "order parameter ξ", 1.0),
    "battle": ("win_rate", "win rate (%)", 100.0),
}
#: MF-Diffuser rows that act on their own plan (each gets a verdict table), then the ablation
#: that copies its particle's action
MFD_PLANNERS = ("MF-Diffuser", "MF-Diffuser, best of 4 plans", "MF-Diffuser, replan every step",
                "MF-Diffuser, K = 256", "MF-Diffuser, one plan", "MF-Diffuser, min-p 0.2",
                "MF-Diffuser, replan every 4", "MF-Diffuser, min-p 0.15",
                "MF-Diffuser + action head",
                "MF-Diffuser, mixture of 4 plans", "MF-Diffuser, one head",
                "MF-Diffuser, head ensemble of 4", "MF-Diffuser, plan guidance 0.5",
                "MF-Diffuser, value baseline", "MF-Diffuser, value baseline, 4 heads",
                "MF-Diffuser, without value baseline", "MF-Diffuser, T 0.3, min-p 0.1",
                "MF-Diffuser, even DDIM split", "MF-Diffuser, no data range",
                "MF-Diffuser, head reads the whole plan", "MF-Diffuser, head trained on data",
                "MF-Diffuser, warm lift")
MFD_ROWS = (*MFD_PLANNERS[:1], "MF-Diffuser, particle actions", *MFD_PLANNERS[1:])
METHOD_ORDER = ["random", "scripted medium", "scripted expert", "BC", "MFQ-CQL", "IQL",
                "indep-Diffuser", "joint-Diffuser (MADiff-style)", *MFD_ROWS]


def _cell(vals: list[float], scale: float = 1.0, digits: int = 1) -> str:
    if not vals:
        return "–"
    import numpy as np

    lo, hi = bootstrap_ci(vals) if len(vals) > 1 else (vals[0], vals[0])
    m = float(np.mean(vals))
    return f"{scale * m:.{digits}f} [{scale * lo:.{digits}f}, {scale * hi:.{digits}f}]"


FAMILY_ORDER = ("squeeze", "ising", "battle")


def previous_sections(text: str, fam: str) -> str | None:
    """The ``## fam: ...`` sections of an earlier grid.md ``text`` (from the family's first
    heading to the next family's), or None when it has none."""
    lines = text.splitlines(keepends=True)
    heads = [i for i, line in enumerate(lines) if line.startswith("## ")]
    mine = [i for i in heads if lines[i].startswith(f"## {fam}: ")]
    if not mine:
        return None
    end = next((i for i in heads if i > mine[0] and not lines[i].startswith(f"## {fam}: ")),
               len(lines))
    return "".join(lines[mine[0]:end]).rstrip("\n") + "\n"


def main(paths: list[str], previous: str | None = None) -> None:
    recs = [r for r in read_records(*paths) if not r.get("error")]
    fams: dict[str, list[dict]] = defaultdict(list)
    for r in recs:
        fams[r["family"]].append(r)
    kept = {}
    if previous is not None:
        text = Path(previous).read_text()
        kept = {f: sec for f in FAMILY_ORDER if f not in fams
                and (sec := previous_sections(text, f)) is not None}
    print("# Results grid: MF-Diffuser vs baselines\n")
    shown = [f for f in FAMILY_ORDER if f in fams or f in kept]
    print("Regenerate (trains every checkpoint, then evaluates; per family):\n")
    print("```\nbash experiments/grid.sh " + " ".join(shown) + "\n```\n")
    if kept:
        names = ", ".join(kept)
        print(f"The {names} sections below are kept verbatim from the previous grid.md: this"
              f" run had no records of {'that family' if len(kept) == 1 else 'those families'}"
              f" (`bash experiments/grid.sh {' '.join(kept)}` regenerates them).\n")
    print("Training data: the N = 1000 (Ising 1024) `medium` and `mixed` datasets of each"
          " family; every learned method is trained there and evaluated at N = 100, 1000, 3000"
          " (Ising 3025: a size no dataset has; Battle skips it: CPU time) and 10 000"
          " (population transfer). MF-Diffuser,"
          " BC, MFQ-CQL and IQL: training seeds 0, 1, 2 and 5 evaluation seeds each, so each"
          " cell's mean [95 % bootstrap CI] runs over 15 (training × evaluation) runs; the"
          " diffuser baselines: one training seed (5 runs). Every method is trained with"
          " `mfdiff train`'s defaults, which are its family's settings"
          " (mfdiff_agents/family_configs/<algo>/<family>.json, linked as configs/<algo>; the"
          " budget in `steps` and the baselines' acting temperature), and evaluated with them."
          " MF-Diffuser's settings (reasons in configs/README.md): the Config's action head"
          " decoded balanced at temperature 0.3, except that Squeeze trains four"
          " heads side by side on noised inputs and acts on the mean of their distributions"
          " (docs/method.md (18), since the fifteenth update), decoded at temperature 1 less"
          " its uniform floor (the"
          " probability the data's random actions put on every level, docs/method.md (16)),"
          " replans every step and acts on the head's distribution averaged over 4 sampled"
          " plans (docs/method.md (17), since the thirty-eighth update); Ising"
          " trains"
          " with per-particle credit for 400 steps and replans every step with 20 DDIM steps"
          " (split 8 / 8 / 4 over the particle levels 32 / 128 / 512: stage_steps,"
          " docs/method.md (11), since the fifty-eighth update; 6 / 7 / 7 before)"
          " and 512 particles, no more than N (below N = 512 the schedule stops at N:"
          " cap_particles, docs/method.md (19), since the twenty-fifth update), acting by the"
          " argmax of the head's distribution averaged over 4"
          " sampled plans (docs/method.md (17), since the fourteenth update), its head's"
          " inputs (own observation, planned target, mean field) clipped to the training"
          " data's range (head_data_range, docs/method.md (21); in the config since the"
          " sixty-fifth update, in this row since the sixty-sixth: the grid trains without"
          " it and this row sets it, the same weights as `mfdiff train`'s); Battle trains"
          " the diffusion model and its head together for 400 steps, then (since the"
          " thirty-third update; checkpoints mfdiffuser-own-s<seed>) the head alone for 400"
          " more on the frozen model's own plans instead of the data's next states"
          " (head_own_plans, docs/method.md (20)), its head"
          " weighted by each agent's own reward-to-go and fed noised inputs, blind to the"
          " plan's x, y and enemy_in_range (head_blind [1, 2, 9], docs/method.md (18), since"
          " the twenty-second update) and weighing its pairs by their reward-to-go less a"
          " learned state baseline V(s, m) (head_value, docs/method.md (14), since the"
          " twenty-third update), and replans every 7 with 40 DDIM"
          " steps, its head decoded by i.i.d. samples at T 0.4 after a min-p cut of 0.05,"
          " its balanced lifting above N = 4000 (the Sinkhorn route) solved cold on 512"
          " rows (lift_warm_start false, lift_sinkhorn_rows 512: in the config and in this"
          " row since the seventy-second update; the grid trains without them, the same"
          " weights);"
          " \"head trained on data\" (Battle) = the family config until the thirty-third"
          " update, 400 steps, the head trained on the data's next states alongside the"
          " diffusion model (checkpoints mfdiffuser-blind-hv-s<seed>, the grid's before; the same"
          " diffusion weights), acting as the config acts; \"T 0.3, min-p 0.1\" (Battle) = the"
          " same checkpoints decoded as the config did until the twenty-ninth update, T 0.3"
          " after a min-p cut of 0.1, which every other Battle variant and \"mixture of 4"
          " plans\" also act with; \"particle actions\" = the same checkpoints and"
          " planning settings, every agent copying its particle's action (Ising and Battle: at"
          " the training N only, where Ising's particle cap plans the same particles and is"
          " left out, as in \"K = 256\" and \"head ensemble of 4\"; \"particle actions\" and"
          " \"K = 256\" split the DDIM steps 6 / 7 / 7, as before the fifty-eighth update (their"
          " records are those before the cap and the split), \"head ensemble of 4\" as the"
          " config does (re-run in the fifty-eighth update)); \"even DDIM split\" (Ising) ="
          " the family config until the fifty-eighth"
          " update, its 20 DDIM steps split near-evenly over the particle levels (6 / 7 / 7;"
          " 10 / 10 over the capped 32 / 100 at N = 10^2): the \"MF-Diffuser\" row's records"
          " until then, the same checkpoints and evaluation seeds;"
          " \"no data range\" (Ising) = the family config until the sixty-sixth update's"
          " grid, its head's inputs not clipped to the data's range (head_data_range off):"
          " the \"MF-Diffuser\" row's records until then, the same checkpoints and"
          " evaluation seeds; the other Ising variants act without it too;"
          " \"warm lift\" (Battle) = the family config until the seventy-second update, its"
          " lifting between replans warm-started from the last step's potential, fitted on"
          " 2048 rows (the Config defaults; every other Battle variant lifts so): the"
          " \"MF-Diffuser\" row's records until then at N <= 4000, where the lifting is exact"
          " OT either way (replayed to the digit), and played again at N = 10^4 with today's"
          " lifting code, the same checkpoints and evaluation seeds;"
          " \"K = 256\" (Ising) = the family config with 256 particles"
          " instead of 512 (half the planning cost) and one plan; \"one plan\" = the family"
          " config following one sampled plan per replan instead of the best of 4 by the value"
          " net (Squeeze, as its other variants) or the mixture over 4 (Ising: the config until"
          " the fourteenth update,"
          " plan_samples pinned to 1, the particle cap off and the DDIM steps split 6 / 7 / 7;"
          " the same checkpoints and seeded"
          " settings as the \"MF-Diffuser\" row before then); \"mixture of 4 plans\" (Battle) ="
          " the family config until the thirty-third update (its checkpoints"
          " mfdiffuser-blind-hv-s<seed>) acting on"
          " the head's distribution averaged over 4 plans, as Ising does (not adopted);"
          " \"best of 4 plans\" (Squeeze) = the family config as until the thirty-eighth"
          " update, following the best of its 4 plans by the value net: the previous"
          " \"MF-Diffuser\" row's records, of the checkpoints as the grid first trained them"
          " (the \"MF-Diffuser\" row's are retrained with the same command and seeds: on the"
          " best of 4 they score within 0.2 points per run of these at N = 10^2, 10^3, 10^4,"
          " experiments/match_grid.py on cell_seeds.sh's records;"
          " docs/results/squeeze_mixture.md);"
          " \"min-p 0.2\" (Squeeze) = the family config decoding as it did until the"
          " eleventh update, min-p 0.2 instead of the uniform floor removed"
          " (docs/results/squeeze_uniform.md); \"replan every 4\" (Squeeze) = the family config"
          " replanning every 4 steps, as until the twelfth update; \"one head\" (Squeeze) ="
          " the family config with one action head, as until the fifteenth update: other"
          " checkpoints (runs/grid/ckpt/*/mfdiffuser-s<seed>, the grid's before; its records"
          " are those of the previous \"MF-Diffuser\" row) with the same diffusion weights;"
          " \"head ensemble of 4\" (Ising, Battle) = the family config with four heads, as"
          " Squeeze trains (checkpoints mfdiffuser-ens4-s<seed>, the same diffusion weights;"
          " not adopted); \"plan guidance 0.5\" (Battle) = the family config whose head also"
          " learns to act without the plan (plan dropout 0.5), trains alone to 1600 steps"
          " after the diffusion model's 400 and acts on log q_noplan + 0.5 (log q_plan -"
          " log q_noplan) (docs/method.md (18); checkpoints mfdiffuser-pg0.5-s<seed>, the same"
          " diffusion weights; sixteenth update, not adopted); \"value baseline\" (Battle) ="
          " the family config of the sixteenth update, its head reading the whole plan and"
          " weighing its pairs by their reward-to-go less a learned state baseline V(s, m)"
          " instead of less the batch mean (head_value; checkpoints mfdiffuser-hv-s<seed>, the"
          " same diffusion weights; not adopted then);"
          " \"value baseline, 4 heads\" (Battle) = the same with the head ensemble of 4"
          " (checkpoints mfdiffuser-hv-ens4-s<seed>; sixteenth update, not adopted);"
          " \"head reads the whole plan\" (Battle) = the family config as until the"
          " twenty-second update, the head reading every feature of the plan (checkpoints"
          " runs/grid/ckpt/*/mfdiffuser-s<seed>, the grid's before; its records are those of"
          " the previous \"MF-Diffuser\" row) with the same diffusion weights; the other"
          " Battle variants also read the whole plan; \"without value baseline\" (Battle) ="
          " the family config from the twenty-second until the twenty-third update, the"
          " blind head weighing its pairs against the batch mean (checkpoints"
          " runs/grid/ckpt/*/mfdiffuser-blind-s<seed>, the grid's before; its records are"
          " those of the previous \"MF-Diffuser\" row) with the same diffusion weights; of the"
          " other Battle variants only \"value baseline\" and \"value baseline, 4 heads\""
          " have the state baseline"
          "; \"<baseline>, equal"
          " wall-clock\" = BC, MFQ-CQL or IQL retrained (training seeds 0, 1, 2) for the"
          " gradient steps that take MF-Diffuser's training seconds (experiments/make_sweep.py"
          " WALL_CLOCK_STEPS, from the medians of the training-budget table), beside its"
          " step-budget row: a cell's best baseline is the best of all baseline rows (on"
          " Battle retrained in the thirty-third update for the own-plans config's 495 s; the"
          " step counts from seconds per step measured on this machine, see WALL_CLOCK_STEPS)."
          " Normalized score:"
          " 0 = uniform random,"
          " 100 = scripted expert, measured at each N. Budgets: the training-budget table of"
          " each family (gradient steps from the family's settings, or WALL_CLOCK_STEPS, and"
          " the measured training seconds). Scripted policies use no data (same"
          " row under both tiers). `–` = not run.\n")
    for fam in FAMILY_ORDER:
        rows = fams.get(fam)
        if not rows:
            if fam in kept:
                print(kept[fam])
            continue
        key, label, scale = FAMILY_METRIC[fam]
        ns = sorted({r["env_kwargs"]["n_agents"] for r in rows})
        cols = [(t, n) for t in ("medium", "mixed") for n in ns]
        by: dict[tuple, list[dict]] = defaultdict(list)
        for r in rows:
            tiers = [r["tier"]] if r.get("tier") else ["medium", "mixed"]
            for t in tiers:
                by[(r["method"], t, r["env_kwargs"]["n_agents"])].append(r)
        methods = [m for m in METHOD_ORDER if any(k[0] == m for k in by)]
        methods += sorted({k[0] for k in by} - set(methods))
        env_id = rows[0]["env_id"]
        tables = [("normalized score", "normalized_score", 1.0, 1),
                  (label, key, scale, 1 if scale > 1 else 3)]
        if any("nash_gap_xN" in r for r in rows):  # Squeeze: exact, shared reward
            tables.append(("exploitability: N × the best one-step deviation gain per agent "
                           "(exact from the reward formula, ex post: each agent knows the "
                           "others' levels of the step, an upper bound that a policy sampling "
                           "its levels inflates; the ex ante gain: "
                           "squeeze_exante_gain.md)",
                           "nash_gap_xN", 1.0, 1))
        for title, metric, sc, dg in tables:
            print(f"## {fam}: {title} (`{env_id}`)\n")
            print("| method | " + " | ".join(f"{t} N={n}" for t, n in cols) + " |")
            print("|---|" + "---|" * len(cols))
            for m in methods:
                cells = []
                for t, n in cols:
                    group = by.get((m, t, n), [])
                    vals = [float(r[metric]) for r in group if r.get(metric) is not None]
                    cells.append(_cell(vals, sc, dg))
                print(f"| {m} | " + " | ".join(cells) + " |")
            print()
        lat = defaultdict(list)
        for r in rows:
            lat[(r["method"], r["env_kwargs"]["n_agents"])].append(r["latency_ms"])
        print(f"## {fam}: acting latency, ms per env step (median over runs)\n")
        print("| method | " + " | ".join(f"N={n}" for n in ns) + " |")
        print("|---|" + "---|" * len(ns))
        import numpy as np

        for m in methods:
            cells = [f"{np.median(lat[(m, n)]):.1f}" if lat.get((m, n)) else "–" for n in ns]
            print(f"| {m} | " + " | ".join(cells) + " |")
        print()
        budget_table(fam, rows, methods)
        seed_table(fam, by, methods, cols)
        targets(fam, by, methods, cols)


#: rows that are not learned baselines (the "best baseline" of a cell is among the others)
NOT_BASELINES = {"random", "scripted medium", "scripted expert", *MFD_ROWS}


def is_baseline(method: str) -> bool:
    """A learned baseline's row: not a scripted policy and no MF-Diffuser row of any label (a
    variant missing from MFD_ROWS must not become a cell's "best baseline")."""
    return method not in NOT_BASELINES and not method.startswith("MF-Diffuser")


def checkpoint_training(policy: str) -> dict | None:
    """``{"steps", "seconds"}`` of a checkpoint directory's last metrics.csv row (the training
    loop's own clock), or None when ``policy`` is no checkpoint here."""
    path = Path(policy) / "metrics.csv"
    if not path.exists():
        return None
    with open(path) as f:
        last = list(csv.DictReader(f))[-1]
    return {"steps": int(last["step"]), "seconds": float(last["seconds"])}


def with_training(records: list[dict]) -> list[dict]:
    """The records, each learned method's with a ``training`` field from its checkpoint, so that
    the committed records (docs/results/records/) carry the budget tables too. A record that
    already carries one keeps it: it is the budget of the checkpoint that produced it (a
    checkpoint retrained here, bit-identical in weights, has its own seconds)."""
    out = []
    for r in records:
        t = None if r.get("training") else checkpoint_training(
            str(r.get("config", {}).get("policy", "")))
        out.append({**r, "training": t} if t else r)
    return out


def budget_table(fam: str, rows: list[dict], methods: list[str]) -> None:
    """Gradient steps and training wall-clock of each learned method (from the checkpoints'
    metrics.csv: the training loop's own clock, one torch thread, 2 jobs sharing 2 cores; or
    from the records' ``training`` field where the checkpoints are not here)."""
    import numpy as np

    per: dict[str, dict[str, dict]] = defaultdict(dict)  # method -> checkpoint -> training
    for r in rows:
        policy = str(r.get("config", {}).get("policy", ""))
        t = r.get("training") or checkpoint_training(policy)
        if t:
            per[r["method"]][policy] = t
    print(f"## {fam}: training budget per checkpoint (gradient steps, training seconds)\n")
    print("| method | steps | seconds, median [min, max] over checkpoints |")
    print("|---|---|---|")
    for m in methods:
        if not per.get(m):
            continue
        last = [per[m][p] for p in sorted(per[m])]
        steps = sorted({t["steps"] for t in last})
        secs = [t["seconds"] for t in last]
        print(f"| {m} | {', '.join(map(str, steps))} | {np.median(secs):.0f} "
              f"[{min(secs):.0f}, {max(secs):.0f}] |")
    print()


def training_seed(record: dict) -> str | None:
    """The training seed of a grid record, from its checkpoint directory (``<algo>-s<seed>``);
    None for the scripted policies."""
    name = Path(str(record.get("config", {}).get("policy", ""))).name
    head, sep, seed = name.rpartition("-s")
    return seed if sep and head and seed.isdigit() else None


def seed_table(fam: str, by: dict, methods: list[str], cols: list[tuple]) -> None:
    """Mean score of each training seed (over its evaluation seeds) of every learned method
    trained with more than one seed: a cell's CI pools them, this shows whether one seed
    carries the mean or drags it."""
    import numpy as np

    print(f"## {fam}: normalized score per training seed (mean over its evaluation seeds)\n")
    print("| method, training seed | " + " | ".join(f"{t} N={n}" for t, n in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for m in methods:
        seeds = sorted({training_seed(r) for (mm, _, _), group in by.items() if mm == m
                        for r in group} - {None}, key=int)
        if len(seeds) < 2:
            continue
        for s in seeds:
            cells = []
            for t, n in cols:
                vals = [float(r["normalized_score"]) for r in by.get((m, t, n), [])
                        if training_seed(r) == s]
                cells.append(f"{np.mean(vals):.1f}" if vals else "–")
            print(f"| {m}, seed {s} | " + " | ".join(cells) + " |")
    print()


def targets(fam: str, by: dict, methods: list[str], cols: list[tuple]) -> None:
    """Issue-12 targets per cell for the MF-Diffuser rows: best, or tied with the best learned
    baseline (their 95 % bootstrap CIs overlap), and the difference of means."""
    for me in MFD_PLANNERS:
        if me in methods:
            _targets_of(me, fam, by, methods, cols)


def best_or_tied(mean: float, ci: tuple[float, float], best_mean: float,
                 best_ci: tuple[float, float]) -> bool:
    """The grid's verdict on a cell: best on the mean, or the 95 % CIs overlapping the best
    baseline's (experiments/cell_verdicts.py reads the cells the same way)."""
    return mean >= best_mean or (ci[1] >= best_ci[0] and best_ci[1] >= ci[0])


def _targets_of(me: str, fam: str, by: dict, methods: list[str], cols: list[tuple]) -> None:
    import numpy as np

    print(f"## {fam}: {me} vs the best learned baseline of each cell\n")
    print(f"| tier, N | {me} | best baseline | difference | best or CIs overlap |")
    print("|---|---|---|---|---|")
    wins = close = total = 0
    for t, n in cols:
        mine = [float(r["normalized_score"]) for r in by.get((me, t, n), [])]
        base = {m: [float(r["normalized_score"]) for r in by.get((m, t, n), [])]
                for m in methods if is_baseline(m)}
        base = {m: v for m, v in base.items() if v}
        if not mine or not base:
            continue
        best = max(base, key=lambda m: np.mean(base[m]))
        lo, hi = bootstrap_ci(mine) if len(mine) > 1 else (mine[0], mine[0])
        b_lo, b_hi = bootstrap_ci(base[best]) if len(base[best]) > 1 else (base[best][0],) * 2
        ok = best_or_tied(float(np.mean(mine)), (lo, hi), float(np.mean(base[best])),
                          (b_lo, b_hi))
        diff = np.mean(mine) - np.mean(base[best])
        total += 1
        wins += ok
        close += diff >= -10
        print(f"| {t}, {n} | {np.mean(mine):.1f} | {best} {np.mean(base[best]):.1f} | "
              f"{diff:+.1f} | {'yes' if ok else 'no'} |")
    print(f"\nBest, or 95 % CIs overlapping the best baseline's: **{wins} of {total}** cells; "
          f"no more than 10 points below the best baseline: **{close} of {total}**.\n")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("records", nargs="+", help="records-<family>.jsonl files")
    ap.add_argument("--previous", default=None,
                    help="an earlier grid.md: families without records keep its sections")
    ap.add_argument("--export", default=None, metavar="FILE.jsonl.gz",
                    help="instead: write the records, each with its checkpoint's training "
                    "budget, gzip-compressed to FILE (the copy committed in docs/results/records)")
    args = ap.parse_args()
    if args.export:
        import gzip
        import json

        lines = "".join(json.dumps(r) + "\n" for r in with_training(read_records(*args.records)))
        Path(args.export).write_bytes(gzip.compress(lines.encode(), mtime=0))
    else:
        main(args.records, args.previous)
