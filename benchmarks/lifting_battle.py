"""The balanced lifting's Sinkhorn route against exact OT on Battle's own observations.

docs/results/lifting.md measures the gap on Gaussian points; this measures it where it acts: the
lifting calls of one Battle episode played by a checkpoint at N agents (both teams; the planner
lifts its own team). Every ``--every``-th call is solved again, on the same points, particles and
capacities, by exact OT (the "distinct" route) and by the Sinkhorn route (cold, as at a replan;
with the default iterations and with ``--iters``), and the assignment's cost is reported over
exact OT's (1.0 = optimal), split into replan calls (particles = the anchor agents' observations)
and the calls in between (particles = the plan's states).

    OMP_NUM_THREADS=1 python benchmarks/lifting_battle.py \\
        runs/grid/ckpt/battle-n1000-medium/mfdiffuser-s0 --n-agents 10000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "experiments"))
from battle_trace import policy_factory  # noqa: E402  (the grid's acting settings)

from mfdiff_agents.allocator import tune_cpu_allocator
from mfdiff_agents.diffuser import lifting  # noqa: E402
from mfdiff_agents.diffuser import planner as planner_module  # noqa: E402
from mfdiff_agents.evaluation.run import episode_seed, make_core  # noqa: E402
from mfdiff_envs.rollout import rollout  # noqa: E402


def record_calls(checkpoint: str, n_agents: int, seed: int, every: int) -> list[tuple]:
    """(is_replan, points [n, d], centers [K, d]) of every ``every``-th lifting call of one
    episode (the planner's module-level ``lift_balanced``, wrapped for the episode)."""
    calls: list[tuple] = []
    count = [0]
    original = planner_module.lift_balanced

    def wrapped(points, centers, **kw):
        count[0] += 1
        if count[0] % every == 0:
            calls.append((kw.get("state") is None, points.clone(), centers.clone()))
        return original(points, centers, **kw)

    core = make_core("mfdiff/Battle-v0", {"n_agents": n_agents, "max_cycles": 150,
                                          "opponent": "expert"})
    planner_module.lift_balanced = wrapped
    try:
        rollout(core, policy_factory(checkpoint, "battle")(core, seed), seed=episode_seed(seed, 0))
    finally:
        planner_module.lift_balanced = original
    return calls


def solve(points: torch.Tensor, centers: torch.Tensor, cap: torch.Tensor, seed: int,
          full: torch.Tensor, **kw) -> tuple[float, float]:
    """(cost of ``lift_balanced(**kw)``'s assignment under the cost matrix ``full [n, K]``,
    ms) on fixed capacities and seed."""
    t = time.perf_counter()
    a, _ = lifting.lift_balanced(points, centers, capacities=cap,
                                 generator=torch.Generator().manual_seed(seed), **kw)
    ms = 1e3 * (time.perf_counter() - t)
    return float(full.gather(1, a[:, None]).sum()), ms


def main(argv: list[str] | None = None) -> int:
    tune_cpu_allocator()  # as `mfdiff train/eval/demo` (MFDIFF_MALLOC=default: glibc's own)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", help="a Battle MF-Diffuser checkpoint directory")
    ap.add_argument("--n-agents", type=int, default=10000, help="N, both teams (default 10^4)")
    ap.add_argument("--seed", type=int, default=0, help="evaluation seed of the episode")
    ap.add_argument("--every", type=int, default=3, help="solve every n-th call again")
    ap.add_argument("--iters", type=int, default=300, help="the longer Sinkhorn's iterations")
    args = ap.parse_args(argv)
    calls = record_calls(args.checkpoint, args.n_agents, args.seed, args.every)
    routes = {"Sinkhorn (default: cold, 3 it. per ε-scaling stage, 30 at the last)": {},
              "Sinkhorn, 10 it. per ε-scaling stage": {"anneal_iter": 10},
              f"Sinkhorn, {args.iters} it. at the last stage": {"n_iter_cold": args.iters,
                                                                "tol": 1e-6}}
    ratio: dict[str, list[tuple[bool, float]]] = {r: [] for r in routes}
    ms: dict[str, list[float]] = {r: [] for r in [*routes, "exact OT"]}
    for i, (replan, points, centers) in enumerate(calls):
        n, k = points.shape[0], centers.shape[0]
        cap = lifting.balanced_capacities(n, k, generator=torch.Generator().manual_seed(i))
        full = lifting.sq_distances(points.float(), centers.float())  # [n, K], once per call
        exact, t_exact = solve(points, centers, cap, i, full, method="distinct")
        ms["exact OT"].append(t_exact)
        for name, kw in routes.items():
            c, t = solve(points, centers, cap, i, full, method="sinkhorn", **kw)
            ratio[name].append((replan, c / max(exact, 1e-12)))
            ms[name].append(t)
    n_rep = sum(r for r, _, _ in calls)
    print(f"Battle, N = {args.n_agents} ({calls[0][1].shape[0] if calls else 0} lifted agents at "
          f"the start), K = {calls[0][2].shape[0] if calls else 0}, checkpoint "
          f"`{args.checkpoint}`, evaluation seed {args.seed}; one lifting call in {args.every} "
          f"of the episode: {n_rep} replan calls, {len(calls) - n_rep} in between. Cost of the "
          "assignment / exact OT's (mean, max); ms = median per call (one thread).\n")
    print("| route | replan calls: mean | replan: max | in between: mean | in between: max | ms |")
    print("|---|---|---|---|---|---|")
    for name in routes:
        rep = [x for r, x in ratio[name] if r] or [float("nan")]
        mid = [x for r, x in ratio[name] if not r] or [float("nan")]
        print(f"| {name} | {np.mean(rep):.3f} | {np.max(rep):.3f} | {np.mean(mid):.3f} | "
              f"{np.max(mid):.3f} | {np.median(ms[name]):.0f} |")
    print(f"| exact OT | 1 | 1 | 1 | 1 | {np.median(ms['exact OT']):.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
