"""Planning latency vs N (10² … 10⁵), training throughput and memory on whatever device is here.

    python benchmarks/gpu.py [--device auto] [--threads 1] [--out docs/results/device_<kind>.md]

Ready for the first GPU run (``--device cuda``): the same script measures the CPU here. Planner:
the default MF-Diffuser Config (width 64, depth 3, H = 8, 10 DDIM steps, K = 16 -> 64 -> 256),
random weights, or trained ones (``--checkpoint ising=DIR battle=DIR``: the lifting's rounding
needs more rounds when the plan's states are far from the agents, as with random weights),
replanning every 4 steps (the default) and re-lifting every step, on Ising observations (few
distinct rows: the exact distinct-row lifting) and on Battle observations (continuous: Sinkhorn
lifting). N is the env's ``n_agents`` as in the grid: for Battle both teams, the planner acting
for the N/2 agents of its team. Training: gradient steps per second of the default
Config on random windows of the same shapes (batch 32 × K 32 × H 8). Memory: peak resident set
of this process (env + planner) and, on CUDA, peak allocated device memory. ``--lift-share``
adds the lifting's ms per step and share of the step, and its mean cold and warm call
(docs/results/lift_share.md).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import statistics
import time

import torch

from mfdiff_agents.allocator import tune_cpu_allocator
from mfdiff_agents.checkpoint import EnvFacts
from mfdiff_agents.device import resolve_device
from mfdiff_agents.diffuser.config import PLANNING_FIELDS, Config
from mfdiff_agents.diffuser.model import Stats, training_loss
from mfdiff_agents.diffuser.planner import MFDiffuserPlanner
from mfdiff_agents.methods import check_policy
from mfdiff_envs.battle import BattleCore
from mfdiff_envs.ising import IsingCore

#: every planning / acting field set to the Config's defaults on a loaded checkpoint (five of
#: them only until the fifty-second update: a checkpoint trained with a family config then
#: planned with that config's plans, particles and DDIM steps, not the defaults the tables say)
ACTING = PLANNING_FIELDS


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def planner_for(
    core, device: torch.device, checkpoint: str | None = None, own_settings: bool = False,
    sets: dict | None = None,
) -> MFDiffuserPlanner:
    """The planner timed on ``core``: random weights at the default Config, or a checkpoint
    planning at the Config's defaults (``own_settings``: at its own config.json's, i.e. the
    family config it was trained with, as the grid acts), ``sets`` over either."""
    if checkpoint is not None:  # trained weights, planning at the Config's defaults
        overrides = {} if own_settings else {f: getattr(Config(), f) for f in ACTING}
        return MFDiffuserPlanner.from_pretrained(checkpoint, device=str(device), seed=0,
                                                 **{**overrides, **(sets or {})})
    cfg = Config(device=str(device))
    env = EnvFacts(obs_dim=core.obs_dim, n_actions=core.n_actions)
    torch.manual_seed(0)
    return MFDiffuserPlanner(MFDiffuserPlanner.build_model(cfg, env), cfg, env=env, seed=0,
                             device=device)


def planning_sets(items: list[str], ap: argparse.ArgumentParser) -> dict:
    """``--set FIELD=JSON ...`` -> {field: value}, each a planning field (``ACTING``); an
    unknown field or a value that is not JSON is the parser's error."""
    sets = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or key not in ACTING:
            ap.error(f"--set takes FIELD=JSON with a planning field ({', '.join(ACTING)}), "
                     f"got {item!r}")
        try:
            sets[key] = json.loads(value)
        except json.JSONDecodeError as e:
            ap.error(f"--set {key}: not JSON ({e}): {value!r}")
    return sets


