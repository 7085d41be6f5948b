"""SuperSuit vector envs (the route to Stable-Baselines3): ``pettingzoo_env_to_vec_env_v1``
turns the N agents of a parallel env into N vector slots, ``concat_vec_envs_v1`` stacks copies.

Each copy has its own population policy, acting for that copy's N rows at once (obs
[copies * N, d] -> [copies, N, d]) and reset when that copy's episode ends. With
``stable_baselines3`` installed the same vec env is built with ``base_class=
"stable_baselines3"`` (an SB3 ``VecEnv``); without it we drive SuperSuit's gymnasium vec env
(``--base-class`` picks one). Battle is wrapped in ``mfdiff_envs.wrappers.black_death`` (dead
agents stay, observing zeros) and acted on with the mask ``o.any(-1)`` (the live rows); not
Squeeze, whose first observation is all zeros for every (live) agent.

Seeding: SuperSuit's ``ConcatVecEnv.reset(seed=s)`` seeds copy ``i`` with ``s + i``. SB3's
``VecEnv.seed(s)`` and SuperSuit's SB3 wrapper's ``reset(seed=s)`` both call a ``seed`` method
that ``ConcatVecEnv`` lacks (AttributeError, SuperSuit 3.11 + SB3 2.x), so under SB3 we reset
the wrapped SuperSuit vec env, ``venv.venv.reset(seed=s)``, and step the SB3 wrapper.

    pip install -e ".[dev]"            # SuperSuit (the dev extra)
    pip install stable-baselines3      # optional (in no extra)
    python examples/sb3_supersuit.py --n-agents 100 [--policy runs/mfd-ising] [--env ID]

The env is ``--env``, else the checkpoint's own (with its training kwargs, e.g. max_cycles),
else Gaussian Squeeze; the loop stops after ``--steps`` steps.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import supersuit as ss
from _common import BATTLE, make_env, make_policy, parser, pettingzoo_module, resolve_env

from mfdiff_envs.wrappers import black_death


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--copies", type=int, default=2)
    p.add_argument("--base-class", choices=("auto", "gymnasium", "stable_baselines3"),
                   default="auto", help="SuperSuit's base_class (auto: SB3 when installed)")
    args = p.parse_args()
    env_id, kwargs = resolve_env(p, args)
    par = make_env(p, pettingzoo_module(p, env_id).parallel_env, n_agents=args.n_agents,
                   **kwargs)
    core = par.unwrapped.core
    n = core.n_agents  # rows per copy: the agents the policy controls (Battle: red)
    base = args.base_class
    sb3_found = importlib.util.find_spec("stable_baselines3") is not None
    if base == "auto":
        base = "stable_baselines3" if sb3_found else "gymnasium"
    elif base == "stable_baselines3" and not sb3_found:
        p.error("--base-class stable_baselines3 needs `pip install stable-baselines3`")
    sb3 = base == "stable_baselines3"
    # Battle agents die: black_death keeps their slots (zero observations, actions dropped)
    vec = ss.pettingzoo_env_to_vec_env_v1(black_death(par) if env_id == BATTLE else par)
    venv = ss.concat_vec_envs_v1(vec, args.copies, num_cpus=0, base_class=base)
    # one policy per copy (a planner keeps one episode's plan), each with its own seed
    policies = [make_policy(p, args.policy, core, seed=args.seed + i) for i in range(args.copies)]
    if sb3:  # venv.seed / venv.reset(seed=...) raise AttributeError here (module doc)
        obs, _ = venv.venv.reset(seed=args.seed)
    else:
        obs, _ = venv.reset(seed=args.seed)
    for i, policy in enumerate(policies):
        policy.reset(args.seed + i)  # copy i's env seed
    total = np.zeros(args.copies)
    for _ in range(args.steps):
        obs = np.asarray(obs).reshape(args.copies, n, -1)  # [copies, N, d]
        # Battle: the live rows (a dead agent observes zeros under black_death; a live one
        # never does). No mask elsewhere: nobody dies, and a Squeeze agent's first observation
        # IS all zeros (no level played yet), so o.any(-1) would mask every agent out
        actions = np.concatenate([pol.act_batch(o, o.any(-1) if env_id == BATTLE else None)
                                  for pol, o in zip(policies, obs)])
        if sb3:
            obs, rew, dones, infos = venv.step(actions)
        else:
            obs, rew, term, trunc, infos = venv.step(actions)
            dones = np.logical_or(term, trunc)
        total += np.asarray(rew).reshape(args.copies, n).mean(axis=1)
        for policy, ended in zip(policies, np.asarray(dones).reshape(args.copies, n).all(axis=1)):
            if ended:  # SuperSuit reset this copy: a new episode for its policy
                policy.reset()
    print(f"supersuit ({base}) {env_id}: N={args.n_agents} x {args.copies} copies "
          f"steps {args.steps} team returns {total.round(4).tolist()}")
    venv.close()


if __name__ == "__main__":
    main()
