"""A plain PettingZoo parallel loop driven by an mfdiff policy (``policy.act(obs, env.agents)``).

    python examples/pettingzoo_parallel.py --n-agents 100 [--policy runs/mfd-ising] [--env ID]

The env is ``--env``, else the checkpoint's own (with its training kwargs, e.g. max_cycles),
else Gaussian Squeeze; the loop stops after ``--steps`` steps.
"""

from __future__ import annotations

from _common import make_env, make_policy, parser, pettingzoo_module, resolve_env


def main() -> None:
    p = parser(__doc__)
    args = p.parse_args()
    env_id, kwargs = resolve_env(p, args)
    env = make_env(p, pettingzoo_module(p, env_id).parallel_env, n_agents=args.n_agents,
                   **kwargs)
    policy = make_policy(p, args.policy, env.unwrapped.core, seed=args.seed)
    observations, infos = env.reset(seed=args.seed)
    policy.reset(args.seed)
    n = env.unwrapped.core.n_agents  # the agents the policy controls (Battle: red)
    total, t = 0.0, 0
    while env.agents and t < args.steps:
        actions = policy.act(observations, env.agents)  # one batched call, live agents only
        observations, rewards, terminations, truncations, infos = env.step(actions)
        total += sum(rewards.values()) / n
        t += 1
    print(f"pettingzoo parallel {env_id}: N={args.n_agents} steps {t} team return {total:.4f}")


if __name__ == "__main__":
    main()
