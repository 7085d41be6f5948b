"""Regenerate the golden planner fixtures of tests/test_golden.py.

    python tests/golden/make_golden.py      # ~10 s on one CPU thread

Trains one tiny MF-Diffuser checkpoint per family (the family's config in configs/mfdiffuser/,
shrunk), records a fixed observation sequence of the family's env (the skill-0.5 behaviour
policy playing; the planner never changes it, so one flipped action cannot cascade) and the
actions the planner takes on it under several acting settings. tests/test_golden.py replays
them: a change of the planner's behaviour (seed streams, plan order, lifting, decoding) shows
as a disagreement. Run this only when a change of behaviour is intended, and say so in the
commit: the fixtures pin what the planner did before.
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

#: family -> (env core kwargs, population the obs are recorded at, steps)
ENVS: dict[str, tuple[dict[str, Any], int, int]] = {
    "squeeze": ({"max_cycles": 8}, 60, 6),
    "ising": ({"max_cycles": 12}, 64, 8),
    "battle": ({"max_cycles": 20, "opponent": "expert"}, 40, 8),
}
#: the tiny sizes every family trains at, over its config's (whose other fields stay)
TINY = dict(horizon=8, n_particles=8, width=16, depth=1, n_timesteps=20, steps=40, batch_size=8,
            stats_windows=128, head_hidden=16, value_hidden=16, log_every=20, ckpt_every=40,
            k_schedule=(4, 16), ddim_steps=4, device="cpu", seed=0)
#: acting settings replayed per family, beside the family config's own ("config")
VARIANTS: dict[str, dict[str, Any]] = {
    "config": {},
    "best_of_2": {"plan_samples": 2, "plan_combine": "best"},
    "mixture_3": {"plan_samples": 3, "plan_combine": "mean"},
    "balanced_t05": {"head_decode": "balanced", "head_temperature": 0.5},
    "replan_2_argmax": {"replan_every": 2, "head_temperature": 0.0, "plan_samples": 1,
                        "plan_combine": "best"},
    "particle": {"act_with": "particle", "plan_samples": 1, "plan_combine": "best"},
}
POLICY_SEED = 11


def core_of(family: str, n: int) -> Any:
    from mfdiff_envs.battle import BattleCore
    from mfdiff_envs.ising import IsingCore
    from mfdiff_envs.squeeze import GaussianSqueezeCore

    cls = {"squeeze": GaussianSqueezeCore, "ising": IsingCore, "battle": BattleCore}[family]
    return cls(n, **ENVS[family][0])


def episodes_of(family: str, episodes: int = 4) -> Any:
    """Training episodes: the behaviour policy at skills 0 -> 1 (a mixed tier), N = 36 (a
    lattice for Ising)."""
    from mfdiff_envs.offline.episodes import Episode, Episodes
    from mfdiff_envs.policies import make_behaviour_policy
    from mfdiff_envs.rollout import rollout

    n = 36
    core = core_of(family, n)
    out = [Episode.from_arrays(rollout(core, make_behaviour_policy(core, e / (episodes - 1),
                                                                   seed=e),
                                       seed=e, record=True).episode)
           for e in range(episodes)]
    env_id = {"squeeze": "mfdiff/GaussianSqueeze-v0", "ising": "mfdiff/Ising-v0",
              "battle": "mfdiff/Battle-v0"}[family]
    return Episodes(episodes=out, env_id=env_id, env_kwargs={"n_agents": n, **ENVS[family][0]},
                    family=family, n_actions=core.n_actions)


def observations(family: str) -> tuple[np.ndarray, np.ndarray]:
    """What the skill-0.5 behaviour policy sees, env seed 5: observations [steps, N, obs_dim]
    and alive masks [steps, N]."""
    from mfdiff_envs.policies import make_behaviour_policy

    _, n, steps = ENVS[family]
    core = core_of(family, n)
    obs, _ = core.reset(seed=5)
    pol = make_behaviour_policy(core, 0.5, seed=5)
    seq, alive = [], []
    for _ in range(steps):
        seq.append(obs.copy())
        alive.append(core.alive.copy())
        obs, *_ = core.step(pol.act_batch(obs, core.alive.copy()))
    return np.stack(seq).astype(np.float32), np.stack(alive)


def replay(planner: Any, obs_seq: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """[steps, N] actions of ``planner`` (reset to POLICY_SEED) fed ``obs_seq``."""
    planner.reset(seed=POLICY_SEED)
    return np.stack([planner.act_batch(o, m) for o, m in zip(obs_seq, alive, strict=True)])


def train(family: str, out: Path) -> None:
    from mfdiff_agents.diffuser.config import Config
    from mfdiff_agents.diffuser.train import fit
    from mfdiff_agents.methods import make_sampler

    fam_cfg = json.loads((ROOT / "configs" / "mfdiffuser" / f"{family}.json").read_text())
    # the family's split of diffusion and head-only steps (Battle), at the tiny budget
    split = {"diffusion_steps": TINY["steps"] // 2} if "diffusion_steps" in fam_cfg else {}
    cfg = Config(**{**fam_cfg, **TINY, **split})
    if out.exists():
        shutil.rmtree(out)
    fit(make_sampler(episodes_of(family), cfg), cfg, out_dir=out, progress=False)
    (out / "train_state.pt").unlink(missing_ok=True)  # resume state: not needed to act


def main() -> None:
    from mfdiff_agents.diffuser.planner import MFDiffuserPlanner

    torch.set_num_threads(1)
    arrays: dict[str, np.ndarray] = {}
    for family in ENVS:
        ckpt = HERE / family
        train(family, ckpt)
        obs_seq, alive = observations(family)
        arrays[f"{family}/obs"], arrays[f"{family}/alive"] = obs_seq, alive
        for name, overrides in VARIANTS.items():
            planner = MFDiffuserPlanner.from_pretrained(ckpt, device="cpu", **overrides)
            arrays[f"{family}/{name}"] = replay(planner, obs_seq, alive)
    np.savez_compressed(HERE / "actions.npz", **arrays)
    (HERE / "made_with.json").write_text(json.dumps({
        "torch": torch.__version__, "numpy": np.__version__, "python": sys.version.split()[0],
        "machine": platform.machine(), "command": "python tests/golden/make_golden.py",
    }, indent=1) + "\n")
    print(f"wrote {HERE}/actions.npz and {len(ENVS)} checkpoints")


if __name__ == "__main__":
    main()
