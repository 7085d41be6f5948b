"""Load mfdiff Minari datasets as arrays and sample training windows of K particles.

    from mfdiff_envs.offline import WindowSampler
    sampler = WindowSampler("mfdiff/squeeze-n1000/expert-v0", horizon=16, n_particles=64, seed=0)
    w = sampler.sample(256)          # Windows: w.obs [256, 64, 16, d], w.mean_field [256, 16, 2d+1]
    batch = windows_to_torch(w, "cuda")   # from mfdiff_agents.data (torch lives there only)

The joint space is never materialised per window: on construction the episodes are packed
one after another along time into agent-major arrays ([N, S, d] observations and [N, S, 3]
action / reward / alive, S = sum of T+1), the mean-field summary over all N agents
([T+1, 2d+1], :func:`mfdiff_envs.core.mean_field_summary`) and the discounted team
returns-to-go are computed once per episode, and :meth:`WindowSampler.sample` gathers each
particle's window as one contiguous block (one vectorised fancy index per array).

Time alignment inside a window starting at t0 (h = 0 .. H-1, t = t0 + h):
``obs``/``alive``/``mean_field`` at state t, ``actions`` taken at t, ``rewards`` (per agent) and
``team_rewards`` received for that action (``infos["rewards"][t+1]`` and ``rewards[t]``),
``next_obs``/``next_mean_field`` at state t0+H. Windows never cross episode boundaries:
t0 in [0, T-H]; ``done`` = the episode ends at t0+H (terminated or truncated).

Particles: K agents drawn without replacement among those alive at t0. If fewer than K are
alive (late in a Battle), all alive agents are taken and the remaining slots repeat alive
agents drawn uniformly (a sample of the same empirical measure); starts with no agent alive
are never drawn.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mfdiff_envs.core import mean_field_dim, mean_field_summary
from mfdiff_envs.offline.integrity import (
    HDF5_FILE,
    DatasetError,
    check_loaded_episode,
    nonfinite_rows,
    unhashed_reason,
)

if TYPE_CHECKING:
    import minari


@dataclass
class Episode:
    """One episode's arrays (shapes as in ``docs/contracts.md``)."""

    observations: NDArray[np.float32]  # [T+1, N, d]
    actions: NDArray[np.int64]  # [T, N]
    rewards: NDArray[np.float64]  # [T] team reward
    agent_rewards: NDArray[np.float32]  # [T+1, N], row 0 zeros
    alive: NDArray[np.bool_]  # [T+1, N]
    terminations: NDArray[np.bool_]  # [T]
    truncations: NDArray[np.bool_]  # [T]

    @property
    def length(self) -> int:
        return int(self.actions.shape[0])

    @classmethod
    def from_arrays(cls, ep: dict[str, Any]) -> Episode:
        """From Minari-layout arrays, e.g. ``rollout(..., record=True).episode``."""
        return cls(
            observations=np.asarray(ep["observations"], np.float32),
            actions=np.asarray(ep["actions"], np.int64),
            rewards=np.asarray(ep["rewards"], np.float64),
            agent_rewards=np.asarray(ep["infos"]["rewards"], np.float32),
            alive=np.asarray(ep["infos"]["alive"], bool),
            terminations=np.asarray(ep["terminations"], bool),
            truncations=np.asarray(ep["truncations"], bool),
        )


@dataclass
class Episodes:
    """All episodes of a dataset plus what a learner needs to rebuild the env."""

    episodes: list[Episode]
    dataset_id: str | None = None
    env_id: str | None = None
    env_kwargs: dict[str, Any] | None = None
    family: str | None = None
    n_actions: int | None = None
    #: the file's episode ids these are, when a view holds a subset of them (``split_dataset``,
    #: ``filter_episodes``); None: every episode of the dataset, in order
    dataset_episodes: list[int] | None = None
    #: the dataset's content digest (``mfdiff.integrity.content``); None where it has none
    dataset_content: str | None = None

    def __len__(self) -> int:
        return len(self.episodes)

    def __iter__(self):
        return iter(self.episodes)

    def __getitem__(self, i: int) -> Episode:
        return self.episodes[i]


def _build_hint(dataset_id: str) -> str:
    """How to get a missing dataset: build it when the catalogue has a recipe for it."""
    from mfdiff_envs.offline.catalogue import load_catalogue

    try:
        known = {r.dataset_id for r in load_catalogue()}
    except Exception:  # a broken catalogue must not hide the missing-dataset error
        known = set()
    if dataset_id in known:
        return f"build it with `mfdiff data build {dataset_id}`"
    return ("it is not in the dataset catalogue either: `mfdiff data list` shows the ids "
            "`mfdiff data build` can make")


