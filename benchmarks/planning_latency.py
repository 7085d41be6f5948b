"""Planning latency of MF-Diffuser per env step vs population size N and particle count K.

    python benchmarks/planning_latency.py [--threads 1] [--repeats 5] \
        [--out docs/results/planning_latency.md]

Gaussian Squeeze observations (d = 11, A = 10); the default Config's network (width 64, depth 3,
H = 8, 10 DDIM steps) with random weights — latency does not depend on the weights. Every step
replans (replan_every = 1, the worst case). Reports the median over ``repeats`` env steps
of the whole ``act_batch`` call: cases are stepped in interleaved rounds (one step of every case
per round, after a warm-up step) so that load from other processes hits every case alike; the
table gives min and median wall time, the min time of the sampling part (``plan``; the rest is
the mean field, anchors and lifting), and the median process CPU time.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time

import numpy as np
import torch

from mfdiff_agents.allocator import tune_cpu_allocator
from mfdiff_agents.checkpoint import EnvFacts
from mfdiff_agents.diffuser.config import Config
from mfdiff_agents.diffuser.planner import MFDiffuserPlanner
from mfdiff_envs.squeeze import GaussianSqueezeCore


def make_planner(cfg: Config, obs_dim: int, n_actions: int) -> MFDiffuserPlanner:
    env = EnvFacts(obs_dim=obs_dim, n_actions=n_actions)
    torch.manual_seed(0)
    model = MFDiffuserPlanner.build_model(cfg, env)
    return MFDiffuserPlanner(model, cfg, env=env, seed=0, device="cpu")


class Case:
    """One (N, K schedule) configuration: a planner stepping its own Squeeze core."""

    def __init__(self, sweep: str, n: int, cfg: Config) -> None:
        self.sweep, self.n, self.cfg = sweep, n, cfg
        self.policy = make_planner(cfg, 11, 10)
        self.core = GaussianSqueezeCore(n, max_cycles=10_000)
        self.obs, _ = self.core.reset(seed=0)
        self.policy.reset(seed=0)
        self.mask = np.ones(n, bool)
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.plan: list[float] = []
        orig = self.policy.plan

        def timed_plan(*a, **k):
            t = time.perf_counter()
            out = orig(*a, **k)
            self.plan.append(time.perf_counter() - t)
            return out

        self.policy.plan = timed_plan  # type: ignore[method-assign]

    def step(self, record: bool = True) -> None:
        t, c = time.perf_counter(), time.process_time()
        acts = self.policy.act_batch(self.obs, self.mask)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        if record:
            self.wall.append(wall)
            self.cpu.append(cpu)
        else:
            self.plan.clear()
        self.obs, *_ = self.core.step(acts)

    def row(self) -> dict[str, float]:
        return {
            "min_ms": 1e3 * min(self.wall),
            "median_ms": 1e3 * statistics.median(self.wall),
            "plan_min_ms": 1e3 * min(self.plan),
            "cpu_median_ms": 1e3 * statistics.median(self.cpu),
        }


def main() -> None:
    tuned = tune_cpu_allocator()  # as `mfdiff train/eval/demo` (MFDIFF_MALLOC=default: glibc's own)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=None, help="write a markdown table here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cases = [Case("N", n, Config(replan_every=1)) for n in (100, 1000, 10_000)]
    for ks, c2f in (
        ((64,), False),
        ((16, 64), True),
        ((256,), False),
        ((1024,), False),
        ((16, 64, 256, 1024), True),
    ):
        cases.append(Case("K", 1000, Config(k_schedule=ks, coarse_to_fine=c2f, replan_every=1)))
    for case in cases:  # warm-up
        case.step(record=False)
    for _ in range(args.repeats):  # interleaved rounds: load changes hit every case alike
        for case in cases:
            case.step()
    lines = [
        "| sweep | N | K schedule | coarse-to-fine | min ms / env step | median ms | "
        "plan min ms | CPU-time median ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        r = case.row()
        ks = ",".join(map(str, case.policy.k_schedule))
        c2f = "yes" if case.cfg.coarse_to_fine and len(case.cfg.k_schedule) > 1 else "no"
        lines.append(
            f"| {case.sweep} | {case.n} | {ks} | {c2f} | {r['min_ms']:.1f} | {r['median_ms']:.1f} "
            f"| {r['plan_min_ms']:.1f} | {r['cpu_median_ms']:.1f} |"
        )
        print(lines[-1], flush=True)
    r100, r10k = cases[0].row(), cases[2].row()
    lines.append("")
    lines.append(
        f"latency(N=10^4) / latency(N=10^2): min {r10k['min_ms'] / r100['min_ms']:.2f}, "
        f"median {r10k['median_ms'] / r100['median_ms']:.2f}, "
        f"CPU time {r10k['cpu_median_ms'] / r100['cpu_median_ms']:.2f} (target ≤ 3)"
    )
    header = (
        f"date {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{args.threads} threads, {args.repeats} interleaved rounds, allocator "
        + ("tuned (mfdiff_agents.allocator)" if tuned else "as it comes")
    )
    text = header + "\n\n" + "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
