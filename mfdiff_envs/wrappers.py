"""Wrappers for libraries that need a fixed agent set (SuperSuit / SB3 vector envs).

:func:`black_death` keeps every agent of ``possible_agents`` in the game until the episode
ends: a dead agent observes zeros, gets reward 0 and its actions are dropped. Use it instead of
SuperSuit 3.11's ``black_death_v3``, which ends an episode only on ``(terms & truncs).all()``
(their issue #254, PR #265): an episode that terminates *or* truncates never ends there, and
the next step reaches a parallel env with no live agents (ours raises ``RuntimeError``).

    import supersuit as ss
    from mfdiff_envs import battle_v0
    from mfdiff_envs.wrappers import black_death

    env = black_death(battle_v0.parallel_env(n_agents=162))
    venv = ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(env), 4, num_cpus=0,
                                 base_class="stable_baselines3")
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pettingzoo.utils.wrappers import BaseParallelWrapper


class BlackDeathParallelEnv(BaseParallelWrapper):
    """Every possible agent stays in ``agents`` until the whole episode ends (see module doc).

    Dicts are completed by C-level dict merges over prebuilt per-agent defaults; the zero
    observations are shared read-only arrays (a write raises instead of leaking to others).
    """

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self._build_defaults()

    def _build_defaults(self) -> None:
        names = self.possible_agents
        space = self.observation_space(names[0])
        # in the space's dtype: under SuperSuit's dtype_v0 a float32 zero is outside the space
        zero = np.zeros(space.shape, dtype=space.dtype)
        zero.flags.writeable = False
        self._zero_obs = dict.fromkeys(names, zero)
        self._zero_rew = dict.fromkeys(names, 0.0)
        self._false = dict.fromkeys(names, False)
        self._true = dict.fromkeys(names, True)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # pickle and deepcopy drop the read-only flag but keep the one shared zero array, so a
        # write into one dead agent's observation would leak to every dead agent of the copy
        self.__dict__.update(state)
        self._build_defaults()

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict, dict]:
        obs, infos = self.env.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        return {**self._zero_obs, **obs}, {**self._infos(), **infos}

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        obs, rew, term, trunc, infos = self.env.step({a: actions[a] for a in self.env.agents})
        # The episode ends when no agent is left in the inner env: every one terminated or
        # truncated (SuperSuit's black_death_v3 needs both at once, which never happens).
        if self.env.agents:
            terms, truncs = self._false.copy(), self._false.copy()
        else:  # the already-dead count as terminated
            terms, truncs = {**self._true, **term}, {**self._false, **trunc}
            self.agents = []
        return (
            {**self._zero_obs, **obs},
            {**self._zero_rew, **rew},
            terms,
            truncs,
            {**self._infos(), **infos},
        )

    @property
    def live_agents(self) -> list[str]:
        """The agents still alive (the wrapped env's ``agents``): the ones a bound policy acts
        for (``Policy.act``), since ``agents`` here also lists the dead."""
        return self.env.agents

    def _infos(self) -> dict[str, dict]:
        return {a: {} for a in self.possible_agents}


def black_death(env: Any) -> BlackDeathParallelEnv:
    """Wrap a parallel env so that dead agents stay with zero observations (see module doc)."""
    return BlackDeathParallelEnv(env)
