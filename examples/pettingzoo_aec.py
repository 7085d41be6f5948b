"""A plain PettingZoo AEC loop: ``policy.bind(env)``, then ``policy(observation, agent)``.

The first call of a cycle acts for every live agent in one batch; the rest are cache reads.

    python examples/pettingzoo_aec.py --n-agents 64 [--policy runs/mfd] [--env ID]

The env is ``--env``, else the checkpoint's own, else Ising (N = L x L).
"""

from __future__ import annotations

from _common import env_id_for, make_env, make_policy, parser

from mfdiff_envs import battle_v0, ising_v0, squeeze_v0

#: registered env id -> its PettingZoo module
MODULES = {"mfdiff/GaussianSqueeze-v0": squeeze_v0, "mfdiff/Ising-v0": ising_v0,
           "mfdiff/Battle-v0": battle_v0}


def main() -> None:
    p = parser(__doc__, n_agents=64)
    p.add_argument("--env", choices=sorted(MODULES), default=None,
                   help="default: the checkpoint's env, else mfdiff/Ising-v0")
    args = p.parse_args()
    env_id = env_id_for(args.policy, args.env, "mfdiff/Ising-v0")
    if env_id not in MODULES:
        p.error(f"no PettingZoo module for {env_id!r} here; one of {sorted(MODULES)}")
    env = make_env(p, MODULES[env_id].env, n_agents=args.n_agents, max_cycles=10)
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
    print(f"pettingzoo AEC {env_id}: N={args.n_agents} team return {total:.4f} "
          f"metrics {metrics}")


if __name__ == "__main__":
    main()
