# ruff: noqa: E501  (the docstring holds markdown tables, whose rows cannot wrap)
"""Ising, version 0 — ``mfdiff/Ising-v0``.

| | |
|---|---|
| agents | ``agent_0 … agent_{N-1}``, N = ``n_agents`` = L², a perfect square (the tables: 100 … 10 000); agent i sits at row i // L, column i % L |
| actions | ``Discrete(2)``: 0 keep spin, 1 flip spin |
| observation | ``Box(4,)``: own spin (±1), mean of the 4 neighbours' spins, global magnetisation (mean spin), time t/T |
| dynamics | after the agents act, thermal noise flips each spin with probability p = 1/(1+exp(2/temperature)) |
| reward | r_j = h s_j + (λ/2) s_j Σ_{k∈N(j)} s_k on the new spins (4-neighbourhood on the torus) |
| metric | order parameter ξ = \\|N↑ − N↓\\| / N, ``env.unwrapped.core.metrics()["order_parameter"]`` (and the joint view's step ``info``; the PettingZoo views' per-agent infos are empty) |

Arguments: ``n_agents=1024``, ``temperature=0.52`` (p = 0.021 noise flips per spin and step),
``field=0.0`` (h), ``coupling=1.0`` (λ), ``max_cycles=50``, ``render_mode=None``.
Ranges (outputs stay finite): ``temperature`` in [1e-6, 1e6], ``field`` and ``coupling`` in
[-1e6, 1e6].
Initial spins are uniformly random (seeded by ``reset(seed)``). The all-aligned lattice gives
every agent the maximal reward |h| + 2λ.

Every constructor also takes ``render_mode`` (``None``, ``"rgb_array"``, ``"human"``: a pygame
window); ``env``/``parallel_env``/``raw_env`` take ``max_memory_gb`` (the dict view's memory
guard, default 4 GB). ``joint_env``/``gym.make`` give the gymnasium joint view (actions
``MultiDiscrete([A] * N)``). Views, copying and SuperSuit use: ``docs/envs.md``.

Global state (``state()``, ``state_space``): every spin (±1, agent order) and t/T, in [-1, 1].

Version history: v0 — first release.
"""

from mfdiff_envs.factory import joint_metadata, make_constructors, parallel_metadata
from mfdiff_envs.ising import IsingCore
from mfdiff_envs.joint import JointEnv
from mfdiff_envs.parallel import CoreParallelEnv


class IsingParallelEnv(CoreParallelEnv):
    """PettingZoo parallel view of :class:`IsingCore`."""

    metadata = parallel_metadata("ising_v0")


class IsingJointEnv(JointEnv):
    """Gymnasium joint view of :class:`IsingCore`."""

    metadata = joint_metadata()


env, parallel_env, raw_env, joint_env = make_constructors(
    IsingCore, IsingParallelEnv, IsingJointEnv
)

__all__ = ["IsingJointEnv", "IsingParallelEnv", "env", "joint_env", "parallel_env", "raw_env"]
