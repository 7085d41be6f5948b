"""Planning latency of MF-Diffuser per env step vs population size N and particle count K.

    python benchmarks/planning_latency.py [--threads 2] [--repeats 5] \
        [--out docs/results/planning_latency.md]

Gaussian Squeeze observations (d = 11, A = 10); the default Config's network (width 64, depth 3,
H = 8, 10 DDIM steps) with random weights — latency does not depend on the weights. Every step
replans (replan_every = 1, the worst case). Reports the median over ``repeats`` env steps
(after one warm-up step) of the whole ``act_batch`` call, and of its two parts: sampling the
plan and lifting it to N agents.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time

import numpy as np
import torch

from mfdiff_agents.diffuser.planner import Config, MFDiffuserModel, MFDiffuserPlanner, Stats
from mfdiff_envs.squeeze import GaussianSqueezeCore


def make_planner(cfg: Config, obs_dim: int, n_actions: int) -> MFDiffuserPlanner:
    m = 2 * obs_dim + 1
    stats = Stats([0.0] * obs_dim, [1.0] * obs_dim, [0.0] * m, [1.0] * m, 0.0, 1.0)
    torch.manual_seed(0)
    model = MFDiffuserModel(obs_dim=obs_dim, n_actions=n_actions, mf_dim=m, cfg=cfg, stats=stats)
    return MFDiffuserPlanner(model, cfg, seed=0, device="cpu")


def time_steps(policy: MFDiffuserPlanner, n: int, repeats: int) -> dict[str, float]:
    core = GaussianSqueezeCore(n, max_cycles=repeats + 2)
    obs, _ = core.reset(seed=0)
    policy.reset(seed=0)
    mask = np.ones(n, bool)
    tot, plan_t = [], []
    orig_plan = policy.plan

    def timed_plan(*a, **k):
        t = time.perf_counter()
        out = orig_plan(*a, **k)
        plan_t.append(time.perf_counter() - t)
        return out

    policy.plan = timed_plan  # type: ignore[method-assign]
    for i in range(repeats + 1):
        t = time.perf_counter()
        acts = policy.act_batch(obs, mask)
        dt = time.perf_counter() - t
        if i > 0:
            tot.append(dt)
        obs, *_ = core.step(acts)
    del policy.plan
    plan = statistics.median(plan_t[1:])
    total = statistics.median(tot)
    return {"total_ms": 1e3 * total, "plan_ms": 1e3 * plan, "lift_ms": 1e3 * (total - plan)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=None, help="write a markdown table here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    d, a = 11, 10
    rows = []
    base = Config()
    for n in (100, 1000, 10_000):
        r = time_steps(make_planner(base, d, a), n, args.repeats)
        rows.append(("N", n, "16,64,256", "yes", r))
        print(rows[-1])
    for ks, c2f in (
        ((64,), False),
        ((16, 64), True),
        ((256,), False),
        ((16, 64, 256), True),
        ((1024,), False),
        ((16, 64, 256, 1024), True),
    ):
        cfg = Config(k_schedule=ks, coarse_to_fine=c2f)
        r = time_steps(make_planner(cfg, d, a), 1000, args.repeats)
        rows.append(("K", 1000, ",".join(map(str, ks)), "yes" if c2f else "no", r))
        print(rows[-1])
    ratio = rows[2][4]["total_ms"] / rows[0][4]["total_ms"]
    lines = [
        "| sweep | N | K schedule | coarse-to-fine | total ms / env step | plan ms | lift ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for sweep, n, ks, c2f, r in rows:
        lines.append(
            f"| {sweep} | {n} | {ks} | {c2f} | {r['total_ms']:.1f} | {r['plan_ms']:.1f} "
            f"| {r['lift_ms']:.1f} |"
        )
    lines.append("")
    lines.append(f"latency(N=10^4) / latency(N=10^2) = {ratio:.2f} (target ≤ 3)")
    header = (
        f"date {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{args.threads} threads, median of {args.repeats} steps"
    )
    text = header + "\n\n" + "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
