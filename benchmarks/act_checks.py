"""What ``Policy.act_batch``'s input checks cost per call, today's code against a commit's.

    python benchmarks/act_checks.py --ref f9c92c2 [--n-agents 100 10000] [--repeats 5]

A policy whose ``_act`` returns zeros (so the checks are all that is timed), on Battle-shaped
observations (d = 13, inside Battle's bounds), three ways: unbound, bound to a Battle env (the
bounds check raises where values leave the env's space) and, today only, unbound with its
training env's bounds to compare with (the warning path: :meth:`Policy.training_obs_bounds`).
Each case runs in its own process per side (the reference's ``mfdiff_agents.policy`` comes from
``git show REF:…``), in alternating order, ``--repeats`` times; µs per call: the median of the
repeats, each the mean of ``--calls`` calls. One thread.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])  # the side's copy of mfdiff_agents.policy shadows the package's
import policy as P
from mfdiff_envs import battle_v0
from mfdiff_envs.battle import OBS_NAMES

n, case, calls = int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
env = battle_v0.parallel_env(n_agents=2 * n, opponent="expert")
low, high = (np.asarray(b, np.float32) for b in env.unwrapped.core.obs_bounds())


class Zeros(P.Policy):
    def _act(self, obs, mask):
        return np.zeros(len(obs), np.int64)

    def training_obs_bounds(self):  # the trained policies' answer (a no-op on old code)
        return (low, high) if case == "training" else None


pol = Zeros(obs_dim=len(OBS_NAMES), n_actions=21, seed=0)
if case == "bound":
    pol.bind(env)
obs = np.random.default_rng(0).uniform(low, np.minimum(high, 1.0), (n, len(OBS_NAMES)))
obs = obs.astype(np.float32)
for _ in range(20):
    pol.act_batch(obs)
t = time.perf_counter()
for _ in range(calls):
    pol.act_batch(obs)
print(json.dumps(1e6 * (time.perf_counter() - t) / calls))
"""


def side_dir(ref: str | None, tmp: Path) -> Path:
    """A folder holding ``policy.py`` of ``ref`` (None: the working tree's)."""
    d = tmp / (ref or "today")
    d.mkdir(exist_ok=True)
    src = (subprocess.run(["git", "show", f"{ref}:mfdiff_agents/policy.py"], cwd=ROOT,
                          check=True, capture_output=True, text=True).stdout if ref
           else (ROOT / "mfdiff_agents" / "policy.py").read_text())
    (d / "policy.py").write_text(src)
    return d


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ref", required=True, help="commit to compare with, e.g. f9c92c2")
    ap.add_argument("--n-agents", type=int, nargs="+", default=[100, 10_000],
                    help="agents acted for per call (a Battle team)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args(argv)
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    rows = []
    with tempfile.TemporaryDirectory() as t:
        sides = {"ref": side_dir(args.ref, Path(t)), "today": side_dir(None, Path(t))}
        for n in args.n_agents:
            for case in ("unbound", "bound", "training"):
                times: dict[str, list[float]] = {"ref": [], "today": []}
                for rep in range(args.repeats):
                    order = ("ref", "today") if rep % 2 == 0 else ("today", "ref")
                    for side in order:
                        if case == "training" and side == "ref":
                            continue  # the reference has no such path
                        out = subprocess.run(
                            [sys.executable, "-c", CHILD, str(sides[side]), str(n), case,
                             str(args.calls)], check=True, capture_output=True, text=True,
                            env=env, cwd=ROOT)
                        times[side].append(json.loads(out.stdout.strip().splitlines()[-1]))
                ref = statistics.median(times["ref"]) if times["ref"] else None
                today = statistics.median(times["today"])
                rows.append((n, case, ref, today))
    print(f"act_batch's own cost (µs a call, a policy acting 0), today vs {args.ref}; "
          f"median of {args.repeats} repeats of {args.calls} calls, one thread\n")
    print(f"| agents | case | {args.ref} µs | today µs | today / {args.ref} |")
    print("|---|---|---|---|---|")
    for n, case, ref, today in rows:
        r = "–" if ref is None else f"{ref:.1f}"
        q = "–" if ref is None else f"{today / ref:.2f}"
        print(f"| {n:,} | {case} | {r} | {today:.1f} | {q} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
