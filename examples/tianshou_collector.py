"""Tianshou 2.x ``Collector`` over ``DummyVectorEnv`` and ``SubprocVectorEnv``: the population
is ONE Tianshou agent (the gymnasium joint view), the mfdiff policy acts for all N at once.

    pip install -e ".[tianshou]"
    python examples/tianshou_collector.py --n-agents 100 [--policy runs/mfd-ising] [--env ID]

The env is ``--env``, else the checkpoint's own (with its training kwargs, e.g. max_cycles),
else Gaussian Squeeze; each env is collected for ``--steps`` steps (partial episodes).
"""

from __future__ import annotations

import gymnasium as gym
from _common import make_env, make_policy, parser, resolve_env
from tianshou.data import Collector, VectorReplayBuffer

import mfdiff_envs  # noqa: F401  (registers the mfdiff/* ids)
from mfdiff_agents.integrations.tianshou import PopulationTianshouPolicy, make_vector_env


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--n-envs", type=int, default=2)
    args = p.parse_args()
    env_id, kwargs = resolve_env(p, args)
    kwargs = {"n_agents": args.n_agents, **kwargs}
    # the policies' view of the env (same kwargs); made here, an N the env refuses is a usage
    # error before any worker starts
    proto = make_env(p, gym.make, env_id, **kwargs).unwrapped.core
    for subproc in (False, True):
        venv = make_vector_env(env_id, args.n_envs, subproc=subproc, **kwargs)
        # one mfdiff policy per env (each keeps its own plan; a shared stateful one is refused)
        # with its own seed: one seed for all would make every env play the same episode
        # wherever the env draws nothing (Squeeze)
        policies = [make_policy(p, args.policy, proto, args.seed + i)
                    for i in range(args.n_envs)]
        # env i is reset with seed + i here, but collect(reset_before_collect=True) resets it
        # again, unseeded: it plays the next episode of that seed's stream (reproducible, not
        # the seed's own episode; docs/integrations.md: replaying mfdiff eval's episodes)
        venv.seed(args.seed)
        # env=venv: each trained policy is checked against its env
        policy = PopulationTianshouPolicy(policies, venv.action_space[0], env=venv)
        buffer = VectorReplayBuffer(args.steps * args.n_envs, args.n_envs)
        stats = Collector(policy, venv, buffer).collect(n_step=args.steps * args.n_envs,
                                                        reset_before_collect=True)
        # each env's return over its collected steps (its episode is not over)
        returns = [float(b.rew[: len(b)].sum()) for b in buffer.buffers]
        kind = "SubprocVectorEnv" if subproc else "DummyVectorEnv"
        print(f"tianshou {kind} {env_id}: N={args.n_agents} steps {stats.n_collected_steps} "
              f"partial returns {[round(r, 4) for r in returns]}")
        venv.close()


if __name__ == "__main__":
    main()
