"""The policy interface every mfdiff agent follows, and its loop adapters.

One batch method is the core; everything else is a thin adapter over it:

* ``act_batch(obs[N, d], mask=None) -> actions[N]`` — the whole population in one call;
* ``act(observations: dict) -> dict`` — a PettingZoo parallel loop;
* ``policy(observation, agent)`` — a PettingZoo AEC loop (after ``policy.bind(env)``): the
  first call of a cycle acts for every live agent in one batch, later calls read the cache;
* ``reset(seed)`` — start of an episode; same seed -> same actions.

Trained policies subclass :class:`mfdiff_agents.trained.TrainedPolicy`, which adds the one
checkpoint format (``save`` / ``from_pretrained``), the env check and torch thread control.
"""

from __future__ import annotations

import contextlib
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mfdiff_envs.core import MfdiffWarning, policy_actions

#: most observation values (N·d) the bounds check tiles its bounds to (2 x 16 MiB float32)
TILED_MAX = 1 << 22


class ObservationBoundsWarning(MfdiffWarning):
    """An unbound policy was given observations outside its training env's observation space
    (:meth:`Policy.training_obs_bounds`); a bound policy raises a ValueError instead."""


class PopulationTooLargeError(ValueError):
    """A policy refuses to act for this many agents (e.g. an O(N²) planner's guard)."""


class DivergedError(FloatingPointError):
    """A model produced NaN or infinite numbers where actions are decided (a diverged checkpoint,
    or an acting setting far outside its training range), or training met a non-finite loss."""


def refuse_nonfinite(scores: Any, who: str, *, allow_neg_inf: bool = True) -> None:
    """Raise :class:`DivergedError` where ``scores`` (action scores ``[n, A]``, or a plan with
    ``allow_neg_inf=False``) hold NaN or +inf (-inf marks actions truncated away and passes in
    scores, not in plans). Why: argmax and sampling turn NaN scores into one action for every
    agent, so a diverged checkpoint was scored as a policy that plays action 0, with exit 0
    (an outside audit)."""
    import torch

    bad = torch.isnan(scores) | torch.isposinf(scores) if allow_neg_inf else ~torch.isfinite(
        scores)
    if bool(bad.any()):
        rows = int(bad.reshape(scores.shape[0], -1).any(-1).sum()) if scores.ndim else 1
        raise DivergedError(
            f"{who}: NaN or infinite numbers in {rows} of {scores.shape[0] if scores.ndim else 1}"
            " rows where actions are decided: the checkpoint's weights diverged (retrain with a "
            "lower lr), or an acting setting such as return_target lies far outside training's "
            "range; decoded, every agent would play one constant action")


