"""``mfdiff demo``: the whole pipeline, small, on a laptop CPU.

1. Build a Gaussian Squeeze dataset (N = 1000, mixed tier: a learner's replay, poor to good) with
   :func:`mfdiff_envs.offline.build_dataset`.
2. Train MF-Diffuser and BC (``METHODS["mfdiffuser"]``, ``METHODS["bc"]`` of
   :mod:`mfdiff_agents.methods`) briefly on windows of it.
3. Evaluate both beside the random and the scripted expert policy over seeds
   (:func:`mfdiff_agents.evaluation.evaluate`) and print a table: return, normalized score
   (0 = random, 100 = expert, the dataset's reference scores), gap to the analytic optimum.
4. Write ``records.jsonl``, ``table.md``, ``demo.png`` and the two checkpoints to ``out_dir``.

Datasets: the demo never reads or writes your Minari datasets. It always points
``MINARI_DATASETS_PATH`` at ``<out_dir>/minari`` while it runs (restored afterwards) and rebuilds
its dataset there, so a user's ``~/.minari`` or ``$MINARI_DATASETS_PATH`` is never clobbered.

Budget: default 2½–4 minutes on a 2-core machine (143 s wall on a quiet one, 2026-12-06;
188–236 s beside other jobs, 2026-12-04; up to 10 minutes on a slower one shared with other
jobs); ``--quick`` 7–20 s (7 s wall on a quiet machine, 2026-12-06; 17 s on busy cores; the
test suite runs it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ENV_ID = "mfdiff/GaussianSqueeze-v0"
#: Written into a demo's output directory: only a directory holding it is one the demo may
#: rewrite (it deletes its own checkpoint folders ``bc/`` and ``mfdiffuser/`` before training).
MARKER = ".mfdiff-demo"


@dataclasses.dataclass
class DemoConfig:
    """Everything the demo does, with the default (3–4 min on 2 cores) budget."""

    out_dir: Path = Path("runs/demo")
    """Output directory (records, table, plot, checkpoints, private Minari root)."""
    n_agents: int = 1000
    """Population size N of the dataset and of the evaluation."""
    tier: str = "mixed"
    """Dataset tier: "mixed" (a learner's replay, poor to good: the suboptimal data the method
    targets), or "medium" / "expert" / "random"."""
    max_cycles: int = 25
    """Steps per episode."""
    dataset_episodes: int = 100
    """Episodes in the dataset."""
    horizon: int = 8
    """Window / plan horizon H."""
    n_particles: int = 32
    """Particles K per training window."""
    mf_steps: int = 800
    """MF-Diffuser gradient steps."""
    mf_width: int = 64
    """MF-Diffuser denoiser width."""
    mf_depth: int = 3
    """MF-Diffuser denoiser depth."""
    mf_ddim_steps: int = 10
    """Reverse steps when planning."""
    mf_k_schedule: tuple[int, ...] = (16, 64, 256)
    """Coarse-to-fine particle schedule when planning."""
    mf_replan_every: int = 1
    """Replan every k env steps (Squeeze config: every step; the level-3 share drifts between
    replans, docs/results/squeeze_uniform.md)."""
    mf_head_noise: float = 0.75
    """Noise on the action head's inputs while training (Squeeze config,
    configs/mfdiffuser/squeeze.json: a head that does not read the plan's generation error as
    signal)."""
    mf_head_temperature: float = 1.0
    """Action head temperature; with ``mf_head_remove_uniform`` the acting of the Squeeze config
    (configs/mfdiffuser/squeeze.json: the optimum's split between levels 2 and 3, which the
    library default 0.3 sharpens away)."""
    mf_head_remove_uniform: bool = True
    """Remove the uniform floor of the head's distribution before decoding (Squeeze config:
    the behaviour data's random actions go, the minority level stays;
    docs/results/squeeze_uniform.md)."""
    mf_head_min_p: float = 0.0
    """Action head min-p truncation (Squeeze config: off since the floor is removed)."""
    mf_plan_samples: int = 4
    """Plans sampled per replan (Squeeze config: one plan's sampling noise moves the whole
    population's mean level, which the shared reward depends on)."""
    mf_plan_combine: str = "mean"
    """What the agents act on with several plans: "mean", the action head's distribution
    averaged over them (Squeeze config since the thirty-eighth update,
    docs/results/squeeze_mixture.md), or "best", the plan the value net rates best."""
    mf_head_ensemble: int = 4
    """Action heads trained side by side, acting on the mean of their distributions (Squeeze
    config: one head's decoding is a draw of its training, docs/method.md (18))."""
    bc_steps: int = 1000
    """BC gradient steps."""
    bc_temperature: float = 0.5
    """BC's acting temperature (configs/bc/squeeze.json: sampling at the default T = 1
    reproduces the data's mistakes; docs/results/baseline_temp_squeeze.md)."""
    seeds: int = 5
    """Evaluation seeds."""
    episodes: int = 1
    """Evaluation episodes per seed."""
    seed: int = 0
    """Dataset / training seed."""
    progress: bool = True
    """Progress bars."""

    def __post_init__(self) -> None:
        # counts checked before the dataset is built and the models trained, not after them
        from mfdiff_agents.config import ConfigError

        counts = ("n_agents", "max_cycles", "dataset_episodes", "mf_steps", "bc_steps",
                  "seeds", "episodes")
        bad = {k: getattr(self, k) for k in counts
               if isinstance(getattr(self, k), bool) or not isinstance(getattr(self, k), int)
               or getattr(self, k) < 1}
        if bad:
            raise ConfigError(f"{', '.join(f'{k}={v!r}' for k, v in bad.items())}:"
                              " each must be an integer >= 1")

    @classmethod
    def quick(cls) -> DemoConfig:
        """The ~1 min budget used by the test suite."""
        return cls(max_cycles=10, dataset_episodes=8, horizon=4, n_particles=16, mf_steps=40,
                   mf_width=32, mf_depth=1, mf_ddim_steps=2, mf_k_schedule=(8, 16),
                   mf_replan_every=2, bc_steps=60, seeds=2, out_dir=Path("runs/demo-quick"))

    def replace(self, **kw: Any) -> DemoConfig:
        """A copy with the fields ``kw`` changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **kw)


@contextlib.contextmanager
def private_minari_root(path: Path) -> Iterator[Path]:
    """Point MINARI_DATASETS_PATH at ``path`` for the block, then restore the user's value."""
    old = os.environ.get("MINARI_DATASETS_PATH")
    path.mkdir(parents=True, exist_ok=True)
    os.environ["MINARI_DATASETS_PATH"] = str(path.resolve())
    try:
        yield path
    finally:
        if old is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


def claim_out_dir(out: Path) -> None:
    """Create ``out`` for the demo, or accept it when it is empty or an earlier demo's (it holds
    :data:`MARKER`); otherwise raise :class:`~mfdiff_agents.config.ConfigError`. Why: the demo
    replaces ``out/bc`` and ``out/mfdiffuser``, and ``mfdiff train``'s default output for BC is
    ``runs/bc/...``: ``--out runs`` must not wipe a user's runs."""
    from mfdiff_agents.config import ConfigError

    if out.exists() and not out.is_dir():
        raise ConfigError(f"mfdiff demo --out {out}: a file, not a directory")
    if out.is_dir() and any(out.iterdir()) and not _demo_dir(out):
        raise ConfigError(
            f"mfdiff demo --out {out}: this directory holds files an mfdiff demo did not write "
            f"(no {MARKER}), and the demo replaces its subfolders bc/ and mfdiffuser/; give a new "
            "or empty directory")
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by `mfdiff demo`: it may rewrite this directory\n")


def _demo_dir(out: Path) -> bool:
    """``out`` was written by a demo: it holds :data:`MARKER`, or (demos from before the
    marker) a ``table.md`` that a demo wrote."""
    if (out / MARKER).is_file():
        return True
    table = out / "table.md"
    try:
        return table.is_file() and table.read_text().startswith("# mfdiff demo\n")
    except (OSError, UnicodeDecodeError):
        return False


def _log(msg: str) -> None:
    print(f"[mfdiff demo] {msg}", file=sys.stderr, flush=True)


#: DemoConfig fields the ``mfdiff demo`` command line can set, and their flags
DEMO_FLAGS = {"n_agents": "--n-agents", "seeds": "--seeds", "episodes": "--episodes",
              "tier": "--tier"}


def demo_command(cfg: DemoConfig) -> str:
    """The ``mfdiff demo`` command line that runs ``cfg`` (its --quick or default budget, the
    flags for what differs from it, --out, and the torch threads in use), for table.md. Fields
    no flag sets, changed from Python, are listed after a ``#``: the command alone would not
    reproduce them. Why: the table once said ``mfdiff demo --quick`` after ``--n-agents 37``,
    which reruns N = 1000 (an outside review)."""
    import shlex

    import torch

    def differing(base: DemoConfig) -> list[str]:
        return [f.name for f in dataclasses.fields(cfg)
                if f.name not in (*DEMO_FLAGS, "out_dir", "progress")
                and getattr(cfg, f.name) != getattr(base, f.name)]

    quick = DemoConfig.quick()
    # the budget the config is closest to (fewest fields that no flag sets)
    base = quick if len(differing(quick)) < len(differing(DemoConfig())) else DemoConfig()
    parts = ["mfdiff demo"] + (["--quick"] if base is quick else [])
    parts += [f"{flag} {shlex.quote(str(getattr(cfg, f)))}" for f, flag in DEMO_FLAGS.items()
              if getattr(cfg, f) != getattr(base, f)]
    parts += [f"--out {shlex.quote(str(cfg.out_dir))}", f"--threads {torch.get_num_threads()}"]
    other = [f"{name}={getattr(cfg, name)!r}" for name in differing(base)]
    return " ".join(parts) + (f"  # and from Python: {', '.join(other)}" if other else "")


def run_demo(cfg: DemoConfig) -> list[dict[str, Any]]:
    """Run the demo (see module docstring); returns the evaluation records.

    Raises:
        ConfigError: ``cfg.out_dir`` is a file, holds files no demo wrote, or another demo is
            writing into it.
    """
    out = Path(cfg.out_dir)
    claim_out_dir(out)
    with _demo_lock(out):
        return _run_demo(cfg)


@contextlib.contextmanager
def _demo_lock(out: Path) -> Iterator[None]:
    """Hold ``out/.demo.lock`` for the demo: a second demo into ``out`` is refused (two at once
    replaced each other's runs and doubled the records: an outside audit). POSIX ``flock``;
    elsewhere no lock."""
    from mfdiff_agents.config import ConfigError

    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(out / ".demo.lock", "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"mfdiff demo --out {out}: another demo is writing into it; "
                              "give another --out, or wait for it") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _run_demo(cfg: DemoConfig) -> list[dict[str, Any]]:
    """:func:`run_demo` under its lock."""
    from mfdiff_agents import evaluation as ev
    from mfdiff_agents.baselines.scripted import make_scripted
    from mfdiff_agents.methods import METHODS, make_sampler
    from mfdiff_envs.offline import build_dataset

    t_start = time.perf_counter()
    out = Path(cfg.out_dir)
    env_kwargs = {"max_cycles": cfg.max_cycles}
    timings: dict[str, float] = {}
    with private_minari_root(out / "minari"):
        t = time.perf_counter()
        _log(f"building dataset: Gaussian Squeeze N={cfg.n_agents}, {cfg.tier}, "
             f"{cfg.dataset_episodes} episodes (private Minari root {out / 'minari'})")
        ds = build_dataset("squeeze", n_agents=cfg.n_agents, tier=cfg.tier,
                           episodes=cfg.dataset_episodes, env_kwargs=env_kwargs, seed=cfg.seed,
                           overwrite=True, progress=cfg.progress)
        ds_id = ds.spec.dataset_id
        timings["dataset"] = time.perf_counter() - t

        mfd, bc = METHODS["mfdiffuser"], METHODS["bc"]
        mf_cfg = mfd.config(
            horizon=cfg.horizon, n_particles=cfg.n_particles, steps=cfg.mf_steps,
            width=cfg.mf_width, depth=cfg.mf_depth, ddim_steps=cfg.mf_ddim_steps,
            k_schedule=cfg.mf_k_schedule, replan_every=cfg.mf_replan_every,
            head_noise=cfg.mf_head_noise, head_temperature=cfg.mf_head_temperature,
            head_remove_uniform=cfg.mf_head_remove_uniform,
            head_min_p=cfg.mf_head_min_p, plan_samples=cfg.mf_plan_samples,
            plan_combine=cfg.mf_plan_combine,
            head_ensemble=cfg.mf_head_ensemble, seed=cfg.seed,
            stats_windows=256, ckpt_every=0, device="auto")
        bc_cfg = bc.config(horizon=cfg.horizon, n_particles=cfg.n_particles, steps=cfg.bc_steps,
                           temperature=cfg.bc_temperature, seed=cfg.seed, ckpt_every=0)
        sampler = make_sampler(ds_id, mf_cfg)  # both configs ask for the same windows
        trained = {}
        for method, mcfg in ((mfd, mf_cfg), (bc, bc_cfg)):
            t = time.perf_counter()
            _log(f"training {method.name} ({mcfg.steps} steps)")
            run_dir = out / method.name
            if run_dir.exists():
                shutil.rmtree(run_dir)  # a fresh run (training refuses to overwrite one)
            trained[method.name] = method.fit(sampler, mcfg, out_dir=run_dir,
                                              progress=cfg.progress)
            timings[f"train_{method.name}"] = time.perf_counter() - t
        mf_policy, bc_policy = trained["mfdiffuser"], trained["bc"]

        policies: list[tuple[str, Any]] = [
            ("random", lambda core, seed: make_scripted("random", core, seed=seed)),
            ("expert (scripted)", lambda core, seed: make_scripted("expert", core, seed=seed)),
            ("BC", bc_policy),
            ("MF-Diffuser", mf_policy),
        ]
        records: list[dict[str, Any]] = []
        t = time.perf_counter()
        (out / "records.jsonl").unlink(missing_ok=True)
        for name, pol in policies:
            _log(f"evaluating {name} on N={cfg.n_agents}, {cfg.seeds} seeds")
            recs = ev.evaluate(pol, ENV_ID, {**env_kwargs, "n_agents": cfg.n_agents},
                               range(cfg.seeds), cfg.episodes, method=name, dataset_id=ds_id,
                               tier=cfg.tier, progress=cfg.progress,
                               config={"demo": _plain(dataclasses.asdict(cfg))})
            ev.write_jsonl(recs, out / "records.jsonl")
            records += recs
        timings["evaluate"] = time.perf_counter() - t

    command = demo_command(cfg)
    table = comparison_table(records)
    print(table)
    (out / "table.md").write_text(
        f"# mfdiff demo\n\nRegenerate with:\n\n```\n{command}\n```\n\n"
        f"Squeeze N = {cfg.n_agents}, {cfg.tier} data, {cfg.seeds} evaluation seeds x "
        f"{cfg.episodes} episode(s).\n\n{table}\n"
        f"Timings (s): {', '.join(f'{k} {v:.1f}' for k, v in timings.items())}; "
        f"total {time.perf_counter() - t_start:.1f}.\n")
    plot_demo(records, out / "demo.png")
    _log(f"wrote {out / 'records.jsonl'}, {out / 'table.md'}, {out / 'demo.png'} "
         f"in {time.perf_counter() - t_start:.0f} s")
    return records


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in d.items()}


