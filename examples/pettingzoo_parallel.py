"""A plain PettingZoo parallel loop driven by an mfdiff policy (``policy.act(obs, env.agents)``).

    python examples/pettingzoo_parallel.py --n-agents 100 [--policy runs/mfd]
"""

from __future__ import annotations

from _common import make_env, make_policy, parser

from mfdiff_envs import squeeze_v0


def main() -> None:
    p = parser(__doc__)
    args = p.parse_args()
    env = make_env(p, squeeze_v0.parallel_env, n_agents=args.n_agents, max_cycles=10)
    policy = make_policy(args.policy, env.unwrapped.core, seed=args.seed)
    observations, infos = env.reset(seed=args.seed)
    policy.reset(args.seed)
    total = 0.0
    while env.agents:
        actions = policy.act(observations, env.agents)  # one batched call, live agents only
        observations, rewards, terminations, truncations, infos = env.step(actions)
        total += sum(rewards.values()) / args.n_agents
    print(f"pettingzoo parallel: N={args.n_agents} team return {total:.4f}")


if __name__ == "__main__":
    main()
