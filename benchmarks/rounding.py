"""The balanced rounding (``lifting.round_balanced``), or the whole balanced lift
(``--function lift_balanced``: Sinkhorn potential + rounding), of today's code against an
earlier commit's.

Plays ``--steps`` env steps of Battle at each N with a checkpoint planning at the Config's
defaults (as ``benchmarks/gpu.py`` does) and records every call of the rounding: its inputs and
the state of the generator it draws ties from. Each recorded call is then run by both versions
in alternating order, ``--repeats`` times, on the same inputs and generator state; the table
gives the median ms per call of each, their ratio, and whether every call returned the same
assignment and round count. The earlier version is ``lifting.py`` as ``git show REF:...`` gives
it, imported beside today's.

With ``--function lift_balanced`` every call of the planner's balanced lift is recorded instead
(its points, particles, warm start, generator state and settings), and run by both versions of
``lift_balanced`` the same way; where the assignments may differ (a change of the Sinkhorn's
arithmetic) the table adds how many calls gave the same one and the transport cost of today's
over the earlier one's (mean, min, max over calls).

    OMP_NUM_THREADS=1 python benchmarks/rounding.py \\
        --checkpoint runs/grid/ckpt/battle-n1000-mixed/mfdiffuser-s0 --ref 10a95ff \\
        --n-agents 6000 10000 100000 [--function lift_balanced]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from gpu import BattleCore, planner_for, planning_sets  # noqa: E402  (gpu.py's planner)

from mfdiff_agents.allocator import tune_cpu_allocator  # noqa: E402
from mfdiff_agents.diffuser import lifting  # noqa: E402


def lifting_at(ref: str, tmp: Path):
    """``mfdiff_agents/diffuser/lifting.py`` as commit ``ref`` has it, as a module."""
    src = subprocess.run(["git", "show", f"{ref}:mfdiff_agents/diffuser/lifting.py"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    path = tmp / "lifting_ref.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("lifting_ref", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def record_calls(checkpoint: str | None, n_agents: int, steps: int,
                 sets: dict | None = None) -> list[dict]:
    """Every rounding call of ``steps`` env steps of Battle (after one warm-up step), the
    planner at the Config's defaults with ``sets`` over them."""
    core = BattleCore(n_agents, opponent="expert", max_cycles=10_000)
    policy = planner_for(core, torch.device("cpu"), checkpoint, sets=sets)
    calls: list[dict] = []
    real = lifting.round_balanced

    def spy(rows, centers, inverse, cap, g, *, proposal=None, generator=None, **kw):
        calls.append({"args": (rows.clone(), centers.clone(), inverse.clone(), cap.clone(),
                               g.clone()),
                      "proposal": None if proposal is None else proposal.clone(),
                      "gen": None if generator is None else generator.get_state(), "kw": kw})
        return real(rows, centers, inverse, cap, g, proposal=proposal, generator=generator, **kw)

    obs, _ = core.reset(seed=0)
    policy.reset(seed=0)
    lifting.round_balanced = spy  # lift_balanced looks the name up in its module
    try:
        for _ in range(steps + 1):
            obs, *_ = core.step(policy.act_batch(obs, core.alive.copy()))
    finally:
        lifting.round_balanced = real
    return calls


def record_lifts(checkpoint: str | None, n_agents: int, steps: int,
                 sets: dict | None = None) -> list[dict]:
    """Every balanced lift of ``steps`` env steps of Battle (after one warm-up step), as
    ``record_calls``: the planner's own arguments of ``lift_balanced`` and its generator's
    state before the call."""
    core = BattleCore(n_agents, opponent="expert", max_cycles=10_000)
    policy = planner_for(core, torch.device("cpu"), checkpoint, sets=sets)
    calls: list[dict] = []
    inner = policy._lift_balanced

    def spy(points, centers, state):
        cfg = policy.cfg
        calls.append({"points": points.clone(), "centers": centers.clone(),
                      "replan": state is None,  # a replan's lift: onto new particles
                      "g": None if state is None or not cfg.lift_warm_start else state.g.clone(),
                      "gen": policy.generator.get_state(),
                      "kw": {"exact_max_cells": cfg.exact_ot_max_n * centers.shape[0],
                             "sinkhorn_rows": cfg.lift_sinkhorn_rows}})
        return inner(points, centers, state)

    policy._lift_balanced = spy
    obs, _ = core.reset(seed=0)
    policy.reset(seed=0)
    for _ in range(steps + 1):
        obs, *_ = core.step(policy.act_batch(obs, core.alive.copy()))
    return calls[1:]  # the warm-up step's out


