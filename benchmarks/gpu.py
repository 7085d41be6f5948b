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
of this process (env + planner) and, on CUDA, peak allocated device memory.
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import time

import torch

from mfdiff_agents.checkpoint import EnvFacts
from mfdiff_agents.device import resolve_device
from mfdiff_agents.diffuser.config import PLANNING_FIELDS, Config
from mfdiff_agents.diffuser.model import Stats, training_loss
from mfdiff_agents.diffuser.planner import MFDiffuserPlanner
from mfdiff_envs.battle import BattleCore
from mfdiff_envs.ising import IsingCore

#: every planning / acting field set to the Config's defaults on a loaded checkpoint (five of
#: them only until the fifty-second update: a checkpoint trained with a family config then
#: planned with that config's plans, particles and DDIM steps, not the defaults the tables say)
ACTING = PLANNING_FIELDS


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def planner_for(core, device: torch.device, checkpoint: str | None = None) -> MFDiffuserPlanner:
    if checkpoint is not None:  # trained weights, planning at the Config's defaults
        return MFDiffuserPlanner.from_pretrained(
            checkpoint, device=str(device), seed=0, **{f: getattr(Config(), f) for f in ACTING}
        )
    cfg = Config(device=str(device))
    env = EnvFacts(obs_dim=core.obs_dim, n_actions=core.n_actions)
    torch.manual_seed(0)
    return MFDiffuserPlanner(MFDiffuserPlanner.build_model(cfg, env), cfg, env=env, seed=0,
                             device=device)


def latency(
    core, device: torch.device, steps: int, checkpoint: str | None = None
) -> dict[str, float]:
    policy = planner_for(core, device, checkpoint)
    obs, _ = core.reset(seed=0)
    policy.reset(seed=0)
    times = []
    for i in range(steps + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        acts = policy.act_batch(obs, core.alive.copy())
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:  # the first step warms up
            times.append(time.perf_counter() - t)
        obs, *_ = core.step(acts)
    return {"mean_ms": 1e3 * statistics.mean(times), "median_ms": 1e3 * statistics.median(times)}


def ratio_lines(rows: list[tuple]) -> list[str]:
    """Mean planning step at the largest N ≤ 10⁴ over the smallest N, per observation kind."""
    out = []
    for kind in dict.fromkeys(r[0] for r in rows):
        mine = sorted((r[1], r[3]) for r in rows if r[0] == kind and r[1] <= 10_000)
        if len(mine) > 1:
            (n0, m0), (n1, m1) = mine[0], mine[-1]
            out.append(f"Planning step (mean) {kind}: N = {n1:,} / N = {n0:,} = "
                       f"{m1 / m0:.2f}×.")
    return out


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
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000, 100_000])
    ap.add_argument("--out", default=None)
    # extend: `--checkpoint a=X b=Y` and `--checkpoint a=X --checkpoint b=Y` (the form this
    # script prints in its report) both keep every pair; "*" with store kept only the last flag
    ap.add_argument("--checkpoint", nargs="+", action="extend", default=[], metavar="OBS=DIR",
                    help="trained weights per observation kind, e.g. battle=runs/grid/ckpt/...")
    args = ap.parse_args(argv)
    args.ckpts = dict(c.split("=", 1) for c in args.checkpoint)
    if set(args.ckpts) - {"ising", "battle"}:
        ap.error(f"--checkpoint takes ising=DIR and/or battle=DIR, got {sorted(args.ckpts)}")
    return args


def main() -> None:
    args = parse_args()
    ckpts = args.ckpts
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    rows = []
    for n in args.sizes:
        side = int(round(n ** 0.5))
        for name, core in (("ising", IsingCore(side * side, max_cycles=10_000)),
                           ("battle", BattleCore(n, opponent="expert", max_cycles=10_000))):
            r = latency(core, device, args.steps, ckpts.get(name))
            n_env = n if name == "battle" else core.n_agents
            rows.append((name, n_env, core.n_agents, r["mean_ms"], r["median_ms"], rss_mb()))
            print(rows[-1], flush=True)
    tput = train_throughput(device, 20)
    gpu_mem = (f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MB"
               if device.type == "cuda" else "n/a")
    dev_name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    lines = [
        "# MF-Diffuser on this device: planning latency vs N, training throughput, memory", "",
        "Regenerate with:", "", "```",
        f"python benchmarks/gpu.py --device {args.device} --threads {args.threads} "
        f"--steps {args.steps} --sizes {' '.join(map(str, args.sizes))} --out "
        f"{args.out or 'FILE'}" + "".join(f" --checkpoint {c}" for c in args.checkpoint),
        "```", "",
        f"Device: {device} ({dev_name or 'cpu'}), torch {torch.__version__}, {args.threads} "
        f"thread(s); mean / median over {args.steps} steps after one warm-up (the mean includes "
        "the replans, every 4th step; the median is a step without one); re-lift every step; "
        "default Config, " + ("weights: " + ", ".join(f"{k} {v}" for k, v in ckpts.items())
                              + " (others random)" if ckpts else "random weights") + ".", "",
        "| obs | N | agents planned for | ms / step (mean) | ms / step (median) | "
        "peak RSS so far (MB) |",
        "|---|---|---|---|---|---|",
        *[f"| {a} | {n:,} | {na:,} | {m:.1f} | {mn:.1f} | {r:.0f} |"
          for a, n, na, m, mn, r in rows],
        "", *ratio_lines(rows), "",
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
