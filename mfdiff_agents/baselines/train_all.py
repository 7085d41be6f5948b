"""Train every trainable baseline on one dataset and save the checkpoints (for sweeps).

    python -m mfdiff_agents.baselines.train_all --dataset mfdiff/squeeze-n1000/medium-v0 \\
        --out runs/baselines/squeeze-n1000-medium [--steps-scale 1.0] [--only bc mfq]

Writes ``<out>/<method>/`` (config.json + model.safetensors) for bc, mfq,
independent_diffuser and joint_diffuser, with each module's default Config except ``steps``
(× ``--steps-scale``) and ``device``. Point a sweep file's ``policy`` at these directories.
Also: ``latency_table`` — act_batch latency vs N of saved policies (no env, random obs).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

METHODS = ("bc", "mfq", "independent_diffuser", "joint_diffuser")


def train_all(dataset: str, out: Path, *, steps_scale: float = 1.0, only: tuple[str, ...] = METHODS,
              horizon: int = 8, n_particles: int = 32, seed: int = 0, device: str = "auto",
              progress: bool = True) -> dict[str, Path]:
    """Fit each baseline in ``only`` on ``dataset`` and save it under ``out/<method>``."""
    from mfdiff_envs.offline import WindowSampler

    sampler = WindowSampler(dataset, horizon=horizon, n_particles=n_particles, seed=seed)
    paths = {}
    for name in only:
        mod = importlib.import_module(f"mfdiff_agents.baselines.{name}")
        base = mod.Config()
        cfg = dataclasses.replace(base, steps=max(1, int(base.steps * steps_scale)), seed=seed,
                                  device=device)
        t = time.perf_counter()
        policy = mod.fit(sampler, cfg, out_dir=out / name, progress=progress)
        info = {**getattr(policy, "train_info", {}), "wall_seconds": time.perf_counter() - t,
                "dataset": dataset}
        (out / name / "train_info.json").write_text(json.dumps(info, indent=2))
        paths[name] = out / name
    return paths


def latency_table(policies: dict[str, Any], ns: list[int], *, repeats: int = 3,
                  seed: int = 0) -> list[dict[str, Any]]:
    """Median ms per ``act_batch`` on random obs [N, d] for every (policy, N); a ValueError
    (e.g. ``max_agents``) or MemoryError is recorded as the row's ``error``."""
    rows = []
    rng = np.random.default_rng(seed)
    for name, pol in policies.items():
        for n in ns:
            obs = rng.random((n, pol.obs_dim)).astype(np.float32)
            pol.reset(seed)
            try:
                times = []
                for _ in range(repeats):
                    t = time.perf_counter()
                    pol.act_batch(obs)
                    times.append(time.perf_counter() - t)
                rows.append({"method": name, "n_agents": n, "ms": 1000 * float(np.median(times))})
            except (ValueError, MemoryError) as e:
                rows.append({"method": name, "n_agents": n, "error": f"{type(e).__name__}: {e}"})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", required=True, help="Minari dataset id")
    p.add_argument("--out", type=Path, required=True, help="checkpoint root")
    p.add_argument("--steps-scale", type=float, default=1.0, help="multiply default steps")
    p.add_argument("--only", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    paths = train_all(a.dataset, a.out, steps_scale=a.steps_scale, only=tuple(a.only),
                      device=a.device, progress=not a.no_progress)
    for k, v in paths.items():
        print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