def comparison_table(records: list[dict[str, Any]]) -> str:
    """Markdown: method | return | normalized score | gap to optimum % | latency, each
    mean [95 % CI] over seeds (IQM for the score)."""
    from mfdiff_agents.evaluation.stats import aggregate

    methods = list(dict.fromkeys(r["method"] for r in records))
    agg = {m: {a["method"]: a for a in aggregate(records, metric=m, by=("method",))}
           for m in ("return", "normalized_score", "optimum_gap", "latency_ms")}
    lines = ["| method | return | normalized score mean [95 % CI] (IQM) | gap to optimum % "
             "| ms / step | seeds |", "|---|---|---|---|---|---|"]
    for m in methods:
        r, s = agg["return"][m], agg["normalized_score"][m]
        g, lat = agg["optimum_gap"][m], agg["latency_ms"][m]
        lines.append(
            f"| {m} | {r['mean']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}] "
            f"| {s['mean']:.1f} [{s['ci_low']:.1f}, {s['ci_high']:.1f}] ({s['iqm']:.1f}) "
            f"| {100 * g['mean']:.2f} [{100 * g['ci_low']:.2f}, {100 * g['ci_high']:.2f}] "
            f"| {lat['mean']:.2f} | {s['n']} |")
    return "\n".join(lines) + "\n"


def plot_demo(records: list[dict[str, Any]], path: Path) -> Path:
    """Two panels: normalised score and gap to optimum (%), bars with 95 % CIs per method."""
    from mfdiff_agents.evaluation.report import plt_agg, save_figure
    from mfdiff_agents.evaluation.stats import aggregate

    plt = plt_agg()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric, scale, label in ((axes[0], "normalized_score", 1.0, "normalized score"),
                                     (axes[1], "optimum_gap", 100.0, "gap to optimum (%)")):
        agg = aggregate(records, metric=metric, by=("method",))
        names = [a["method"] for a in agg]
        mean = np.array([a["mean"] for a in agg]) * scale
        err = np.array([[a["mean"] - a["ci_low"] for a in agg],
                        [a["ci_high"] - a["mean"] for a in agg]]) * scale
        ax.bar(range(len(names)), mean, yerr=err, capsize=4,
               color=["#999999", "#4c72b0", "#dd8452", "#55a868"][: len(names)])
        ax.set_xticks(range(len(names)), names, rotation=15)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, axis="y")
    n = records[0]["n_agents"] if records else "?"
    fig.suptitle(f"Gaussian Squeeze, N = {n} (mean ± 95% bootstrap CI over seeds)")
    return save_figure(fig, path)
