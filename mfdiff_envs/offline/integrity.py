"""Integrity of mfdiff datasets: content hashes written at build, checked at load and on demand.

At build (:func:`mfdiff_envs.offline.build.build_dataset`) every episode's arrays are hashed as
they are copied into the final hdf5 file, and the ``mfdiff`` metadata block gets::

    "integrity": {
        "algorithm": "sha256",
        "episodes": ["<hex>", ...],   # one digest per episode, in episode order
        "content": "<hex>",           # sha256 of the episode digests, in order
        "hdf5_bytes": 123456789,      # exact size of data/main_data.hdf5
    }

An episode digest (:func:`episode_digest`) covers every array of the episode group (observations,
actions, rewards, terminations, truncations and each ``infos`` array) in sorted path order, each
preceded by its path, dtype and shape, so a changed value, dtype or shape changes the digest.

Two levels of checking:

* :func:`quick_check` — cheap (no array is read): the hdf5 file exists, has the recorded byte
  size, opens, and holds the recorded number of episode groups. ``mfdiff data list`` uses it.
* :func:`verify_dataset` — full: :func:`mfdiff_envs.offline.windows.load_episodes` reads every
  array, recomputes the digests (one sha256 pass over arrays it reads anyway, ~1.5 GB/s) and
  rejects non-finite values. ``mfdiff data verify`` uses it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HASH_ALGORITHM = "sha256"
HDF5_FILE = "main_data.hdf5"
#: Arrays that must be finite, by their path inside an episode.
FINITE_KEYS = ("observations", "rewards", "infos/rewards")


class DatasetError(RuntimeError):
    """A dataset is missing, corrupt or not in the mfdiff layout; the message names its id."""


def flatten_arrays(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(path, array) for every leaf of a nested episode dict (``infos/alive``, ...); ``id`` and
    ``None`` leaves are skipped (they are not arrays of the episode group)."""
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten_arrays(value, prefix=f"{path}/")
        elif value is not None and path != "id":
            yield path, value


def episode_digest(arrays: Mapping[str, Any]) -> str:
    """sha256 (hex) of one episode: every leaf array in sorted path order, with its header.

    Args:
        arrays: the episode's arrays, nested (``{"infos": {"alive": ...}}``, as
            ``MinariStorage.get_episodes`` yields them) or flat (``{"infos/alive": ...}``).
    """
    h = hashlib.new(HASH_ALGORITHM)
    for path, value in sorted(flatten_arrays(arrays)):
        a = np.ascontiguousarray(value)
        h.update(f"{path}|{a.dtype.str}|{a.shape}\n".encode())
        h.update(a)  # hashlib reads the buffer in place (no copy) and releases the GIL
    return h.hexdigest()


def content_digest(episode_digests: Sequence[str]) -> str:
    """sha256 (hex) of the episode digests in order: one value naming the dataset's content."""
    h = hashlib.new(HASH_ALGORITHM)
    for d in episode_digests:
        h.update(d.encode() + b"\n")
    return h.hexdigest()


def integrity_block(episode_digests: Sequence[str], hdf5_bytes: int) -> dict[str, Any]:
    """The ``mfdiff.integrity`` metadata block (see the module docstring)."""
    return {
        "algorithm": HASH_ALGORITHM,
        "episodes": list(episode_digests),
        "content": content_digest(episode_digests),
        "hdf5_bytes": int(hdf5_bytes),
    }


def nonfinite_rows(arrays: Mapping[str, Any]) -> str | None:
    """``None`` if every float array of :data:`FINITE_KEYS` is finite, else a description
    (``"observations rows [3, 4]"``) of where the NaN/inf values are (rows = time index)."""
    flat = dict(flatten_arrays(arrays))
    bad = []
    for key in FINITE_KEYS:
        a = flat.get(key)
        if a is None:
            continue
        a = np.asarray(a)
        if a.dtype.kind != "f" or np.isfinite(a).all():  # fast path: one vectorised pass
            continue
        rows = np.flatnonzero(~np.isfinite(a.reshape(len(a), -1)).all(axis=1))
        shown = rows[:10].tolist()
        more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
        bad.append(f"{key} rows {shown}{more}")
    return "; ".join(bad) if bad else None