def latency(
    core, device: torch.device, steps: int, checkpoint: str | None = None,
    own_settings: bool = False, sets: dict | None = None, lift_share: bool = False,
) -> dict[str, float]:
    """Mean and median ms per env step; ``lift_share``: also the planner's balanced lifts
    inside those steps (``MFDiffuserPlanner._lift_balanced``, its distinct rows included),
    timed around each call: ms per step, and the mean cold (after a replan: new particles, no
    warm start) and warm call."""
    policy = planner_for(core, device, checkpoint, own_settings, sets)
    calls: list[tuple[bool, float]] = []  # (cold, seconds) of this step's lifts
    if lift_share:
        inner = policy._lift_balanced

        def timed(obs_n, centers, state):
            sync(device)
            t = time.perf_counter()
            out = inner(obs_n, centers, state)
            sync(device)
            # cold: a replan's (no state), or every call where lift_warm_start is false
            calls.append((state is None or not policy.cfg.lift_warm_start,
                          time.perf_counter() - t))
            return out

        policy._lift_balanced = timed
    obs, _ = core.reset(seed=0)
    policy.reset(seed=0)
    times, lift_step, cold, warm = [], [], [], []
    for i in range(steps + 1):
        calls.clear()
        sync(device)
        t = time.perf_counter()
        acts = policy.act_batch(obs, core.alive.copy())
        sync(device)
        if i:  # the first step warms up
            times.append(time.perf_counter() - t)
            lift_step.append(sum(s for _, s in calls))
            cold += [s for c, s in calls if c]
            warm += [s for c, s in calls if not c]
        obs, *_ = core.step(acts)
    out = {"mean_ms": 1e3 * statistics.mean(times), "median_ms": 1e3 * statistics.median(times)}
    if lift_share:
        out.update(
            lift_ms=1e3 * statistics.mean(lift_step),
            lift_share=sum(lift_step) / sum(times),
            cold_ms=1e3 * statistics.mean(cold) if cold else float("nan"),
            warm_ms=1e3 * statistics.mean(warm) if warm else float("nan"),
        )
    return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def ratio_lines(rows: list[tuple], runs: dict[tuple[str, int], list[float]] | None = None
                ) -> list[str]:
    """Mean planning step at the largest N ≤ 10⁴ over the smallest N, per observation kind.

    ``runs`` maps (kind, N) to the mean step of each repeat; with more than one repeat the
    line gives the ratio of each repeat (repeat r's largest N over repeat r's smallest) and
    their median, since one run's ratio swings with the few replans its smallest N times."""
    out = []
    for kind in dict.fromkeys(r[0] for r in rows):
        mine = sorted((r[1], r[3]) for r in rows if r[0] == kind and r[1] <= 10_000)
        if len(mine) > 1:
            (n0, m0), (n1, m1) = mine[0], mine[-1]
            each = ([a / b for a, b in zip(runs[(kind, n1)], runs[(kind, n0)], strict=True)]
                    if runs is not None and len(runs[(kind, n0)]) > 1 else [])
            if each:
                out.append(
                    f"Planning step (mean) {kind}: N = {n1:,} / N = {n0:,} = "
                    f"{statistics.median(each):.2f}× (median of {len(each)} runs; each run: "
                    + ", ".join(f"{r:.2f}" for r in each) + f"; largest {max(each):.2f}×).")
            else:
                out.append(f"Planning step (mean) {kind}: N = {n1:,} / N = {n0:,} = "
                           f"{m1 / m0:.2f}×.")
    return out


LIFT_HEAD = " lifting ms / step (mean) | lifting share of the step | cold lift ms | warm lift ms |"


def lift_cells(each: list[dict[str, float]]) -> str:
    """The lifting columns of one row: the median over repeats of each figure."""
    def med(key: str) -> str:  # "–" where no lift of that kind ran (NaN: every lift cold)
        m = statistics.median(r[key] for r in each)
        return "–" if math.isnan(m) else f"{m:.1f}"
    return (f" {med('lift_ms')} | {100 * statistics.median(r['lift_share'] for r in each):.1f} %"
            f" | {med('cold_ms')} | {med('warm_ms')} |")