def run(fn, call: dict) -> tuple[torch.Tensor, int, float]:
    gen = None
    if call["gen"] is not None:
        gen = torch.Generator()
        gen.set_state(call["gen"])
    t = time.perf_counter()
    assign, rounds = fn(*call["args"], proposal=call["proposal"], generator=gen, **call["kw"])
    return assign, rounds, 1e3 * (time.perf_counter() - t)


def run_lift(mod, call: dict) -> tuple[torch.Tensor, int, float]:
    """``mod.lift_balanced`` on a ``record_lifts`` call: (assignment, rounds, ms)."""
    gen = torch.Generator()
    gen.set_state(call["gen"])
    state = None if call["g"] is None else mod.LiftState(g=call["g"], method="sinkhorn")
    t = time.perf_counter()
    assign, st = mod.lift_balanced(call["points"], call["centers"], generator=gen, state=state,
                                   **call["kw"])
    return assign, st.rounds, 1e3 * (time.perf_counter() - t)


def transport_cost(call: dict, assign: torch.Tensor) -> float:
    return float(lifting.sq_distances(call["points"], call["centers"]).double()
                 .gather(1, assign[:, None]).sum())


def gap_to_exact(ref, calls: list[dict], draws: int) -> dict[tuple[str, bool], list[float]]:
    """Transport cost over exact OT's (``lift_balanced(method="distinct")``) of each call solved
    by each version from ``draws`` fresh generator seeds (seed 1000·call + draw, the same for
    both): the lift's randomness (the fitted rows, ties) drawn again, not the recorded state.
    Keyed by (version, replan call)."""
    out: dict[tuple[str, bool], list[float]] = {}
    for i, call in enumerate(calls):
        exact, _ = lifting.lift_balanced(call["points"], call["centers"], method="distinct",
                                         generator=torch.Generator().manual_seed(i))
        best = transport_cost(call, exact)
        for name, mod in (("ref", ref), ("new", lifting)):
            for d in range(draws):
                gen = torch.Generator().manual_seed(1000 * i + d)
                state = None if call["g"] is None else mod.LiftState(g=call["g"],
                                                                     method="sinkhorn")
                a, _ = mod.lift_balanced(call["points"], call["centers"], generator=gen,
                                         state=state, **call["kw"])
                out.setdefault((name, call["replan"]), []).append(transport_cost(call, a) / best)
    return out


