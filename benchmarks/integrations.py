"""Per-step cost of TorchRL's generic PettingZooWrapper vs our native TorchRL env, same module.

Both drive Gaussian Squeeze with :class:`PopulationPolicyModule` around the same policy
(``RandomPolicy`` by default, or the scripted expert); one env step + one policy call per step,
timed over ``--steps`` steps after a reset (one run, median per-step ms).

    OMP_NUM_THREADS=1 python benchmarks/integrations.py --n 1000 10000 --steps 5
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from mfdiff_agents.baselines.scripted import make_scripted
from mfdiff_agents.integrations.torchrl import (
    PopulationPolicyModule,
    make_pettingzoo_wrapper,
    make_torchrl_env,
)

ENV_ID = "mfdiff/GaussianSqueeze-v0"


def per_step_ms(env: object, module: PopulationPolicyModule, steps: int) -> float:
    """Median ms of ``module`` + ``env.step`` over ``steps`` steps (TorchRL's step_mdp loop)."""
    from torchrl.envs.utils import step_mdp

    td = env.reset()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        td = env.step(module(td))
        td = step_mdp(td)
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--policy", choices=["random", "expert"], default="random")
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    print("| N | policy | PettingZooWrapper + module (ms/step) | native env + module (ms/step) "
          "| ratio |")
    print("|---:|---|---:|---:|---:|")
    for n in args.n:
        kw = {"n_agents": n, "max_cycles": args.steps + 1}
        nat = make_torchrl_env(ENV_ID, seed=0, **kw)
        pol = make_scripted(args.policy, nat.core, seed=0)
        t_nat = per_step_ms(nat, PopulationPolicyModule(pol), args.steps)
        pz = make_pettingzoo_wrapper(ENV_ID, seed=0, max_memory_gb=8.0, **kw)
        t_pz = per_step_ms(pz, PopulationPolicyModule(pol, group="agent"), args.steps)
        print(f"| {n:,} | {args.policy} | {t_pz:.1f} | {t_nat:.2f} | {t_pz / t_nat:.0f}x |",
              flush=True)


if __name__ == "__main__":
    main()
