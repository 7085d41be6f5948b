"""When Ising agents whose spin already agrees with their neighbours flip, by policy: the share
of such *aligned* agents that flip, per 10-step block of a 50-step episode, the team reward
per block, and the flip share by kind of agent over the episode (aligned with / against the
magnetisation, neighbours' mean 0, misaligned). Markdown on stdout; 6 episodes (evaluation
seeds 0-5, seeded as `mfdiff eval`'s). The evidence behind docs/results/ising_n100_when.md:

    C=runs/grid/ckpt/ising-n1024-medium
    python experiments/ising_when.py $C/mfq-wc-s0 \\
        "$C/mfdiffuser-s0:plan_samples=4,plan_combine=mean,cap_particles=true" \\
        > docs/results/ising_n100_when.md

Checkpoints act as experiments/battle_trace.py's ``policy_factory`` says (MF-Diffuser: the grid's
one-plan acting, changed by the ``:KEY=VALUE,...`` after the path; above: the config's mixture
of 4 plans with particles capped at N). N = 100 (``--n-agents``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from battle_trace import policy_factory  # noqa: E402  (a script beside this one)

from mfdiff_agents.evaluation.run import episode_seed, make_core  # noqa: E402
from mfdiff_envs.rollout import rollout  # noqa: E402

EPISODES, STEPS, BLOCK = 6, 50, 10


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("policies", nargs="+", help="checkpoint directories[:KEY=VALUE,...]")
    ap.add_argument("--n-agents", type=int, default=100, help="N, a square (default 100)")
    args = ap.parse_args(argv)
    n = args.n_agents
    print(f"# ising_when: when aligned agents flip (Ising, N = {n})\n")
    print("Command (this file is its stdout): `python experiments/ising_when.py " + " ".join(
        f'"{p}"' if ":" in p else p for p in args.policies) + (
        f" --n-agents {n}" if n != 100 else "") + "`\n")
    print(f"{EPISODES} episodes of {STEPS} steps (evaluation seeds 0-{EPISODES - 1}). Aligned: "
          "own spin agrees with the neighbours' mean spin (a flip can only lose reward).\n")
    blocks = [f"steps {i}-{i + BLOCK - 1}" for i in range(0, STEPS, BLOCK)]
    kinds = ("aligned, with the magnetisation", "aligned, against it", "neighbours' mean 0",
             "misaligned")
    rows_flip, rows_rew, rows_kind = [], [], []
    for spec in args.policies:
        core = make_core("mfdiff/Ising-v0", {"n_agents": n, "max_cycles": STEPS})
        factory = policy_factory(spec, "ising")
        by_t = np.zeros((STEPS, 2))
        by_kind = {k: [0.0, 0.0] for k in kinds}
        rets, rew_t = [], np.zeros(STEPS)
        for seed in range(EPISODES):
            res = rollout(core, factory(core, seed), seed=episode_seed(seed, 0), record=True)
            obs, act = res.episode["observations"][:-1], res.episode["actions"]  # [T, N, d]
            spin, nb, mag = obs[..., 0], obs[..., 1], obs[..., 2]
            al = spin * nb > 0
            with_mag = spin * mag > 0
            by_t[:, 0] += (act * al).sum(1)
            by_t[:, 1] += al.sum(1)
            masks = dict(zip(kinds, (al & with_mag, al & ~with_mag, nb == 0, spin * nb < 0),
                             strict=True))
            for k, m in masks.items():
                by_kind[k][0] += (act * m).sum()
                by_kind[k][1] += m.sum()
            rets.append(res.total_return)
            rew_t += np.asarray(res.episode["rewards"])[:STEPS] / EPISODES
        r = by_t[:, 0] / np.maximum(by_t[:, 1], 1)
        name = spec if len(spec) < 60 else "…" + spec[-57:]
        rows_flip.append(f"| {name} | {np.mean(rets):.2f} | " + " | ".join(
            f"{r[i:i + BLOCK].mean():.3f}" for i in range(0, STEPS, BLOCK)) + " |")
        rows_rew.append(f"| {name} | " + " | ".join(
            f"{rew_t[i:i + BLOCK].sum():.2f}" for i in range(0, STEPS, BLOCK)) + " |")
        rows_kind.append(f"| {name} | " + " | ".join(
            f"{a / max(b, 1):.3f} ({int(b)})" for a, b in by_kind.values()) + " |")
    print("Share of aligned agents that flip, per block, and the mean episode return:\n")
    print("| policy | return | " + " | ".join(blocks) + " |")
    print("|---|---|" + "---|" * len(blocks))
    print("\n".join(rows_flip))
    print("\nTeam reward per block (mean over episodes):\n")
    print("| policy | " + " | ".join(blocks) + " |")
    print("|---|" + "---|" * len(blocks))
    print("\n".join(rows_rew))
    print("\nFlip share by kind of agent over the episode (agent-steps of that kind):\n")
    print("| policy | " + " | ".join(kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    print("\n".join(rows_kind))
    return 0


if __name__ == "__main__":
    sys.exit(main())
