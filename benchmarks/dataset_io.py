"""Dataset I/O benchmark: build (rollout + hdf5 write), load, and window throughput.

    python benchmarks/dataset_io.py                     # writes docs/results/dataset_io.md
    python benchmarks/dataset_io.py --sizes 100 1000 --out /tmp/io.md

Gaussian Squeeze (d = 11, max_cycles = 100 steps per episode, expert tier) at each N, built
into a temporary MINARI_DATASETS_PATH that is deleted afterwards. Window throughput: batches
of ``--batch`` windows with K = ``--particles`` agents over H = ``--horizon`` steps.
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
    out: str = "docs/results/dataset_io.md"  # markdown table ("" = print only)


def parse_args(argv: list[str] | None = None) -> Args:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    d = Args()
    p.add_argument("--sizes", type=int, nargs="+", default=d.sizes)
    for name in ("steps", "horizon", "particles", "batch", "batches"):
        p.add_argument(f"--{name}", type=int, default=getattr(d, name))
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
    eps = load_episodes(ds_id)
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
        "load_s": t_load,
        "index_s": t_index,
        "windows_per_s": a.batch * a.batches / t_sample,
        "windows_per_cpu_s": a.batch * a.batches / c_sample,
        "batch_ms": 1000 * t_sample / a.batches,
    }


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
        f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC  ",
        f"Machine: {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}, numpy {np.__version__}; shared with other jobs "
        f"(load average at the end {os.getloadavg()[0]:.1f}), so wall times are upper bounds. "
        "`windows / CPU-s` divides by the process CPU time: the rate of one uncontended core "
        "(sampling is single-threaded numpy).",
        "",
        f"Gaussian Squeeze, d = 11, {a.steps} steps per episode, expert tier. Build = rollouts "
        "on the "
        "vectorised core + Minari hdf5 write (jpeg_encoding=False) + repack (one chunk per "
        "episode array) + atomic rename "
        "(reference scores "
        "given, not measured); write = build − rollout. Load = `load_episodes` (all arrays into "
        f"memory). Index = `WindowSampler` set-up (mean field, returns-to-go). Windows: K = "
        f"{a.particles}, H = {a.horizon}, batches of {a.batch}.",
        "",
        "| N | episodes | steps | size MB | rollout s | build s | write s | write MB/s "
        "| load s | load MB/s "
        "| index s | windows/s (wall) | windows / CPU-s | ms / batch |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['N']} | {r['episodes']} | {r['steps']} | {r['size_mb']:.1f} "
            f"| {r['rollout_s']:.2f} "
            f"| {r['build_s']:.2f} | {r['write_s']:.2f} "
            f"| {r['size_mb'] / max(r['write_s'], 1e-9):.0f} "
            f"| {r['load_s']:.2f} | {r['size_mb'] / r['load_s']:.0f} | {r['index_s']:.2f} "
            f"| {r['windows_per_s']:,.0f} | {r['windows_per_cpu_s']:,.0f} | {r['batch_ms']:.1f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
