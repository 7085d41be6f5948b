"""Statistics of evaluation records, as rliable defines them (computed with scipy, since
rliable 1.2 does not import beside numpy 2): per-run scores aggregated by their mean with a 95 %
percentile-bootstrap CI, and the interquartile mean (``scipy.stats.trim_mean(x, 0.25)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from scipy import stats


def iqm(x: Sequence[float]) -> float:
    """Interquartile mean: mean of the middle 50 % (``trim_mean(x, 0.25)``, as rliable)."""
    return float(stats.trim_mean(np.asarray(x, float), 0.25))


def bootstrap_ci(x: Sequence[float], *, statistic: Callable = np.mean, confidence: float = 0.95,
                 n_resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap CI of ``statistic`` over runs (rliable's default interval).

    With fewer than two runs, or identical values, the interval collapses to the point value.
    The runs are sorted first: the interval does not depend on the order in which they were
    recorded (an evaluation split into lanes, or resumed, records them in another order).
    """
    x = np.sort(np.asarray(x, float))
    point = float(statistic(x))
    if x.size < 2 or np.all(x == x[0]):
        return point, point
    res = stats.bootstrap((x,), statistic, confidence_level=confidence, n_resamples=n_resamples,
                          method="percentile", rng=np.random.default_rng(seed), vectorized=False)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def summarize(x: Sequence[float], **kw: Any) -> dict[str, float]:
    """mean, 95 % bootstrap CI of the mean, IQM, std and n of per-seed values ``x``."""
    x = np.asarray(x, float)
    lo, hi = bootstrap_ci(x, **kw)
    return {"mean": float(x.mean()), "ci_low": lo, "ci_high": hi, "iqm": iqm(x),
            "std": float(x.std(ddof=1)) if x.size > 1 else 0.0, "n": int(x.size)}


def get_metric(record: dict[str, Any], metric: str) -> float | None:
    """``record[metric]``; dotted names reach into nested dicts
    (``metrics_mean.order_parameter``)."""
    v: Any = record
    for part in metric.split("."):
        if not isinstance(v, dict) or part not in v:
            return None
        v = v[part]
    return None if v is None else float(v)


def aggregate(records: Iterable[dict[str, Any]], *, metric: str = "normalized_score",
              by: Sequence[str] = ("method", "env_id", "n_agents", "tier")) -> list[dict[str, Any]]:
    """Group records by ``by`` and :func:`summarize` ``metric`` over the runs (seeds) of each
    group. Records lacking the metric are skipped. Groups keep first-seen order."""
    groups: dict[tuple, list[float]] = {}
    for r in records:
        v = get_metric(r, metric)
        if v is None:
            continue
        groups.setdefault(tuple(r.get(k) for k in by), []).append(v)
    return [{**dict(zip(by, key)), "metric": metric, **summarize(vals)}
            for key, vals in groups.items()]


def held_out_exploitability(
    records: Sequence[dict[str, Any]],
    *, by: Sequence[str] = ("method", "env_id", "n_agents", "tier"),
) -> list[dict[str, Any]]:
    """Copies of ``records`` with ``exploitability_heldout``: each seed's gain of the deviation
    that is best on average over the *other* seeds of its group (leave one seed out); and
    ``exploitability_pop_heldout`` from ``deviation_gains_pop`` where records have it.

    ``exploitability`` takes each seed's largest gain over the deviation set, and a maximum of
    noisy estimates is biased upward: the scripted expert deviating from its own population
    gains 0 in expectation yet its per-seed maximum is often > 0. Choosing the deviation on
    seeds the estimate does not use removes that selection bias (the mean over a group is then
    an unbiased estimate of the gain of a deviation chosen from data, so it can only be lower
    than the best deviation's true gain). Records without ``deviation_gains`` (Squeeze: exact),
    and groups with a single such record, are returned unchanged.

    Raises:
        ValueError: the records of one group tried different deviation sets.
    """
    out = [dict(r) for r in records]
    for suffix in ("", "_pop"):  # the gains against the deviators' own returns / the population
        gains_key = f"deviation_gains{suffix}"
        groups: dict[tuple, list[int]] = {}
        for i, r in enumerate(records):
            if isinstance(r.get(gains_key), dict) and not r.get("error"):
                groups.setdefault(tuple(r.get(k) for k in by), []).append(i)
        for key, idx in groups.items():
            if len(idx) < 2:
                continue
            names = list(records[idx[0]][gains_key])
            for i in idx:
                if set(records[i][gains_key]) != set(names):
                    raise ValueError(
                        f"group {dict(zip(by, key))}: seeds tried different deviation sets "
                        f"({sorted(names)} vs {sorted(records[i][gains_key])}); a held-out "
                        "choice needs the same set on every seed")
            gains = np.array([[records[i][gains_key][d] for d in names] for i in idx])  # [m, D]
            loo_mean = (gains.sum(0) - gains) / (len(idx) - 1)  # [m, D] mean over other seeds
            best = loo_mean.argmax(1)  # [m]
            for row, i in enumerate(idx):
                out[i][f"exploitability{suffix}_heldout"] = float(gains[row, best[row]])
                out[i][f"best_deviation{suffix}_heldout"] = names[best[row]]
    return out


def paired_by_seed(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]],
                   metric: str) -> np.ndarray:
    """``metric`` of runs ``a`` minus runs ``b``, paired by evaluation seed: per seed both have,
    the mean over that seed's runs (its training seeds) of each, then the difference.

    Runs of one evaluation seed share the env seed, the starts and (with --exploitability) the
    deviators, so they are not independent: each seed counts once, and a bootstrap CI of the
    result is over evaluation seeds. Seeds where a run lacks ``metric`` are left out.

    Returns:
        ``[seeds]``, sorted by seed; empty where no seed has both.
    """
    def means(runs: Sequence[dict[str, Any]]) -> dict[int, float]:
        by: dict[int, list[dict[str, Any]]] = {}
        for r in runs:
            by.setdefault(r["seed"], []).append(r)
        return {s: float(np.mean([r[metric] for r in rs])) for s, rs in by.items()
                if all(metric in r for r in rs)}

    ma, mb = means(a), means(b)
    return np.array([ma[s] - mb[s] for s in sorted(set(ma) & set(mb))], dtype=float)
