"""Minari: build a tiny dataset, load it, ``recover_environment()`` and play it with a policy.

The dataset (2 scripted ``medium`` episodes) goes to a temporary ``MINARI_DATASETS_PATH``
(deleted at exit). It is built on ``--env``, else the env the checkpoint was trained on (with
its training kwargs, e.g. max_cycles), else Gaussian Squeeze; the policy plays the recovered env
for ``--steps`` steps.

    python examples/minari_recover.py --n-agents 64 [--policy runs/mfd-ising] [--env ID]
"""

from __future__ import annotations

import os
import tempfile

from _common import make_env, make_policy, parser, resolve_env


def main() -> None:
    p = parser(__doc__, n_agents=64)
    args = p.parse_args()
    env_id, kwargs = resolve_env(p, args)
    with tempfile.TemporaryDirectory() as root:
        os.environ["MINARI_DATASETS_PATH"] = root  # before minari reads it
        import minari

        from mfdiff_envs.offline.build import build_dataset
        from mfdiff_envs.offline.catalogue import FAMILY_ENV

        family = {v: k for k, v in FAMILY_ENV.items()}[env_id]
        ds = make_env(p, build_dataset, family, n_agents=args.n_agents, tier="medium",
                      episodes=2, env_kwargs=kwargs, seed=args.seed, progress=False,
                      ref_episodes=2)
        dataset = minari.load_dataset(ds.spec.dataset_id)
        env = dataset.recover_environment()  # the joint view, same N and kwargs
        policy = make_policy(p, args.policy, env.unwrapped.core, seed=args.seed)
        obs, info = env.reset(seed=args.seed)
        policy.reset(args.seed)
        total, t, done = 0.0, 0, False
        while not done and t < args.steps:
            obs, reward, terminated, truncated, info = env.step(
                policy.act_batch(obs, info["alive"]))
            total += reward
            t += 1
            done = terminated or truncated
        print(f"minari {dataset.spec.dataset_id}: {dataset.total_episodes} episodes stored; "
              f"recovered env N={env.unwrapped.core.n_agents}, policy return {total:.4f} "
              f"over {t} steps")
        env.close()


if __name__ == "__main__":
    main()
