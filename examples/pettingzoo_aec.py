"""A plain PettingZoo AEC loop: ``policy.bind(env)``, then ``policy(observation, agent)``.

The first call of a cycle acts for every live agent in one batch; the rest are cache reads.

    python examples/pettingzoo_aec.py --n-agents 64 [--policy runs/mfd-ising] [--env ID]

The env is ``--env``, else the checkpoint's own (with its training kwargs, e.g. max_cycles),
else Ising (N = L x L); the loop stops after ``--steps`` cycles.
"""

from __future__ import annotations

from _common import ISING, make_env, make_policy, parser, pettingzoo_module, resolve_env


def main() -> None:
    p = parser(__doc__, n_agents=64, env=ISING)
    args = p.parse_args()
    env_id, kwargs = resolve_env(p, args)
    env = make_env(p, pettingzoo_module(p, env_id).env, n_agents=args.n_agents, **kwargs)
    env.reset(seed=args.seed)
    core = env.unwrapped.core
    policy = make_policy(p, args.policy, core, seed=args.seed).bind(env)
    policy.reset(args.seed)
    total = 0.0
    for agent in env.agent_iter():
        if core.t >= args.steps:  # checked between turns: stops at a cycle's end
            # a cycle's rewards reach each agent through last() at its next turn, which a loop
            # stopped here never takes: count the last cycle's from env.rewards (set for every
            # agent at the cycle's end, none taken yet), as the parallel loop counts them
            total += sum(env.rewards.values()) / core.n_agents
            break
        observation, reward, termination, truncation, info = env.last()
        total += reward / core.n_agents
        action = None if termination or truncation else policy(observation, agent)
        env.step(action)
    metrics = {k: round(v, 3) for k, v in core.metrics().items()}
    print(f"pettingzoo AEC {env_id}: N={args.n_agents} steps {core.t} team return {total:.4f} "
          f"metrics {metrics}")


if __name__ == "__main__":
    main()
