"""Sample training windows of K particles from mfdiff episodes (:mod:`.episodes` loads them).

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
``next_obs``/``next_mean_field``/``next_alive`` at state t0+H. Windows never cross episode
boundaries:
t0 in [0, T-H]; ``done`` = the episode ends at t0+H (terminated or truncated).

Particles: K agents drawn without replacement among those alive at t0. If fewer than K are
alive (late in a Battle), all alive agents are taken and the remaining slots repeat alive
agents drawn uniformly (a sample of the same empirical measure); starts with no agent alive
are never drawn.

What a uniform draw of windows weighs (an outside data audit; every learner reads the data this
way, MF-Diffuser and the baselines alike): step t of an episode of T steps lies in
min(t + 1, H, T − t) windows, so the first and last H − 1 steps of each episode count less than
the middle ones (step 0 and the final, terminal step 1/H as much; Battle's team-wipe-out steps
are ~1/H as frequent in training as in the data); and each window holds K particles whatever
the alive count, so a learner that averages over (particle, step) entries weighs a late
Battle state with few survivors as much as an early full one (agent-steps weighted ≈ 1 /
n_alive(t0)). Both are choices of the sampler, not of the data, and change no dataset.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mfdiff_envs.core import (
    MfdiffWarning,
    check_positive_int,
    mean_field_dim,
    mean_field_summary,
)
from mfdiff_envs.offline.episodes import Episodes, load_episodes
from mfdiff_envs.offline.integrity import nonfinite_rows

#: the largest observation magnitude a window sampler takes (the policies' acting limit,
#: ``mfdiff_agents.policy.OBS_LIMIT``): beyond it float32 mean-field statistics overflow
DATA_LIMIT = 1e15


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
    next_alive: NDArray[np.bool_]  # [B, K] at t0+H (False: the agent died at the last step)
    done: NDArray[np.bool_]  # [B] the episode ends at t0+H
    t0: NDArray[np.int64]  # [B]
    episode: NDArray[np.int64]  # [B]
    agent_idx: NDArray[np.int64]  # [B, K]

    def as_dict(self) -> dict[str, np.ndarray]:
        """Field name -> array, every field."""
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
                MfdiffWarning, stacklevel=2,
            )
        if not kept:
            raise ValueError(f"{name}: every episode is shorter than horizon {horizon}")
        first = eps[kept[0]]
        self.n_agents = int(first.observations.shape[1])
        self.obs_dim = int(first.observations.shape[2])
        self.mf_dim = mean_field_dim(self.obs_dim)
        self.n_actions = eps.n_actions or int(max(eps[i].actions.max() for i in kept)) + 1
        if eps.n_actions is None:
            # a list of Episode carries no env: a policy trained on it would know only the
            # actions the data happen to hold (an outside audit: 4 of Squeeze's 10 levels)
            warnings.warn(
                f"{name}: n_actions inferred from the data as {self.n_actions} (its largest "
                "action + 1; the episodes name no env): if the env has more actions, pass "
                "Episodes(episodes, n_actions=A, env_id=..., family=...)", MfdiffWarning,
                stacklevel=2)

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
            big = float(np.abs(ep.observations).max(initial=0.0))
            if big > DATA_LIMIT:  # finite, but its squares overflow the float32 statistics
                raise ValueError(f"{name}: episode {i} has observations up to |x| = {big:.3g}, "
                                 f"beyond {DATA_LIMIT:.0e}: their mean-field statistics overflow "
                                 "float32 (and policies refuse such observations when acting)")
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
            if not np.abs(rtg).max(initial=0.0) <= np.finfo(np.float32).max:
                raise ValueError(f"{name}: episode {i}'s discounted return-to-go overflows "
                                 f"float32 (rewards up to |r| = "
                                 f"{float(np.abs(ep.rewards).max()):.3g}): rescale the rewards")
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

    def reset(self, seed: int | Sequence[int] | None) -> None:
        """Restart the sampling stream at ``seed`` (``numpy.random.default_rng``'s: an int, a
        sequence of ints such as ``[seed, rank]``, or ``None``: fresh entropy)."""
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

    def data_range(self) -> tuple[NDArray[np.float32], ...]:
        """(obs_low, obs_high) ``[d]`` over every alive agent-step of the data, and (mf_low,
        mf_high) ``[m]`` over every step's mean field: the support the policy trains on (a
        planner acting on states beyond it clips what its action head reads to it)."""
        alive = self._aux[..., 2:3] > 0.5  # [N, S, 1]
        if not alive.any():  # no alive agent anywhere: the rows as they are
            alive = np.ones_like(alive)
        kw = {"axis": (0, 1), "where": alive}
        obs_low = np.min(self._obs, initial=np.inf, **kw).astype(np.float32)
        obs_high = np.max(self._obs, initial=-np.inf, **kw).astype(np.float32)
        return obs_low, obs_high, self._mf.min(0), self._mf.max(0)

    def sample(self, batch_size: int) -> Windows:
        """Draw ``batch_size`` windows uniformly over all (episode, t0) starts.

        Raises:
            TypeError / ValueError: ``batch_size`` is not a positive int.
        """
        batch_size = check_positive_int("batch_size", batch_size)
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
            next_alive=self._aux.reshape(-1, 3)[first + H, 2] > 0.5,
            done=p_end == self._end[p0],
            t0=self._start_t[pick],
            episode=self._start_ep[pick],
            agent_idx=agents,
        )