def open_dataset(dataset: str | minari.MinariDataset) -> tuple[Any, str]:
    """(the loaded MinariDataset, its id) for an id or a loaded dataset.

    Raises:
        DatasetError: the dataset is missing (with how to build it), cannot be opened, or its
            metadata.json was edited after the build
            (:func:`~mfdiff_envs.offline.integrity.metadata_problem`).
    """
    import minari

    if not isinstance(dataset, str):
        _check_metadata(dataset, dataset.spec.dataset_id)
        return dataset, dataset.spec.dataset_id
    from minari.storage import get_dataset_path

    data_path = get_dataset_path(dataset) / "data"
    if not data_path.exists():
        raise DatasetError(
            f"dataset {dataset} not found at {data_path.parent} (MINARI_DATASETS_PATH="
            f"{os.environ.get('MINARI_DATASETS_PATH', '~/.minari/datasets')}); "
            + _build_hint(dataset)
        )
    try:
        ds = minari.load_dataset(dataset)
    except Exception as e:  # minari raises ValueError / OSError / KeyError / json errors
        raise DatasetError(f"dataset {dataset} at {data_path} cannot be opened: {e}") from e
    _check_metadata(ds, dataset)
    return ds, dataset


def _check_metadata(ds: Any, ds_id: str) -> None:
    from minari.dataset.minari_storage import MinariStorage

    from mfdiff_envs.offline.integrity import metadata_problem

    problem = metadata_problem(MinariStorage.read_raw_metadata(ds.storage.data_path), ds_id)
    if problem is not None:
        raise DatasetError(f"dataset {ds_id}: {problem}")


def dataset_family(dataset: str | minari.MinariDataset) -> str | None:
    """The env family (``squeeze``, ``ising``, ``battle``) an mfdiff dataset was built from,
    read from its metadata without loading an episode (the ``mfdiff`` block, else the env
    spec's id: a dataset made by Minari's tools); None for an env of no known family.

    Raises:
        DatasetError: the dataset is missing or cannot be opened.
    """
    ds, _ = open_dataset(dataset)
    return _family(ds.storage.metadata.get("mfdiff", {}), ds.spec.env_spec)


def _family(mf: dict[str, Any], env_spec: Any) -> str | None:
    """The family an mfdiff build recorded, else the one its env id names: Minari's own tools
    (``combine_datasets``, ``DataCollector``) write no ``mfdiff`` block but keep the env spec."""
    from mfdiff_envs.offline.catalogue import FAMILY_ENV

    if mf.get("family"):
        return str(mf["family"])
    env_id = env_spec.id if env_spec is not None else None
    return next((fam for fam, eid in FAMILY_ENV.items() if eid == env_id), None)


