"""TorchRL integration (``pip install mfdiff[torchrl]``): a policy module and a native env.

Two pieces, usable separately or together::

    from torchrl.envs.transforms import InitTracker, TransformedEnv
    from mfdiff_agents.integrations.torchrl import PopulationPolicyModule, make_torchrl_env

    # InitTracker marks episode starts: required for stateful policies (planner, MFQ)
    env = TransformedEnv(make_torchrl_env("mfdiff/Ising-v0", n_agents=1024), InitTracker())
    module = PopulationPolicyModule(policy, group="agents", env=env)   # checked against env
    td = env.rollout(50, policy=module)                                # td["next", "agents", ...]

    from torchrl.envs.libs.pettingzoo import PettingZooWrapper         # the generic route
    from mfdiff_envs import squeeze_v0
    pz = TransformedEnv(PettingZooWrapper(env=squeeze_v0.parallel_env(n_agents=100)),
                        InitTracker())                                 # group "agent"
    td = pz.rollout(10, policy=PopulationPolicyModule(policy, group="agent", env=pz))

* :class:`PopulationPolicyModule` — a ``TensorDictModuleBase`` around ANY mfdiff
  :class:`~mfdiff_agents.policy.Policy`: reads ``(group, "observation")`` [*B, n, d], calls
  ``policy.act_batch`` once per env of the batch (batch dims flattened, never per agent) and
  writes ``(group, "action")``: integer [*B, n] (``categorical_actions=True``, the default of
  both ``PettingZooWrapper`` and our env) or one-hot [*B, n, A].
* :class:`MFDiffTorchRLEnv` — a TorchRL ``EnvBase`` over a family's numpy core, following the
  VMAS contract of TorchRL's multi-agent API: per-agent keys in a nested group tensordict with an
  agent dim (``("agents", "observation")`` [n, d], ``("agents", "action")`` [n] categorical,
  ``("agents", "reward")`` [n, 1], ``("agents", "done"|"terminated"|"truncated")`` [n, 1]),
  episode-level ``done``/``terminated``/``truncated`` [1] at the root, ``Composite`` specs. Nothing
  per agent is built in Python: a step is one ``core.step`` plus ``torch.from_numpy``.

Agents that died (Battle) stay in the group tensors (fixed shapes) with ``("agents", "mask")``
False, zero reward and a stale observation; like VMAS, the per-agent ``done`` keys carry the
*episode's* done (a partial per-agent done would make TorchRL ask for a partial reset that a
population env cannot do). The module reads ``mask`` (also what ``PettingZooWrapper(...,
use_mask=True)`` writes), so dead agents get action 0, which the core ignores.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mfdiff_agents.integrations import refuse_repeated_stateful, require

torch = require("torch", "torchrl")
_tensordict = require("tensordict", "torchrl")
_torchrl = require("torchrl", "torchrl")

from tensordict import TensorDict, TensorDictBase  # noqa: E402  (after the extra's check)
from tensordict.nn import TensorDictModuleBase  # noqa: E402
from torchrl.data import Bounded, Categorical, Composite, Unbounded  # noqa: E402
from torchrl.envs import EnvBase  # noqa: E402
from torchrl.envs.batched_envs import BatchedEnvBase  # noqa: E402

from mfdiff_agents.device import torch_threads  # noqa: E402
from mfdiff_agents.policy import Policy  # noqa: E402

#: Name of the one group holding every agent (as TorchRL's VMAS envs).
DEFAULT_GROUP = "agents"


# ---------------------------------------------------------------------------------- the module
class PopulationPolicyModule(TensorDictModuleBase):
    """A TorchRL policy module that acts for a whole agent group with one mfdiff Policy call.

    Args:
        policy: an mfdiff Policy, or one Policy per env of the batch. A policy whose
            ``stateful`` is True (the MF-Diffuser planner, MFQ: a plan or the previous mean
            action per episode) cannot act for a batch of several envs: give each its own.
        group: the group key: ``"agents"`` for :class:`MFDiffTorchRLEnv`; for
            ``PettingZooWrapper`` the agent-name prefix (``"agent"``, or ``"red"`` / ``"blue"``
            for Battle with ``opponent=None``). Use one module per group.
        observation_key, action_key: leaf names inside the group.
        mask_key: bool [*B, n] leaf inside the group, True for agents that act; read if present
            (else every agent acts).
        categorical_actions: True: integer actions [*B, n] (int64); False: one-hot [*B, n, A]
            (``PettingZooWrapper(categorical_actions=False)``).
        num_threads: torch threads while the policy acts (1 by default: a population policy runs
            beside env workers; None leaves torch's setting).
        env: optional, the env the module acts in: an :class:`MFDiffTorchRLEnv` or TorchRL's
            ``PettingZooWrapper`` around an mfdiff parallel env, bare or in a
            ``TransformedEnv``. Given it, the module is checked against it at construction
            (``group`` must be one of its groups; a trained policy's ``check_env``: another
            family or spaces raise, other env kwargs such as Ising's ``temperature`` warn; a
            trained policy is refused for a group whose agent names span several prefixes,
            e.g. one group holding ``red_*`` and ``blue_*`` of Battle with ``opponent=None``,
            which it would play as ONE population, both teams in one mean field; per-agent
            rules such as the scripted tiers are not refused), and, for a native env, its
            episode seeds reach the policies (below).
        init_key: the episode-start flag written by ``InitTracker(init_key=...)``.

    Episode starts: ``policy.reset()`` is called for the envs whose ``init_key`` (TorchRL's
    ``InitTracker`` transform: ``TransformedEnv(env, InitTracker())``) is True, so stateful
    planners start a fresh plan. A *stateful* policy (``policy.stateful``: the MF-Diffuser
    planner, MFQ) is refused without that key (a second ``env.rollout`` would silently go on
    with the previous episode's plan); stateless ones (BC, IQL, scripted) act without it.

    Seeds: ``mfdiff eval`` pairs each episode's env and policy seeds (``core.reset(seed=s)``,
    ``policy.reset(s)``). With ``env=`` a native env acting alone (no batch of envs) the module
    does the same: each episode start resets the policy with the seed the env's core was reset
    with, so ``td = env.reset(seed=episode_seed(s, e))`` then ``env.rollout(T, module,
    auto_reset=False, tensordict=td)`` plays the very episode ``mfdiff eval`` plays for run seed
    ``s``, episode ``e`` (``mfdiff_agents.evaluation.run.episode_seed``), and resets drawn from
    ``env.set_seed(s)``'s stream play the episodes of the seeds drawn. Otherwise (no ``env=``,
    ``PettingZooWrapper``, which passes us no seed, or a batch of envs) the reset passes no
    seed and the policy's own stream goes on: a policy that samples (the planner, BC, IQL,
    MFQ at temperature > 0, the scripted tiers) then plays other episodes than eval's at the
    same env seed, reproducible run to run for a seeded policy; only greedy ones match.
    """

    def __init__(
        self,
        policy: Policy | Sequence[Policy],
        *,
        group: str = DEFAULT_GROUP,
        observation_key: str = "observation",
        action_key: str = "action",
        mask_key: str = "mask",
        categorical_actions: bool = True,
        num_threads: int | None = 1,
        env: EnvBase | None = None,
        init_key: str = "is_init",
    ) -> None:
        super().__init__()
        policies = [policy] if isinstance(policy, Policy) else list(policy)
        if not policies or not all(isinstance(p, Policy) for p in policies):
            raise TypeError("policy must be an mfdiff Policy or a non-empty sequence of them")
        refuse_repeated_stateful(policies)
        with torch_threads(num_threads):  # validates num_threads now
            pass
        self.policies = policies
        self.group = group
        self.obs_key = (group, observation_key)
        self.mask_key = (group, mask_key)
        self.action_key = (group, action_key)
        self.categorical_actions = bool(categorical_actions)
        self.num_threads = num_threads
        self.init_key = init_key
        self.in_keys = [self.obs_key]
        self.out_keys = [self.action_key]
        self._native: MFDiffTorchRLEnv | None = None  # seeds the policies' resets
        if env is not None:
            self._check_env(env)

    def _check_env(self, env: EnvBase) -> None:
        """Check ``group`` and the policies against ``env`` (see the class doc)."""
        base = _base_env(env)
        if isinstance(base, BatchedEnvBase):
            # SerialEnv / ParallelEnv: TorchRL forwards an unknown attribute to its workers (and
            # recurses without end before they are started), so read only its own fields and
            # check every member, built from the batch's own factories, against its policy
            n = int(base.num_workers)
            if len(self.policies) not in (1, n):
                raise ValueError(f"{len(self.policies)} policies for a batch of {n} envs")
            all_policies = self.policies
            try:
                for i in range(n):
                    member = base.create_env_fn[i](**base.create_env_kwargs[i])
                    self.policies = [all_policies[i if len(all_policies) > 1 else 0]]
                    try:
                        self._check_env(member)
                    finally:  # built for the check only
                        member.close()
            finally:
                self.policies = all_policies
                self.__dict__["_native"] = None  # a batch: no per-episode seed reaches us
            return
        if isinstance(base, MFDiffTorchRLEnv):
            core = base.core
        else:  # TorchRL's PettingZooWrapper keeps the PettingZoo env as ._env
            par = getattr(base, "_env", None)
            core = getattr(getattr(par, "unwrapped", par), "core", None)
        group_map = getattr(base, "group_map", None)
        if core is None or not isinstance(group_map, dict):
            raise TypeError(
                f"env must be an MFDiffTorchRLEnv or a PettingZooWrapper around an mfdiff "
                f"parallel env (bare or in a TransformedEnv), got {type(env).__name__}")
        if self.group not in group_map:
            raise KeyError(f"env has no group {self.group!r}; its groups: {sorted(group_map)} "
                           f"(pass group=... to {type(self).__name__})")
        names = [str(a) for a in group_map[self.group]]
        prefixes = sorted({a.rsplit("_", 1)[0] for a in names})
        for pol in {id(p): p for p in self.policies}.values():
            if hasattr(pol, "watch_bounds"):  # a transform that rescales them is refused
                pol.watch_bounds(core)
            check = getattr(pol, "check_env", None)
            if check is None:  # not a trained policy: nothing it was trained on to compare
                continue
            check(core)  # ValueError: another family / spaces; UserWarning: other kwargs
            if len(prefixes) > 1 and getattr(core, "family", None) in ("battle",
                                                                        "magent_battle"):
                raise ValueError(
                    f"group {self.group!r} holds agents of {prefixes} (Battle with "
                    f"opponent=None in one group): a {type(pol).__name__} would play both "
                    "teams as ONE population, both in one mean field. Build the env with "
                    "group_map='prefix' (make_torchrl_env; PettingZooWrapper's default) and "
                    "give each team its own module, or make the env with an in-core opponent")
        if isinstance(base, MFDiffTorchRLEnv) and base.batch_size == torch.Size([]):
            # not self._native = base: nn.Module would register the env as a submodule
            self.__dict__["_native"] = base

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        """Write ``(group, action)`` for observations ``(group, observation)`` [*B, n, d]."""
        obs = tensordict.get(self.obs_key, None)
        if obs is None:  # e.g. PettingZooWrapper names its group "agent", not "agents"
            groups = sorted(str(k) for k in tensordict.keys()
                            if isinstance(tensordict.get(k), TensorDictBase))
            raise KeyError(f"no {self.obs_key} in the tensordict; its groups: {groups} "
                           f"(pass group=... to {type(self).__name__})")
        if obs.ndim < 2:
            raise ValueError(
                f"{self.obs_key} must be [*batch, n_agents, d], got {tuple(obs.shape)}"
            )
        batch, (n, d) = obs.shape[:-2], obs.shape[-2:]
        b = int(np.prod(batch, dtype=np.int64)) if len(batch) else 1
        if len(self.policies) not in (1, b):
            raise ValueError(f"{len(self.policies)} policies for a batch of {b} envs")
        if b > 1 and len(self.policies) == 1 and self.policies[0].stateful:
            raise ValueError(
                f"one {type(self.policies[0]).__name__} for a batch of {b} envs, but it keeps "
                "state between steps (stateful=True): its plan would mix their populations. "
                f"Pass {b} policies, one per env")
        obs_np = obs.detach().reshape(b, n, d).cpu().numpy()  # [b, n, d]
        mask = tensordict.get(self.mask_key, None)
        mask_np = None if mask is None else mask.detach().reshape(b, n).cpu().numpy()  # [b, n]
        is_init = tensordict.get(self.init_key, None)
        if is_init is None and any(p.stateful for p in self.policies):
            stateful = next(p for p in self.policies if p.stateful)
            raise RuntimeError(
                f"{type(self).__name__}: {type(stateful).__name__} keeps state between steps "
                f"(stateful=True) but the tensordict has no {self.init_key!r} key, so episode "
                "starts cannot be told apart and a second rollout would go on with the "
                "previous episode's plan. Append TorchRL's InitTracker to the env: "
                "from torchrl.envs.transforms import InitTracker, TransformedEnv; "
                "env = TransformedEnv(env, InitTracker())")
        init_np = None if is_init is None else is_init.detach().reshape(b, -1).cpu().numpy()
        # a native env acting alone: the policy is reset with its episode's core seed
        seed = self._native.current_seed if self._native is not None and b == 1 else None
        actions = np.empty((b, n), dtype=np.int64)
        with torch_threads(self.num_threads):
            for i in range(b):  # one batched call per env, never per agent
                pol = self.policies[i if len(self.policies) > 1 else 0]
                if init_np is not None and init_np[i].any():
                    pol.reset(seed)
                actions[i] = pol.act_batch(obs_np[i], None if mask_np is None else mask_np[i])
        act = torch.from_numpy(actions).reshape(*batch, n).to(obs.device)
        if not self.categorical_actions:
            act = torch.nn.functional.one_hot(act, self.policies[0].n_actions)
        tensordict.set(self.action_key, act)
        return tensordict


def _base_env(env: Any) -> Any:
    """The env under TorchRL transforms (``TransformedEnv.base_env``), stopping at a batched env:
    ``getattr`` on a ``SerialEnv``/``ParallelEnv`` is forwarded to its workers."""
    base = env
    for _ in range(64):
        if not isinstance(base, EnvBase) or isinstance(base, BatchedEnvBase):
            break
        inner = getattr(base, "base_env", None)
        if inner is None or inner is base:
            break
        base = inner
    return base


# ---------------------------------------------------------------------------------- the env
def _groups(names: Sequence[str], group_map: str | dict[str, Sequence[str]]) -> dict[str, Any]:
    """Group name -> index (a ``slice`` when contiguous, else an int array) into the core arrays.

    ``"agents"``: one group; ``"prefix"``: TorchRL's PettingZoo convention (``red_3`` -> ``red``);
    a dict: group -> agent names (every agent exactly once).
    """
    if group_map == DEFAULT_GROUP:
        return {DEFAULT_GROUP: slice(None)}
    index = {a: i for i, a in enumerate(names)}
    if group_map == "prefix":
        pref = np.array([a.rsplit("_", 1)[0] for a in names], dtype=object)  # construction only
        members = {g: np.flatnonzero(pref == g) for g in dict.fromkeys(pref.tolist())}
    elif isinstance(group_map, dict):
        members = {g: np.array([index[a] for a in v], dtype=np.int64) for g, v in group_map.items()}
        flat = np.concatenate(list(members.values())) if members else np.zeros(0, np.int64)
        if np.sort(flat).tolist() != list(range(len(names))):
            raise ValueError("group_map must list every agent exactly once")
    else:
        raise ValueError(f"group_map must be 'agents', 'prefix' or a dict, got {group_map!r}")
    out: dict[str, Any] = {}
    for g, idx in members.items():
        contiguous = idx.size and np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size))
        out[g] = slice(int(idx[0]), int(idx[0] + idx.size)) if contiguous else idx
    return out


class MFDiffTorchRLEnv(EnvBase):
    """Native batched TorchRL env over an mfdiff core (TorchRL's VMAS-style multi-agent layout).

    Args:
        core: a :class:`~mfdiff_envs.core.VectorCore` (``env.unwrapped.core`` of any view).
        group_map: ``"agents"`` (one group, default), ``"prefix"`` (one group per agent-name
            prefix, e.g. ``red`` / ``blue`` for Battle with ``opponent=None``), or a dict
            group -> agent names.
        return_state: also return the core's global state [state_dim] at the root as ``"state"``.
        device: torch device of the returned tensors.
        seed: first seed of the stream of per-episode seeds (see :meth:`_set_seed`); None
            draws fresh entropy. ``reset(seed=s)`` plays env seed ``s`` itself (see
            :meth:`_reset`); :attr:`current_seed` is the episode's.

    Keys per group g with n_g agents: ``(g, "observation")`` float32 [n_g, d],
    ``(g, "mask")`` bool [n_g] (alive), ``(g, "action")`` int64 [n_g],
    ``(g, "reward")`` float32 [n_g, 1], ``(g, "done"|"terminated"|"truncated")`` bool [n_g, 1];
    root ``"done"|"terminated"|"truncated"`` bool [1]. The episode ends when every agent is
    terminated, dead or truncated (as the gymnasium joint view).
    """

    batch_locked = True

    def __init__(
        self,
        core: Any,
        *,
        group_map: str | dict[str, Sequence[str]] = DEFAULT_GROUP,
        return_state: bool = False,
        device: str | torch.device = "cpu",
        seed: int | None = None,
    ) -> None:
        super().__init__(device=device, batch_size=torch.Size([]))
        self.core = core
        self.groups = _groups(list(core.agent_names), group_map)
        self.group_map = {g: self._names(idx) for g, idx in self.groups.items()}
        self.return_state = bool(return_state)
        self._single = len(self.groups) == 1 and self.groups.get(DEFAULT_GROUP) == slice(None)
        self._acts = np.zeros(core.n_agents, dtype=np.int64)
        self._seed_rng = np.random.default_rng(seed)
        #: the core seed of the current episode (None before the first reset)
        self.current_seed: int | None = None
        self._make_specs()

    def _names(self, idx: Any) -> list[str]:
        names = self.core.agent_names
        return list(names[idx]) if isinstance(idx, slice) else [names[i] for i in idx]

    def _size(self, idx: Any) -> int:
        return len(range(self.core.n_agents)[idx]) if isinstance(idx, slice) else int(idx.size)

    def _make_specs(self) -> None:
        core, dev = self.core, self.device
        d, a = core.obs_dim, core.n_actions
        low, high = (torch.as_tensor(b, dtype=torch.float32, device=dev) for b in core.obs_bounds())
        obs, act, rew, done = {}, {}, {}, {}
        for g, idx in self.groups.items():
            n = self._size(idx)
            shape = torch.Size([n])
            obs[g] = Composite(
                # the per-feature bounds of the envs' observation spaces (core.obs_bounds)
                observation=Bounded(low=low.expand(n, d), high=high.expand(n, d), shape=(n, d),
                                    dtype=torch.float32, device=dev),
                mask=Categorical(2, shape=shape, dtype=torch.bool, device=dev),
                shape=shape,
            )
            act[g] = Composite(
                action=Categorical(a, shape=shape, dtype=torch.int64, device=dev), shape=shape
            )
            rew[g] = Composite(
                reward=Unbounded(shape=(n, 1), dtype=torch.float32, device=dev), shape=shape
            )
            done[g] = Composite(
                {k: Categorical(2, shape=(n, 1), dtype=torch.bool, device=dev)
                 for k in ("done", "terminated", "truncated")},
                shape=shape,
            )
        if self.return_state:
            obs["state"] = Bounded(
                *(torch.as_tensor(b, device=dev) for b in core.state_bounds()),
                shape=(core.state_dim,), dtype=torch.float32, device=dev,
            )
        for k in ("done", "terminated", "truncated"):
            done[k] = Categorical(2, shape=(1,), dtype=torch.bool, device=dev)
        self.observation_spec = Composite(obs)
        self.action_spec = Composite(act)
        self.reward_spec = Composite(rew)
        self.done_spec = Composite(done)

    # ------------------------------------------------------------------ EnvBase hooks
    def _set_seed(self, seed: int | None) -> None:
        """Seed the stream of per-episode seeds: the k-th reset after ``set_seed(s)`` is the same
        episode for the same actions (each reset draws ``core.reset(seed=...)`` from it)."""
        self._seed_rng = np.random.default_rng(seed)

    def _out(
        self,
        obs: NDArray[np.float32],
        rew: NDArray[np.float32] | None,
        term: NDArray[np.bool_],
        trunc: NDArray[np.bool_],
    ) -> TensorDictBase:
        """The output tensordict (numpy arrays shared with torch where possible)."""
        dev = self.device
        alive = self.core.alive
        ep_term = bool(np.all(term | ~alive))
        ep_trunc = bool(np.all(trunc)) and not ep_term
        ep_done = ep_term or ep_trunc
        out: dict[str, Any] = {}
        for g, idx in self.groups.items():
            n = self._size(idx)
            flags = torch.tensor([[ep_done, ep_term, ep_trunc]], device=dev).expand(n, 3)
            r = np.zeros(n, np.float32) if rew is None else rew[idx]
            leaves = {
                "observation": torch.from_numpy(np.ascontiguousarray(obs[idx])).to(dev),
                "mask": torch.from_numpy(alive[idx].copy()).to(dev),
                "reward": torch.from_numpy(np.ascontiguousarray(r)).to(dev).unsqueeze(-1),
                "done": flags[:, :1],
                "terminated": flags[:, 1:2],
                "truncated": flags[:, 2:],
            }
            if rew is None:
                del leaves["reward"]
            out[g] = TensorDict(leaves, batch_size=[n], device=dev)
        out["done"] = torch.tensor([ep_done], device=dev)
        out["terminated"] = torch.tensor([ep_term], device=dev)
        out["truncated"] = torch.tensor([ep_trunc], device=dev)
        if self.return_state:
            out["state"] = torch.from_numpy(self.core.state()).to(dev)
        return TensorDict(out, batch_size=self.batch_size, device=dev)

    def _reset(
        self, tensordict: TensorDictBase | None = None, *, seed: int | None = None, **kwargs: Any
    ) -> TensorDictBase:
        """``env.reset(seed=s)`` resets the core with seed ``s``: the episode ``mfdiff eval``
        plays at env seed ``s`` (``episode_seed(run_seed, episode)`` of
        :mod:`mfdiff_agents.evaluation.run`), and later unseeded resets draw from a stream
        re-seeded as ``set_seed(s)`` does. ``env.reset()`` draws the core's seed from that
        stream. TorchRL forwards ``reset``'s keywords here: any other one is refused."""
        if kwargs:
            raise TypeError(f"{type(self).__name__}.reset() got unexpected keyword argument(s) "
                            f"{sorted(kwargs)}; it takes seed=")
        explicit = seed is not None
        if not explicit:
            seed = int(self._seed_rng.integers(2**31 - 1))
        obs, _ = self.core.reset(seed=seed)  # a bad seed: ValueError before any change
        if explicit:
            self._seed_rng = np.random.default_rng(int(seed))
        self.current_seed = int(seed)
        n = self.core.n_agents
        no = np.zeros(n, dtype=bool)
        return self._out(obs, None, no, no)

    def _step(self, tensordict: TensorDictBase) -> TensorDictBase:
        if self._single:
            acts = tensordict.get((DEFAULT_GROUP, "action")).detach().cpu().numpy()
        else:
            acts = self._acts
            for g, idx in self.groups.items():  # one slice assignment per group
                acts[idx] = tensordict.get((g, "action")).detach().cpu().numpy()
        obs, rew, term, trunc, _ = self.core.step(acts.astype(np.int64, copy=False))
        return self._out(obs, rew, term, trunc)


def make_torchrl_env(
    env_id: str,
    *,
    group_map: str | dict[str, Sequence[str]] = DEFAULT_GROUP,
    return_state: bool = False,
    device: str | torch.device = "cpu",
    seed: int | None = None,
    **env_kwargs: Any,
) -> MFDiffTorchRLEnv:
    """The native TorchRL env of a registered id, e.g.
    ``make_torchrl_env("mfdiff/Ising-v0", n_agents=1024)``; ``env_kwargs`` are the family's
    (``n_agents``, ``max_cycles``, Battle's ``opponent`` ...)."""
    from mfdiff_envs.registration import ENV_MODULES

    if env_id not in ENV_MODULES:
        raise ValueError(f"unknown env id {env_id!r}; known: {sorted(ENV_MODULES)}")
    core = importlib.import_module(ENV_MODULES[env_id]).joint_env(**env_kwargs).core
    return MFDiffTorchRLEnv(
        core, group_map=group_map, return_state=return_state, device=device, seed=seed
    )


def make_pettingzoo_wrapper(env_id: str, *, seed: int | None = None, **kwargs: Any) -> Any:
    """TorchRL's generic ``PettingZooWrapper`` around our PettingZoo parallel view (for
    comparison; per-agent Python loops inside TorchRL). ``kwargs``: the family's env kwargs plus
    the wrapper's ``use_mask``, ``categorical_actions``, ``group_map``, ``return_state``."""
    from torchrl.envs.libs.pettingzoo import PettingZooWrapper

    from mfdiff_envs.registration import ENV_MODULES

    wrapper_keys = ("use_mask", "categorical_actions", "group_map", "return_state", "device",
                    "done_on_any")
    wkw = {k: kwargs.pop(k) for k in wrapper_keys if k in kwargs}
    par = importlib.import_module(ENV_MODULES[env_id]).parallel_env(**kwargs)
    return PettingZooWrapper(env=par, seed=seed, **wkw)


__all__ = [
    "DEFAULT_GROUP",
    "MFDiffTorchRLEnv",
    "PopulationPolicyModule",
    "make_pettingzoo_wrapper",
    "make_torchrl_env",
]
