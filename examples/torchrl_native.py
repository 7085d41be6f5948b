"""TorchRL, native batched env (VMAS-style ``"agents"`` group) + the policy module.

    pip install -e ".[torchrl]"
    python examples/torchrl_native.py --n-agents 1024 [--policy runs/mfd-ising] [--env ID]

The env is ``--env``, else the checkpoint's own (with its training kwargs, e.g. max_cycles),
else Ising (N = L x L); the rollout stops after ``--steps`` steps.
"""

from __future__ import annotations

from _common import ISING, make_env, make_policy, parser, resolve_env
from torchrl.envs.transforms import InitTracker, TransformedEnv

from mfdiff_agents.integrations.torchrl import PopulationPolicyModule, make_torchrl_env


def main() -> None:
    p = parser(__doc__, n_agents=1024, env=ISING)
    args = p.parse_args()
    env_id, kwargs = resolve_env(p, args)
    base = make_env(p, make_torchrl_env, env_id, n_agents=args.n_agents, seed=args.seed,
                    **kwargs)
    # InitTracker marks episode starts ("is_init"): the module resets the policy there, and
    # refuses a stateful policy (the MF-Diffuser planner, MFQ) without it
    env = TransformedEnv(base, InitTracker())
    # env=: the policy is checked against the env and reset with each episode's env seed
    policy = make_policy(p, args.policy, base.core, seed=args.seed)
    module = PopulationPolicyModule(policy, env=env)
    td = env.rollout(args.steps, policy=module)  # td["next", "agents", "reward"]: [T, N, 1]
    ret = td["next", "agents", "reward"].mean(dim=(1, 2)).sum().item()
    print(f"torchrl native {env_id}: N={args.n_agents} steps {td.shape[0]} team return {ret:.4f}")


if __name__ == "__main__":
    main()
