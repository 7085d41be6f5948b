"""SuperSuit vector envs (the route to Stable-Baselines3): ``pettingzoo_env_to_vec_env_v1``
turns the N agents of a parallel env into N vector slots, ``concat_vec_envs_v1`` stacks copies.

The population policy acts for each copy's N rows at once (obs [copies * N, d] -> [copies, N, d]).
With ``stable_baselines3`` installed the same vec env is built with ``base_class=
"stable_baselines3"`` (an SB3 ``VecEnv``); without it we drive SuperSuit's gymnasium vec env.

    pip install supersuit [stable-baselines3]
    python examples/sb3_supersuit.py --n-agents 100 [--policy runs/mfd]
"""

from __future__ import annotations

import importlib.util

import numpy as np
import supersuit as ss
from _common import make_policy, parser

from mfdiff_envs import squeeze_v0
from mfdiff_envs.squeeze import GaussianSqueezeCore


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--copies", type=int, default=2)
    args = p.parse_args()
    n, kwargs = args.n_agents, {"n_agents": args.n_agents, "max_cycles": 10}
    vec = ss.pettingzoo_env_to_vec_env_v1(squeeze_v0.parallel_env(**kwargs))
    sb3 = importlib.util.find_spec("stable_baselines3") is not None
    base = "stable_baselines3" if sb3 else "gymnasium"
    venv = ss.concat_vec_envs_v1(vec, args.copies, num_cpus=0, base_class=base)
    policy = make_policy(args.policy, GaussianSqueezeCore(**kwargs), seed=args.seed)
    if sb3:
        venv.seed(args.seed)
        obs = venv.reset()
    else:
        obs, _ = venv.reset(seed=args.seed)
    total = np.zeros(args.copies)
    for _ in range(10):
        obs = np.asarray(obs).reshape(args.copies, n, -1)  # [copies, N, d]
        actions = np.concatenate([policy.act_batch(o) for o in obs])  # [copies * N]
        if sb3:
            obs, rew, dones, infos = venv.step(actions)
        else:
            obs, rew, term, trunc, infos = venv.step(actions)
        total += np.asarray(rew).reshape(args.copies, n).mean(axis=1)
    print(f"supersuit ({base}): N={n} x {args.copies} copies "
          f"team returns {total.round(4).tolist()}")
    venv.close()


if __name__ == "__main__":
    main()
