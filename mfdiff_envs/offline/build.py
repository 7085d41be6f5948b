"""Build Minari datasets from behaviour-policy rollouts on the vectorised core.

Each episode is rolled out on ``env.unwrapped.core`` (never the per-agent dicts) and stored
through the gymnasium joint view's spaces (obs ``Box(N, d)``, actions ``MultiDiscrete([A] * N)``):

============================  ==================  =========================================
key                           shape / dtype        meaning
============================  ==================  =========================================
``observations``              (T+1, N, d) float32  per-agent observations, reset row first
``actions``                   (T, N) int64         per-agent actions
``rewards``                   (T,) float64         team reward = ``core.team_reward(r_t)``
``terminations``              (T,) bool            episode terminated (last step only)
``truncations``               (T,) bool            episode truncated (last step only)
``infos["rewards"]``          (T+1, N) float32     per-agent rewards (row 0 = zeros)
``infos["alive"]``            (T+1, N) bool        alive mask after reset / each step
============================  ==================  =========================================

Layout on disk: Minari's hdf5 format (``jpeg_encoding=False``).
``minari.create_dataset_from_buffers`` writes the metadata of an empty dataset, then
:func:`write_episodes` streams the episodes (one or two in memory at a time) into Minari's hdf5
layout with one chunk per episode array (~5x faster loads than Minari's own ~20 kB chunks) and
hashes every episode as it writes it. With ``workers=k`` the rollouts run in k processes (episode
``e`` in worker ``e % k``) and reach the single writer in episode order (spooled through
``<stage>/spool``, at most two episodes ahead per worker). Episode
``e`` always uses ``episode_seeds(seed, episodes)[e]``, so the file is the same for any k.

Metadata: Minari's fields (``author``, ``author_email`` = the issue tracker as contact,
``code_permalink``, ``requirements = ["mfdiff"]``, reference scores with
``num_episodes_average_score`` = the rollouts behind them, ``dataset_size`` = MB on disk of
the finished dataset) and an ``mfdiff`` block (the data card's numbers and the ``integrity``
digests, :mod:`mfdiff_envs.offline.integrity`).

Writes are atomic: the dataset is written under a hidden staging directory inside the Minari
root (``<root>/.mfdiff-staging/<pid>-<uuid>/``, invisible to ``minari.list_local_datasets``)
with its final id, then moved into place with one ``os.rename``. A killed build leaves only
a hidden staging directory, which the next build or ``mfdiff data`` command removes once its
process is gone (:func:`clean_stale_staging`).

Reference scores: ``ref_min_score`` / ``ref_max_score`` are the mean episode returns of the
random (skill 0) and expert (skill 1) behaviour policies over ``ref_episodes`` rollouts with a
fixed seed, so ``minari.get_normalized_score(ds, returns)`` is 0 for random and 1 for expert
(multiply by 100 for the usual D4RL scale).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, staging judged by PID
    fcntl = None  # type: ignore[assignment]

import gymnasium as gym
import minari
import numpy as np
from minari.dataset.minari_storage import MinariStorage
from minari.namespace import create_namespace, list_local_namespaces
from minari.storage import get_dataset_path

import mfdiff_envs  # noqa: F401  (registers the env ids)
from mfdiff_envs.core import SAME_FAMILY, MfdiffWarning, VectorCore, check_positive_int
from mfdiff_envs.offline.catalogue import TIERS, Recipe, dataset_id, parse_id
from mfdiff_envs.offline.integrity import (
    HDF5_FILE,
    episode_digest,
    flatten_arrays,
    integrity_block,
    metadata_digest,
    nonfinite_rows,
)
from mfdiff_envs.rollout import BatchActor, rollout
from mfdiff_envs.scoring import normalized_score

#: ``policy_factory(core, skill, seed) -> policy`` with ``reset(seed)`` and
#: ``act_batch(obs [N, d], alive [N]) -> actions [N]`` (:class:`mfdiff_envs.rollout.BatchActor`).
PolicyFactory = Callable[[VectorCore, float, "int | None"], BatchActor]

AUTHOR = "mfdiff developers"
#: Minari asks for "an author email, or some other obvious contact information"; the project
#: has no mailbox, so the contact is its issue tracker.
AUTHOR_CONTACT = "https://github.com/mfdiff/mfdiff/issues"
#: pip-style requirements stored in the metadata (``recover_environment`` checks them).
REQUIREMENTS = ("mfdiff",)
CODE_PERMALINK = "https://github.com/mfdiff/mfdiff/tree/main/mfdiff_envs/offline/build.py"
STAGING_DIR = ".mfdiff-staging"
REF_EPISODES = 5
REF_SEED = 10_007


class DatasetExistsError(FileExistsError):
    """The dataset id is already built locally (pass ``overwrite=True`` / ``--force``)."""


# ----------------------------------------------------------------------------- rollouts
def default_policy_factory() -> PolicyFactory:
    """The catalogue's behaviour policies: :func:`mfdiff_envs.policies.make_behaviour_policy`."""
    from mfdiff_envs.policies import make_behaviour_policy

    return make_behaviour_policy


