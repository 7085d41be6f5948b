"""Minari: build a tiny dataset, load it, ``recover_environment()`` and play it with a policy.

The dataset goes to a temporary ``MINARI_DATASETS_PATH`` (deleted at exit).

    python examples/minari_recover.py --n-agents 50 [--policy runs/mfd]
"""

from __future__ import annotations

import os
import tempfile

from _common import make_policy, parser


def main() -> None:
    args = parser(__doc__, n_agents=50).parse_args()
    with tempfile.TemporaryDirectory() as root:
        os.environ["MINARI_DATASETS_PATH"] = root  # before minari reads it
        import minari

        from mfdiff_envs.offline.build import build_dataset

        ds = build_dataset("squeeze", n_agents=args.n_agents, tier="medium", episodes=2,
                           env_kwargs={"max_cycles": 5}, seed=args.seed, progress=False,
                           ref_episodes=2)
        dataset = minari.load_dataset(ds.spec.dataset_id)
        env = dataset.recover_environment()  # the joint view, same N and kwargs
        policy = make_policy(args.policy, env.unwrapped.core, seed=args.seed)
        obs, info = env.reset(seed=args.seed)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(
                policy.act_batch(obs, info["alive"]))
            total += reward
            done = terminated or truncated
        print(f"minari {dataset.spec.dataset_id}: {dataset.total_episodes} episodes stored; "
              f"recovered env N={env.unwrapped.core.n_agents}, policy return {total:.4f}")
        env.close()


if __name__ == "__main__":
    main()
