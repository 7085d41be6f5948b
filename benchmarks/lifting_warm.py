"""The balanced lifting between replans, warm-started (the default) or solved cold, on Battle's own
lifts: transport cost over exact OT's, rounds of the rounding and ms per call.

    OMP_NUM_THREADS=1 python benchmarks/lifting_warm.py CHECKPOINT [--n-agents 10000 20000]
        [--steps 21] [--repeats 3] [--rows 2048 1024] [--out FILE]

Plays ``--steps`` env steps of Battle (both teams; the planner lifts its own team) at each N
with a checkpoint acting at its own config.json's settings (as ``benchmarks/gpu.py --acting
checkpoint``) and records every balanced lifting call: points, particles, the warm start the
planner passed and its generator's state. Each call between replans is then solved again on
the same inputs and generator state three ways: warm-started from the recorded potential (what
the planner did: ``lift_warm_start=true``, 10 iterations), cold (``lift_warm_start=false``: the
ε-scaling of a replan's lift, 42 iterations) and by exact OT over the distinct rows (the
reference, seconds a call). Replan calls are cold either way; their gap is given too. Times are
the median over ``--repeats`` runs of each call, warm and cold solving each call in turn, with the
parts spent in the Sinkhorn potential and in the rounding (each the median over calls of its own).
``--rows`` solves each call with each number of distinct rows the Sinkhorn potential is fitted on
(``Config.lift_sinkhorn_rows``; the recorded calls' generator states as they were).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from gpu import BattleCore, planner_for  # noqa: E402  (the planner gpu.py times)

from mfdiff_agents.allocator import tune_cpu_allocator  # noqa: E402
from mfdiff_agents.diffuser import lifting  # noqa: E402
from mfdiff_agents.diffuser.lifting import (  # noqa: E402
    LiftState,
    distinct_rows,
    lift_balanced,
    sq_distances,
)

#: the lifting the calls are recorded with: the warm start on 2048 rows (the Config defaults),
#: which needs the last step's potential. A checkpoint trained with the Battle config since the
#: seventy-second update lifts cold on 512 rows; it would leave no warm start to record (this
#: script refused it until then). Checkpoints trained before act so anyway: the same calls
RECORD_SETS = {"lift_warm_start": True, "lift_sinkhorn_rows": 2048}


def record(checkpoint: str, n_agents: int, steps: int, seed: int) -> list[dict]:
    """Every ``_lift_balanced`` call of ``steps`` env steps after one warm-up step, the
    checkpoint acting at its own settings but the lifting's (``RECORD_SETS``)."""
    core = BattleCore(n_agents, opponent="expert", max_cycles=10_000)
    policy = planner_for(core, torch.device("cpu"), checkpoint, own_settings=True,
                         sets=RECORD_SETS)
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


@contextlib.contextmanager
def timed_parts():
    """Within the block, ``lift_balanced``'s calls of ``sinkhorn_potential`` and
    ``round_balanced`` (looked up by module name) add their seconds to the yielded dict's
    "sinkhorn" and "rounding"; the module's functions are restored on leaving."""
    parts = {"sinkhorn": 0.0, "rounding": 0.0}
    real = {"sinkhorn": lifting.sinkhorn_potential, "rounding": lifting.round_balanced}

    def wrap(name: str):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return real[name](*args, **kwargs)
            finally:
                parts[name] += time.perf_counter() - t
        return wrapper

    lifting.sinkhorn_potential, lifting.round_balanced = wrap("sinkhorn"), wrap("rounding")
    try:
        yield parts
    finally:
        lifting.sinkhorn_potential, lifting.round_balanced = real["sinkhorn"], real["rounding"]


