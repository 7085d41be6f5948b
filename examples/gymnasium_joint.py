"""The gymnasium joint view: the whole population is one gymnasium agent (obs [N, d]).

    python examples/gymnasium_joint.py --n-agents 1024 [--policy runs/mfd-ising] [--env ID]

The env is ``--env``, else the checkpoint's own (with its training kwargs, e.g. max_cycles),
else Gaussian Squeeze; the loop stops after ``--steps`` steps.
"""

from __future__ import annotations

import gymnasium as gym
from _common import make_env, make_policy, parser, resolve_env

import mfdiff_envs  # noqa: F401  (registers the mfdiff/* ids)


def main() -> None:
    p = parser(__doc__, n_agents=1024)
    args = p.parse_args()
    env_id, kwargs = resolve_env(p, args)
    env = make_env(p, gym.make, env_id, n_agents=args.n_agents, **kwargs)
    policy = make_policy(p, args.policy, env.unwrapped.core, seed=args.seed)
    policy.bind(env)  # a trained policy refuses observation-rescaling wrappers here
    obs, info = env.reset(seed=args.seed)
    policy.reset(args.seed)
    total, t, done = 0.0, 0, False
    while not done and t < args.steps:
        action = policy.act_batch(obs, info["alive"])  # [N] int64
        obs, reward, terminated, truncated, info = env.step(action)
        total += reward
        t += 1
        done = terminated or truncated
    print(f"gymnasium joint {env_id}: N={args.n_agents} steps {t} team return {total:.4f}")


if __name__ == "__main__":
    main()
