"""Tianshou 2.x integration (``pip install mfdiff[tianshou]``): the population as ONE agent.

Tianshou's ``PettingZooEnv`` wraps an AEC env and asks the policy for one agent at a time; a
population policy needs every live agent's observation at once, which that per-agent loop does
not give (least of all across ``SubprocVectorEnv`` workers). So we use the gymnasium joint view
(``gym.make("mfdiff/GaussianSqueeze-v0", n_agents=N)``: obs ``Box(N, d)``, actions
``MultiDiscrete([A] * N)``, team reward, per-agent ``rewards`` and ``alive`` in ``info``) as one
Tianshou agent, and :class:`PopulationTianshouPolicy` maps a batch obs [B, N, d] to actions
[B, N] with one ``act_batch`` call per env::

    from tianshou.data import Collector, VectorReplayBuffer
    from mfdiff_agents.integrations.tianshou import PopulationTianshouPolicy, make_vector_env

    venv = make_vector_env("mfdiff/GaussianSqueeze-v0", 2, subproc=True, n_agents=1000)
    policy = PopulationTianshouPolicy(mfdiff_policy, venv.action_space[0])
    collector = Collector(policy, venv, VectorReplayBuffer(200, len(venv)))
    stats = collector.collect(n_episode=2, reset_before_collect=True)

The policy runs in the main process (the envs in the workers), with one torch thread by
default. Stateful planners: pass a factory ``lambda: load_policy(...)`` or one policy per env so
each env keeps its own plan; the wrapper resets an env's policy at its episode start (it tracks
step counts in Tianshou's hidden ``state``, which the Collector zeroes when an env resets).

Which env a batch row comes from: Tianshou writes ``env_id`` into step infos only. After one
env resets alone, its row's info is its reset info, without the key, which Tianshou's Batch
fills with 0, so that row would be served (and reset) by env 0's policy. ``make_vector_env``
therefore wraps each env in :class:`EnvIndexInfo`, which reports the env's index as
``info["mfdiff_env_id"]`` on reset and step; with per-env policies, a vector env without it
raises at the first reset of some but not all envs (a lone one, or the subset Tianshou resets
when ``n_episode`` is not a multiple of the env count) instead of mixing plans across envs.

Seeds: ``venv.seed(s)`` seeds env ``i`` with ``s + i`` (Tianshou resets it with that seed, but
a Collector's ``reset_before_collect`` then resets it again unseeded, so the first collected
episode is not seed ``s + i``'s: the envs differ and a run repeats, nothing more);
``collect(gym_reset_kwargs={"seed": s})`` instead passes the same ``s`` to every env and every
autoreset (each env replays one episode over and over). A policy is reset with no seed at its
episode starts (its own stream goes on), except after a reset that was given a seed, which
:class:`EnvIndexInfo` reports as ``info["mfdiff_reset_seed"]``: the policy is then reset with
it, as ``mfdiff eval`` pairs ``core.reset(seed=s)`` with ``policy.reset(s)``. So one env of
``make_vector_env`` collected with ``collect(n_episode=1, reset_before_collect=True,
gym_reset_kwargs={"seed": episode_seed(s, e)})`` plays the episode ``mfdiff eval`` plays for
run seed ``s``, episode ``e``; any other episode of a policy that samples (the planner, BC,
IQL, MFQ at temperature > 0, the scripted tiers) differs from eval's at the same env seed.

Tianshou's own ``Policy.compute_action(obs, info, state)`` (single-observation acting) passes
the step state nowhere back, so each call would look like an episode start and reset the
policy: it is refused for stateful policies (``policy.stateful``: planner, MFQ); act with the
mfdiff policy itself there (``policy.reset(seed)`` at episode starts, then
``policy.act_batch(obs, info["alive"])``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mfdiff_agents.integrations import refuse_repeated_stateful, require

_tianshou = require("tianshou", "tianshou")
torch = require("torch", "tianshou")

import gymnasium  # noqa: E402
from tianshou.algorithm.algorithm_base import Policy as TianshouPolicy  # noqa: E402
from tianshou.data import Batch  # noqa: E402
from tianshou.env import BaseVectorEnv, DummyVectorEnv, SubprocVectorEnv  # noqa: E402

from mfdiff_agents.device import torch_threads  # noqa: E402
from mfdiff_agents.policy import Policy  # noqa: E402
from mfdiff_agents.trained import check_observation_space  # noqa: E402

if TYPE_CHECKING:
    from mfdiff_envs.core import VectorCore

#: the info key :class:`EnvIndexInfo` writes (on reset too, unlike Tianshou's ``env_id``)
ENV_INDEX_KEY = "mfdiff_env_id"
#: the info key :class:`EnvIndexInfo` writes the seed of a seeded reset to (-1: none)
RESET_SEED_KEY = "mfdiff_reset_seed"


class EnvIndexInfo(gymnasium.Wrapper):
    """Reports the env's index in its vector env as ``info["mfdiff_env_id"]`` after every reset
    and step, so that :class:`PopulationTianshouPolicy` finds the policy of a row whose info
    comes from a reset (Tianshou's own ``env_id`` is in step infos only). ``make_vector_env``
    wraps its envs in it; wrap your own as ``EnvIndexInfo(gym.make(...), i)`` for env ``i``.
    Also reports the seed a reset was given as ``info["mfdiff_reset_seed"]`` (-1 for an
    unseeded reset and on steps), with which the policy resets at that episode's start."""

    def __init__(self, env: gymnasium.Env, index: int) -> None:
        super().__init__(env)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
            raise ValueError(f"index must be an int >= 0, got {index!r}")
        self.index = int(index)

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)  # a bad seed is refused here
        seed = kwargs.get("seed")
        return obs, {**info, ENV_INDEX_KEY: self.index,
                     RESET_SEED_KEY: -1 if seed is None else int(seed)}

    def step(self, action: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, {**info, ENV_INDEX_KEY: self.index,
                                                    RESET_SEED_KEY: -1}


class PopulationTianshouPolicy(TianshouPolicy):
    """A Tianshou ``Policy`` (2.x) that acts for the whole population of each env in the batch.

    Args:
        policy: an mfdiff Policy shared by every env (stateless ones only: a policy whose
            ``stateful`` is True, the MF-Diffuser planner or MFQ, may act in one env, and is
            refused when a second env's rows arrive), a sequence of one Policy per env (index =
            Tianshou's ``env_id``), or a zero-argument factory called once per env id on first
            use.
        action_space: the joint view's ``MultiDiscrete([A] * N)`` (``venv.action_space[0]``).
        observation_space: optional, the joint ``Box(N, d)``.
        num_threads: torch threads while acting (1 by default; None leaves torch's setting).
        env: optional, the env(s) the policy acts in: the vector env (``make_vector_env``'s,
            ``DummyVectorEnv`` or ``SubprocVectorEnv``) or one gymnasium joint view. Given it,
            each trained policy is checked against its env with ``check_env`` (another family or
            spaces raise, other env kwargs such as Ising's ``temperature`` warn; a factory's
            policies when made), and a trained policy is refused for an env whose population
            spans several agent-name prefixes (Battle with ``opponent=None``: ``red_*`` and
            ``blue_*`` in one joint view, which it would play as ONE population).

    ``forward(batch)`` reads ``batch.obs`` [B, N, d] and, if the envs report it,
    ``batch.info.alive`` [B, N] as the mask; returns ``Batch(act=[B, N] int64, state=[B])``.
    A row's env is ``info["mfdiff_env_id"]`` (:class:`EnvIndexInfo`), else Tianshou's
    ``info["env_id"]``, else its position in the batch (every row fresh from a reset).

    Raises:
        RuntimeError: with per-env policies and no ``mfdiff_env_id`` in the infos, an env reset
            while others step, or some but not all envs reset together: the reset rows cannot
            be told apart (their ``env_id`` reads 0, or is absent), and acting on them would
            mix two envs' plans. With one stateful policy shared, rows of a second env.

    Every policy is reset at its env's episode start (a row whose state is 0), a shared one
    included, with no seed, or with the reset's seed where :class:`EnvIndexInfo` reports one
    (module doc, "Seeds"). ``state=None`` therefore means "every row starts an episode":
    thread the returned ``state`` into the next call. Tianshou's ``compute_action`` cannot, and
    is refused for a stateful policy (:meth:`compute_action`).
    """

    def __init__(
        self,
        policy: Policy | Sequence[Policy] | Callable[[], Policy],
        action_space: gymnasium.Space,
        observation_space: gymnasium.Space | None = None,
        *,
        num_threads: int | None = 1,
        env: gymnasium.Env | BaseVectorEnv | None = None,
    ) -> None:
        if not isinstance(action_space, gymnasium.spaces.MultiDiscrete):
            raise TypeError(
                "action_space must be the joint view's MultiDiscrete([A] * N) "
                f"(gym.make('mfdiff/...')), got {action_space}"
            )
        super().__init__(action_space=action_space, observation_space=observation_space)
        with torch_threads(num_threads):  # validates num_threads now
            pass
        self.num_threads = num_threads
        self._factory: Callable[[], Policy] | None = None
        self._policies: dict[int, Policy] = {}
        self._n_envs: int | None = None  # learnt from the first batch without env indices
        self._shared_env: int | None = None  # the one env a shared stateful policy acts in
        if isinstance(policy, Policy):
            self._shared: Policy | None = policy
        elif callable(policy):
            self._shared, self._factory = None, policy
        else:
            self._shared = None
            self._policies = dict(enumerate(policy))
            if not self._policies or not all(isinstance(p, Policy) for p in policy):
                raise TypeError("policy must be a Policy, a sequence of Policies or a factory")
            refuse_repeated_stateful(self._policies)
        self.n_agents = int(len(action_space.nvec))
        self._cores: list[Any] = [] if env is None else _cores_of(env)
        if self._shared is not None:
            for core in self._cores:
                _check_on_core(self._shared, core)
        for i, pol in self._policies.items():
            if self._cores:
                _check_on_core(pol, self._cores[i if i < len(self._cores) else 0])

    def policy_for(self, env_id: int) -> Policy:
        """The mfdiff Policy that acts in env ``env_id``."""
        if self._shared is not None:
            return self._shared
        if env_id not in self._policies:
            if self._factory is None:
                raise IndexError(f"no policy for env_id {env_id} ({len(self._policies)} given)")
            made = self._factory()
            if not isinstance(made, Policy):  # e.g. load_policy("expert"), itself a factory
                raise TypeError(
                    f"the policy factory returned {type(made).__name__}, not an mfdiff Policy "
                    "(load_policy of a scripted name returns a (core, seed) -> Policy factory: "
                    "call it, or pass a checkpoint's policy)"
                )
            if self._cores:
                _check_on_core(made, self._cores[env_id if env_id < len(self._cores) else 0])
            # a factory returning one object each time (lambda: policy) shares it as well
            refuse_repeated_stateful({**self._policies, env_id: made})
            self._policies[env_id] = made
        return self._policies[env_id]

    def compute_action(
        self,
        obs: Any,
        info: dict[str, Any] | None = None,
        state: Any = None,
    ) -> Any:
        """Tianshou's one-observation acting, for stateless policies only: it hands no step
        state back, so every call would be an episode start and reset the policy (a planner
        would replan and reseed its samples each step). A stateful one raises RuntimeError."""
        env_id = 0
        if isinstance(info, dict):
            env_id = int(info.get(ENV_INDEX_KEY, info.get("env_id", 0)))
        pol = self.policy_for(env_id)
        if pol.stateful:
            raise RuntimeError(
                f"Tianshou's compute_action passes no step state back, so each call would reset "
                f"the {type(pol).__name__} (stateful=True: a plan or the previous mean action) "
                "as at an episode start. Use a Collector, call forward(batch, state) threading "
                "the returned state, or act with the mfdiff policy itself: policy.reset(seed) "
                "at episode starts, then policy.act_batch(obs, info['alive'])")
        return super().compute_action(obs, info, state)

    def forward(
        self,
        batch: Any,
        state: np.ndarray | None = None,
        **kwargs: Any,
    ) -> Batch:
        """Actions [B, N] for ``batch.obs`` [B, N, d]; ``state`` [B] = steps taken per env."""
        obs = batch.obs
        obs = obs.detach().cpu().numpy() if isinstance(obs, torch.Tensor) else np.asarray(obs)
        if obs.ndim != 3 or obs.shape[1] != self.n_agents:
            raise ValueError(f"obs must be [B, {self.n_agents}, d], got {obs.shape}")
        b = obs.shape[0]
        info = getattr(batch, "info", None)
        steps = np.zeros(b, np.int64) if state is None else np.asarray(state, np.int64).reshape(b)
        env_ids = self._env_ids(info, steps)
        alive = _info_field(info, "alive")
        mask = None if alive is None else np.asarray(alive, dtype=bool).reshape(b, -1)
        if self._shared is not None and self._shared.stateful:
            self._check_one_env(env_ids)
        acts = np.empty((b, self.n_agents), dtype=np.int64)
        seeds = _info_field(info, RESET_SEED_KEY)  # EnvIndexInfo: the seed of a seeded reset
        seeds = None if seeds is None else np.asarray(seeds, np.int64).reshape(b)
        with torch_threads(self.num_threads):
            for i in range(b):  # one batched call per env, never per agent
                pol = self.policy_for(int(env_ids[i]))
                if steps[i] == 0:  # a new episode in this env (the Collector zeroed its state)
                    pol.reset(None if seeds is None or seeds[i] < 0 else int(seeds[i]))
                acts[i] = pol.act_batch(obs[i], None if mask is None else mask[i])
        return Batch(act=acts, state=steps + 1)

    def _check_one_env(self, env_ids: np.ndarray) -> None:
        """Refuse a second env's rows for a shared stateful policy: its plan (or previous mean
        action) would carry from one env's population into another's."""
        ids = {int(i) for i in env_ids}
        if self._shared_env is not None:
            ids.add(self._shared_env)
        if len(ids) > 1:
            raise RuntimeError(
                f"one {type(self._shared).__name__} is shared by envs {sorted(ids)}, but it keeps "
                "state between steps (stateful=True): its plan would mix their populations. "
                "Pass a factory (e.g. lambda: load_policy(ckpt)) or one policy per env")
        self._shared_env = ids.pop()

    def _env_ids(self, info: Any, steps: np.ndarray) -> np.ndarray:
        """[B] env index of each row (see ``forward``)."""
        b = steps.shape[0]
        for key in (ENV_INDEX_KEY, "env_id"):
            ids = _info_field(info, key)
            if ids is not None:
                break
        if ids is None:  # no row reports one: every row is fresh from a reset
            if self._shared is None:
                # rows 0..b-1 are envs 0..b-1 only when every env reset at once; the first
                # batch (the Collector's reset of all envs) says how many there are
                if self._n_envs is None:
                    self._n_envs = b
                if b != self._n_envs:
                    raise RuntimeError(
                        f"{b} of the {self._n_envs} envs reset together and no reset info has "
                        "an env index (Tianshou writes env_id into step infos only), so the "
                        "rows cannot be matched to their envs' policies: build the vector env "
                        "with mfdiff_agents.integrations.tianshou.make_vector_env, or wrap env "
                        "i in EnvIndexInfo(env, i)")
            return np.arange(b)
        fresh = steps == 0
        if key == "env_id" and self._shared is None and fresh.any() and not fresh.all():
            raise RuntimeError(
                "an env reset while others kept stepping, and its reset info has no env index "
                "(Tianshou writes env_id into step infos only; the reset row's reads 0): "
                "build the vector env with mfdiff_agents.integrations.tianshou.make_vector_env, "
                "or wrap env i in EnvIndexInfo(env, i)")
        return np.asarray(ids).reshape(b)


def _cores_of(env: Any) -> list[Any]:
    """The mfdiff core of each env of a Tianshou vector env, or of one gymnasium joint view."""
    if isinstance(env, BaseVectorEnv):
        # Each env's spec, not the env: SubprocVectorEnv pickles what get_env_attr returns, and
        # an env in an episode may refuse to be pickled (MAgentBattle: magent2's C++ engine;
        # its worker then dies and the vector env is lost). A fresh env of the same id and
        # kwargs has the family, spaces and kwargs that check_env reads.
        import mfdiff_envs  # noqa: F401  (registers the ids)

        specs = env.get_env_attr("spec")
        if all(s is not None and s.id in gymnasium.registry for s in specs):
            views = [gymnasium.make(s.id, **s.kwargs).unwrapped for s in specs]
        else:  # not made by gym.make: the envs themselves (copies from Subproc workers)
            views = env.get_env_attr("unwrapped")
    elif isinstance(env, gymnasium.Env):
        views = [env.unwrapped]
    else:
        raise TypeError(f"env must be a Tianshou vector env or a gymnasium env, got "
                        f"{type(env).__name__}")
    cores = [getattr(v, "core", None) for v in views]
    if not cores or any(c is None for c in cores):
        raise TypeError("env holds an env that is not an mfdiff joint view "
                        "(gym.make('mfdiff/...'))")
    # observation wrappers (RescaleObservation, NormalizeObservation ...) would feed a trained
    # policy other observations than it was trained on, of the same shape: refused
    if isinstance(env, BaseVectorEnv):
        # a Dummy worker's get_env_attr reads env.unwrapped (tianshou 2.0), a Subproc worker's
        # the wrapped env: read a Dummy worker's env itself
        outers = [w.env.observation_space if hasattr(w, "env") else space for w, space in
                  zip(env.workers, env.get_env_attr("observation_space"), strict=True)]
    else:
        outers = [env.observation_space]
    for i, (outer, view) in enumerate(zip(outers, views, strict=True)):
        check_observation_space(outer, view.observation_space, who=f"env {i}")
    return cores


def _check_on_core(policy: Policy, core: VectorCore) -> None:
    """A trained policy's env check, and Battle's two teams refused as one population; every
    policy then checks its observations against the core's bounds (``Policy.watch_bounds``)."""
    if hasattr(policy, "watch_bounds"):
        policy.watch_bounds(core)
    check = getattr(policy, "check_env", None)
    if check is None:  # not a trained policy (scripted tiers: per-agent rules)
        return
    check(core)  # ValueError: another family / spaces; UserWarning: other env kwargs
    prefixes = sorted({str(a).rsplit("_", 1)[0] for a in core.agent_names})
    if len(prefixes) > 1 and getattr(core, "family", None) in ("battle", "magent_battle"):
        raise ValueError(
            f"the env's population holds agents of {prefixes} (Battle with opponent=None): a "
            f"{type(policy).__name__} would play both teams as ONE population, both in one "
            "mean field. Make the env with an in-core opponent (opponent='expert', ...)")


def _info_field(info: Any, key: str) -> Any:
    """``info[key]`` of a Tianshou info Batch / dict, or None when absent."""
    if info is None:
        return None
    try:
        value = info[key]
    except (KeyError, IndexError, TypeError):
        return None
    if isinstance(value, Batch) and value.is_empty():
        return None
    return value


class _JointEnvFactory:
    """Picklable ``() -> gymnasium.Env`` for vector-env workers (a lambda is not picklable by
    plain pickle)."""

    def __init__(self, env_id: str, kwargs: dict[str, Any], index: int | None = None) -> None:
        self.env_id, self.kwargs, self.index = env_id, dict(kwargs), index

    def __call__(self) -> gymnasium.Env:
        import mfdiff_envs  # noqa: F401  (registers the ids in a fresh worker)

        env = gymnasium.make(self.env_id, **self.kwargs)
        return env if self.index is None else EnvIndexInfo(env, self.index)


def make_vector_env(
    env_id: str, n_envs: int, *, subproc: bool = False, **env_kwargs: Any
) -> DummyVectorEnv | SubprocVectorEnv:
    """``n_envs`` joint views of ``env_id`` in a Tianshou ``DummyVectorEnv`` (same process) or
    ``SubprocVectorEnv`` (one worker process each), each reporting its index
    (:class:`EnvIndexInfo`). ``env_kwargs``: the family's kwargs."""
    fns = [_JointEnvFactory(env_id, env_kwargs, i) for i in range(int(n_envs))]
    return SubprocVectorEnv(fns) if subproc else DummyVectorEnv(fns)


__all__ = ["ENV_INDEX_KEY", "RESET_SEED_KEY", "EnvIndexInfo", "PopulationTianshouPolicy",
           "make_vector_env"]