def check_seed(seed: int | None) -> int | None:
    """``seed`` as an int (None stays None); a ValueError unless it is a non-negative integer
    (Python or numpy), as the envs' ``reset`` says."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)


#: Mixed into a policy's seed by default (:attr:`Policy.rng_stream`): not the env's stream.
POLICY_STREAM = 0x504F4C49  # "POLI"

#: Largest |observation| a policy accepts: N = 10⁵ squared deviations of this size still sum
#: inside float32 (3.4e38); every mfdiff env observes values below 10³.
OBS_LIMIT = 1e15


def _coarsest_float_eps(env: Any) -> float:
    """The largest float ``eps`` among the observation spaces of ``env`` and the wrappers under
    it (``.env``, and PettingZoo's conversions' ``.aec_env`` / ``.par_env``; float32's where
    none is coarser)."""
    eps = float(np.finfo(np.float32).eps)
    seen: set[int] = set()
    todo = [env]
    while todo:
        env = todo.pop()
        if env is None or id(env) in seen:
            continue
        seen.add(id(env))
        todo.extend(getattr(env, name, None) for name in ("env", "aec_env", "par_env"))
        space = getattr(env, "observation_space", None)
        agents = getattr(env, "possible_agents", None)
        try:
            if callable(space):  # PettingZoo: one space per agent
                space = space(agents[0]) if agents else None
        except Exception:  # a wrapper's space we cannot read: the others still count
            space = None
        dtype = getattr(space, "dtype", None)
        if dtype is not None and np.issubdtype(dtype, np.floating):
            eps = max(eps, float(np.finfo(dtype).eps))
    return eps


def obs_bounds_of(
    core: Any, obs_dim: int, eps: float | None = None
) -> tuple[NDArray[np.float32], NDArray[np.float32]] | None:
    """(low [d], high [d]) float32 of an mfdiff core's observations, or None (no core, or
    another width). ``eps``: a coarser float dtype's (a wrapper stores observations as
    float16: a value next to a bound may round past it), each bound widened by one such step."""
    bounds = core.obs_bounds() if hasattr(core, "obs_bounds") else None
    if bounds is None or any(np.shape(b) != (obs_dim,) for b in bounds):
        return None
    low, high = (np.asarray(b, np.float64) for b in bounds)
    if eps is not None and eps > np.finfo(np.float32).eps:
        low = low - eps * np.maximum(1.0, np.abs(low))  # per side: an infinite bound stays one
        high = high + eps * np.maximum(1.0, np.abs(high))
    return low.astype(np.float32), high.astype(np.float32)


def _bound_env_obs_bounds(
    env: Any, obs_dim: int
) -> tuple[NDArray[np.float32], NDArray[np.float32]] | None:
    """:func:`obs_bounds_of` the bare mfdiff env under ``env``'s wrappers (None: not an mfdiff
    env), widened for the coarsest float dtype any wrapper stores them in (SuperSuit's
    ``dtype_v0`` to float16)."""
    core = getattr(getattr(env, "unwrapped", env), "core", None)
    return obs_bounds_of(core, obs_dim, _coarsest_float_eps(env))


class Policy(ABC):
    """Base class of a batched population policy.

    Subclasses implement :meth:`_act` on validated arrays. ``obs_dim`` is checked on every
    call; an observation carries no action space, so the env's family and ``n_actions`` are
    checked where the env is known: :meth:`bind` and ``mfdiff eval`` (a trained policy's
    ``check_env``) refuse an env the policy was not trained on. Bind before acting on an env.
    """

    obs_dim: int
    n_actions: int
    #: True when acting keeps state between calls within an episode (a plan, the previous mean
    #: action): one instance must then act for one env at a time, reset between episodes. The
    #: Tianshou and TorchRL adapters refuse to share such a policy across the envs of a batch.
    stateful: bool = False
    #: Mixed into the seed of :attr:`rng` (``default_rng([seed, rng_stream])``): an evaluation
    #: resets the env and the policy with one seed (``mfdiff eval``, :func:`evaluate
    #: <mfdiff_agents.evaluation.run.evaluate>`), and the env cores draw from
    #: ``default_rng(seed)`` — a policy on that very stream would read the env's noise (its
    #: first ``integers(0, 2, N)`` are Ising's initial spins). None: ``default_rng(seed)``
    #: itself, kept by the package's trained policies (see :class:`TrainedPolicy
    #: <mfdiff_agents.trained.TrainedPolicy>`; the scripted tiers draw from ``default_rng(seed)``
    #: too, in mfdiff_envs.policies).
    rng_stream: int | None = POLICY_STREAM

    def __init__(self, *, obs_dim: int, n_actions: int, seed: int | None = None) -> None:
        self.obs_dim = int(obs_dim)
        self.n_actions = int(n_actions)
        self.rng = self._make_rng(check_seed(seed))
        self._env: Any = None
        self._aec_cache: dict[str, int] = {}
        self._roster: dict[str, int] = {}  # agent -> its row in act()'s population
        self._agent_index: dict[str, int] | None = None  # the bound env's order (_agent_order)
        # (low [d], high [d]) of the bound mfdiff env's observations; None: not bound to one
        self._obs_bounds: tuple[NDArray[np.float32], NDArray[np.float32]] | None = None
        self._obs_bounds_from = "the bound env"  # whose bounds they are, for the error
        self._unbound_checked = False  # unbound: warned once, or nothing to check against

    # ------------------------------------------------------------------ the core
    def reset(self, seed: int | None = None) -> None:
        """Start a new episode (clears plans and caches); ``seed`` fixes the policy's sampling.

        Raises:
            ValueError: ``seed`` is not None nor a non-negative integer (Python or numpy), as
                the envs' ``reset``.
        """
        if seed is not None:
            self.rng = self._make_rng(check_seed(seed))
        self._aec_cache = {}
        self._roster = {}

    def _make_rng(self, seed: int | None) -> np.random.Generator:
        """The generator of ``seed`` on this class's stream (:attr:`rng_stream`)."""
        if seed is None or self.rng_stream is None:
            return np.random.default_rng(seed)
        return np.random.default_rng([seed, self.rng_stream])

    def act_batch(
        self, obs: NDArray[np.floating], mask: NDArray[np.bool_] | None = None
    ) -> NDArray[np.int64]:
        """Actions for all N agents at once.

        Args:
            obs: [N, d] observations of every agent (rows of dead agents are ignored).
            mask: [N] bool, True for agents that act (alive); None = all. Integers all 0 / 1
                are read as booleans (an index array such as ``np.flatnonzero(alive)`` is
                refused, except where it is all 0 / 1, at N ≤ 2: pass booleans).

        Returns:
            [N] int64 actions in [0, n_actions); masked-out rows get 0.

        Raises:
            ValueError: malformed ``obs`` or ``mask``, non-finite observations, observations
                outside a bound env's bounds, or ``_act`` returning anything but N integer
                actions in [0, n_actions) for the live agents.
            TypeError: ``_act`` returned actions of a non-numeric dtype.
        """
        obs = np.asarray(obs)
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(
                f"{type(self).__name__}.act_batch expects obs of shape [N, {self.obs_dim}], "
                f"got {obs.shape}"
            )
        if mask is None:
            mask = np.ones(obs.shape[0], dtype=bool)
        else:
            mask = np.asarray(mask)
            if mask.shape != (obs.shape[0],):
                raise ValueError(f"mask must have shape ({obs.shape[0]},), got {mask.shape}")
            # read by truthiness, an index array (np.flatnonzero(alive)) or a float mask would
            # mark the wrong agents alive: only booleans, or integers that are all 0 / 1
            if mask.dtype != bool:
                if not (np.issubdtype(mask.dtype, np.integer) and np.isin(mask, (0, 1)).all()):
                    raise ValueError(
                        f"mask must be a boolean array (True = alive), got dtype {mask.dtype}"
                        + ("" if mask.dtype.kind not in "iu" else " with values other than 0/1")
                    )
                mask = mask.astype(bool)
        obs = obs.astype(np.float32, copy=False)
        # beyond OBS_LIMIT the float32 mean-field statistics (squared deviations summed over N)
        # overflow to inf, and every agent's features with them: all would act 0, silently
        # the usual answer from two flat reductions (a NaN makes them NaN, failing both
        # comparisons); rows, and the mask (dead rows may hold anything), only after that
        if not (obs.size == 0 or (obs.max() <= OBS_LIMIT and obs.min() >= -OBS_LIMIT)):
            finite = (np.abs(obs) <= OBS_LIMIT).all(axis=1)  # False for NaN too
            if not finite[mask].all():  # a NaN would otherwise surface as a linear-algebra crash
                bad = np.flatnonzero(mask & ~finite)
                raise ValueError(
                    f"{type(self).__name__}.act_batch: non-finite observations (or beyond "
                    f"±{OBS_LIMIT:.0e}) for {len(bad)} live agent(s), rows "
                    f"{bad[:10].tolist()}{' …' if len(bad) > 10 else ''}"
                )
        if getattr(self, "_obs_bounds", None) is not None:  # bound to an mfdiff env
            self._check_bounds(obs, mask)
        elif not getattr(self, "_unbound_checked", True):
            self._warn_outside_training_bounds(obs, mask)
        if obs.shape[0] == 0:  # no agent: nothing to act on (a mean over zero rows warned)
            return np.zeros(0, dtype=np.int64)
        who = f"{type(self).__name__}._act"
        with self._act_context():
            raw = np.asarray(self._act(obs, mask))
        if raw.shape != (obs.shape[0],):  # else an IndexError below, or rows shifted silently
            raise ValueError(f"{who} returned actions of shape {raw.shape}; expected "
                             f"({obs.shape[0]},), one per agent")
        actions = policy_actions(raw, who, mask)
        live = actions[mask]
        # an mfdiff env refuses such actions, but an adapter that one-hot encodes them, or a
        # user's own loop, would not (an outside review)
        if live.size and (int(live.min()) < 0 or int(live.max()) >= self.n_actions):
            bad = live[(live < 0) | (live >= self.n_actions)]
            raise ValueError(f"{who} returned actions outside [0, {self.n_actions}) for live "
                             f"agents, e.g. {bad[:3].tolist()}")
        actions[~mask] = 0
        return actions

    def __getstate__(self) -> dict[str, Any]:
        # the tiled bounds are a cache (up to 32 MiB): rebuilt on the first check, not copied
        # to a subprocess (Tianshou's SubprocVectorEnv pickles policies) or a deepcopy
        state = dict(self.__dict__)
        state.pop("_tiled_bounds", None)
        return state

    def watch_bounds(self, core: Any) -> None:
        """Check every later ``act_batch`` against ``core``'s observation bounds, as
        :meth:`bind` does for its env: for loops that feed the policy a core's observations
        without binding it (the TorchRL and Tianshou modules call it). A core without bounds
        of this width turns the check off."""
        self._obs_bounds = obs_bounds_of(core, self.obs_dim)
        self._obs_bounds_from = "the env given to the adapter"

    def training_obs_bounds(self) -> tuple[NDArray[np.float32], NDArray[np.float32]] | None:
        """(low [d], high [d]) of the observations this policy was made for, which an unbound
        ``act_batch`` compares its input with (a warning, once): None here, a trained policy's
        training env's (:class:`TrainedPolicy <mfdiff_agents.trained.TrainedPolicy>`)."""
        return None

    def _warn_outside_training_bounds(self, obs: NDArray[np.float32],
                                      mask: NDArray[np.bool_]) -> None:
        """An ``ObservationBoundsWarning`` (once per policy) where an unbound policy's live
        observations leave :meth:`training_obs_bounds`.

        Why a warning, not the bound policy's error: an unbound policy does not know whose
        observations it is given, and tests and benchmarks feed planners synthetic ones on
        purpose; but a loop that rescales the env's observations (a normalising wrapper) would
        otherwise get actions for states the policy never saw, silently. After one warning,
        or without bounds to compare with, the check stops; until then it costs two flat
        comparisons a step (``_rows_outside``)."""
        bounds = self.training_obs_bounds()
        if bounds is None:
            self._unbound_checked = True
            return
        bad = self._rows_outside(obs, mask, bounds)
        if bad is None:
            return
        self._unbound_checked = True
        low, high = bounds
        row = obs[bad[0]]
        feat = int(np.flatnonzero((row < low) | (row > high))[0])
        warnings.warn(ObservationBoundsWarning(
            f"{type(self).__name__}: observations outside the observation space of the env it "
            f"was trained on for {len(bad)} live agent(s) (row {bad[0]}, feature {feat}: "
            f"{float(row[feat]):.4g} not in [{float(low[feat]):.4g}, {float(high[feat]):.4g}]); "
            "the policy reads the env's own observations: does a wrapper rescale them? "
            + ("The env it is bound to exposes no mfdiff bounds to check against; "
               if self._env is not None else
               "Bind the policy to the env (policy.bind(env)) to make this an error; ")
            + "warned once"), stacklevel=3)

    def _rows_outside(
        self, obs: NDArray[np.float32], mask: NDArray[np.bool_],
        bounds: tuple[NDArray[np.float32], NDArray[np.float32]],
    ) -> NDArray[np.int64] | None:
        """Live rows of ``obs [N, d]`` outside ``bounds`` (low [d], high [d]), or None.

        The usual answer, none, comes from one contiguous comparison of the flat block with
        the bounds tiled to its length (kept for the last N): broadcasting [N, d] against [d]
        was several times slower, paid every step (a bound act_batch at N = 10^4, d = 13: 435
        µs before, 69 with this and the finite check's flat path, docs/results/act_checks.md);
        above ``TILED_MAX`` values, or for non-contiguous input, the broadcast. Rows are
        looked at (and the mask read: dead agents' rows may hold anything) only after a hit."""
        low, high = bounds
        n, d = obs.shape
        if obs.flags.c_contiguous and n * d <= TILED_MAX:
            tiled = getattr(self, "_tiled_bounds", None)
            if tiled is None or tiled[0] != n or tiled[1] is not low or tiled[2] is not high:
                tiled = (n, low, high, np.tile(low, n), np.tile(high, n))
                self._tiled_bounds = tiled
            flat = obs.reshape(-1)
            if not ((flat < tiled[3]).any() or (flat > tiled[4]).any()):
                return None
        outside = mask & ((obs < low) | (obs > high)).any(axis=1)
        return np.flatnonzero(outside) if outside.any() else None

    def _check_bounds(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> None:
        """ValueError where a live agent's observation lies outside the bounds in use (the
        bound env's or an adapter's env's).

        Why: a wrapper can rescale the observations and keep the space (SuperSuit's
        ``observation_lambda_v0`` with an identity space function), which
        ``check_wrapped_observations`` cannot see; every mfdiff env keeps its observations
        inside its bounds (the dataset builder checks each one), so values outside them are
        not the observations the policy was made for. O(N·d) a step."""
        low, high = self._obs_bounds  # type: ignore[misc]
        bad = self._rows_outside(obs, mask, self._obs_bounds)  # type: ignore[arg-type]
        if bad is not None:
            row = obs[bad[0]]
            feat = int(np.flatnonzero((row < low) | (row > high))[0])
            raise ValueError(
                f"{type(self).__name__}: observations outside the observation space of "
                f"{getattr(self, '_obs_bounds_from', 'the bound env')} for {len(bad)} live "
                f"agent(s), rows {bad[:10].tolist()}"
                f"{' …' if len(bad) > 10 else ''} (row {bad[0]}, feature {feat}: "
                f"{float(row[feat]):.4g} not in [{float(low[feat]):.4g}, "
                f"{float(high[feat]):.4g}]): does a wrapper rescale them? The policy reads the "
                "env's own observations"
            )

    def _act_context(self) -> contextlib.AbstractContextManager[None]:
        """Context around :meth:`_act` (trained policies limit torch threads here)."""
        return contextlib.nullcontext()

    @abstractmethod
    def _act(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        """Actions [N] for validated obs [N, d] and mask [N]."""

    # ------------------------------------------------------------------ adapters
    def act(
        self, observations: dict[str, Any], agents: Iterable[str] | None = None
    ) -> dict[str, int]:
        """PettingZoo parallel loop: ``actions = policy.act(observations, env.agents)``.

        Args:
            observations: agent -> observation, as ``env.reset`` / ``env.step`` return them.
            agents: the agents that act, i.e. ``env.agents`` after the step. PettingZoo's
                ``step`` also returns the final observation of an agent that died on that step;
                without ``agents`` such an agent would be acted for and, worse, counted in the
                population the policy sees (its mean field, its particles). Default: the bound
                env's ``agents`` (:meth:`bind`), else every key of ``observations``. Bound to
                an env that keeps dead agents in ``agents`` and says which are alive
                (``live_agents``: :func:`mfdiff_envs.wrappers.black_death`), only those act.

        Returns:
            agent -> action for every acting agent (none for the others).

        Each agent keeps one row of the population for the whole episode (bound to an env:
        its place in ``env.possible_agents``; unbound: its order of first appearance since
        :meth:`reset`, so a sampling policy given the same observations in another dict order
        draws other actions), and agents without an observation this step are
        masked out, as :meth:`act_batch` sees ``core.alive`` in ``mfdiff eval``: the same
        episode played through this loop, the AEC loop or the core gives the same actions.
        """
        live = None if self._env is None else getattr(self._env, "live_agents", None)
        if agents is None and self._env is not None and hasattr(self._env, "agents"):
            agents = self._env.agents if live is None else live
        elif agents is not None and live is not None:
            # a black-death env lists its dead in env.agents with zero observations: counted,
            # they would be a part of the population the policy sees (its mean field)
            alive = set(live)
            agents = [a for a in agents if a in alive]
        # Whole-population work below is done with map/fromiter, not per-agent Python
        # statements: at N = 10⁴ the dict plumbing otherwise costs more than the env step.
        acting = list(observations) if agents is None else list(agents)
        if agents is not None and not observations.keys() >= set(acting):
            unknown = set(acting) - observations.keys()
            raise KeyError(
                f"no observation for acting agent(s) {sorted(unknown)[:5]}: pass the "
                "observations env.reset/env.step returned"
            )
        if not acting:
            return {}
        self.check_agents(acting)
        roster = self._roster
        if not roster.keys() >= observations.keys():
            new = [a for a in observations if a not in roster]
            order = self._agent_order()
            if order:  # bound: rows in env.possible_agents order, whatever the dict's order
                new.sort(key=lambda a: order.get(a, len(order)))  # stable: others after
            for a in new:
                roster[a] = len(roster)
        rows = np.fromiter(map(roster.__getitem__, acting), dtype=np.int64, count=len(acting))
        try:
            stacked = np.array(list(map(observations.__getitem__, acting)), dtype=np.float32)
        except (ValueError, TypeError) as e:  # ragged or non-numeric observations
            raise ValueError(
                f"{type(self).__name__}.act expects observations of shape [{self.obs_dim}]: {e}"
            ) from None
        if stacked.shape != (len(acting), self.obs_dim):
            raise ValueError(
                f"{type(self).__name__}.act expects observations of shape [{self.obs_dim}], "
                f"got {stacked.shape[1:]}"
            )
        obs = np.zeros((len(roster), self.obs_dim), dtype=np.float32)
        mask = np.zeros(len(roster), dtype=bool)
        obs[rows] = stacked
        mask[rows] = True
        acts = self.act_batch(obs, mask)[rows].tolist()
        return dict(zip(acting, acts))

    def _agent_order(self) -> dict[str, int]:
        """agent -> its index in the bound env's ``possible_agents`` ({} unbound or without
        them): act()'s rows, so that a wrapper reordering the observation dict (one built from a
        set) replays an episode's random draws (an outside audit, seventy-third update)."""
        if self._agent_index is None:
            names = getattr(self._env, "possible_agents", None) if self._env is not None else None
            self._agent_index = {} if names is None else {a: i for i, a in enumerate(names)}
        return self._agent_index

    def check_agents(self, agents: Sequence[str]) -> None:
        """Raise a ValueError when this policy may not act for ``agents`` as one population
        (:meth:`act` and ``mfdiff eval`` ask before acting). Any set by default; a trained
        policy refuses Battle's two teams at once (:meth:`EnvFacts.check_population
        <mfdiff_agents.checkpoint.EnvFacts.check_population>`)."""
        return None

    def bind(self, env: Any) -> Policy:
        """Attach a PettingZoo env: an AEC env so ``policy(observation, agent)`` can batch a
        whole cycle; with either kind :meth:`act` acts for ``env.agents`` by default. While
        bound to an mfdiff env, :meth:`act_batch` refuses live agents' observations outside
        its observation space (a wrapper that rescales them and keeps the space)."""
        self._env = env
        self._aec_cache = {}
        self._roster = {}
        self._agent_index = None
        self._obs_bounds = _bound_env_obs_bounds(env, self.obs_dim)
        self._obs_bounds_from = "the bound env"
        return self

    def __call__(self, observation: Any, agent: str) -> int:
        """PettingZoo AEC loop: ``action = policy(observation, agent)``.

        Needs :meth:`bind` first. The first call of a cycle observes every live agent and
        acts for all of them in one batch; the following calls of that cycle are cache reads.
        """
        if self._env is None:
            raise RuntimeError(
                "call policy.bind(aec_env) before using the policy in an AEC loop "
                "(it batches one network call per cycle instead of one per agent)"
            )
        if agent not in self._aec_cache:
            agents = list(self._env.agents)
            if agent not in agents:
                raise KeyError(f"unknown agent {agent!r}: not in env.agents")
            obs = {a: self._env.observe(a) for a in agents}
            # the batch reads the bound env: an observation from another env (one policy shared
            # by two AEC envs, the last bind winning) would be acted on with this env's others
            if not np.array_equal(np.asarray(observation), np.asarray(obs[agent])):
                raise ValueError(
                    f"the observation passed for {agent!r} is not what the bound env observes "
                    "for it: is this policy bound to another env? Bind one policy per AEC env "
                    "(load_policy again, or copy.deepcopy(policy))"
                )
            self._aec_cache = self.act(obs)
        return int(self._aec_cache.pop(agent))


#: Mixed into :class:`RandomPolicy`'s seed: its stream must not be the env's (see there).
RANDOM_STREAM = 0x52414E44  # "RAND"


class RandomPolicy(Policy):
    """Uniform random actions (the ``random`` baseline, normalised score 0).

    Its generator is ``default_rng([seed, RANDOM_STREAM])``, not ``default_rng(seed)``: an
    evaluation plays the env and the policy at the same seed (``mfdiff eval``), and the Ising
    core draws its initial spins with the same ``integers(0, 2, N)`` call from
    ``default_rng(seed)``, so a policy on that stream flipped exactly the +1 spins and ordered
    the lattice in one step (normalised 2–5 instead of 0; found by an outside audit on
    2026-12-03). Its own key (not :data:`POLICY_STREAM`, the default since) keeps the
    records of the random rows as they were measured.
    """

    rng_stream = RANDOM_STREAM

    def _act(self, obs: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        return self.rng.integers(0, self.n_actions, size=obs.shape[0])
