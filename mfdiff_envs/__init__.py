"""mfdiff_envs: PettingZoo / Gymnasium environments for mean-field MARL at N = 10 ... 10 000.

Importing the package registers every family (see :mod:`mfdiff_envs.registration`)::

    import gymnasium as gym, pettingzoo, mfdiff_envs
    env = gym.make("mfdiff/GaussianSqueeze-v0", n_agents=1000)          # joint view
    par = pettingzoo.make("parallel", "mfdiff/Ising-v0", n_agents=1024)   # PettingZoo view
    from mfdiff_envs import squeeze_v0; squeeze_v0.parallel_env(n_agents=1000)

This package never imports torch.
"""

from mfdiff_envs.core import VectorCore, mean_field_dim, mean_field_summary
from mfdiff_envs.registration import ENV_MODULES, register_all

register_all()

__all__ = ["ENV_MODULES", "VectorCore", "mean_field_dim", "mean_field_summary", "register_all"]
