"""Evaluation harness: roll policies out on the vectorised core, aggregate over seeds, plot.

One run = one (policy, env, N, seed): ``episodes`` episodes on ``gym.make(env_id, **env_kwargs)``'s
core, driven batched (``obs = core.reset(seed); policy.reset(seed);
actions = policy.act_batch(obs, core.alive)``). Each run gives one JSON record (:func:`evaluate`)
with the undiscounted team return (sum over steps of the mean per-agent reward), the normalised
score ``100 · (R − ref_min) / (ref_max − ref_min)`` (``minari.get_normalized_score`` × 100, with the
dataset's reference scores, or — without a dataset — the mean returns of the random and the
scripted expert policy on the same env and seeds, the D4RL convention), the family metrics
(Squeeze: ``optimum_gap`` averaged over the steps; Ising: ``order_parameter``; Battle: ``win``
→ ``win_rate``), wall time and planning latency per step (ms per ``act_batch`` call).

Statistics (rliable definitions, computed with scipy since rliable does not import here):
per-seed scores are aggregated by their mean with a 95 % percentile-bootstrap CI and the IQM
(``scipy.stats.trim_mean(x, 0.25)``) — :func:`summarize`, :func:`aggregate`.

Plots (matplotlib Agg, PNG): :func:`plot_score_vs_n`, :func:`plot_score_by_tier`,
:func:`plot_latency_vs_n`; tables: :func:`markdown_table` (with the command that regenerates it).
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from mfdiff_agents.policy import Policy

PolicyLike = Policy | Callable[[Any, int], Policy]
"""A policy, or a factory ``(core, seed) -> Policy`` (scripted policies need the core)."""

#: Family metric name -> record key it is reported under.
FAMILY_METRICS: dict[str, tuple[str, ...]] = {
    "squeeze": ("optimum_gap", "mean_level"),
    "ising": ("order_parameter",),
    "battle": ("win", "red_alive", "blue_alive"),
}


# --------------------------------------------------------------------------- provenance
@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The source checkout's commit (``"unknown"`` outside a git checkout); read-only."""
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def make_core(env_id: str, env_kwargs: dict[str, Any]) -> Any:
    """``gym.make(env_id, **env_kwargs).unwrapped.core``."""
    import gymnasium as gym

    import mfdiff_envs  # noqa: F401  (registers the ids)

    return gym.make(env_id, **env_kwargs).unwrapped.core


# --------------------------------------------------------------------------- rollouts
def _episode_seed(seed: int, episode: int) -> int:
    return int(seed) * 1000 + int(episode)


def rollout(policy: Policy, core: Any, seed: int) -> dict[str, Any]:
    """One batched episode. Returns return, per-step metrics, act latency and wall time."""
    t_start = time.perf_counter()
    obs, _ = core.reset(seed=seed)
    policy.reset(seed)
    ret, act_s, steps = 0.0, 0.0, 0
    step_metrics: dict[str, list[float]] = {}
    while True:
        t0 = time.perf_counter()
        actions = policy.act_batch(obs, core.alive.copy())
        act_s += time.perf_counter() - t0
        obs, rew, term, trunc, _ = core.step(actions)
        ret += core.team_reward(rew)
        steps += 1
        for k, v in core.metrics().items():
            step_metrics.setdefault(k, []).append(float(v))
        if bool(np.all(term | trunc | ~core.alive)):
            break
    final = {k: v[-1] for k, v in step_metrics.items()}
    mean = {k: float(np.mean(v)) for k, v in step_metrics.items()}
    return {"return": ret, "steps": steps, "act_seconds": act_s,
            "wall_seconds": time.perf_counter() - t_start, "metrics_final": final,
            "metrics_mean": mean}


def _as_policy(policy: PolicyLike, core: Any, seed: int) -> Policy:
    return policy if isinstance(policy, Policy) else policy(core, seed)


_REF_CACHE: dict[str, tuple[float, float]] = {}


