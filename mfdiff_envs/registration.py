"""Register every family with PettingZoo and Gymnasium (run on ``import mfdiff_envs``).

* PettingZoo: ``pettingzoo.make("parallel", "mfdiff/GaussianSqueeze-v0", n_agents=1000)``
  and ``pettingzoo.make("aec", ...)``.
* Gymnasium (joint view): ``gym.make("mfdiff/GaussianSqueeze-v0", n_agents=1000)``, or in a
  fresh interpreter ``gym.make("mfdiff:mfdiff/Ising-v0")`` (imports the ``mfdiff`` module).

Entry points are ``"module:attr"`` strings so Minari can serialise the env spec.
"""

from __future__ import annotations

import warnings

import gymnasium
import pettingzoo

#: Registered env id -> versioned shim module (holding ``env``, ``parallel_env``, ``joint_env``).
ENV_MODULES: dict[str, str] = {
    "mfdiff/GaussianSqueeze-v0": "mfdiff_envs.squeeze_v0",
    "mfdiff/Ising-v0": "mfdiff_envs.ising_v0",
    "mfdiff/Battle-v0": "mfdiff_envs.battle_v0",
    "mfdiff/MAgentBattle-v0": "mfdiff_envs.magent_battle_v0",
}


def register_all() -> None:
    """Register (idempotently) every family with gymnasium and pettingzoo."""
    for env_id, module in ENV_MODULES.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=f"{module}:joint_env")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # re-registration on reload is harmless
            pettingzoo.register("parallel", env_id, entry_point=f"{module}:parallel_env")
            pettingzoo.register("aec", env_id, entry_point=f"{module}:env")
