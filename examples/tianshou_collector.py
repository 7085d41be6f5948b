"""Tianshou 2.x ``Collector`` over ``DummyVectorEnv`` and ``SubprocVectorEnv``: the population
is ONE Tianshou agent (the gymnasium joint view), the mfdiff policy acts for all N at once.

    pip install 'mfdiff[tianshou]'
    python examples/tianshou_collector.py --n-agents 100 [--policy runs/mfd]
"""

from __future__ import annotations

from _common import make_policy, parser
from tianshou.data import Collector, VectorReplayBuffer

from mfdiff_agents.integrations.tianshou import PopulationTianshouPolicy, make_vector_env
from mfdiff_envs.squeeze import GaussianSqueezeCore

ENV_ID = "mfdiff/GaussianSqueeze-v0"


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--n-envs", type=int, default=2)
    args = p.parse_args()
    kwargs = {"n_agents": args.n_agents, "max_cycles": 10}
    proto = GaussianSqueezeCore(**kwargs)  # the policies' view of the env (same kwargs)
    for subproc in (False, True):
        venv = make_vector_env(ENV_ID, args.n_envs, subproc=subproc, **kwargs)
        # one mfdiff policy per env (each keeps its own plan) with its own seed: one seed for
        # all would make every env play the same episode (Squeeze has no env randomness)
        policies = [make_policy(args.policy, proto, args.seed + i) for i in range(args.n_envs)]
        venv.seed(args.seed)  # env i: seed + i (not collect(gym_reset_kwargs={"seed": ...}),
        # which gives every env and every autoreset the same seed)
        # env=venv: each trained policy is checked against its env
        policy = PopulationTianshouPolicy(policies, venv.action_space[0], env=venv)
        collector = Collector(policy, venv, VectorReplayBuffer(20 * args.n_envs, args.n_envs))
        stats = collector.collect(n_episode=2, reset_before_collect=True)
        kind = "SubprocVectorEnv" if subproc else "DummyVectorEnv"
        print(f"tianshou {kind}: N={args.n_agents} episodes {stats.n_collected_episodes} "
              f"steps {stats.n_collected_steps} returns {stats.returns.round(4).tolist()}")
        venv.close()


if __name__ == "__main__":
    main()