def dataset_dir(dataset_id: str) -> Path:
    """``<MINARI_DATASETS_PATH>/<id>`` (whether or not it exists)."""
    from minari.storage import get_dataset_path

    return Path(get_dataset_path(dataset_id))


def disk_size_mb(dataset_id: str) -> float:
    """Bytes under ``<id>/data`` on disk, in MB (10^6 B), as Minari's ``dataset_size`` counts."""
    data = dataset_dir(dataset_id) / "data"
    return sum(f.stat().st_size for f in data.rglob("*") if f.is_file()) / 1e6


def _read_metadata(dataset_id: str) -> dict[str, Any]:
    import json

    path = dataset_dir(dataset_id) / "data" / "metadata.json"
    with open(path) as f:
        return json.load(f)


def quick_check(dataset_id: str) -> str | None:
    """Cheap check (no array read): ``None`` if the dataset looks whole, else what is wrong.

    Checks that the metadata parses, the hdf5 file exists with the byte size recorded at build,
    opens, and holds ``total_episodes`` episode groups. Datasets built before content hashes
    were recorded are only checked for opening and the episode count.
    """
    import h5py

    data = dataset_dir(dataset_id) / "data"
    try:
        meta = _read_metadata(dataset_id)
    except (OSError, ValueError) as e:
        return f"metadata.json unreadable ({type(e).__name__}: {e})"
    h5 = data / HDF5_FILE
    if not h5.is_file():
        return f"{HDF5_FILE} is missing"
    size = h5.stat().st_size
    expected = meta.get("mfdiff", {}).get("integrity", {}).get("hdf5_bytes")
    if expected is not None and size != expected:
        return f"{HDF5_FILE} has {size} bytes, {expected} were written (truncated or altered)"
    try:
        with h5py.File(h5, "r") as f:
            n_groups = sum(1 for k in f if k.startswith("episode_"))
    except Exception as e:  # h5py raises OSError (bad signature, truncated) and others
        return f"{HDF5_FILE} does not open ({type(e).__name__}: {e})"
    if n_groups != meta.get("total_episodes"):
        return f"{HDF5_FILE} holds {n_groups} episodes, metadata says {meta.get('total_episodes')}"
    return None


def verify_dataset(dataset_id: str) -> str | None:
    """Full check: ``None`` if the dataset is whole, else one line saying what is wrong.

    Runs :func:`quick_check`, then reads every episode through
    :func:`~mfdiff_envs.offline.windows.load_episodes` (digests and finiteness). A dataset with
    no recorded content hash (built by an older mfdiff) cannot be verified and is reported so.
    """
    from mfdiff_envs.offline.windows import load_episodes

    problem = quick_check(dataset_id)
    if problem is not None:
        return problem
    if "integrity" not in _read_metadata(dataset_id).get("mfdiff", {}):
        return "no content hash recorded (built by an older mfdiff); rebuild it with --force"
    try:
        load_episodes(dataset_id)
    except DatasetError as e:
        msg = str(e)
        prefix = f"dataset {dataset_id}: "
        return msg[len(prefix) :] if msg.startswith(prefix) else msg
    return None


def check_loaded_episode(
    dataset_id: str, index: int, ep: Mapping[str, Any], recorded: Sequence[str] | None
) -> None:
    """Raise :class:`DatasetError` if episode ``index`` (as read from disk) does not match its
    recorded digest or holds non-finite values. ``recorded=None``: no digest to compare."""
    if recorded is not None:
        if index >= len(recorded):
            raise DatasetError(
                f"dataset {dataset_id}: episode {index} has no recorded content hash "
                f"({len(recorded)} recorded); the file holds more episodes than were built"
            )
        if episode_digest(ep) != recorded[index]:
            raise DatasetError(
                f"dataset {dataset_id}: episode {index} does not match the sha256 recorded at "
                f"build (damaged file); rebuild with `mfdiff data build {dataset_id} --force`"
            )
    where = nonfinite_rows(ep)
    if where is not None:
        raise DatasetError(f"dataset {dataset_id}: episode {index} has NaN/inf values in {where}")
