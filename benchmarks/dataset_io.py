"""Dataset I/O benchmark: build (rollout + hdf5 write), load, window throughput, build workers.

    python benchmarks/dataset_io.py                     # writes docs/results/dataset_io.md
    python benchmarks/dataset_io.py --sizes 100 1000 --out /tmp/io.md

Gaussian Squeeze (d = 11, max_cycles = 100 steps per episode, expert tier) at each N, built
into a temporary MINARI_DATASETS_PATH that is deleted afterwards. Window throughput: batches
of ``--batch`` windows with K = ``--particles`` agents over H = ``--horizon`` steps.

Build workers: the same dataset (``--workers-family``, ``--workers-n`` agents,
``--workers-episodes`` episodes of at most ``--workers-steps`` steps) built with each
``--workers`` count; the content hashes must agree.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

EPISODES = {100: 200, 1000: 50, 10000: 5}


@dataclass
class Args:
    """Benchmark settings (every field is a command-line flag)."""

    sizes: list[int] = field(default_factory=lambda: [100, 1000, 10000])  # population sizes N
    steps: int = 100  # steps per episode (max_cycles)
    horizon: int = 16  # H
    particles: int = 64  # K
    batch: int = 256  # windows per sample() call
    batches: int = 40  # sample() calls timed
    workers: list[int] = field(default_factory=lambda: [1, 2])  # build processes compared
    workers_family: str = "squeeze"  # family of the workers comparison
    workers_n: int = 1000  # N of the workers comparison
    workers_episodes: int = 100  # episodes of the workers comparison
    workers_steps: int = 25  # steps per episode of the workers comparison (catalogue Squeeze)
    out: str = "docs/results/dataset_io.md"  # markdown table ("" = print only)


def parse_args(argv: list[str] | None = None) -> Args:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    d = Args()
    p.add_argument("--sizes", type=int, nargs="*", default=d.sizes)
    p.add_argument("--workers", type=int, nargs="*", default=d.workers)
    for name in (
        "steps", "horizon", "particles", "batch", "batches",
        "workers_n", "workers_episodes", "workers_steps",
    ):  # fmt: skip
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(d, name))
    p.add_argument("--workers-family", default=d.workers_family)
    p.add_argument("--out", default=d.out)
    return Args(**vars(p.parse_args(argv)))


def bench_one(n: int, a: Args) -> dict[str, float]:
    from mfdiff_envs.offline import WindowSampler, build_dataset, load_episodes
    from mfdiff_envs.offline.build import episode_seeds, make_env
    from mfdiff_envs.policies import make_behaviour_policy
    from mfdiff_envs.rollout import rollout

    episodes = EPISODES.get(n, max(1, 50_000 // n))
    env = make_env("mfdiff/GaussianSqueeze-v0", {"n_agents": n, "max_cycles": a.steps})
    core = env.unwrapped.core
    t = time.perf_counter()
    for es, ps in episode_seeds(0, episodes):
        rollout(core, make_behaviour_policy(core, 1.0, int(ps)), seed=int(es), record=True)
    t_roll = time.perf_counter() - t

    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = build_dataset(
            "squeeze",
            n_agents=n,
            tier="expert",
            episodes=episodes,
            env_kwargs={"max_cycles": a.steps},
            progress=False,
            ref_scores=(0.0, 1.0),
        )
    t_build = time.perf_counter() - t
    size = ds.storage.get_size()
    ds_id = ds.spec.dataset_id

    t = time.perf_counter()
    raw = list(ds.storage.get_episodes(range(episodes)))  # Minari's read alone, no checks
    t_read = time.perf_counter() - t
    del raw
    t = time.perf_counter()
    eps = load_episodes(ds_id)  # read + sha256 per episode + NaN/inf checks
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    sampler = WindowSampler(eps, horizon=a.horizon, n_particles=a.particles, seed=0)
    t_index = time.perf_counter() - t
    del eps
    sampler.sample(a.batch)  # warm-up
    t, c = time.perf_counter(), time.process_time()
    for _ in range(a.batches):
        sampler.sample(a.batch)
    t_sample, c_sample = time.perf_counter() - t, time.process_time() - c
    return {
        "N": n,
        "episodes": episodes,
        "steps": episodes * a.steps,
        "size_mb": size,
        "rollout_s": t_roll,
        "build_s": t_build,
        "write_s": t_build - t_roll,
        "read_s": t_read,
        "load_s": t_load,
        "index_s": t_index,
        "windows_per_s": a.batch * a.batches / t_sample,
        "windows_per_cpu_s": a.batch * a.batches / c_sample,
        "batch_ms": 1000 * t_sample / a.batches,
    }


def bench_workers(a: Args, root: Path) -> list[dict[str, float]]:
    """Build one dataset with each worker count (separate roots); time it, compare hashes."""
    import resource

    from mfdiff_envs.offline import build_dataset

    rows = []
    for k in a.workers:
        os.environ["MINARI_DATASETS_PATH"] = str(root / f"workers-{k}")
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        t, c = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = build_dataset(
                a.workers_family,
                n_agents=a.workers_n,
                tier="mixed",
                episodes=a.workers_episodes,
                env_kwargs={"max_cycles": a.workers_steps},
                progress=False,
                ref_scores=(0.0, 1.0),
                workers=k,
            )
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        kids_end = resource.getrusage(resource.RUSAGE_CHILDREN)
        kids_cpu = (kids_end.ru_utime + kids_end.ru_stime) - (kids.ru_utime + kids.ru_stime)
        meta = ds.storage.metadata
        rows.append(
            {
                "workers": k,
                "build_s": wall,
                "writer_cpu_s": cpu,
                "workers_cpu_s": kids_cpu,
                "steps": meta["total_steps"],
                "size_mb": meta["dataset_size"],
                "content": meta["mfdiff"]["integrity"]["content"],
            }
        )
        print(rows[-1], flush=True)
        shutil.rmtree(root / f"workers-{k}", ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="mfdiff_io_"))
    os.environ["MINARI_DATASETS_PATH"] = str(tmp)
    rows = []
    try:
        for n in a.sizes:
            r = bench_one(n, a)
            rows.append(r)
            print(r, flush=True)
        wrows = bench_workers(a, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    cmd = (
        "python benchmarks/dataset_io.py"
        + (" " + " ".join(argv) if argv else " " + " ".join(sys.argv[1:])).rstrip()
    )
    lines = [
        "# Dataset I/O benchmark",
        "",
        f"Command: `{cmd.strip()}`  ",
        f"Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC  ",
        f"Machine: {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}, numpy {np.__version__}; shared with other jobs "
        f"(load average at the end {os.getloadavg()[0]:.1f}), so wall times are upper bounds. "
        "`windows / CPU-s` divides by the process CPU time: the rate of one uncontended core "
        "(sampling is single-threaded numpy).",
        "",
        f"Gaussian Squeeze, d = 11, {a.steps} steps per episode, expert tier. Build = rollouts "
        "on the "
        "vectorised core + hdf5 write in Minari's layout (jpeg_encoding=False, one chunk per "
        "episode array, sha256 per episode) + atomic rename "
        "(reference scores "
        "given, not measured); write = build − rollout. Read = Minari's `get_episodes` over every "
        "episode, no checks; load = `load_episodes` (the same read + a sha256 of every episode "
        "against the digest recorded at build + NaN/inf checks; all arrays into "
        f"memory). Index = `WindowSampler` set-up (mean field, returns-to-go). Windows: K = "
        f"{a.particles}, H = {a.horizon}, batches of {a.batch}.",
        "",
        "| N | episodes | steps | size MB | rollout s | build s | write s | write MB/s "
        "| read s | load s | load MB/s "
        "| index s | windows/s (wall) | windows / CPU-s | ms / batch |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['N']} | {r['episodes']} | {r['steps']} | {r['size_mb']:.1f} "
            f"| {r['rollout_s']:.2f} "
            f"| {r['build_s']:.2f} | {r['write_s']:.2f} "
            f"| {r['size_mb'] / max(r['write_s'], 1e-9):.0f} "
            f"| {r['read_s']:.2f} | {r['load_s']:.2f} | {r['size_mb'] / r['load_s']:.0f} "
            f"| {r['index_s']:.2f} "
            f"| {r['windows_per_s']:,.0f} | {r['windows_per_cpu_s']:,.0f} | {r['batch_ms']:.1f} |"
        )
    if wrows:
        # repeated counts (--workers 1 2 1 2) show the noise of a shared machine; speed-up is
        # against the fastest single-process build
        singles = [r["build_s"] for r in wrows if r["workers"] == 1]
        base = min(singles) if singles else wrows[0]["build_s"]
        same = len({r["content"] for r in wrows}) == 1
        lines += [
            "",
            "## Build workers",
            "",
            f"{a.workers_family}, N = {a.workers_n}, {a.workers_episodes} episodes "
            f"(max_cycles {a.workers_steps}, {wrows[0]['steps']} steps in all), mixed tier, "
            "reference scores given: `build_dataset(..., workers=k)` (= `mfdiff data build ... "
            "--workers k`). Build s = wall time of the whole build (rollouts + hdf5 write + "
            "publish); writer CPU = this process (k = 1: rollouts and write; k > 1: receiving "
            "and writing); workers CPU = the rollout processes. Content sha256 "
            f"{'identical for every worker count' if same else 'DIFFERS between worker counts'} "
            f"({wrows[0]['content'][:16]}…).",
            "",
            "Speed-up = fastest workers = 1 build / this build.",
            "",
            "| workers | build s | speed-up | writer CPU s | workers CPU s | size MB |",
            "|---|---|---|---|---|---|",
        ]
        for r in wrows:
            lines.append(
                f"| {r['workers']} | {r['build_s']:.2f} | {base / r['build_s']:.2f}× "
                f"| {r['writer_cpu_s']:.2f} | {r['workers_cpu_s']:.2f} | {r['size_mb']:.1f} |"
            )
        best = {k: min(r["build_s"] for r in wrows if r["workers"] == k) for k in a.workers}
        lines += [
            "",
            "Fastest build per worker count: "
            + ", ".join(f"k = {k}: {v:.2f} s ({base / v:.2f}×)" for k, v in best.items())
            + ".",
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