def tier_skill(family: str, tier: str, episode: int = 0, episodes: int = 1) -> float:
    """Skill of ``tier`` (``TIER_SKILL``); ``mixed`` rises linearly 0 -> 1 over the episodes."""
    if tier == "mixed":
        return episode / (episodes - 1) if episodes > 1 else 1.0
    from mfdiff_envs.policies import TIER_SKILL

    if family not in TIER_SKILL:
        raise KeyError(
            f"no behaviour-policy skills for family {family!r} (TIER_SKILL: {list(TIER_SKILL)})"
        )
    return float(TIER_SKILL[family][tier])


def episode_seeds(seed: int, episodes: int) -> np.ndarray:
    """[episodes, 2] independent (env seed, policy seed) pairs derived from ``seed``."""
    ss = np.random.SeedSequence(seed)
    return ss.generate_state(2 * episodes, dtype=np.uint32).reshape(episodes, 2).astype(np.int64)


def reference_scores(
    core: VectorCore,
    *,
    policy_factory: PolicyFactory | None = None,
    episodes: int = REF_EPISODES,
    seed: int = REF_SEED,
) -> tuple[float, float]:
    """(random, expert) mean episode returns: skill 0 and skill 1 over ``episodes`` rollouts."""
    factory = policy_factory or default_policy_factory()
    seeds = episode_seeds(seed, episodes)
    out = []
    for skill in (0.0, 1.0):
        rets = [
            rollout(core, factory(core, skill, int(ps)), seed=int(es), policy_seed=int(ps))
            .total_return
            for es, ps in seeds
        ]
        out.append(float(np.mean(rets)))
    return out[0], out[1]


def make_env(env_id: str, env_kwargs: dict[str, Any]) -> gym.Env:
    """``gym.make`` whose spec holds the core's plain-data kwargs (so Minari can store it)."""
    env = gym.make(env_id, **env_kwargs)
    plain = env.unwrapped.core.kwargs()
    if plain:
        env.close()
        env = gym.make(env_id, **plain)
    return env


def bytes_per_episode(T: int, n: int, d: int) -> int:
    """Raw hdf5 payload of one episode (obs, actions, per-agent rewards, alive, scalars)."""
    return (T + 1) * n * (4 * d + 4 + 1) + T * n * 8 + T * (8 + 1 + 1)


#: hdf5's own bytes per episode (its group, datasets and attributes), whatever N: measured
#: 20.3 kB on 200-episode Squeeze and Ising builds at N = 100, where it is 12 % of an episode.
EPISODE_OVERHEAD_BYTES = 20_300


def expected_size_mb(T: int, n: int, d: int, episodes: int) -> float:
    """Size on disk of ``episodes`` episodes of T steps, N stored agents and obs size d (the
    catalogue's ``expected_size_mb``): payload + 1 % hdf5 metadata + the per-episode overhead.
    An upper bound where episodes can end early (Battle)."""
    return episodes * (bytes_per_episode(T, n, d) * 1.01 + EPISODE_OVERHEAD_BYTES) / 1e6


# ----------------------------------------------------------------------------- atomic writes
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


BUILDER_LOCK = ".builder.lock"
"""A file in each staging directory its build holds an exclusive ``flock`` on while it runs."""


