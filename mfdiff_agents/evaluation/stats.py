"""Statistics of evaluation records, as rliable defines them (computed with scipy, since
rliable 1.2 does not import beside numpy 2): per-run scores aggregated by their mean with a 95 %
percentile-bootstrap CI, and the interquartile mean (``scipy.stats.trim_mean(x, 0.25)``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from mfdiff_envs.core import MfdiffWarning


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
    _check_finite(x, "bootstrap_ci")
    point = float(statistic(x))
    if x.size < 2 or np.all(x == x[0]):
        return point, point
    res = stats.bootstrap((x,), statistic, confidence_level=confidence, n_resamples=n_resamples,
                          method="percentile", rng=np.random.default_rng(seed), vectorized=False)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _check_finite(x: NDArray[np.float64], what: str) -> None:
    """A NaN or inf would give a CI of (nan, nan), which no comparison reads as a loss."""
    if not np.isfinite(x).all():
        raise ValueError(f"{what}: {int((~np.isfinite(x)).sum())} non-finite value(s) (NaN or "
                         "inf) among the scores: a CI of them is meaningless")


def t_interval(x: Sequence[float], *, confidence: float = 0.95) -> tuple[float, float]:
    """Student-t CI of the mean of ``x`` (for paired differences over few evaluation seeds,
    where a percentile bootstrap is too narrow: at 5 seeds it covered 83 % in an outside
    audit's simulation, this 96 %). Fewer than two values, or identical ones: the point."""
    x = np.asarray(x, float)
    _check_finite(x, "t_interval")
    point = float(x.mean())
    if x.size < 2 or np.all(x == x[0]):
        return point, point
    lo, hi = stats.t.interval(confidence, x.size - 1, loc=point, scale=stats.sem(x))
    return float(lo), float(hi)


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
    group. Records lacking the metric are skipped. Groups keep first-seen order. A group whose
    every value is NaN (a normalised score where the expert's reference return is not above
    random's: no scale) is summarised as NaN, ``undefined`` True; NaN beside numbers in one
    group is refused (runs of two games in one row)."""
    groups: dict[tuple, list[float]] = {}
    for r in records:
        v = get_metric(r, metric)
        if v is None:
            continue
        groups.setdefault(tuple(r.get(k) for k in by), []).append(v)
    out = []
    for key, vals in groups.items():
        nan = np.isnan(vals)
        if nan.all():
            summary: dict[str, Any] = {"mean": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                                       "iqm": math.nan, "std": math.nan, "n": len(vals),
                                       "undefined": True}
        elif nan.any():
            raise ValueError(f"{metric} of {dict(zip(by, key))}: {int(nan.sum())} of "
                             f"{len(vals)} runs have none (NaN: no scale where the expert is "
                             "not above random) beside runs that have one: runs of two games "
                             "in one group")
        else:
            summary = summarize(vals)
        out.append({**dict(zip(by, key)), "metric": metric, **summary})
    return out


def held_out_exploitability(
    records: Sequence[dict[str, Any]],
    *, by: Sequence[str] = ("method", "env_id", "n_agents", "tier"), leave_out: str = "run",
) -> list[dict[str, Any]]:
    """Copies of ``records`` with ``exploitability_heldout``: each run's gain of the deviation
    that is best on average over the *other* runs of its group (``leave_out``: one run, the
    default, or its whole evaluation seed); and
    ``exploitability_pop_heldout`` from ``deviation_gains_pop`` where records have it.

    ``exploitability`` takes each seed's largest gain over the deviation set, and a maximum of
    noisy estimates is biased upward: the scripted expert deviating from its own population
    gains 0 in expectation yet its per-seed maximum is often > 0. Choosing the deviation on
    seeds the estimate does not use removes that selection bias (the mean over a group is then
    an unbiased estimate of the gain of a deviation chosen from data, so it can only be lower
    than the best deviation's true gain). Records without ``deviation_gains`` (Squeeze: exact),
    and groups with a single such record, are returned unchanged.

    ``leave_out``: ``"run"`` leaves out the record itself; ``"seed"`` every record of the group
    at its evaluation seed. Records of one evaluation seed (a group's training seeds) share the
    env seed and the deviators, so their gains can be correlated; with ``"run"`` the others of
    its seed stay in the choice and some upward bias remains where they are (an outside audit
    on 2026-12-04 simulated +0.2 to +0.5 with strongly correlated gains). ``"seed"`` removes
    it; with one record a seed the two are the same, and a group of one evaluation seed gets
    no held-out value (a warning says so). The tables until the forty-first update
    used ``"run"``; docs/results/README.md measures the difference on them.

    Ties (equal mean gains over the other runs; common where gains are counts, e.g. one
    deviator at N = 100) go to the first deviation in the records' order, as ``argmax``: a
    choice that still ignores the run's own gains, so it adds no selection bias, but another
    order of the set can pick another of the tied deviations (an outside review).

    Raises:
        ValueError: the records of one group tried different deviation sets.
    """
    if leave_out not in ("run", "seed"):
        raise ValueError(f"leave_out must be 'run' or 'seed', got {leave_out!r}")
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
            if leave_out == "run":
                loo_mean = (gains.sum(0) - gains) / (len(idx) - 1)  # [m, D] over other runs
            else:
                seeds = np.array([records[i].get("seed") for i in idx], dtype=object)
                other = seeds[:, None] != seeds[None, :]  # [m, m]: runs of other seeds
                kept = other.sum(1)  # [m]
                if not kept.all():  # one evaluation seed only: nothing to choose on
                    warnings.warn(f"held_out_exploitability: group {key} has runs of one "
                                  "evaluation seed only: no held-out value with "
                                  "leave_out='seed' (its records are returned unchanged)",
                                  MfdiffWarning, stacklevel=2)
                    continue
                loo_mean = (other.astype(float) @ gains) / kept[:, None]  # [m, D]
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
    def means(runs: Sequence[dict[str, Any]], side: str) -> dict[int, float]:
        by: dict[int, list[dict[str, Any]]] = {}
        for r in runs:
            by.setdefault(r["seed"], []).append(r)
        kept = {s: rs for s, rs in by.items() if all(metric in r for r in rs)}
        _check_same_checkpoints(kept, side)
        out = {s: float(np.mean([r[metric] for r in rs])) for s, rs in kept.items()}
        _check_finite(np.array(list(out.values())), f"paired_by_seed ({side})")
        return out

    ma, mb = means(a, "a"), means(b, "b")
    return np.array([ma[s] - mb[s] for s in sorted(set(ma) & set(mb))], dtype=float)


def _check_same_checkpoints(by_seed: dict[Any, list[dict[str, Any]]], side: str) -> None:
    """Each seed's mean must be over the same checkpoints: a checkpoint measured on some seeds
    only would weigh more in those seeds' means (an audit's reproducer: +5 on checkpoint 0,
    the only one on seeds 3–4, paired mean 3.00 against 1.67 balanced). Runs that do not name
    distinct checkpoints (no checkpoint id, one policy path) are not checked."""
    sets = {}
    for seed, rs in by_seed.items():
        ids = [checkpoint_of(r) for r in rs]
        if len(set(ids)) < len(ids):
            return
        sets[seed] = frozenset(ids)
    if len(set(sets.values())) > 1:
        s0 = min(sets)
        s1 = min(s for s in sets if sets[s] != sets[s0])
        c0, c1 = sets[s0], sets[s1]
        raise ValueError(f"{side}: evaluation seed {s0} has runs of {len(c0)} checkpoints, "
                         f"seed {s1} of {len(c1)} ({sorted(c0 ^ c1)[:3]} differ): a mean per "
                         "seed would weigh the checkpoints unequally; evaluate every checkpoint "
                         "on the same seeds")


def checkpoint_of(record: dict[str, Any]) -> str:
    """The trained policy a record measured: its checkpoint's id where recorded, else the
    ``policy`` path of its config (a scripted policy: its method)."""
    cfg = record.get("config") if isinstance(record.get("config"), dict) else {}
    ckpt = cfg.get("checkpoint") if isinstance(cfg.get("checkpoint"), dict) else {}
    return str(ckpt.get("id") or cfg.get("policy") or record.get("method"))


def _by_checkpoint_and_seed(
    runs: Sequence[dict[str, Any]], metric: str, seeds: Sequence[int], side: str
) -> NDArray[np.float64]:
    """[checkpoints, seeds] of ``metric``; every checkpoint must have every seed once."""
    cell: dict[tuple[str, int], float] = {}
    for r in runs:
        key = (checkpoint_of(r), r["seed"])
        if key in cell:
            raise ValueError(f"{side}: checkpoint {key[0]} has two runs at evaluation seed "
                             f"{key[1]}")
        cell[key] = float(r[metric])
    ckpts = sorted({c for c, _ in cell})
    missing = [(c, s) for c in ckpts for s in seeds if (c, s) not in cell]
    if missing:
        raise ValueError(f"{side}: no run of checkpoint {missing[0][0]} at evaluation seed "
                         f"{missing[0][1]} ({len(missing)} missing): a CI over training "
                         "seeds needs every checkpoint on every shared seed")
    x = np.array([[cell[(c, s)] for s in seeds] for c in ckpts])
    _check_finite(x, side)
    return x


def training_seed_ci(
    a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]], metric: str, *,
    confidence: float = 0.95, single_as_fixed: bool = False,
) -> tuple[float, float, float, int, int, int]:
    """``metric`` of runs ``a`` minus runs ``b`` with a CI over training seeds as well.

    :func:`paired_by_seed`'s CI is over evaluation seeds only: it holds for the checkpoints
    measured and says nothing of another training seed. Here each checkpoint (training seed)
    is one value, its mean over the evaluation seeds both sides share (so the seeds' common
    effect cancels in the difference), and the CI is Welch's t-interval for the difference of
    the two sides' means of those values (Satterthwaite's degrees of freedom).

    Why not a bootstrap: an outside audit (2026-12-04) simulated 3 checkpoints a side with a
    checkpoint effect of SD 2 beside a shared seed effect: the two-level percentile bootstrap
    used until then covered 78–86 % (its resampling of 3 checkpoints shrinks their variance by
    2/3, with a normal quantile where ~4 degrees of freedom need t's), false wins and false
    losses 6–12 % each at a true difference of 0; this interval covered 95–97 %.

    ``single_as_fixed``: a side with one checkpoint (a baseline trained on one seed) is taken
    as it is, its training-seed spread unknown and counted as 0 — the CI then covers the other
    side's training seeds only, as it says. Without it such a side is refused.

    Returns:
        ``(mean, lo, hi, checkpoints of a, checkpoints of b, shared seeds)``.

    Raises:
        ValueError: no shared evaluation seed, a checkpoint without a run at one of them, a side
            with one checkpoint (unless ``single_as_fixed``; never both), a non-finite score.
    """
    seeds = sorted({r["seed"] for r in a} & {r["seed"] for r in b})
    if not seeds:
        raise ValueError("no evaluation seed measured on both sides: nothing to pair")
    xa = _by_checkpoint_and_seed(a, metric, seeds, "a").mean(1)  # [Ca]
    xb = _by_checkpoint_and_seed(b, metric, seeds, "b").mean(1)  # [Cb]
    ca, cb = xa.size, xb.size
    if max(ca, cb) < 2 or (min(ca, cb) < 2 and not single_as_fixed):
        raise ValueError(f"{ca} and {cb} checkpoints: a CI over training seeds needs at least 2 "
                         "a side (single_as_fixed=True takes a one-checkpoint side as fixed)")
    va = xa.var(ddof=1) / ca if ca > 1 else 0.0
    vb = xb.var(ddof=1) / cb if cb > 1 else 0.0
    mean = float(xa.mean() - xb.mean())
    se = float(np.sqrt(va + vb))
    if se == 0:
        return mean, mean, mean, ca, cb, len(seeds)
    df = (va + vb) ** 2 / ((va**2 / (ca - 1) if ca > 1 else 0.0)
                           + (vb**2 / (cb - 1) if cb > 1 else 0.0))
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    return mean, mean - half, mean + half, ca, cb, len(seeds)
