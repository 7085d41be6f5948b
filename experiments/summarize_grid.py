"""Pivot the grid's evaluation records into docs/results/grid.md (stdout).

    python experiments/summarize_grid.py runs/grid/records-*.jsonl > docs/results/grid.md

One table per family: rows = methods, columns = (training tier, evaluation N); cells =
normalised score, mean [95 % bootstrap CI] over 5 seeds, and the family metric
(Squeeze: gap to the analytic optimum; Ising: final order parameter; Battle: win rate).
"""

from __future__ import annotations

import sys
from collections import defaultdict

from mfdiff_agents.evaluation import bootstrap_ci, read_jsonl

FAMILY_METRIC = {
    "squeeze": ("optimum_gap", "gap to optimum (%)", 100.0),
    "ising": ("order_parameter", "order parameter ξ", 1.0),
    "battle": ("win_rate", "win rate (%)", 100.0),
}
METHOD_ORDER = ["random", "scripted medium", "scripted expert", "BC", "MFQ-CQL", "IQL",
                "indep-Diffuser", "joint-Diffuser (MADiff-style)", "MF-Diffuser",
                "MF-Diffuser + action head"]


def _cell(vals: list[float], scale: float = 1.0, digits: int = 1) -> str:
    if not vals:
        return "–"
    import numpy as np

    lo, hi = bootstrap_ci(vals) if len(vals) > 1 else (vals[0], vals[0])
    m = float(np.mean(vals))
    return f"{scale * m:.{digits}f} [{scale * lo:.{digits}f}, {scale * hi:.{digits}f}]"


def main(paths: list[str]) -> None:
    recs = [r for p in paths for r in read_jsonl(p) if not r.get("error")]
    fams: dict[str, list[dict]] = defaultdict(list)
    for r in recs:
        fams[r["family"]].append(r)
    print("# Results grid: MF-Diffuser vs baselines\n")
    fams_present = sorted({r["family"] for r in recs})
    print("Regenerate (trains every checkpoint, then evaluates; per family):\n")
    print("```\nbash experiments/grid.sh " + " ".join(fams_present) + "\n```\n")
    print("Training data: the N = 1000 (Ising 1024) `medium` and `mixed` datasets of each family;"
          " every learned method is trained there and evaluated at N = 100, 1000 and 10 000"
          " (population transfer). MF-Diffuser, BC and MFQ-CQL: training seeds 0, 1, 2 and 5"
          " evaluation seeds each, so each cell's mean [95 % bootstrap CI] runs over 15"
          " (training × evaluation) runs; IQL and the diffuser baselines: one training seed"
          " (5 runs). Normalized score: 0 = uniform random, 100 = scripted expert, measured at"
          " each N. Budgets: experiments/grid.sh (gradient steps; `mfdiff train` defaults"
          " otherwise). Scripted policies use no data (same row under both tiers). `–` = not"
          " run.\n")
    for fam in ("squeeze", "ising", "battle"):
        rows = fams.get(fam)
        if not rows:
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
        for title, metric, sc, dg in (("normalized score", "normalized_score", 1.0, 1),
                                      (label, key, scale, 1 if scale > 1 else 3)):
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


if __name__ == "__main__":
    main(sys.argv[1:])
