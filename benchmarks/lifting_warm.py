"""The balanced lifting between replans, warm-started (the default) or solved cold, on Battle's own
lifts: transport cost over exact OT's, rounds of the rounding and ms per call.

    OMP_NUM_THREADS=1 python benchmarks/lifting_warm.py CHECKPOINT [--n-agents 10000 20000]
        [--steps 21] [--repeats 3] [--out FILE]

Plays ``--steps`` env steps of Battle (both teams; the planner lifts its own team) at each N
with a checkpoint acting at its own config.json's settings (as ``benchmarks/gpu.py --acting
checkpoint``) and records every balanced lifting call: points, particles, the warm start the
planner passed and its generator's state. Each call between replans is then solved again on
the same inputs and generator state three ways: warm-started from the recorded potential (what
the planner did: ``lift_warm_start=true``, 10 iterations), cold (``lift_warm_start=false``: the
ε-scaling of a replan's lift, 42 iterations) and by exact OT over the distinct rows (the
reference, seconds a call). Replan calls are cold either way; their gap is given too. Times are
the median over ``--repeats`` runs of each call, warm and cold solving each call in turn.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from gpu import BattleCore, planner_for  # noqa: E402  (the planner gpu.py times)

from mfdiff_agents.allocator import tune_cpu_allocator  # noqa: E402
from mfdiff_agents.diffuser.lifting import (  # noqa: E402
    LiftState,
    distinct_rows,
    lift_balanced,
    sq_distances,
)


def record(checkpoint: str, n_agents: int, steps: int, seed: int) -> list[dict]:
    """Every ``_lift_balanced`` call of ``steps`` env steps after one warm-up step."""
    core = BattleCore(n_agents, opponent="expert", max_cycles=10_000)
    policy = planner_for(core, torch.device("cpu"), checkpoint, own_settings=True)
    if not policy.cfg.lift_warm_start:
        raise SystemExit("lifting_warm.py: the checkpoint acts with lift_warm_start=false; "
                         "the recorded warm starts would be missing")
    calls: list[dict] = []
    inner = policy._lift_balanced

    def spy(points, centers, state):
        calls.append({"points": points.clone(), "centers": centers.clone(),
                      "g": None if state is None else state.g.clone(),
                      "gen": policy.generator.get_state(),
                      "exact_max_cells": policy.cfg.exact_ot_max_n * centers.shape[0]})
        return inner(points, centers, state)

    policy._lift_balanced = spy
    obs, _ = core.reset(seed=seed)
    policy.reset(seed=seed)
    for _ in range(steps + 1):
        obs, *_ = core.step(policy.act_batch(obs, core.alive.copy()))
    return calls[1:]  # the warm-up step's call out


def solve(call: dict, start: str) -> tuple[float, int, float]:
    """(seconds, rounds, transport cost) of one recorded call solved ``start``: "warm" (from
    the recorded potential), "cold" or "exact"."""
    gen = torch.Generator()
    gen.set_state(call["gen"])
    state = (LiftState(g=call["g"], method="sinkhorn")
             if start == "warm" and call["g"] is not None else None)
    kw = {"method": "distinct"} if start == "exact" else {}
    t = time.perf_counter()
    assign, st = lift_balanced(call["points"], call["centers"], generator=gen, state=state,
                               exact_max_cells=call["exact_max_cells"], **kw)
    dt = time.perf_counter() - t
    cost = float(sq_distances(call["points"], call["centers"]).double()
                 .gather(1, assign[:, None]).sum())
    return dt, st.rounds, cost


def main(argv: list[str] | None = None) -> None:
    tune_cpu_allocator()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--n-agents", type=int, nargs="+", default=[10_000, 20_000])
    ap.add_argument("--steps", type=int, default=21)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.steps < 1 or args.repeats < 1:
        ap.error("--steps and --repeats must be ≥ 1")
    torch.set_num_threads(1)
    lines = [
        f"Battle, checkpoint `{args.checkpoint}` at its own settings, evaluation seed "
        f"{args.seed}, {args.steps} env steps a size; cost = the assignment's transport cost over"
        f" exact OT's (mean, max over the calls); ms and rounds: median per call (ms: the median"
        f" of {args.repeats} runs of each).", "",
        "| N (lifted) | calls | start | cost / exact: mean | max | rounds | ms |",
        "|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for n in args.n_agents:
        calls = record(args.checkpoint, n, args.steps, args.seed)
        lifted = calls[0]["points"].shape[0]
        c0 = calls[0]
        u = distinct_rows(c0["points"])[0].shape[0]
        if u * c0["centers"].shape[0] <= c0["exact_max_cells"]:  # both starts act alike
            line = f"| {n:,} ({lifted:,}) | – | exact OT over distinct rows (no Sinkhorn) | | | | |"
            lines.append(line)
            print(line, flush=True)
            continue
        between = [c for c in calls if c["g"] is not None]
        replans = [c for c in calls if c["g"] is None]
        exact = {id(c): solve(c, "exact")[2] for c in calls}
        # between replans: warm and cold timed in turn on each call (the same load for both)
        groups = [("between replans", between, ("warm", "cold")),
                  ("at replans", replans, ("cold",))]
        names = {"warm": "warm (lift_warm_start=true, the default)",
                 "cold": "cold (lift_warm_start=false)"}
        for where, group, starts in groups:
            if not group:
                continue
            times: dict[tuple[str, int], list[float]] = {}
            out: dict[tuple[str, int], tuple[int, float]] = {}
            for _ in range(args.repeats):
                for i, c in enumerate(group):
                    for start in starts:
                        dt, rounds, cost = solve(c, start)
                        times.setdefault((start, i), []).append(dt)
                        out[(start, i)] = (rounds, cost)
            for start in starts:
                ratios = [out[(start, i)][1] / exact[id(c)] for i, c in enumerate(group)]
                ms = 1e3 * statistics.median(statistics.median(times[(start, i)])
                                             for i in range(len(group)))
                rounds = statistics.median(out[(start, i)][0] for i in range(len(group)))
                name = names[start] if where == "between replans" else "cold (either setting)"
                line = (f"| {n:,} ({lifted:,}) | {len(group)} {where} | {name} | "
                        f"{statistics.mean(ratios):.4f} | {max(ratios):.4f} | {rounds:.0f} | "
                        f"{ms:.1f} |")
                lines.append(line)
                print(line, flush=True)
    if args.out:
        cmd = (f"OMP_NUM_THREADS=1 python benchmarks/lifting_warm.py {args.checkpoint} "
               f"--n-agents {' '.join(map(str, args.n_agents))} --steps {args.steps} "
               f"--repeats {args.repeats}" + (f" --seed {args.seed}" if args.seed else ""))
        Path(args.out).write_text("Command:\n\n    " + cmd + "\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
