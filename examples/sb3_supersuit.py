"""SuperSuit vector envs (the route to Stable-Baselines3): ``pettingzoo_env_to_vec_env_v1``
turns the N agents of a parallel env into N vector slots, ``concat_vec_envs_v1`` stacks copies.

The population policy acts for each copy's N rows at once (obs [copies * N, d] -> [copies, N, d]).
With ``stable_baselines3`` installed the same vec env is built with ``base_class=
"stable_baselines3"`` (an SB3 ``VecEnv``); without it we drive SuperSuit's gymnasium vec env
(``--base-class`` picks one).

Seeding: SuperSuit's ``ConcatVecEnv.reset(seed=s)`` seeds copy ``i`` with ``s + i``. SB3's
``VecEnv.seed(s)`` and SuperSuit's SB3 wrapper's ``reset(seed=s)`` both call a ``seed`` method
that ``ConcatVecEnv`` lacks (AttributeError, SuperSuit 3.11 + SB3 2.x), so under SB3 we reset
the wrapped SuperSuit vec env, ``venv.venv.reset(seed=s)``, and step the SB3 wrapper.

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
    p.add_argument("--base-class", choices=("auto", "gymnasium", "stable_baselines3"),
                   default="auto", help="SuperSuit's base_class (auto: SB3 when installed)")
    args = p.parse_args()
    n, kwargs = args.n_agents, {"n_agents": args.n_agents, "max_cycles": 10}
    vec = ss.pettingzoo_env_to_vec_env_v1(squeeze_v0.parallel_env(**kwargs))
    base = args.base_class
    sb3_found = importlib.util.find_spec("stable_baselines3") is not None
    if base == "auto":
        base = "stable_baselines3" if sb3_found else "gymnasium"
    elif base == "stable_baselines3" and not sb3_found:
        p.error("--base-class stable_baselines3 needs `pip install stable-baselines3`")
    sb3 = base == "stable_baselines3"
    venv = ss.concat_vec_envs_v1(vec, args.copies, num_cpus=0, base_class=base)
    policy = make_policy(args.policy, GaussianSqueezeCore(**kwargs), seed=args.seed)
    # Squeeze agents never die; for Battle (under mfdiff_envs.wrappers.black_death) pass the
    # live rows as the mask, policy.act_batch(o, o.any(-1)): a dead agent observes zeros
    if sb3:  # venv.seed / venv.reset(seed=...) raise AttributeError here (module doc)
        obs, _ = venv.venv.reset(seed=args.seed)
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
