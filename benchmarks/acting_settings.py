"""Acting latency of one checkpoint under two acting settings, measured in one run.

    python benchmarks/acting_settings.py CKPT --env mfdiff/GaussianSqueeze-v0 \
        --env-kwargs '{"max_cycles": 25}' --a plan_combine=best --b plan_combine=mean \
        [--sizes 100 1000 10000] [--episodes 3] [--threads 1] [--out FILE.md]

Latency per env step is what `mfdiff eval` records (``latency_ms``: the policy's act calls over
an episode, divided by its steps). The grid's latency tables compare rows evaluated at other
times, on a machine whose speed drifts with its load; here both settings act in alternating
episodes (A, B, A, B, ... at each N, the same seeds), so the ratio B / A is taken under the same
load. Reports the median per-step latency of each setting, the median of the per-pair ratios,
and the score of each setting on those episodes (a sanity check, not an evaluation).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics

import torch

from mfdiff_agents.allocator import tune_cpu_allocator
from mfdiff_agents.evaluation.run import episode_seed, make_core
from mfdiff_agents.methods import load_policy
from mfdiff_envs.rollout import rollout


def parse_settings(pairs: list[str]) -> dict:
    """``["KEY=VALUE", ...]`` -> settings, each VALUE read as JSON where it parses ("4" -> 4)."""
    out = {}
    for kv in pairs:
        key, sep, value = kv.partition("=")
        if not sep or not key:
            raise SystemExit(f"settings are KEY=VALUE, got {kv!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    tune_cpu_allocator()  # as `mfdiff train/eval/demo` (MFDIFF_MALLOC=default: glibc's own)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--env", required=True)
    ap.add_argument("--env-kwargs", default="{}", help="JSON")
    ap.add_argument("--a", nargs="+", default=[], metavar="KEY=VALUE", help="setting A")
    ap.add_argument("--b", nargs="+", default=[], metavar="KEY=VALUE", help="setting B")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000])
    ap.add_argument("--episodes", type=int, default=3, help="episodes per setting and N")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.episodes < 1:
        ap.error("--episodes must be at least 1")
    a, b = parse_settings(args.a), parse_settings(args.b)
    if a == b:
        ap.error("--a and --b are the same settings: nothing to compare")
    torch.set_num_threads(args.threads)
    kwargs = json.loads(args.env_kwargs)
    policies = {name: load_policy(args.checkpoint, device="cpu", num_threads=args.threads, **s)
                for name, s in (("A", a), ("B", b))}
    rows = []
    for n in args.sizes:
        core = make_core(args.env, {**kwargs, "n_agents": n})
        ms: dict[str, list[float]] = {"A": [], "B": []}
        ret: dict[str, list[float]] = {"A": [], "B": []}
        for ep in range(args.episodes):
            for name, pol in policies.items():
                res = rollout(core, pol, seed=episode_seed(ep, 0))
                ms[name].append(1000.0 * res.act_seconds / max(res.steps, 1))
                ret[name].append(res.total_return)
        ratios = [mb / ma for ma, mb in zip(ms["A"], ms["B"])]
        rows.append((n, statistics.median(ms["A"]), statistics.median(ms["B"]),
                     statistics.median(ratios), statistics.mean(ret["A"]),
                     statistics.mean(ret["B"])))
    lines = [
        f"Acting latency of `{args.checkpoint}` on `{args.env}` {json.dumps(kwargs)}, "
        f"A = {json.dumps(a)}, B = {json.dumps(b)}; {args.episodes} episodes of each per N, "
        f"alternating A and B; {args.threads} torch thread(s), {platform.processor() or 'cpu'}, "
        f"{datetime.date.today()}.",
        "",
        "Regenerate with:",
        "",
        "```",
        "python benchmarks/acting_settings.py " + " ".join(
            [args.checkpoint, "--env", args.env, "--env-kwargs", f"'{args.env_kwargs}'",
             "--a", *args.a, "--b", *args.b, "--sizes", *map(str, args.sizes),
             "--episodes", str(args.episodes), "--threads", str(args.threads)]
            + (["--out", args.out] if args.out else [])),
        "```",
        "",
        "| N | A ms / step (median) | B ms / step (median) | B / A (median of pairs) "
        "| return A | return B |",
        "|---|---|---|---|---|---|",
        *[f"| {n} | {ma:.1f} | {mb:.1f} | {r:.2f} | {ra:.3f} | {rb:.3f} |"
          for n, ma, mb, r, ra, rb in rows],
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(f"# {args.out.rsplit('/', 1)[-1].removesuffix('.md')}\n\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