def solve(call: dict, start: str, rows: int = 2048) -> tuple[float, int, float, float, float]:
    """(seconds, rounds, transport cost, seconds in the Sinkhorn potential, seconds in the
    rounding) of one recorded call solved ``start``: "warm" (from the recorded potential),
    "cold" or "exact"; ``rows``: ``lift_balanced``'s ``sinkhorn_rows``."""
    gen = torch.Generator()
    gen.set_state(call["gen"])
    state = (LiftState(g=call["g"], method="sinkhorn")
             if start == "warm" and call["g"] is not None else None)
    kw = {"method": "distinct"} if start == "exact" else {"sinkhorn_rows": rows}
    with timed_parts() as parts:
        t = time.perf_counter()
        assign, st = lift_balanced(call["points"], call["centers"], generator=gen, state=state,
                                   exact_max_cells=call["exact_max_cells"], **kw)
        dt = time.perf_counter() - t
    cost = float(sq_distances(call["points"], call["centers"]).double()
                 .gather(1, assign[:, None]).sum())
    return dt, st.rounds, cost, parts["sinkhorn"], parts["rounding"]


def main(argv: list[str] | None = None) -> None:
    tune_cpu_allocator()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--n-agents", type=int, nargs="+", default=[10_000, 20_000])
    ap.add_argument("--steps", type=int, default=21)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", type=int, nargs="+", default=[2048],
                    help="Sinkhorn rows (Config.lift_sinkhorn_rows) to solve each call with")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.steps < 1 or args.repeats < 1:
        ap.error("--steps and --repeats must be ≥ 1")
    if any(r < 0 for r in args.rows) or len(set(args.rows)) < len(args.rows):
        ap.error("--rows: distinct integers ≥ 0 (0: every distinct row)")
    torch.set_num_threads(1)
    lines = [
        f"Battle, checkpoint `{args.checkpoint}` at its own settings, evaluation seed "
        f"{args.seed}, {args.steps} env steps a size; cost = the assignment's transport cost over"
        f" exact OT's (mean, max over the calls); ms and rounds: median per call (ms: the median"
        f" of {args.repeats} runs of each).", "",
        "| N (lifted) | calls | start | Sinkhorn rows | cost / exact: mean | max | rounds | ms "
        "| of which Sinkhorn | rounding |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for n in args.n_agents:
        calls = record(args.checkpoint, n, args.steps, args.seed)
        lifted = calls[0]["points"].shape[0]
        c0 = calls[0]
        u = distinct_rows(c0["points"])[0].shape[0]
        if u * c0["centers"].shape[0] <= c0["exact_max_cells"]:  # both starts act alike
            line = (f"| {n:,} ({lifted:,}) | – | exact OT over distinct rows (no Sinkhorn) | | | | "
                    "| | | |")
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
            variants = [(start, r) for start in starts for r in args.rows]
            times: dict[tuple[str, int, int], list[tuple[float, float, float]]] = {}
            out: dict[tuple[str, int, int], tuple[int, float]] = {}
            for _ in range(args.repeats):
                for i, c in enumerate(group):
                    for start, r in variants:
                        dt, rounds, cost, t_sink, t_round = solve(c, start, r)
                        times.setdefault((start, r, i), []).append((dt, t_sink, t_round))
                        out[(start, r, i)] = (rounds, cost)
            for start, r in variants:
                ratios = [out[(start, r, i)][1] / exact[id(c)] for i, c in enumerate(group)]
                # per part: the median over calls of each call's median over repeats
                ms = [1e3 * statistics.median(statistics.median(x[p] for x in times[(start, r, i)])
                                              for i in range(len(group))) for p in range(3)]
                rounds = statistics.median(out[(start, r, i)][0] for i in range(len(group)))
                name = names[start] if where == "between replans" else "cold (either setting)"
                line = (f"| {n:,} ({lifted:,}) | {len(group)} {where} | {name} | "
                        f"{r if r else 'all'} | {statistics.mean(ratios):.4f} | "
                        f"{max(ratios):.4f} | {rounds:.0f} | {ms[0]:.1f} | {ms[1]:.1f} | "
                        f"{ms[2]:.1f} |")
                lines.append(line)
                print(line, flush=True)
    if args.out:
        cmd = (f"OMP_NUM_THREADS=1 python benchmarks/lifting_warm.py {args.checkpoint} "
               f"--n-agents {' '.join(map(str, args.n_agents))} --steps {args.steps} "
               f"--repeats {args.repeats}" + (f" --seed {args.seed}" if args.seed else "")
               + (f" --rows {' '.join(map(str, args.rows))}" if args.rows != [2048] else ""))
        Path(args.out).write_text("Command:\n\n    " + cmd + "\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