def main(argv: list[str] | None = None) -> int:
    tune_cpu_allocator()  # as `mfdiff train/eval/demo` (MFDIFF_MALLOC=default: glibc's own)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=None,
                    help="a Battle MF-Diffuser checkpoint (default: random weights)")
    ap.add_argument("--ref", required=True, help="the earlier commit (e.g. 10a95ff)")
    ap.add_argument("--n-agents", type=int, nargs="+", default=[10_000])
    ap.add_argument("--steps", type=int, default=32, help="env steps recorded per N")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--function", choices=("round_balanced", "lift_balanced"),
                    default="round_balanced", help="what is timed (default: the rounding)")
    ap.add_argument("--draws", type=int, default=0,
                    help="with --function lift_balanced: also each version's transport cost "
                         "over exact OT's, every call solved from this many fresh generator "
                         "seeds (exact OT: seconds a call)")
    ap.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=JSON",
                    help="planning fields over the Config's defaults, e.g. "
                         "lift_warm_start=false (with --checkpoint)")
    args = ap.parse_args(argv)
    sets = planning_sets(args.set, ap)
    if sets and args.checkpoint is None:
        ap.error("--set changes a checkpoint's planning: give --checkpoint")
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        ref = lifting_at(args.ref, Path(tmp))
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    weights = args.checkpoint or "random weights"
    over = "".join(f", {k}={json.dumps(v)}" for k, v in sets.items())
    lift = args.function == "lift_balanced"
    if args.draws < 0 or (args.draws and not lift):
        ap.error("--draws: an integer >= 0, with --function lift_balanced")
    gaps: dict[int, dict[tuple[str, bool], list[float]]] = {}
    what = "balanced lift (lift_balanced)" if lift else "rounding"
    print(f"{args.function}, today's code against {args.ref}'s; Battle at the Config's defaults"
          f"{' and, over them' + over if sets else ''}, "
          f"checkpoint `{weights}`, {args.steps} env steps per N, every call of the {what} "
          f"run by both in alternating order {args.repeats} times; ms: median per call over "
          f"calls and repeats, one thread; {when}.\n")
    cost_cols = " | today's cost / earlier's: mean | min | max" if lift else ""
    print(f"| N | calls | rounds (mean) | {args.ref} ms | today ms | today / {args.ref} "
          f"| same assignments{cost_cols} |")
    print("|---|---|---|---|---|---|---|" + ("---|---|---|" if lift else ""))
    for n in args.n_agents:
        calls = (record_lifts if lift else record_calls)(args.checkpoint, n, args.steps, sets)
        if not calls:
            print(f"| {n:,} | 0 | | | | | (exact OT route: no rounding) |")
            continue
        ms: dict[str, list[float]] = {"ref": [], "new": []}
        same, rounds, ratios = 0, [], []
        for rep in range(args.repeats):
            for i, call in enumerate(calls):
                order = ("ref", "new") if (rep + i) % 2 == 0 else ("new", "ref")
                out = {}
                for name in order:
                    mod = ref if name == "ref" else lifting
                    a, r, t = (run_lift(mod, call) if lift else run(mod.round_balanced, call))
                    out[name] = (a, r)
                    ms[name].append(t)
                if rep == 0:
                    same += out["ref"][1] == out["new"][1] and torch.equal(out["ref"][0],
                                                                         out["new"][0])
                    rounds.append(out["new"][1])
                    if lift:
                        ratios.append(transport_cost(call, out["new"][0])
                                      / transport_cost(call, out["ref"][0]))
        m_ref, m_new = statistics.median(ms["ref"]), statistics.median(ms["new"])
        agree = "yes" if same == len(calls) else f"**{same} of {len(calls)}**"
        costs = (f" | {statistics.mean(ratios):.6f} | {min(ratios):.6f} | {max(ratios):.6f}"
                 if lift else "")
        print(f"| {n:,} | {len(calls)} | {statistics.mean(rounds):.1f} | {m_ref:.2f} | "
              f"{m_new:.2f} | {m_new / m_ref:.2f} | {agree}{costs} |")
        if lift and args.draws:
            gaps[n] = gap_to_exact(ref, calls, args.draws)
    if gaps:
        print(f"\nTransport cost over exact OT's, each call solved from {args.draws} fresh "
              "generator seeds by each version (mean ± standard error over calls × seeds; "
              "replans: the lifts onto a new plan's particles):\n")
        print(f"| N | calls between replans | {args.ref} | today | replan calls | {args.ref} "
              "| today |")
        print("|---|---|---|---|---|---|---|")
        for n, g in gaps.items():
            cells = []
            for replan in (False, True):
                ref_v, new_v = g.get(("ref", replan), []), g.get(("new", replan), [])
                cells.append(f"{len(ref_v) // args.draws} | {mean_se(ref_v)} | {mean_se(new_v)}")
            print(f"| {n:,} | " + " | ".join(cells) + " |")
    return 0


def mean_se(x: list[float]) -> str:
    if len(x) < 2:
        return "–"
    return f"{statistics.mean(x):.4f} ± {statistics.stdev(x) / len(x) ** 0.5:.4f}"


if __name__ == "__main__":
    raise SystemExit(main())