def load_episodes(dataset: str | minari.MinariDataset) -> Episodes:
    """Read every episode of an mfdiff dataset (an id or a loaded ``MinariDataset``) as arrays.

    A loaded dataset that is a view of a subset of the file's episodes (``minari.split_dataset``,
    ``MinariDataset.filter_episodes``) gives the episodes of the view, in its order.

    Every episode is checked as it is read (:mod:`mfdiff_envs.offline.integrity`): its sha256
    against the digest recorded at build (one sha256 pass, ~1.4 GB/s, over arrays already in
    memory; hashing in a thread beside the reads was slower on a busy 2-core machine), and its
    observations and rewards for NaN/inf. A dataset built before digests were recorded loads
    with a warning.

    Raises:
        DatasetError: the dataset is missing, its hdf5 file is missing/corrupt/altered, an
            episode does not match its recorded hash or holds NaN/inf, or its episodes lack the
            mfdiff infos (``rewards``, ``alive``); the message names the dataset id (and episode).
    """
    ds, ds_id = open_dataset(dataset)
    episodes: list[Episode] = []
    try:
        meta = ds.storage.metadata
        n_eps = int(meta["total_episodes"])
        integrity = meta.get("mfdiff", {}).get("integrity")
        recorded = integrity["episodes"] if integrity else None
        if recorded is None:
            warnings.warn(f"dataset {ds_id}: {unhashed_reason(meta, ds_id)}", stacklevel=2)
        elif len(recorded) != n_eps:
            raise DatasetError(
                f"dataset {ds_id}: metadata lists {n_eps} episodes but {len(recorded)} hashes"
            )
        else:  # a truncated file: say so before h5py fails somewhere inside it
            h5 = ds.storage.data_path / HDF5_FILE
            size, written = h5.stat().st_size, integrity.get("hdf5_bytes", h5.stat().st_size)
            if size != written:
                raise DatasetError(
                    f"dataset {ds_id}: {HDF5_FILE} has {size} bytes but {written} were written "
                    f"(truncated or altered); rebuild with `mfdiff data build {ds_id} --force`"
                )
        # a view (minari.split_dataset, filter_episodes) holds a subset of the file's episodes:
        # read those, in its order; each keeps its id, so its digest is still found
        indices = [int(i) for i in ds.episode_indices]
        for ep in ds.storage.get_episodes(indices):
            infos = ep["infos"] or {}
            if "rewards" not in infos or "alive" not in infos:
                raise DatasetError(
                    f"dataset {ds_id}: episode {ep['id']} has no infos['rewards']/infos['alive'] "
                    "(not an mfdiff multi-agent dataset; one recorded with Minari's "
                    "DataCollector needs record_infos=True)"
                )
            check_loaded_episode(ds_id, int(ep["id"]), ep, recorded)
            episodes.append(Episode.from_arrays({**ep, "infos": infos}))
    except DatasetError:
        raise
    except Exception as e:  # h5py OSError on a truncated/corrupt file, KeyError on a missing group
        raise DatasetError(
            f"dataset {ds_id}: cannot read episodes ({type(e).__name__}: {e})"
        ) from e
    spec = ds.spec.env_spec
    mf = meta.get("mfdiff", {})
    act_space = ds.spec.action_space
    n_actions = (  # MultiDiscrete joint action space; int Box in datasets built before it
        int(act_space.nvec.max())
        if hasattr(act_space, "nvec")
        else int(act_space.high.max()) + 1
        if hasattr(act_space, "high")
        else None
    )
    return Episodes(
        episodes=episodes,
        dataset_id=ds_id,
        env_id=spec.id if spec is not None else mf.get("env_id"),
        env_kwargs=dict(spec.kwargs) if spec is not None else mf.get("env_kwargs"),
        family=_family(mf, spec),
        dataset_episodes=None if indices == list(range(n_eps)) else indices,
        n_actions=n_actions,
        dataset_content=(integrity or {}).get("content"),
    )