def train_throughput(device: torch.device, steps: int) -> float:
    cfg = Config(device=str(device))
    d, a = 13, 6
    env = EnvFacts(obs_dim=d, n_actions=a)
    model = MFDiffuserPlanner.build_model(cfg, env).to(device)
    stats = Stats.identity(d, 2 * d + 1)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    b, k, h = cfg.batch_size, cfg.n_particles, cfg.horizon
    batch = {
        "obs": torch.randn(b, k, h, d, device=device),
        "actions": torch.randint(0, a, (b, k, h), device=device),
        "alive": torch.ones(b, k, h, dtype=torch.bool, device=device),
        "returns": torch.randn(b, device=device),
        "mean_field": torch.randn(b, h, 2 * d + 1, device=device),
    }
    t = 0.0
    for i in range(steps + 2):
        if i == 2:
            t = time.perf_counter()
        loss, _ = training_loss(model, batch, cfg, stats)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - t)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; ``--checkpoint`` pairs accumulate over repeated flags."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3, help="timed env steps per N")
    ap.add_argument("--acting", choices=("defaults", "checkpoint"), default="defaults",
                    help="plan a --checkpoint at the Config's defaults, or at its own config.json"
                         " (the family config it was trained with: the grid's settings)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="measure every size this many times (in turn, so load spreads over all);"
                         " the table gives the median over repeats, the ratio each repeat's")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000, 100_000])
    ap.add_argument("--out", default=None)
    ap.add_argument("--kinds", nargs="+", choices=("ising", "battle"), default=["ising", "battle"],
                    help="observation kinds to time (default both)")
    ap.add_argument("--lift-share", action="store_true",
                    help="also time the lifting inside each step: its ms per step and share of"
                         " the step, and the mean cold (after a replan) and warm lift")
    # extend: `--checkpoint a=X b=Y` and `--checkpoint a=X --checkpoint b=Y` (the form this
    # script prints in its report) both keep every pair; "*" with store kept only the last flag
    ap.add_argument("--checkpoint", nargs="+", action="extend", default=[], metavar="OBS=DIR",
                    help="trained weights per observation kind, e.g. battle=runs/grid/ckpt/...")
    ap.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=JSON",
                    help="planning fields over the checkpoints' settings, e.g. "
                         "stage_steps=[8,8,4] (with --checkpoint; both families)")
    args = ap.parse_args(argv)
    args.ckpts = dict(c.split("=", 1) for c in args.checkpoint)
    args.sets = planning_sets(args.set, ap)
    if args.sets and not args.ckpts:
        ap.error("--set changes a checkpoint's planning: give --checkpoint")
    if args.repeats < 1 or args.steps < 1:
        ap.error(f"--repeats and --steps must be ≥ 1, got {args.repeats} and {args.steps}")
    if args.acting == "checkpoint" and not args.ckpts:
        ap.error("--acting checkpoint plans a checkpoint at its own settings: give --checkpoint")
    # one row per size and kind: sizes that repeat, or round to one Ising side, would pool
    sides = [int(round(n ** 0.5)) ** 2 for n in args.sizes] if "ising" in args.kinds else []
    if len(set(args.sizes)) < len(args.sizes) or len(set(sides)) < len(sides):
        ap.error(f"--sizes {args.sizes}: each size once, and no two that round to the same "
                 f"Ising lattice (L × L: {sides})")
    if len(set(args.kinds)) < len(args.kinds):
        ap.error(f"--kinds {args.kinds}: each kind once")
    if set(args.ckpts) - {"ising", "battle"}:
        ap.error(f"--checkpoint takes ising=DIR and/or battle=DIR, got {sorted(args.ckpts)}")
    if set(args.ckpts) - set(args.kinds):
        ap.error(f"--checkpoint {sorted(set(args.ckpts) - set(args.kinds))}: not among --kinds "
                 f"{args.kinds} (it would never be timed)")
    return args


