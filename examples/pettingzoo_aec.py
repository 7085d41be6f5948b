"""A plain PettingZoo AEC loop: ``policy.bind(env)``, then ``policy(observation, agent)``.

The first call of a cycle acts for every live agent in one batch; the rest are cache reads.

    python examples/pettingzoo_aec.py --n-agents 64 [--policy runs/mfd]
"""

from __future__ import annotations

from _common import make_env, make_policy, parser

from mfdiff_envs import ising_v0


def main() -> None:
    p = parser(__doc__, n_agents=64)
    args = p.parse_args()
    env = make_env(p, ising_v0.env, n_agents=args.n_agents, max_cycles=10)  # N = L x L
    env.reset(seed=args.seed)
    policy = make_policy(args.policy, env.unwrapped.core, seed=args.seed).bind(env)
    policy.reset(args.seed)
    total = 0.0
    for agent in env.agent_iter():
        observation, reward, termination, truncation, info = env.last()
        total += reward / args.n_agents
        action = None if termination or truncation else policy(observation, agent)
        env.step(action)
    metrics = {k: round(v, 3) for k, v in env.unwrapped.core.metrics().items()}
    print(f"pettingzoo AEC: N={args.n_agents} team return {total:.4f} metrics {metrics}")


if __name__ == "__main__":
    main()
