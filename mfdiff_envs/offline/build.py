"""Build Minari datasets from behaviour-policy rollouts on the vectorised core.

Each episode is rolled out on ``env.unwrapped.core`` (never the per-agent dicts) and stored
through the gymnasium joint view's spaces (obs ``Box(N, d)``, actions ``Box int (N,)``):

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

Layout on disk: Minari's hdf5 format (``jpeg_encoding=False``). Episodes are rolled out in
contiguous blocks ("shards", ``workers`` processes, one by default), each written by
``minari.create_dataset_from_buffers`` from a stream of ``EpisodeBuffer`` (one episode in memory
at a time); :func:`merge_hdf5` then copies the shards in order into one file with one chunk per
episode array (~5x faster loads) and hashes every episode as it passes. Episode ``e`` always
uses ``episode_seeds(seed, episodes)[e]``, so the result is the same for any ``workers``.

Metadata: Minari's fields (``author``, ``author_email`` = the issue tracker as contact,
``code_permalink``, ``requirements = ["mfdiff"]``, reference scores with
``num_episodes_average_score`` = the rollouts behind them, ``dataset_size`` = MB on disk after
the merge) and an ``mfdiff`` block (the data card's numbers and the ``integrity`` digests,
:mod:`mfdiff_envs.offline.integrity`).

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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import minari
import numpy as np
from minari.data_collector.episode_buffer import EpisodeBuffer
from minari.namespace import create_namespace, list_local_namespaces
from minari.storage import get_dataset_path

import mfdiff_envs  # noqa: F401  (registers the env ids)
from mfdiff_envs.core import VectorCore
from mfdiff_envs.offline.catalogue import TIERS, Recipe, dataset_id, parse_id
from mfdiff_envs.offline.integrity import (
    HDF5_FILE,
    episode_digest,
    integrity_block,
    nonfinite_rows,
)
from mfdiff_envs.rollout import BatchActor, rollout

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


# ----------------------------------------------------------------------------- atomic writes
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_staging(root: Path | None = None) -> list[Path]:
    """Remove staging directories of builds whose process is gone; return what was removed."""
    root = Path(root) if root is not None else get_dataset_path()
    removed = []
    staging = root / STAGING_DIR
    if not staging.is_dir():
        return removed
    for d in staging.iterdir():
        pid_str = d.name.split("-", 1)[0]
        if not pid_str.isdigit() or not _pid_alive(int(pid_str)):
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
    return (get_dataset_path(dataset_id_) / "data").exists()


def merge_hdf5(sources: Sequence[Path], dest: Path, *, rechunk: bool = True) -> list[str]:
    """Copy the episodes of Minari hdf5 files into one new file ``dest``; return their digests.

    Episodes are renumbered ``episode_0 .. episode_{E-1}`` in source order (then episode order
    inside each source) and their ``id`` attribute follows; every other group, attribute and
    array is copied as it is. Each episode's arrays are hashed as they pass through
    (:func:`~mfdiff_envs.offline.integrity.episode_digest`), so the digests describe exactly
    what was written.

    ``rechunk=True`` stores one chunk per episode array: Minari 0.5.4 creates every dataset
    with ``chunks=True`` and h5py picks ~20 kB chunks (e.g. 13 x 125 x 3 for a (101, 1000, 11)
    observation array), which makes whole-episode reads ~3-5x slower. Datasets stay extendable
    along time (``maxshape[0] = None``), so Minari can still append to the file.
    """
    import h5py

    digests: list[str] = []

    def copy(
        src: Any, dst: Any, arrays: dict[str, np.ndarray], prefix: str, attrs: Any = None
    ) -> None:
        dst.attrs.update(dict(src.attrs) if attrs is None else attrs)
        for key, item in src.items():
            if isinstance(item, h5py.Group):
                copy(item, dst.create_group(key, track_order=True), arrays, f"{prefix}{key}/")
            elif item.ndim == 0 or item.size == 0 or item.dtype.kind in "OSUV":
                src.copy(item, dst, name=key)  # scalars, empties and strings: as they are
                arrays[f"{prefix}{key}"] = item[()]
            else:
                data = item[()]
                arrays[f"{prefix}{key}"] = data
                dst.create_dataset(
                    key,
                    data=data,
                    chunks=data.shape if rechunk else True,
                    maxshape=(None, *data.shape[1:]),
                )

    with h5py.File(dest, "w", track_order=True) as dst:
        for path in sources:
            with h5py.File(path, "r") as src:
                if not digests:
                    dst.attrs.update(dict(src.attrs))
                names = [k for k in src if k.startswith("episode_")]
                order = sorted(names, key=lambda k: int(k.split("_", 1)[1]))
                for name in order:
                    e = len(digests)
                    group = dst.create_group(f"episode_{e}", track_order=True)
                    arrays: dict[str, np.ndarray] = {}
                    attrs = dict(src[name].attrs)
                    if "id" in attrs:  # renumbered: each shard counts its episodes from 0
                        attrs["id"] = np.int64(e)
                    copy(src[name], group, arrays, "", attrs)
                    digests.append(episode_digest(arrays))
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
        "| episodes | steps | return mean ± std | normalised (×100) | size on disk |",
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


# ----------------------------------------------------------------------------- shards
@dataclass(frozen=True)
class _Plan:
    """What every shard of one build shares (picklable when the factories are)."""

    ds_id: str
    family: str
    tier: str
    env_id: str
    env_kwargs: dict[str, Any]  # the made env's spec kwargs (plain data)
    episodes: int
    seeds: np.ndarray  # [episodes, 2] (env seed, policy seed)
    factory: PolicyFactory
    skill_fn: Callable[[str, str, int, int], float]
    minari_kwargs: dict[str, Any]  # metadata passed to create_dataset_from_buffers


@dataclass(frozen=True)
class _Shard:
    """Episodes ``lo .. hi-1`` of a build, written as a Minari dataset under ``root``."""

    root: Path
    lo: int
    hi: int


def _write_shard(
    plan: _Plan, shard: _Shard, on_episode: Callable[[], None], env: gym.Env | None = None
) -> tuple[list[float], int]:
    """Roll out the shard's episodes and write them with Minari; return (returns, steps).

    Episode ``e`` uses ``plan.seeds[e]`` and ``skill_fn(family, tier, e, episodes)`` with its
    global index, so the episodes do not depend on how the build is sharded.
    """
    env = env if env is not None else make_env(plan.env_id, plan.env_kwargs)
    core: VectorCore = env.unwrapped.core
    returns: list[float] = []
    steps = [0]

    def buffers() -> Iterator[EpisodeBuffer]:
        for e in range(shard.lo, shard.hi):
            env_seed, pol_seed = int(plan.seeds[e, 0]), int(plan.seeds[e, 1])
            policy = plan.factory(
                core, plan.skill_fn(plan.family, plan.tier, e, plan.episodes), pol_seed
            )
            ep = rollout(core, policy, seed=env_seed, policy_seed=pol_seed, record=True).episode
            where = nonfinite_rows(ep)
            if where is not None:  # never write data a learner would silently train on
                raise ValueError(
                    f"{plan.ds_id}: episode {e} (env seed {env_seed}) has NaN/inf in {where}; "
                    "nothing was written"
                )
            returns.append(float(ep["rewards"].sum()))
            steps[0] += len(ep["rewards"])
            yield EpisodeBuffer(id=e - shard.lo, seed=env_seed, **ep)
            on_episode()

    with _minari_root(shard.root):
        minari.create_dataset_from_buffers(
            dataset_id=plan.ds_id,
            buffer=buffers(),  # streamed: one episode in memory at a time
            env=env.spec,
            eval_env=env.spec,
            jpeg_encoding=False,
            **plan.minari_kwargs,
        )
    return returns, steps[0]


def _shard_main(plan: _Plan, shard: _Shard, counter: Any, parent: int, conn: Any) -> None:
    """Worker process: write one shard, send ("ok", result) or ("error", traceback)."""
    import traceback

    def on_episode() -> None:
        with counter.get_lock():
            counter.value += 1
        if os.getppid() != parent:  # the build was killed: stop instead of writing on
            os._exit(1)

    try:
        conn.send(("ok", _write_shard(plan, shard, on_episode)))
    except BaseException:  # noqa: BLE001  (reported to the parent, which raises)
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _run_shards(
    plan: _Plan, shards: list[_Shard], env: gym.Env, progress: bool
) -> list[tuple[list[float], int]]:
    """Write every shard: in this process for one shard, else one worker process per shard."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=plan.episodes, desc=plan.ds_id, unit="ep")
    try:
        if len(shards) == 1:
            return [_write_shard(plan, shards[0], bar.update if bar else lambda: None, env)]
        return _run_worker_processes(plan, shards, bar)
    finally:
        if bar is not None:
            bar.close()