@dataclass
class Windows:
    """A batch of B training windows of K particles over H steps (numpy; see module doc)."""

    obs: NDArray[np.float32]  # [B, K, H, d]
    actions: NDArray[np.int64]  # [B, K, H]
    alive: NDArray[np.bool_]  # [B, K, H]
    rewards: NDArray[np.float32]  # [B, K, H] per agent
    team_rewards: NDArray[np.float32]  # [B, H]
    returns: NDArray[np.float32]  # [B] discounted team return-to-go from t0
    window_returns: NDArray[np.float32]  # [B] discounted team return inside the window
    mean_field: NDArray[np.float32]  # [B, H, m]
    next_mean_field: NDArray[np.float32]  # [B, m] at t0+H
    next_obs: NDArray[np.float32]  # [B, K, d] at t0+H
    done: NDArray[np.bool_]  # [B] the episode ends at t0+H
    t0: NDArray[np.int64]  # [B]
    episode: NDArray[np.int64]  # [B]
    agent_idx: NDArray[np.int64]  # [B, K]

    def as_dict(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _row_windows(a: NDArray, horizon: int) -> NDArray:
    """View [N*S - H + 1, H*c] of a C-contiguous [N, S, c] array: row r = flat rows r .. r+H-1."""
    n, s, c = a.shape
    item = a.strides[2]
    return np.lib.stride_tricks.as_strided(
        a, shape=(n * s - horizon + 1, horizon * c), strides=(c * item, item), writeable=False
    )


class WindowSampler:
    """Sample :class:`Windows` of ``horizon`` steps and ``n_particles`` agents from episodes.

    Args:
        episodes_or_dataset: a dataset id, a ``MinariDataset``, :class:`Episodes`, or a list
            of :class:`Episode`.
        horizon: H, steps per window (>= 1).
        n_particles: K, agents per window (>= 1; may exceed the alive count, see module doc).
        gamma: discount of ``returns`` and ``window_returns``.
        seed: seed of the sampler's generator (same seed -> same windows).
    """

    def __init__(
        self,
        episodes_or_dataset: Any,
        *,
        horizon: int,
        n_particles: int,
        gamma: float = 0.99,
        seed: int | None = None,
    ) -> None:
        if horizon < 1 or n_particles < 1:
            raise ValueError(f"horizon and n_particles must be >= 1, got {horizon}, {n_particles}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
        src = episodes_or_dataset
        if isinstance(src, Episodes):
            eps = src
        elif isinstance(src, (list, tuple)):
            eps = Episodes(episodes=list(src))
        else:
            eps = load_episodes(src)
        self.horizon, self.n_particles, self.gamma = int(horizon), int(n_particles), float(gamma)
        self.dataset_id, self.env_id, self.env_kwargs = eps.dataset_id, eps.env_id, eps.env_kwargs
        self.family = eps.family
        self.dataset_episodes = eps.dataset_episodes
        self.dataset_content = eps.dataset_content
        name = eps.dataset_id or "episodes"
        if len(eps) == 0:
            raise ValueError(f"{name}: no episodes")

        kept = [i for i, ep in enumerate(eps) if ep.length >= horizon]
        if len(kept) < len(eps):
            warnings.warn(
                f"{name}: {len(eps) - len(kept)} of {len(eps)} episodes are shorter than "
                f"horizon {horizon} and are skipped",
                stacklevel=2,
            )
        if not kept:
            raise ValueError(f"{name}: every episode is shorter than horizon {horizon}")
        first = eps[kept[0]]
        self.n_agents = int(first.observations.shape[1])
        self.obs_dim = int(first.observations.shape[2])
        self.mf_dim = mean_field_dim(self.obs_dim)
        self.n_actions = eps.n_actions or int(max(eps[i].actions.max() for i in kept)) + 1

        # ---- pack episodes along time: episode e occupies rows off[e] .. off[e] + T_e
        lengths = np.array([eps[i].length for i in kept], np.int64)
        self.episode_ids = np.array(kept, np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]).astype(np.int64)
        S = int((lengths + 1).sum())
        N, d = self.n_agents, self.obs_dim
        self._n_rows = S
        # Per-agent data, agent-major ([N, S, .]) so one particle's window is one contiguous
        # block of H rows: a batch gathers B*K blocks through a strided "window" view instead
        # of B*K*H scattered rows. aux columns: action, reward of that action
        # (= infos["rewards"][t+1]), alive.
        self._obs = np.zeros((N, S, d), np.float32)
        self._aux = np.zeros((N, S, 3), np.float32)
        self._alive0 = np.empty((S, N), bool)  # time-major alive, for drawing particles at t0
        self._team = np.zeros(S, np.float32)
        self._rtg = np.zeros(S, np.float32)  # discounted team return-to-go from row t
        self._mf = np.empty((S, self.mf_dim), np.float32)
        self._end = np.empty(S, np.int64)  # row of the episode's last state
        if self.n_actions >= 2**24:
            raise ValueError(f"{name}: n_actions {self.n_actions} too large for the float32 pack")
        starts_pos, starts_ep, starts_t = [], [], []
        for i, T, o in zip(kept, lengths, self.offsets):
            ep = eps[i]
            if ep.observations.shape[1:] != (N, d):
                raise ValueError(
                    f"{name}: episode {i} has obs shape {ep.observations.shape}, "
                    f"expected (T+1, {N}, {d})"
                )
            where = nonfinite_rows(
                {
                    "observations": ep.observations,
                    "rewards": ep.rewards,
                    "infos": {"rewards": ep.agent_rewards},
                }
            )
            if where is not None:  # a NaN would spread silently through mean fields and returns
                raise ValueError(f"{name}: episode {i} has NaN/inf values in {where}")
            sl = slice(o, o + T + 1)
            self._obs[:, sl] = ep.observations.transpose(1, 0, 2)
            self._aux[:, o : o + T, 0] = ep.actions.T
            self._aux[:, o : o + T, 1] = ep.agent_rewards[1:].T
            self._aux[:, sl, 2] = ep.alive.T
            self._alive0[sl] = ep.alive
            self._team[o : o + T] = ep.rewards
            self._mf[sl] = mean_field_summary(ep.observations, ep.alive)
            rtg = np.zeros(T + 1, np.float64)
            for t in range(T - 1, -1, -1):
                rtg[t] = ep.rewards[t] + gamma * rtg[t + 1]
            self._rtg[sl] = rtg
            self._end[sl] = o + T
            t0s = np.arange(T - horizon + 1)
            t0s = t0s[ep.alive[t0s].any(axis=1)]
            starts_pos.append(o + t0s)
            starts_ep.append(np.full(len(t0s), i))
            starts_t.append(t0s)
        self._start_pos = np.concatenate(starts_pos)
        self._start_ep = np.concatenate(starts_ep).astype(np.int64)
        self._start_t = np.concatenate(starts_t).astype(np.int64)
        if len(self._start_pos) == 0:
            raise ValueError(f"{name}: no window start with a living agent")
        self._disc = (gamma ** np.arange(horizon)).astype(np.float32)  # [H]
        # [N*S - H + 1, H*c] read-only views: row r = the H rows starting at flat row r
        self._obs_rows = self._obs.reshape(N * S, d)
        self._obs_win = _row_windows(self._obs, horizon)
        self._aux_win = _row_windows(self._aux, horizon)
        self._n_alive = self._alive0.sum(1)  # [S]
        self.rng = np.random.default_rng(seed)

    @property
    def n_windows(self) -> int:
        """Number of distinct window starts (episode, t0)."""
        return len(self._start_pos)

    def reset(self, seed: int | None) -> None:
        self.rng = np.random.default_rng(seed)

    def _sample_agents(self, p0: NDArray[np.int64]) -> NDArray[np.int64]:
        """[B, K] agent indices at flat rows ``p0``, without replacement among the alive.

        Sparse path (K alive agents are a small part of N): draw M candidates with replacement
        and keep the first K distinct alive ones in draw order (sequential sampling without
        replacement, so uniform over K-subsets; O(B M) instead of O(B N)). Rows where M draws
        were not enough, and small N, use random keys over all N agents.
        """
        B, K, N = len(p0), self.n_particles, self.n_agents
        n_alive = self._n_alive[p0]  # [B]
        idx = np.empty((B, K), np.int64)
        todo = np.arange(B)
        # enough draws for rows with the median alive count; rows that fall short go dense
        m = int(np.ceil(1.5 * K * N / max(float(np.median(n_alive)), 1.0))) + 16
        if 4 * m < N:
            cand = self.rng.integers(0, N, size=(B, m))
            ok = self._alive0[p0[:, None], cand]
            order = np.argsort(cand, axis=1, kind="stable")
            sc = np.take_along_axis(cand, order, axis=1)
            dup_sorted = np.zeros_like(ok)
            dup_sorted[:, 1:] = sc[:, 1:] == sc[:, :-1]  # later draws of the same agent
            dup = np.empty_like(ok)
            np.put_along_axis(dup, order, dup_sorted, axis=1)
            ok &= ~dup
            first = np.argsort(~ok, axis=1, kind="stable")[:, :K]  # first K kept, draw order
            idx[:] = np.take_along_axis(cand, first, axis=1)
            todo = np.flatnonzero(ok.sum(1) < K)
        if len(todo):
            alive0 = self._alive0[p0[todo]]
            keys = self.rng.random(alive0.shape, dtype=np.float32)
            keys[~alive0] = 2.0  # dead agents sort last
            if K < N:
                idx[todo] = np.argpartition(keys, K - 1, axis=1)[:, :K]
            else:
                idx[todo, : min(K, N)] = np.argsort(keys, axis=1)[:, :K]
        for b in np.flatnonzero(n_alive < K):  # rare: fewer alive agents than particles
            alive_b = np.flatnonzero(self._alive0[p0[b]])
            fill = self.rng.choice(alive_b, size=K - len(alive_b), replace=True)
            idx[b] = np.concatenate([self.rng.permutation(alive_b), fill])
        return idx

    def sample(self, batch_size: int) -> Windows:
        """Draw ``batch_size`` windows uniformly over all (episode, t0) starts."""
        H = self.horizon
        pick = self.rng.integers(0, len(self._start_pos), size=batch_size)
        p0 = self._start_pos[pick]  # [B] flat row of t0
        rows = p0[:, None] + np.arange(H)  # [B, H]
        agents = self._sample_agents(p0)  # [B, K]
        B, K, d, S = batch_size, self.n_particles, self.obs_dim, self._n_rows
        first = agents * S + p0[:, None]  # [B, K] flat row of (agent, t0)
        aux = self._aux_win[first].reshape(B, K, H, 3)
        team = self._team[rows]  # [B, H]
        p_end = p0 + H
        return Windows(
            obs=self._obs_win[first].reshape(B, K, H, d),
            actions=aux[..., 0].astype(np.int64),
            alive=aux[..., 2] > 0.5,
            rewards=np.ascontiguousarray(aux[..., 1]),
            team_rewards=team,
            returns=self._rtg[p0],
            window_returns=team @ self._disc,
            mean_field=self._mf[rows],
            next_mean_field=self._mf[p_end],
            next_obs=self._obs_rows[first + H],
            done=p_end == self._end[p0],
            t0=self._start_t[pick],
            episode=self._start_ep[pick],
            agent_idx=agents,
        )