def _build_alive(d: Path) -> bool:
    """Whether the build staging into ``d`` still runs: its :data:`BUILDER_LOCK` is held (the
    kernel releases it with the process, so this holds across PID namespaces: containers sharing
    one Minari root saw each other's builds as dead by their PIDs and deleted them, an outside
    audit found); for a staging directory without one (a build before the fifty-first update),
    its PID on this machine."""
    lock = d / BUILDER_LOCK
    if fcntl is not None and lock.is_file():
        try:  # read-only: another user's build locks a file this process may not write
            fd = os.open(lock, os.O_RDONLY)
        except OSError:  # not even readable: not ours to judge, so not ours to delete
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held (BlockingIOError), or refused: alive
            return True
        finally:
            os.close(fd)  # releases the lock taken just now
        return False
    pid_str = d.name.split("-", 1)[0]
    return pid_str.isdigit() and _pid_alive(int(pid_str))


def clean_stale_staging(root: Path | None = None) -> list[Path]:
    """Remove staging directories of builds that no longer run; return what was removed."""
    root = Path(root) if root is not None else get_dataset_path()
    removed = []
    staging = root / STAGING_DIR
    if not staging.is_dir():
        return removed
    for d in staging.iterdir():
        if not _build_alive(d):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


@contextlib.contextmanager
def _minari_root(path: Path) -> Iterator[None]:
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(path)
    try:
        yield
    finally:
        if old is None:
            del os.environ["MINARI_DATASETS_PATH"]
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


def _ensure_namespace(namespace: str) -> None:
    existing = set(list_local_namespaces())
    if namespace not in existing:
        with contextlib.suppress(ValueError):  # created meanwhile by a concurrent build
            create_namespace(namespace, description="mfdiff mean-field MARL datasets")


def dataset_exists(dataset_id_: str) -> bool:
    """Whether a dataset of this id is built under ``MINARI_DATASETS_PATH`` (unchecked)."""
    return (get_dataset_path(dataset_id_) / "data").exists()


def _exists_message(ds_id: str, env_id: str, env_kwargs: dict[str, Any],
                    episodes: int | None = None) -> str:
    """Why a build refuses ``ds_id``: the id holds family, N, tier and version only, so a build
    with other env kwargs (e.g. ``max_cycles``) or another episode count lands on the same id;
    say what the stored one was built with, so that overwrite=True (--force) is not taken as
    the fix when another version is meant."""
    msg = f"dataset {ds_id} already exists at {get_dataset_path(ds_id)}"
    try:
        stored_ds = minari.load_dataset(ds_id)
        stored = dict(stored_ds.spec.env_spec.kwargs)
        stored_episodes = int(stored_ds.total_episodes)
        env = make_env(env_id, env_kwargs)
        asked = dict(env.spec.kwargs)
        env.close()
    except Exception:  # a damaged or foreign dataset: the plain message still holds
        return msg + "; overwrite=True (--force) replaces it"
    diff = sorted(k for k in stored.keys() | asked.keys() if stored.get(k) != asked.get(k))
    parts = [f"{k}={asked.get(k)!r} (stored: {stored.get(k)!r})" for k in diff]
    if episodes is not None and episodes != stored_episodes:
        parts.append(f"episodes={episodes} (stored: {stored_episodes})")
    if not parts:
        return msg + (f" (built with these env kwargs, {stored_episodes} episodes); "
                      "overwrite=True (--force) rebuilds it")
    return (f"{msg}, built otherwise: {', '.join(parts)}. overwrite=True (--force) would "
            "replace it; to keep both, build under another version (the id's -v<k>: "
            "version=... in build_dataset or in a catalogue entry)")