def reference_scores(env_id: str, env_kwargs: dict[str, Any], *,
                     dataset_id: str | None = None) -> tuple[float, float]:
    """(ref_min, ref_max) for normalised scores.

    With ``dataset_id``: the Minari dataset's ``ref_min_score``/``ref_max_score``. Otherwise the
    mean returns of the uniform random policy (min) and the scripted expert (max) measured exactly
    as the dataset builder measures them (:func:`mfdiff_envs.offline.build.reference_scores`), so
    scores match those of a dataset built on the same env. Cached per (env, kwargs, dataset).
    """
    key = json.dumps([env_id, env_kwargs, dataset_id], sort_keys=True)
    if key in _REF_CACHE:
        return _REF_CACHE[key]
    if dataset_id is not None:
        import minari

        meta = minari.load_dataset(dataset_id).storage.metadata
        lo, hi = meta.get("ref_min_score"), meta.get("ref_max_score")
        if lo is None or hi is None:
            raise ValueError(f"dataset {dataset_id} has no ref_min_score/ref_max_score")
        ref = (float(lo), float(hi))
    else:
        from mfdiff_envs.offline.build import reference_scores as measured_reference_scores

        ref = measured_reference_scores(make_core(env_id, env_kwargs))
    _REF_CACHE[key] = ref
    return ref


def normalized_score(returns: Any, ref: tuple[float, float]) -> np.ndarray:
    """``100 · (R − ref_min) / (ref_max − ref_min)`` (minari.get_normalized_score × 100)."""
    lo, hi = ref
    if hi == lo:
        raise ValueError(f"degenerate reference scores ({lo}, {hi})")
    return 100.0 * (np.asarray(returns, float) - lo) / (hi - lo)


