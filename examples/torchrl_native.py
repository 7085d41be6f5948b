"""TorchRL, native batched env (VMAS-style ``"agents"`` group) + the policy module.

    pip install 'mfdiff[torchrl]'
    python examples/torchrl_native.py --n-agents 1024 [--policy runs/mfd]
"""

from __future__ import annotations

from _common import env_id_for, make_env, make_policy, parser
from torchrl.envs.transforms import InitTracker, TransformedEnv

from mfdiff_agents.integrations.torchrl import PopulationPolicyModule, make_torchrl_env


def main() -> None:
    p = parser(__doc__, n_agents=1024)
    p.add_argument("--env", default=None,
                   help="registered env id; default: the checkpoint's env, else mfdiff/Ising-v0")
    args = p.parse_args()
    args.env = env_id_for(args.policy, args.env, "mfdiff/Ising-v0")
    base = make_env(p, make_torchrl_env, args.env, n_agents=args.n_agents, max_cycles=20,
                    seed=args.seed)
    # InitTracker marks episode starts ("is_init"): the module resets the policy there, and
    # refuses a stateful policy (the MF-Diffuser planner, MFQ) without it
    env = TransformedEnv(base, InitTracker())
    # env=: the policy is checked against the env and reset with each episode's env seed
    module = PopulationPolicyModule(make_policy(args.policy, base.core, seed=args.seed), env=env)
    td = env.rollout(20, policy=module)  # td["next", "agents", "reward"]: [T, N, 1]
    ret = td["next", "agents", "reward"].mean(dim=(1, 2)).sum().item()
    print(f"torchrl native {args.env}: N={args.n_agents} steps {td.shape[0]} team return {ret:.4f}")


if __name__ == "__main__":
    main()