def write_episodes(
    path: Path, episodes: Iterable[tuple[int, dict[str, Any]]], *, rechunk: bool = True
) -> list[str]:
    """Write ``(env seed, episode arrays)`` pairs into a new hdf5 file in Minari's layout.

    The layout is the one ``MinariStorage.update_episodes`` (minari 0.5.4, hdf5 backend)
    writes: a group ``episode_<i>`` per episode with attributes ``id``, ``seed`` and
    ``total_steps``, a dataset per array (``observations``, ``actions``, ``rewards``,
    ``terminations``, ``truncations``) and a group ``infos`` with one dataset per info key;
    every dataset extendable along time (``maxshape[0] = None``). Writing it here rather than
    through Minari writes every byte once: Minari's writer uses ``chunks=True`` (h5py picks
    ~20 kB chunks, e.g. 13 x 125 x 3 for a (101, 1000, 11) observation array, ~3-5x slower
    whole-episode reads), which needed a second full read + write to rechunk.
    ``tests/test_offline_integrity.py::test_layout_matches_minari_writer`` checks the layout.

    Args:
        path: the hdf5 file (created; must not exist).
        episodes: ``(env_seed, episode)`` in episode order, ``episode`` as
            ``rollout(..., record=True).episode``.
        rechunk: one chunk per episode array (else h5py's automatic chunks, as Minari).

    Returns:
        the sha256 digest of each episode (:func:`~mfdiff_envs.offline.integrity.episode_digest`
        of the arrays exactly as written).
    """
    import h5py

    digests: list[str] = []

    def put(group: Any, tree: dict[str, Any], written: dict[str, Any]) -> None:
        for key, value in tree.items():
            if isinstance(value, dict):
                sub: dict[str, Any] = {}
                put(group.create_group(key), value, sub)
                written[key] = sub
            else:
                data = np.ascontiguousarray(value)
                group.create_dataset(
                    key,
                    data=data,
                    chunks=data.shape if rechunk and data.size else True,  # no 0-size chunks
                    maxshape=(None, *data.shape[1:]),
                )
                written[key] = data

    with h5py.File(path, "x", track_order=True) as f:
        for e, (env_seed, ep) in enumerate(episodes):
            group = f.create_group(f"episode_{e}")
            group.attrs["id"] = e
            group.attrs["seed"] = int(env_seed)
            group.attrs["total_steps"] = len(ep["rewards"])
            written: dict[str, Any] = {}
            put(group, ep, written)
            digests.append(episode_digest(written))
    return digests