def main() -> None:
    tuned = tune_cpu_allocator()  # as `mfdiff train/eval/demo` (MFDIFF_MALLOC=default: glibc's own)
    args = parse_args()
    ckpts = args.ckpts
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    for name, path in ckpts.items():  # a --set a checkpoint refuses: said before any timing
        defaults = {} if args.acting == "checkpoint" else {f: getattr(Config(), f) for f in ACTING}
        try:
            check_policy(path, **{**defaults, **args.sets})
        except (ValueError, TypeError) as e:
            raise SystemExit(f"gpu.py: --checkpoint {name}={path}: {e}") from None
    runs: dict[tuple[str, int], list[float]] = {}  # (kind, N) -> mean ms of each repeat
    medians: dict[tuple[str, int], list[float]] = {}
    lifts: dict[tuple[str, int], list[dict[str, float]]] = {}  # --lift-share: each repeat's
    planned: dict[tuple[str, int], int] = {}
    rss: dict[tuple[str, int], float] = {}  # peak RSS after the key's first repeat
    for rep in range(args.repeats):
        for n in args.sizes:
            side = int(round(n ** 0.5))
            for name in ("ising", "battle"):
                if name not in args.kinds:
                    continue
                core = (IsingCore(side * side, max_cycles=10_000) if name == "ising"
                        else BattleCore(n, opponent="expert", max_cycles=10_000))
                r = latency(core, device, args.steps, ckpts.get(name),
                            own_settings=args.acting == "checkpoint",
                            sets=args.sets if name in ckpts else None,
                            lift_share=args.lift_share)
                key = (name, n if name == "battle" else core.n_agents)
                runs.setdefault(key, []).append(r["mean_ms"])
                medians.setdefault(key, []).append(r["median_ms"])
                if args.lift_share:
                    lifts.setdefault(key, []).append(r)
                planned[key] = core.n_agents
                rss.setdefault(key, rss_mb())  # peak so far on the first repeat
                print(rep, key, round(r["mean_ms"], 1), round(r["median_ms"], 1), flush=True)
    rows = [(name, n_env, planned[(name, n_env)], statistics.median(runs[(name, n_env)]),
             statistics.median(medians[(name, n_env)]), rss[(name, n_env)])
            for name, n_env in runs]  # the first repeat's order: by size, ising then battle
    tput = train_throughput(device, 20)
    gpu_mem = (f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MB"
               if device.type == "cuda" else "n/a")
    dev_name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    lines = [
        "# MF-Diffuser on this device: planning latency vs N, training throughput, memory", "",
        "Regenerate with:", "", "```",
        f"python benchmarks/gpu.py --device {args.device} --threads {args.threads} "
        f"--steps {args.steps}" + (f" --repeats {args.repeats}" if args.repeats > 1 else "")
        + (f" --acting {args.acting}" if args.acting != "defaults" else "")
        + (" --lift-share" if args.lift_share else "")
        + (f" --kinds {' '.join(args.kinds)}" if len(args.kinds) < 2 else "")
        + f" --sizes {' '.join(map(str, args.sizes))} --out "
        f"{args.out or 'FILE'}" + "".join(f" --checkpoint {c}" for c in args.checkpoint)
        + "".join(f" --set {c}" for c in args.set),
        "```", "",
        f"Device: {device} ({dev_name or 'cpu'}), torch {torch.__version__}, {args.threads} "
        f"thread(s), allocator {'tuned (mfdiff_agents.allocator)' if tuned else 'as it comes'};"
        f" mean / median over {args.steps} steps after one warm-up"
        + (f", each the median of {args.repeats} repeats" if args.repeats > 1 else "")
        + (" (the mean includes the replans, every 4th step; the median is a step without one);"
           " re-lift every step; default Config, " if args.acting == "defaults" or not ckpts else
           " (the mean includes the replans, at each checkpoint's own `replan_every`); lifting as"
           " each config sets it; checkpoints at their own config.json's planning settings,"
           " others at the default Config, ")
        + (f"over them {', '.join(args.set)}; " if args.set else "")
        + ("weights: " + ", ".join(f"{k} {v}" for k, v in ckpts.items())
           + " (others random)" if ckpts else "random weights") + ".", "",
        "| obs | N | agents planned for | ms / step (mean) | ms / step (median) | "
        "peak RSS so far (MB) |" + (LIFT_HEAD if args.lift_share else ""),
        "|---|---|---|---|---|---|" + ("---|" * 4 if args.lift_share else ""),
        *[f"| {a} | {n:,} | {na:,} | {m:.1f} | {mn:.1f} | {r:.0f} |"
          + (lift_cells(lifts[(a, n)]) if args.lift_share else "")
          for a, n, na, m, mn, r in rows],
        *([] if not args.lift_share else [
            "", "Lifting (`--lift-share`): every balanced lift inside the timed steps, its"
            " distinct rows included, timed around the call; ms / step and share of the step's"
            " time (mean over the steps, median over repeats); a cold lift follows a replan (new"
            " particles, no warm start), a warm one the steps between."]),
        "", *ratio_lines(rows, runs), "",
        f"Training: {tput:.1f} gradient steps/s (batch 32 windows × K 32 × H 8). "
        f"Peak CUDA memory: {gpu_mem}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
