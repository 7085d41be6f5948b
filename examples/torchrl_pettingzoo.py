"""TorchRL's generic ``PettingZooWrapper`` around our parallel env + the policy module.

Groups follow agent-name prefixes: ``agent`` here; ``red`` / ``blue`` for Battle with
``opponent=None`` (one module per group, chained with ``TensorDictSequential``).

    pip install 'mfdiff[torchrl]'
    python examples/torchrl_pettingzoo.py --n-agents 100 [--policy runs/mfd]
"""

from __future__ import annotations

from _common import make_policy, parser
from torchrl.envs.libs.pettingzoo import PettingZooWrapper
from torchrl.envs.transforms import InitTracker, TransformedEnv

from mfdiff_agents.integrations.torchrl import PopulationPolicyModule
from mfdiff_envs import squeeze_v0


def main() -> None:
    args = parser(__doc__).parse_args()
    par = squeeze_v0.parallel_env(n_agents=args.n_agents, max_cycles=10)
    # categorical (integer) actions; InitTracker marks episode starts ("is_init"), which a
    # stateful policy (the MF-Diffuser planner, MFQ) needs
    env = TransformedEnv(PettingZooWrapper(env=par, seed=args.seed), InitTracker())
    module = PopulationPolicyModule(make_policy(args.policy, par.core, seed=args.seed),
                                    group="agent", env=env)  # checked against the env
    td = env.rollout(10, policy=module)
    ret = td["next", "agent", "reward"].mean(dim=(1, 2)).sum().item()
    print(f"torchrl PettingZooWrapper: N={args.n_agents} steps {td.shape[0]} "
          f"team return {ret:.4f}")


if __name__ == "__main__":
    main()