# ----------------------------------------------------------------------------- data card
def data_card(meta: dict[str, Any]) -> str:
    """Markdown data card from the ``mfdiff`` metadata block of a dataset."""
    m = meta
    lines = [
        f"**{m['dataset_id']}** — {m['family']} (`{m['env_id']}`), N = {m['n_agents']} "
        f"({m['n_controlled']} controlled agents, obs dim {m['obs_dim']}, "
        f"{m['n_actions']} actions), "
        f"tier `{m['tier']}` (skill {m['skill']}).",
        "",
        "| episodes | steps | return mean ± std | normalized (×100) | size on disk |",
        "|---|---|---|---|---|",
        f"| {m['episodes']} | {m['steps']} | {m['return_mean']:.4g} ± {m['return_std']:.3g} "
        f"| {m['normalized_mean']:.1f} | {m['size_mb']:.1f} MB |",
        "",
        f"Reference returns: random {m['ref_min_score']:.4g}, expert {m['ref_max_score']:.4g} "
        f"({m['ref_episodes']} rollouts each, seed {REF_SEED}). Built with seed {m['seed']}, "
        f"env kwargs `{m['env_kwargs']}`. Arrays: observations (T+1, N, d) float32, "
        "actions (T, N) int64, rewards (T,) team reward (mean per-agent reward), "
        "infos['rewards'] (T+1, N) per-agent rewards (row 0 zeros), infos['alive'] (T+1, N).",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- rollout workers
@dataclass(frozen=True)
class _Plan:
    """What the rollouts of one build share (picklable when the factories are)."""

    ds_id: str
    family: str
    tier: str
    env_id: str
    env_kwargs: dict[str, Any]  # the made env's spec kwargs (plain data)
    episodes: int
    seeds: np.ndarray  # [episodes, 2] (env seed, policy seed)
    factory: PolicyFactory
    skill_fn: Callable[[str, str, int, int], float]


def _rollout_episode(plan: _Plan, core: VectorCore, e: int) -> dict[str, Any]:
    """Episode ``e``: its seeds and skill depend only on ``e``, never on who rolls it out."""
    env_seed, pol_seed = int(plan.seeds[e, 0]), int(plan.seeds[e, 1])
    policy = plan.factory(core, plan.skill_fn(plan.family, plan.tier, e, plan.episodes), pol_seed)
    ep = rollout(core, policy, seed=env_seed, policy_seed=pol_seed, record=True).episode
    nonfinite = nonfinite_rows(ep)
    where = f"NaN/inf in {nonfinite}" if nonfinite else outside_spaces(ep, core)
    if where is not None:  # never write data a learner would silently train on
        raise ValueError(
            f"{plan.ds_id}: episode {e} (env seed {env_seed}) has {where}; nothing was written"
        )
    return ep


def outside_spaces(ep: dict[str, Any], core: VectorCore) -> str | None:
    """None if every observation lies in the env's observation bounds and every action in
    [0, n_actions), else where not. Minari checks this only in its DataCollector; the builder
    writes the file itself, so it checks here (one vectorised pass per episode)."""
    lo, hi = core.obs_bounds()
    obs, act = np.asarray(ep["observations"]), np.asarray(ep["actions"])  # [T+1, N, d], [T, N]
    bad_obs = ((obs < lo) | (obs > hi)).any(axis=(1, 2))
    bad_act = ((act < 0) | (act >= core.n_actions)).any(axis=1)
    parts = [f"{name} outside their space at rows {np.flatnonzero(rows)[:10].tolist()}"
             for name, rows in (("observations", bad_obs), ("actions", bad_act)) if rows.any()]
    return "; ".join(parts) if parts else None


#: Episodes a rollout worker may have finished and not yet handed over (bounds spool disk).
WORKER_AHEAD = 2


def _worker_main(
    plan: _Plan,
    worker: int,
    workers: int,
    parent: int,
    pipes: list[tuple[Any, Any]],
    slots: list[Any],
    spool: Path,
) -> None:
    """Worker process: roll out episodes ``worker, worker + workers, ...``; write each one's
    arrays to ``spool/episode-<e>.npy`` and send ``("ep", e, (path, keys))`` in order, or
    ``("error", -1, traceback)`` if anything fails."""
    import traceback

    # keep only our own write end: a forked worker inherits every pipe, and a read end held
    # here would hide the death of the build from the other workers
    for i, (recv, send) in enumerate(pipes):
        recv.close()
        if i != worker:
            send.close()
    conn = pipes[worker][1]
    try:
        core: VectorCore = make_env(plan.env_id, plan.env_kwargs).unwrapped.core
        for e in range(worker, plan.episodes, workers):
            while not slots[worker].acquire(timeout=1.0):  # the writer is WORKER_AHEAD behind
                if os.getppid() != parent:  # the build was killed: stop
                    return
            flat = list(flatten_arrays(_rollout_episode(plan, core, e)))
            path = spool / f"episode-{e}.npy"
            with open(path, "wb") as f:  # one write from the arrays' memory, no pickling
                for _, array in flat:
                    np.save(f, np.ascontiguousarray(array), allow_pickle=False)
            conn.send(("ep", e, (str(path), [key for key, _ in flat])))
    except BrokenPipeError:  # the parent is gone (killed or failed): nothing to report to
        return
    except BaseException:  # noqa: BLE001  (reported to the parent, which raises)
        conn.send(("error", -1, traceback.format_exc()))
    finally:
        conn.close()


def _read_spooled(path: str, keys: list[str]) -> dict[str, Any]:
    """The episode a worker spooled, nested again (``infos/alive`` -> ``["infos"]["alive"]``)."""
    ep: dict[str, Any] = {}
    with open(path, "rb") as f:
        for key in keys:
            *parents, leaf = key.split("/")
            node = ep
            for name in parents:
                node = node.setdefault(name, {})
            node[leaf] = np.load(f, allow_pickle=False)
    os.unlink(path)
    return ep


def _episode_stream(
    plan: _Plan, core: VectorCore, workers: int, spool: Path
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(env seed, episode arrays)`` for episodes 0 .. E-1 in order.

    ``workers == 1``: rolled out here. Else episode ``e`` is rolled out by worker process
    ``e % workers`` (round robin, so the writer waits on the oldest episode). A worker hands an
    episode over as one ``.npy`` stream in ``spool`` (page cache, deleted once read) plus a short
    pipe message: pickling whole episodes through the pipe cost more CPU than the rollouts of
    a cheap env (Squeeze N = 1000, 150 MB: +0.8 CPU-s over one process). A semaphore keeps
    each worker at most :data:`WORKER_AHEAD` episodes ahead of the writer, so the spool holds a
    few episodes whatever the dataset size.
    """
    if workers == 1:
        for e in range(plan.episodes):
            yield int(plan.seeds[e, 0]), _rollout_episode(plan, core, e)
        return

    import multiprocessing as mp

    # fork: workers inherit the imported modules and the factories (no pickling, no re-import);
    # spawn where fork does not exist (the factories must then be picklable)
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    spool.mkdir(parents=True, exist_ok=True)
    procs: list[Any] = []
    pipes = [ctx.Pipe(duplex=False) for _ in range(workers)]
    conns = [recv for recv, _ in pipes]
    slots = [ctx.Semaphore(WORKER_AHEAD) for _ in range(workers)]
    try:
        for w in range(workers):
            proc = ctx.Process(
                target=_worker_main,
                args=(plan, w, workers, os.getpid(), pipes, slots, spool),
                name=f"mfdiff-rollout-{w}",
                daemon=True,
            )
            proc.start()
            procs.append(proc)
        for _, send in pipes:
            send.close()  # each worker holds the only write end of its pipe: EOF when it exits
        for e in range(plan.episodes):
            w = e % workers
            what = f"{plan.ds_id}: rollout worker {w} (episode {e})"
            try:
                kind, got, payload = conns[w].recv()
            except EOFError as err:
                procs[w].join(timeout=5)
                raise RuntimeError(
                    f"{what} exited (code {procs[w].exitcode}) without sending it"
                ) from err
            if kind == "error":
                raise RuntimeError(f"{what} failed:\n{payload}")
            if got != e:  # a protocol bug would silently reorder episodes: refuse
                raise RuntimeError(f"{what} sent episode {got}")
            ep = _read_spooled(*payload)
            slots[w].release()
            yield int(plan.seeds[e, 0]), ep
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join()
        for conn in conns:
            conn.close()


# ----------------------------------------------------------------------------- build
def build_dataset(
    family: str,
    *,
    n_agents: int,
    tier: str,
    episodes: int,
    env_id: str | None = None,
    env_kwargs: dict[str, Any] | None = None,
    seed: int = 0,
    version: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    policy_factory: PolicyFactory | None = None,
    skill_of_tier: Callable[[str, str, int, int], float] | None = None,
    ref_scores: tuple[float, float] | None = None,
    ref_episodes: int = REF_EPISODES,
    repack: bool = True,
    workers: int = 1,
) -> minari.MinariDataset:
    """Roll out ``episodes`` episodes of the ``tier`` behaviour policy and store them atomically.

    Args:
        family: ``squeeze``, ``ising`` or ``battle`` (names the id ``mfdiff/<family>-n<N>/...``).
        n_agents: the env's ``n_agents`` kwarg (Battle: both teams; the stored N is the core's).
        tier: ``expert``, ``medium``, ``random`` or ``mixed``.
        episodes: number of episodes (>= 1).
        env_id: registered id; default from :data:`~mfdiff_envs.offline.catalogue.FAMILY_ENV`.
        env_kwargs: other plain-data env kwargs (e.g. ``max_cycles``). Keys left out take
            the catalogue's values for the family on that env (``datasets/<family>.toml``'s
            ``[env_kwargs]``: Battle ``max_cycles=200``, ``opponent="expert"``), so a dataset at
            another N is built as the catalogue's are; the env's own defaults where no
            catalogue is found.
        seed: base seed (env resets and policies; episodes get independent derived seeds).
        version: the ``-v<k>`` of the id.
        overwrite: replace an existing dataset (else :class:`DatasetExistsError`).
        progress: show a tqdm bar over episodes.
        policy_factory: ``(core, skill, seed) -> policy``; default
            :func:`mfdiff_envs.policies.make_behaviour_policy`.
        skill_of_tier: ``(family, tier, episode, episodes) -> skill``; default :func:`tier_skill`.
        ref_scores: (random, expert) reference returns; measured with the policies if None.
        ref_episodes: rollouts per reference policy (seed :data:`REF_SEED`); with
            ``ref_scores`` given, the number of rollouts behind them. Stored as Minari's
            ``num_episodes_average_score``.
        repack: store one chunk per episode array (:func:`write_episodes`; ~3x faster loads);
            False uses h5py's automatic small chunks, as Minari does.
        workers: roll out episodes in this many processes (at most ``episodes``; episode
            ``e`` in worker ``e % workers``), written in order by this process. Every episode
            keeps the seeds and skill of its index, so the file and the metadata do not depend
            on ``workers`` (only ``build_seconds`` does).

    Returns:
        the loaded :class:`minari.MinariDataset` at its final id.

    Raises:
        DatasetExistsError: the id is built and ``overwrite`` is False.
        ValueError: a bad tier, episode or worker count, or a rollout produced NaN/inf.
    """
    from mfdiff_envs.offline.catalogue import FAMILY_ENV, family_env_kwargs

    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; tiers: {list(TIERS)}")
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if not env_id and family not in FAMILY_ENV:  # None, or "" from a recipe without env_id
        raise ValueError(f"unknown family {family!r}; known: {sorted(FAMILY_ENV)} "
                         "(or give env_id: a family of your own has no default env id unless "
                         "mfdiff_envs.offline.catalogue.FAMILY_ENV names one)")
    env_id = env_id or FAMILY_ENV[family]
    # the catalogue's env kwargs for this family and env (Battle: max_cycles = 200, the env's
    # default 300) under the caller's: the id is the catalogue's namespace, and a dataset at
    # another N built from here ran 300 steps where every catalogue Battle dataset runs 200,
    # with nothing said until `data list` (an outside audit)
    env_kwargs = {**family_env_kwargs(family, env_id), **(env_kwargs or {})}
    # the id is formed from n_agents: a bool or a float named another dataset (True as n1,
    # "already exists" where the env refuses it: an outside audit)
    check_positive_int("n_agents", n_agents)
    given_n = (env_kwargs or {}).get("n_agents", n_agents)
    if given_n != n_agents:  # the id names n_agents; a second value would be silently dropped
        raise ValueError(f"env_kwargs n_agents={given_n!r} contradicts n_agents={n_agents}")
    ds_id = dataset_id(family, n_agents, tier, version)
    parse_id(ds_id)
    root = get_dataset_path()
    clean_stale_staging(root)
    if dataset_exists(ds_id) and not overwrite:
        raise DatasetExistsError(_exists_message(ds_id, env_id, {**(env_kwargs or {}),
                                                                 "n_agents": n_agents},
                                                 episodes))

    factory = policy_factory or default_policy_factory()
    skill_fn = skill_of_tier or tier_skill
    env = make_env(env_id, {**(env_kwargs or {}), "n_agents": n_agents})
    core: VectorCore = env.unwrapped.core
    if SAME_FAMILY.get(core.family, core.family) != family:
        env.close()  # the id, the data card and every family config would name the wrong game
        default = (f"leave env_id out (default {FAMILY_ENV[family]!r})" if family in FAMILY_ENV
                   else f"give an env id of the {family!r} family")
        raise ValueError(f"env_id {env_id!r} is the {core.family!r} family, not {family!r}; "
                         f"{default} or pass its family")
    if ref_scores is None:
        ref_scores = reference_scores(core, policy_factory=factory, episodes=ref_episodes)
    ref_min, ref_max = ref_scores
    if not ref_max > ref_min:
        warnings.warn(
            f"{ds_id}: expert reference return {ref_max} <= random {ref_min}", MfdiffWarning,
            stacklevel=2
        )

    plan = _Plan(
        ds_id=ds_id,
        family=family,
        tier=tier,
        env_id=env_id,
        env_kwargs=dict(env.spec.kwargs),
        episodes=episodes,
        seeds=episode_seeds(seed, episodes),
        factory=factory,
        skill_fn=skill_fn,
    )
    returns: list[float] = []
    lengths: list[int] = []

    def counted(stream: Iterator[tuple[int, dict[str, Any]]]) -> Iterator[Any]:
        bar = None
        try:
            for item in stream:
                # the bar starts after the workers are forked, and runs no monitor thread: a
                # fork copies the locks of live threads in whatever state they are, and tqdm's
                # monitor outlived its bar into the next build's fork (Python 3.12 warns)
                if progress and bar is None:
                    bar = _quiet_bar()(total=episodes, desc=ds_id, unit="ep")
                returns.append(float(item[1]["rewards"].sum()))
                lengths.append(len(item[1]["rewards"]))
                yield item
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()

    stage = root / STAGING_DIR / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    stage.mkdir(parents=True)
    alive = open(stage / BUILDER_LOCK, "a")  # held until the stage is gone (_build_alive)
    if fcntl is not None:
        fcntl.flock(alive, fcntl.LOCK_EX)
    t_start = time.perf_counter()
    try:
        with _minari_root(stage):
            # Minari writes the metadata (spaces, env specs, scores, ...) of an empty dataset;
            # the episodes follow in one pass (write_episodes)
            ds = minari.create_dataset_from_buffers(
                dataset_id=ds_id,
                buffer=[],
                env=env.spec,
                eval_env=env.spec,
                algorithm_name=f"mfdiff behaviour policy, tier {tier}",
                author=AUTHOR,
                author_email=AUTHOR_CONTACT,
                code_permalink=CODE_PERMALINK,
                ref_min_score=ref_min,
                ref_max_score=ref_max,
                num_episodes_average_score=int(ref_episodes),
                requirements=list(REQUIREMENTS),
                description=f"mfdiff {family} N={n_agents} {tier} (building)",
                jpeg_encoding=False,
            )
        h5 = ds.storage.data_path / HDF5_FILE
        h5.unlink()  # Minari's empty file; written anew below
        # closing: a failed write stops the rollout workers now, not when garbage is collected
        episodes_in_order = _episode_stream(plan, core, min(workers, episodes), stage / "spool")
        with contextlib.closing(counted(episodes_in_order)) as st:
            digests = write_episodes(h5, st, rechunk=repack)
        steps = int(sum(lengths))
        rets = np.asarray(returns)
        # nan, not an error: a few-step env (or Battle at N = 2, where the expert stands off)
        # can leave the expert no better than random, a scale undefined or reversed; the card
        # says so
        norm_mean = (float(np.mean(normalized_score(rets, ref_min, ref_max)))
                     if ref_max > ref_min else math.nan)
        meta = {
            "dataset_id": ds_id,
            "family": family,
            "env_id": env_id,
            "env_kwargs": env.spec.kwargs,
            "n_agents": int(n_agents),
            "n_controlled": int(core.n_agents),
            "obs_dim": int(core.obs_dim),
            "n_actions": int(core.n_actions),
            "tier": tier,
            "skill": "0 -> 1 (linear)" if tier == "mixed" else skill_fn(family, tier, 0, episodes),
            # a rebuild request is only "already built" for data of the catalogue's behaviour
            "behaviour": "default" if policy_factory is None and skill_of_tier is None
            else "custom",
            "seed": int(seed),
            "episodes": int(episodes),
            "steps": steps,
            "return_mean": float(rets.mean()),
            "return_std": float(rets.std()),
            "normalized_mean": norm_mean,
            "ref_min_score": ref_min,
            "ref_max_score": ref_max,
            "ref_episodes": int(ref_episodes),
            "size_mb": 0.0,  # set below, once every other field is written
            "build_seconds": time.perf_counter() - t_start,
            "integrity": integrity_block(digests, h5.stat().st_size),
        }
        update = {"total_episodes": int(episodes), "total_steps": steps, "mfdiff": meta}
        ds.storage.update_metadata(update)
        # the digest of the metadata as written (raw JSON, as every reader parses it); the
        # fields written below are outside it (integrity.UNHASHED_*)
        meta["integrity"]["metadata"] = metadata_digest(
            MinariStorage.read_raw_metadata(ds.storage.data_path)
        )
        # the size on disk includes metadata.json, so measure after writing everything else;
        # writing the size changes the file by a few bytes, far below the 0.1 MB rounding
        meta["size_mb"] = round(ds.storage.get_size(), 1)
        ds.storage.update_metadata(
            {"mfdiff": meta, "description": data_card(meta), "dataset_size": meta["size_mb"]}
        )
        # ---- publish: namespace in the real root, then one rename
        namespace = ds_id.rsplit("/", 1)[0]
        _ensure_namespace(namespace)
        final = get_dataset_path(ds_id)
        if final.exists():
            if not overwrite:
                raise DatasetExistsError(f"dataset {ds_id} appeared during the build (another "
                                         "process built it); overwrite=True (--force) "
                                         "replaces it")
            os.rename(final, stage / "old")  # removed with the stage below
        os.rename(stage / ds_id, final)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        alive.close()
        env.close()
    return minari.load_dataset(ds_id)


def _quiet_bar() -> type:
    """tqdm's bar class without its monitor thread (``monitor_interval = 0``, on a subclass of
    our own: a user's tqdm keeps its setting)."""
    from tqdm.auto import tqdm

    class Bar(tqdm):  # type: ignore[misc,valid-type]
        monitor_interval = 0

    return Bar


def build_recipe(
    recipe: Recipe, *, overwrite: bool = False, progress: bool = True, **kw: Any
) -> minari.MinariDataset:
    """:func:`build_dataset` for a catalogue :class:`~mfdiff_envs.offline.catalogue.Recipe`."""
    kwargs = {k: v for k, v in recipe.env_kwargs.items() if k != "n_agents"}
    return build_dataset(
        recipe.family,
        n_agents=recipe.n_agents,
        tier=recipe.tier,
        episodes=recipe.episodes,
        env_id=recipe.env_id,
        env_kwargs=kwargs,
        seed=recipe.seed,
        version=recipe.version,
        overwrite=overwrite,
        progress=progress,
        **kw,
    )