def evaluate(
    policy: PolicyLike,
    env_id: str,
    env_kwargs: dict[str, Any],
    seeds: Iterable[int],
    episodes: int = 1,
    *,
    method: str | None = None,
    ref_scores: tuple[float, float] | None = None,
    dataset_id: str | None = None,
    tier: str | None = None,
    config: dict[str, Any] | None = None,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Evaluate ``policy`` on ``env_id`` for every seed; one record (dict) per seed.

    Args:
        policy: a Policy, or a factory ``(core, seed) -> Policy`` (called once per seed).
        env_id, env_kwargs: ``gym.make(env_id, **env_kwargs)`` (must include ``n_agents``).
        seeds: run seeds; episode e of seed s resets env and policy with seed ``1000 s + e``.
        episodes: episodes per seed (the record holds their mean and the list).
        method: label in the record (default: the policy's class name).
        ref_scores: (ref_min, ref_max); default :func:`reference_scores` (``dataset_id``).
        tier: data tier the policy was trained on (label for plots).
        config: extra data stored under ``"config"`` (e.g. the training Config).
    """
    from tqdm.auto import tqdm

    env_kwargs = dict(env_kwargs)
    seeds = [int(s) for s in seeds]
    core = make_core(env_id, env_kwargs)
    if ref_scores is None:
        ref_scores = reference_scores(env_id, env_kwargs, dataset_id=dataset_id)
    records = []
    for seed in tqdm(seeds, desc=f"eval {method or ''}", disable=not progress, leave=False):
        pol = _as_policy(policy, core, seed)
        label = method or type(pol).__name__
        eps = [rollout(pol, core, _episode_seed(seed, e)) for e in range(episodes)]
        rets = [e["return"] for e in eps]
        scores = normalized_score(rets, ref_scores).tolist()
        steps = sum(e["steps"] for e in eps)
        m_final = {k: float(np.mean([e["metrics_final"][k] for e in eps]))
                   for k in eps[0]["metrics_final"]}
        m_mean = {k: float(np.mean([e["metrics_mean"][k] for e in eps]))
                  for k in eps[0]["metrics_mean"]}
        rec: dict[str, Any] = {
            "method": label,
            "env_id": env_id,
            "family": core.family,
            "n_agents": int(core.n_agents),
            "env_kwargs": env_kwargs,
            "tier": tier,
            "seed": seed,
            "episodes": episodes,
            "returns": rets,
            "return": float(np.mean(rets)),
            "normalized_scores": scores,
            "normalized_score": float(np.mean(scores)),
            "ref_min": ref_scores[0],
            "ref_max": ref_scores[1],
            "dataset_id": dataset_id,
            "metrics_final": m_final,
            "metrics_mean": m_mean,
            "wall_seconds": float(sum(e["wall_seconds"] for e in eps)),
            "latency_ms": 1000.0 * sum(e["act_seconds"] for e in eps) / max(steps, 1),
            "steps": steps,
            "config": config,
            "git_commit": git_commit(),
            "python": sys.version.split()[0],
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        # headline env metrics
        if "optimum_gap" in m_mean:
            rec["optimum_gap"] = m_mean["optimum_gap"]
        if "order_parameter" in m_mean:
            rec["order_parameter"] = m_final["order_parameter"]
            rec["order_parameter_mean"] = m_mean["order_parameter"]
        if "win" in m_final:
            rec["win_rate"] = m_final["win"]
        records.append(rec)
    return records


def write_jsonl(records: Iterable[dict[str, Any]], path: str | Path, *,
                append: bool = True) -> Path:
    """Append (or write) records as JSON lines."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("a" if append else "w") as f:
        for r in records:
            f.write(json.dumps(r, default=_json_default) + "\n")
    return p


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# --------------------------------------------------------------------------- statistics
def iqm(x: Sequence[float]) -> float:
    """Interquartile mean: mean of the middle 50 % (``trim_mean(x, 0.25)``, as rliable)."""
    return float(stats.trim_mean(np.asarray(x, float), 0.25))


def bootstrap_ci(x: Sequence[float], *, statistic: Callable = np.mean, confidence: float = 0.95,
                 n_resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap CI of ``statistic`` over runs (rliable's default interval).

    With fewer than two runs, or identical values, the interval collapses to the point value.
    """
    x = np.asarray(x, float)
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


# --------------------------------------------------------------------------- tables
def markdown_table(records: Sequence[dict[str, Any]], *, command: str,
                   metrics: Sequence[str] = ("normalized_score", "return", "optimum_gap",
                                             "order_parameter", "win_rate", "latency_ms"),
                   by: Sequence[str] = ("method", "env_id", "n_agents", "tier"),
                   title: str = "Results") -> str:
    """A markdown table (one row per group, mean [95 % CI] and IQM per metric present), headed
    by the exact command that regenerates it."""
    present = [m for m in metrics if any(get_metric(r, m) is not None for r in records)]
    per_metric = {m: {tuple(a[k] for k in by): a for a in aggregate(records, metric=m, by=by)}
                  for m in present}
    keys: list[tuple] = []
    for r in records:
        if r.get("error"):
            continue
        k = tuple(r.get(b) for b in by)
        if k not in keys:
            keys.append(k)
    shown_by = [b for b in by if any(k[by.index(b)] is not None for k in keys)]
    head = [*shown_by, *present, "seeds"]
    lines = [f"# {title}", "", "Regenerate with:", "", "```", command, "```", "",
             "Cells: mean [95 % bootstrap CI] (IQM) over seeds; normalised score 0 = random, "
             "100 = reference max.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for k in keys:
        cells = [str(k[by.index(b)]) for b in shown_by]
        n = 0
        for m in present:
            a = per_metric[m].get(k)
            if a is None:
                cells.append("–")
                continue
            n = max(n, a["n"])
            fmt = _fmt(m)
            cells.append(f"{fmt(a['mean'])} [{fmt(a['ci_low'])}, {fmt(a['ci_high'])}] "
                         f"({fmt(a['iqm'])})")
        lines.append("| " + " | ".join([*cells, str(n)]) + " |")
    errors = [r for r in records if r.get("error")]
    if errors:
        lines += ["", "Not run (the method refused the population):", ""]
        lines += [f"- {r['method']} at N = {r['n_agents']}: {r['error']}" for r in errors]
    return "\n".join(lines) + "\n"


def _fmt(metric: str) -> Callable[[float], str]:
    if metric in ("optimum_gap", "win_rate", "order_parameter"):
        return lambda v: f"{v:.3f}"
    if metric == "latency_ms":
        return lambda v: f"{v:.2f}"
    return lambda v: f"{v:.1f}"


# --------------------------------------------------------------------------- plots
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _lines_vs_n(ax: Any, records: Sequence[dict[str, Any]], metric: str) -> None:
    methods = list(dict.fromkeys(r["method"] for r in records))
    for m in methods:
        agg = sorted(aggregate([r for r in records if r["method"] == m], metric=metric,
                               by=("n_agents",)), key=lambda a: a["n_agents"])
        if not agg:
            continue
        n = np.array([a["n_agents"] for a in agg])
        mean = np.array([a["mean"] for a in agg])
        err = np.array([[a["mean"] - a["ci_low"] for a in agg],
                        [a["ci_high"] - a["mean"] for a in agg]])
        ax.errorbar(n, mean, yerr=err, marker="o", capsize=3, label=m)
    ax.set_xscale("log")
    ax.set_xlabel("N agents")
    ax.grid(alpha=0.3)


def plot_score_vs_n(records: Sequence[dict[str, Any]], path: str | Path, *,
                    metric: str = "normalized_score") -> Path:
    """One panel per env: ``metric`` (mean ± 95 % CI over seeds) vs N, a line per method."""
    plt = _plt()
    envs = list(dict.fromkeys(r["env_id"] for r in records))
    fig, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 4), squeeze=False)
    for ax, env in zip(axes[0], envs):
        _lines_vs_n(ax, [r for r in records if r["env_id"] == env], metric)
        ax.set_title(env)
        ax.set_ylabel(metric)
    axes[0][0].legend(fontsize=8)
    return _save(fig, path)


def plot_latency_vs_n(records: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Planning latency per step (ms, log-log) vs N, a line per method."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 4))
    _lines_vs_n(ax, records, "latency_ms")
    ax.set_yscale("log")
    ax.set_ylabel("ms per act_batch")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_score_by_tier(records: Sequence[dict[str, Any]], path: str | Path, *,
                       metric: str = "normalized_score") -> Path:
    """Grouped bars: ``metric`` per data tier (x) and method (bars), with 95 % CIs."""
    plt = _plt()
    tiers = list(dict.fromkeys(str(r.get("tier")) for r in records))
    methods = list(dict.fromkeys(r["method"] for r in records))
    agg = {(a["method"], str(a["tier"])): a
           for a in aggregate(records, metric=metric, by=("method", "tier"))}
    fig, ax = plt.subplots(figsize=(max(5, 1.5 * len(tiers) * max(1, len(methods)) / 2), 4))
    width = 0.8 / max(len(methods), 1)
    for j, m in enumerate(methods):
        xs, ys, lo, hi = [], [], [], []
        for i, t in enumerate(tiers):
            a = agg.get((m, t))
            if a is None:
                continue
            xs.append(i + (j - (len(methods) - 1) / 2) * width)
            ys.append(a["mean"])
            lo.append(a["mean"] - a["ci_low"])
            hi.append(a["ci_high"] - a["mean"])
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=m)
    ax.set_xticks(range(len(tiers)), tiers)
    ax.set_xlabel("data tier")
    ax.set_ylabel(metric)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, path)


def _save(fig: Any, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(p, dpi=110)
    _plt().close(fig)
    return p


# --------------------------------------------------------------------------- loading policies
def load_policy(spec: str | os.PathLike, *, device: str = "cpu") -> PolicyLike:
    """``"random" | "medium" | "expert"`` -> a factory of the scripted policy; a checkpoint
    directory -> the trained policy (dispatch on ``config.json``'s ``"method"``)."""
    from mfdiff_agents.baselines import LOADERS
    from mfdiff_agents.baselines.scripted import SCRIPTED_NAMES, make_scripted

    name = str(spec)
    if name in SCRIPTED_NAMES and not Path(name).is_dir():
        return lambda core, seed: make_scripted(name, core, seed=seed)
    d = Path(name)
    cfg_path = d / "config.json"
    if not cfg_path.is_file():
        raise FileNotFoundError(
            f"--policy {name!r} is neither one of {SCRIPTED_NAMES} nor a checkpoint directory "
            f"(no {cfg_path})")
    method = json.loads(cfg_path.read_text()).get("method", "mfdiffuser")
    loader = LOADERS().get(method)
    if loader is None:
        raise ValueError(f"{d}: unknown method {method!r}; known: {sorted(LOADERS())}")
    return loader(d, device=device)


def policy_label(spec: str | os.PathLike) -> str:
    """Method name of a ``--policy`` spec (the checkpoint's ``method`` or the scripted name)."""
    cfg = Path(spec) / "config.json"
    if cfg.is_file():
        return str(json.loads(cfg.read_text()).get("method", "mfdiffuser"))
    return str(spec)


# --------------------------------------------------------------------------- sweeps
_SWEEP_KEYS = {"seeds", "episodes", "runs", "device"}
_RUN_KEYS = {"policy", "env", "n_agents", "env_kwargs", "dataset", "tier", "label", "seeds",
             "episodes"}


def load_sweep(path: str | Path) -> dict[str, Any]:
    """Read a sweep file (``.json`` or ``.toml``) and check its keys.

    Format (TOML shown; JSON has the same structure)::

        seeds = 5                 # an int (0..n-1) or a list of seeds
        episodes = 1
        [[runs]]
        policy = "random"         # random | medium | expert | a checkpoint directory
        env = "mfdiff/GaussianSqueeze-v0"
        n_agents = [100, 1000]    # an int or a list (one run group per N)
        env_kwargs = { max_cycles = 25 }
        dataset = "mfdiff/squeeze-n1000/medium-v0"   # optional: reference scores from it
        tier = "medium"           # optional label (data tier of the policy)
        label = "bc"              # optional method name (default: checkpoint method / policy)
    """
    p = Path(path)
    if p.suffix == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib
        spec = tomllib.loads(p.read_text())
    else:
        spec = json.loads(p.read_text())
    unknown = set(spec) - _SWEEP_KEYS
    if unknown:
        raise ValueError(f"{p}: unknown sweep keys {sorted(unknown)}; valid: {sorted(_SWEEP_KEYS)}")
    if not spec.get("runs"):
        raise ValueError(f"{p}: the sweep has no [[runs]]")
    for i, run in enumerate(spec["runs"]):
        bad = set(run) - _RUN_KEYS
        if bad:
            raise ValueError(
                f"{p}: runs[{i}] has unknown keys {sorted(bad)}; valid: {sorted(_RUN_KEYS)}")
        for k in ("policy", "env", "n_agents"):
            if k not in run:
                raise ValueError(f"{p}: runs[{i}] needs {k!r}")
    return spec


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
    return list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]


def run_sweep(spec: dict[str, Any], *, out: str | Path | None = None,
              progress: bool = True) -> list[dict[str, Any]]:
    """Evaluate every (run, N) of a sweep spec (see :func:`load_sweep`); appends each group's
    records to ``out`` (JSON lines) as it finishes. Returns all records.

    A (run, N) whose policy refuses the population (a ValueError such as the joint diffuser's
    ``max_agents`` guard, or a MemoryError) gives one record with an ``"error"`` field and no
    metrics, so a scaling sweep records where a method stops instead of aborting."""
    from tqdm.auto import tqdm

    jobs = []
    for run in spec["runs"]:
        ns = run["n_agents"] if isinstance(run["n_agents"], list) else [run["n_agents"]]
        jobs += [(run, int(n)) for n in ns]
    records: list[dict[str, Any]] = []
    device = spec.get("device", "cpu")
    for run, n in tqdm(jobs, desc="sweep", disable=not progress):
        policy = load_policy(run["policy"], device=device)
        label = run.get("label") or policy_label(run["policy"])
        env_kwargs = {**run.get("env_kwargs", {}), "n_agents": n}
        try:
            recs = evaluate(
                policy, run["env"], env_kwargs,
                _seed_list(run.get("seeds", spec.get("seeds", 5))),
                int(run.get("episodes", spec.get("episodes", 1))),
                method=label, dataset_id=run.get("dataset"), tier=run.get("tier"),
                config={"policy": str(run["policy"])},
            )
        except (ValueError, MemoryError) as e:  # e.g. the joint diffuser's max_agents guard
            recs = [{"method": label, "env_id": run["env"], "n_agents": n,
                     "env_kwargs": env_kwargs, "tier": run.get("tier"),
                     "error": f"{type(e).__name__}: {e}", "git_commit": git_commit()}]
        if out is not None:
            write_jsonl(recs, out)
        records += recs
    return records


def write_report(records: Sequence[dict[str, Any]], directory: str | Path, *, name: str,
                 command: str, title: str | None = None) -> dict[str, Path]:
    """``<dir>/<name>.md`` (table) and the PNG plots that apply (score vs N, by tier, latency)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = {"table": d / f"{name}.md"}
    paths["table"].write_text(markdown_table(records, command=command, title=title or name))
    if len({r["n_agents"] for r in records}) > 1:
        paths["score_vs_n"] = plot_score_vs_n(records, d / f"{name}_score_vs_n.png")
        paths["latency_vs_n"] = plot_latency_vs_n(records, d / f"{name}_latency_vs_n.png")
    if len({r.get("tier") for r in records}) > 1:
        paths["score_by_tier"] = plot_score_by_tier(records, d / f"{name}_score_by_tier.png")
    return paths
