"""Read mfdiff Minari datasets into numpy episodes, checked against their build records.

    from mfdiff_envs.offline import load_episodes
    eps = load_episodes("mfdiff/squeeze-n1000/expert-v0")  # eps[0].observations [T+1, N, d]

:func:`open_dataset` finds and opens a dataset (a clear error naming the build command when it
is missing), :func:`load_episodes` reads every episode, checking each against the content hash
recorded at build (:mod:`.integrity`), and :func:`verify_dataset` runs the full check without
keeping the arrays. Training windows are sampled from these episodes by :mod:`.windows`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mfdiff_envs.core import MfdiffWarning
from mfdiff_envs.offline.integrity import (
    HDF5_FILE,
    DatasetError,
    check_loaded_episode,
    metadata_problem,
    quick_check,
    read_metadata,
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
        """T, the episode's steps (actions taken)."""
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

    def __iter__(self) -> Iterator[Episode]:
        return iter(self.episodes)

    def __getitem__(self, i: int) -> Episode:
        return self.episodes[i]


def _build_hint(dataset_id: str) -> str:
    """How to get a missing dataset: build it when the catalogue has a recipe for it, else the
    Python call or the nearest catalogue or built id (a misspelt one)."""
    from minari.storage import get_dataset_path

    from mfdiff_envs.offline.catalogue import load_catalogue, off_catalogue_hint

    try:
        recipes = load_catalogue()
    except Exception:  # a broken catalogue must not hide the missing-dataset error
        recipes = []
    if any(r.dataset_id == dataset_id for r in recipes):
        return f"build it with `mfdiff data build {dataset_id}`"
    root = get_dataset_path()
    built = [p.parent.relative_to(root).as_posix() for p in root.glob("mfdiff/*/*/data")]
    return ("it is not in the dataset catalogue either (`mfdiff data list` shows the ids "
            f"`mfdiff data build` can make){off_catalogue_hint(dataset_id, recipes, built)}")


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
            warnings.warn(f"dataset {ds_id}: {unhashed_reason(meta, ds_id)}", MfdiffWarning,
                          stacklevel=2)
        elif len(recorded) != n_eps:
            raise DatasetError(
                f"dataset {ds_id}: metadata lists {n_eps} episodes but {len(recorded)} hashes"
            )
        else:  # a truncated file: say so before h5py fails somewhere inside it
            h5 = ds.storage.data_path / HDF5_FILE
            size, written = h5.stat().st_size, integrity.get("hdf5_bytes", h5.stat().st_size)
            if size != written:
                from mfdiff_envs.offline.catalogue import rebuild_hint

                raise DatasetError(
                    f"dataset {ds_id}: {HDF5_FILE} has {size} bytes but {written} were written "
                    f"(truncated or altered); rebuild with {rebuild_hint(ds_id, meta['mfdiff'])}"
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


def verify_dataset(dataset_id: str) -> str | None:
    """Full check: ``None`` if the dataset is whole, else one line saying what is wrong.

    Runs :func:`quick_check`, then reads every episode through
    :func:`load_episodes` (digests and finiteness). A dataset with
    no recorded content hash (built by an older mfdiff) cannot be verified and is reported so.
    """
    problem = quick_check(dataset_id)
    if problem is not None:
        return problem
    meta = read_metadata(dataset_id)
    if "integrity" not in meta.get("mfdiff", {}):
        return unhashed_reason(meta, dataset_id)
    try:
        load_episodes(dataset_id)
    except DatasetError as e:
        msg = str(e)
        prefix = f"dataset {dataset_id}: "
        return msg[len(prefix) :] if msg.startswith(prefix) else msg
    return None
