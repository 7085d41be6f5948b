"""TorchRL's generic ``PettingZooWrapper`` around our parallel env + the policy module.

Groups follow agent-name prefixes: ``agent`` (Squeeze, Ising), ``red`` (Battle with a scripted
blue team), ``red`` and ``blue`` (Battle with ``opponent=None``: one module, and one policy,
per group, chained with ``TensorDictSequential``).

    pip install -e ".[torchrl]"
    python examples/torchrl_pettingzoo.py --n-agents 100 [--policy runs/mfd-ising] [--env ID]

The env is ``--env``, else the checkpoint's own (with its training kwargs, e.g. max_cycles),
else Gaussian Squeeze; the rollout stops after ``--steps`` steps (or at Battle's first death:
the wrapper's ``done_on_any=True``).
"""

from __future__ import annotations

from _common import make_env, make_policy, parser, pettingzoo_module, resolve_env
from tensordict.nn import TensorDictSequential
from torchrl.envs.libs.pettingzoo import PettingZooWrapper
from torchrl.envs.transforms import InitTracker, TransformedEnv

from mfdiff_agents.integrations.torchrl import PopulationPolicyModule


def main() -> None:
    p = parser(__doc__)
    args = p.parse_args()
    env_id, kwargs = resolve_env(p, args)
    par = make_env(p, pettingzoo_module(p, env_id).parallel_env, n_agents=args.n_agents,
                   **kwargs)
    # categorical (integer) actions; InitTracker marks episode starts ("is_init"), which a
    # stateful policy (the MF-Diffuser planner, MFQ) needs
    env = TransformedEnv(PettingZooWrapper(env=par, seed=args.seed), InitTracker())
    groups = list(env.group_map)
    # one policy per group: each group is a population of its own (env=: checked against it)
    modules = [PopulationPolicyModule(make_policy(p, args.policy, par.core, seed=args.seed + i),
                                      group=g, env=env) for i, g in enumerate(groups)]
    module = modules[0] if len(modules) == 1 else TensorDictSequential(*modules)
    td = env.rollout(args.steps, policy=module)
    ret = td["next", groups[0], "reward"].mean(dim=(1, 2)).sum().item()
    print(f"torchrl PettingZooWrapper {env_id}: N={args.n_agents} steps {td.shape[0]} "
          f"team return ({groups[0]}) {ret:.4f}")


if __name__ == "__main__":
    main()
