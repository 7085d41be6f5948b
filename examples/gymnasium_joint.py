"""The gymnasium joint view: the whole population is one gymnasium agent (obs [N, d]).

    python examples/gymnasium_joint.py --n-agents 1000 [--policy runs/mfd]
"""

from __future__ import annotations

import gymnasium as gym
from _common import make_policy, parser

import mfdiff_envs  # noqa: F401  (registers the mfdiff/* ids)


def main() -> None:
    args = parser(__doc__, n_agents=1000).parse_args()
    env = gym.make("mfdiff/GaussianSqueeze-v0", n_agents=args.n_agents, max_cycles=10)
    policy = make_policy(args.policy, env.unwrapped.core, seed=args.seed)
    obs, info = env.reset(seed=args.seed)
    policy.reset(args.seed)
    total, done = 0.0, False
    while not done:
        action = policy.act_batch(obs, info["alive"])  # [N] int64
        obs, reward, terminated, truncated, info = env.step(action)
        total += reward
        done = terminated or truncated
    print(f"gymnasium joint: N={args.n_agents} team return {total:.4f}")


if __name__ == "__main__":
    main()
