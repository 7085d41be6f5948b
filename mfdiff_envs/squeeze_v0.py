"""Gaussian Squeeze, version 0 — ``mfdiff/GaussianSqueeze-v0``.

| | |
|---|---|
| agents | ``agent_0 … agent_{N-1}``, N = ``n_agents`` (any N ≥ 1; the benchmarks use 10 … 10 000) |
| actions | ``Discrete(10)``: a level in {0..9} |
| observation | ``Box(11,)``: last step's level histogram of the agent's domain (10), time t/T (1) (+ domain one-hot when ``n_domains > 1``) |
| reward | G(x)/N_d with x the sum of levels in the domain, G(x) = x exp(-(x-mu)^2/sigma^2) |
| optimum | x* = (mu + sqrt(mu^2 + 2 sigma^2)) / 2; ``env.unwrapped.core.optimal_reward`` |

Arguments: ``n_agents=100``, ``n_levels=10``, ``mu=None`` (2 N; with ``n_domains`` > 1,
(1 + d) N_d for domain d = 0, 1, …: the optimal mean level rises by domain and, with 10
levels, passes the top one from d = 8 on, so give ``mu`` for 9 or more domains),
``sigma=None`` (N_d, the domain's size), ``n_domains=1``, ``max_cycles=25`` (1 = classic
one-shot game), ``render_mode=None``.
Ranges (outputs stay finite): ``mu`` in [0, 1e9], ``sigma`` in [1e-6, 1e9], ``n_levels`` in
[2, 1000].

Global state (``state()``, ``state_space``): last step's level histogram of every domain
(``n_domains * n_levels``) and t/T, in [0, 1].

Every constructor also takes ``render_mode`` (``None``, ``"rgb_array"``, ``"human"``: a pygame
window); ``env``/``parallel_env``/``raw_env`` take ``max_memory_gb`` (the dict view's memory
guard, default 4 GB). ``joint_env``/``gym.make`` give the gymnasium joint view (actions
``MultiDiscrete([A] * N)``). Views, copying and SuperSuit use: ``docs/envs.md``.

Version history: v0 — first release.
"""

from mfdiff_envs.factory import joint_metadata, make_constructors, parallel_metadata
from mfdiff_envs.joint import JointEnv
from mfdiff_envs.parallel import CoreParallelEnv
from mfdiff_envs.squeeze import GaussianSqueezeCore


class SqueezeParallelEnv(CoreParallelEnv):
    """PettingZoo parallel view of :class:`GaussianSqueezeCore`."""

    metadata = parallel_metadata("squeeze_v0")


class SqueezeJointEnv(JointEnv):
    """Gymnasium joint view of :class:`GaussianSqueezeCore`."""

    metadata = joint_metadata()


env, parallel_env, raw_env, joint_env = make_constructors(
    GaussianSqueezeCore, SqueezeParallelEnv, SqueezeJointEnv
)

__all__ = ["SqueezeJointEnv", "SqueezeParallelEnv", "env", "joint_env", "parallel_env", "raw_env"]