def _run_worker_processes(plan: _Plan, shards: list[_Shard], bar: Any) -> list[Any]:
    import multiprocessing as mp
    from multiprocessing.connection import wait

    # fork: workers inherit the imported modules and the factories (no pickling, no re-import);
    # spawn where fork does not exist (the factories must then be picklable)
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    counter = ctx.Value("q", 0)
    procs, conns = [], []
    results: list[Any] = [None] * len(shards)
    try:
        for shard in shards:
            recv, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(
                target=_shard_main,
                args=(plan, shard, counter, os.getpid(), send),
                name=f"mfdiff-shard-{shard.lo}",
                daemon=True,
            )
            proc.start()
            send.close()
            procs.append(proc)
            conns.append(recv)
        pending = set(range(len(shards)))
        while pending:
            wait([conns[i] for i in pending] + [procs[i].sentinel for i in pending], timeout=0.25)
            for i in sorted(pending):
                shard = shards[i]
                what = f"{plan.ds_id}: worker for episodes {shard.lo}..{shard.hi - 1}"
                if conns[i].poll():
                    try:
                        status, payload = conns[i].recv()
                    except EOFError:
                        status, payload = "error", "it closed its pipe without a result"
                    if status != "ok":
                        raise RuntimeError(f"{what} failed:\n{payload}")
                    results[i] = payload
                    pending.discard(i)
                elif not procs[i].is_alive():
                    raise RuntimeError(f"{what} died (exit code {procs[i].exitcode})")
            if bar is not None:
                bar.update(counter.value - bar.n)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join()
    return results


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
        env_kwargs: other plain-data env kwargs (e.g. ``max_cycles``).
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
        repack: store one chunk per episode array (:func:`merge_hdf5`; ~3x faster loads);
            False keeps Minari's small chunks.
        workers: roll out and write contiguous blocks of episodes in this many processes
            (at most ``episodes``), merged in order into one file. Every episode keeps the
            seeds and skill of its global index, so the arrays and metadata do not depend on
            ``workers`` (only ``build_seconds`` does).

    Returns:
        the loaded :class:`minari.MinariDataset` at its final id.

    Raises:
        DatasetExistsError: the id is built and ``overwrite`` is False.
        ValueError: a bad tier, episode or worker count, or a rollout produced NaN/inf.
    """
    from mfdiff_envs.offline.catalogue import FAMILY_ENV

    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; tiers: {list(TIERS)}")
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    env_id = env_id or FAMILY_ENV[family]
    ds_id = dataset_id(family, n_agents, tier, version)
    parse_id(ds_id)
    root = get_dataset_path()
    clean_stale_staging(root)
    if dataset_exists(ds_id) and not overwrite:
        raise DatasetExistsError(
            f"dataset {ds_id} already exists at {get_dataset_path(ds_id)}; "
            "use --force / overwrite=True"
        )

    factory = policy_factory or default_policy_factory()
    skill_fn = skill_of_tier or tier_skill
    env = make_env(env_id, {**(env_kwargs or {}), "n_agents": n_agents})
    core: VectorCore = env.unwrapped.core
    if ref_scores is None:
        ref_scores = reference_scores(core, policy_factory=factory, episodes=ref_episodes)
    ref_min, ref_max = ref_scores
    if not ref_max > ref_min:
        warnings.warn(
            f"{ds_id}: expert reference return {ref_max} <= random {ref_min}", stacklevel=2
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
        minari_kwargs={
            "algorithm_name": f"mfdiff behaviour policy, tier {tier}",
            "author": AUTHOR,
            "author_email": AUTHOR_CONTACT,
            "code_permalink": CODE_PERMALINK,
            "ref_min_score": ref_min,
            "ref_max_score": ref_max,
            "num_episodes_average_score": int(ref_episodes),
            "requirements": list(REQUIREMENTS),
            "description": f"mfdiff {family} N={n_agents} {tier} (building)",
        },
    )
    stage = root / STAGING_DIR / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    stage.mkdir(parents=True)
    blocks = np.array_split(np.arange(episodes), min(workers, episodes))
    shards = [
        _Shard(stage / f"shard-{i}", int(b[0]), int(b[-1]) + 1) for i, b in enumerate(blocks)
    ]
    t_start = time.perf_counter()
    try:
        results = _run_shards(plan, shards, env, progress)
        returns = [r for rets, _ in results for r in rets]
        steps = sum(n for _, n in results)
        # ---- one file: shard 0's dataset (metadata, spaces, env specs) gets every episode
        data = shards[0].root / ds_id / "data"
        merged = data / (HDF5_FILE + ".merge")
        digests = merge_hdf5(
            [s.root / ds_id / "data" / HDF5_FILE for s in shards], merged, rechunk=repack
        )
        for s in shards[1:]:
            shutil.rmtree(s.root)
        os.replace(merged, data / HDF5_FILE)
        with _minari_root(shards[0].root):
            ds = minari.load_dataset(ds_id)
        rets = np.asarray(returns)
        norm = (rets - ref_min) / (ref_max - ref_min) if ref_max != ref_min else rets * math.nan
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
            "seed": int(seed),
            "episodes": int(episodes),
            "steps": int(steps),
            "return_mean": float(rets.mean()),
            "return_std": float(rets.std()),
            "normalized_mean": float(100 * np.mean(norm)),
            "ref_min_score": ref_min,
            "ref_max_score": ref_max,
            "ref_episodes": int(ref_episodes),
            "size_mb": 0.0,  # set below, once every other field is written
            "build_seconds": time.perf_counter() - t_start,
            "integrity": integrity_block(digests, (data / HDF5_FILE).stat().st_size),
        }
        update = {"total_episodes": int(episodes), "total_steps": int(steps), "mfdiff": meta}
        ds.storage.update_metadata(update)
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
                raise DatasetExistsError(f"dataset {ds_id} appeared during the build; use --force")
            os.rename(final, stage / "old")  # removed with the stage below
        os.rename(shards[0].root / ds_id, final)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        env.close()
    return minari.load_dataset(ds_id)


def build_recipe(recipe: Recipe, *, overwrite: bool = False, progress: bool = True, **kw: Any):
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
